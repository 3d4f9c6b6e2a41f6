package survey

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/cloudflare/circl/blindsign/blindrsa"
)

// Token is a finalized, unlinkable ballot token, with what its holder
// needs to seal a ballot: the round and, unless the round was launched
// before sealed ballots, the round's box public key from the manifest.
type Token struct {
	KeyID     string
	Message   []byte // prepared message
	Signature []byte
	Round     uint
	BoxKey    []byte
}

// Ballot is the submission of tok: the ballot sealed to the round's box
// key as the survey page seals it, or a clear ballot for a round launched
// before sealed ballots.
func (tok *Token) Ballot(answers map[uint]int, comment string) (BallotInput, error) {
	in := BallotInput{KeyID: tok.KeyID, Message: tok.Message, Signature: tok.Signature}
	if tok.BoxKey == nil {
		in.Answers, in.Comment = answers, comment
		return in, nil
	}
	sealed, err := SealBallot(tok.BoxKey, tok.Round, tok.Message, answers, comment)
	if err != nil {
		return in, err
	}
	in.Sealed = sealed
	return in, nil
}

// ObtainToken does what an employee's browser does, in Go (the demo and
// tests use it): find the unit's key in the manifest and refuse a unit of
// fewer than the manifest's minimum group size, prepare and blind a fresh
// message, have it signed by issue, then finalize and verify.
func ObtainToken(manifest []byte, roundID, unitID uint, keyID string, issue func(blinded []byte) ([]byte, error)) (*Token, error) {
	var m Manifest
	if err := json.Unmarshal(manifest, &m); err != nil {
		return nil, fmt.Errorf("token: manifest: %w", err)
	}
	var spki []byte
	invited := 0
	for _, k := range m.Keys {
		if k.Unit == unitID && k.KeyID == keyID {
			b, err := decodeB64(k.SPKI)
			if err != nil {
				return nil, err
			}
			spki, invited = b, k.Invited
		}
	}
	if spki == nil || KeyID(spki) != keyID || m.Round != roundID {
		return nil, errors.New("token: the manifest has no matching key")
	}
	if m.Version != ManifestVersion || m.MinGroupSize < MinMinGroupSize || invited < m.MinGroupSize {
		return nil, fmt.Errorf("token: the manifest pools this unit with %d people, fewer than the minimum group size %d", invited, m.MinGroupSize)
	}
	var box []byte
	if m.Box != nil {
		if m.Box.KEMID != BoxKEMID || m.Box.KDFID != BoxKDFID || m.Box.AEADID != BoxAEADID {
			return nil, errors.New("token: the manifest's box key uses another suite")
		}
		b, err := decodeB64(m.Box.PublicKey)
		if err != nil || len(b) != BoxPublicKeyLen {
			return nil, errors.New("token: the manifest's box key is malformed")
		}
		box = b
	}
	pub, err := x509.ParsePKIXPublicKey(spki)
	if err != nil {
		return nil, err
	}
	pk, ok := pub.(*rsa.PublicKey)
	if !ok {
		return nil, errors.New("token: not an RSA key")
	}
	c, err := blindrsa.NewClient(TokenVariant, pk)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, 32)
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	prepared, err := c.Prepare(rand.Reader, TokenMessage(roundID, unitID, nonce))
	if err != nil {
		return nil, err
	}
	blinded, state, err := c.Blind(rand.Reader, prepared)
	if err != nil {
		return nil, err
	}
	blindSig, err := issue(blinded)
	if err != nil {
		return nil, err
	}
	sig, err := c.Finalize(state, blindSig)
	if err != nil {
		return nil, fmt.Errorf("token: finalize: %w", err)
	}
	return &Token{KeyID: keyID, Message: prepared, Signature: sig, Round: roundID, BoxKey: box}, nil
}
