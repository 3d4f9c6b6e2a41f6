package main

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/pulse-survey/pulse/survey"
)

// loadKeyring reads the instance secret key, creating it (0600) on first
// start. Every replica of one installation must share this file, and it
// must be backed up: without it, open rounds cannot issue tokens.
func loadKeyring(path string) (*survey.Keyring, bool, error) {
	b, err := os.ReadFile(path)
	created := false
	if errors.Is(err, fs.ErrNotExist) {
		key := make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return nil, false, err
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, false, fmt.Errorf("cannot create the directory of the secret key file %s: %v", path, err)
		}
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return nil, false, fmt.Errorf("cannot create the secret key file %s: %v", path, err)
		}
		if _, err := f.WriteString(hex.EncodeToString(key) + "\n"); err != nil {
			f.Close()
			return nil, false, err
		}
		if err := f.Sync(); err != nil {
			f.Close()
			return nil, false, err
		}
		if err := f.Close(); err != nil {
			return nil, false, err
		}
		b, created = []byte(hex.EncodeToString(key)), true
	} else if err != nil {
		return nil, false, fmt.Errorf("cannot read the secret key file %s: %v", path, err)
	}
	key, err := hex.DecodeString(strings.TrimSpace(string(b)))
	if err != nil || len(key) != 32 {
		return nil, false, fmt.Errorf("the secret key file %s must hold 64 hex characters (32 bytes); restore it from backup or point PULSE_SECRET_KEY_FILE at the right file", path)
	}
	k, err := survey.NewKeyring(key)
	return k, created, err
}
