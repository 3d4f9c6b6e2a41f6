package api

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/pulse-survey/pulse/survey/surveytest"
)

func TestLoginLimiterCountsFailuresOnly(t *testing.T) {
	clk := surveytest.NewClock(time.Time{})
	l := newLoginLimiter(clk.Now)
	// Successes never count: a hundred sign-ins in a row are all allowed.
	for i := 0; i < 100; i++ {
		if !l.allow("198.51.100.1", "a@example.com") {
			t.Fatalf("sign-in %d refused after only successes", i+1)
		}
		l.succeed("198.51.100.1", "a@example.com")
	}
	for i := 1; i <= pairFree; i++ {
		if !l.allow("198.51.100.1", "a@example.com") {
			t.Fatalf("failure %d refused; %d are free", i, pairFree)
		}
		l.fail("198.51.100.1", "a@example.com")
	}
	if l.allow("198.51.100.1", " A@Example.com") {
		t.Fatal("attempt allowed after 5 failures from one address for one (normalised) account")
	}
	if !l.allow("198.51.100.2", "a@example.com") {
		t.Fatal("the same account from another address is refused: a stranger locked it out")
	}
	if !l.allow("198.51.100.1", "b@example.com") {
		t.Fatal("another account from the same address is refused")
	}
	clk.Advance(time.Minute)
	if !l.allow("198.51.100.1", "a@example.com") {
		t.Fatal("no attempt allowed after the first one-minute back-off")
	}
	l.fail("198.51.100.1", "a@example.com")
	clk.Advance(time.Minute)
	if l.allow("198.51.100.1", "a@example.com") {
		t.Fatal("the back-off did not double after another failure")
	}
	clk.Advance(time.Minute)
	if !l.allow("198.51.100.1", "a@example.com") {
		t.Fatal("no attempt allowed after the two-minute back-off")
	}
	// A success clears the pair.
	l.succeed("198.51.100.1", "a@example.com")
	for i := 0; i < pairFree; i++ {
		if !l.allow("198.51.100.1", "a@example.com") {
			t.Fatalf("failure %d after a success refused: the success did not reset", i+1)
		}
		l.fail("198.51.100.1", "a@example.com")
	}
}

func TestLoginLimiterPerIP(t *testing.T) {
	clk := surveytest.NewClock(time.Time{})
	l := newLoginLimiter(clk.Now)
	n := 0
	for ; n < 100 && l.allow("203.0.113.7", fmt.Sprintf("spray%d@example.com", n)); n++ {
		l.fail("203.0.113.7", fmt.Sprintf("spray%d@example.com", n))
	}
	if n != ipBurst {
		t.Fatalf("one address sprayed %d accounts before being refused, want %d", n, ipBurst)
	}
	if !l.allow("203.0.113.8", "spray0@example.com") {
		t.Fatal("another address refused")
	}
	clk.Advance(ipDrain)
	if !l.allow("203.0.113.7", "new@example.com") {
		t.Fatal("the address is still refused after its bucket drained by one")
	}
}

// distributedGuess fails n sign-ins for email from n fresh addresses.
func distributedGuess(l *loginLimiter, email string, n int, next *int) (refused int) {
	for i := 0; i < n; i++ {
		ip := fmt.Sprintf("10.%d.%d.%d", *next>>16&255, *next>>8&255, *next&255)
		*next++
		if !l.allow(ip, email) {
			refused++
			continue
		}
		l.fail(ip, email)
	}
	return refused
}

// TestLoginLimiterStrangerCannotHoldAccount: a stranger guessing from many
// addresses starts the account's global back-off, but the owner still gets
// in from an address they used before, and from a new address within at
// most accountMaxLock, however long the stranger keeps going.
func TestLoginLimiterStrangerCannotHoldAccount(t *testing.T) {
	clk := surveytest.NewClock(time.Time{})
	l := newLoginLimiter(clk.Now)
	const owner, home = "owner@example.com", "192.0.2.1"
	l.succeed(home, owner) // the owner signed in from home before

	next := 0
	if refused := distributedGuess(l, owner, accountBurst, &next); refused != 0 {
		t.Fatalf("%d of the first %d failures refused", refused, accountBurst)
	}
	if refused := distributedGuess(l, owner, 10, &next); refused != 10 {
		t.Fatalf("global back-off not in force: %d of 10 attempts from new addresses refused", refused)
	}
	if !l.allow(home, owner) {
		t.Fatal("the owner's known address is refused during the global back-off")
	}
	if !l.allow("192.0.2.99", "other@example.com") {
		t.Fatal("another account is refused")
	}

	// The stranger never stops: every 10 seconds for six hours, 20 fresh
	// addresses try. The owner at a new address tries every minute and must
	// never wait more than accountMaxLock; locked time stays at most half.
	const travel = "198.51.100.200"
	waited, longest, locked, minutes := time.Duration(0), time.Duration(0), 0, 0
	for clk.Now().Before(surveytest.NewClock(time.Time{}).Now().Add(6 * time.Hour)) {
		for s := 0; s < 6; s++ {
			distributedGuess(l, owner, 20, &next)
			clk.Advance(10 * time.Second)
		}
		minutes++
		if l.allow(travel, owner) {
			waited = 0
			continue
		}
		locked++
		waited += time.Minute
		longest = max(longest, waited)
	}
	t.Logf("owner at a new address: locked %d of %d minutes, longest wait %v", locked, minutes, longest)
	if longest > accountMaxLock+time.Minute {
		t.Errorf("the owner at a new address waited %v at a stretch, want at most %v", longest, accountMaxLock)
	}
	if locked*2 > minutes+2 {
		t.Errorf("the account was locked for %d of %d minutes", locked, minutes)
	}
	if locked == 0 {
		t.Error("the global back-off never engaged under a six-hour distributed attack")
	}

	// A success resets the global back-off.
	for !l.allow(travel, owner) {
		clk.Advance(time.Minute)
	}
	distributedGuess(l, owner, accountBurst-1, &next)
	l.succeed(travel, owner)
	if refused := distributedGuess(l, owner, accountBurst-1, &next); refused != 0 {
		t.Fatalf("%d failures refused after a success reset the account", refused)
	}
}

func TestLoginLimiterForgetsOldEntries(t *testing.T) {
	clk := surveytest.NewClock(time.Time{})
	l := newLoginLimiter(clk.Now)
	for i := 0; i < 50; i++ {
		l.fail(fmt.Sprintf("198.51.100.%d", i), fmt.Sprintf("u%d@example.com", i))
	}
	clk.Advance(2 * time.Hour)
	l.allow("198.51.100.200", "late@example.com")
	if n := l.size(); n != 0 {
		t.Fatalf("%d limiter entries kept after two idle hours", n)
	}
}

// TestLoginLimiterMemoryIsBounded: a client that is already refused by the
// per-IP limit must not be able to grow the limiter's memory with every
// request, and a huge "email" (the body limit allows ~1 MB) must not be kept
// as a map key.
func TestLoginLimiterMemoryIsBounded(t *testing.T) {
	clk := surveytest.NewClock(time.Time{})

	t.Run("refused IP spraying emails", func(t *testing.T) {
		l := newLoginLimiter(clk.Now)
		for i := 0; i < 2000; i++ {
			email := fmt.Sprintf("spray%d@example.com", i)
			if l.allow("203.0.113.9", email) {
				l.fail("203.0.113.9", email)
			}
		}
		if n := l.size(); n > 2*ipBurst+1 {
			t.Errorf("limiter holds %d entries after one IP sprayed 2000 emails (it was refused after %d)", n, ipBurst)
		}
	})

	t.Run("huge email", func(t *testing.T) {
		l := newLoginLimiter(clk.Now)
		huge := strings.Repeat("a", 1<<20) + "@example.com"
		for i := 0; i < 3; i++ {
			l.fail(fmt.Sprintf("203.0.113.%d", i), huge+fmt.Sprint(i))
		}
		total := 0
		for k := range l.pairs {
			total += len(k)
		}
		for k := range l.accounts {
			total += len(k)
		}
		if total > 64<<10 {
			t.Errorf("limiter keys hold %d bytes after 3 attempts with 1 MB emails", total)
		}
	})
}
