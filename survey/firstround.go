package survey

import "context"

// FirstRound is how far the organisation is on the way to its first
// round, read from the database each time (nothing is stored about it):
// the admin home shows it as a checklist.
type FirstRound struct {
	// People is the number of active people (invitees of a round).
	People int
	// Leaders counts leader accounts and leader invitations, used or not.
	Leaders int
	// Programs is the number of programs.
	Programs int
	// Launched is the number of rounds launched so far.
	Launched int
	// Shared: the links of some round reached people, as far as Pulse can
	// know: it emailed a round's invitations (email on at launch), or an
	// admin downloaded a round's links CSV (the audit log records every
	// download).
	Shared bool
	// OpenRound is the newest open round (0 when none), whose delivery page
	// has its links.
	OpenRound uint
}

// Done reports whether every step is done.
func (f *FirstRound) Done() bool {
	return f.People > 0 && f.Leaders > 0 && f.Programs > 0 && f.Launched > 0 && f.Shared
}

// FirstRound reads the first-round checklist's state.
func (s *Services) FirstRound(ctx context.Context) (*FirstRound, error) {
	db := s.DB.WithContext(ctx)
	var out FirstRound
	var n int64
	if err := db.Model(&Person{}).Where("active = ?", true).Count(&n).Error; err != nil {
		return nil, dbErr("first round", err)
	}
	out.People = int(n)
	var users, invites int64
	if err := db.Model(&User{}).Where("role = ?", RoleLeader).Count(&users).Error; err != nil {
		return nil, dbErr("first round", err)
	}
	if err := db.Model(&AccountInvite{}).Where("role = ?", RoleLeader).Count(&invites).Error; err != nil {
		return nil, dbErr("first round", err)
	}
	out.Leaders = int(users + invites)
	if err := db.Model(&Program{}).Count(&n).Error; err != nil {
		return nil, dbErr("first round", err)
	}
	out.Programs = int(n)
	if err := db.Model(&Round{}).Where("launched_at IS NOT NULL").Count(&n).Error; err != nil {
		return nil, dbErr("first round", err)
	}
	out.Launched = int(n)
	var emailed, exported int64
	if err := db.Model(&Job{}).Where("key LIKE ?", "fanout:round:%").Count(&emailed).Error; err != nil {
		return nil, dbErr("first round", err)
	}
	if err := db.Model(&AuditEntry{}).Where("action = ?", AuditLinksExport).Count(&exported).Error; err != nil {
		return nil, dbErr("first round", err)
	}
	out.Shared = emailed+exported > 0
	var open []uint
	if err := db.Model(&Round{}).Where("status = ?", RoundOpen).Order("id DESC").Limit(1).Pluck("id", &open).Error; err != nil {
		return nil, dbErr("first round", err)
	}
	if len(open) > 0 {
		out.OpenRound = open[0]
	}
	return &out, nil
}
