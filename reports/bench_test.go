package reports_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/pulse-survey/pulse/api"
	"github.com/pulse-survey/pulse/reports"
	"github.com/pulse-survey/pulse/survey"
	"github.com/pulse-survey/pulse/survey/demo"
	"github.com/pulse-survey/pulse/survey/surveytest"
)

// BenchmarkDashboardRender measures the server-side render of the report
// page of the largest unit (the whole demo organisation: about 150 people,
// 26 closed rounds) as an admin, through the real router and middleware.
// Seeding replays the demo year once (b.Loop runs the function once).
//
//	go test -run xxx -bench DashboardRender -benchtime 20x ./reports/
func BenchmarkDashboardRender(b *testing.B) {
	if testing.Short() {
		b.Skip("seeds the demo year (26 rounds through the real pipeline)")
	}
	ctx := context.Background()
	master := make([]byte, 32)
	if _, err := rand.Read(master); err != nil {
		b.Fatal(err)
	}
	kr, err := survey.NewKeyring(master)
	if err != nil {
		b.Fatal(err)
	}
	db := surveytest.Open(b)
	svc := survey.New(db, survey.Options{BcryptCost: bcrypt.MinCost, Keyring: kr, Releaser: &reports.Releaser{}})
	if _, err := demo.Ensure(ctx, svc); err != nil {
		b.Fatal(err)
	}
	if _, err := demo.History(ctx, svc, time.Now().UTC(), nil, nil); err != nil {
		b.Fatal(err)
	}
	e, err := api.New(api.Deps{DB: db, Services: svc, BaseURL: "http://pulse.test", Version: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	admin, err := svc.Accounts.UserByEmail(ctx, demo.AdminEmail)
	if err != nil {
		b.Fatal(err)
	}
	session, err := svc.Accounts.CreateSession(ctx, admin.ID, 24*time.Hour)
	if err != nil {
		b.Fatal(err)
	}
	tree, err := svc.Org.Tree(ctx)
	if err != nil {
		b.Fatal(err)
	}
	path := fmt.Sprintf("/reports/%d", tree.Root.ID)
	render := func() *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodGet, "http://pulse.test"+path, nil)
		req.AddCookie(&http.Cookie{Name: "pulse_session", Value: session})
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, req)
		return rec
	}
	// Check once that this is the real page with its charts and 26 rounds.
	rec := render()
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "data-echarts-option") ||
		!strings.Contains(rec.Body.String(), fmt.Sprintf("over %d rounds", demo.HistoryRounds)) {
		b.Fatalf("GET %s: status %d\n%.2000s", path, rec.Code, rec.Body.String())
	}
	b.SetBytes(int64(rec.Body.Len()))
	b.ReportAllocs()
	n := 0
	start := time.Now()
	for b.Loop() {
		if rec := render(); rec.Code != http.StatusOK {
			b.Fatalf("GET %s: status %d", path, rec.Code)
		}
		n++
	}
	b.ReportMetric(float64(time.Since(start).Nanoseconds())/1e6/float64(n), "ms/op")
}
