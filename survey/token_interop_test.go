package survey_test

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha512"
	"crypto/x509"
	"fmt"
	"testing"

	"github.com/cloudflare/circl/blindsign/blindrsa"

	"github.com/pulse-survey/pulse/survey"
	"github.com/pulse-survey/pulse/survey/surveytest"
)

// interopKey is a unit signing key as the server makes one, with the SPKI the manifest publishes.
func interopKey(t *testing.T) (*rsa.PrivateKey, []byte) {
	t.Helper()
	sk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	spki, err := x509.MarshalPKIXPublicKey(&sk.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return sk, spki
}

func interopVerifier(t *testing.T, pk *rsa.PublicKey) blindrsa.Verifier {
	t.Helper()
	v, err := blindrsa.NewVerifier(blindrsa.SHA384PSSRandomized, pk)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func randomNonce(t *testing.T) []byte {
	t.Helper()
	nonce := make([]byte, 32)
	if _, err := rand.Read(nonce); err != nil {
		t.Fatal(err)
	}
	return nonce
}

func flipBit(b []byte, i int) []byte {
	c := bytes.Clone(b)
	c[i%len(c)] ^= 0x01
	return c
}

// TestTokenInteropBrowserClient runs the committed browser bundle (blindrsa-ts, in node) as
// the client and circl as the server, the pairing used in production: a token the page
// prepares, blinds and finalizes must verify on the server, and nothing else may.
func TestTokenInteropBrowserClient(t *testing.T) {
	if survey.TokenVariant != blindrsa.SHA384PSSRandomized {
		t.Fatalf("survey.TokenVariant = %v, this test and the page use SHA384PSSRandomized", survey.TokenVariant)
	}
	js := surveytest.NewJSClient(t)
	sk, spki := interopKey(t)
	signer := blindrsa.NewSigner(sk)
	verifier := interopVerifier(t, &sk.PublicKey)

	// Several tokens, so values with leading zero bytes (about 1 in 256 each) get exercised
	// now and then in the byte-string conversions on both sides.
	const tokens = 12
	prefixes := map[string]bool{}
	for i := range tokens {
		nonce := randomNonce(t)
		msg := survey.TokenMessage(7, 3, nonce)
		if want := fmt.Sprintf("pulse/v1|7|3|%x", nonce); string(msg) != want {
			t.Fatalf("TokenMessage = %q, want %q", msg, want)
		}

		prepared, blinded, state, err := js.PrepareBlind(spki, msg)
		if err != nil {
			t.Fatalf("token %d: PrepareBlind: %v", i, err)
		}
		if len(prepared) != 32+len(msg) || !bytes.Equal(prepared[32:], msg) {
			t.Fatalf("token %d: prepared = %x, want 32 random bytes followed by %q", i, prepared, msg)
		}
		prefixes[string(prepared[:32])] = true
		if len(blinded) != 256 {
			t.Fatalf("token %d: blinded message has %d bytes, want 256 (RSA-2048)", i, len(blinded))
		}
		if bytes.Contains(blinded, msg) {
			t.Fatalf("token %d: the blinded message contains the message in clear", i)
		}

		blindSig, err := signer.BlindSign(blinded)
		if err != nil {
			t.Fatalf("token %d: BlindSign: %v", i, err)
		}
		if i == 0 {
			// The page verifies while finalizing: a corrupted blind signature must be refused,
			// and the blinding state must survive for the genuine one.
			if _, err := js.Finalize(state, flipBit(blindSig, 100)); err == nil {
				t.Fatal("Finalize accepted a tampered blind signature")
			}
		}
		sig, err := js.Finalize(state, blindSig)
		if err != nil {
			t.Fatalf("token %d: Finalize: %v", i, err)
		}
		if len(sig) != 256 {
			t.Fatalf("token %d: signature has %d bytes, want 256", i, len(sig))
		}
		if bytes.Equal(sig, blindSig) {
			t.Fatalf("token %d: finalized signature equals the blind signature: no blinding happened", i)
		}

		if err := verifier.Verify(prepared, sig); err != nil {
			t.Fatalf("token %d: circl rejects the browser's token: %v", i, err)
		}
		// RFC 9474 signatures are plain RSASSA-PSS signatures over the prepared message.
		digest := sha512.Sum384(prepared)
		if err := rsa.VerifyPSS(&sk.PublicKey, crypto.SHA384, digest[:], sig, &rsa.PSSOptions{SaltLength: 48}); err != nil {
			t.Fatalf("token %d: crypto/rsa rejects the token as RSA-PSS: %v", i, err)
		}
		if err := js.Verify(spki, prepared, sig); err != nil {
			t.Fatalf("token %d: the browser library rejects its own token: %v", i, err)
		}

		if i == 0 {
			t.Run("tampered signature", func(t *testing.T) {
				for _, pos := range []int{0, 128, 255} {
					bad := flipBit(sig, pos)
					if err := verifier.Verify(prepared, bad); err == nil {
						t.Errorf("circl accepted a signature with byte %d changed", pos)
					}
					if err := js.Verify(spki, prepared, bad); err == nil {
						t.Errorf("the browser library accepted a signature with byte %d changed", pos)
					}
				}
			})
			t.Run("tampered message", func(t *testing.T) {
				other := append(bytes.Clone(prepared[:32]), survey.TokenMessage(7, 4, nonce)...)
				if err := verifier.Verify(other, sig); err == nil {
					t.Error("circl accepted the signature for a message naming another unit")
				}
				if err := verifier.Verify(flipBit(prepared, 0), sig); err == nil {
					t.Error("circl accepted the signature with the random prefix changed")
				}
				if err := verifier.Verify(msg, sig); err == nil {
					t.Error("circl accepted the signature over the message without its prefix")
				}
			})
		}
	}
	if len(prefixes) != tokens {
		t.Errorf("%d tokens had only %d distinct prepare prefixes", tokens, len(prefixes))
	}

	t.Run("signature from a different key", func(t *testing.T) {
		sk2, spki2 := interopKey(t)
		msg := survey.TokenMessage(7, 3, randomNonce(t))
		prepared, blinded, state, err := js.PrepareBlind(spki2, msg)
		if err != nil {
			t.Fatal(err)
		}
		blindSig, err := blindrsa.NewSigner(sk2).BlindSign(blinded)
		if err != nil {
			t.Fatal(err)
		}
		sig, err := js.Finalize(state, blindSig)
		if err != nil {
			t.Fatal(err)
		}
		if err := interopVerifier(t, &sk2.PublicKey).Verify(prepared, sig); err != nil {
			t.Fatalf("control: the token does not verify under its own key: %v", err)
		}
		if err := verifier.Verify(prepared, sig); err == nil {
			t.Error("circl accepted a token signed by another unit's key")
		}
		if err := js.Verify(spki, prepared, sig); err == nil {
			t.Error("the browser library accepted a token signed by another unit's key")
		}
	})

	t.Run("blind signature from a different key", func(t *testing.T) {
		// The page must refuse a blind signature made with another key than the manifest's,
		// or a server could tag a respondent with a personal key.
		sk2, _ := interopKey(t)
		signer2 := blindrsa.NewSigner(sk2)
		// A blinded message is uniform below the first modulus; retry until it also lies
		// below the second one, so the other key can sign it at all.
		var state string
		var blindSig []byte
		for attempt := 0; blindSig == nil; attempt++ {
			if attempt == 20 {
				t.Fatal("no blinded message fitted the other modulus in 20 attempts")
			}
			var blinded []byte
			var err error
			_, blinded, state, err = js.PrepareBlind(spki, survey.TokenMessage(7, 3, randomNonce(t)))
			if err != nil {
				t.Fatal(err)
			}
			blindSig, _ = signer2.BlindSign(blinded)
		}
		if _, err := js.Finalize(state, blindSig); err == nil {
			t.Error("Finalize accepted a blind signature from another key")
		}
	})
}
