package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"runtime/pprof"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cloudflare/circl/blindsign/blindrsa"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"gorm.io/gorm"

	"github.com/pulse-survey/pulse/api"
	"github.com/pulse-survey/pulse/reports"
	"github.com/pulse-survey/pulse/survey"
	"github.com/pulse-survey/pulse/survey/migrations"
)

// Options configure a bench run.
type Options struct {
	Scale Scale
	// AdminURL names a PostgreSQL database from which DBName is created.
	AdminURL string
	DBName   string
	// Keep leaves the bench database in place afterwards.
	Keep bool
	// Clients is the number of concurrent HTTP (and raw SQL) clients.
	Clients int
	// Pool is the database pool size (0: Pulse's default).
	Pool int
	// CPUProfile, when set, receives a CPU profile of this process during
	// the HTTP submissions (useful with an in-process server).
	CPUProfile string
	// NoGzip makes the clients not ask for gzip (browsers do ask).
	NoGzip bool
	// Tokens limits how many invitees get a token and submit (0: all).
	Tokens int
	// ChildServer runs the HTTP server as a child process (this binary with
	// serveArg), so that its peak RSS is the server's alone.
	ChildServer bool
	Log         *slog.Logger
	Note        string
}

// Latency is a latency distribution.
type Latency struct{ P50, P95, P99 time.Duration }

// Results are the figures of one run.
type Results struct {
	Scale      Scale
	Cores      int
	Pool       int
	Clients    int
	Note       string
	Started    time.Time
	Teams      int
	Units      int
	People     int
	Rounds     int
	GenRows    int64
	GenTime    time.Duration
	LaunchTime time.Duration

	Issued    int
	IssueRate float64 // tokens/s over HTTP

	Submitted  int
	HTTPRate   float64 // ballots/s over HTTP
	RawRate    float64 // the same write transaction through pgx
	RawCount   int
	SubmitErrs int

	Ballots     int
	CloseTime   time.Duration // shuffle into results, empty the box, vacuum
	ReleaseTime time.Duration

	LeaderAPI, CEOAPI, LeaderPage, CEOPage Latency

	ServerRSS int64 // peak, bytes
	Total     time.Duration
}

// Run creates the bench database, generates the organisation and history,
// measures, and drops the database unless o.Keep.
func Run(ctx context.Context, o Options) (*Results, error) {
	if o.Log == nil {
		o.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if o.Clients <= 0 {
		o.Clients = 32
	}
	res := &Results{Scale: o.Scale, Cores: runtime.NumCPU(), Clients: o.Clients, Note: o.Note, Started: time.Now().UTC()}
	start := time.Now()
	dbURL, drop, err := createDatabase(ctx, o.AdminURL, o.DBName)
	if err != nil {
		return nil, err
	}
	if !o.Keep {
		defer drop()
	}
	db, err := survey.OpenDB(ctx, survey.DBOptions{URL: dbURL, MaxOpenConns: o.Pool})
	if err != nil {
		return nil, err
	}
	sqlDB, _ := db.DB()
	defer sqlDB.Close()
	res.Pool = sqlDB.Stats().MaxOpenConnections
	if err := migrations.Up(ctx, db); err != nil {
		return nil, err
	}
	master := make([]byte, 32)
	rand.Read(master)
	keys, err := survey.NewKeyring(master)
	if err != nil {
		return nil, err
	}
	releaser := &timedReleaser{}
	svc := survey.New(db, survey.Options{Keyring: keys, BcryptCost: 4, Releaser: releaser})

	pcfg, err := pgxpool.ParseConfig(dbURL)
	if err != nil {
		return nil, err
	}
	pcfg.MaxConns = int32(res.Pool)
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return nil, err
	}
	defer pool.Close()

	o.Log.Info("generating", "people", o.Scale.People, "teams", o.Scale.Teams, "rounds", o.Scale.Rounds)
	t := time.Now()
	gen, err := generate(ctx, svc, pool, o.Scale, time.Now().UTC())
	if err != nil {
		return nil, fmt.Errorf("generate: %w", err)
	}
	res.GenTime, res.GenRows = time.Since(t), gen.rows
	res.Teams, res.Units, res.People, res.Rounds = len(gen.org.nodes), len(gen.org.nodes), gen.org.people, gen.rounds
	o.Log.Info("generated", "rows", gen.rows, "took", res.GenTime.Round(time.Millisecond))

	leaderCookie, ceoCookie, err := benchAccounts(ctx, svc, gen)
	if err != nil {
		return nil, err
	}

	t = time.Now()
	round, err := svc.Rounds.Launch(ctx, gen.programID)
	if err != nil {
		return nil, fmt.Errorf("launch: %w", err)
	}
	res.LaunchTime = time.Since(t)
	o.Log.Info("launched", "round", round.ID, "took", res.LaunchTime.Round(time.Millisecond))

	srv, err := startServer(ctx, o, dbURL, master, svc, db)
	if err != nil {
		return nil, err
	}
	defer srv.stop()
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 2 * o.Clients, MaxIdleConns: 4 * o.Clients,
		DisableCompression: o.NoGzip}, Timeout: 2 * time.Minute}

	// (2) Issuance: the real issuer over HTTP, one token per invitee.
	invs, err := invitees(ctx, pool, svc, round.ID)
	if err != nil {
		return nil, err
	}
	if len(invs) == 0 {
		return nil, errors.New("the measured round has no invitees")
	}
	manifest, err := get(ctx, hc, srv.base+fmt.Sprintf("/api/v1/survey/rounds/%d/manifest", round.ID), "", api.LinkHeader, invs[0].secret)
	if err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	if o.Tokens > 0 && o.Tokens < len(invs) {
		invs = invs[:o.Tokens]
	}
	// The browser's part (prepare and blind, later finalize) happens before
	// and after the timed phase: the figure is the server's issuance rate.
	blinds, err := blindAll(ctx, manifest, round.ID, invs)
	if err != nil {
		return nil, fmt.Errorf("blind: %w", err)
	}
	o.Log.Info("issuing", "tokens", len(invs))
	sigs := make([][]byte, len(invs))
	t = time.Now()
	err = parallel(ctx, o.Clients, len(invs), func(i int) error {
		var out struct {
			BlindSig string `json:"blind_sig"`
		}
		if err := postJSON(ctx, hc, srv.base+"/api/v1/survey/issue", map[string]string{"secret": invs[i].secret,
			"blinded_msg": survey.EncodeB64(blinds[i].blinded)}, http.StatusOK, &out); err != nil {
			return err
		}
		sigs[i], err = survey.DecodeB64(out.BlindSig)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("issue: %w", err)
	}
	res.Issued = len(invs)
	res.IssueRate = float64(len(invs)) / time.Since(t).Seconds()
	o.Log.Info("issued", "per_s", int(res.IssueRate))
	tokens, err := finalizeAll(ctx, blinds, sigs)
	if err != nil {
		return nil, fmt.Errorf("finalize: %w", err)
	}
	// Ballots are sealed to the round's box key from the manifest, as the page seals them.
	var m survey.Manifest
	if err := json.Unmarshal(manifest, &m); err != nil || m.Box == nil {
		return nil, fmt.Errorf("manifest: no box key (%v)", err)
	}
	boxKey, err := survey.DecodeB64(m.Box.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("manifest box key: %w", err)
	}
	for _, tok := range tokens {
		tok.Round, tok.BoxKey = round.ID, boxKey
	}

	// (1) Submissions over HTTP, every token once.
	var rq []survey.RoundQuestion
	if err := db.WithContext(ctx).Where("round_id = ?", round.ID).Order("position").Find(&rq).Error; err != nil {
		return nil, err
	}
	// Request bodies are encoded before the timed phase, as a browser would.
	bodies := make([]json.RawMessage, len(tokens))
	err = parallel(ctx, runtime.GOMAXPROCS(0), len(tokens), func(i int) error {
		b, err := ballotBody(tokens[i], rq, i)
		if err != nil {
			return err
		}
		bodies[i], err = json.Marshal(b)
		return err
	})
	if err != nil {
		return nil, err
	}
	o.Log.Info("submitting", "ballots", len(tokens))
	if o.CPUProfile != "" {
		f, err := os.Create(o.CPUProfile)
		if err != nil {
			return nil, err
		}
		pprof.StartCPUProfile(f)
		defer func() { pprof.StopCPUProfile(); f.Close() }()
	}
	var errs atomic.Int64
	t = time.Now()
	err = parallel(ctx, o.Clients, len(tokens), func(i int) error {
		if err := postJSON(ctx, hc, srv.base+"/api/v1/survey/ballots", bodies[i], http.StatusCreated, nil); err != nil {
			if errs.Add(1) > 10 {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("submit: %w", err)
	}
	res.SubmitErrs = int(errs.Load())
	res.Submitted = len(tokens) - res.SubmitErrs
	res.HTTPRate = float64(res.Submitted) / time.Since(t).Seconds()
	if o.CPUProfile != "" {
		pprof.StopCPUProfile()
	}
	o.Log.Info("submitted", "per_s", int(res.HTTPRate), "errors", res.SubmitErrs)

	// (1b) The same write transaction as raw SQL through pgx.
	res.RawCount, res.RawRate, err = rawSubmissions(ctx, pool, gen, o.Clients, o.Scale.RawDuration, len(rq))
	if err != nil {
		return nil, fmt.Errorf("raw sql: %w", err)
	}
	o.Log.Info("raw sql", "per_s", int(res.RawRate))

	// (4) Reports over the history, while the measured round is open.
	n := o.Scale.ReportRequests
	measure := func(path, cookie string) (Latency, error) {
		return latency(ctx, n, func() error {
			_, err := get(ctx, hc, srv.base+path, cookie)
			return err
		})
	}
	if res.LeaderAPI, err = measure(fmt.Sprintf("/api/v1/reports/units/%d", gen.deptID), leaderCookie); err != nil {
		return nil, fmt.Errorf("leader report: %w", err)
	}
	if res.CEOAPI, err = measure(fmt.Sprintf("/api/v1/reports/units/%d", gen.rootID), ceoCookie); err != nil {
		return nil, fmt.Errorf("ceo report: %w", err)
	}
	if res.LeaderPage, err = measure(fmt.Sprintf("/reports/%d", gen.deptID), leaderCookie); err != nil {
		return nil, fmt.Errorf("leader page: %w", err)
	}
	if res.CEOPage, err = measure(fmt.Sprintf("/reports/%d", gen.rootID), ceoCookie); err != nil {
		return nil, fmt.Errorf("ceo page: %w", err)
	}
	o.Log.Info("reports", "leader_api_p95", res.LeaderAPI.P95, "ceo_api_p95", res.CEOAPI.P95)
	res.ServerRSS = srv.rss()

	// (3) Close: shuffle into the result tables, then the release.
	var boxed int64
	if err := db.WithContext(ctx).Model(&survey.BoxBallot{}).Where("round_id = ?", round.ID).Count(&boxed).Error; err != nil {
		return nil, err
	}
	res.Ballots = int(boxed)
	o.Log.Info("closing", "ballots", boxed)
	t = time.Now()
	if err := svc.Rounds.Close(ctx, round.ID); err != nil {
		return nil, fmt.Errorf("close: %w", err)
	}
	// Close writes the release too; the releaser timed that part.
	res.ReleaseTime = releaser.took
	res.CloseTime = time.Since(t) - res.ReleaseTime
	o.Log.Info("closed", "close", res.CloseTime.Round(time.Millisecond), "release", res.ReleaseTime.Round(time.Millisecond))
	// One more report read after the release, to make sure it is served.
	if _, err := get(ctx, hc, srv.base+fmt.Sprintf("/api/v1/reports/units/%d", gen.rootID), ceoCookie); err != nil {
		return nil, fmt.Errorf("report after release: %w", err)
	}
	if r := srv.rss(); r > res.ServerRSS {
		res.ServerRSS = r
	}
	res.Total = time.Since(start)
	return res, nil
}

// createDatabase drops and creates the bench database and returns its URL
// and a function that drops it.
func createDatabase(ctx context.Context, adminURL, name string) (string, func(), error) {
	if !validName(name) {
		return "", nil, fmt.Errorf("database name %q: use lower-case letters, digits and _", name)
	}
	admin, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return "", nil, fmt.Errorf("connect %s: %w", survey.RedactURL(adminURL), err)
	}
	if _, err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
		admin.Close(ctx)
		return "", nil, err
	}
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		admin.Close(ctx)
		return "", nil, err
	}
	u, err := url.Parse(adminURL)
	if err != nil {
		admin.Close(ctx)
		return "", nil, err
	}
	u.Path = "/" + name
	drop := func() {
		c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		admin.Exec(c, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
		admin.Close(c)
	}
	return u.String(), drop, nil
}

func validName(s string) bool {
	if s == "" || len(s) > 60 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_') {
			return false
		}
	}
	return true
}

// benchAccounts creates a leader of one department (about 20 teams) and a
// CEO (a leader of the root, i.e. the whole organisation), and signs both in.
func benchAccounts(ctx context.Context, svc *survey.Services, gen *genInfo) (string, string, error) {
	pw := "bench-" + uuid.NewString()
	leader, err := svc.Accounts.CreateUser(ctx, survey.UserInput{Email: "leader@bench.example", Name: "Department Leader",
		Role: survey.RoleLeader, Password: pw, TeamIDs: []uint{gen.deptID}})
	if err != nil {
		return "", "", err
	}
	ceo, err := svc.Accounts.CreateUser(ctx, survey.UserInput{Email: "ceo@bench.example", Name: "Chief Executive",
		Role: survey.RoleLeader, Password: pw, TeamIDs: []uint{gen.rootID}})
	if err != nil {
		return "", "", err
	}
	l, err := svc.Accounts.CreateSession(ctx, leader.ID, 24*time.Hour)
	if err != nil {
		return "", "", err
	}
	c, err := svc.Accounts.CreateSession(ctx, ceo.ID, 24*time.Hour)
	if err != nil {
		return "", "", err
	}
	return "pulse_session=" + l, "pulse_session=" + c, nil
}

type invitee struct {
	secret string
	unit   uint
	keyID  string
}

// invitees returns every invitee's link secret with their unit's key id.
func invitees(ctx context.Context, pool *pgxpool.Pool, svc *survey.Services, roundID uint) ([]invitee, error) {
	links, err := svc.Rounds.Links(ctx, roundID)
	if err != nil {
		return nil, err
	}
	unitOf := map[uint]uint{}
	rows, err := pool.Query(ctx, "SELECT person_id, unit_id FROM invitations WHERE round_id = $1", int64(roundID))
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var p, u int64
		if err := rows.Scan(&p, &u); err != nil {
			return nil, err
		}
		unitOf[uint(p)] = uint(u)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	keyOf := map[uint]string{}
	rows, err = pool.Query(ctx, "SELECT unit_id, key_id FROM round_keys WHERE round_id = $1", int64(roundID))
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var u int64
		var k string
		if err := rows.Scan(&u, &k); err != nil {
			return nil, err
		}
		keyOf[uint(u)] = k
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	out := make([]invitee, len(links))
	for i, l := range links {
		u := unitOf[l.PersonID]
		out[i] = invitee{secret: l.Secret, unit: u, keyID: keyOf[u]}
	}
	// Submissions arrive in no particular order.
	sort.Slice(out, func(i, j int) bool { return out[i].secret < out[j].secret })
	return out, nil
}

// ballotBody is a complete ballot, sealed; about one in twenty carries a comment.
func ballotBody(tok *survey.Token, rq []survey.RoundQuestion, i int) (map[string]any, error) {
	answers := map[uint]int{}
	for j, q := range rq {
		answers[q.QuestionID] = 1 + (i*7+j*3)%5
	}
	comment := ""
	if i%20 == 0 {
		comment = "The weekly planning meeting runs long; shorter stand-ups would help us focus."
	}
	in, err := tok.Ballot(answers, comment)
	if err != nil {
		return nil, err
	}
	return map[string]any{"key_id": tok.KeyID, "message": survey.EncodeB64(tok.Message),
		"signature": survey.EncodeB64(tok.Signature), "sealed": survey.EncodeB64(in.Sealed)}, nil
}

// rawSubmissions runs the write transaction of a submission (share lock on
// the round, spend the nullifier, write the ballot box) through pgx at the
// same concurrency, on a round of its own, then removes what it wrote.
func rawSubmissions(ctx context.Context, pool *pgxpool.Pool, gen *genInfo, clients int, d time.Duration, nq int) (int, float64, error) {
	var progID, roundID int64
	err := pool.QueryRow(ctx, `INSERT INTO programs (name, cadence, interval_weeks, weekday, time_of_day, open_days, items_per_round,
		min_group_size, active, created_at, updated_at) VALUES ('raw sql bench', 'weekly', 1, 1, '09:00', 5, 10, 5, false, now(), now()) RETURNING id`).Scan(&progID)
	if err != nil {
		return 0, 0, err
	}
	err = pool.QueryRow(ctx, `INSERT INTO rounds (program_id, number, status, min_group_size, opens_at, closes_at, launched_at, created_at, updated_at)
		VALUES ($1, 1, 'open', 5, now(), now() + interval '5 days', now(), now(), now()) RETURNING id`, progID).Scan(&roundID)
	if err != nil {
		return 0, 0, err
	}
	// A sealed ballot's size and a token message's, as the server stores them.
	payload := make([]byte, survey.SealedBallotLen)
	rand.Read(payload)
	token := make([]byte, 32+len(survey.TokenMessage(uint(roundID), uint(gen.deptID), make([]byte, 32))))
	rand.Read(token)
	unit := int64(gen.deptID)
	var count atomic.Int64
	deadline := time.Now().Add(d)
	start := time.Now()
	var wg sync.WaitGroup
	errc := make(chan error, clients)
	for w := 0; w < clients; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			nb := make([]byte, 32)
			for time.Now().Before(deadline) && ctx.Err() == nil {
				rand.Read(nb)
				err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
					var status string
					var closes time.Time
					if err := tx.QueryRow(ctx, "SELECT status, closes_at FROM rounds WHERE id = $1 FOR SHARE", roundID).Scan(&status, &closes); err != nil {
						return err
					}
					if status != "open" || !time.Now().Before(closes) {
						return errors.New("raw round closed")
					}
					if _, err := tx.Exec(ctx, "INSERT INTO spent_tokens (nullifier, round_id) VALUES ($1, $2)", fmt.Sprintf("%x", nb), roundID); err != nil {
						return err
					}
					_, err := tx.Exec(ctx, "INSERT INTO ballot_box (id, round_id, unit_id, payload, token) VALUES ($1, $2, $3, $4, $5)",
						uuid.NewString(), roundID, unit, payload, token)
					return err
				})
				if err != nil {
					errc <- err
					return
				}
				count.Add(1)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(errc)
	if err := <-errc; err != nil {
		return 0, 0, err
	}
	for _, q := range []string{"DELETE FROM ballot_box WHERE round_id = $1", "DELETE FROM spent_tokens WHERE round_id = $1", "DELETE FROM rounds WHERE id = $1"} {
		if _, err := pool.Exec(ctx, q, roundID); err != nil {
			return 0, 0, err
		}
	}
	if _, err := pool.Exec(ctx, "DELETE FROM programs WHERE id = $1", progID); err != nil {
		return 0, 0, err
	}
	n := int(count.Load())
	return n, float64(n) / elapsed.Seconds(), nil
}

// parallel runs fn(0..n-1) on workers goroutines; the first error stops it.
func parallel(ctx context.Context, workers, n int, fn func(i int) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var next atomic.Int64
	var wg sync.WaitGroup
	var once sync.Once
	var first error
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := fn(i); err != nil {
					once.Do(func() { first = err; cancel() })
					return
				}
			}
		}()
	}
	wg.Wait()
	if first == nil && ctx.Err() != nil {
		return ctx.Err()
	}
	return first
}

// latency runs fn n times in sequence (after a few warm-up calls) and
// returns its percentiles.
func latency(ctx context.Context, n int, fn func() error) (Latency, error) {
	for i := 0; i < 3; i++ {
		if err := fn(); err != nil {
			return Latency{}, err
		}
	}
	ds := make([]time.Duration, 0, n)
	for i := 0; i < n && ctx.Err() == nil; i++ {
		t := time.Now()
		if err := fn(); err != nil {
			return Latency{}, err
		}
		ds = append(ds, time.Since(t))
	}
	if len(ds) == 0 {
		return Latency{}, ctx.Err()
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	p := func(q float64) time.Duration {
		i := int(q*float64(len(ds))+0.999999) - 1
		return ds[min(max(i, 0), len(ds)-1)]
	}
	return Latency{P50: p(0.50), P95: p(0.95), P99: p(0.99)}, nil
}

func get(ctx context.Context, hc *http.Client, u, cookie string, hdr ...string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	if cookie != "" {
		req.Header.Set("Cookie", cookie)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s: %.200s", u, resp.Status, b)
	}
	return b, nil
}

func postJSON(ctx context.Context, hc *http.Client, u string, body any, want int, out any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	rb, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != want {
		return fmt.Errorf("POST %s: %s: %.200s", u, resp.Status, rb)
	}
	if out != nil {
		return json.Unmarshal(rb, out)
	}
	return nil
}

// vmHWM reads the peak resident set size of a process from /proc.
func vmHWM(pid string) int64 {
	b, err := os.ReadFile("/proc/" + pid + "/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			var kb int64
			fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), &kb)
			return kb * 1024
		}
	}
	return 0
}

// blinded is a token request as a browser prepares it.
type blinded struct {
	keyID    string
	client   blindrsa.Client
	prepared []byte
	blinded  []byte
	state    blindrsa.State
}

// blindAll prepares and blinds one token message per invitee, as the
// survey page's script does (survey.ObtainToken's steps before issuance).
func blindAll(ctx context.Context, manifest []byte, roundID uint, invs []invitee) ([]blinded, error) {
	var m survey.Manifest
	if err := json.Unmarshal(manifest, &m); err != nil {
		return nil, err
	}
	clients := map[uint]blindrsa.Client{}
	for _, k := range m.Keys {
		spki, err := survey.DecodeB64(k.SPKI)
		if err != nil {
			return nil, err
		}
		pub, err := x509.ParsePKIXPublicKey(spki)
		if err != nil {
			return nil, err
		}
		pk, ok := pub.(*rsa.PublicKey)
		if !ok || survey.KeyID(spki) != k.KeyID {
			return nil, fmt.Errorf("manifest key of unit %d is not usable", k.Unit)
		}
		if clients[k.Unit], err = blindrsa.NewClient(survey.TokenVariant, pk); err != nil {
			return nil, err
		}
	}
	out := make([]blinded, len(invs))
	err := parallel(ctx, runtime.GOMAXPROCS(0), len(invs), func(i int) error {
		c, ok := clients[invs[i].unit]
		if !ok {
			return fmt.Errorf("no key for unit %d", invs[i].unit)
		}
		nonce := make([]byte, 32)
		rand.Read(nonce)
		prepared, err := c.Prepare(rand.Reader, survey.TokenMessage(roundID, invs[i].unit, nonce))
		if err != nil {
			return err
		}
		bm, st, err := c.Blind(rand.Reader, prepared)
		if err != nil {
			return err
		}
		out[i] = blinded{keyID: invs[i].keyID, client: c, prepared: prepared, blinded: bm, state: st}
		return nil
	})
	return out, err
}

// finalizeAll unblinds and verifies the issued signatures into tokens.
func finalizeAll(ctx context.Context, bs []blinded, sigs [][]byte) ([]*survey.Token, error) {
	out := make([]*survey.Token, len(bs))
	err := parallel(ctx, runtime.GOMAXPROCS(0), len(bs), func(i int) error {
		sig, err := bs[i].client.Finalize(bs[i].state, sigs[i])
		if err != nil {
			return err
		}
		out[i] = &survey.Token{KeyID: bs[i].keyID, Message: bs[i].prepared, Signature: sig}
		return nil
	})
	return out, err
}

// timedReleaser is Pulse's releaser, timed: the bench reports the close
// (shuffle into the results) and the release apart.
type timedReleaser struct {
	reports.Releaser
	took time.Duration
}

func (r *timedReleaser) ReleaseRound(ctx context.Context, tx *gorm.DB, roundID uint) error {
	t := time.Now()
	err := r.Releaser.ReleaseRound(ctx, tx, roundID)
	r.took = time.Since(t)
	return err
}
