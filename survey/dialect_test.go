package survey_test

import (
	"testing"

	"github.com/pulse-survey/pulse/survey/surveytest"
)

// TestDialect logs which database the suite runs on; CI greps the -v output
// for dialect=postgres or dialect=sqlite to prove both were exercised.
func TestDialect(t *testing.T) {
	db := surveytest.Open(t)
	name := db.Dialector.Name()
	t.Logf("dialect=%s", name)
	if want := surveytest.Dialect(); name != want {
		t.Fatalf("opened a %s database, surveytest.Dialect() says %s", name, want)
	}
}
