package survey_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/pulse-survey/pulse/survey"
)

// TestMoveTeamConcurrentNoCycle moves two sibling teams under each other at
// the same time. Each move alone is valid; together they would make a cycle
// that detaches both from the root (and makes Tree.IsAncestor loop forever).
// At most one may win.
func TestMoveTeamConcurrentNoCycle(t *testing.T) {
	e := newOrgEnv(t)
	root := e.root()
	for i := 0; i < 20; i++ {
		a := e.team(root, fmt.Sprintf("A%d", i))
		b := e.team(root, fmt.Sprintf("B%d", i))
		var (
			wg    sync.WaitGroup
			start = make(chan struct{})
			errs  [2]error
		)
		for j, mv := range [2][2]uint{{a, b}, {b, a}} {
			wg.Add(1)
			go func(j int, id, parent uint) {
				defer wg.Done()
				<-start
				_, errs[j] = e.svc.Org.MoveTeam(e.ctx, id, parent)
			}(j, mv[0], mv[1])
		}
		close(start)
		wg.Wait()
		for _, err := range errs {
			if err != nil && !errors.Is(err, survey.ErrConflict) {
				t.Fatalf("round %d: unexpected error %v", i, err)
			}
		}
		tr := e.tree()
		if len(tr.Order) != len(tr.ByID) {
			// Do not call MoveTeam again: IsAncestor would spin on the cycle.
			t.Fatalf("round %d: both moves won (errors %v, %v): teams %d and %d form a cycle; %d of %d teams are reachable from the root",
				i, errs[0], errs[1], a, b, len(tr.Order), len(tr.ByID))
		}
		if errs[0] == nil && errs[1] == nil {
			t.Fatalf("round %d: both moves succeeded", i)
		}
	}
}

// TestCreateTeamConcurrentDuplicate creates the same team under the same
// parent from several goroutines: the sibling-name rule must hold under
// concurrency too.
func TestCreateTeamConcurrentDuplicate(t *testing.T) {
	e := newOrgEnv(t)
	root := e.root()
	const n = 8
	for i := 0; i < 5; i++ {
		name := fmt.Sprintf("Ops %d", i)
		var (
			wg    sync.WaitGroup
			start = make(chan struct{})
			errs  = make([]error, n)
		)
		for j := 0; j < n; j++ {
			wg.Add(1)
			go func(j int) {
				defer wg.Done()
				<-start
				_, errs[j] = e.svc.Org.CreateTeam(e.ctx, root, name)
			}(j)
		}
		close(start)
		wg.Wait()
		won := 0
		for _, err := range errs {
			switch {
			case err == nil:
				won++
			case errors.Is(err, survey.ErrConflict):
			default:
				t.Fatalf("unexpected error %v", err)
			}
		}
		if won != 1 {
			t.Fatalf("%d concurrent CreateTeam(%q) succeeded, want exactly 1", won, name)
		}
	}
}

// TestArchiveTeamConcurrentAdd archives a team while a sub-team and a
// person are added to it. Whatever wins, an archived team must end up
// with no active sub-teams and no active people.
func TestArchiveTeamConcurrentAdd(t *testing.T) {
	e := newOrgEnv(t)
	root := e.root()
	for i := 0; i < 20; i++ {
		p := e.team(root, fmt.Sprintf("P%d", i))
		var (
			wg    sync.WaitGroup
			start = make(chan struct{})
			errs  [3]error
		)
		ops := []func() error{
			func() error { return e.svc.Org.ArchiveTeam(e.ctx, p) },
			func() error { _, err := e.svc.Org.CreateTeam(e.ctx, p, "Child"); return err },
			func() error {
				_, err := e.svc.Org.CreatePerson(e.ctx, survey.PersonInput{
					Email: fmt.Sprintf("p%d@example.com", i), Name: "P", TeamID: p, Active: true})
				return err
			},
		}
		for j, op := range ops {
			wg.Add(1)
			go func(j int, op func() error) {
				defer wg.Done()
				<-start
				errs[j] = op()
			}(j, op)
		}
		close(start)
		wg.Wait()
		tr := e.tree()
		node := tr.ByID[p]
		if node.ArchivedAt == nil {
			continue
		}
		for _, c := range node.Children {
			if c.ArchivedAt == nil {
				t.Fatalf("round %d: archived team %d has the active sub-team %d (errors %v)", i, p, c.ID, errs)
			}
		}
		if node.People != 0 {
			t.Fatalf("round %d: archived team %d has %d active people (errors %v)", i, p, node.People, errs)
		}
	}
}
