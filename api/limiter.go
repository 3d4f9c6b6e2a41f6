package api

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"sync"
	"time"
)

// Sign-in limits. Only failed attempts count; a successful sign-in clears
// the account's counters. Three limits apply:
//
//   - per (account, client IP): pairFree failures, then a back-off that
//     doubles with each further failure, up to pairMaxLock. A stranger
//     guessing from one address only locks out that address.
//   - per client IP: a bucket of ipBurst failures that drains one every
//     ipDrain, against spraying many accounts from one address.
//   - per account, from every IP: accountBurst failures (draining one every
//     accountDrain) start a global back-off, against guessing from many
//     addresses. It does not stop addresses the account signed in from
//     before, it cannot be extended while it runs (refused attempts do not
//     count), and after it ends the account gets a grace period as long as
//     the lock in which no new global lock starts. So a stranger can never
//     hold an account locked for more than half of the time, nor for longer
//     than accountMaxLock at a stretch.
const (
	pairFree       = 5
	pairMaxLock    = time.Hour
	ipBurst        = 20
	ipDrain        = 6 * time.Second
	accountBurst   = 20
	accountDrain   = time.Minute
	accountMinLock = time.Minute
	accountMaxLock = 15 * time.Minute
	// trustFor is how long a client IP that signed in to an account is
	// exempt from that account's global back-off.
	trustFor = 30 * 24 * time.Hour
	// maxTrusted bounds the addresses remembered per account.
	maxTrusted = 8
	// idleForget is how long an entry without a running lock is kept.
	idleForget = time.Hour
)

// maxLimiterKeys bounds the limiter's memory. When it is full, attempts
// that would need a new entry are refused rather than left uncounted.
const maxLimiterKeys = 100_000

// loginLimiter holds the sign-in limits in memory (each replica limits on
// its own).
type loginLimiter struct {
	mu       sync.Mutex
	now      func() time.Time
	ips      map[string]*bucket
	pairs    map[string]*pairState
	accounts map[string]*accountState
	lastGC   time.Time
}

// bucket is a leaky counter: it drains one unit per drain interval.
type bucket struct {
	level float64
	at    time.Time
}

func (b *bucket) value(now time.Time, drain time.Duration) float64 {
	v := b.level - float64(now.Sub(b.at))/float64(drain)
	if v < 0 {
		return 0
	}
	return v
}

func (b *bucket) add(now time.Time, drain time.Duration) {
	b.level = b.value(now, drain) + 1
	b.at = now
}

type pairState struct {
	fails       int
	lockedUntil time.Time
	seen        time.Time
}

type accountState struct {
	fails       bucket
	lockedUntil time.Time
	graceUntil  time.Time
	locks       int // global locks since the last success, for doubling
	trusted     map[string]time.Time
	seen        time.Time
}

func newLoginLimiter(now func() time.Time) *loginLimiter {
	return &loginLimiter{now: now, ips: map[string]*bucket{}, pairs: map[string]*pairState{},
		accounts: map[string]*accountState{}}
}

// accountKey hashes the normalised email: a huge "email" costs no memory
// and the limiter holds no addresses in clear.
func accountKey(email string) string {
	sum := sha256.Sum256([]byte(strings.ToLower(strings.TrimSpace(email))))
	return hex.EncodeToString(sum[:16])
}

func pairKey(account, ip string) string { return account + "|" + ip }

func (l *loginLimiter) size() int { return len(l.ips) + len(l.pairs) + len(l.accounts) }

// allow reports whether a sign-in attempt may be checked at all. It records
// nothing: refused attempts never count.
func (l *loginLimiter) allow(ip, email string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	l.gc(now)
	acct := accountKey(email)
	b, ok := l.ips[ip]
	if ok && b.value(now, ipDrain) >= ipBurst {
		return false
	}
	p, pok := l.pairs[pairKey(acct, ip)]
	if pok && now.Before(p.lockedUntil) {
		return false
	}
	if a, ok := l.accounts[acct]; ok && now.Before(a.lockedUntil) && !a.trusts(ip, now) {
		return false
	}
	// Under a flood of new keys, refuse what could not be counted.
	return pok || l.size() < maxLimiterKeys
}

// fail records a failed attempt.
func (l *loginLimiter) fail(ip, email string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	acct := accountKey(email)
	if l.size()+3 > maxLimiterKeys {
		return // allow refuses new keys until the collector frees room
	}
	b := l.ips[ip]
	if b == nil {
		b = &bucket{at: now}
		l.ips[ip] = b
	}
	b.add(now, ipDrain)

	p := l.pairs[pairKey(acct, ip)]
	if p == nil {
		p = &pairState{}
		l.pairs[pairKey(acct, ip)] = p
	}
	p.fails++
	p.seen = now
	if p.fails >= pairFree {
		p.lockedUntil = now.Add(doubling(time.Minute, p.fails-pairFree, pairMaxLock))
	}

	a := l.account(acct, now)
	a.fails.add(now, accountDrain)
	if a.fails.value(now, accountDrain) >= accountBurst && !now.Before(a.lockedUntil) && !now.Before(a.graceUntil) {
		d := doubling(accountMinLock, a.locks, accountMaxLock)
		a.lockedUntil = now.Add(d)
		a.graceUntil = a.lockedUntil.Add(d)
		a.locks++
		a.fails = bucket{at: now}
	}
}

// succeed records a successful sign-in: the account's counters are
// cleared and the address is trusted for the account.
func (l *loginLimiter) succeed(ip, email string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	acct := accountKey(email)
	delete(l.pairs, pairKey(acct, ip))
	a := l.account(acct, now)
	a.fails = bucket{at: now}
	a.lockedUntil, a.graceUntil, a.locks = time.Time{}, time.Time{}, 0
	if a.trusted == nil {
		a.trusted = map[string]time.Time{}
	}
	if _, ok := a.trusted[ip]; !ok && len(a.trusted) >= maxTrusted {
		oldest := ""
		for k, t := range a.trusted {
			if oldest == "" || t.Before(a.trusted[oldest]) {
				oldest = k
			}
		}
		delete(a.trusted, oldest)
	}
	a.trusted[ip] = now
}

func (l *loginLimiter) account(key string, now time.Time) *accountState {
	a := l.accounts[key]
	if a == nil {
		a = &accountState{fails: bucket{at: now}}
		l.accounts[key] = a
	}
	a.seen = now
	return a
}

func (a *accountState) trusts(ip string, now time.Time) bool {
	t, ok := a.trusted[ip]
	return ok && now.Sub(t) < trustFor
}

// doubling returns base doubled n times, at most max.
func doubling(base time.Duration, n int, max time.Duration) time.Duration {
	d := base
	for i := 0; i < n && d < max; i++ {
		d *= 2
	}
	return min(d, max)
}

// gc drops entries that no longer limit anything.
func (l *loginLimiter) gc(now time.Time) {
	if now.Sub(l.lastGC) < 10*time.Minute {
		return
	}
	l.lastGC = now
	for k, b := range l.ips {
		if b.value(now, ipDrain) == 0 && now.Sub(b.at) > idleForget {
			delete(l.ips, k)
		}
	}
	for k, p := range l.pairs {
		if !now.Before(p.lockedUntil) && now.Sub(p.seen) > idleForget {
			delete(l.pairs, k)
		}
	}
	for k, a := range l.accounts {
		for ip, t := range a.trusted {
			if now.Sub(t) >= trustFor {
				delete(a.trusted, ip)
			}
		}
		if len(a.trusted) == 0 && !now.Before(a.graceUntil) && now.Sub(a.seen) > idleForget {
			delete(l.accounts, k)
		}
	}
}
