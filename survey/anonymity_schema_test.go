package survey_test

import (
	"database/sql"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/schema"

	"github.com/pulse-survey/pulse/survey"
	"github.com/pulse-survey/pulse/survey/surveytest"
)

// The anonymity tables of docs/ANONYMITY.md section 2 must not be able to order
// or date a ballot, nor link it to a person, invitation or account.
var anonymityModels = []any{
	survey.RoundKey{}, survey.RoundBoxKey{}, survey.BoxBallot{}, survey.SpentToken{},
	survey.Ballot{}, survey.Answer{}, survey.Comment{},
}

var anonymityTables = []string{"round_keys", "round_box_keys", "ballot_box", "spent_tokens", "ballots", "answers", "comments"}

// forbiddenFieldNames would carry a time or a link to a person. UnitID is
// allowed: it is the token unit, a group of at least k invitees.
var forbiddenFieldNames = []string{
	"CreatedAt", "UpdatedAt", "DeletedAt", "PersonID", "InvitationID", "UserID", "TeamID",
	"SubmittedAt", "ReceivedAt", "IP",
}

var (
	timeType        = reflect.TypeOf(time.Time{})
	gormModelType   = reflect.TypeOf(gorm.Model{})
	deletedAtType   = reflect.TypeOf(gorm.DeletedAt{})
	nullTimeType    = reflect.TypeOf(sql.NullTime{})
	forbiddenFields = func() map[string]bool {
		m := map[string]bool{}
		for _, n := range forbiddenFieldNames {
			m[n] = true
		}
		return m
	}()
)

// modelProblems lists what is wrong with one model by reflection and by
// gorm's own reading of its tags.
func modelProblems(model any) []string {
	var out []string
	typ := reflect.TypeOf(model)
	var walk func(t reflect.Type, prefix string)
	walk = func(t reflect.Type, prefix string) {
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			name := prefix + f.Name
			ft := f.Type
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			switch {
			case ft == gormModelType:
				out = append(out, name+": embeds gorm.Model")
				continue
			case ft == timeType || ft == deletedAtType || ft == nullTimeType:
				out = append(out, name+": is a time")
			}
			if forbiddenFields[f.Name] {
				out = append(out, name+": forbidden field name")
			}
			if f.Name == "ID" && ft.Kind() != reflect.String {
				out = append(out, fmt.Sprintf("%s: id of kind %s, want a string (UUIDv4)", name, ft.Kind()))
			}
			tag := strings.ToLower(f.Tag.Get("gorm"))
			if strings.Contains(tag, "autoincrement") && !strings.Contains(tag, "autoincrement:false") {
				out = append(out, name+": autoIncrement tag")
			}
			if strings.Contains(tag, "autocreatetime") || strings.Contains(tag, "autoupdatetime") {
				out = append(out, name+": auto time tag")
			}
			if strings.Contains(tag, "default:") {
				out = append(out, name+": database default "+tag)
			}
			if f.Anonymous && ft.Kind() == reflect.Struct {
				walk(ft, name+".")
			}
		}
	}
	walk(typ, "")

	s, err := schema.Parse(model, &sync.Map{}, schema.NamingStrategy{})
	if err != nil {
		return append(out, "gorm cannot parse the model: "+err.Error())
	}
	for _, f := range s.Fields {
		if f.DBName == "" {
			continue
		}
		if f.AutoIncrement {
			out = append(out, f.Name+": gorm treats it as autoincrement")
		}
		if f.AutoCreateTime != 0 || f.AutoUpdateTime != 0 {
			out = append(out, f.Name+": gorm fills it with the time")
		}
		if f.PrimaryKey && f.Name == "ID" && f.GORMDataType != schema.String {
			out = append(out, f.Name+": primary key id is not a string")
		}
	}
	return out
}

func TestAnonymityModels(t *testing.T) {
	var tables []string
	for _, m := range anonymityModels {
		name := reflect.TypeOf(m).Name()
		t.Run(name, func(t *testing.T) {
			for _, p := range modelProblems(m) {
				t.Errorf("survey.%s: %s", name, p)
			}
		})
		s, err := schema.Parse(m, &sync.Map{}, schema.NamingStrategy{})
		if err != nil {
			t.Fatal(err)
		}
		tables = append(tables, s.Table)
	}
	// The models checked here are the tables checked in the live schema.
	if !reflect.DeepEqual(tables, anonymityTables) {
		t.Fatalf("anonymity models map to tables %v, want %v", tables, anonymityTables)
	}
	// Positive control: the checker does see a time and a serial id.
	if p := modelProblems(survey.Session{}); len(p) == 0 {
		t.Fatal("checker finds nothing wrong with survey.Session, which has time columns")
	}
	if p := modelProblems(survey.Invitation{}); len(p) == 0 {
		t.Fatal("checker finds nothing wrong with survey.Invitation, which has a serial id and a person id")
	}
	if p := modelProblems(struct{ gorm.Model }{}); len(p) == 0 {
		t.Fatal("checker does not see an embedded gorm.Model")
	}
}

// forbiddenColumnWords may not occur in any column name of an anonymity table.
var forbiddenColumnWords = []string{"time", "created", "updated", "person", "invitation", "user", "ip"}

// liveSchemaProblems lists what is wrong with one table as the migrations
// created it on the current dialect.
func liveSchemaProblems(t *testing.T, db *gorm.DB, table string) []string {
	t.Helper()
	if !db.Migrator().HasTable(table) {
		return []string{"table missing"}
	}
	cols, err := db.Migrator().ColumnTypes(table)
	if err != nil {
		t.Fatalf("column types of %s: %v", table, err)
	}
	if len(cols) == 0 {
		t.Fatalf("no columns read for %s", table)
	}
	var out []string
	for _, c := range cols {
		name := strings.ToLower(c.Name())
		typ := strings.ToLower(c.DatabaseTypeName())
		if ct, ok := c.ColumnType(); ok {
			typ += " " + strings.ToLower(ct)
		}
		if strings.Contains(typ, "date") || strings.Contains(typ, "time") || strings.Contains(typ, "interval") {
			out = append(out, fmt.Sprintf("column %s has the date/time type %s", name, typ))
		}
		for _, w := range forbiddenColumnWords {
			if strings.Contains(name, w) {
				out = append(out, fmt.Sprintf("column %s: name contains %q", name, w))
			}
		}
		if def, ok := c.DefaultValue(); ok {
			d := strings.ToLower(def)
			for _, w := range []string{"now(", "current_timestamp", "current_date", "current_time", "localtime", "clock_timestamp", "statement_timestamp", "transaction_timestamp", "nextval("} {
				if strings.Contains(d, w) {
					out = append(out, fmt.Sprintf("column %s has DEFAULT %s", name, def))
				}
			}
		}
		if ai, ok := c.AutoIncrement(); ok && ai {
			out = append(out, fmt.Sprintf("column %s is autoincrement", name))
		}
	}

	switch db.Dialector.Name() {
	case "postgres":
		type pgCol struct {
			ColumnName    string
			DataType      string
			ColumnDefault *string
			IsIdentity    string
		}
		var pcs []pgCol
		err := db.Raw(`SELECT column_name, data_type, column_default, is_identity
			FROM information_schema.columns
			WHERE table_schema = current_schema() AND table_name = ?`, table).Scan(&pcs).Error
		if err != nil {
			t.Fatal(err)
		}
		if len(pcs) != len(cols) {
			out = append(out, fmt.Sprintf("information_schema lists %d columns, gorm %d", len(pcs), len(cols)))
		}
		for _, c := range pcs {
			if c.ColumnDefault != nil && strings.HasPrefix(strings.ToLower(*c.ColumnDefault), "nextval(") {
				out = append(out, fmt.Sprintf("column %s defaults to %s", c.ColumnName, *c.ColumnDefault))
			}
			if c.IsIdentity == "YES" {
				out = append(out, fmt.Sprintf("column %s is an identity column", c.ColumnName))
			}
			dt := strings.ToLower(c.DataType)
			if strings.Contains(dt, "time") || strings.Contains(dt, "date") || strings.Contains(dt, "interval") {
				out = append(out, fmt.Sprintf("column %s has data type %s", c.ColumnName, c.DataType))
			}
		}
		var seqs []string
		err = db.Raw(`SELECT s.relname
			FROM pg_class s
			JOIN pg_depend d ON d.objid = s.oid AND d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass
			JOIN pg_class tbl ON tbl.oid = d.refobjid
			JOIN pg_namespace n ON n.oid = tbl.relnamespace
			WHERE s.relkind = 'S' AND n.nspname = current_schema() AND tbl.relname = ?`, table).Scan(&seqs).Error
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range seqs {
			out = append(out, "owns the sequence "+s)
		}
	case "sqlite":
		var ddl string
		if err := db.Raw(`SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?`, table).Scan(&ddl).Error; err != nil {
			t.Fatal(err)
		}
		if ddl == "" {
			t.Fatalf("no DDL for %s in sqlite_master", table)
		}
		if strings.Contains(strings.ToUpper(ddl), "AUTOINCREMENT") {
			out = append(out, "DDL uses AUTOINCREMENT: "+ddl)
		}
		type info struct {
			Name string
			Type string
			Pk   int
		}
		var infos []info
		if err := db.Raw(`SELECT name, type, pk FROM pragma_table_info(?)`, table).Scan(&infos).Error; err != nil {
			t.Fatal(err)
		}
		var pks []info
		for _, i := range infos {
			if i.Pk > 0 {
				pks = append(pks, i)
			}
		}
		// A single INTEGER PRIMARY KEY aliases the rowid, which counts up in
		// insertion order (unless the table has no rowid).
		withoutRowid := strings.Contains(strings.ToUpper(ddl), "WITHOUT ROWID")
		if len(pks) == 1 && strings.EqualFold(strings.TrimSpace(pks[0].Type), "integer") && !withoutRowid {
			out = append(out, fmt.Sprintf("primary key %s is INTEGER and aliases the rowid", pks[0].Name))
		}
	default:
		t.Fatalf("unknown dialect %s", db.Dialector.Name())
	}
	return out
}

func TestAnonymityLiveSchema(t *testing.T) {
	db := surveytest.Open(t)
	for _, table := range anonymityTables {
		t.Run(table, func(t *testing.T) {
			for _, p := range liveSchemaProblems(t, db, table) {
				t.Errorf("%s: %s", table, p)
			}
		})
	}

	// Ids of ballots, box ballots and comments are text (UUIDv4), not numbers.
	for _, table := range []string{"ballots", "ballot_box", "comments"} {
		cols, err := db.Migrator().ColumnTypes(table)
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, c := range cols {
			if c.Name() != "id" {
				continue
			}
			found = true
			typ := strings.ToLower(c.DatabaseTypeName())
			if !strings.Contains(typ, "text") && !strings.Contains(typ, "char") {
				t.Errorf("%s.id has type %s, want text", table, typ)
			}
			if pk, ok := c.PrimaryKey(); ok && !pk {
				t.Errorf("%s.id is not the primary key", table)
			}
		}
		if !found {
			t.Errorf("%s has no id column", table)
		}
	}

	// Positive controls: the same checks do find a serial id and time
	// columns where the schema has them, so a silent query cannot pass.
	for _, table := range []string{"teams", "sessions"} {
		if p := liveSchemaProblems(t, db, table); len(p) == 0 {
			t.Errorf("checker finds nothing in %s, which has time columns", table)
		}
	}
	serial := liveSchemaProblems(t, db, "teams")
	found := false
	for _, p := range serial {
		if strings.Contains(p, "autoincrement") || strings.Contains(p, "sequence") || strings.Contains(p, "nextval") ||
			strings.Contains(p, "identity") || strings.Contains(p, "AUTOINCREMENT") || strings.Contains(p, "rowid") {
			found = true
		}
	}
	if !found {
		t.Errorf("checker does not see the serial id of teams: %q", serial)
	}
}

// TestTrackCommitTimestampOff: with track_commit_timestamp on, PostgreSQL
// records when each ballot's transaction committed (pg_xact_commit_timestamp),
// which dates every ballot.
func TestTrackCommitTimestampOff(t *testing.T) {
	db := surveytest.Open(t)
	if db.Dialector.Name() != "postgres" {
		t.Skip("PostgreSQL only; SQLite records no commit times")
	}
	var v string
	if err := db.Raw("SHOW track_commit_timestamp").Scan(&v).Error; err != nil {
		t.Fatal(err)
	}
	if v != "off" {
		t.Fatalf("track_commit_timestamp = %q, want off (docs/ANONYMITY.md section 2)", v)
	}
}
