package survey_test

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/pulse-survey/pulse/survey"
)

// launchOrg is the organisation of TestLaunch:
//
//	Acme (5)                root unit
//	├── Alpha (6)           unit
//	│   └── Alpha One (3)   merges into Alpha
//	├── Beta (6 + 1 inactive) unit
//	└── Old (2)             archived: not invited, not snapshotted
//
// plus one inactive person at the root.
type launchOrg struct {
	root, alpha, alphaOne, beta, old uint
	invited                          map[uint]uint // person id -> team id
	notInvited                       []uint
}

func buildLaunchOrg(e *env) *launchOrg {
	e.t.Helper()
	o := &launchOrg{root: e.root(), invited: map[uint]uint{}}
	o.alpha = e.team(o.root, "Alpha")
	o.alphaOne = e.team(o.alpha, "Alpha One")
	o.beta = e.team(o.root, "Beta")
	o.old = e.team(o.root, "Old")
	for team, n := range map[uint]int{o.root: 5, o.alpha: 6, o.alphaOne: 3, o.beta: 6} {
		for _, p := range e.people(team, fmt.Sprintf("t%d", team), n) {
			o.invited[p.ID] = team
		}
	}
	for _, p := range e.people(o.old, "old", 2) {
		o.notInvited = append(o.notInvited, p.ID)
	}
	for _, team := range []uint{o.root, o.beta} {
		p, err := e.svc.Org.CreatePerson(e.ctx, survey.PersonInput{Email: fmt.Sprintf("gone%d@acme.example", team), Name: "Gone", TeamID: team, Active: false})
		if err != nil {
			e.t.Fatalf("inactive person: %v", err)
		}
		o.notInvited = append(o.notInvited, p.ID)
	}
	// The service refuses to archive a team with active people; a team left
	// in that state (by an older version, or by hand) must still not be
	// invited.
	if err := e.db.Model(&survey.Team{}).Where("id = ?", o.old).Update("archived_at", e.clock.Now()).Error; err != nil {
		e.t.Fatalf("archive Old: %v", err)
	}
	return o
}

func TestLaunch(t *testing.T) {
	e := newRoundEnv(t)
	o := buildLaunchOrg(e)
	prog := e.program("Pulse")
	r := e.launch(prog.ID)

	if r.Status != survey.RoundOpen || r.Number != 1 || r.MinGroupSize != 5 {
		t.Errorf("round = status %q number %d k %d, want open, 1, 5", r.Status, r.Number, r.MinGroupSize)
	}
	if !r.OpensAt.Equal(e.clock.Now()) || !r.ClosesAt.Equal(e.clock.Now().Add(5*24*time.Hour)) {
		t.Errorf("round opens %v closes %v, want now and now+5 days", r.OpensAt, r.ClosesAt)
	}

	t.Run("round_teams snapshot", func(t *testing.T) {
		var rts []survey.RoundTeam
		if err := e.db.Where("round_id = ?", r.ID).Order("team_id").Find(&rts).Error; err != nil {
			t.Fatal(err)
		}
		want := map[uint][2]uint{ // team -> unit, invited
			o.root: {o.root, 5}, o.alpha: {o.alpha, 6}, o.alphaOne: {o.alpha, 3}, o.beta: {o.beta, 6},
		}
		if len(rts) != len(want) {
			t.Errorf("%d round teams, want %d (archived Old left out)", len(rts), len(want))
		}
		for _, rt := range rts {
			w, ok := want[rt.TeamID]
			if !ok {
				t.Errorf("team %d (%s) snapshotted, want not", rt.TeamID, rt.Name)
				continue
			}
			if rt.UnitID != w[0] || uint(rt.Invited) != w[1] {
				t.Errorf("team %s: unit %d invited %d, want unit %d invited %d", rt.Name, rt.UnitID, rt.Invited, w[0], w[1])
			}
		}
	})

	t.Run("round_questions", func(t *testing.T) {
		qs := e.roundQuestions(r.ID)
		if len(qs) != prog.ItemsPerRound {
			t.Fatalf("%d round questions, want %d", len(qs), prog.ItemsPerRound)
		}
		core := map[string]int{}
		for i, q := range qs {
			if q.Position != i || q.Text == "" {
				t.Errorf("question %d: position %d text %q", i, q.Position, q.Text)
			}
			if q.Core {
				core[q.Dimension]++
			}
		}
		for _, d := range survey.Dimensions() {
			if core[d] != 1 {
				t.Errorf("%d core items of %s, want 1", core[d], d)
			}
		}
	})

	var invs []survey.Invitation
	if err := e.db.Where("round_id = ?", r.ID).Find(&invs).Error; err != nil {
		t.Fatal(err)
	}
	unitOf := map[uint]uint{o.root: o.root, o.alpha: o.alpha, o.alphaOne: o.alpha, o.beta: o.beta}

	t.Run("one invitation per active person", func(t *testing.T) {
		if len(invs) != len(o.invited) {
			t.Errorf("%d invitations, want %d", len(invs), len(o.invited))
		}
		for _, inv := range invs {
			team, ok := o.invited[inv.PersonID]
			if !ok {
				t.Errorf("person %d invited, want not", inv.PersonID)
				continue
			}
			if inv.TeamID != team || inv.UnitID != unitOf[team] || inv.TokenIssued || inv.BlindedHash != "" || inv.BlindSignature != nil {
				t.Errorf("invitation of person %d: %+v, want team %d unit %d, no token", inv.PersonID, inv, team, unitOf[team])
			}
		}
		for _, id := range o.notInvited {
			if n := e.countWhere("invitations", "round_id = ? AND person_id = ?", r.ID, id); n != 0 {
				t.Errorf("person %d (inactive or archived team) invited", id)
			}
		}
	})

	links := e.links(r.ID)
	t.Run("link secret stored only as its hash", func(t *testing.T) {
		if len(links) != len(o.invited) {
			t.Fatalf("%d links, want %d", len(links), len(o.invited))
		}
		byPerson := map[uint]survey.Invitation{}
		for _, inv := range invs {
			byPerson[inv.PersonID] = inv
		}
		var rows []map[string]any
		if err := e.db.Table("invitations").Where("round_id = ?", r.ID).Find(&rows).Error; err != nil {
			t.Fatal(err)
		}
		for person, secret := range links {
			inv := byPerson[person]
			if len(secret) < 22 {
				t.Errorf("secret %q is shorter than 128 bits", secret)
			}
			if inv.SecretHash == secret || inv.SecretHash != sha256Hex(secret) {
				t.Errorf("person %d: secret_hash %q, want hex SHA-256 of the secret", person, inv.SecretHash)
			}
			raw, err := survey.DecodeB64(secret)
			if err != nil {
				t.Fatalf("secret is not base64url: %v", err)
			}
			for _, row := range rows {
				for col, v := range row {
					var s string
					switch v := v.(type) {
					case []byte:
						if bytes.Contains(v, raw) {
							t.Errorf("invitations.%s holds the raw link secret", col)
						}
						s = string(v)
					default:
						s = fmt.Sprint(v)
					}
					if strings.Contains(s, secret) || strings.Contains(s, hex.EncodeToString(raw)) {
						t.Errorf("invitations.%s holds a link secret", col)
					}
				}
			}
		}
	})

	keys := e.roundKeys(r.ID)
	t.Run("one encrypted key per unit", func(t *testing.T) {
		if len(keys) != 3 {
			t.Fatalf("%d round keys, want 3 (Acme, Alpha, Beta)", len(keys))
		}
		for _, u := range []uint{o.root, o.alpha, o.beta} {
			k, ok := keys[u]
			if !ok {
				t.Errorf("no key for unit %d", u)
				continue
			}
			sum := sha256.Sum256(k.PublicKey)
			if k.KeyID != hex.EncodeToString(sum[:]) {
				t.Errorf("unit %d: key_id %s is not SHA-256(SPKI)", u, k.KeyID)
			}
			pk := rsaKey(t, k.PublicKey)
			if pk.N.BitLen() != 2048 {
				t.Errorf("unit %d: %d-bit key, want 2048", u, pk.N.BitLen())
			}
			if len(k.PrivateKey) == 0 {
				t.Fatalf("unit %d: no private key stored", u)
			}
			if _, err := x509.ParsePKCS1PrivateKey(k.PrivateKey); err == nil {
				t.Errorf("unit %d: private key stored as plain PKCS#1", u)
			}
			if _, err := x509.ParsePKCS8PrivateKey(k.PrivateKey); err == nil {
				t.Errorf("unit %d: private key stored as plain PKCS#8", u)
			}
			// A plain RSA private key holds the modulus in the clear.
			if bytes.Contains(k.PrivateKey, pk.N.Bytes()) {
				t.Errorf("unit %d: stored private key contains the modulus: not encrypted", u)
			}
		}
		seen := map[string]bool{}
		for _, k := range keys {
			if seen[k.KeyID] {
				t.Errorf("key %s used by two units", k.KeyID)
			}
			seen[k.KeyID] = true
		}
	})

	t.Run("manifest is the same for everyone", func(t *testing.T) {
		m1, h1 := e.manifest(r.ID)
		m2, h2 := e.manifest(r.ID)
		if !bytes.Equal(m1, m2) || h1 != h2 {
			t.Fatal("two manifest calls differ")
		}
		sum := sha256.Sum256(m1)
		if h1 != hex.EncodeToString(sum[:]) {
			t.Errorf("manifest hash %s is not SHA-256 of its bytes", h1)
		}
		m := manifestKeys(t, m1)
		if m.Round != r.ID || len(m.Keys) != len(keys) {
			t.Errorf("manifest round %d with %d keys, want %d with %d", m.Round, len(m.Keys), r.ID, len(keys))
		}
		for _, mk := range m.Keys {
			spki, err := survey.DecodeB64(mk.SPKI)
			if err != nil || !bytes.Equal(spki, keys[mk.Unit].PublicKey) || mk.KeyID != keys[mk.Unit].KeyID {
				t.Errorf("manifest key of unit %d does not match round_keys", mk.Unit)
			}
		}
		for person, secret := range links {
			v := e.view(secret)
			if v.ManifestHash != h1 {
				t.Errorf("person %d sees manifest hash %s, want %s", person, v.ManifestHash, h1)
			}
			if want := unitOf[o.invited[person]]; v.UnitID != want || v.KeyID != keys[want].KeyID {
				t.Errorf("person %d: unit %d key %s, want unit %d key %s", person, v.UnitID, v.KeyID, want, keys[want].KeyID)
			}
			if v.Round.ID != r.ID || len(v.Questions) != prog.ItemsPerRound || v.TokenIssued || v.OrgName != "Acme" {
				t.Errorf("person %d: view %+v", person, v)
			}
		}
		if _, _, err := e.svc.Rounds.Manifest(e.ctx, r.ID+100); !errors.Is(err, survey.ErrNotFound) {
			t.Errorf("manifest of unknown round: %v, want ErrNotFound", err)
		}
	})

	t.Run("second launch while open", func(t *testing.T) {
		_, err := e.svc.Rounds.Launch(e.ctx, prog.ID)
		wantIs(t, err, survey.ErrConflict)
		if n := e.countWhere("rounds", "program_id = ?", prog.ID); n != 1 {
			t.Errorf("%d rounds, want 1", n)
		}
	})

	t.Run("unknown program", func(t *testing.T) {
		_, err := e.svc.Rounds.Launch(e.ctx, prog.ID+100)
		wantIs(t, err, survey.ErrNotFound)
	})
}

func TestLaunchNeedsKInvitees(t *testing.T) {
	e := newRoundEnv(t)
	root := e.root()
	e.people(root, "p", 4)
	if _, err := e.svc.Org.CreatePerson(e.ctx, survey.PersonInput{Email: "gone@acme.example", Name: "Gone", TeamID: root, Active: false}); err != nil {
		t.Fatal(err)
	}
	prog := e.program("Pulse")
	_, err := e.svc.Rounds.Launch(e.ctx, prog.ID)
	wantIs(t, err, survey.ErrConflict)
	for _, table := range []string{"rounds", "invitations", "round_keys"} {
		if n := e.countWhere(table, "1 = 1"); n != 0 {
			t.Errorf("%d rows in %s after a refused launch", n, table)
		}
	}
	// With a fifth invitee it launches.
	e.people(root, "q", 1)
	e.launch(prog.ID)
}

func TestLaunchWithoutKeyring(t *testing.T) {
	e := newOrgEnv(t)
	e.people(e.root(), "p", 5)
	prog := e.program("Pulse")
	if _, err := e.svc.Rounds.Launch(e.ctx, prog.ID); err == nil {
		t.Fatal("launch without a keyring succeeded")
	}
}

// smallRound is an org of two units (Acme with 5, Team X with 6) and one
// open round: the cheapest setup with more than one key.
type smallRound struct {
	round    *survey.Round
	root, x  uint
	byUnit   map[uint][]string // unit -> link secrets
	keys     map[uint]survey.RoundKey
	manifest []byte
}

func newSmallRound(e *env) *smallRound {
	e.t.Helper()
	s := &smallRound{root: e.root(), byUnit: map[uint][]string{}}
	s.x = e.team(s.root, "Team X")
	e.people(s.root, "root", 5)
	e.people(s.x, "x", 6)
	s.round = e.launch(e.program("Pulse").ID)
	for _, secret := range e.secrets(s.round.ID) {
		u := e.view(secret).UnitID
		s.byUnit[u] = append(s.byUnit[u], secret)
	}
	if len(s.byUnit[s.root]) != 5 || len(s.byUnit[s.x]) != 6 {
		e.t.Fatalf("units: root %d, X %d invitees, want 5 and 6", len(s.byUnit[s.root]), len(s.byUnit[s.x]))
	}
	s.keys = e.roundKeys(s.round.ID)
	s.manifest, _ = e.manifest(s.round.ID)
	return s
}

func TestIssueToken(t *testing.T) {
	e := newRoundEnv(t)
	s := newSmallRound(e)
	spkiX := s.keys[s.x].PublicKey
	secrets := s.byUnit[s.x]

	t.Run("exactly one of 20 concurrent different requests", func(t *testing.T) {
		secret := secrets[0]
		const n = 20
		bl := make([]*blinding, n)
		for i := range bl {
			bl[i] = blindMessage(t, spkiX, survey.TokenMessage(s.round.ID, s.x, nonce(t)))
		}
		sigs := make([][]byte, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				sigs[i], errs[i] = e.svc.Rounds.IssueToken(e.ctx, secret, bl[i].blinded)
			}()
		}
		close(start)
		wg.Wait()
		winner := -1
		for i, err := range errs {
			switch {
			case err == nil:
				if winner >= 0 {
					t.Errorf("requests %d and %d both got a token", winner, i)
				}
				winner = i
			case !errors.Is(err, survey.ErrConflict):
				t.Errorf("request %d: %v, want ErrConflict", i, err)
			}
		}
		if winner < 0 {
			t.Fatal("no request got a token")
		}
		inv := e.invitation(secret)
		sum := sha256.Sum256(bl[winner].blinded)
		if !inv.TokenIssued || inv.BlindedHash != hex.EncodeToString(sum[:]) {
			t.Errorf("invitation after issuance: issued %v blinded hash %q", inv.TokenIssued, inv.BlindedHash)
		}
		if !e.view(secret).TokenIssued {
			t.Error("survey view does not say the token was issued")
		}
		// The winner's token is a real one.
		tok := e.sealable(bl[winner].finalize(t, s.keys[s.x].KeyID, sigs[winner]))
		if err := e.svc.Rounds.SubmitBallot(e.ctx, ballot(tok, e.answers(s.round.ID, func(int) int { return 3 }), "")); err != nil {
			t.Errorf("submit with the issued token: %v", err)
		}
		// The winner retrying still gets its signature; a loser retrying does not.
		again, err := e.svc.Rounds.IssueToken(e.ctx, secret, bl[winner].blinded)
		if err != nil || !bytes.Equal(again, sigs[winner]) {
			t.Errorf("winner's retry: %v, same signature %v", err, bytes.Equal(again, sigs[winner]))
		}
		_, err = e.svc.Rounds.IssueToken(e.ctx, secret, bl[(winner+1)%n].blinded)
		wantIs(t, err, survey.ErrConflict)
	})

	t.Run("same blinded message retried gets the same signature", func(t *testing.T) {
		secret := secrets[1]
		b := blindMessage(t, spkiX, survey.TokenMessage(s.round.ID, s.x, nonce(t)))
		first, err := e.svc.Rounds.IssueToken(e.ctx, secret, b.blinded)
		if err != nil {
			t.Fatal(err)
		}
		for i := range 3 {
			sig, err := e.svc.Rounds.IssueToken(e.ctx, secret, bytes.Clone(b.blinded))
			if err != nil || !bytes.Equal(sig, first) {
				t.Fatalf("retry %d: err %v, same signature %v", i, err, bytes.Equal(sig, first))
			}
		}
		b.finalize(t, s.keys[s.x].KeyID, first)
		other := blindMessage(t, spkiX, survey.TokenMessage(s.round.ID, s.x, nonce(t)))
		_, err = e.svc.Rounds.IssueToken(e.ctx, secret, other.blinded)
		wantIs(t, err, survey.ErrConflict)
	})

	t.Run("same blinded message 10 times concurrently", func(t *testing.T) {
		secret := secrets[2]
		b := blindMessage(t, spkiX, survey.TokenMessage(s.round.ID, s.x, nonce(t)))
		const n = 10
		sigs := make([][]byte, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				sigs[i], errs[i] = e.svc.Rounds.IssueToken(e.ctx, secret, b.blinded)
			}()
		}
		close(start)
		wg.Wait()
		for i := range n {
			if errs[i] != nil {
				t.Errorf("request %d: %v", i, errs[i])
			} else if !bytes.Equal(sigs[i], sigs[0]) {
				t.Errorf("request %d got a different signature", i)
			}
		}
		if errs[0] == nil {
			b.finalize(t, s.keys[s.x].KeyID, sigs[0])
		}
	})

	t.Run("invalid blinded messages", func(t *testing.T) {
		secret := secrets[3]
		for name, blinded := range map[string][]byte{
			"empty":     nil,
			"255 bytes": make([]byte, 255),
			"257 bytes": make([]byte, 257),
		} {
			t.Run(name, func(t *testing.T) {
				_, err := e.svc.Rounds.IssueToken(e.ctx, secret, blinded)
				wantField(t, err, "blinded_msg")
			})
		}
		// The right length but not below the modulus.
		_, err := e.svc.Rounds.IssueToken(e.ctx, secret, bytes.Repeat([]byte{0xff}, 256))
		wantField(t, err, "blinded_msg")
		if e.invitation(secret).TokenIssued {
			t.Fatal("a refused request marked the token issued")
		}
		e.token(secret)
	})

	t.Run("unknown secret", func(t *testing.T) {
		b := blindMessage(t, spkiX, survey.TokenMessage(s.round.ID, s.x, nonce(t)))
		for _, secret := range []string{"", "not-a-link", secrets[4] + "x", sha256Hex(secrets[4])} {
			_, err := e.svc.Rounds.IssueToken(e.ctx, secret, b.blinded)
			wantIs(t, err, survey.ErrNotFound)
		}
		if e.invitation(secrets[4]).TokenIssued {
			t.Fatal("unknown secrets marked someone's token issued")
		}
	})

	t.Run("another keyring cannot sign", func(t *testing.T) {
		master := make([]byte, 32)
		if _, err := rand.Read(master); err != nil {
			t.Fatal(err)
		}
		kr, err := survey.NewKeyring(master)
		if err != nil {
			t.Fatal(err)
		}
		other := survey.New(e.db, survey.Options{BcryptCost: bcrypt.MinCost, Now: e.clock.Now, Keyring: kr})
		b := blindMessage(t, spkiX, survey.TokenMessage(s.round.ID, s.x, nonce(t)))
		if _, err := other.Rounds.IssueToken(e.ctx, secrets[4], b.blinded); err == nil {
			t.Fatal("a service with another keyring signed a token")
		}
		if e.invitation(secrets[4]).TokenIssued {
			t.Fatal("a failed signature marked the token issued")
		}
	})

	t.Run("after the round's closing time", func(t *testing.T) {
		rootSecrets := s.byUnit[s.root]
		spkiRoot := s.keys[s.root].PublicKey
		issued := blindMessage(t, spkiRoot, survey.TokenMessage(s.round.ID, s.root, nonce(t)))
		if _, err := e.svc.Rounds.IssueToken(e.ctx, rootSecrets[0], issued.blinded); err != nil {
			t.Fatal(err)
		}
		// One second before closing time it still issues.
		e.clock.Advance(s.round.ClosesAt.Sub(e.clock.Now()) - time.Second)
		e.token(rootSecrets[1])
		e.clock.Advance(time.Second)
		b := blindMessage(t, spkiRoot, survey.TokenMessage(s.round.ID, s.root, nonce(t)))
		_, err := e.svc.Rounds.IssueToken(e.ctx, rootSecrets[2], b.blinded)
		wantIs(t, err, survey.ErrRoundClosed)
		// Not even the retry of an issued token.
		_, err = e.svc.Rounds.IssueToken(e.ctx, rootSecrets[0], issued.blinded)
		wantIs(t, err, survey.ErrRoundClosed)
		if e.invitation(rootSecrets[2]).TokenIssued {
			t.Error("a token was marked issued after closing time")
		}
	})
}

// The Go client checks the manifest the way the browser must: a server
// that hands out a key that is not the one named, or signs with another
// key, is caught before a token is kept.
func TestObtainTokenChecksManifest(t *testing.T) {
	e := newRoundEnv(t)
	s := newSmallRound(e)
	secret := s.byUnit[s.x][0]
	kx, kroot := s.keys[s.x], s.keys[s.root]
	calls := 0
	issue := func(blinded []byte) ([]byte, error) {
		calls++
		return e.svc.Rounds.IssueToken(e.ctx, secret, blinded)
	}

	swapped := manifestKeys(t, s.manifest)
	for i := range swapped.Keys {
		if swapped.Keys[i].Unit == s.x {
			// X's key id, but the root's public key.
			swapped.Keys[i].SPKI = survey.EncodeB64(kroot.PublicKey)
		}
	}
	swappedBytes, err := json.Marshal(swapped)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name     string
		manifest []byte
		round    uint
		unit     uint
		keyID    string
	}{
		{"key does not match its key id", swappedBytes, s.round.ID, s.x, kx.KeyID},
		{"key id of another unit", s.manifest, s.round.ID, s.x, kroot.KeyID},
		{"key id not in the manifest", s.manifest, s.round.ID, s.x, strings.Repeat("ab", 32)},
		{"manifest of another round", s.manifest, s.round.ID + 1, s.x, kx.KeyID},
		{"not a manifest", []byte("<html>"), s.round.ID, s.x, kx.KeyID},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := survey.ObtainToken(tc.manifest, tc.round, tc.unit, tc.keyID, issue); err == nil {
				t.Fatal("ObtainToken accepted it")
			}
		})
	}
	if calls != 0 {
		t.Errorf("the issuer was asked %d times, want never", calls)
	}
	if e.invitation(secret).TokenIssued {
		t.Error("a refused manifest spent the invitation")
	}

	t.Run("signature by another key", func(t *testing.T) {
		// The server signs with the root's key although X's is published.
		rootSecret := s.byUnit[s.root][0]
		_, err := survey.ObtainToken(s.manifest, s.round.ID, s.x, kx.KeyID, func(blinded []byte) ([]byte, error) {
			return e.svc.Rounds.IssueToken(e.ctx, rootSecret, blinded)
		})
		if err == nil {
			t.Fatal("ObtainToken kept a token signed by another key")
		}
	})

	t.Run("honest manifest", func(t *testing.T) {
		tok, err := survey.ObtainToken(s.manifest, s.round.ID, s.x, kx.KeyID, issue)
		if err != nil {
			t.Fatal(err)
		}
		if tok.KeyID != kx.KeyID || !bytes.Contains(tok.Message, []byte(fmt.Sprintf("%s|%d|%d|", survey.MessagePrefix, s.round.ID, s.x))) {
			t.Errorf("token %+v", tok)
		}
	})
}

// Two admins pressing "launch" at once must get one open round. Launch B
// checks that no round is open, then launch A runs from start to end, then
// B goes on: B must not open a second round (on PostgreSQL, B's check and
// insert are not serialised with A's).
func TestLaunchConcurrentOneOpenRound(t *testing.T) {
	e := newRoundEnv(t)
	e.people(e.root(), "p", 5)
	prog := e.program("Pulse")
	e.installPauses()

	p := newPause(func(table, sql string) bool {
		return table == "rounds" && strings.Contains(sql, "count(") && strings.Contains(sql, "status")
	})
	var errA, errB error
	bDone := make(chan struct{})
	go func() {
		defer close(bDone)
		_, errB = e.svc.Rounds.Launch(p.ctx(e.ctx), prog.ID)
	}()
	select {
	case <-p.reached:
	case <-bDone:
		t.Fatalf("launch B never reached its open-round check: %v", errB)
	}
	_, errA = e.svc.Rounds.Launch(e.ctx, prog.ID)
	close(p.release)
	<-bDone

	open := e.countWhere("rounds", "program_id = ? AND status = ?", prog.ID, survey.RoundOpen)
	t.Logf("launch A: %v; launch B: %v; open rounds: %d", errA, errB, open)
	if (errA == nil) == (errB == nil) || open != 1 {
		t.Errorf("launch A: %v, launch B: %v, %d open rounds of one program; want exactly one launch to succeed", errA, errB, open)
	}
	for _, err := range []error{errA, errB} {
		if err != nil && !errors.Is(err, survey.ErrConflict) {
			t.Errorf("refused launch: %v, want ErrConflict", err)
		}
	}
}

// The next round of a program asks the same core items and the next
// rotating ones, with fresh keys and links.
func TestLaunchNextRound(t *testing.T) {
	e := newRoundEnv(t)
	e.people(e.root(), "p", 5)
	prog := e.program("Pulse")
	r1 := e.launch(prog.ID)
	links1 := e.links(r1.ID)
	keys1 := e.roundKeys(r1.ID)
	if err := e.svc.Rounds.Close(e.ctx, r1.ID); err != nil {
		t.Fatal(err)
	}
	r2 := e.launch(prog.ID)
	if r2.Number != 2 {
		t.Errorf("second round number %d, want 2", r2.Number)
	}
	core := func(qs []survey.RoundQuestion) (core, rot map[uint]bool) {
		core, rot = map[uint]bool{}, map[uint]bool{}
		for _, q := range qs {
			if q.Core {
				core[q.QuestionID] = true
			} else {
				rot[q.QuestionID] = true
			}
		}
		return core, rot
	}
	c1, rot1 := core(e.roundQuestions(r1.ID))
	c2, rot2 := core(e.roundQuestions(r2.ID))
	if fmt.Sprint(c1) != fmt.Sprint(c2) || len(c1) != 4 {
		t.Errorf("core items %v then %v, want the same 4", c1, c2)
	}
	for id := range rot2 {
		if rot1[id] {
			t.Errorf("rotating item %d asked in both rounds", id)
		}
	}
	if len(rot2) != 4 {
		t.Errorf("%d rotating items in round 2, want 4", len(rot2))
	}
	for person, secret := range e.links(r2.ID) {
		if secret == links1[person] {
			t.Errorf("person %d has the same link in both rounds", person)
		}
	}
	for u, k := range e.roundKeys(r2.ID) {
		if k.KeyID == keys1[u].KeyID {
			t.Errorf("unit %d reuses its key in round 2", u)
		}
	}
}

// A team left active under an archived parent (the services never create
// this, but a restore, an import or a hand edit can) is outside the
// snapshot like its parent: its people are not invited, and Launch must
// not crash on them.
func TestLaunchArchivedSubtree(t *testing.T) {
	e := newRoundEnv(t)
	root := e.root()
	dept := e.team(root, "Dept")
	sub := e.team(dept, "Sub")
	e.people(root, "root", 5)
	e.people(sub, "sub", 6)
	if err := e.db.Model(&survey.Team{}).Where("id = ?", dept).Update("archived_at", e.clock.Now()).Error; err != nil {
		t.Fatal(err)
	}
	prog := e.program("Pulse")
	var (
		r   *survey.Round
		err error
	)
	func() {
		defer func() {
			if p := recover(); p != nil {
				t.Fatalf("Launch panicked: %v", p)
			}
		}()
		r, err = e.svc.Rounds.Launch(e.ctx, prog.ID)
	}()
	if err != nil {
		t.Fatalf("launch: %v", err)
	}
	if n := e.countRound("invitations", r.ID); n != 5 {
		t.Errorf("%d invitations, want the root's 5 only", n)
	}
	if n := e.countWhere("round_teams", "round_id = ? AND team_id IN ?", r.ID, []uint{dept, sub}); n != 0 {
		t.Errorf("%d archived-subtree teams in the snapshot, want 0", n)
	}
}
