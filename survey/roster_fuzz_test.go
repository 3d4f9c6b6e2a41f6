package survey_test

import (
	"bytes"
	"encoding/csv"
	"strconv"
	"strings"
	"testing"
	"unicode"

	"github.com/pulse-survey/pulse/survey"
)

// FuzzParseRoster checks the roster parser on any input: it never panics,
// every problem has a line number inside the file and the problems come in
// line order, the rows it accepts are normalised, and a valid file written
// back out (either separator, BOM, CRLF) reads as the same rows.
// The seed corpus is in testdata/fuzz/FuzzParseRoster.
//
//	go test -run '^$' -fuzz FuzzParseRoster -fuzztime 60s ./survey/
func FuzzParseRoster(f *testing.F) {
	f.Add([]byte("email,name,team\nann@example.com,Ann,Ops\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := survey.ParseRoster(data)
		lines := bytes.Count(data, []byte("\n")) + 1
		if r.ErrorCount < len(r.Errors) || len(r.Errors) > survey.MaxRosterErrors || (r.ErrorCount == 0) != (len(r.Errors) == 0) {
			t.Fatalf("error count %d with %d errors kept", r.ErrorCount, len(r.Errors))
		}
		prev := 1
		for _, e := range r.Errors {
			if e.Line < prev || e.Line > lines || e.Message == "" {
				t.Fatalf("error %q: line outside 1..%d or out of order (previous %d)", e, lines, prev)
			}
			prev = e.Line
		}
		if r.Delimiter != ',' && r.Delimiter != ';' {
			t.Fatalf("delimiter %q", r.Delimiter)
		}
		checkRows(t, r.Rows(), lines)
		if !r.Valid() {
			return
		}
		if len(r.Rows()) == 0 {
			t.Fatal("a valid roster without rows")
		}
		for _, style := range []struct {
			comma     rune
			crlf, bom bool
		}{{',', false, false}, {';', true, true}} {
			out := writeRoster(t, r.Rows(), style.comma, style.crlf, style.bom)
			again := survey.ParseRoster(out)
			if !again.Valid() {
				t.Fatalf("written back with %q, the roster has errors %v:\n%s", style.comma, again.Errors, out)
			}
			if len(again.Rows()) != len(r.Rows()) {
				t.Fatalf("written back: %d rows, want %d", len(again.Rows()), len(r.Rows()))
			}
			rows := r.Rows()
			for i, row := range again.Rows() {
				want := rows[i]
				want.Line = i + 2 // values never hold line breaks
				if row != want {
					t.Fatalf("row %d written back reads %+v, want %+v", i, row, want)
				}
			}
		}
	})
}

func checkRows(t *testing.T, rows []survey.RosterRow, lines int) {
	t.Helper()
	seen := map[string]bool{}
	prev := 1
	for _, row := range rows {
		if row.Line <= prev || row.Line > lines {
			t.Fatalf("row %+v: line not after %d or past %d", row, prev, lines)
		}
		prev = row.Line
		if e, ok := survey.NormalizeEmail(row.Email); !ok || e != row.Email || seen[e] {
			t.Fatalf("row %+v: email not normalised or duplicate", row)
		}
		seen[row.Email] = true
		if row.ManagerEmail != "" {
			if e, ok := survey.NormalizeEmail(row.ManagerEmail); !ok || e != row.ManagerEmail {
				t.Fatalf("row %+v: manager email not normalised", row)
			}
		}
		if row.Name == "" || row.Name != strings.TrimSpace(row.Name) || len(row.Name) > 200 || strings.ContainsFunc(row.Name, unicode.IsControl) {
			t.Fatalf("row %+v: bad name", row)
		}
		levels := strings.Split(row.Team, "/")
		if len(levels) > survey.MaxTeamDepth {
			t.Fatalf("row %+v: %d levels", row, len(levels))
		}
		for _, l := range levels {
			if l == "" || l != strings.TrimSpace(l) || len(l) > 200 || strings.ContainsFunc(l, unicode.IsControl) {
				t.Fatalf("row %+v: bad team level %q", row, l)
			}
		}
	}
}

// writeRoster is the inverse of ParseRoster for valid rows.
func writeRoster(t *testing.T, rows []survey.RosterRow, comma rune, crlf, bom bool) []byte {
	t.Helper()
	var b bytes.Buffer
	if bom {
		b.WriteString("\ufeff")
	}
	w := csv.NewWriter(&b)
	w.Comma, w.UseCRLF = comma, crlf
	w.Write([]string{"email", "name", "team", "leader", "manager_email"})
	for _, r := range rows {
		w.Write([]string{r.Email, r.Name, r.Team, strconv.FormatBool(r.Leader), r.ManagerEmail})
	}
	w.Flush()
	if err := w.Error(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}
