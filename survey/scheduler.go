package survey

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// Job is one unit of background work in the jobs table. Key is unique: a
// job exists once however many replicas enqueue it and however often a tick
// repeats. A replica claims a job by setting LockedUntil (a lease) and
// Claim; only the holder of the claim may complete it.
type Job struct {
	ID          uint      `gorm:"primaryKey"`
	Kind        string    `gorm:"size:20;not null"`
	Key         string    `gorm:"size:200;not null;uniqueIndex"`
	RunAt       time.Time `gorm:"not null"`
	DoneAt      *time.Time
	Attempts    int    `gorm:"not null"`
	LastError   string `gorm:"size:1000;not null"`
	LockedUntil *time.Time
	Claim       string `gorm:"size:32;not null"`
	CreatedAt   time.Time
}

// Job kinds.
const (
	jobLaunch = "launch" // launch:program:P:<occurrence>
	jobClose  = "close"  // close:round:R
	jobFanout = "fanout" // fanout:round:R: one invitation job per invitee, two reminder fan-outs
	jobRemind = "remind" // remind1:round:R, remind2:round:R: one reminder job per invitee without a token
	jobMail   = "mail"   // invite:round:R:person:P, remind1:round:R:person:P, remind2:...
)

// Reminders go out at these fractions of a round's open window.
var reminderAt = [2]float64{0.40, 0.75}

// SchedulerOptions tune the scheduler; zero values pick the defaults.
type SchedulerOptions struct {
	// Mailer sends invitations and reminders; nil means email is not
	// configured: no email jobs are created and admins export the links.
	Mailer Mailer
	// BaseURL is the public URL that survey links start with.
	BaseURL string
	// Interval is how often due launches and closes are enqueued (30s).
	Interval time.Duration
	// Poll is how often due jobs are claimed (5s).
	Poll time.Duration
	// Lease is how long a claimed job is reserved for its worker (5m);
	// a worker that dies leaves its jobs to others once the lease ends.
	Lease time.Duration
	// MaxAttempts bounds retries of a failing job (6).
	MaxAttempts int
	// Logger receives warnings; nil discards them.
	Logger *slog.Logger
}

// Scheduler runs programs by themselves: it launches rounds on their
// cadence, sends invitations and reminders, and closes rounds when their
// time is up. Any number of replicas may run one over the same database.
type Scheduler struct {
	svc  *Services
	o    SchedulerOptions
	now  func() time.Time
	host string

	mu        sync.Mutex
	manifests map[uint]string
	// releaseRetry holds, per round, the failed attempts at its pending
	// release and when to try again (kept in memory: a restart retries at once).
	releaseRetry map[uint]retry
}

// retry counts failed attempts and says when the next one is due.
type retry struct {
	n  int
	at time.Time
}

// NewScheduler builds a scheduler over svc, reading time from svc's clock.
func NewScheduler(svc *Services, o SchedulerOptions) *Scheduler {
	if o.Interval <= 0 {
		o.Interval = 30 * time.Second
	}
	if o.Poll <= 0 {
		o.Poll = 5 * time.Second
	}
	if o.Lease <= 0 {
		o.Lease = 5 * time.Minute
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 6
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	o.BaseURL = strings.TrimRight(o.BaseURL, "/")
	host := "pulse.invalid"
	if u, err := url.Parse(o.BaseURL); err == nil && u.Hostname() != "" {
		host = u.Hostname()
	}
	return &Scheduler{svc: svc, o: o, now: func() time.Time { return svc.opts.Now().UTC() }, host: host,
		manifests: map[uint]string{}, releaseRetry: map[uint]retry{}}
}

// EmailEnabled reports whether the scheduler sends email.
func (s *Scheduler) EmailEnabled() bool { return s.o.Mailer != nil }

// Run ticks and works until ctx ends. Errors are logged, never fatal: the
// database may be away for a while and the work waits in it.
func (s *Scheduler) Run(ctx context.Context) {
	tick := time.NewTicker(s.o.Interval)
	defer tick.Stop()
	poll := time.NewTicker(s.o.Poll)
	defer poll.Stop()
	s.runOnce(ctx)
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			s.runOnce(ctx)
		case <-poll.C:
			if _, err := s.Work(ctx); err != nil && ctx.Err() == nil {
				s.o.Logger.Warn("scheduler: work", "err", err)
			}
		}
	}
}

func (s *Scheduler) runOnce(ctx context.Context) {
	if err := s.ReleasePending(ctx); err != nil && ctx.Err() == nil {
		s.o.Logger.Warn("scheduler: pending releases", "err", err)
	}
	if err := s.Tick(ctx); err != nil && ctx.Err() == nil {
		s.o.Logger.Warn("scheduler: tick", "err", err)
	}
	if _, err := s.Work(ctx); err != nil && ctx.Err() == nil {
		s.o.Logger.Warn("scheduler: work", "err", err)
	}
}

// RunOnce completes pending releases, then runs one tick followed by all
// due work (tests drive the scheduler with it and an advanced clock).
func (s *Scheduler) RunOnce(ctx context.Context) error {
	if err := s.ReleasePending(ctx); err != nil {
		return err
	}
	if err := s.Tick(ctx); err != nil {
		return err
	}
	_, err := s.Work(ctx)
	return err
}

// ReleasePending writes the releases that closed rounds still owe: the
// process stopped between a close's commit and its release, or the release
// failed. Run calls it at start and at every tick. Every replica may; the
// round's lock lets one of them write the release and the others find
// nothing owed. A release that fails is retried after the jobs' backoff;
// its error is logged, and only an error listing the rounds is returned.
func (s *Scheduler) ReleasePending(ctx context.Context) error {
	ids, err := s.svc.Rounds.pendingReleases(ctx)
	if err != nil {
		return err
	}
	for _, id := range ids {
		now := s.now()
		s.mu.Lock()
		r, failed := s.releaseRetry[id]
		s.mu.Unlock()
		if failed && now.Before(r.at) {
			continue
		}
		done, err := s.svc.Rounds.release(ctx, id, true)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			r.n++
			r.at = now.Add(backoff(r.n))
			s.mu.Lock()
			s.releaseRetry[id] = r
			s.mu.Unlock()
			s.o.Logger.Warn("scheduler: the release of a closed round failed", "round", id, "attempt", r.n,
				"next", r.at.Format(time.RFC3339), "err", oneLine(err.Error()))
			continue
		}
		s.mu.Lock()
		delete(s.releaseRetry, id)
		s.mu.Unlock()
		if done {
			s.o.Logger.Info("scheduler: released a closed round whose release was pending", "round", id)
		}
	}
	return nil
}

// Tick enqueues what is due now, idempotently: for every active program the
// launch of its latest scheduled period (only the latest: after downtime a
// missed period is caught up once, not once per missed period), and for
// every open round its close and, with email, its invitations.
func (s *Scheduler) Tick(ctx context.Context) error {
	db := s.svc.DB.WithContext(ctx)
	now := s.now()
	var st Settings
	if err := db.First(&st, 1).Error; err != nil {
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return nil // no organisation yet
		}
		return dbErr("scheduler tick", err)
	}
	loc, err := time.LoadLocation(st.TimeZone)
	if err != nil {
		return fmt.Errorf("survey: scheduler: time zone %q: %w", st.TimeZone, err)
	}
	var progs []Program
	if err := db.Where("active = ?", true).Order("id").Find(&progs).Error; err != nil {
		return dbErr("scheduler programs", err)
	}
	for i := range progs {
		p := &progs[i]
		occ, ok := LatestLaunch(p, loc, now)
		if !ok {
			continue
		}
		if err := enqueue(db, jobLaunch, launchKey(p.ID, occ), occ); err != nil {
			return err
		}
	}
	var open []Round
	if err := db.Where("status = ?", RoundOpen).Order("id").Find(&open).Error; err != nil {
		return dbErr("scheduler rounds", err)
	}
	for _, r := range open {
		if err := s.followUp(db, &r); err != nil {
			return err
		}
	}
	// Finished jobs are kept a while for diagnosis, then dropped.
	if err := db.Where("done_at < ?", now.Add(-90*24*time.Hour)).Delete(&Job{}).Error; err != nil {
		return dbErr("scheduler cleanup", err)
	}
	return nil
}

// followUp enqueues an open round's close and, with email, its invitations.
func (s *Scheduler) followUp(db *gorm.DB, r *Round) error {
	if err := enqueue(db, jobClose, fmt.Sprintf("close:round:%d", r.ID), r.ClosesAt); err != nil {
		return err
	}
	if s.o.Mailer != nil {
		return enqueue(db, jobFanout, fmt.Sprintf("fanout:round:%d", r.ID), s.now())
	}
	return nil
}

func launchKey(programID uint, occ time.Time) string {
	return fmt.Sprintf("launch:program:%d:%s", programID, occ.UTC().Format("2006-01-02T15:04Z"))
}

// enqueue adds a job unless one with the key exists. The look first spares
// the database a write (and PostgreSQL a sequence value) at every tick.
func enqueue(db *gorm.DB, kind, key string, runAt time.Time) error {
	var n int64
	if err := db.Model(&Job{}).Where("key = ?", key).Count(&n).Error; err != nil {
		return dbErr("enqueue "+key, err)
	}
	if n > 0 {
		return nil
	}
	err := db.Clauses(clause.OnConflict{Columns: []clause.Column{{Name: "key"}}, DoNothing: true}).
		Create(&Job{Kind: kind, Key: key, RunAt: runAt.UTC()}).Error
	return dbErr("enqueue "+key, err)
}

// Work runs due jobs until none is left and returns how many ran.
func (s *Scheduler) Work(ctx context.Context) (int, error) {
	n := 0
	for ctx.Err() == nil {
		jobs, err := s.claim(ctx, 10)
		if err != nil {
			return n, err
		}
		if len(jobs) == 0 {
			return n, nil
		}
		for i := range jobs {
			if err := s.run(ctx, &jobs[i]); err != nil {
				s.release(ctx, jobs[i+1:])
				return n, err
			}
			n++
		}
	}
	return n, ctx.Err()
}

// claim takes up to n due jobs: in one short transaction it selects them
// (PostgreSQL: FOR UPDATE SKIP LOCKED, so replicas take different jobs;
// SQLite: the write lock taken at BEGIN serialises claims) and sets a
// lease and a claim token on them.
func (s *Scheduler) claim(ctx context.Context, n int) ([]Job, error) {
	now := s.now()
	claim := randomToken(12)
	var jobs []Job
	err := tx(ctx, s.svc.DB, func(tx *gorm.DB) error {
		q := tx.Where("done_at IS NULL AND run_at <= ? AND (locked_until IS NULL OR locked_until < ?)", now, now).
			Order("run_at, id").Limit(n)
		if tx.Dialector.Name() == "postgres" {
			q = q.Clauses(clause.Locking{Strength: clause.LockingStrengthUpdate, Options: clause.LockingOptionsSkipLocked})
		}
		if err := q.Find(&jobs).Error; err != nil {
			return err
		}
		if len(jobs) == 0 {
			return nil
		}
		ids := make([]uint, len(jobs))
		for i := range jobs {
			ids[i] = jobs[i].ID
			jobs[i].Attempts++
			jobs[i].Claim = claim
		}
		until := now.Add(s.o.Lease)
		return tx.Model(&Job{}).Where("id IN ?", ids).
			Updates(map[string]any{"locked_until": until, "claim": claim, "attempts": gorm.Expr("attempts + 1")}).Error
	})
	if err != nil {
		return nil, dbErr("claim jobs", err)
	}
	return jobs, nil
}

// release gives back claimed jobs that were not started (at shutdown), so
// other replicas need not wait for their lease.
func (s *Scheduler) release(ctx context.Context, jobs []Job) {
	if len(jobs) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	for _, j := range jobs {
		s.svc.DB.WithContext(ctx).Model(&Job{}).Where("id = ? AND claim = ?", j.ID, j.Claim).
			Updates(map[string]any{"locked_until": nil, "attempts": gorm.Expr("attempts - 1")})
	}
}

// outcome is how a job ended.
type outcome struct {
	status string // done, retry, later or failed
	reason string
}

// jobRun is one execution of a job. A handler may set after to write, in
// the transaction that completes the job, what must commit with it.
type jobRun struct {
	job   *Job
	after func(tx *gorm.DB, o outcome) error
}

// permanent marks an error that retrying cannot fix.
type permanent struct{ err error }

func (p permanent) Error() string { return p.err.Error() }
func (p permanent) Unwrap() error { return p.err }

// later puts a job back until at, without counting an attempt.
type later struct{ at time.Time }

func (l later) Error() string { return "not due until " + l.at.UTC().Format(time.RFC3339) }

// backoff is the wait before attempt n+1.
func backoff(attempt int) time.Duration {
	steps := []time.Duration{time.Minute, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour, 6 * time.Hour}
	if attempt < 1 {
		attempt = 1
	}
	if attempt > len(steps) {
		return steps[len(steps)-1]
	}
	return steps[attempt-1]
}

// run executes one claimed job and records its outcome. It returns an
// error only when the outcome could not be recorded.
func (s *Scheduler) run(ctx context.Context, j *Job) error {
	r := &jobRun{job: j}
	var err error
	switch j.Kind {
	case jobLaunch:
		err = s.runLaunch(ctx, r)
	case jobClose:
		err = s.runClose(ctx, r)
	case jobFanout:
		err = s.runFanout(ctx, r)
	case jobRemind:
		err = s.runRemind(ctx, r)
	case jobMail:
		err = s.runMail(ctx, r)
	default:
		err = permanent{fmt.Errorf("unknown job kind %q", j.Kind)}
	}
	if err != nil && ctx.Err() != nil {
		// Interrupted (shutting down): the outcome is unknown, leave the
		// job to its lease.
		return ctx.Err()
	}
	// A finished job is recorded even during shutdown, so a sent email is
	// not sent again.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	o := outcome{status: "done"}
	var wait later
	if errors.As(err, &wait) {
		o.status = "later"
	} else if err != nil {
		o.reason = oneLine(err.Error())
		var p permanent
		switch {
		case errors.As(err, &p) || j.Attempts >= s.o.MaxAttempts:
			o.status = "failed"
		default:
			o.status = "retry"
		}
		s.o.Logger.Warn("scheduler: job failed", "job", j.Key, "attempt", j.Attempts, "outcome", o.status, "err", o.reason)
	}
	now := s.now()
	upd := map[string]any{"locked_until": nil, "last_error": o.reason}
	switch o.status {
	case "retry":
		upd["run_at"] = now.Add(backoff(j.Attempts))
	case "later":
		upd["run_at"] = wait.at.UTC()
		upd["attempts"] = gorm.Expr("attempts - 1")
	default:
		upd["done_at"] = now
	}
	err = tx(rctx, s.svc.DB, func(tx *gorm.DB) error {
		res := tx.Model(&Job{}).Where("id = ? AND claim = ?", j.ID, j.Claim).Updates(upd)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return errLostClaim
		}
		if r.after != nil {
			return r.after(tx, o)
		}
		return nil
	})
	if errors.Is(err, errLostClaim) {
		s.o.Logger.Warn("scheduler: lease of a job ran out before it finished", "job", j.Key)
		return nil
	}
	return dbErr("complete job", err)
}

var errLostClaim = errors.New("the job's lease ran out and another worker took it")

// stillMine re-checks the claim before an action that must not be doubled.
func (s *Scheduler) stillMine(ctx context.Context, j *Job) error {
	var n int64
	if err := s.svc.DB.WithContext(ctx).Model(&Job{}).Where("id = ? AND claim = ? AND done_at IS NULL", j.ID, j.Claim).Count(&n).Error; err != nil {
		return err
	}
	if n == 0 {
		return errLostClaim
	}
	return nil
}

// runLaunch opens the round of one scheduled period, unless the program is
// paused, a round of it is open, or one was launched in this period already
// (by hand, or before a restart).
func (s *Scheduler) runLaunch(ctx context.Context, r *jobRun) error {
	parts := strings.Split(r.job.Key, ":")
	if len(parts) < 4 {
		return permanent{fmt.Errorf("bad launch key %q", r.job.Key)}
	}
	pid, err := strconv.ParseUint(parts[2], 10, 32)
	if err != nil {
		return permanent{fmt.Errorf("bad launch key %q", r.job.Key)}
	}
	occ, err := time.Parse("2006-01-02T15:04Z", strings.Join(parts[3:], ":"))
	if err != nil {
		return permanent{fmt.Errorf("bad launch key %q", r.job.Key)}
	}
	db := s.svc.DB.WithContext(ctx)
	var p Program
	if err := db.First(&p, pid).Error; err != nil {
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return nil
		}
		return err
	}
	if !p.Active {
		return nil
	}
	var n int64
	if err := db.Model(&Round{}).Where("program_id = ? AND (status = ? OR opens_at >= ?)", p.ID, RoundOpen, occ).Count(&n).Error; err != nil {
		return err
	}
	if n > 0 {
		return nil
	}
	round, err := s.svc.Rounds.Launch(ctx, p.ID)
	if err != nil {
		if errors.Is(err, ErrConflict) || errors.Is(err, ErrNotFound) {
			// Too few people, no teams, or a concurrent launch: the period
			// is skipped, the reason stays on the job.
			return permanent{err}
		}
		return err
	}
	s.o.Logger.Info("scheduler: launched a round", "program", p.ID, "round", round.ID, "number", round.Number)
	return s.followUp(db, round)
}

// runClose closes a round whose time is up; Close writes its release. A
// release that fails leaves the round marked, and ReleasePending retries
// it, so the close job itself is done once the round is closed.
func (s *Scheduler) runClose(ctx context.Context, r *jobRun) error {
	id, err := keyID(r.job.Key, 2)
	if err != nil {
		return permanent{err}
	}
	round, err := s.svc.Rounds.Round(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	switch {
	case round.Status == RoundOpen && s.now().Before(round.ClosesAt):
		// Not yet: the close time moved. Wait for it.
		return later{round.ClosesAt}
	case round.Status == RoundOpen:
		err := s.svc.Rounds.Close(ctx, id)
		switch {
		case err == nil:
			s.o.Logger.Info("scheduler: closed a round", "round", id)
		case errors.Is(err, ErrReleasePending):
			s.o.Logger.Warn("scheduler: closed a round; its release failed and will be retried", "round", id, "err", oneLine(err.Error()))
			return nil
		case errors.Is(err, ErrConflict):
			return nil // closed meanwhile
		}
		return err
	}
	return nil
}

// keyID reads the number at position i of a colon-separated job key.
func keyID(key string, i int) (uint, error) {
	parts := strings.Split(key, ":")
	if len(parts) <= i {
		return 0, fmt.Errorf("bad job key %q", key)
	}
	n, err := strconv.ParseUint(parts[i], 10, 32)
	if err != nil || n == 0 {
		return 0, fmt.Errorf("bad job key %q", key)
	}
	return uint(n), nil
}

// runFanout enqueues one invitation per invitee and the two reminder
// fan-outs, all committed with the fan-out job itself.
func (s *Scheduler) runFanout(ctx context.Context, r *jobRun) error {
	id, err := keyID(r.job.Key, 2)
	if err != nil {
		return permanent{err}
	}
	round, err := s.svc.Rounds.Round(ctx, id)
	if err != nil {
		return err
	}
	if round.Status != RoundOpen {
		return nil
	}
	now := s.now()
	r.after = func(tx *gorm.DB, o outcome) error {
		if o.status != "done" {
			return nil
		}
		var invs []Invitation
		if err := tx.Select("id, person_id").Where("round_id = ?", id).Order("id").Find(&invs).Error; err != nil {
			return err
		}
		if err := s.queueMail(tx, round.ID, DeliveryInv, invs, now); err != nil {
			return err
		}
		window := round.ClosesAt.Sub(round.OpensAt)
		for i, f := range reminderAt {
			at := round.OpensAt.Add(time.Duration(f * float64(window)))
			if err := enqueue(tx, jobRemind, fmt.Sprintf("remind%d:round:%d", i+1, id), at); err != nil {
				return err
			}
		}
		return nil
	}
	return nil
}

// queueMail adds one mail job and one queued delivery per invitation.
func (s *Scheduler) queueMail(tx *gorm.DB, roundID uint, kind string, invs []Invitation, now time.Time) error {
	if len(invs) == 0 {
		return nil
	}
	jobs := make([]Job, len(invs))
	dels := make([]Delivery, len(invs))
	for i, inv := range invs {
		jobs[i] = Job{Kind: jobMail, Key: fmt.Sprintf("%s:round:%d:person:%d", kind, roundID, inv.PersonID), RunAt: now}
		dels[i] = Delivery{InvitationID: inv.ID, Kind: kind, RoundID: roundID, Status: DeliveryQueued, UpdatedAt: now}
	}
	if err := tx.Clauses(clause.OnConflict{Columns: []clause.Column{{Name: "key"}}, DoNothing: true}).CreateInBatches(jobs, 500).Error; err != nil {
		return err
	}
	return tx.Clauses(clause.OnConflict{Columns: []clause.Column{{Name: "invitation_id"}, {Name: "kind"}}, DoNothing: true}).
		CreateInBatches(dels, 500).Error
}

// runRemind enqueues a reminder for every invitee of an open round whose
// link was not used yet and whose invitation went out.
func (s *Scheduler) runRemind(ctx context.Context, r *jobRun) error {
	id, err := keyID(r.job.Key, 2)
	if err != nil {
		return permanent{err}
	}
	kind := strings.SplitN(r.job.Key, ":", 2)[0]
	round, err := s.svc.Rounds.Round(ctx, id)
	if err != nil {
		return err
	}
	now := s.now()
	if round.Status != RoundOpen || !now.Before(round.ClosesAt) {
		return nil
	}
	r.after = func(tx *gorm.DB, o outcome) error {
		if o.status != "done" {
			return nil
		}
		var invs []Invitation
		err := tx.Select("invitations.id, invitations.person_id").
			Joins("JOIN deliveries d ON d.invitation_id = invitations.id AND d.kind = ? AND d.status = ?", DeliveryInv, DeliverySent).
			Where("invitations.round_id = ? AND invitations.token_issued = ?", id, false).
			Order("invitations.id").Find(&invs).Error
		if err != nil {
			return err
		}
		return s.queueMail(tx, id, kind, invs, now)
	}
	return nil
}

// runMail sends one invitation or reminder. Reminders are re-checked at
// send time: none once the link was used or the round closed.
//
// Delivery is at least once, as close to exactly once as SMTP allows: the
// delivery is marked "sending" under the job's lease before the SMTP
// transaction and "sent" in the same database transaction that completes
// the job. Only if the process dies after the server accepted the message
// and before that commit does the job run again when the lease ends, and
// the invitee gets the same message (same Message-ID) a second time.
func (s *Scheduler) runMail(ctx context.Context, r *jobRun) error {
	parts := strings.Split(r.job.Key, ":")
	if len(parts) != 5 {
		return permanent{fmt.Errorf("bad mail key %q", r.job.Key)}
	}
	kind := parts[0]
	roundID, err1 := keyID(r.job.Key, 2)
	personID, err2 := keyID(r.job.Key, 4)
	if err := errors.Join(err1, err2); err != nil {
		return permanent{err}
	}
	db := s.svc.DB.WithContext(ctx)
	var inv Invitation
	if err := db.Where("round_id = ? AND person_id = ?", roundID, personID).First(&inv).Error; err != nil {
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return permanent{errors.New("no such invitation")}
		}
		return err
	}
	setDelivery := func(status, reason string) func(tx *gorm.DB, o outcome) error {
		return func(tx *gorm.DB, o outcome) error {
			st, rs := status, reason
			switch o.status {
			case "later":
				return nil
			case "retry":
				st, rs = DeliveryQueued, "will retry: "+o.reason
			case "failed":
				st, rs = DeliveryFailed, o.reason
			}
			return tx.Model(&Delivery{}).Where("invitation_id = ? AND kind = ?", inv.ID, kind).
				Updates(map[string]any{"status": st, "reason": rs, "updated_at": s.now()}).Error
		}
	}
	skip := func(reason string) error {
		r.after = setDelivery(DeliverySkipped, reason)
		return nil
	}
	r.after = setDelivery(DeliverySent, "")
	if s.o.Mailer == nil {
		return skip("email is not configured")
	}
	round, err := s.svc.Rounds.Round(ctx, roundID)
	if err != nil {
		return err
	}
	now := s.now()
	if round.Status != RoundOpen || !now.Before(round.ClosesAt) {
		return skip("the round closed before this email went out")
	}
	if kind != DeliveryInv && inv.TokenIssued {
		return skip("not needed: the link was used")
	}
	e, err := s.compose(ctx, kind, round, &inv)
	if err != nil {
		return err
	}
	// Mark "sending" under the lease; refuse if the lease was lost.
	err = tx(ctx, s.svc.DB, func(tx *gorm.DB) error {
		res := tx.Model(&Job{}).Where("id = ? AND claim = ? AND done_at IS NULL", r.job.ID, r.job.Claim).Update("claim", r.job.Claim)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return errLostClaim
		}
		return tx.Model(&Delivery{}).Where("invitation_id = ? AND kind = ?", inv.ID, kind).
			Updates(map[string]any{"status": DeliverySending, "attempts": gorm.Expr("attempts + 1"), "updated_at": now}).Error
	})
	if err != nil {
		return err
	}
	if err := s.o.Mailer.Send(ctx, *e); err != nil {
		var me *MailError
		if errors.As(err, &me) && !me.Temporary {
			return permanent{err}
		}
		return err
	}
	return nil
}

// compose renders the email of one invitation. It holds the invitee's own
// link, the close date in the organisation's time zone and the key
// manifest fingerprint, nothing about answers or other people.
func (s *Scheduler) compose(ctx context.Context, kind string, round *Round, inv *Invitation) (*Email, error) {
	if s.svc.Rounds.keys == nil {
		return nil, permanent{errors.New("no keyring: links cannot be derived")}
	}
	db := s.svc.DB.WithContext(ctx)
	var st Settings
	if err := db.First(&st, 1).Error; err != nil {
		return nil, err
	}
	loc, err := time.LoadLocation(st.TimeZone)
	if err != nil {
		loc = time.UTC
	}
	var person Person
	if err := db.First(&person, inv.PersonID).Error; err != nil {
		return nil, err
	}
	var prog Program
	if err := db.First(&prog, round.ProgramID).Error; err != nil {
		return nil, err
	}
	hash, err := s.manifestHash(ctx, round.ID)
	if err != nil {
		return nil, err
	}
	tk := MailInvite
	d := MailData{OrgName: st.Name, RecipientName: person.Name, ProgramName: prog.Name, RoundNumber: round.Number,
		Link:         s.o.BaseURL + "/s/" + s.svc.Rounds.keys.linkSecret(round.ID, inv.PersonID),
		ClosesAt:     round.ClosesAt.In(loc).Format("Monday, 2 January 2006, 15:04 MST"),
		ManifestHash: hash}
	switch kind {
	case DeliveryR1:
		tk, d.Reminder = MailRemind, 1
	case DeliveryR2:
		tk, d.Reminder = MailRemind, 2
	}
	t, err := s.svc.MailTemplate(ctx, tk)
	if err != nil {
		return nil, err
	}
	subject, text, html, err := renderMail(t, d)
	if err != nil {
		return nil, permanent{fmt.Errorf("email template %s: %w", tk, err)}
	}
	return &Email{To: person.Email, ToName: person.Name, Subject: subject, Text: text, HTML: html,
		MessageID: hashToken(fmt.Sprintf("%s|%d|%d", kind, round.ID, inv.PersonID))[:32] + "@" + s.host}, nil
}

func (s *Scheduler) manifestHash(ctx context.Context, roundID uint) (string, error) {
	s.mu.Lock()
	h, ok := s.manifests[roundID]
	s.mu.Unlock()
	if ok {
		return h, nil
	}
	_, h, err := s.svc.Rounds.Manifest(ctx, roundID)
	if err != nil {
		return "", err
	}
	s.mu.Lock()
	s.manifests[roundID] = h
	s.mu.Unlock()
	return h, nil
}

// DeliveryCount is how many emails of one kind have one status.
type DeliveryCount struct {
	Kind   string
	Status string
	N      int
}

// DeliveryFailure is one email that could not be delivered.
type DeliveryFailure struct {
	Kind      string
	Email     string
	Name      string
	Reason    string
	Attempts  int
	UpdatedAt time.Time
}

// DeliveryReport is the email status of one round for admins: counts and
// the failures with their reasons. It never lists who was reminded.
type DeliveryReport struct {
	Round   Round
	Emailed bool
	Counts  []DeliveryCount
	Failed  []DeliveryFailure
}

// RoundEmailed reports whether Pulse emails a round's invitations (its
// invitation fan-out was scheduled). Links of such a round are not exported.
func (s *Services) RoundEmailed(ctx context.Context, roundID uint) (bool, error) {
	var n int64
	if err := s.DB.WithContext(ctx).Model(&Job{}).Where("key = ?", fmt.Sprintf("fanout:round:%d", roundID)).Count(&n).Error; err != nil {
		return false, dbErr("round emailed", err)
	}
	return n > 0, nil
}

// DeliveryReport returns the email status of a round.
func (s *Services) DeliveryReport(ctx context.Context, roundID uint) (*DeliveryReport, error) {
	r, err := s.Rounds.Round(ctx, roundID)
	if err != nil {
		return nil, err
	}
	rep := &DeliveryReport{Round: *r}
	if rep.Emailed, err = s.RoundEmailed(ctx, roundID); err != nil {
		return nil, err
	}
	db := s.DB.WithContext(ctx)
	if err := db.Model(&Delivery{}).Select("kind, status, COUNT(*) AS n").Where("round_id = ?", roundID).
		Group("kind, status").Order("kind, status").Scan(&rep.Counts).Error; err != nil {
		return nil, dbErr("delivery counts", err)
	}
	if err := db.Table("deliveries d").Select("d.kind, people.email, people.name, d.reason, d.attempts, d.updated_at").
		Joins("JOIN invitations i ON i.id = d.invitation_id").Joins("JOIN people ON people.id = i.person_id").
		Where("d.round_id = ? AND d.status = ?", roundID, DeliveryFailed).Order("people.email, d.kind").
		Scan(&rep.Failed).Error; err != nil {
		return nil, dbErr("delivery failures", err)
	}
	return rep, nil
}
