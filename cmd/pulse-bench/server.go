package main

import (
	"bufio"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"gorm.io/gorm"

	"github.com/pulse-survey/pulse/api"
	"github.com/pulse-survey/pulse/reports"
	"github.com/pulse-survey/pulse/survey"
)

// serveArg runs this binary as the bench's HTTP server (a child process).
const serveArg = "__serve"

// Environment of the child server.
const (
	envDB   = "PULSE_BENCH_DB"
	envKey  = "PULSE_BENCH_KEY"
	envPool = "PULSE_BENCH_POOL"
)

type server struct {
	base string
	rss  func() int64
	stop func()
}

// newHandler builds Pulse's HTTP handler as cmd/pulse does (no scheduler,
// no mail: the bench drives rounds itself).
func newHandler(db *gorm.DB, svc *survey.Services) (http.Handler, error) {
	return api.New(api.Deps{DB: db, Services: svc, BaseURL: "http://127.0.0.1", Version: "bench",
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
}

// startServer starts Pulse on a loopback port, as a child process or in
// this process.
func startServer(ctx context.Context, o Options, dbURL string, master []byte, svc *survey.Services, db *gorm.DB) (*server, error) {
	if !o.ChildServer {
		h, err := newHandler(db, survey.New(db, survey.Options{Keyring: mustKeyring(master), Releaser: &reports.Releaser{}}))
		if err != nil {
			return nil, err
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		hs := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
		go hs.Serve(ln)
		return &server{base: "http://" + ln.Addr().String(), rss: func() int64 { return vmHWM("self") },
			stop: func() { hs.Close() }}, nil
	}
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, exe, serveArg)
	cmd.Env = append(os.Environ(), envDB+"="+dbURL, envKey+"="+hex.EncodeToString(master), envPool+"="+strconv.Itoa(o.Pool))
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		return nil, fmt.Errorf("child server did not start: %w", err)
	}
	addr, ok := strings.CutPrefix(strings.TrimSpace(line), "listening ")
	if !ok {
		cmd.Process.Kill()
		cmd.Wait()
		return nil, fmt.Errorf("child server: unexpected %q", line)
	}
	pid := strconv.Itoa(cmd.Process.Pid)
	return &server{base: "http://" + addr, rss: func() int64 { return vmHWM(pid) }, stop: func() {
		stdin.Close() // the child exits when its stdin closes
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	}}, nil
}

func mustKeyring(master []byte) *survey.Keyring {
	k, err := survey.NewKeyring(master)
	if err != nil {
		panic(err)
	}
	return k
}

// serveChild is the child process: Pulse's server on a loopback port until
// stdin closes.
func serveChild() error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	master, err := hex.DecodeString(os.Getenv(envKey))
	if err != nil || len(master) != 32 {
		return errors.New(envKey + " must hold 32 bytes in hex")
	}
	poolSize, _ := strconv.Atoi(os.Getenv(envPool))
	db, err := survey.OpenDB(ctx, survey.DBOptions{URL: os.Getenv(envDB), MaxOpenConns: poolSize})
	if err != nil {
		return err
	}
	h, err := newHandler(db, survey.New(db, survey.Options{Keyring: mustKeyring(master), Releaser: &reports.Releaser{}}))
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	hs := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		io.Copy(io.Discard, os.Stdin)
		hs.Close()
	}()
	go func() {
		<-ctx.Done()
		hs.Close()
	}()
	fmt.Printf("listening %s\n", ln.Addr())
	if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
