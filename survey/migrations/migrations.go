// Package migrations holds Pulse's versioned, forward-only schema
// migrations. Each migration declares its own frozen structs so that later
// changes to the live models never change what an old migration does.
package migrations

import (
	"context"
	"errors"
	"fmt"

	"github.com/go-gormigrate/gormigrate/v2"
	"gorm.io/gorm"
)

// advisoryLockKey serialises migrations of concurrent replicas on PostgreSQL.
const advisoryLockKey = 7_237_011_501

// all lists the migrations in order. Never edit or reorder a released one.
func all() []*gormigrate.Migration {
	return []*gormigrate.Migration{
		m0001Initial(),
		m0002Releases(),
		m0003OneOpenRound(),
		m0004AuditTokens(),
		m0007Delivery(),
		m0008Indexes(),
		m0009ReleasePending(),
		m0010SealedBallots(),
		m0011ProgramNames(),
		m0012Accounts(),
		m0013TOTP(),
	}
}

// Up applies every pending migration. On PostgreSQL it holds an advisory
// lock for the whole run so two processes starting at once migrate once.
// On SQLite the migration transaction takes the write lock at BEGIN.
func Up(ctx context.Context, db *gorm.DB) error {
	return upTo(ctx, db, "")
}

// upTo applies pending migrations up to and including the one with id
// (every one for ""). Tests use it to put data under an older schema.
func upTo(ctx context.Context, db *gorm.DB, id string) error {
	db = db.WithContext(ctx)
	run := func(tx *gorm.DB) error {
		m := gormigrate.New(tx, options(), all())
		if id != "" {
			return m.MigrateTo(id)
		}
		return m.Migrate()
	}
	if db.Dialector.Name() != "postgres" {
		if err := run(db); err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		return nil
	}
	return db.Connection(func(conn *gorm.DB) error {
		if err := conn.Exec("SELECT pg_advisory_lock(?)", advisoryLockKey).Error; err != nil {
			return fmt.Errorf("migrate: lock: %w", err)
		}
		defer conn.Exec("SELECT pg_advisory_unlock(?)", advisoryLockKey)
		if err := run(conn); err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		return nil
	})
}

// Applied returns the ids of applied migrations, oldest first.
func Applied(ctx context.Context, db *gorm.DB) ([]string, error) {
	var ids []string
	err := db.WithContext(ctx).Table("schema_migrations").Order("id").Pluck("id", &ids).Error
	return ids, err
}

// Latest is the id of the newest migration this binary knows.
func Latest() string {
	ms := all()
	return ms[len(ms)-1].ID
}

// ErrBehind means the database lacks migrations this build knows: it was
// never migrated, or another, older Pulse is writing to it.
var ErrBehind = errors.New("migrations: the database schema is behind this build")

// Check reports whether every migration of this build has been applied
// (ErrBehind when not). Readiness checks call it: a connection alone does
// not make a database that pages can use.
func Check(ctx context.Context, db *gorm.DB) error {
	var n int64
	err := db.WithContext(ctx).Table("schema_migrations").Where("id = ?", Latest()).Count(&n).Error
	if err != nil {
		if !db.Migrator().HasTable("schema_migrations") {
			return ErrBehind
		}
		return fmt.Errorf("migrations: check: %w", err)
	}
	if n == 0 {
		return ErrBehind
	}
	return nil
}
