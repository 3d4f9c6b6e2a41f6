package api_test

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/pulse-survey/pulse/survey"
)

// The database reader of docs/ANONYMITY.md (a DBA, a replica, a backup or WAL archive): during
// a round and after it closes, what they can read must not hold any answer or comment in
// clear, except the closed round's shuffled results. The control runs the same flow with
// sealing switched off (the round has no box key, as a round launched before sealed ballots)
// and must find the plaintext, so the scan can fail.
func TestDatabaseReaderSeesNoPlaintext(t *testing.T) {
	for _, sealed := range []bool{true, false} {
		name := "sealed"
		if !sealed {
			name = "control without sealing"
		}
		t.Run(name, func(t *testing.T) { databaseReaderScenario(t, sealed) })
	}
}

// readerHits counts, per place, the markers found there.
type readerHits map[string]int

func (h readerHits) total() int {
	n := 0
	for _, c := range h {
		n += c
	}
	return n
}

func (h readerHits) String() string {
	var out []string
	for k, c := range h {
		out = append(out, fmt.Sprintf("%s: %d", k, c))
	}
	sort.Strings(out)
	return strings.Join(out, ", ")
}

func databaseReaderScenario(t *testing.T, sealed bool) {
	e := newSurveyEnvOf(t, []string{"Engineering", "Sales", "Support"}, 10)
	rid := e.round.ID
	if !sealed {
		if err := e.db.Exec("DELETE FROM round_box_keys WHERE round_id = ?", rid).Error; err != nil {
			t.Fatal(err)
		}
	}
	n := len(e.links)
	if n != 30 {
		t.Fatalf("%d invitees, want 30", n)
	}
	// Distinctive comments: found anywhere, they are a ballot's plaintext.
	tag := make([]byte, 6)
	rand.Read(tag)
	markers := make([][]byte, n)
	for i := range markers {
		markers[i] = []byte(fmt.Sprintf("quokka-%x-%02d-marmalade", tag, i))
	}
	// Each person opens the page (token issued then) and submits later; people interleave at
	// random: the next event is any person's next step.
	toks := make([]*survey.Token, n)
	step := make([]int, n) // 0 not opened, 1 token held, 2 submitted
	for done := 0; done < 2*n; done++ {
		var ready []int
		for i, s := range step {
			if s < 2 {
				ready = append(ready, i)
			}
		}
		j, _ := rand.Int(rand.Reader, big.NewInt(int64(len(ready))))
		i := ready[j.Int64()]
		if step[i] == 0 {
			toks[i] = e.obtain(e.client(), e.links[i].Secret).Token
			if sealed != (toks[i].BoxKey != nil) {
				t.Fatalf("person %d: token with box key %v, want sealing %v", i, toks[i].BoxKey != nil, sealed)
			}
		} else {
			answers := map[uint]int{}
			for k, q := range e.questions {
				answers[q.QuestionID] = 1 + (i+k)%5
			}
			var body map[string]any
			if sealed {
				body = e.sealedFields(toks[i], answers, string(markers[i]))
			} else {
				clear := map[string]int{}
				for q, v := range answers {
					clear[fmt.Sprint(q)] = v
				}
				body = map[string]any{"key_id": toks[i].KeyID, "message": survey.EncodeB64(toks[i].Message),
					"signature": survey.EncodeB64(toks[i].Signature), "answers": clear, "comment": string(markers[i])}
			}
			wantStatus(t, e.client().postJSON(ballotPath, mustJSON(t, body)), http.StatusCreated)
		}
		step[i]++
	}
	if c := e.counts(); c.Box != int64(n) || c.Issued != int64(n) {
		t.Fatalf("after the round: %+v, want %d ballots and tokens", c, n)
	}
	// The logs never hold a comment either.
	if logs := []byte(e.log.String() + e.anon.String()); countMarkers(logs, markers) != 0 {
		t.Error("a comment reached the logs")
	}

	// --- during the round ---
	open := readerHits{}
	e.scanColumns(markers, nil, open)
	files := e.scanFiles(t, markers, nil, "", open)
	t.Logf("open round, sealing %v: read %s; markers found: %v", sealed, files, open)
	if sealed && open.total() != 0 {
		t.Errorf("a database reader finds ballot plaintext during the round: %v", open)
	}
	if !sealed && (open["column ballot_box.payload"] == 0 || open.total() <= open["column ballot_box.payload"]) {
		t.Errorf("control: the clear ballots were not found in both the columns and the files (%v); the scan proves nothing", open)
	}

	// --- after close ---
	closeLSN := ""
	if e.db.Dialector.Name() == "postgres" {
		if err := e.db.Raw("SELECT pg_current_wal_lsn()::text").Scan(&closeLSN).Error; err != nil {
			t.Fatal(err)
		}
	}
	if err := e.svc.Rounds.Close(e.ctx, rid); err != nil {
		t.Fatalf("close: %v", err)
	}
	var comments int64
	e.db.Table("comments").Where("round_id = ?", rid).Count(&comments)
	if comments != int64(n) {
		t.Fatalf("%d comments after close, want %d", comments, n)
	}
	// The results hold the comments, shuffled and unlinked, by design; nothing else may.
	results := map[string]bool{"comments": true, "release_comments": true}
	closed := readerHits{}
	e.scanColumns(markers, results, closed)
	files = e.scanFiles(t, markers, results, closeLSN, closed)
	t.Logf("closed round, sealing %v: read %s; markers found outside the results: %v", sealed, files, closed)
	if sealed && closed.total() != 0 {
		t.Errorf("after close, a database reader finds ballot plaintext outside the results: %v", closed)
	}
	if !sealed && e.db.Dialector.Name() == "postgres" && closed["pg_wal before close"] == 0 {
		t.Errorf("control: the WAL written before close holds no clear ballot (%v); the scan proves nothing", closed)
	}
	var kept int64
	e.db.Table("invitations").Where("round_id = ? AND (blinded_hash IS NOT NULL OR blind_signature IS NOT NULL)", rid).Count(&kept)
	if kept != 0 {
		t.Errorf("%d invitations keep their blinded message or signature after close", kept)
	}
}

func countMarkers(b []byte, markers [][]byte) int {
	n := 0
	for _, m := range markers {
		n += bytes.Count(b, m)
	}
	return n
}

// scanColumns reads every column of every table, as text and bytes, and counts markers per
// column (skipping the tables in skip).
func (e *surveyEnv) scanColumns(markers [][]byte, skip map[string]bool, hits readerHits) {
	e.t.Helper()
	tables, err := e.db.Migrator().GetTables()
	if err != nil {
		e.t.Fatal(err)
	}
	for _, table := range tables {
		if skip[table] {
			continue
		}
		rows, err := e.db.Table(table).Rows()
		if err != nil {
			e.t.Fatalf("read %s: %v", table, err)
		}
		cols, _ := rows.Columns()
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		for rows.Next() {
			if err := rows.Scan(ptrs...); err != nil {
				rows.Close()
				e.t.Fatalf("scan %s: %v", table, err)
			}
			for i, v := range vals {
				var b []byte
				switch x := v.(type) {
				case []byte:
					b = x
				case string:
					b = []byte(x)
				default:
					b = []byte(fmt.Sprint(x))
				}
				if c := countMarkers(b, markers); c > 0 {
					hits["column "+table+"."+cols[i]] += c
				}
			}
		}
		rows.Close()
	}
}

// scanFiles reads the database's files as bytes: on SQLite the database file and its -wal; on
// PostgreSQL the cluster's WAL segments and (after a CHECKPOINT) the database's table files.
// Files of the skipped tables are left out; with closeLSN set, only the WAL written before
// it is counted (what was written during the round). It returns what it read.
func (e *surveyEnv) scanFiles(t *testing.T, markers [][]byte, skip map[string]bool, closeLSN string, hits readerHits) string {
	t.Helper()
	count := func(place, path string, limit int64) int64 {
		b, err := os.ReadFile(path)
		if os.IsNotExist(err) {
			return 0
		}
		if err != nil {
			t.Fatalf("read %s: %v", path, err)
		}
		if limit >= 0 && int64(len(b)) > limit {
			b = b[:limit]
		}
		if c := countMarkers(b, markers); c > 0 {
			hits[place] += c
		}
		return int64(len(b))
	}
	if e.db.Dialector.Name() != "postgres" {
		var files []struct {
			Seq  int
			Name string
			File string
		}
		if err := e.db.Raw("PRAGMA database_list").Scan(&files).Error; err != nil || len(files) == 0 || files[0].File == "" {
			t.Fatalf("database file: %v %+v", err, files)
		}
		path := files[0].File
		size := count("sqlite file", path, -1) + count("sqlite -wal", path+"-wal", -1)
		if skip != nil {
			// After close the file holds the results (comments) by design, and SQLite gives
			// no page-to-table map here: the closed-round check is the columns' one.
			delete(hits, "sqlite file")
			delete(hits, "sqlite -wal")
			return fmt.Sprintf("%s and -wal (%d bytes, results included, not counted)", filepath.Base(path), size)
		}
		return fmt.Sprintf("%s and -wal (%d bytes)", filepath.Base(path), size)
	}
	var dataDir string
	var dbOID uint32
	if err := e.db.Raw("SHOW data_directory").Scan(&dataDir).Error; err != nil {
		t.Fatal(err)
	}
	if err := e.db.Raw("SELECT oid FROM pg_database WHERE datname = current_database()").Scan(&dbOID).Error; err != nil {
		t.Fatal(err)
	}
	base := filepath.Join(dataDir, "base", fmt.Sprint(dbOID))
	if _, err := os.ReadDir(base); err != nil {
		t.Skipf("PostgreSQL's files are not readable by this process (%v): only the columns can be checked", err)
	}
	skipFiles := map[string]bool{}
	for table := range skip {
		var rel string
		e.db.Raw("SELECT pg_relation_filepath(?::regclass)", table).Scan(&rel)
		if rel != "" {
			skipFiles[filepath.Base(rel)] = true
		}
		// Its TOAST table and indexes too.
		var others []string
		e.db.Raw(`SELECT pg_relation_filepath(c.oid) FROM pg_class c WHERE c.oid IN (
			SELECT reltoastrelid FROM pg_class WHERE oid = ?::regclass UNION SELECT indexrelid FROM pg_index WHERE indrelid = ?::regclass)`, table, table).Scan(&others)
		for _, o := range others {
			skipFiles[filepath.Base(o)] = true
		}
	}
	walDir := filepath.Join(dataDir, "pg_wal")
	segs, err := os.ReadDir(walDir)
	if err != nil {
		t.Fatalf("pg_wal: %v", err)
	}
	place := "pg_wal"
	var closeAt uint64
	if closeLSN != "" {
		// Only what was written before close counts: each WAL page header carries the page's
		// own position (xlp_pageaddr), which stays right in recycled segment files too.
		place = "pg_wal before close"
		hi, lo, ok := strings.Cut(closeLSN, "/")
		h, err1 := strconv.ParseUint(hi, 16, 32)
		l, err2 := strconv.ParseUint(lo, 16, 32)
		if !ok || err1 != nil || err2 != nil {
			t.Fatalf("LSN %q", closeLSN)
		}
		closeAt = h<<32 | l
	}
	var block int
	if err := e.db.Raw("SELECT current_setting('wal_block_size')::int").Scan(&block).Error; err != nil || block <= 0 {
		t.Fatalf("wal_block_size: %v", err)
	}
	var walBytes int64
	for _, s := range segs {
		name := s.Name()
		if s.IsDir() || len(name) != 24 {
			continue
		}
		if _, err := hex.DecodeString(name); err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join(walDir, name))
		if os.IsNotExist(err) {
			continue // recycled or removed meanwhile
		}
		if err != nil {
			t.Fatalf("read %s: %v", name, err)
		}
		for off := 0; off+block <= len(b); off += block {
			page := b[off : off+block]
			if closeLSN != "" {
				addr := binary.LittleEndian.Uint64(page[8:16])
				switch {
				case addr == 0 || addr >= closeAt:
					continue
				case addr+uint64(block) > closeAt:
					page = page[:closeAt-addr]
				}
			}
			walBytes += int64(len(page))
			if c := countMarkers(page, markers); c > 0 {
				hits[place] += c
			}
		}
	}
	// Table files after a CHECKPOINT, so that they hold what was committed (read after the WAL:
	// a checkpoint recycles the older WAL segments).
	if err := e.db.Exec("CHECKPOINT").Error; err != nil {
		t.Fatalf("checkpoint: %v", err)
	}
	var tableBytes int64
	entries, _ := os.ReadDir(base)
	for _, f := range entries {
		name := f.Name()
		stem, _, _ := strings.Cut(name, ".")
		stem = strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(stem, "_fsm"), "_vm"), "_init")
		if f.IsDir() || skipFiles[stem] {
			continue
		}
		tableBytes += count("table files", filepath.Join(base, name), -1)
	}
	return fmt.Sprintf("%d bytes of table files in %s and %d bytes of %s", tableBytes, base, walBytes, place)
}
