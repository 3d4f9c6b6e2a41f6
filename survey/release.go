package survey

import (
	"context"
	"errors"
	"fmt"

	"gorm.io/gorm"
)

// Releaser computes the frozen release of a closed round; package reports
// implements it. Survey runs it inside the transaction that also clears the
// round's ReleasePending mark, so a round either has its release and owes
// nothing, or has none and still owes it.
type Releaser interface {
	ReleaseRound(ctx context.Context, tx *gorm.DB, roundID uint) error
}

// ErrReleasePending means a round closed but its release did not complete.
// The round keeps its ReleasePending mark; the scheduler completes the
// release at its next pass, or at the next start.
var ErrReleasePending = errors.New("the round is closed but its release is still pending")

var errNoReleaser = errors.New("no releaser configured: closed rounds cannot be released")

// Release computes (or recomputes) the frozen release of a closed round
// now and clears its pending mark. It is idempotent.
func (s *RoundService) Release(ctx context.Context, roundID uint) error {
	_, err := s.release(ctx, roundID, false)
	return err
}

// release runs the releaser in one transaction, with the round locked
// against concurrent closes and releases. With onlyPending it does nothing
// unless the round still owes its release (another replica, or the close
// itself, may have written it meanwhile). It reports whether it released.
func (s *RoundService) release(ctx context.Context, roundID uint, onlyPending bool) (bool, error) {
	if s.releaser == nil {
		return false, fmt.Errorf("survey: release: %w", errNoReleaser)
	}
	done := false
	err := tx(ctx, s.db, func(tx *gorm.DB) error {
		r, err := lockRound(tx, roundID, true)
		if err != nil {
			return err
		}
		if r.Status != RoundClosed {
			return Conflict(fmt.Sprintf("round %d is %s: results are released only after a round closes", roundID, r.Status))
		}
		if onlyPending && !r.ReleasePending {
			return nil
		}
		if err := s.releaser.ReleaseRound(ctx, tx, roundID); err != nil {
			return err
		}
		done = true
		if !r.ReleasePending {
			return nil
		}
		// UpdateColumn: the mark is bookkeeping, not an edit of the round.
		return tx.Model(&Round{}).Where("id = ?", roundID).UpdateColumn("release_pending", false).Error
	})
	if err != nil {
		return false, dbErr("release", err)
	}
	return done, nil
}

// pendingReleases lists the closed rounds that still owe their release,
// oldest first.
func (s *RoundService) pendingReleases(ctx context.Context) ([]uint, error) {
	var ids []uint
	err := s.db.WithContext(ctx).Model(&Round{}).Where("status = ? AND release_pending = ?", RoundClosed, true).
		Order("id").Pluck("id", &ids).Error
	return ids, dbErr("pending releases", err)
}
