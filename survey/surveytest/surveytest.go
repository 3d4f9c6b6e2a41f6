// Package surveytest gives each test a fresh, real database: a temporary
// SQLite file by default, or a new database on the PostgreSQL server named
// by PULSE_TEST_DATABASE_URL. There is no mock database.
package surveytest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"gorm.io/gorm"

	"github.com/pulse-survey/pulse/survey"
	"github.com/pulse-survey/pulse/survey/migrations"
)

// EnvURL names the PostgreSQL server URL for tests (any existing database
// on it; the helper creates and drops one database per test).
const EnvURL = "PULSE_TEST_DATABASE_URL"

// Dialect is "postgres" when tests run against PostgreSQL, else "sqlite".
func Dialect() string {
	if os.Getenv(EnvURL) != "" {
		return "postgres"
	}
	return "sqlite"
}

// Options says where a fresh test database is.
type Options = survey.DBOptions

// NewDatabase creates an empty database for t and returns how to open it.
// It is dropped (PostgreSQL) or removed (SQLite) when the test ends.
func NewDatabase(t testing.TB) Options {
	t.Helper()
	admin := os.Getenv(EnvURL)
	if admin == "" {
		return Options{SQLitePath: filepath.Join(t.TempDir(), "pulse.db")}
	}
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	name := "pulse_t_" + hex.EncodeToString(b)
	adminDB, err := survey.OpenDB(context.Background(), Options{URL: admin, MaxOpenConns: 1})
	if err != nil {
		// Never skip: a run asked for PostgreSQL and must get it.
		t.Fatalf("%s is set but PostgreSQL is unusable: %v", EnvURL, err)
	}
	if err := adminDB.Exec("CREATE DATABASE " + name).Error; err != nil {
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		adminDB.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)")
		if sqlDB, err := adminDB.DB(); err == nil {
			sqlDB.Close()
		}
	})
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatalf("%s: %v", EnvURL, err)
	}
	u.Path = "/" + name
	return Options{URL: u.String()}
}

// OpenEmpty opens a fresh database without migrating it.
func OpenEmpty(t testing.TB) *gorm.DB {
	t.Helper()
	db, err := survey.OpenDB(context.Background(), NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if sqlDB, err := db.DB(); err == nil {
			sqlDB.Close()
		}
	})
	return db
}

// Open opens a fresh, migrated database.
func Open(t testing.TB) *gorm.DB {
	t.Helper()
	db := OpenEmpty(t)
	if err := migrations.Up(context.Background(), db); err != nil {
		t.Fatal(err)
	}
	return db
}
