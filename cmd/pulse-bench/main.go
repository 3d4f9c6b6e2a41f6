// Command pulse-bench generates a large organisation with two years of
// weekly pulse history into a dedicated PostgreSQL database, then measures
// what users wait for: ballot submissions over HTTP (against the same
// transaction as raw SQL), token issuance, the close of a large round,
// report latency, and the server's peak memory. It prints a table and can
// write it as markdown (see docs/PERFORMANCE.md).
//
//	go run ./cmd/pulse-bench --scale small|full|N [--markdown FILE]
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"time"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == serveArg {
		if err := serveChild(); err != nil {
			fmt.Fprintln(os.Stderr, "pulse-bench serve:", err)
			os.Exit(1)
		}
		return
	}
	var (
		scaleFlag = flag.String("scale", "small", "organisation size: small (CI smoke), full (100,000 people), or a number of people")
		adminURL  = flag.String("admin-url", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable", "PostgreSQL URL of a database from which the bench database is created and dropped")
		dbName    = flag.String("db", "pulse_bench", "name of the bench database (dropped and re-created)")
		keep      = flag.Bool("keep", false, "keep the bench database afterwards")
		markdown  = flag.String("markdown", "", "also write the result table as markdown to this file")
		clients   = flag.Int("clients", 32, "concurrent clients for submissions and issuance")
		pool      = flag.Int("pool", 0, "database pool size of the server and of the raw-SQL client (0: Pulse's default)")
		inProc    = flag.Bool("in-process", false, "run the HTTP server in this process instead of a child process")
		note      = flag.String("note", "", "a note on the machine's load, printed with the table")
		cpuProf   = flag.String("cpuprofile", "", "write a CPU profile of the HTTP submissions to this file (use with --in-process)")
		noGzip    = flag.Bool("no-gzip", false, "clients do not send Accept-Encoding: gzip (browsers do)")
		tokens    = flag.Int("tokens", 0, "issue tokens to and submit ballots for only this many invitees (0: all)")
	)
	flag.Parse()
	sc, err := parseScale(*scaleFlag)
	if err != nil {
		fmt.Fprintln(os.Stderr, "pulse-bench:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	res, err := Run(ctx, Options{Scale: sc, AdminURL: *adminURL, DBName: *dbName, Keep: *keep,
		Clients: *clients, Pool: *pool, ChildServer: !*inProc, Log: log, Note: *note, Tokens: *tokens, CPUProfile: *cpuProf, NoGzip: *noGzip})
	if err != nil {
		fmt.Fprintln(os.Stderr, "pulse-bench:", err)
		os.Exit(1)
	}
	md := res.Markdown()
	fmt.Print(md)
	if *markdown != "" {
		if err := os.WriteFile(*markdown, []byte(md), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "pulse-bench:", err)
			os.Exit(1)
		}
	}
}

// Scale is the size of the generated organisation and of the measurements.
type Scale struct {
	Name string
	// People are the employees, Teams the teams (managing nodes included).
	People, Teams int
	// Rounds of weekly history, all released.
	Rounds int
	// BallotRounds is how many of the newest history rounds also get their
	// ballots and answers (the rest carry releases only: reports read
	// releases, and ballots of old rounds only add table size).
	BallotRounds int
	// ReportRequests per measured report view.
	ReportRequests int
	// RawDuration is how long the raw-SQL submission loop runs.
	RawDuration time.Duration
}

func parseScale(s string) (Scale, error) {
	switch s {
	case "small":
		return Scale{Name: "small", People: 500, Teams: 25, Rounds: 4, BallotRounds: 4, ReportRequests: 30, RawDuration: 2 * time.Second}, nil
	case "full":
		return Scale{Name: "full", People: 100_000, Teams: 5_000, Rounds: 104, BallotRounds: 2, ReportRequests: 200, RawDuration: 20 * time.Second}, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 100 || n > 1_000_000 {
		return Scale{}, fmt.Errorf("--scale: use small, full or a number of people from 100 to 1000000, not %q", s)
	}
	return Scale{Name: s, People: n, Teams: max(5, n/20), Rounds: 104, BallotRounds: 2, ReportRequests: 200, RawDuration: 10 * time.Second}, nil
}
