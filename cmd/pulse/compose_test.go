package main

import (
	"net"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

const (
	composePath    = "../../docker-compose.yml"
	dockerfilePath = "../../Dockerfile"
)

// composeFile is the part of the Compose file the checks look at. Fields whose
// syntax has a short and a long form are left as yaml.Node or any.
type composeFile struct {
	Services map[string]composeService `yaml:"services"`
	Volumes  map[string]any            `yaml:"volumes"`
}

type composeService struct {
	Image       string    `yaml:"image"`
	Build       any       `yaml:"build"`
	Environment yaml.Node `yaml:"environment"`
	DependsOn   yaml.Node `yaml:"depends_on"`
	Healthcheck *struct {
		Test    any  `yaml:"test"`
		Disable bool `yaml:"disable"`
	} `yaml:"healthcheck"`
	Ports           []any  `yaml:"ports"`
	Volumes         []any  `yaml:"volumes"`
	StopGracePeriod string `yaml:"stop_grace_period"`
}

func loadCompose(t *testing.T) composeFile {
	t.Helper()
	data, err := os.ReadFile(composePath)
	if err != nil {
		t.Fatalf("read %s: %v", composePath, err)
	}
	var f composeFile
	if err := yaml.Unmarshal(data, &f); err != nil {
		t.Fatalf("parse %s: %v", composePath, err)
	}
	return f
}

func composeServiceNamed(t *testing.T, f composeFile, name string) composeService {
	t.Helper()
	s, ok := f.Services[name]
	if !ok {
		t.Fatalf("docker-compose.yml: service %q is missing (services: %v)", name, composeServiceNames(f))
	}
	return s
}

func composeServiceNames(f composeFile) []string {
	names := make([]string, 0, len(f.Services))
	for n := range f.Services {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// composeEnv returns a service's environment, given either as a map or as a
// list of KEY=VALUE (or bare KEY, meaning "pass through from the host").
func composeEnv(t *testing.T, service string, n yaml.Node) map[string]string {
	t.Helper()
	env := map[string]string{}
	switch n.Kind {
	case 0:
		// No environment key.
	case yaml.MappingNode:
		var m map[string]*string
		if err := n.Decode(&m); err != nil {
			t.Fatalf("docker-compose.yml: service %q: environment: %v", service, err)
		}
		for k, v := range m {
			if v == nil {
				env[k] = ""
			} else {
				env[k] = *v
			}
		}
	case yaml.SequenceNode:
		var l []string
		if err := n.Decode(&l); err != nil {
			t.Fatalf("docker-compose.yml: service %q: environment: %v", service, err)
		}
		for _, kv := range l {
			k, v, _ := strings.Cut(kv, "=")
			env[k] = v
		}
	default:
		t.Fatalf("docker-compose.yml: service %q: environment must be a map or a list, line %d", service, n.Line)
	}
	return env
}

// composeDependsOn returns the services a service depends on and the condition
// for each ("" for the list form, which waits only for the container to start).
func composeDependsOn(t *testing.T, service string, n yaml.Node) map[string]string {
	t.Helper()
	deps := map[string]string{}
	switch n.Kind {
	case 0:
	case yaml.SequenceNode:
		var l []string
		if err := n.Decode(&l); err != nil {
			t.Fatalf("docker-compose.yml: service %q: depends_on: %v", service, err)
		}
		for _, d := range l {
			deps[d] = ""
		}
	case yaml.MappingNode:
		var m map[string]struct {
			Condition string `yaml:"condition"`
		}
		if err := n.Decode(&m); err != nil {
			t.Fatalf("docker-compose.yml: service %q: depends_on: %v", service, err)
		}
		for d, c := range m {
			deps[d] = c.Condition
		}
	default:
		t.Fatalf("docker-compose.yml: service %q: depends_on must be a map or a list, line %d", service, n.Line)
	}
	return deps
}

var composeVarRE = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)`)

// composeExpand replaces Compose's ${VAR...} interpolation without reading the
// host environment: ${VAR:-default} and ${VAR-default} become the default, any
// other reference becomes the variable's name. The same expression thus
// expands to the same text wherever it appears, so values can be compared.
func composeExpand(s string) string {
	const dollar = "\x00"
	s = strings.ReplaceAll(s, "$$", dollar)
	s = composeVarRE.ReplaceAllStringFunc(s, func(m string) string {
		g := composeVarRE.FindStringSubmatch(m)
		if g[4] != "" {
			return g[4]
		}
		if g[2] == ":-" || g[2] == "-" {
			return g[3]
		}
		return g[1]
	})
	return strings.ReplaceAll(s, dollar, "$")
}

func composeHealthcheckOK(s composeService) bool {
	if s.Healthcheck == nil || s.Healthcheck.Disable || s.Healthcheck.Test == nil {
		return false
	}
	switch test := s.Healthcheck.Test.(type) {
	case string:
		return strings.TrimSpace(test) != ""
	case []any:
		return len(test) > 1 && test[0] != "NONE"
	}
	return false
}

func TestComposeServices(t *testing.T) {
	f := loadCompose(t)
	db := composeServiceNamed(t, f, "db")
	pulse := composeServiceNamed(t, f, "pulse")

	if !composeHealthcheckOK(db) {
		t.Errorf("docker-compose.yml: service db needs a healthcheck (e.g. pg_isready); pulse waits for it")
	}
	if !composeHealthcheckOK(pulse) {
		t.Errorf(`docker-compose.yml: service pulse needs a healthcheck (test: ["CMD", "/pulse", "healthcheck"])`)
	}
	if pulse.Build == nil && pulse.Image == "" {
		t.Errorf("docker-compose.yml: service pulse needs build or image")
	}

	deps := composeDependsOn(t, "pulse", pulse.DependsOn)
	cond, ok := deps["db"]
	switch {
	case !ok:
		t.Errorf("docker-compose.yml: service pulse must depend_on db")
	case cond != "service_healthy":
		if cond == "" {
			cond = "none (list form)"
		}
		t.Errorf("docker-compose.yml: pulse depends_on db with condition %s, want service_healthy "+
			"(otherwise pulse starts before PostgreSQL accepts connections and migrations fail)", cond)
	}
}

func TestComposeDatabaseURL(t *testing.T) {
	f := loadCompose(t)
	dbEnv := composeEnv(t, "db", composeServiceNamed(t, f, "db").Environment)
	pulseEnv := composeEnv(t, "pulse", composeServiceNamed(t, f, "pulse").Environment)

	raw, ok := pulseEnv["PULSE_DATABASE_URL"]
	if !ok {
		if _, ok := pulseEnv["PULSE_DATABASE_URL_FILE"]; ok {
			t.Skip("pulse reads the database URL from PULSE_DATABASE_URL_FILE; nothing to compare")
		}
		t.Fatalf("docker-compose.yml: service pulse sets neither PULSE_DATABASE_URL nor PULSE_DATABASE_URL_FILE, " +
			"so it would use the embedded SQLite instead of the db service")
	}
	u, err := url.Parse(composeExpand(raw))
	if err != nil {
		t.Fatalf("docker-compose.yml: PULSE_DATABASE_URL %q does not parse as a URL: %v", raw, err)
	}
	if u.Scheme != "postgres" && u.Scheme != "postgresql" {
		t.Errorf("PULSE_DATABASE_URL scheme is %q, want postgres", u.Scheme)
	}
	if u.Hostname() != "db" {
		t.Errorf("PULSE_DATABASE_URL host is %q, want the compose service name %q", u.Hostname(), "db")
	}
	if p := u.Port(); p != "" && p != "5432" {
		t.Errorf("PULSE_DATABASE_URL port is %s, but postgres listens on 5432 inside the network", p)
	}

	wantUser := composeExpand(dbEnv["POSTGRES_USER"])
	if wantUser == "" {
		wantUser = "postgres" // the image's default
	}
	if got := u.User.Username(); got != wantUser {
		t.Errorf("PULSE_DATABASE_URL user is %q, but db's POSTGRES_USER is %q", got, wantUser)
	}
	if pw, ok := dbEnv["POSTGRES_PASSWORD"]; ok {
		got, _ := u.User.Password()
		if want := composeExpand(pw); got != want {
			t.Errorf("PULSE_DATABASE_URL password expands to %q, but db's POSTGRES_PASSWORD expands to %q "+
				"(variables are shown by name)", got, want)
		}
	}
	wantDB := composeExpand(dbEnv["POSTGRES_DB"])
	if wantDB == "" {
		wantDB = wantUser // the image's default
	}
	if got := strings.TrimPrefix(u.Path, "/"); got != wantDB {
		t.Errorf("PULSE_DATABASE_URL database is %q, but db's POSTGRES_DB is %q", got, wantDB)
	}
}

// TestComposeEnvNamesKnown checks every PULSE_* variable in the Compose file
// against envNames(), the list the config itself reads: a variable the config
// does not read is silently ignored by the app.
func TestComposeEnvNamesKnown(t *testing.T) {
	known := envNames()
	f := loadCompose(t)
	for _, name := range composeServiceNames(f) {
		for k := range composeEnv(t, name, f.Services[name].Environment) {
			if strings.HasPrefix(k, "PULSE_") && !slices.Contains(known, k) {
				t.Errorf("docker-compose.yml: service %q sets %s, which the config does not read (known: %s)",
					name, k, strings.Join(known, ", "))
			}
		}
	}
}

// TestComposePassesSettings: every setting an operator may need reaches
// the container, so a .env file is enough to configure Pulse.
func TestComposePassesSettings(t *testing.T) {
	env := composeEnv(t, "pulse", composeServiceNamed(t, loadCompose(t), "pulse").Environment)
	for _, n := range envNames() {
		switch n {
		case "PULSE_DEMO", "PULSE_SECRET_KEY_FILE", "PULSE_DATABASE_URL_FILE", "PULSE_SMTP_PASSWORD_FILE", "PULSE_OIDC_CLIENT_SECRET_FILE":
			continue // the demo is not for Compose; the others have a non-_FILE form or a default under /data
		}
		if _, ok := env[n]; !ok {
			t.Errorf("docker-compose.yml: service pulse does not pass %s", n)
		}
	}
}

// TestComposeShutdownAndPorts: Docker waits longer than Pulse's own grace
// period before it kills the process, and the port is published on the
// loopback interface only (a reverse proxy fronts it).
func TestComposeShutdownAndPorts(t *testing.T) {
	pulse := composeServiceNamed(t, loadCompose(t), "pulse")
	env := composeEnv(t, "pulse", pulse.Environment)
	grace, err := time.ParseDuration(composeExpand(env["PULSE_SHUTDOWN_GRACE"]))
	if err != nil {
		t.Fatalf("docker-compose.yml: PULSE_SHUTDOWN_GRACE %q: %v", env["PULSE_SHUTDOWN_GRACE"], err)
	}
	stop, err := time.ParseDuration(pulse.StopGracePeriod)
	if err != nil {
		t.Fatalf("docker-compose.yml: stop_grace_period %q: %v (Docker's default of 10s would kill Pulse mid-shutdown)", pulse.StopGracePeriod, err)
	}
	if stop < grace+5*time.Second {
		t.Errorf("docker-compose.yml: stop_grace_period %s leaves too little beyond PULSE_SHUTDOWN_GRACE %s", stop, grace)
	}
	if len(pulse.Ports) == 0 {
		t.Fatal("docker-compose.yml: service pulse publishes no port")
	}
	for _, p := range pulse.Ports {
		s, ok := p.(string)
		if !ok || !strings.HasPrefix(s, "127.0.0.1:") {
			t.Errorf("docker-compose.yml: port %v is published on every interface, want 127.0.0.1:HOST:CONTAINER", p)
		}
	}
}

func TestComposeVolumesDeclared(t *testing.T) {
	f := loadCompose(t)
	for _, name := range composeServiceNames(f) {
		for _, v := range f.Services[name].Volumes {
			var source string
			switch v := v.(type) {
			case string:
				src, _, hasTarget := strings.Cut(v, ":")
				if !hasTarget {
					continue // anonymous volume
				}
				source = src
			case map[string]any:
				if typ, _ := v["type"].(string); typ != "volume" {
					continue
				}
				source, _ = v["source"].(string)
			}
			if source == "" || strings.ContainsAny(source[:1], "/.~$") {
				continue // bind mount or anonymous volume
			}
			if _, ok := f.Volumes[source]; !ok {
				t.Errorf("docker-compose.yml: service %q uses volume %q, which is not declared under the top-level volumes:",
					name, source)
			}
		}
	}
}

// dockerfileFinalStage returns the instructions of the Dockerfile's last
// stage, with continuation lines joined and comments dropped.
func dockerfileFinalStage(t *testing.T) [][]string {
	t.Helper()
	data, err := os.ReadFile(dockerfilePath)
	if err != nil {
		t.Fatalf("read %s: %v", dockerfilePath, err)
	}
	var (
		stage [][]string
		cur   strings.Builder
	)
	flush := func() {
		fields := strings.Fields(cur.String())
		cur.Reset()
		if len(fields) == 0 {
			return
		}
		fields[0] = strings.ToUpper(fields[0])
		if fields[0] == "FROM" {
			stage = nil
		}
		stage = append(stage, fields)
	}
	for _, line := range strings.Split(string(data), "\n") {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "#") {
			continue
		}
		if body, ok := strings.CutSuffix(trimmed, `\`); ok {
			cur.WriteString(body + " ")
			continue
		}
		cur.WriteString(trimmed)
		flush()
	}
	flush()
	return stage
}

func TestDockerfile(t *testing.T) {
	data, err := os.ReadFile(dockerfilePath)
	if err != nil {
		t.Fatalf("read %s: %v", dockerfilePath, err)
	}
	if !strings.Contains(string(data), "CGO_ENABLED=0") {
		t.Errorf("Dockerfile: build with CGO_ENABLED=0; the runtime image has no libc")
	}

	var user string
	var exposed []string
	for _, ins := range dockerfileFinalStage(t) {
		switch ins[0] {
		case "USER":
			if len(ins) > 1 {
				user = ins[1]
			}
		case "EXPOSE":
			for _, p := range ins[1:] {
				p, _, _ = strings.Cut(p, "/")
				exposed = append(exposed, p)
			}
		}
	}
	if u, _, _ := strings.Cut(user, ":"); u == "" || u == "root" || u == "0" {
		t.Errorf("Dockerfile: the runtime stage must set a non-root USER (got %q)", user)
	}

	f := loadCompose(t)
	pulse := composeServiceNamed(t, f, "pulse")
	var containerPorts []string
	for _, p := range pulse.Ports {
		switch p := p.(type) {
		case string:
			// [host_ip:][host_port:]container_port[/protocol]
			p, _, _ = strings.Cut(p, "/")
			containerPorts = append(containerPorts, p[strings.LastIndex(p, ":")+1:])
		case int:
			containerPorts = append(containerPorts, strconv.Itoa(p))
		case map[string]any:
			switch target := p["target"].(type) {
			case int:
				containerPorts = append(containerPorts, strconv.Itoa(target))
			case string:
				containerPorts = append(containerPorts, target)
			}
		}
	}
	if len(containerPorts) == 0 {
		t.Errorf("docker-compose.yml: service pulse publishes no ports")
	}
	for _, p := range containerPorts {
		if !slices.Contains(exposed, p) {
			t.Errorf("docker-compose.yml publishes container port %s, but the Dockerfile EXPOSEs %v", p, exposed)
		}
	}

	// The listener must be on the published port, on all interfaces (a
	// container's loopback is unreachable from the host).
	env := composeEnv(t, "pulse", pulse.Environment)
	if addr, ok := env["PULSE_ADDR"]; ok {
		host, port, err := net.SplitHostPort(composeExpand(addr))
		switch {
		case err != nil:
			t.Errorf("docker-compose.yml: PULSE_ADDR %q is not host:port: %v", addr, err)
		case !slices.Contains(containerPorts, port):
			t.Errorf("docker-compose.yml: PULSE_ADDR listens on port %s, but the published container port is %v", port, containerPorts)
		case host == "127.0.0.1" || host == "localhost":
			t.Errorf("docker-compose.yml: PULSE_ADDR %q listens on loopback only; use 0.0.0.0 in a container", addr)
		}
	}
}
