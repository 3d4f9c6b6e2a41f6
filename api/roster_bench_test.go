package api_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// rosterChildEnv names the roster file TestRosterImportChild imports; the
// test does nothing without it.
const rosterChildEnv = "PULSE_ROSTER_BENCH_FILE"

// rosterBenchRows is the size of the roster the benchmark imports: 480,000
// people in 24,000 teams, about 17 MB.
const rosterBenchRows = 480_000

// writeBenchRoster writes a roster of n people in n/20 teams (divisions,
// departments and teams) to path.
func writeBenchRoster(tb testing.TB, path string, n int) int64 {
	tb.Helper()
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	w := bufio.NewWriter(f)
	w.WriteString("email,name,team\n")
	teams := n / 20
	for i := range n {
		t := i % teams
		fmt.Fprintf(w, "p%06d@a.io,P%06d,D%d/E%d/T%d\n", i, i, t%12, t%600, t)
	}
	if err := w.Flush(); err != nil {
		tb.Fatal(err)
	}
	fi, err := f.Stat()
	if err != nil {
		tb.Fatal(err)
	}
	f.Close()
	return fi.Size()
}

// procStatusKB reads a "Name:   123 kB" line of /proc/self/status.
func procStatusKB(t *testing.T, name string) float64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, name+":"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb
		}
	}
	t.Fatalf("no %s in /proc/self/status", name)
	return 0
}

// resetPeakRSS starts a new VmHWM measurement (Linux: clear_refs 5).
func resetPeakRSS(t *testing.T) {
	t.Helper()
	runtime.GC()
	debug.FreeOSMemory()
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		t.Fatal(err)
	}
}

// rosterChildResult is what TestRosterImportChild prints for the benchmark.
type rosterChildResult struct {
	BaseMB, PreviewPeakMB, ApplyPeakMB, RepreviewPeakMB float64
	PreviewSeconds, ApplySeconds, RepreviewSeconds      float64
	// ApplyCPUSeconds is the process's CPU time (user and system) during
	// the apply: on SQLite that includes the database's work, and it does
	// not grow when other processes compete for the cores.
	ApplyCPUSeconds float64
	// ApplyFailed is set when the apply did not end with its result;
	// ApplyBackground when it outlasted its request and went on in the
	// background. The benchmark counts both.
	ApplyFailed, ApplyBackground bool
}

// cpuSeconds is the CPU time the process has used so far.
func cpuSeconds(t *testing.T) float64 {
	t.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

const rosterChildMarker = "ROSTER-BENCH-RESULT "

// TestRosterImportChild is the process BenchmarkRosterImport480k measures:
// it uploads the file named by PULSE_ROSTER_BENCH_FILE through the import
// form, applies it, and previews it again, taking the peak RSS of each step.
func TestRosterImportChild(t *testing.T) {
	path := os.Getenv(rosterChildEnv)
	if path == "" {
		t.Skip("run by BenchmarkRosterImport480k")
	}
	h := newHarness(t)
	h.initOrg("Acme")
	h.admin("admin@example.com")
	c := h.client()
	c.login("admin@example.com")
	c.get("/admin/roster")

	upload := func() *response {
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		fi, _ := f.Stat()
		// The body streams from the file: the client holds no copy.
		var head bytes.Buffer
		mw := multipart.NewWriter(&head)
		mw.WriteField("_csrf", c.csrf)
		if _, err := mw.CreateFormFile("file", "roster.csv"); err != nil {
			t.Fatal(err)
		}
		prefix := append([]byte(nil), head.Bytes()...)
		head.Reset()
		mw.Close()
		req := c.newRequest(http.MethodPost, "/admin/roster/preview", io.MultiReader(bytes.NewReader(prefix), f, &head))
		req.ContentLength = int64(len(prefix)) + fi.Size() + int64(head.Len())
		req.Header.Set("Content-Type", mw.FormDataContentType())
		return c.do(req)
	}
	var res rosterChildResult
	resetPeakRSS(t)
	res.BaseMB = procStatusKB(t, "VmRSS") / 1024

	start := time.Now()
	r := upload()
	res.PreviewSeconds = time.Since(start).Seconds()
	res.PreviewPeakMB = procStatusKB(t, "VmHWM") / 1024
	wantStatus(t, r, http.StatusOK)
	wantContains(t, r.Body, fmt.Sprintf("New people (%d)", rosterBenchRows))
	form := applyForm(t, r)
	r = nil
	t.Logf("preview: %.1f s, peak RSS %.0f MB (base %.0f MB)", res.PreviewSeconds, res.PreviewPeakMB, res.BaseMB)

	resetPeakRSS(t)
	start, cpu := time.Now(), cpuSeconds(t)
	r = c.submit("/admin/roster", "/admin/roster/apply", form)
	if r.StatusCode == http.StatusSeeOther {
		// Over 20 s: the apply goes on in the background; follow its page.
		res.ApplyBackground = true
		job := r.Header.Get("Location")
		for r = c.get(job); strings.Contains(r.Body, "Applying the roster"); r = c.get(job) {
			time.Sleep(200 * time.Millisecond)
		}
	}
	res.ApplySeconds, res.ApplyCPUSeconds = time.Since(start).Seconds(), cpuSeconds(t)-cpu
	res.ApplyPeakMB = procStatusKB(t, "VmHWM") / 1024
	b, _ := json.Marshal(res)
	if r.StatusCode != http.StatusOK {
		// The apply failed (e.g. past its time limit): the transaction must
		// have left nothing behind.
		if n := h.peopleCount(true); n != 0 {
			t.Fatalf("a failed apply (status %d) left %d people", r.StatusCode, n)
		}
		t.Logf("apply failed after %.1f s (%.1f s of CPU): status %d, nothing written", res.ApplySeconds, res.ApplyCPUSeconds, r.StatusCode)
		res.ApplyFailed = true
		b, _ = json.Marshal(res)
		fmt.Println(rosterChildMarker + string(b))
		return
	}
	if n := h.peopleCount(true); n != rosterBenchRows {
		t.Fatalf("%d active people after the apply", n)
	}

	resetPeakRSS(t)
	start = time.Now()
	r = upload()
	res.RepreviewSeconds = time.Since(start).Seconds()
	res.RepreviewPeakMB = procStatusKB(t, "VmHWM") / 1024
	wantStatus(t, r, http.StatusOK)
	wantContains(t, r.Body, "Nothing to change")

	b, _ = json.Marshal(res)
	fmt.Println(rosterChildMarker + string(b))
}

// BenchmarkRosterImport480k generates a roster of 480,000 people (about
// 17 MB) and, in a fresh process each time (so that its peak RSS is its
// own), uploads it through the import form (preview), applies it, and
// previews it again (nothing to change). It reports the peak RSS (VmHWM)
// of the process during each step, their durations (an apply that goes on
// in the background is followed on its progress page to the end), the CPU
// time of the apply, how many applies went on in the background and how
// many failed (their re-preview is then skipped: its figures are 0):
//
//	go test -run '^$' -bench RosterImport480k -benchtime 1x ./api/
//	PULSE_TEST_DATABASE_URL=postgres://... go test -run '^$' -bench RosterImport480k -benchtime 1x ./api/
func BenchmarkRosterImport480k(b *testing.B) {
	if testing.Short() {
		b.Skip("480,000 rows: skipped with -short")
	}
	exe, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	path := filepath.Join(b.TempDir(), "roster.csv")
	size := writeBenchRoster(b, path, rosterBenchRows)
	var sum rosterChildResult
	failed, background := 0, 0
	for i := 0; i < b.N; i++ {
		cmd := exec.Command(exe, "-test.run=^TestRosterImportChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), rosterChildEnv+"="+path)
		cmd.Stderr = os.Stderr
		out, err := cmd.Output()
		if err != nil {
			b.Fatalf("child: %v\n%s", err, out)
		}
		var res rosterChildResult
		for _, l := range strings.Split(string(out), "\n") {
			if v, ok := strings.CutPrefix(l, rosterChildMarker); ok {
				if err := json.Unmarshal([]byte(v), &res); err != nil {
					b.Fatal(err)
				}
			}
		}
		if res.PreviewPeakMB == 0 {
			b.Fatalf("the child printed no result:\n%s", out)
		}
		sum.BaseMB += res.BaseMB
		sum.PreviewPeakMB = max(sum.PreviewPeakMB, res.PreviewPeakMB)
		sum.ApplyPeakMB = max(sum.ApplyPeakMB, res.ApplyPeakMB)
		sum.RepreviewPeakMB = max(sum.RepreviewPeakMB, res.RepreviewPeakMB)
		sum.PreviewSeconds += res.PreviewSeconds
		sum.ApplySeconds += res.ApplySeconds
		sum.ApplyCPUSeconds += res.ApplyCPUSeconds
		if res.ApplyFailed {
			failed++
		}
		if res.ApplyBackground {
			background++
		}
		sum.RepreviewSeconds += res.RepreviewSeconds
	}
	n := float64(b.N)
	b.ReportMetric(float64(size)/1e6, "file-MB")
	b.ReportMetric(sum.BaseMB/n, "base-RSS-MB")
	b.ReportMetric(sum.PreviewPeakMB, "preview-peak-RSS-MB")
	b.ReportMetric(sum.PreviewSeconds/n, "preview-s")
	b.ReportMetric(sum.ApplyPeakMB, "apply-peak-RSS-MB")
	b.ReportMetric(sum.ApplySeconds/n, "apply-s")
	b.ReportMetric(sum.ApplyCPUSeconds/n, "apply-cpu-s")
	b.ReportMetric(float64(failed), "apply-failures")
	b.ReportMetric(float64(background), "apply-in-background")
	b.ReportMetric(sum.RepreviewPeakMB, "repreview-peak-RSS-MB")
	b.ReportMetric(sum.RepreviewSeconds/n, "repreview-s")
}
