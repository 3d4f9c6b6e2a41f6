package survey

import (
	"crypto/hpke"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
)

// Sealed ballots (ANONYMITY.md section 5). The browser seals a ballot with
// HPKE (RFC 9180, base mode) to its round's box key; the database only ever
// holds the ciphertext. The suite is the hybrid post-quantum KEM X-Wing
// (ML-KEM-768 + X25519), HKDF-SHA256 and AES-128-GCM: a ballot kept in an old
// backup should stay sealed for years. The browser side is @hpke/core with
// @hpke/hybridkem-x-wing (frontend/static/vendor/hpke); survey/seal_interop_test.go
// checks that the two interoperate.
const (
	// BoxKEM names the KEM in the manifest.
	BoxKEM = "X-Wing"
	// BoxKEMID, BoxKDFID and BoxAEADID are the HPKE identifiers of the suite.
	BoxKEMID  = 0x647a
	BoxKDFID  = 0x0001
	BoxAEADID = 0x0001
	// BoxPublicKeyLen is the size of an X-Wing public key.
	BoxPublicKeyLen = 1216
	// boxEncLen is the size of the KEM's encapsulated key.
	boxEncLen = 1120
	// BallotPlainLen is the length every ballot's plaintext is padded to, so
	// the ciphertext's length says nothing about the comment. It holds the
	// format byte, up to maxSealedAnswers answers and a comment of
	// MaxCommentRunes runes of up to 4 bytes each.
	BallotPlainLen = 8448
	// SealedBallotLen is the length of every sealed ballot: the encapsulated
	// key, the padded plaintext and the AES-GCM tag.
	SealedBallotLen = boxEncLen + BallotPlainLen + 16
	// maxSealedAnswers bounds the answers of one ballot (a round asks at
	// most 20 items).
	maxSealedAnswers = 64
	// ballotFormat is the first byte of a ballot plaintext.
	ballotFormat = 1
)

func boxSuite() (hpke.KEM, hpke.KDF, hpke.AEAD) {
	return hpke.MLKEM768X25519(), hpke.HKDFSHA256(), hpke.AES128GCM()
}

// boxInfo is the HPKE info of a round's ballots: a ballot sealed for one
// round does not open as a ballot of another.
func boxInfo(roundID uint) []byte {
	return []byte("pulse/ballot/v1|" + strconv.FormatUint(uint64(roundID), 10))
}

// boxKey is a freshly generated box key pair: the 32-byte seed it derives
// from (what is stored, sealed) and the public key (what is published).
type boxKey struct {
	seed   []byte
	public []byte
}

func generateBoxKey() (*boxKey, error) {
	kem, _, _ := boxSuite()
	seed := make([]byte, 32)
	if _, err := rand.Read(seed); err != nil {
		return nil, err
	}
	sk, err := kem.NewPrivateKey(seed)
	if err != nil {
		return nil, err
	}
	return &boxKey{seed: seed, public: sk.PublicKey().Bytes()}, nil
}

// boxOpener opens the sealed ballots of one round.
type boxOpener struct {
	roundID uint
	sk      hpke.PrivateKey
}

func newBoxOpener(roundID uint, seed []byte) (*boxOpener, error) {
	kem, _, _ := boxSuite()
	sk, err := kem.NewPrivateKey(seed)
	if err != nil {
		return nil, err
	}
	return &boxOpener{roundID: roundID, sk: sk}, nil
}

// errSealed is why a sealed ballot was refused, without saying more.
var errSealed = errors.New("the sealed ballot does not open with this round's key and token")

// open decrypts a sealed ballot bound to its token message (the prepared
// message) and decodes its plaintext. The plaintext exists only in memory.
func (o *boxOpener) open(token, sealed []byte) (map[uint]int, string, error) {
	if len(sealed) != SealedBallotLen {
		return nil, "", fmt.Errorf("a sealed ballot must be %d bytes", SealedBallotLen)
	}
	_, kdf, aead := boxSuite()
	r, err := hpke.NewRecipient(sealed[:boxEncLen], o.sk, kdf, aead, boxInfo(o.roundID))
	if err != nil {
		return nil, "", errSealed
	}
	plain, err := r.Open(token, sealed[boxEncLen:])
	if err != nil {
		return nil, "", errSealed
	}
	return decodeBallotPlain(plain)
}

// EncodeBallotPlain is the padded plaintext of a ballot (the survey page
// builds the same bytes): format byte, answer count (uint16), each answer as
// question id (uint32) and value (uint8), comment length (uint16) and UTF-8
// bytes, then zeros up to BallotPlainLen. All integers are big-endian.
func EncodeBallotPlain(answers map[uint]int, comment string) ([]byte, error) {
	if len(answers) > maxSealedAnswers {
		return nil, fmt.Errorf("at most %d answers fit in a ballot", maxSealedAnswers)
	}
	b := make([]byte, 0, BallotPlainLen)
	b = append(b, ballotFormat)
	b = binary.BigEndian.AppendUint16(b, uint16(len(answers)))
	for q, v := range answers {
		if v < 0 || v > 255 || uint64(q) > 0xffffffff {
			return nil, errors.New("an answer is out of range")
		}
		b = binary.BigEndian.AppendUint32(b, uint32(q))
		b = append(b, byte(v))
	}
	if len(b)+2+len(comment) > BallotPlainLen {
		return nil, errors.New("the comment is too long")
	}
	b = binary.BigEndian.AppendUint16(b, uint16(len(comment)))
	b = append(b, comment...)
	return b[:BallotPlainLen], nil
}

// decodeBallotPlain is the inverse of EncodeBallotPlain. It is strict: the
// length, format, counts and zero padding must all be exact.
func decodeBallotPlain(p []byte) (map[uint]int, string, error) {
	bad := errors.New("the sealed ballot's content is malformed")
	if len(p) != BallotPlainLen || p[0] != ballotFormat {
		return nil, "", bad
	}
	n := int(binary.BigEndian.Uint16(p[1:]))
	if n > maxSealedAnswers {
		return nil, "", bad
	}
	at := 3
	answers := make(map[uint]int, n)
	for i := 0; i < n; i++ {
		q := uint(binary.BigEndian.Uint32(p[at:]))
		if _, dup := answers[q]; dup {
			return nil, "", bad
		}
		answers[q] = int(p[at+4])
		at += 5
	}
	l := int(binary.BigEndian.Uint16(p[at:]))
	at += 2
	if at+l > len(p) {
		return nil, "", bad
	}
	for _, c := range p[at+l:] {
		if c != 0 {
			return nil, "", bad
		}
	}
	// Whether the comment is valid text is checked with the rest of the
	// ballot (validateBallot).
	return answers, string(p[at : at+l]), nil
}

// SealBallot seals a ballot as the survey page does: the padded plaintext,
// to the round's box public key, with the token's prepared message as
// associated data.
func SealBallot(boxPublicKey []byte, roundID uint, prepared []byte, answers map[uint]int, comment string) ([]byte, error) {
	kem, kdf, aead := boxSuite()
	pk, err := kem.NewPublicKey(boxPublicKey)
	if err != nil {
		return nil, fmt.Errorf("seal: box key: %w", err)
	}
	plain, err := EncodeBallotPlain(answers, comment)
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	enc, s, err := hpke.NewSender(pk, kdf, aead, boxInfo(roundID))
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	ct, err := s.Seal(prepared, plain)
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	return append(enc, ct...), nil
}
