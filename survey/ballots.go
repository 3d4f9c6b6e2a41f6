package survey

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/cloudflare/circl/blindsign/blindrsa"
	"github.com/google/uuid"
	"gorm.io/gorm"
)

// Limits of a ballot.
const (
	MaxCommentRunes = 2000
	MinAnswer       = 1
	MaxAnswer       = 5
)

// ErrTokenSpent means the token was already used for a ballot.
var ErrTokenSpent = fmt.Errorf("this token was already used: %w", ErrConflict)

// ManifestVersion names the manifest format.
const ManifestVersion = "pulse-manifest/v2"

// Manifest is the public key manifest of a round: the same bytes for every
// caller, so nobody can be handed a personal key. It lists each token unit
// with its signing key, its teams and its number of invitees, so a survey
// page can check that its unit pools at least MinGroupSize people, and the
// round's box key that ballots are sealed to (absent for rounds launched
// before sealed ballots).
type Manifest struct {
	Version      string        `json:"version"`
	Round        uint          `json:"round"`
	MinGroupSize int           `json:"min_group_size"`
	Box          *ManifestBox  `json:"box,omitempty"`
	Keys         []ManifestKey `json:"keys"`
}

// ManifestBox is the round's HPKE box public key and suite.
type ManifestBox struct {
	KEM       string `json:"kem"`
	KEMID     uint16 `json:"kem_id"`
	KDFID     uint16 `json:"kdf_id"`
	AEADID    uint16 `json:"aead_id"`
	PublicKey string `json:"public_key"` // base64url, no padding
}

// ManifestKey is one token unit: its public key, invitees and teams.
type ManifestKey struct {
	Unit    uint     `json:"unit"`
	KeyID   string   `json:"key_id"`
	SPKI    string   `json:"spki"` // base64url, no padding
	Invited int      `json:"invited"`
	Teams   []string `json:"teams"`
}

// ManifestForLink is the round's manifest for the holder of one of the
// round's invitation links, and ErrNotFound for anyone else: the manifest
// names the teams and their sizes, which are not for strangers. Its bytes
// are the same whichever link asks.
func (s *RoundService) ManifestForLink(ctx context.Context, roundID uint, secret string) ([]byte, string, error) {
	if secret == "" {
		return nil, "", fmt.Errorf("survey: manifest: %w", ErrNotFound)
	}
	var n int64
	if err := s.db.WithContext(ctx).Model(&Invitation{}).Where("round_id = ? AND secret_hash = ?", roundID, hashToken(secret)).
		Count(&n).Error; err != nil {
		return nil, "", dbErr("survey manifest", err)
	}
	if n == 0 {
		return nil, "", fmt.Errorf("survey: manifest: %w", ErrNotFound)
	}
	return s.Manifest(ctx, roundID)
}

// Manifest returns the round's manifest bytes and their SHA-256 (hex).
func (s *RoundService) Manifest(ctx context.Context, roundID uint) ([]byte, string, error) {
	db := s.db.WithContext(ctx)
	var keys []RoundKey
	if err := db.Select("round_id, unit_id, key_id, public_key").Where("round_id = ?", roundID).
		Order("unit_id").Find(&keys).Error; err != nil {
		return nil, "", dbErr("manifest", err)
	}
	if len(keys) == 0 {
		return nil, "", fmt.Errorf("survey: manifest: %w", ErrNotFound)
	}
	var r Round
	if err := db.Select("id, min_group_size").First(&r, roundID).Error; err != nil {
		return nil, "", dbErr("manifest round", err)
	}
	var teams []RoundTeam
	if err := db.Select("team_id, name, unit_id, invited").Where("round_id = ?", roundID).
		Order("name, team_id").Find(&teams).Error; err != nil {
		return nil, "", dbErr("manifest teams", err)
	}
	invited := map[uint]int{}
	names := map[uint][]string{}
	for _, t := range teams {
		invited[t.UnitID] += t.Invited
		if t.Invited > 0 {
			names[t.UnitID] = append(names[t.UnitID], t.Name)
		}
	}
	m := Manifest{Version: ManifestVersion, Round: roundID, MinGroupSize: r.MinGroupSize, Keys: make([]ManifestKey, len(keys))}
	var box []RoundBoxKey
	if err := db.Select("round_id, public_key").Where("round_id = ?", roundID).Find(&box).Error; err != nil {
		return nil, "", dbErr("manifest box", err)
	}
	if len(box) == 1 {
		m.Box = &ManifestBox{KEM: BoxKEM, KEMID: BoxKEMID, KDFID: BoxKDFID, AEADID: BoxAEADID, PublicKey: encodeB64(box[0].PublicKey)}
	}
	for i, k := range keys {
		ts := names[k.UnitID]
		if ts == nil {
			ts = []string{}
		}
		m.Keys[i] = ManifestKey{Unit: k.UnitID, KeyID: k.KeyID, SPKI: encodeB64(k.PublicKey), Invited: invited[k.UnitID], Teams: ts}
	}
	b, err := json.Marshal(m)
	if err != nil {
		return nil, "", err
	}
	sum := sha256.Sum256(b)
	return b, hex.EncodeToString(sum[:]), nil
}

// SurveyView is what an invitee's link shows: the round, its questions and
// the key their browser must use. It says nothing about any ballot.
type SurveyView struct {
	Round        Round
	UnitID       uint
	KeyID        string
	ManifestHash string
	TokenIssued  bool
	Questions    []RoundQuestion
	OrgName      string
	// Location is the organisation's time zone, for dates shown to the invitee.
	Location *time.Location
}

// SurveyBySecret resolves an invitation link.
func (s *RoundService) SurveyBySecret(ctx context.Context, secret string) (*SurveyView, error) {
	db := s.db.WithContext(ctx)
	var inv Invitation
	if err := db.Where("secret_hash = ?", hashToken(secret)).First(&inv).Error; err != nil {
		return nil, dbErr("survey", err)
	}
	v := &SurveyView{UnitID: inv.UnitID, TokenIssued: inv.TokenIssued}
	if err := db.First(&v.Round, inv.RoundID).Error; err != nil {
		return nil, dbErr("survey round", err)
	}
	var key RoundKey
	if err := db.Select("key_id").Where("round_id = ? AND unit_id = ?", inv.RoundID, inv.UnitID).First(&key).Error; err != nil {
		return nil, dbErr("survey key", err)
	}
	v.KeyID = key.KeyID
	if err := db.Where("round_id = ?", inv.RoundID).Order("position").Find(&v.Questions).Error; err != nil {
		return nil, dbErr("survey questions", err)
	}
	v.Location = time.UTC
	var st Settings
	if err := db.First(&st, 1).Error; err == nil {
		v.OrgName = st.Name
		if loc, err := time.LoadLocation(st.TimeZone); err == nil {
			v.Location = loc
		}
	}
	var err error
	if _, v.ManifestHash, err = s.Manifest(ctx, inv.RoundID); err != nil {
		return nil, err
	}
	return v, nil
}

// open reports whether a round accepts tokens and ballots now.
func (s *RoundService) open(r *Round) bool {
	return r.Status == RoundOpen && s.now().Before(r.ClosesAt)
}

// IssueToken blind-signs the invitee's blinded message: exactly one token
// per invitation. A retry with the same blinded message gets the same
// signature; a different one is ErrConflict.
func (s *RoundService) IssueToken(ctx context.Context, secret string, blinded []byte) ([]byte, error) {
	if len(blinded) != tokenKeyBits/8 {
		return nil, &ValidationError{Fields: map[string]string{"blinded_msg": fmt.Sprintf("must be %d bytes", tokenKeyBits/8)}}
	}
	db := s.db.WithContext(ctx)
	var inv Invitation
	if err := db.Where("secret_hash = ?", hashToken(secret)).First(&inv).Error; err != nil {
		return nil, dbErr("issue", err)
	}
	var r Round
	if err := db.First(&r, inv.RoundID).Error; err != nil {
		return nil, dbErr("issue round", err)
	}
	if !s.open(&r) {
		return nil, fmt.Errorf("survey: issue: %w", ErrRoundClosed)
	}
	sum := sha256.Sum256(blinded)
	bh := hex.EncodeToString(sum[:])
	already := func(inv *Invitation) ([]byte, error) {
		if inv.BlindedHash == bh {
			return inv.BlindSignature, nil
		}
		return nil, Conflict("a token was already issued for this invitation")
	}
	if inv.TokenIssued {
		return already(&inv)
	}
	var key RoundKey
	if err := db.Where("round_id = ? AND unit_id = ?", inv.RoundID, inv.UnitID).First(&key).Error; err != nil {
		return nil, dbErr("issue key", err)
	}
	if key.PrivateKey == nil {
		return nil, fmt.Errorf("survey: issue: %w", ErrRoundClosed)
	}
	sk, err := s.keys.open(key.RoundID, key.UnitID, key.PrivateKey)
	if err != nil {
		return nil, fmt.Errorf("survey: issue: %w", err)
	}
	sig, err := blindSignCRT(sk, blinded)
	if err != nil {
		return nil, &ValidationError{Fields: map[string]string{"blinded_msg": "is not a valid blinded message for this key"}}
	}
	// Exactly once: only the request that flips token_issued wins.
	res := db.Model(&Invitation{}).Where("id = ? AND token_issued = ?", inv.ID, false).
		Updates(map[string]any{"token_issued": true, "blinded_hash": bh, "blind_signature": sig})
	if res.Error != nil {
		return nil, dbErr("issue", res.Error)
	}
	if res.RowsAffected == 0 {
		if err := db.First(&inv, inv.ID).Error; err != nil {
			return nil, dbErr("issue", err)
		}
		return already(&inv)
	}
	return sig, nil
}

// BallotInput is an anonymous submission: a token and the ballot. A round
// with a box key takes only Sealed (the HPKE-sealed ballot, see SealBallot);
// Answers and Comment are the clear ballot of a round launched before sealed
// ballots.
type BallotInput struct {
	KeyID     string
	Message   []byte // the prepared message that was signed
	Signature []byte
	Sealed    []byte
	Answers   map[uint]int
	Comment   string
}

// boxPayload is how a clear ballot of a round launched before sealed
// ballots waits in the box until close.
type boxPayload struct {
	Answers map[string]int `json:"a"`
	Comment string         `json:"c,omitempty"`
}

// validateBallot checks a ballot's answers against the round's questions
// and its comment. Its messages name fields, never the values given.
func validateBallot(qs []RoundQuestion, answers map[uint]int, comment string) error {
	v := validation{}
	known := map[uint]bool{}
	for _, q := range qs {
		known[q.QuestionID] = true
		a, ok := answers[q.QuestionID]
		switch {
		case !ok:
			v.add("answers."+strconv.FormatUint(uint64(q.QuestionID), 10), "please answer this statement")
		case a < MinAnswer || a > MaxAnswer:
			v.add("answers."+strconv.FormatUint(uint64(q.QuestionID), 10), fmt.Sprintf("choose a value from %d to %d", MinAnswer, MaxAnswer))
		}
	}
	for id := range answers {
		if !known[id] {
			v.add("answers."+strconv.FormatUint(uint64(id), 10), "is not a question of this round")
		}
	}
	if !utf8.ValidString(comment) {
		v.add("comment", "is not valid text")
	} else if utf8.RuneCountInString(comment) > MaxCommentRunes {
		v.add("comment", fmt.Sprintf("use at most %d characters", MaxCommentRunes))
	}
	return v.err()
}

// roundBoxKey returns the round's box key row, or nil for a round launched
// before sealed ballots.
func roundBoxKey(db *gorm.DB, roundID uint) (*RoundBoxKey, error) {
	var rows []RoundBoxKey
	if err := db.Where("round_id = ?", roundID).Limit(1).Find(&rows).Error; err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		return nil, nil
	}
	return &rows[0], nil
}

// boxOpenerOf decrypts a round's box key; nil when it was destroyed.
func (s *RoundService) boxOpenerOf(bk *RoundBoxKey) (*boxOpener, error) {
	if bk == nil || bk.PrivateKey == nil {
		return nil, nil
	}
	if s.keys == nil {
		return nil, errors.New("no keyring configured to open the round's box key")
	}
	seed, err := s.keys.openBoxSeed(bk.RoundID, bk.PrivateKey)
	if err != nil {
		return nil, err
	}
	return newBoxOpener(bk.RoundID, seed)
}

// SubmitBallot checks a token, opens a sealed ballot in memory to validate
// it, and writes the ballot durably into the box: only its ciphertext, for a
// round with a box key. The plaintext is never written, logged or kept.
func (s *RoundService) SubmitBallot(ctx context.Context, in BallotInput) error {
	key, err := s.submitKey(ctx, strings.ToLower(in.KeyID))
	if err != nil {
		return err
	}
	roundID, unitID, ok := parsePrepared(in.Message)
	if !ok {
		return &ValidationError{Fields: map[string]string{"message": "is not a Pulse token message"}}
	}
	if roundID != key.roundID || unitID != key.unitID {
		return &ValidationError{Fields: map[string]string{"message": "names another round or group than its key"}}
	}
	if err := key.verify(in.Message, in.Signature); err != nil {
		return &ValidationError{Fields: map[string]string{"signature": "does not verify with the key"}}
	}
	qs, err := s.roundQuestions(ctx, key.roundID)
	if err != nil {
		return err
	}
	bk, err := roundBoxKey(s.db.WithContext(ctx), key.roundID)
	if err != nil {
		return dbErr("submit box key", err)
	}
	var body, token []byte
	if bk != nil {
		if in.Answers != nil || in.Comment != "" {
			return &ValidationError{Fields: map[string]string{"sealed": "this round takes sealed ballots only: send the answers sealed"}}
		}
		if len(in.Sealed) != SealedBallotLen {
			return &ValidationError{Fields: map[string]string{"sealed": fmt.Sprintf("must be %d bytes", SealedBallotLen)}}
		}
		opener, err := s.boxOpenerOf(bk)
		if err != nil {
			return fmt.Errorf("survey: submit: %w", err)
		}
		if opener == nil {
			return fmt.Errorf("survey: submit: %w", ErrRoundClosed)
		}
		answers, comment, err := opener.open(in.Message, in.Sealed)
		if err != nil {
			return &ValidationError{Fields: map[string]string{"sealed": "does not open with this round's key and token (altered, or sealed for another round or token)"}}
		}
		if err := validateBallot(qs, answers, strings.TrimSpace(comment)); err != nil {
			return err
		}
		body, token = in.Sealed, in.Message
	} else {
		if in.Sealed != nil {
			return &ValidationError{Fields: map[string]string{"sealed": "this round was launched before sealed ballots and takes clear answers"}}
		}
		comment := strings.TrimSpace(in.Comment)
		if err := validateBallot(qs, in.Answers, comment); err != nil {
			return err
		}
		payload := boxPayload{Answers: map[string]int{}, Comment: comment}
		for id, a := range in.Answers {
			payload.Answers[strconv.FormatUint(uint64(id), 10)] = a
		}
		if body, err = json.Marshal(payload); err != nil {
			return err
		}
	}
	id, err := uuid.NewRandom()
	if err != nil {
		return err
	}
	err = tx(ctx, s.db, func(tx *gorm.DB) error {
		r, err := lockRound(tx, key.roundID, false)
		if err != nil {
			return err
		}
		if !s.open(r) {
			return ErrRoundClosed
		}
		// Plain statements: the models' reflection costs more than these
		// inserts on the hottest write path.
		if err := tx.Exec("INSERT INTO spent_tokens (nullifier, round_id) VALUES (?, ?)", nullifier(in.Message), key.roundID).Error; err != nil {
			if errors.Is(err, gorm.ErrDuplicatedKey) {
				return ErrTokenSpent
			}
			return err
		}
		return tx.Exec("INSERT INTO ballot_box (id, round_id, unit_id, payload, token) VALUES (?, ?, ?, ?, ?)", id.String(), key.roundID, key.unitID, body, token).Error
	})
	if err != nil {
		return dbErr("submit", err)
	}
	return nil
}

// openedBallot is a box entry opened at close, in memory only.
type openedBallot struct {
	unitID  uint
	answers map[uint]int
	comment string
	valid   bool
}

// openBox opens and validates every entry of a closing round's box on all
// cores. An entry that does not open, decode or validate is marked invalid.
func openBox(box []BoxBallot, opener *boxOpener, qs []RoundQuestion) []openedBallot {
	out := make([]openedBallot, len(box))
	one := func(i int) {
		b := &box[i]
		o := openedBallot{unitID: b.UnitID}
		var err error
		if b.Token != nil {
			if opener == nil {
				return
			}
			if o.answers, o.comment, err = opener.open(b.Token, b.Payload); err != nil {
				return
			}
		} else {
			var p boxPayload
			if err := json.Unmarshal(b.Payload, &p); err != nil {
				return
			}
			o.answers, o.comment = make(map[uint]int, len(p.Answers)), p.Comment
			for q, v := range p.Answers {
				qid, err := strconv.ParseUint(q, 10, 32)
				if err != nil || strconv.FormatUint(qid, 10) != q {
					return
				}
				o.answers[uint(qid)] = v
			}
		}
		o.comment = strings.TrimSpace(o.comment)
		if validateBallot(qs, o.answers, o.comment) != nil {
			return
		}
		o.valid = true
		out[i] = o
	}
	var wg sync.WaitGroup
	next := make(chan int, 256)
	for w := 0; w < runtime.GOMAXPROCS(0); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				one(i)
			}
		}()
	}
	for i := range box {
		next <- i
	}
	close(next)
	wg.Wait()
	return out
}

// Close ends an open round: in one transaction it opens every ballot of the
// box in memory, counts those that do not open or validate as invalid,
// writes the valid ones in shuffled order into the result tables, empties
// the box, forgets spent tokens, clears the invitations' blinded messages
// and signatures, destroys the round's private keys (signing and box) and
// marks the release as owed. Then it compacts the box's storage and writes
// the release, which clears the mark. If the release fails (or the process
// stops first), the round stays closed and marked, Close returns
// ErrReleasePending, and the scheduler completes the release later.
func (s *RoundService) Close(ctx context.Context, roundID uint) error {
	if s.releaser == nil {
		return fmt.Errorf("survey: close: %w", errNoReleaser)
	}
	err := tx(ctx, s.db, func(tx *gorm.DB) error {
		r, err := lockRound(tx, roundID, true)
		if err != nil {
			return err
		}
		if r.Status != RoundOpen {
			return Conflict(fmt.Sprintf("round %d is %s, not open", roundID, r.Status))
		}
		var box []BoxBallot
		if err := tx.Where("round_id = ?", roundID).Find(&box).Error; err != nil {
			return err
		}
		bk, err := roundBoxKey(tx, roundID)
		if err != nil {
			return err
		}
		// A box key that cannot be decrypted stops the close: destroying it
		// now would lose every ballot.
		opener, err := s.boxOpenerOf(bk)
		if err != nil {
			return fmt.Errorf("the round's box key: %w", err)
		}
		var qs []RoundQuestion
		if err := tx.Where("round_id = ?", roundID).Find(&qs).Error; err != nil {
			return err
		}
		opened := openBox(box, opener, qs)
		box = nil
		if err := shuffle(len(opened), func(i, j int) { opened[i], opened[j] = opened[j], opened[i] }); err != nil {
			return err
		}
		ballots := make([]Ballot, 0, len(opened))
		var answers []Answer
		var comments []Comment
		invalid := 0
		for _, b := range opened {
			if !b.valid {
				invalid++
				continue
			}
			id, err := uuid.NewRandom()
			if err != nil {
				return err
			}
			ballots = append(ballots, Ballot{ID: id.String(), RoundID: roundID, UnitID: b.unitID})
			for q, v := range b.answers {
				answers = append(answers, Answer{BallotID: id.String(), QuestionID: q, Value: v})
			}
			if b.comment != "" {
				cid, err := uuid.NewRandom()
				if err != nil {
					return err
				}
				comments = append(comments, Comment{ID: cid.String(), RoundID: roundID, UnitID: b.unitID, Text: b.comment})
			}
		}
		// Comments are shuffled on their own so their order says nothing
		// about the ballots' order either.
		if err := shuffle(len(comments), func(i, j int) { comments[i], comments[j] = comments[j], comments[i] }); err != nil {
			return err
		}
		if err := insertResults(tx, ballots, answers); err != nil {
			return err
		}
		if len(comments) > 0 {
			if err := tx.CreateInBatches(comments, 500).Error; err != nil {
				return err
			}
		}
		if err := tx.Where("round_id = ?", roundID).Delete(&BoxBallot{}).Error; err != nil {
			return err
		}
		if err := tx.Where("round_id = ?", roundID).Delete(&SpentToken{}).Error; err != nil {
			return err
		}
		// One statement for the whole round: no per-row write order of
		// these updates survives.
		if err := tx.Exec("UPDATE invitations SET blinded_hash = NULL, blind_signature = NULL WHERE round_id = ?", roundID).Error; err != nil {
			return err
		}
		if err := tx.Model(&RoundKey{}).Where("round_id = ?", roundID).Update("private_key", nil).Error; err != nil {
			return err
		}
		if err := tx.Model(&RoundBoxKey{}).Where("round_id = ?", roundID).Update("private_key", nil).Error; err != nil {
			return err
		}
		now := s.now()
		return tx.Model(&Round{}).Where("id = ?", roundID).Updates(map[string]any{"status": RoundClosed, "closed_at": now, "updated_at": now,
			"release_pending": true, "invalid_ballots": invalid}).Error
	})
	if err != nil {
		return dbErr("close", err)
	}
	if err := compactBox(ctx, s.db); err != nil {
		return fmt.Errorf("survey: close: compact ballot box: %w", err)
	}
	if _, err := s.release(ctx, roundID, true); err != nil {
		return fmt.Errorf("survey: close: round %d: %w: %w", roundID, ErrReleasePending, err)
	}
	return nil
}

// compactBox removes what deleted box rows may leave behind: VACUUM on
// PostgreSQL; on SQLite deleted pages are overwritten (secure_delete) and
// the write-ahead log is checkpointed and truncated.
func compactBox(ctx context.Context, db *gorm.DB) error {
	db = db.WithContext(ctx)
	if db.Dialector.Name() == "postgres" {
		for _, t := range []string{"ballot_box", "spent_tokens", "round_keys", "round_box_keys", "invitations"} {
			if err := db.Exec("VACUUM " + t).Error; err != nil {
				return err
			}
		}
		return nil
	}
	return db.Exec("PRAGMA wal_checkpoint(TRUNCATE)").Error
}

// shuffle is a Fisher-Yates shuffle driven by crypto/rand.
func shuffle(n int, swap func(i, j int)) error {
	for i := n - 1; i > 0; i-- {
		j, err := rand.Int(rand.Reader, big.NewInt(int64(i+1)))
		if err != nil {
			return err
		}
		swap(i, int(j.Int64()))
	}
	return nil
}

// decodeB64 accepts base64url with or without padding.
func decodeB64(s string) ([]byte, error) {
	return base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
}

// DecodeB64 is the wire decoding of tokens and messages (base64url).
func DecodeB64(s string) ([]byte, error) { return decodeB64(s) }

// EncodeB64 is the wire encoding of tokens and messages (base64url, no padding).
func EncodeB64(b []byte) string { return encodeB64(b) }

// verifyKey is the public half of a round key, parsed once: what a
// submission is checked against.
type verifyKey struct {
	roundID, unitID uint
	pk              *rsa.PublicKey
	verifier        blindrsa.Verifier
}

// verify checks a finalized token signature. For the RSABSSA-SHA384-PSS
// variants the signature is a standard RSASSA-PSS signature (RFC 9474
// section 4.5), which crypto/rsa verifies several times faster than the
// blind-signature library's math/big code; other variants use the library.
func (k *verifyKey) verify(prepared, sig []byte) error {
	if TokenVariant != blindrsa.SHA384PSSRandomized && TokenVariant != blindrsa.SHA384PSSDeterministic {
		return k.verifier.Verify(prepared, sig)
	}
	digest := sha512.Sum384(prepared)
	return rsa.VerifyPSS(k.pk, crypto.SHA384, digest[:], sig, &rsa.PSSOptions{SaltLength: crypto.SHA384.Size(), Hash: crypto.SHA384})
}

// maxCachedKeys bounds the public key and question caches (a few rounds of
// a large organisation); past it they start afresh.
const maxCachedKeys = 50_000

// submitCache holds what a submission reads that never changes once a
// round is launched: the public keys and the round's questions. Only
// public data is cached; private keys are decrypted per use and never kept.
type submitCache struct {
	mu        sync.RWMutex
	keys      map[string]*verifyKey
	questions map[uint][]RoundQuestion
}

// submitKey returns the parsed public key of a key id.
func (s *RoundService) submitKey(ctx context.Context, keyID string) (*verifyKey, error) {
	c := &s.cache
	c.mu.RLock()
	k := c.keys[keyID]
	c.mu.RUnlock()
	if k != nil {
		return k, nil
	}
	var key RoundKey
	if err := s.db.WithContext(ctx).Select("round_id, unit_id, key_id, public_key").Where("key_id = ?", keyID).First(&key).Error; err != nil {
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return nil, &ValidationError{Fields: map[string]string{"key_id": "is not a key of any round"}}
		}
		return nil, dbErr("submit", err)
	}
	k = &verifyKey{roundID: key.RoundID, unitID: key.UnitID}
	pub, err := x509.ParsePKIXPublicKey(key.PublicKey)
	pk, ok := pub.(*rsa.PublicKey)
	if err != nil || !ok {
		return nil, &ValidationError{Fields: map[string]string{"signature": "does not verify with the key"}}
	}
	k.pk = pk
	if k.verifier, err = blindrsa.NewVerifier(TokenVariant, pk); err != nil {
		return nil, err
	}
	c.mu.Lock()
	if c.keys == nil || len(c.keys) >= maxCachedKeys {
		c.keys = map[string]*verifyKey{}
	}
	c.keys[keyID] = k
	c.mu.Unlock()
	return k, nil
}

// roundQuestions returns the questions of a round (frozen at launch).
func (s *RoundService) roundQuestions(ctx context.Context, roundID uint) ([]RoundQuestion, error) {
	c := &s.cache
	c.mu.RLock()
	qs, ok := c.questions[roundID]
	c.mu.RUnlock()
	if ok {
		return qs, nil
	}
	if err := s.db.WithContext(ctx).Where("round_id = ?", roundID).Find(&qs).Error; err != nil {
		return nil, dbErr("submit questions", err)
	}
	// A launched round always has questions; an empty answer is not kept.
	if len(qs) > 0 {
		c.mu.Lock()
		if c.questions == nil || len(c.questions) >= 1000 {
			c.questions = map[uint][]RoundQuestion{}
		}
		c.questions[roundID] = qs
		c.mu.Unlock()
	}
	return qs, nil
}

// blindSignCRT is RSABSSA BlindSign (RFC 9474 section 4.3): s = m^d mod n,
// checked with s^e = m before it is returned. It computes with the
// Chinese remainder theorem and a random blinding of the base, which is
// about four times faster than the library's plain m^d mod n; the result is
// the same number. Keys without CRT values use the library.
func blindSignCRT(sk *rsa.PrivateKey, blinded []byte) ([]byte, error) {
	n := sk.N
	size := (n.BitLen() + 7) / 8
	if len(blinded) != size {
		return nil, errors.New("blinded message has the wrong length")
	}
	pre := sk.Precomputed
	if len(sk.Primes) != 2 || pre.Dp == nil || pre.Dq == nil || pre.Qinv == nil {
		return blindSign(sk, blinded)
	}
	m := new(big.Int).SetBytes(blinded)
	if m.Cmp(n) >= 0 {
		return nil, errors.New("blinded message out of range")
	}
	e := big.NewInt(int64(sk.E))
	// Blind the base so the exponentiations' timing says nothing about m.
	var r, rInv *big.Int
	for {
		var err error
		if r, err = rand.Int(rand.Reader, n); err != nil {
			return nil, err
		}
		if r.Sign() == 0 {
			continue
		}
		if rInv = new(big.Int).ModInverse(r, n); rInv != nil {
			break
		}
	}
	c := new(big.Int).Exp(r, e, n)
	c.Mul(c, m).Mod(c, n)
	p, q := sk.Primes[0], sk.Primes[1]
	m1 := new(big.Int).Exp(new(big.Int).Mod(c, p), pre.Dp, p)
	m2 := new(big.Int).Exp(new(big.Int).Mod(c, q), pre.Dq, q)
	// Garner: s = m2 + q * (qInv * (m1 - m2) mod p).
	h := m1.Sub(m1, m2)
	h.Mul(h, pre.Qinv).Mod(h, p)
	sig := h.Mul(h, q).Add(h, m2)
	sig.Mul(sig, rInv).Mod(sig, n)
	// A faulty result would reveal a factor of n: never return one.
	if new(big.Int).Exp(sig, e, n).Cmp(m) != 0 {
		return nil, errors.New("blind signature check failed")
	}
	return sig.FillBytes(make([]byte, size)), nil
}

// resultChunk is how many rows one bulk statement of insertResults carries.
const resultChunk = 20_000

// insertResults writes a closing round's ballots and answers in the given
// (shuffled) order. On PostgreSQL each chunk is one INSERT ... SELECT FROM
// unnest of three arrays: a 100,000-ballot round has a million answers,
// and building that many bound parameters costs more than the insert.
func insertResults(tx *gorm.DB, ballots []Ballot, answers []Answer) error {
	if len(ballots) == 0 {
		return nil
	}
	if tx.Dialector.Name() != "postgres" {
		if err := tx.CreateInBatches(ballots, 1000).Error; err != nil {
			return err
		}
		return tx.CreateInBatches(answers, 1000).Error
	}
	for lo := 0; lo < len(ballots); lo += resultChunk {
		part := ballots[lo:min(lo+resultChunk, len(ballots))]
		ids, rounds, units := make([]string, len(part)), make([]uint, len(part)), make([]uint, len(part))
		for i, b := range part {
			ids[i], rounds[i], units[i] = b.ID, b.RoundID, b.UnitID
		}
		if err := tx.Exec("INSERT INTO ballots (id, round_id, unit_id) SELECT * FROM unnest(CAST(? AS text[]), CAST(? AS bigint[]), CAST(? AS bigint[]))",
			textArray(ids), uintArray(rounds), uintArray(units)).Error; err != nil {
			return err
		}
	}
	for lo := 0; lo < len(answers); lo += resultChunk {
		part := answers[lo:min(lo+resultChunk, len(answers))]
		ids, qs, vs := make([]string, len(part)), make([]uint, len(part)), make([]uint, len(part))
		for i, a := range part {
			ids[i], qs[i], vs[i] = a.BallotID, a.QuestionID, uint(a.Value)
		}
		if err := tx.Exec("INSERT INTO answers (ballot_id, question_id, value) SELECT * FROM unnest(CAST(? AS text[]), CAST(? AS bigint[]), CAST(? AS bigint[]))",
			textArray(ids), uintArray(qs), uintArray(vs)).Error; err != nil {
			return err
		}
	}
	return nil
}

// textArray is a PostgreSQL array literal of strings that need no quoting
// (UUIDs), passed as one text parameter.
func textArray(xs []string) string {
	var b strings.Builder
	b.Grow(len(xs) * 37)
	b.WriteByte('{')
	for i, x := range xs {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(x)
	}
	b.WriteByte('}')
	return b.String()
}

// uintArray is a PostgreSQL array literal of integers.
func uintArray(xs []uint) string {
	b := make([]byte, 0, len(xs)*4+2)
	b = append(b, '{')
	for i, x := range xs {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendUint(b, uint64(x), 10)
	}
	return string(append(b, '}'))
}
