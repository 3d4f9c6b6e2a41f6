package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"strings"
	"testing"

	"github.com/pulse-survey/pulse/survey/surveytest"
)

// TestSmallScale runs the whole bench at the small scale against the test
// PostgreSQL server. It checks that every step works and every figure was
// taken; it asserts nothing about timings.
func TestSmallScale(t *testing.T) {
	admin := os.Getenv(surveytest.EnvURL)
	if admin == "" {
		// The SQLite pass of the suite; CI's PostgreSQL pass runs it.
		t.Skipf("the bench runs on PostgreSQL only: set %s", surveytest.EnvURL)
	}
	sc, err := parseScale("small")
	if err != nil {
		t.Fatal(err)
	}
	sc.ReportRequests = 5
	b := make([]byte, 6)
	rand.Read(b)
	res, err := Run(context.Background(), Options{Scale: sc, AdminURL: admin, DBName: "pulse_bench_t_" + hex.EncodeToString(b),
		Clients: 8, ChildServer: false})
	if err != nil {
		t.Fatal(err)
	}
	if res.SubmitErrs != 0 || res.Submitted != res.Issued || res.Issued < sc.People/2 {
		t.Errorf("issued %d, submitted %d, %d errors", res.Issued, res.Submitted, res.SubmitErrs)
	}
	if res.Ballots != res.Submitted {
		t.Errorf("%d ballots in the box, want %d", res.Ballots, res.Submitted)
	}
	if res.RawCount == 0 || res.HTTPRate == 0 || res.IssueRate == 0 || res.LeaderAPI.P95 == 0 || res.CEOPage.P95 == 0 || res.ServerRSS == 0 {
		t.Errorf("a figure is missing: %+v", res)
	}
	md := res.Markdown()
	for _, want := range []string{"| HTTP / raw SQL |", "Report API", "peak RSS", "CPU cores"} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
}

func TestParseScale(t *testing.T) {
	for _, tc := range []struct {
		in     string
		people int
		ok     bool
	}{
		{"small", 500, true}, {"full", 100_000, true}, {"20000", 20_000, true}, {"huge", 0, false}, {"10", 0, false},
	} {
		sc, err := parseScale(tc.in)
		if (err == nil) != tc.ok || sc.People != tc.people {
			t.Errorf("parseScale(%q) = %+v, %v", tc.in, sc, err)
		}
	}
}

func TestBuildOrg(t *testing.T) {
	for _, sc := range []Scale{{People: 500, Teams: 25}, {People: 100_000, Teams: 5_000}} {
		o := buildOrg(sc, 1, 1)
		if len(o.nodes) < sc.Teams-1 || len(o.nodes) > sc.Teams+1 {
			t.Errorf("%d teams, want about %d", len(o.nodes), sc.Teams)
		}
		if o.people != sc.People {
			t.Errorf("%d people, want %d", o.people, sc.People)
		}
		for i, n := range o.nodes {
			if n.direct < benchK {
				t.Fatalf("team %d has %d people: every team must be a token unit", i, n.direct)
			}
			if i > 0 && n.parent >= i {
				t.Fatalf("team %d comes before its parent", i)
			}
		}
		leaves := 0
		for i := range o.nodes {
			if o.nodes[i].parent == o.leaderDept {
				leaves++
			}
		}
		if sc.Teams >= 1000 && (leaves < 18 || leaves > 22) {
			t.Errorf("the leader's department has %d teams, want about 20", leaves)
		}
	}
}
