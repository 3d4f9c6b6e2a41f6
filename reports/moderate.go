package reports

import (
	"context"
	"fmt"

	"gorm.io/gorm"

	"github.com/pulse-survey/pulse/survey"
)

// Moderator is the admin's comment review queue. Admins release or redact
// a held comment; they never rewrite it.
type Moderator struct {
	DB *gorm.DB
}

// HeldComment is a comment waiting for review, with its unit's name.
type HeldComment struct {
	ID       string
	RoundID  uint
	UnitName string
	Text     string
}

// Held lists comments waiting for review.
func (m *Moderator) Held(ctx context.Context) ([]HeldComment, error) {
	var out []HeldComment
	err := m.DB.WithContext(ctx).Table("release_comments c").
		Select("c.id, c.round_id, u.name AS unit_name, c.text").
		Joins("JOIN release_units u ON u.round_id = c.round_id AND u.unit_id = c.unit_id").
		Where("c.status = ?", CommentHeld).Order("c.round_id, c.id").Scan(&out).Error
	if err != nil {
		return nil, fmt.Errorf("reports: held comments: %w", err)
	}
	return out, nil
}

// Decide releases a held comment as written, or redacts it (it is then
// never shown).
func (m *Moderator) Decide(ctx context.Context, id string, release bool) error {
	status := CommentRedacted
	if release {
		status = CommentReleased
	}
	res := m.DB.WithContext(ctx).Model(&ReleaseComment{}).Where("id = ? AND status = ?", id, CommentHeld).Update("status", status)
	if res.Error != nil {
		return fmt.Errorf("reports: decide comment: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("reports: comment %s: %w", id, survey.ErrNotFound)
	}
	return nil
}
