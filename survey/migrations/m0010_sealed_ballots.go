package migrations

import (
	"github.com/go-gormigrate/gormigrate/v2"
	"gorm.io/gorm"
)

// m0010SealedBallots adds what sealed ballots need (ANONYMITY.md section 5):
// each round's HPKE box key, the token a sealed ballot is bound to, and the
// count of ballots close could not open or validate. On SQLite the ballot
// box is rebuilt WITHOUT ROWID, so its rows sit in the order of their random
// ids rather than in arrival order. Clear ballots already in the box (rounds
// launched before this migration) are kept as they are and close as before.
func m0010SealedBallots() *gormigrate.Migration {
	type round struct {
		ID uint `gorm:"primaryKey"`
	}
	// roundBoxKey: PrivateKey is the key's seed sealed under the instance
	// secret, NULL once the round closed.
	type roundBoxKey struct {
		RoundID    uint   `gorm:"primaryKey;autoIncrement:false"`
		Round      *round `gorm:"constraint:OnDelete:RESTRICT"`
		PublicKey  []byte `gorm:"not null"`
		PrivateKey []byte
	}
	return &gormigrate.Migration{
		ID: "0010_sealed_ballots",
		Migrate: func(tx *gorm.DB) error {
			stmts := []string{
				"ALTER TABLE rounds ADD COLUMN invalid_ballots INTEGER NOT NULL DEFAULT 0",
				"ALTER TABLE ballot_box ADD COLUMN token BYTEA",
			}
			if tx.Dialector.Name() == "postgres" {
				if err := tx.Table("round_box_keys").Migrator().CreateTable(&roundBoxKey{}); err != nil {
					return err
				}
			} else {
				// No rowid on SQLite for either table: nothing there counts rows in write order.
				stmts = []string{
					"CREATE TABLE round_box_keys (round_id INTEGER NOT NULL, public_key BLOB NOT NULL, private_key BLOB, " +
						"PRIMARY KEY (round_id), CONSTRAINT fk_round_box_keys_round FOREIGN KEY (round_id) REFERENCES rounds(id) ON DELETE RESTRICT) WITHOUT ROWID",
					"ALTER TABLE rounds ADD COLUMN invalid_ballots INTEGER NOT NULL DEFAULT 0",
					"CREATE TABLE ballot_box_v2 (id TEXT NOT NULL, round_id INTEGER NOT NULL, unit_id INTEGER NOT NULL, " +
						"payload BLOB NOT NULL, token BLOB, PRIMARY KEY (id), " +
						"CONSTRAINT fk_ballot_box_round FOREIGN KEY (round_id) REFERENCES rounds(id) ON DELETE RESTRICT) WITHOUT ROWID",
					"INSERT INTO ballot_box_v2 (id, round_id, unit_id, payload) SELECT id, round_id, unit_id, payload FROM ballot_box",
					"DROP TABLE ballot_box",
					"ALTER TABLE ballot_box_v2 RENAME TO ballot_box",
					"CREATE INDEX idx_ballot_box_round_id ON ballot_box (round_id)",
				}
			}
			for _, q := range stmts {
				if err := tx.Exec(q).Error; err != nil {
					return err
				}
			}
			return nil
		},
	}
}
