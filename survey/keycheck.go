package survey

import (
	"context"
	"errors"
	"fmt"
)

// ErrWrongKeyring means the instance secret key does not open the signing
// keys stored for an open round: the database comes from an instance with
// another secret key file.
var ErrWrongKeyring = errors.New("the secret key does not open the round keys")

// CheckKeyring tries the keyring on one stored signing key of every open
// round and returns how many open rounds it checked. A restored backup
// needs the secret key file of the instance it was taken from; this tells
// before the first invitee finds out.
func (s *RoundService) CheckKeyring(ctx context.Context) (int, error) {
	var keys []RoundKey
	err := s.db.WithContext(ctx).Raw(`SELECT k.round_id, k.unit_id, k.private_key FROM round_keys k
		JOIN rounds r ON r.id = k.round_id
		WHERE r.status = ? AND k.private_key IS NOT NULL
		AND k.unit_id = (SELECT MIN(k2.unit_id) FROM round_keys k2 WHERE k2.round_id = k.round_id AND k2.private_key IS NOT NULL)
		ORDER BY k.round_id`, RoundOpen).Scan(&keys).Error
	if err != nil {
		return 0, dbErr("check keyring", err)
	}
	if len(keys) == 0 {
		return 0, nil
	}
	if s.keys == nil {
		return len(keys), errors.New("survey: check keyring: no keyring configured")
	}
	for _, k := range keys {
		if _, err := s.keys.open(k.RoundID, k.UnitID, k.PrivateKey); err != nil {
			return len(keys), fmt.Errorf("open round %d: %w", k.RoundID, ErrWrongKeyring)
		}
	}
	return len(keys), nil
}
