package survey

import "time"

// Role is what an account may do.
type Role string

// Account roles.
const (
	RoleAdmin  Role = "admin"
	RoleLeader Role = "leader"
)

// Round statuses.
const (
	RoundScheduled = "scheduled"
	RoundOpen      = "open"
	RoundClosed    = "closed"
)

// Cadences of a program.
const (
	CadenceWeekly  = "weekly"
	CadenceWeeks   = "every_n_weeks"
	CadenceMonthly = "monthly"
)

// Settings are the organisation-wide settings. There is exactly one row (ID 1).
type Settings struct {
	ID           uint   `gorm:"primaryKey"`
	Name         string `gorm:"size:200;not null"`
	TimeZone     string `gorm:"size:64;not null"`
	MinGroupSize int    `gorm:"not null"`
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// TableName keeps the table name singular-free and explicit.
func (Settings) TableName() string { return "org_settings" }

// Team is a node of the organisation tree: the company is the root, then
// departments and teams to any depth.
type Team struct {
	ID         uint   `gorm:"primaryKey"`
	ParentID   *uint  `gorm:"index"`
	Name       string `gorm:"size:200;not null"`
	ArchivedAt *time.Time
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// Person is an employee who may be invited to answer pulses.
type Person struct {
	ID        uint   `gorm:"primaryKey"`
	Email     string `gorm:"size:320;not null;uniqueIndex"`
	Name      string `gorm:"size:200;not null"`
	TeamID    uint   `gorm:"not null;index"`
	Active    bool   `gorm:"not null"`
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Question is an item of the question bank: built-in or custom.
type Question struct {
	ID        uint   `gorm:"primaryKey"`
	Key       string `gorm:"size:100;not null;uniqueIndex"`
	Dimension string `gorm:"size:20;not null"`
	Facet     string `gorm:"size:40;not null"`
	Text      string `gorm:"size:300;not null"`
	Core      bool   `gorm:"not null"`
	BuiltIn   bool   `gorm:"not null"`
	CreatedAt time.Time
}

// Program is a pulse definition: which questions, how often, how long open,
// and the minimum group size k of its reports.
type Program struct {
	ID            uint   `gorm:"primaryKey"`
	Name          string `gorm:"size:200;not null"`
	Cadence       string `gorm:"size:20;not null"`
	IntervalWeeks int    `gorm:"not null"`
	Weekday       int    `gorm:"not null"`
	TimeOfDay     string `gorm:"size:5;not null"`
	OpenDays      int    `gorm:"not null"`
	ItemsPerRound int    `gorm:"not null"`
	MinGroupSize  int    `gorm:"not null"`
	Active        bool   `gorm:"not null"`
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

// ProgramQuestion selects a question for a program.
type ProgramQuestion struct {
	ProgramID  uint `gorm:"primaryKey;autoIncrement:false"`
	QuestionID uint `gorm:"primaryKey;autoIncrement:false"`
	Position   int  `gorm:"not null"`
}

// Round is one occurrence of a program. From launch on, its hierarchy,
// invitees and questions are the immutable snapshot in RoundTeam,
// Invitation and RoundQuestion.
type Round struct {
	ID           uint   `gorm:"primaryKey"`
	ProgramID    uint   `gorm:"not null;uniqueIndex:idx_round_program_number"`
	Number       int    `gorm:"not null;uniqueIndex:idx_round_program_number"`
	Status       string `gorm:"size:20;not null;index"`
	MinGroupSize int    `gorm:"not null"`
	OpensAt      time.Time
	ClosesAt     time.Time
	LaunchedAt   *time.Time
	ClosedAt     *time.Time
	// ReleasePending is set in the transaction that closes the round and
	// cleared in the one that writes its release: a closed round with it
	// set still owes its results, and the scheduler completes them.
	ReleasePending bool `gorm:"not null;default:false"`
	// InvalidBallots counts the ballots that close found in the box but
	// could not open or validate: counted, never silently dropped.
	InvalidBallots int `gorm:"not null;default:0"`
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// RoundTeam is a team as it stood when its round launched. UnitID is the
// team id of the token unit the team belongs to (the team merged upward
// until it has at least k invitees).
type RoundTeam struct {
	RoundID      uint   `gorm:"primaryKey;autoIncrement:false"`
	TeamID       uint   `gorm:"primaryKey;autoIncrement:false"`
	ParentTeamID *uint  ``
	Name         string `gorm:"size:200;not null"`
	UnitID       uint   `gorm:"not null"`
	Invited      int    `gorm:"not null"`
}

// RoundQuestion is a question as asked in a round (text frozen at launch).
type RoundQuestion struct {
	RoundID    uint   `gorm:"primaryKey;autoIncrement:false"`
	QuestionID uint   `gorm:"primaryKey;autoIncrement:false"`
	Position   int    `gorm:"not null"`
	Dimension  string `gorm:"size:20;not null"`
	Facet      string `gorm:"size:40;not null"`
	Text       string `gorm:"size:300;not null"`
	Core       bool   `gorm:"not null"`
}

// Invitation says who may answer a round. It records whether a token was
// issued and nothing about the ballot. The link secret is stored only as a
// hash; the blind signature is kept so a retry with the same blinded message
// gets the same answer (blinding makes it unlinkable to the ballot).
type Invitation struct {
	ID             uint   `gorm:"primaryKey"`
	RoundID        uint   `gorm:"not null;uniqueIndex:idx_invitation_round_person"`
	PersonID       uint   `gorm:"not null;uniqueIndex:idx_invitation_round_person"`
	TeamID         uint   `gorm:"not null"`
	UnitID         uint   `gorm:"not null"`
	SecretHash     string `gorm:"size:64;not null;uniqueIndex"`
	TokenIssued    bool   `gorm:"not null"`
	BlindedHash    string `gorm:"size:64"`
	BlindSignature []byte
	CreatedAt      time.Time
}

// The anonymity tables below follow docs/ANONYMITY.md section 2: no time columns,
// no serial ids (UUIDv4 from crypto/rand), no person or invitation reference.

// RoundKey is the blind-signature key of one (round, unit). PrivateKey is
// encrypted at rest and set to NULL when the round closes.
type RoundKey struct {
	RoundID    uint   `gorm:"primaryKey;autoIncrement:false"`
	UnitID     uint   `gorm:"primaryKey;autoIncrement:false"`
	KeyID      string `gorm:"size:64;not null;uniqueIndex"`
	PublicKey  []byte `gorm:"not null"`
	PrivateKey []byte
}

// RoundBoxKey is the HPKE key pair ballots of a round are sealed to
// (ANONYMITY.md section 5). PrivateKey is the key's seed, encrypted at rest
// under the instance secret and set to NULL when the round closes. Rounds
// launched before sealed ballots have no row.
type RoundBoxKey struct {
	RoundID    uint   `gorm:"primaryKey;autoIncrement:false"`
	PublicKey  []byte `gorm:"not null"`
	PrivateKey []byte
}

// BoxBallot is a ballot in the ballot box of an open round, written durably
// on arrival and moved, shuffled, into Ballot/Answer/Comment at close. When
// Token is set, Payload is a sealed ballot (HPKE ciphertext bound to the
// token's prepared message); rows without it are clear ballots of rounds
// launched before sealed ballots. On SQLite the table has no rowid: rows
// are kept in the order of their random ids.
type BoxBallot struct {
	ID      string `gorm:"primaryKey;size:36"`
	RoundID uint   `gorm:"not null;index"`
	UnitID  uint   `gorm:"not null"`
	Payload []byte `gorm:"not null"`
	Token   []byte
}

// TableName names the box table.
func (BoxBallot) TableName() string { return "ballot_box" }

// SpentToken records a token's nullifier (SHA-256 of the prepared message)
// so that each token counts once.
type SpentToken struct {
	Nullifier string `gorm:"primaryKey;size:64"`
	RoundID   uint   `gorm:"not null;index"`
}

// Ballot is one closed-round response of a (round, unit).
type Ballot struct {
	ID      string `gorm:"primaryKey;size:36"`
	RoundID uint   `gorm:"not null;index:idx_ballot_round_unit"`
	UnitID  uint   `gorm:"not null;index:idx_ballot_round_unit"`
}

// Answer is one item answer of a ballot (1..5).
type Answer struct {
	BallotID   string `gorm:"primaryKey;size:36"`
	QuestionID uint   `gorm:"primaryKey;autoIncrement:false"`
	Value      int    `gorm:"not null"`
}

// Comment is a free-text comment of a closed round, stored apart from its
// ballot (no link between them).
type Comment struct {
	ID      string `gorm:"primaryKey;size:36"`
	RoundID uint   `gorm:"not null;index:idx_comment_round_unit"`
	UnitID  uint   `gorm:"not null;index:idx_comment_round_unit"`
	Text    string `gorm:"size:2000;not null"`
}

// User is an account: an admin (HR) or a leader with a scope of teams.
type User struct {
	ID           uint   `gorm:"primaryKey"`
	Email        string `gorm:"size:320;not null;uniqueIndex"`
	Name         string `gorm:"size:200;not null"`
	Role         Role   `gorm:"size:20;not null"`
	PasswordHash string `gorm:"size:100;not null"`
	Active       bool   `gorm:"not null"`
	LastLoginAt  *time.Time
	// TOTPSecret is the base32 TOTP secret; empty when two-factor sign-in
	// is off. TOTPLastStep is the last time step used, so a code works once.
	TOTPSecret   string `gorm:"column:totp_secret;size:64;not null;default:''"`
	TOTPLastStep int64  `gorm:"column:totp_last_step;not null;default:0"`
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// TwoFactor reports whether the account signs in with a second factor.
func (u *User) TwoFactor() bool { return u.TOTPSecret != "" }

// UserScope grants a leader one team and its whole subtree.
type UserScope struct {
	UserID uint `gorm:"primaryKey;autoIncrement:false"`
	TeamID uint `gorm:"primaryKey;autoIncrement:false"`
}

// Session is a server-side login session; ID is the SHA-256 of the cookie value.
type Session struct {
	ID         string    `gorm:"primaryKey;size:64"`
	UserID     uint      `gorm:"not null;index"`
	ExpiresAt  time.Time `gorm:"not null;index"`
	LastSeenAt time.Time `gorm:"not null"`
	// Pending sessions only wait for the second factor: they grant nothing.
	Pending   bool `gorm:"not null;default:false"`
	CreatedAt time.Time
}

// AccountInvite is a one-time link that creates an account: the first admin
// at setup, or a leader invited by an admin. Only the token's hash is stored.
type AccountInvite struct {
	ID        uint   `gorm:"primaryKey"`
	TokenHash string `gorm:"size:64;not null;uniqueIndex"`
	Email     string `gorm:"size:320;not null"`
	Role      Role   `gorm:"size:20;not null"`
	TeamIDs   string `gorm:"size:2000;not null"`
	ExpiresAt time.Time
	UsedAt    *time.Time
	CreatedAt time.Time
}
