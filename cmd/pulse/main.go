// Command pulse runs Pulse: anonymous pulse surveys for teams, one binary on
// the embedded SQLite database or on PostgreSQL.
//
//	pulse [serve] [flags]   run the server (default)
//	pulse migrate [flags]   apply database migrations and exit
//	pulse demo [flags]      seed the demo organisation and exit
//	pulse round ACTION      list, launch or close rounds; print survey links
//	pulse roster import F   import people and teams from a CSV file
//	pulse backup FILE       write a consistent copy of the database
//	pulse restore FILE      fill an empty instance from a backup
//	pulse healthcheck       exit 0 when the local server is ready
//	pulse version           print the version
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/pulse-survey/pulse/api"
	"github.com/pulse-survey/pulse/reports"
	"github.com/pulse-survey/pulse/survey"
	"github.com/pulse-survey/pulse/survey/demo"
	"github.com/pulse-survey/pulse/survey/migrations"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

const usage = `Usage: pulse [command] [flags]

Commands:
  serve        run the server (default)
  migrate      apply database migrations and exit
  demo         seed the demo organisation into the database and exit
  round        list, launch or close rounds, print survey links (pulse round -h)
  roster       import people and teams from a CSV file (pulse roster -h)
  backup       write a consistent copy of the database to a new file (pulse backup -h)
  restore      fill an empty instance from a backup file (pulse restore -h)
  healthcheck  exit 0 when the server at PULSE_ADDR is ready (for containers)
  version      print the version

Run "pulse serve -h" for the flags; every flag can also be set with a PULSE_* variable.
`

// run is main without the process: it returns the exit code and never panics
// on bad input.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	cmd := "serve"
	var (
		roundAction string
		roundIDs    map[string]uint
		roster      rosterCmd
		file        string
	)
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "version":
		fmt.Fprintln(stdout, "pulse", version)
		return 0
	case "help":
		fmt.Fprint(stdout, usage)
		return 0
	case "serve", "migrate", "demo", "healthcheck":
	case "round":
		var err error
		if roundAction, roundIDs, args, err = roundArgs(args); err != nil {
			fmt.Fprintf(stderr, "pulse: %v\n\n%s", err, roundUsage)
			return 2
		}
		if roundAction == "help" {
			fmt.Fprint(stdout, roundUsage)
			return 0
		}
	case "roster":
		var err error
		if roster, args, err = rosterArgs(args); err != nil {
			fmt.Fprintf(stderr, "pulse: %v\n\n%s", err, rosterUsage)
			return 2
		}
		if roster.action == "help" {
			fmt.Fprint(stdout, rosterUsage)
			return 0
		}
	case "backup", "restore":
		var err error
		if file, args, err = backupArgs(cmd, args); errors.Is(err, flagHelp) {
			fmt.Fprint(stdout, backupUsage)
			return 0
		} else if err != nil {
			fmt.Fprintf(stderr, "pulse: %v\n\n%s", err, backupUsage)
			return 2
		}
	default:
		fmt.Fprintf(stderr, "pulse: unknown command %q\n\n%s", cmd, usage)
		return 2
	}
	cfg, rest, err := loadConfig(cmd, args, getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "pulse:", err)
		return 2
	}
	if len(rest) > 0 {
		fmt.Fprintf(stderr, "pulse: unexpected argument %q\n", rest[0])
		return 2
	}
	if cmd == "demo" {
		cfg.Demo = true
	}
	if cmd == "healthcheck" {
		return healthcheck(ctx, cfg, stderr)
	}
	if cmd == "backup" || cmd == "restore" {
		// Neither migrates the database first nor loads the secret key.
		do := backup
		if cmd == "restore" {
			do = restore
		}
		if err := do(ctx, cfg, file, stdout, stderr); err != nil {
			fmt.Fprintln(stderr, "pulse:", err)
			return 1
		}
		return 0
	}
	log, anonLog := newLoggers(cfg, stderr)
	if err := execute(ctx, cmd, cfg, log, anonLog, stdout, func(svc *survey.Services) error {
		if cmd == "roster" {
			return runRoster(ctx, svc, roster, stdout, stderr)
		}
		return runRound(ctx, svc, cfg, roundAction, roundIDs, stdout)
	}); err != nil {
		fmt.Fprintln(stderr, "pulse:", err)
		return 1
	}
	return 0
}

func newLoggers(cfg *Config, w io.Writer) (*slog.Logger, *slog.Logger) {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel))
	mk := func(dropTime bool) *slog.Logger {
		opts := &slog.HandlerOptions{Level: level}
		if dropTime {
			// Survey routes: no time, so a log line cannot be matched to a ballot.
			opts.ReplaceAttr = func(groups []string, a slog.Attr) slog.Attr {
				if len(groups) == 0 && a.Key == slog.TimeKey {
					return slog.Attr{}
				}
				return a
			}
		}
		if cfg.LogFormat == "json" {
			return slog.New(slog.NewJSONHandler(w, opts))
		}
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return mk(false), mk(true)
}

// openServices opens the database, migrates it and builds the services;
// rel writes the release of closed rounds (reports.Releaser). Only commands
// that run rounds load the instance secret key (withKeys).
func openServices(ctx context.Context, cfg *Config, log *slog.Logger, withKeys bool, rel survey.Releaser) (*survey.Services, func(), error) {
	db, err := survey.OpenDB(ctx, cfg.DBOptions())
	if err != nil {
		return nil, nil, err
	}
	closeDB := func() {
		if sqlDB, err := db.DB(); err == nil {
			sqlDB.Close()
		}
	}
	if err := migrations.Up(ctx, db); err != nil {
		closeDB()
		return nil, nil, fmt.Errorf("database migration failed: %v", err)
	}
	log.Debug("database ready", "dialect", db.Dialector.Name(), "schema", migrations.Latest())
	var keys *survey.Keyring
	if withKeys {
		var created bool
		if keys, created, err = loadKeyring(cfg.KeyFile()); err != nil {
			closeDB()
			return nil, nil, err
		}
		if created && cfg.announceKey {
			log.Info("created the instance secret key; back it up, apart from the database backups (README: Backups)", "file", cfg.KeyFile())
		}
	}
	svc := survey.New(db, survey.Options{Keyring: keys, Releaser: rel})
	if err := svc.Programs.SyncBuiltinQuestions(ctx); err != nil {
		closeDB()
		return nil, nil, err
	}
	return svc, closeDB, nil
}

func execute(ctx context.Context, cmd string, cfg *Config, log, anonLog *slog.Logger, stdout io.Writer, round func(*survey.Services) error) error {
	cfg.announceKey = cmd == "serve"
	// The release step: a closed round's results are computed once and frozen.
	svc, closeDB, err := openServices(ctx, cfg, log, cmd != "migrate" && cmd != "roster", &reports.Releaser{})
	if err != nil {
		return err
	}
	defer closeDB()
	switch cmd {
	case "migrate":
		fmt.Fprintf(stdout, "database is at schema %s\n", migrations.Latest())
		return nil
	case "round", "roster":
		return round(svc)
	case "demo":
		accs, err := demo.Ensure(ctx, svc)
		if err != nil {
			return err
		}
		secret, err := demo.History(ctx, svc, time.Now(), nil, func(format string, a ...any) {
			fmt.Fprintf(stdout, format+"\n", a...)
		})
		if err != nil {
			return err
		}
		printDemo(stdout, cfg, accs)
		printSurveyLink(stdout, cfg, secret)
		return nil
	}
	return serve(ctx, cfg, svc, log, anonLog, stdout)
}

func serve(ctx context.Context, cfg *Config, svc *survey.Services, log, anonLog *slog.Logger, stdout io.Writer) error {
	mailer, err := newMailer(cfg, log)
	if err != nil {
		return err
	}
	deps := api.Deps{DB: svc.DB, Services: svc, Logger: log, AnonLogger: anonLog, BaseURL: cfg.BaseURL,
		TrustProxy: cfg.TrustProxy, SessionTTL: cfg.SessionTTL, Demo: cfg.Demo, Version: version, Mailer: mailer, SSO: cfg.SSO(),
		RequireAdmin2FA: cfg.RequireAdmin2FA, TempDir: cfg.TempDir()}
	var progress *demo.Progress
	if cfg.Demo {
		// Set only in demo mode: a nil *demo.Progress in the interface
		// would be a non-nil interface value, and the home page would
		// call its methods.
		progress = &demo.Progress{}
		deps.DemoProgress = progress
	}
	e, err := api.New(deps)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("cannot listen on %s: %v (is another server using the port? set PULSE_ADDR or --addr)", cfg.Addr, err)
	}
	srv := &http.Server{Handler: e, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 60 * time.Second,
		WriteTimeout: 60 * time.Second, IdleTimeout: 120 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()

	sched, err := newScheduler(cfg, svc, log, mailer)
	if err != nil {
		srv.Close()
		return err
	}
	schedCtx, stopSched := context.WithCancel(ctx)
	schedDone := make(chan struct{})
	var schedStarted atomic.Bool
	startSched := func() {
		schedStarted.Store(true)
		go func() {
			defer close(schedDone)
			sched.Run(schedCtx)
		}()
	}
	// waitSched stops the scheduler: a job in flight finishes or is left to
	// its lease, and claimed jobs not yet started are handed back.
	// It waits once: later calls return at once.
	var schedWaited sync.Once
	waitSched := func(deadline <-chan struct{}) {
		schedWaited.Do(func() {
			stopSched()
			if !schedStarted.Load() {
				return
			}
			select {
			case <-schedDone:
			case <-deadline:
				log.Warn("scheduler did not stop within the shutdown grace period; its job is left to its lease")
			}
		})
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownGrace)
		defer cancel()
		waitSched(ctx.Done())
	}()

	log.Info("Pulse is listening", "addr", ln.Addr().String(), "url", cfg.BaseURL, "version", version)
	if cfg.Demo {
		accs, err := demo.Ensure(ctx, svc)
		if err != nil {
			srv.Close()
			return err
		}
		printDemo(stdout, cfg, accs)
		// A year of history goes through the real pipeline in the
		// background; the home page shows its progress meanwhile.
		go func() {
			secret, err := demo.History(ctx, svc, time.Now(), progress, func(format string, a ...any) {
				log.Info(fmt.Sprintf(format, a...))
			})
			if err != nil {
				if ctx.Err() == nil {
					log.Error("demo history failed", "err", err)
				}
				return
			}
			printSurveyLink(stdout, cfg, secret)
			// Only now: the replay's rounds are open in the past for a
			// moment, and the scheduler would close them under it.
			startSched()
		}()
	} else if err := printSetupLink(ctx, svc, cfg, stdout); err != nil {
		srv.Close()
		return err
	} else {
		startSched()
	}

	select {
	case err := <-errc:
		return fmt.Errorf("server stopped: %v", err)
	case <-ctx.Done():
	}
	return shutdown(srv, cfg.ShutdownGrace, waitSched, log)
}

// shutdown stops accepting connections, lets requests in flight and the
// scheduler's job finish within grace, then closes whatever is still open.
// Running out of grace is the expected end of a slow client, not an error:
// the exit status stays 0.
func shutdown(srv *http.Server, grace time.Duration, waitSched func(<-chan struct{}), log *slog.Logger) error {
	log.Info("shutting down", "grace", grace.String())
	ctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	schedStopped := make(chan struct{})
	go func() {
		defer close(schedStopped)
		waitSched(ctx.Done())
	}()
	err := srv.Shutdown(ctx)
	<-schedStopped
	if errors.Is(err, context.DeadlineExceeded) {
		log.Warn("requests still in flight after the shutdown grace period were cut off", "grace", grace.String())
		err = srv.Close()
	}
	if err != nil {
		return fmt.Errorf("shutdown: %v", err)
	}
	log.Info("stopped")
	return nil
}

// newMailer returns the SMTP mailer, or nil when email is off. The demo
// never sends email: its people are fictional.
func newMailer(cfg *Config, log *slog.Logger) (survey.Mailer, error) {
	sc := cfg.SMTP()
	if sc == nil || cfg.Demo {
		log.Info("email is off: admins download each round's survey links (Administration, round delivery)")
		return nil, nil
	}
	m, err := survey.NewSMTPMailer(*sc)
	if err != nil {
		return nil, err
	}
	log.Info("email is on: invitations, reminders and account links go out by SMTP", "host", sc.Host, "port", sc.Port, "tls", sc.TLS)
	return m, nil
}

// newScheduler builds the scheduler that launches, reminds and closes
// rounds, emailing through mailer when it is not nil.
func newScheduler(cfg *Config, svc *survey.Services, log *slog.Logger, mailer survey.Mailer) (*survey.Scheduler, error) {
	return survey.NewScheduler(svc, survey.SchedulerOptions{BaseURL: cfg.BaseURL, Logger: log, Mailer: mailer}), nil
}

// printSetupLink prints a one-time link that creates the first admin while
// no account exists. There are no default passwords.
func printSetupLink(ctx context.Context, svc *survey.Services, cfg *Config, w io.Writer) error {
	need, err := svc.Accounts.NeedsSetup(ctx)
	if err != nil || !need {
		return err
	}
	token, err := svc.Accounts.CreateSetupLink(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "\nPulse has no accounts yet. Open this one-time link within %s to create the first admin:\n\n    %s/setup/%s\n\n",
		survey.SetupLinkTTL, cfg.BaseURL, token)
	return nil
}

func printDemo(w io.Writer, cfg *Config, accs []demo.Account) {
	fmt.Fprintf(w, "\nPulse demo: %s\n\nSign in at %s/login with a demo account (passwords change at every start):\n\n", cfg.BaseURL, cfg.BaseURL)
	tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "  ROLE\tEMAIL\tPASSWORD\tSEES")
	for _, a := range accs {
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", a.Role, a.Email, a.Password, a.Scope)
	}
	tw.Flush()
	fmt.Fprintln(w)
}

func printSurveyLink(w io.Writer, cfg *Config, secret string) {
	if secret == "" {
		return
	}
	fmt.Fprintf(w, "\nThe demo's current pulse is open. Answer it as an employee would:\n\n    %s/s/%s\n\n", cfg.BaseURL, secret)
}

// healthcheck asks the local server's /readyz; containers use it because
// the runtime image has no shell or curl.
func healthcheck(ctx context.Context, cfg *Config, stderr io.Writer) int {
	_, port, _ := net.SplitHostPort(cfg.Addr)
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://127.0.0.1:"+port+"/readyz", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Fprintln(stderr, "pulse: healthcheck:", err)
		return 1
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintln(stderr, "pulse: healthcheck: status", resp.StatusCode)
		return 1
	}
	return 0
}
