package demo

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"sync/atomic"
	"time"

	"github.com/pulse-survey/pulse/survey"
)

// HistoryRounds is how many closed biweekly rounds the demo replays: a year.
const HistoryRounds = 26

// Progress reports how far history generation is; the home page shows it.
type Progress struct {
	done  atomic.Int32
	total atomic.Int32
}

// Done and Total are closed rounds so far and rounds to generate.
func (p *Progress) Done() int  { return int(p.done.Load()) }
func (p *Progress) Total() int { return int(p.total.Load()) }

// Finished reports whether the history is complete.
func (p *Progress) Finished() bool { return p.total.Load() > 0 && p.done.Load() >= p.total.Load() }

// trend is a team's latent mean per dimension at round t (0..HistoryRounds).
type trend func(dim string, t int) float64

// base levels: purpose highest, then mastery, then autonomy, as the article expects.
func base(dim string) float64 {
	switch dim {
	case survey.DimPurpose:
		return 3.9
	case survey.DimMastery:
		return 3.6
	case survey.DimAutonomy:
		return 3.3
	}
	return 3.7
}

func step(t, at int, before, after float64) float64 {
	if t < at {
		return before
	}
	return after
}

// stories give some teams a visible trend; the rest wander a little.
var stories = map[string]trend{
	// Autonomy rises after the team starts owning its roadmap.
	"Platform": func(d string, t int) float64 {
		if d == survey.DimAutonomy {
			return step(t, 14, 3.1, 4.1)
		}
		return base(d) + 0.2
	},
	// Strong mastery, autonomy lags: ready for more autonomy.
	"Mobile": func(d string, t int) float64 {
		switch d {
		case survey.DimMastery:
			return 4.25
		case survey.DimAutonomy:
			return 2.9
		}
		return base(d)
	},
	// Training budget cut: mastery falls while autonomy stays high, until
	// training comes back in the latest round.
	"Support EMEA": func(d string, t int) float64 {
		switch d {
		case survey.DimMastery:
			if t >= HistoryRounds-1 {
				return 4.1
			}
			return step(t, 12, 3.9, 3.0)
		case survey.DimAutonomy:
			return 3.9
		}
		return base(d)
	},
	// A reorganisation shakes purpose late in the year.
	"Customer Success": func(d string, t int) float64 {
		if d == survey.DimPurpose {
			return step(t, 20, 4.1, 3.3)
		}
		return base(d)
	},
}

var comments = map[string][]string{
	survey.DimPurpose: {
		"I am not sure how my work connects to the company goals any more.",
		"The all-hands about our mission really helped. More of that, please.",
		"Since the reorganisation it is unclear what we are trying to achieve.",
		"I believe in what we are building for our customers.",
	},
	survey.DimMastery: {
		"We used to have a training budget; now there is no time to learn anything.",
		"Pairing sessions have made me much more confident.",
		"I would like more regular one-on-ones to talk about how I can grow.",
		"Mistakes are discussed openly here and we learn from them.",
	},
	survey.DimAutonomy: {
		"Every small decision needs sign-off, which slows us down.",
		"Owning our own roadmap has made a huge difference.",
		"Flexible hours would help me a lot with school pick-ups.",
		"I get to choose how I solve problems, and I appreciate that.",
	},
	survey.DimEngagement: {
		"Good place to work overall.",
		"Workload has been too high for months.",
	},
}

// person of the demo: their team name decides their trend.
type member struct {
	team string
	bias float64 // some people are more positive than others
}

// History replays HistoryRounds closed biweekly rounds through the real
// pipeline (launch, token issuance with a Go client, submission, close),
// then launches one open round. It resumes where an interrupted run
// stopped. It returns a survey link of the open round for a newcomer.
func History(ctx context.Context, svc *survey.Services, now time.Time, progress *Progress, logf func(string, ...any)) (string, error) {
	if progress == nil {
		progress = &Progress{}
	}
	progress.total.Store(HistoryRounds)
	ps, err := svc.Programs.Programs(ctx)
	if err != nil || len(ps) == 0 {
		return "", fmt.Errorf("demo history: no program: %v", err)
	}
	prog := ps[0]
	period := 14 * 24 * time.Hour
	start := now.Add(-time.Duration(HistoryRounds) * period)

	members, err := loadMembers(ctx, svc)
	if err != nil {
		return "", err
	}
	rounds, err := svc.Rounds.Rounds(ctx)
	if err != nil {
		return "", err
	}
	sort.Slice(rounds, func(i, j int) bool { return rounds[i].Number < rounds[j].Number })
	closed := 0
	var live *survey.RoundSummary
	for i := range rounds {
		r := &rounds[i]
		switch {
		case r.Status == survey.RoundClosed:
			closed++
		case r.Status == survey.RoundOpen && !now.Before(r.ClosesAt):
			// Interrupted or expired: close it as it would have closed.
			at := r.ClosesAt
			if err := svc.WithClock(func() time.Time { return at }).Rounds.Close(ctx, r.ID); err != nil {
				return "", err
			}
			closed++
		case r.Status == survey.RoundOpen:
			live = r
		}
	}
	progress.done.Store(int32(min(closed, HistoryRounds)))
	for t := closed; t < HistoryRounds && live == nil; t++ {
		if err := ctx.Err(); err != nil {
			return "", err
		}
		opens := start.Add(time.Duration(t) * period)
		if err := replayRound(ctx, svc, prog.ID, t, opens, members); err != nil {
			return "", fmt.Errorf("demo history: round %d: %w", t+1, err)
		}
		progress.done.Store(int32(t + 1))
		if logf != nil {
			logf("demo history: round %d of %d closed", t+1, HistoryRounds)
		}
	}
	progress.done.Store(HistoryRounds)
	if live == nil {
		r, err := svc.WithClock(func() time.Time { return now }).Rounds.Launch(ctx, prog.ID)
		if err != nil {
			return "", err
		}
		live = &survey.RoundSummary{Round: *r}
	}
	// A link of someone in the largest team who has not answered yet.
	links, err := svc.Rounds.Links(ctx, live.ID)
	if err != nil {
		return "", err
	}
	for _, l := range links {
		if members[l.PersonID].team != "Support EMEA" {
			continue
		}
		v, err := svc.Rounds.SurveyBySecret(ctx, l.Secret)
		if err == nil && !v.TokenIssued {
			return l.Secret, nil
		}
	}
	return "", nil
}

func loadMembers(ctx context.Context, svc *survey.Services) (map[uint]member, error) {
	tree, err := svc.Org.Tree(ctx)
	if err != nil {
		return nil, err
	}
	people, err := svc.Org.People(ctx, nil, true)
	if err != nil {
		return nil, err
	}
	r := rand.New(rand.NewPCG(7, 7))
	out := make(map[uint]member, len(people))
	for _, p := range people {
		out[p.ID] = member{team: tree.ByID[p.TeamID].Name, bias: r.NormFloat64() * 0.35}
	}
	return out, nil
}

// replayRound runs round t of the history at its own time.
func replayRound(ctx context.Context, root *survey.Services, programID uint, t int, opens time.Time, members map[uint]member) error {
	clock := opens
	svc := root.WithClock(func() time.Time { return clock })
	r, err := svc.Rounds.Launch(ctx, programID)
	if err != nil {
		return err
	}
	links, err := svc.Rounds.Links(ctx, r.ID)
	if err != nil {
		return err
	}
	manifest, _, err := svc.Rounds.Manifest(ctx, r.ID)
	if err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(uint64(t)+1, 99))
	participation := 0.68 + 0.2*rng.Float64()
	for i, l := range links {
		if rng.Float64() > participation {
			continue
		}
		// Answers trickle in over the open days.
		clock = opens.Add(time.Duration(float64(4*24*time.Hour) * float64(i) / float64(len(links))))
		v, err := svc.Rounds.SurveyBySecret(ctx, l.Secret)
		if err != nil {
			return err
		}
		tok, err := survey.ObtainToken(manifest, r.ID, v.UnitID, v.KeyID, func(blinded []byte) ([]byte, error) {
			return svc.Rounds.IssueToken(ctx, l.Secret, blinded)
		})
		if err != nil {
			return err
		}
		m := members[l.PersonID]
		answers := map[uint]int{}
		lowest, lowVal := survey.DimEngagement, 9.0
		for _, q := range v.Questions {
			mean := base(q.Dimension)
			if st, ok := stories[m.team]; ok {
				mean = st(q.Dimension, t)
			}
			if q.Dimension == survey.DimEngagement {
				mean = 0.5*mean + 0.5*avgStory(m.team, t)
			}
			x := mean + m.bias + rng.NormFloat64()*0.8
			answers[q.QuestionID] = int(math.Max(1, math.Min(5, math.Round(x))))
			if x < lowVal {
				lowest, lowVal = q.Dimension, x
			}
		}
		var comment string
		if rng.Float64() < 0.12 {
			pool := comments[lowest]
			comment = pool[rng.IntN(len(pool))]
		}
		in, err := tok.Ballot(answers, comment)
		if err != nil {
			return err
		}
		if err := svc.Rounds.SubmitBallot(ctx, in); err != nil {
			return err
		}
	}
	clock = r.ClosesAt
	return svc.Rounds.Close(ctx, r.ID)
}

func avgStory(team string, t int) float64 {
	st, ok := stories[team]
	if !ok {
		st = func(d string, _ int) float64 { return base(d) }
	}
	return (st(survey.DimPurpose, t) + st(survey.DimMastery, t) + st(survey.DimAutonomy, t)) / 3
}
