// Package e2e holds Pulse's browser tests: a real Pulse server on a loopback
// port with a fresh database, driven through Debian's Chromium with chromedp
// the way employees, leaders and admins use it (a phone-sized screen, the
// keyboard, a desktop), with accessibility checks by axe-core.
//
// Every page a test opens is watched: a request to any host but 127.0.0.1,
// a console error, an uncaught exception or a Content-Security-Policy
// violation fails the test. Each of these checks, and the axe, focus and
// chart checks, also runs against deliberately broken pages (controls_test.go)
// to show that it can fail.
//
// The tests skip when no Chromium is installed (PATH, /usr/bin/chromium, or
// the browser that PULSE_CHROMIUM names), except under CI=true, where a
// missing browser is a failure. Screenshots of every step go to
// screenshots/<dialect>/ at the repository root (git-ignored), or to the
// folder named by PULSE_SCREENSHOTS.
//
// The package has no code outside its tests.
package e2e
