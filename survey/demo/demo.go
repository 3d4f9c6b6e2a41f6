// Package demo seeds a realistic demonstration organisation so that a
// newcomer can see Pulse working with one command.
package demo

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/pulse-survey/pulse/survey"
)

// Domain is the email domain of every demo person and account.
const Domain = "northwind.example"

// AdminEmail is the demo HR admin; its presence marks a demo database.
const AdminEmail = "hr@" + Domain

// Account is a demo login printed at start.
type Account struct {
	Email    string
	Password string
	Role     survey.Role
	Scope    string // human description of what the account sees
}

type teamSpec struct {
	name string
	size int
}

type deptSpec struct {
	name   string
	head   string // leader account local part
	direct int    // people directly in the department (head and staff)
	teams  []teamSpec
}

// The organisation: 3 departments, 11 teams, about 150 people. Site
// Reliability (3) is deliberately below the minimum group size of 5, and
// Research (6) often has fewer than 5 respondents.
var org = []deptSpec{
	{"Engineering", "cto", 5, []teamSpec{{"Platform", 16}, {"Mobile", 14}, {"Data", 12}, {"Site Reliability", 3}}},
	{"Product & Design", "cpo", 6, []teamSpec{{"Product", 10}, {"Design", 8}, {"Research", 6}}},
	{"Customer Operations", "coo", 6, []teamSpec{{"Support EMEA", 18}, {"Support Americas", 18}, {"Onboarding", 12}, {"Customer Success", 16}}},
}

// ErrNotDemo means the database holds an organisation that is not the demo.
var ErrNotDemo = errors.New("the database already holds an organisation that is not the Pulse demo; use another data directory or database for the demo")

// Ensure seeds the demo organisation if the database is empty, then gives
// every demo account a fresh random password and returns the accounts.
func Ensure(ctx context.Context, svc *survey.Services) ([]Account, error) {
	has, err := svc.Org.Initialized(ctx)
	if err != nil {
		return nil, err
	}
	if !has {
		if err := svc.Tx(ctx, seed); err != nil {
			return nil, fmt.Errorf("demo: seed: %w", err)
		}
	}
	if _, err := svc.Accounts.UserByEmail(ctx, AdminEmail); errors.Is(err, survey.ErrNotFound) {
		return nil, ErrNotDemo
	} else if err != nil {
		return nil, err
	}
	return resetPasswords(ctx, svc)
}

func accounts() []Account {
	out := []Account{
		{Email: AdminEmail, Role: survey.RoleAdmin, Scope: "administration, every team"},
		{Email: "ceo@" + Domain, Role: survey.RoleLeader, Scope: "whole organisation"},
	}
	for _, d := range org {
		out = append(out, Account{Email: d.head + "@" + Domain, Role: survey.RoleLeader, Scope: d.name})
	}
	out = append(out, Account{Email: "platform.lead@" + Domain, Role: survey.RoleLeader, Scope: "Engineering/Platform"})
	return out
}

func resetPasswords(ctx context.Context, svc *survey.Services) ([]Account, error) {
	accs := accounts()
	for i := range accs {
		u, err := svc.Accounts.UserByEmail(ctx, accs[i].Email)
		if err != nil {
			return nil, fmt.Errorf("demo account %s: %w", accs[i].Email, err)
		}
		accs[i].Password = password()
		if err := svc.Accounts.SetPassword(ctx, u.ID, accs[i].Password); err != nil {
			return nil, err
		}
	}
	return accs, nil
}

// password returns a random, typeable demo password.
func password() string {
	const alphabet = "abcdefghijkmnpqrstuvwxyz23456789"
	var b strings.Builder
	for i := 0; i < 16; i++ {
		if i > 0 && i%4 == 0 {
			b.WriteByte('-')
		}
		b.WriteByte(alphabet[rand.IntN(len(alphabet))])
	}
	return b.String()
}

var firstNames = []string{"Ada", "Ben", "Chloe", "Dev", "Elif", "Femi", "Greta", "Hiro", "Ines", "Jonas", "Kemal",
	"Lena", "Mateo", "Nia", "Omar", "Priya", "Quinn", "Rosa", "Sami", "Tara", "Umar", "Vera", "Wen", "Xavier",
	"Yara", "Zoe", "Aiko", "Bruno", "Carla", "Dmitri", "Esme", "Farah", "Goran", "Hana", "Ivo", "Jade"}

var lastNames = []string{"Adler", "Banerjee", "Costa", "Dubois", "Eriksen", "Fischer", "Garcia", "Haddad", "Ivanova",
	"Jensen", "Kowalski", "Lindqvist", "Moreau", "Nakamura", "Okafor", "Petrov", "Quintero", "Rossi", "Schmidt",
	"Tanaka", "Ullah", "Varga", "Weber", "Xu", "Yilmaz", "Zimmermann", "Novak", "Silva", "Berg", "Kaur"}

// seed builds the organisation; it runs inside one transaction.
func seed(svc *survey.Services) error {
	ctx := context.Background()
	r := rand.New(rand.NewPCG(2026, 11))
	if _, err := svc.Org.Init(ctx, survey.SettingsInput{Name: "Northwind", TimeZone: "Europe/Berlin", MinGroupSize: survey.DefaultMinGroupSize}); err != nil {
		return err
	}
	tree, err := svc.Org.Tree(ctx)
	if err != nil {
		return err
	}
	root := tree.Root.ID
	used := map[string]bool{}
	addPeople := func(teamID uint, n int) error {
		for i := 0; i < n; i++ {
			var first, last, email string
			for {
				first, last = firstNames[r.IntN(len(firstNames))], lastNames[r.IntN(len(lastNames))]
				email = strings.ToLower(first + "." + last + "@" + Domain)
				if !used[email] {
					break
				}
			}
			used[email] = true
			if _, err := svc.Org.CreatePerson(ctx, survey.PersonInput{Email: email, Name: first + " " + last, TeamID: teamID, Active: true}); err != nil {
				return err
			}
		}
		return nil
	}
	// The executive team sits directly in the company.
	if err := addPeople(root, 8); err != nil {
		return err
	}
	scopes := map[string]uint{"ceo@" + Domain: root}
	for _, d := range org {
		dept, err := svc.Org.CreateTeam(ctx, root, d.name)
		if err != nil {
			return err
		}
		scopes[d.head+"@"+Domain] = dept.ID
		if err := addPeople(dept.ID, d.direct); err != nil { // the department's head and staff
			return err
		}
		for _, t := range d.teams {
			team, err := svc.Org.CreateTeam(ctx, dept.ID, t.name)
			if err != nil {
				return err
			}
			if t.name == "Platform" {
				scopes["platform.lead@"+Domain] = team.ID
			}
			if err := addPeople(team.ID, t.size); err != nil {
				return err
			}
		}
	}
	for _, a := range accounts() {
		var teams []uint
		if a.Role == survey.RoleLeader {
			teams = []uint{scopes[a.Email]}
		}
		name := strings.ToUpper(a.Email[:1]) + a.Email[1:strings.Index(a.Email, "@")]
		// The password is replaced at every start; this one is never shown.
		if _, err := svc.Accounts.CreateUser(ctx, survey.UserInput{Email: a.Email, Name: name + " (demo)", Role: a.Role,
			Password: password() + password(), TeamIDs: teams}); err != nil {
			return err
		}
	}
	if err := svc.Programs.SyncBuiltinQuestions(ctx); err != nil {
		return err
	}
	qs, err := svc.Programs.Questions(ctx)
	if err != nil {
		return err
	}
	ids := make([]uint, len(qs))
	for i, q := range qs {
		ids[i] = q.ID
	}
	_, err = svc.Programs.CreateProgram(ctx, survey.ProgramInput{Name: "Team pulse", Cadence: survey.CadenceWeeks,
		IntervalWeeks: 2, Weekday: time.Monday, TimeOfDay: "09:00", OpenDays: 5, ItemsPerRound: 8,
		MinGroupSize: survey.DefaultMinGroupSize, QuestionIDs: ids})
	return err
}
