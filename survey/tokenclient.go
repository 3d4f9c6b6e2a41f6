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

// Token is a finalized, unlinkable ballot token.
type Token struct {
	KeyID     string
	Message   []byte // prepared message
	Signature []byte
}

// ObtainToken does what an employee's browser does, in Go (the demo and
// tests use it): find the unit's key in the manifest, prepare and blind a
// fresh message, have it signed by issue, then finalize and verify.
func ObtainToken(manifest []byte, roundID, unitID uint, keyID string, issue func(blinded []byte) ([]byte, error)) (*Token, error) {
	var m Manifest
	if err := json.Unmarshal(manifest, &m); err != nil {
		return nil, fmt.Errorf("token: manifest: %w", err)
	}
	var spki []byte
	for _, k := range m.Keys {
		if k.Unit == unitID && k.KeyID == keyID {
			b, err := decodeB64(k.SPKI)
			if err != nil {
				return nil, err
			}
			spki = b
		}
	}
	if spki == nil || KeyID(spki) != keyID || m.Round != roundID {
		return nil, errors.New("token: the manifest has no matching key")
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
	return &Token{KeyID: keyID, Message: prepared, Signature: sig}, nil
}
