package migrations

import (
	"context"
	"fmt"

	"github.com/go-gormigrate/gormigrate/v2"
	"gorm.io/gorm"
)

// Known reports whether id names a migration this binary has. A database
// that has applied a migration this binary does not know was written by a
// newer Pulse.
func Known(id string) bool {
	for _, m := range all() {
		if m.ID == id {
			return true
		}
	}
	return false
}

// UpTo applies the migrations up to and including id, and no later ones:
// it builds the schema of an older Pulse (tests of upgrades use it).
func UpTo(ctx context.Context, db *gorm.DB, id string) error {
	if !Known(id) {
		return fmt.Errorf("migrate: unknown migration %q", id)
	}
	return upTo(ctx, db, id)
}

// options is how Pulse keeps its migration history: one row per applied
// migration in schema_migrations.
func options() *gormigrate.Options {
	return &gormigrate.Options{
		TableName:      "schema_migrations",
		IDColumnName:   "id",
		IDColumnSize:   100,
		UseTransaction: true,
	}
}
