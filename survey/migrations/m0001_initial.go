package migrations

import (
	"time"

	"github.com/go-gormigrate/gormigrate/v2"
	"gorm.io/gorm"
)

// m0001Initial creates the foundation schema. The structs are frozen copies
// of the models as they were when this migration was written.
func m0001Initial() *gormigrate.Migration {
	type orgSettings struct {
		ID           uint   `gorm:"primaryKey"`
		Name         string `gorm:"size:200;not null"`
		TimeZone     string `gorm:"size:64;not null"`
		MinGroupSize int    `gorm:"not null"`
		CreatedAt    time.Time
		UpdatedAt    time.Time
	}
	type team struct {
		ID         uint   `gorm:"primaryKey"`
		ParentID   *uint  `gorm:"index"`
		Parent     *team  `gorm:"foreignKey:ParentID;constraint:OnDelete:RESTRICT"`
		Name       string `gorm:"size:200;not null"`
		ArchivedAt *time.Time
		CreatedAt  time.Time
		UpdatedAt  time.Time
	}
	type person struct {
		ID        uint   `gorm:"primaryKey"`
		Email     string `gorm:"size:320;not null;uniqueIndex"`
		Name      string `gorm:"size:200;not null"`
		TeamID    uint   `gorm:"not null;index"`
		Team      *team  `gorm:"constraint:OnDelete:RESTRICT"`
		Active    bool   `gorm:"not null"`
		CreatedAt time.Time
		UpdatedAt time.Time
	}
	type question struct {
		ID        uint   `gorm:"primaryKey"`
		Key       string `gorm:"size:100;not null;uniqueIndex"`
		Dimension string `gorm:"size:20;not null"`
		Facet     string `gorm:"size:40;not null"`
		Text      string `gorm:"size:300;not null"`
		Core      bool   `gorm:"not null"`
		BuiltIn   bool   `gorm:"not null"`
		CreatedAt time.Time
	}
	type program struct {
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
	type programQuestion struct {
		ProgramID  uint      `gorm:"primaryKey;autoIncrement:false"`
		Program    *program  `gorm:"constraint:OnDelete:CASCADE"`
		QuestionID uint      `gorm:"primaryKey;autoIncrement:false"`
		Question   *question `gorm:"constraint:OnDelete:RESTRICT"`
		Position   int       `gorm:"not null"`
	}
	type round struct {
		ID           uint     `gorm:"primaryKey"`
		ProgramID    uint     `gorm:"not null;uniqueIndex:idx_round_program_number"`
		Program      *program `gorm:"constraint:OnDelete:RESTRICT"`
		Number       int      `gorm:"not null;uniqueIndex:idx_round_program_number"`
		Status       string   `gorm:"size:20;not null;index"`
		MinGroupSize int      `gorm:"not null"`
		OpensAt      time.Time
		ClosesAt     time.Time
		LaunchedAt   *time.Time
		ClosedAt     *time.Time
		CreatedAt    time.Time
		UpdatedAt    time.Time
	}
	type roundTeam struct {
		RoundID      uint   `gorm:"primaryKey;autoIncrement:false"`
		Round        *round `gorm:"constraint:OnDelete:CASCADE"`
		TeamID       uint   `gorm:"primaryKey;autoIncrement:false"`
		ParentTeamID *uint
		Name         string `gorm:"size:200;not null"`
		UnitID       uint   `gorm:"not null"`
		Invited      int    `gorm:"not null"`
	}
	type roundQuestion struct {
		RoundID    uint   `gorm:"primaryKey;autoIncrement:false"`
		Round      *round `gorm:"constraint:OnDelete:CASCADE"`
		QuestionID uint   `gorm:"primaryKey;autoIncrement:false"`
		Position   int    `gorm:"not null"`
		Dimension  string `gorm:"size:20;not null"`
		Facet      string `gorm:"size:40;not null"`
		Text       string `gorm:"size:300;not null"`
		Core       bool   `gorm:"not null"`
	}
	type invitation struct {
		ID             uint    `gorm:"primaryKey"`
		RoundID        uint    `gorm:"not null;uniqueIndex:idx_invitation_round_person"`
		Round          *round  `gorm:"constraint:OnDelete:RESTRICT"`
		PersonID       uint    `gorm:"not null;uniqueIndex:idx_invitation_round_person"`
		Person         *person `gorm:"constraint:OnDelete:RESTRICT"`
		TeamID         uint    `gorm:"not null"`
		UnitID         uint    `gorm:"not null"`
		SecretHash     string  `gorm:"size:64;not null;uniqueIndex"`
		TokenIssued    bool    `gorm:"not null"`
		BlindedHash    string  `gorm:"size:64"`
		BlindSignature []byte
		CreatedAt      time.Time
	}
	// Anonymity tables: no time columns, no serial ids, no person links.
	type roundKey struct {
		RoundID    uint   `gorm:"primaryKey;autoIncrement:false"`
		Round      *round `gorm:"constraint:OnDelete:RESTRICT"`
		UnitID     uint   `gorm:"primaryKey;autoIncrement:false"`
		KeyID      string `gorm:"size:64;not null;uniqueIndex"`
		PublicKey  []byte `gorm:"not null"`
		PrivateKey []byte
	}
	type boxBallot struct {
		ID      string `gorm:"primaryKey;size:36"`
		RoundID uint   `gorm:"not null;index"`
		Round   *round `gorm:"constraint:OnDelete:RESTRICT"`
		UnitID  uint   `gorm:"not null"`
		Payload []byte `gorm:"not null"`
	}
	type spentToken struct {
		Nullifier string `gorm:"primaryKey;size:64"`
		RoundID   uint   `gorm:"not null;index"`
		Round     *round `gorm:"constraint:OnDelete:RESTRICT"`
	}
	type ballot struct {
		ID      string `gorm:"primaryKey;size:36"`
		RoundID uint   `gorm:"not null;index:idx_ballot_round_unit"`
		Round   *round `gorm:"constraint:OnDelete:RESTRICT"`
		UnitID  uint   `gorm:"not null;index:idx_ballot_round_unit"`
	}
	type answer struct {
		BallotID   string  `gorm:"primaryKey;size:36"`
		Ballot     *ballot `gorm:"constraint:OnDelete:CASCADE"`
		QuestionID uint    `gorm:"primaryKey;autoIncrement:false"`
		Value      int     `gorm:"not null"`
	}
	type comment struct {
		ID      string `gorm:"primaryKey;size:36"`
		RoundID uint   `gorm:"not null;index:idx_comment_round_unit"`
		Round   *round `gorm:"constraint:OnDelete:RESTRICT"`
		UnitID  uint   `gorm:"not null;index:idx_comment_round_unit"`
		Text    string `gorm:"size:2000;not null"`
	}
	type user struct {
		ID           uint   `gorm:"primaryKey"`
		Email        string `gorm:"size:320;not null;uniqueIndex"`
		Name         string `gorm:"size:200;not null"`
		Role         string `gorm:"size:20;not null"`
		PasswordHash string `gorm:"size:100;not null"`
		Active       bool   `gorm:"not null"`
		LastLoginAt  *time.Time
		CreatedAt    time.Time
		UpdatedAt    time.Time
	}
	type userScope struct {
		UserID uint  `gorm:"primaryKey;autoIncrement:false"`
		User   *user `gorm:"constraint:OnDelete:CASCADE"`
		TeamID uint  `gorm:"primaryKey;autoIncrement:false"`
		Team   *team `gorm:"constraint:OnDelete:CASCADE"`
	}
	type session struct {
		ID         string    `gorm:"primaryKey;size:64"`
		UserID     uint      `gorm:"not null;index"`
		User       *user     `gorm:"constraint:OnDelete:CASCADE"`
		ExpiresAt  time.Time `gorm:"not null;index"`
		LastSeenAt time.Time `gorm:"not null"`
		CreatedAt  time.Time
	}
	type accountInvite struct {
		ID        uint   `gorm:"primaryKey"`
		TokenHash string `gorm:"size:64;not null;uniqueIndex"`
		Email     string `gorm:"size:320;not null"`
		Role      string `gorm:"size:20;not null"`
		TeamIDs   string `gorm:"size:2000;not null"`
		ExpiresAt time.Time
		UsedAt    *time.Time
		CreatedAt time.Time
	}
	return &gormigrate.Migration{
		ID: "0001_initial",
		Migrate: func(tx *gorm.DB) error {
			// Order matters: referenced tables first.
			tables := []any{
				&team{}, &person{}, &question{}, &program{}, &programQuestion{},
				&round{}, &roundTeam{}, &roundQuestion{}, &invitation{},
				&roundKey{}, &spentToken{}, &ballot{}, &answer{}, &comment{},
				&user{}, &userScope{}, &session{}, &accountInvite{},
			}
			if err := tx.Table("org_settings").Migrator().CreateTable(&orgSettings{}); err != nil {
				return err
			}
			for _, t := range tables {
				if err := tx.Migrator().CreateTable(t); err != nil {
					return err
				}
			}
			return tx.Table("ballot_box").Migrator().CreateTable(&boxBallot{})
		},
	}
}
