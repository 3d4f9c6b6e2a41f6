package survey

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/glebarez/sqlite"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// DBOptions says which database to open.
type DBOptions struct {
	// URL is a postgres:// or postgresql:// URL. Empty means SQLite at SQLitePath.
	URL string
	// SQLitePath is the SQLite file used when URL is empty.
	SQLitePath string
	// MaxOpenConns caps the pool; 0 picks a default for the dialect.
	MaxOpenConns int
}

// IsPostgresURL reports whether u names a PostgreSQL database.
func IsPostgresURL(u string) bool {
	return strings.HasPrefix(u, "postgres://") || strings.HasPrefix(u, "postgresql://")
}

// RedactURL hides the password of a database URL for messages and logs.
func RedactURL(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return "(unparseable URL)"
	}
	// libpq and pgx also take the password as a query parameter.
	q := p.Query()
	for k := range q {
		if strings.EqualFold(k, "password") {
			q.Set(k, "xxxxx")
		}
	}
	p.RawQuery = q.Encode()
	return p.Redacted()
}

// OpenDB opens and pings the database. Errors are one line a user can act on.
func OpenDB(ctx context.Context, o DBOptions) (*gorm.DB, error) {
	cfg := &gorm.Config{
		TranslateError: true,
		Logger:         logger.Discard,
		NowFunc:        func() time.Time { return time.Now().UTC() },
	}
	var (
		db  *gorm.DB
		err error
	)
	if o.URL != "" {
		if !IsPostgresURL(o.URL) {
			return nil, fmt.Errorf("database URL %q is not a postgres:// URL; leave it empty to use the embedded SQLite database", RedactURL(o.URL))
		}
		db, err = gorm.Open(postgres.Open(o.URL), cfg)
		if err != nil {
			return nil, fmt.Errorf("cannot connect to PostgreSQL at %s: %s (check the database URL and that the server is running)", RedactURL(o.URL), lastLine(err))
		}
	} else {
		if o.SQLitePath == "" {
			return nil, errors.New("no database: set a PostgreSQL URL or a data directory for SQLite")
		}
		if err := os.MkdirAll(filepath.Dir(o.SQLitePath), 0o700); err != nil {
			return nil, fmt.Errorf("cannot create data directory %s: %v", filepath.Dir(o.SQLitePath), err)
		}
		db, err = gorm.Open(sqlite.Open(sqliteDSN(o.SQLitePath)), cfg)
		if err != nil {
			return nil, fmt.Errorf("cannot open SQLite database %s: %s", o.SQLitePath, lastLine(err))
		}
	}
	sqlDB, err := db.DB()
	if err != nil {
		return nil, err
	}
	n := o.MaxOpenConns
	if n == 0 {
		n = 4
		if db.Dialector.Name() == "postgres" {
			n = 20
		}
	}
	sqlDB.SetMaxOpenConns(n)
	sqlDB.SetMaxIdleConns(n)
	sqlDB.SetConnMaxIdleTime(5 * time.Minute)
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := sqlDB.PingContext(pingCtx); err != nil {
		sqlDB.Close()
		return nil, fmt.Errorf("cannot reach the database: %s", lastLine(err))
	}
	if db.Dialector.Name() == "sqlite" {
		// A corrupt or foreign file only shows itself on the first real read.
		var n int
		if err := db.WithContext(ctx).Raw("SELECT count(*) FROM sqlite_master").Scan(&n).Error; err != nil {
			sqlDB.Close()
			return nil, fmt.Errorf("%s is not a usable SQLite database (%s): move it away or choose another data directory", o.SQLitePath, lastLine(err))
		}
	}
	return db, nil
}

// sqliteDSN sets busy_timeout first, then WAL and foreign keys, and takes
// the write lock at BEGIN so read-then-write transactions do not fail with
// SQLITE_BUSY under concurrency.
func sqliteDSN(path string) string {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "synchronous(FULL)")
	// Deleted rows (the emptied ballot box) are overwritten, not left in free pages.
	q.Add("_pragma", "secure_delete(1)")
	q.Add("_txlock", "immediate")
	return "file:" + path + "?" + q.Encode()
}

func lastLine(err error) string {
	s := strings.TrimSpace(err.Error())
	if i := strings.LastIndex(s, "\n"); i >= 0 {
		s = s[i+1:]
	}
	return s
}
