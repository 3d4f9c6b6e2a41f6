package api

import (
	"context"
	"fmt"
)

// checkStep is one step of the first-round checklist on the admin home.
type checkStep struct {
	Title, Href, Detail string
	Done                bool
}

// checklist is the first-round checklist: each step's state is read from
// the database at every view (survey.Services.FirstRound).
type checklist struct {
	Steps []checkStep
	Left  int // steps not done
}

func (s *Server) firstRoundChecklist(ctx context.Context) (*checklist, error) {
	f, err := s.svc.FirstRound(ctx)
	if err != nil {
		return nil, err
	}
	count := func(n int, one, many, none string) string {
		switch n {
		case 0:
			return none
		case 1:
			return fmt.Sprintf("1 %s.", one)
		}
		return fmt.Sprintf("%d %s.", n, many)
	}
	program := "/admin/programs/new"
	if f.Programs > 0 {
		program = "/admin/programs"
	}
	links := "/admin/rounds"
	if f.OpenRound != 0 {
		links = fmt.Sprintf("/admin/rounds/%d/delivery", f.OpenRound)
	}
	cl := &checklist{Steps: []checkStep{
		{Title: "Import people", Href: "/admin/roster", Done: f.People > 0,
			Detail: count(f.People, "active person", "active people", "Upload the roster as a CSV file: each person's email, name and team.")},
		{Title: "Invite leaders", Href: "/admin/leaders", Done: f.Leaders > 0,
			Detail: count(f.Leaders, "leader account or invitation", "leader accounts or invitations",
				"Send each leader a one-time link and choose the teams whose reports they may see.")},
		{Title: "Create a program", Href: program, Done: f.Programs > 0,
			Detail: count(f.Programs, "program", "programs", "It starts paused, with each dimension's core statement and one statement per facet.")},
		{Title: "Launch a round", Href: "/admin/rounds", Done: f.Launched > 0,
			Detail: count(f.Launched, "round launched", "rounds launched",
				"Tick Active on the program and save, then launch a round now from Rounds or let the schedule launch it.")},
		{Title: "Share the links", Href: links, Done: f.Shared,
			Detail: "With email set up, Pulse emails each round's invitations; without it, download the open round's links CSV " +
				"and send each person their own link."},
	}}
	if f.Shared {
		cl.Steps[4].Detail = "A round's links went out: emailed by Pulse, or downloaded as a CSV file (see the audit log)."
	}
	for _, st := range cl.Steps {
		if !st.Done {
			cl.Left++
		}
	}
	return cl, nil
}
