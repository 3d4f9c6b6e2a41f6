package survey

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"

	"github.com/cloudflare/circl/blindsign/blindrsa"
)

// TokenVariant is the RFC 9474 variant used by server and browser alike.
const TokenVariant = blindrsa.SHA384PSSRandomized

// tokenKeyBits is the RSA modulus size of a unit's signing key.
const tokenKeyBits = 2048

// MessagePrefix starts every token message: "pulse/v1|<round>|<unit>|<nonce>".
const MessagePrefix = "pulse/v1"

// preparePrefixLen is the random prefix the randomized variant's Prepare adds.
const preparePrefixLen = 32

// unitKey is a freshly generated signing key with its published form.
type unitKey struct {
	private *rsa.PrivateKey
	spki    []byte
	keyID   string
}

func generateUnitKey() (*unitKey, error) {
	sk, err := rsa.GenerateKey(rand.Reader, tokenKeyBits)
	if err != nil {
		return nil, err
	}
	spki, err := x509.MarshalPKIXPublicKey(&sk.PublicKey)
	if err != nil {
		return nil, err
	}
	return &unitKey{private: sk, spki: spki, keyID: KeyID(spki)}, nil
}

// KeyID is SHA-256 of the key's SubjectPublicKeyInfo, hex.
func KeyID(spki []byte) string {
	sum := sha256.Sum256(spki)
	return hex.EncodeToString(sum[:])
}

// blindSign signs a blinded message with a unit's key.
func blindSign(sk *rsa.PrivateKey, blinded []byte) ([]byte, error) {
	return blindrsa.NewSigner(sk).BlindSign(blinded)
}

// TokenMessage is the message a browser (or the demo's Go client) has signed:
// it binds the token to its round and unit.
func TokenMessage(roundID, unitID uint, nonce []byte) []byte {
	return []byte(fmt.Sprintf("%s|%d|%d|%s", MessagePrefix, roundID, unitID, hex.EncodeToString(nonce)))
}

// parsePrepared returns the round and unit named in a prepared message
// (random prefix, then TokenMessage).
func parsePrepared(prepared []byte) (roundID, unitID uint, ok bool) {
	if len(prepared) <= preparePrefixLen || len(prepared) > preparePrefixLen+200 {
		return 0, 0, false
	}
	parts := bytes.Split(prepared[preparePrefixLen:], []byte("|"))
	if len(parts) != 4 || string(parts[0]) != MessagePrefix || len(parts[3]) != 64 {
		return 0, 0, false
	}
	if _, err := hex.DecodeString(string(parts[3])); err != nil {
		return 0, 0, false
	}
	r, err1 := strconv.ParseUint(string(parts[1]), 10, 32)
	u, err2 := strconv.ParseUint(string(parts[2]), 10, 32)
	if err1 != nil || err2 != nil || r == 0 || u == 0 {
		return 0, 0, false
	}
	return uint(r), uint(u), true
}

// nullifier identifies a spent token without linking it to anything else.
func nullifier(prepared []byte) string {
	sum := sha256.Sum256(prepared)
	return hex.EncodeToString(sum[:])
}

// Keyring holds the instance secret: it encrypts unit private keys at rest
// and derives invitation link secrets.
type Keyring struct {
	aead    cipher.AEAD
	linkKey []byte
}

// NewKeyring derives the keyring from a 32-byte master secret.
func NewKeyring(master []byte) (*Keyring, error) {
	if len(master) != 32 {
		return nil, fmt.Errorf("the secret key must be 32 bytes, got %d", len(master))
	}
	derive := func(label string) []byte {
		m := hmac.New(sha256.New, master)
		m.Write([]byte(label))
		return m.Sum(nil)
	}
	block, err := aes.NewCipher(derive("pulse key encryption v1"))
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Keyring{aead: aead, linkKey: derive("pulse invitation links v1")}, nil
}

func keyAAD(roundID, unitID uint) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint32(b, uint32(roundID))
	binary.BigEndian.PutUint32(b[4:], uint32(unitID))
	return append([]byte("pulse round key|"), b...)
}

// seal encrypts a unit's private key, bound to its round and unit.
func (k *Keyring) seal(roundID, unitID uint, sk *rsa.PrivateKey) ([]byte, error) {
	return k.sealBytes(keyAAD(roundID, unitID), x509.MarshalPKCS1PrivateKey(sk))
}

// open decrypts a unit's private key.
func (k *Keyring) open(roundID, unitID uint, sealed []byte) (*rsa.PrivateKey, error) {
	plain, err := k.openBytes(keyAAD(roundID, unitID), sealed)
	if err != nil {
		return nil, err
	}
	return x509.ParsePKCS1PrivateKey(plain)
}

func boxKeyAAD(roundID uint) []byte {
	b := make([]byte, 4)
	binary.BigEndian.PutUint32(b, uint32(roundID))
	return append([]byte("pulse box key|"), b...)
}

// sealBoxSeed encrypts the seed of a round's box key, bound to its round.
func (k *Keyring) sealBoxSeed(roundID uint, seed []byte) ([]byte, error) {
	return k.sealBytes(boxKeyAAD(roundID), seed)
}

// openBoxSeed decrypts the seed of a round's box key.
func (k *Keyring) openBoxSeed(roundID uint, sealed []byte) ([]byte, error) {
	return k.openBytes(boxKeyAAD(roundID), sealed)
}

func (k *Keyring) sealBytes(aad, plain []byte) ([]byte, error) {
	nonce := make([]byte, k.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return k.aead.Seal(nonce, nonce, plain, aad), nil
}

func (k *Keyring) openBytes(aad, sealed []byte) ([]byte, error) {
	n := k.aead.NonceSize()
	if len(sealed) < n {
		return nil, errors.New("sealed key too short")
	}
	plain, err := k.aead.Open(nil, sealed[:n], sealed[n:], aad)
	if err != nil {
		return nil, errors.New("cannot decrypt the round key: was the secret key file replaced?")
	}
	return plain, nil
}

// linkSecret derives an invitation's 128-bit link secret. Only its hash is
// stored; deriving it lets reminders and link exports reuse the same link.
func (k *Keyring) linkSecret(roundID, personID uint) string {
	m := hmac.New(sha256.New, k.linkKey)
	fmt.Fprintf(m, "invitation|%d|%d", roundID, personID)
	return encodeB64(m.Sum(nil)[:16])
}
