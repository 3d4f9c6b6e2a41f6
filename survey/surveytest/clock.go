package surveytest

import (
	"sync"
	"time"
)

// Clock is a clock a test moves by hand; pass its Now as survey.Options.Now.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock starts a clock at start, or, for the zero time, at a fixed
// instant in whole seconds (so both dialects store it exactly).
func NewClock(start time.Time) *Clock {
	if start.IsZero() {
		start = time.Date(2031, time.March, 3, 9, 0, 0, 0, time.UTC)
	}
	return &Clock{now: start}
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// Set moves the clock to t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}
