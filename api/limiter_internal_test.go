package api

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

type fixedClock struct{ now time.Time }

func (c *fixedClock) Now() time.Time { return c.now }

func TestLoginLimiterBursts(t *testing.T) {
	clk := &fixedClock{now: time.Date(2031, 3, 3, 9, 0, 0, 0, time.UTC)}
	l := newLoginLimiter(clk.Now)
	for i := 1; i <= 5; i++ {
		if !l.allow("198.51.100.1", "a@example.com") {
			t.Fatalf("attempt %d refused; per-email burst is 5", i)
		}
	}
	if l.allow("198.51.100.2", "A@Example.com ") {
		t.Fatal("6th attempt for one (normalised) email allowed from another IP")
	}
	if !l.allow("198.51.100.2", "b@example.com") {
		t.Fatal("another email from another IP refused")
	}
	clk.now = clk.now.Add(time.Minute)
	if !l.allow("198.51.100.1", "a@example.com") {
		t.Fatal("no attempt allowed a minute later")
	}
	if l.allow("198.51.100.1", "a@example.com") {
		t.Fatal("two attempts allowed a minute later; the rate is one per minute")
	}
}

func TestLoginLimiterForgetsOldEntries(t *testing.T) {
	clk := &fixedClock{now: time.Date(2031, 3, 3, 9, 0, 0, 0, time.UTC)}
	l := newLoginLimiter(clk.Now)
	for i := 0; i < 50; i++ {
		l.allow(fmt.Sprintf("198.51.100.%d", i), fmt.Sprintf("u%d@example.com", i))
	}
	clk.now = clk.now.Add(2 * time.Hour)
	l.allow("198.51.100.200", "late@example.com")
	if n := len(l.byKey); n > 2 {
		t.Fatalf("%d limiter entries kept after two idle hours, want only the new ones", n)
	}
}

// TestLoginLimiterMemoryIsBounded: a client that is already refused by the
// per-IP limit must not be able to grow the limiter's memory with every
// request (one new per-email entry, kept for an hour, per attempt), and a
// huge "email" (the body limit allows ~1 MB) must not be kept as a map key.
func TestLoginLimiterMemoryIsBounded(t *testing.T) {
	clk := &fixedClock{now: time.Date(2031, 3, 3, 9, 0, 0, 0, time.UTC)}

	t.Run("refused IP spraying emails", func(t *testing.T) {
		l := newLoginLimiter(clk.Now)
		for i := 0; i < 2000; i++ {
			l.allow("203.0.113.9", fmt.Sprintf("spray%d@example.com", i))
		}
		// 20 attempts pass the per-IP burst; after that nothing new should be stored.
		if n := len(l.byKey); n > 100 {
			t.Errorf("limiter holds %d entries after one IP sprayed 2000 emails (it was refused after ~20)", n)
		}
	})

	t.Run("huge email", func(t *testing.T) {
		l := newLoginLimiter(clk.Now)
		huge := strings.Repeat("a", 1<<20) + "@example.com"
		for i := 0; i < 3; i++ {
			l.allow(fmt.Sprintf("203.0.113.%d", i), huge+fmt.Sprint(i))
		}
		total := 0
		for k := range l.byKey {
			total += len(k)
		}
		if total > 64<<10 {
			t.Errorf("limiter keys hold %d bytes after 3 attempts with 1 MB emails", total)
		}
	})
}
