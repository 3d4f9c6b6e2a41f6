// Package migrations holds Pulse's versioned, forward-only schema
// migrations. Each migration declares its own frozen structs so that later
// changes to the live models never change what an old migration does.
package migrations

import (
	"context"
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
		m0010SealedBallots(),
	}
}

// Up applies every pending migration. On PostgreSQL it holds an advisory
// lock for the whole run so two processes starting at once migrate once.
// On SQLite the migration transaction takes the write lock at BEGIN.
func Up(ctx context.Context, db *gorm.DB) error {
	return UpTo(ctx, db, "")
}

// UpTo is Up that stops after the migration with the given id ("" for the
// latest). Tests use it to build the schema of an older release.
func UpTo(ctx context.Context, db *gorm.DB, id string) error {
	db = db.WithContext(ctx)
	run := func(tx *gorm.DB) error {
		m := gormigrate.New(tx, &gormigrate.Options{
			TableName:      "schema_migrations",
			IDColumnName:   "id",
			IDColumnSize:   100,
			UseTransaction: true,
		}, all())
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
