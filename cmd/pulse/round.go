package main

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/pulse-survey/pulse/survey"
)

const roundUsage = `Usage: pulse round <action> [--program ID | --round ID] [flags]

Actions:
  list                    list rounds with participation counts
  launch [--program ID]   open a new round now (default: the only active program)
  close --round ID        close an open round: shuffle the ballot box into the results, destroy its keys
  links --round ID        print the personal survey links of an open round as CSV (email,name,link)
  release [--round ID]    recompute the frozen release of a closed round (default: every closed round)
`

// roundArgs takes the round command's own flags out of args; the rest are
// configuration flags.
func roundArgs(args []string) (action string, ids map[string]uint, rest []string, err error) {
	ids = map[string]uint{}
	if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
		return "help", ids, nil, nil
	}
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		return "", nil, nil, fmt.Errorf("round: name an action: list, launch, close, links or release")
	}
	action = args[0]
	for i := 1; i < len(args); i++ {
		a := args[i]
		name, val, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !strings.HasPrefix(a, "-") || (name != "program" && name != "round") {
			rest = append(rest, a)
			continue
		}
		if !hasVal {
			if i+1 >= len(args) {
				return "", nil, nil, fmt.Errorf("round: --%s needs an id", name)
			}
			i++
			val = args[i]
		}
		n, perr := strconv.ParseUint(val, 10, 32)
		if perr != nil || n == 0 {
			return "", nil, nil, fmt.Errorf("round: --%s %q is not an id (a positive number)", name, val)
		}
		ids[name] = uint(n)
	}
	return action, ids, rest, nil
}

func runRound(ctx context.Context, svc *survey.Services, cfg *Config, action string, ids map[string]uint, out io.Writer) error {
	switch action {
	case "list":
		rs, err := svc.Rounds.Rounds(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(out, 2, 8, 2, ' ', 0)
		fmt.Fprintln(tw, "ROUND\tPROGRAM\tNUMBER\tSTATUS\tCLOSES (UTC)\tINVITED\tTOKENS ISSUED")
		for _, r := range rs {
			status := r.Status
			if r.ReleasePending {
				status += ", release pending"
			}
			fmt.Fprintf(tw, "%d\t%s\t%d\t%s\t%s\t%d\t%d\n", r.ID, r.ProgramName, r.Number, status,
				r.ClosesAt.UTC().Format("2006-01-02 15:04"), r.Invited, r.TokensIssued)
		}
		return tw.Flush()
	case "launch":
		pid := ids["program"]
		if pid == 0 {
			ps, err := svc.Programs.Programs(ctx)
			if err != nil {
				return err
			}
			var active []survey.Program
			for _, p := range ps {
				if p.Active {
					active = append(active, p)
				}
			}
			if len(active) != 1 {
				return fmt.Errorf("round launch: there are %d active programs; choose one with --program ID", len(active))
			}
			pid = active[0].ID
		}
		r, err := svc.Rounds.Launch(ctx, pid)
		if err != nil {
			return fmt.Errorf("round launch: %w", err)
		}
		fmt.Fprintf(out, "launched round %d (number %d of program %d), open until %s UTC\n", r.ID, r.Number, pid,
			r.ClosesAt.UTC().Format("2006-01-02 15:04"))
		fmt.Fprintf(out, "personal links: pulse round links --round %d\n", r.ID)
		return nil
	case "close":
		if ids["round"] == 0 {
			return fmt.Errorf("round close: name the round with --round ID (see pulse round list)")
		}
		if err := svc.Rounds.Close(ctx, ids["round"]); err != nil {
			return fmt.Errorf("round close: %w", err)
		}
		fmt.Fprintf(out, "closed round %d: ballots shuffled into the results, signing keys destroyed\n", ids["round"])
		return nil
	case "links":
		if ids["round"] == 0 {
			return fmt.Errorf("round links: name the round with --round ID (see pulse round list)")
		}
		links, err := svc.Rounds.Links(ctx, ids["round"])
		if err != nil {
			return fmt.Errorf("round links: %w", err)
		}
		w := csv.NewWriter(out)
		w.Write([]string{"email", "name", "link"})
		for _, l := range links {
			w.Write([]string{l.Email, l.Name, cfg.BaseURL + "/s/" + l.Secret})
		}
		w.Flush()
		return w.Error()
	case "release":
		todo := []uint{ids["round"]}
		if todo[0] == 0 {
			rs, err := svc.Rounds.Rounds(ctx)
			if err != nil {
				return err
			}
			todo = todo[:0]
			for i := len(rs) - 1; i >= 0; i-- {
				if rs[i].Status == survey.RoundClosed {
					todo = append(todo, rs[i].ID)
				}
			}
		}
		for _, id := range todo {
			if err := svc.Rounds.Release(ctx, id); err != nil {
				return fmt.Errorf("round release: %w", err)
			}
			fmt.Fprintf(out, "released round %d\n", id)
		}
		return nil
	}
	return fmt.Errorf("round: unknown action %q (list, launch, close, links or release)", action)
}
