package surveytest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"
)

// bundlePath is the committed blind-RSA browser bundle, relative to the module root.
const bundlePath = "frontend/static/vendor/blindrsa/blindrsa.mjs"

// sealPath is the survey page's sealing module (it imports the committed HPKE bundle).
const sealPath = "frontend/static/js/seal.js"

// hpkePath is the committed HPKE browser bundle.
const hpkePath = "frontend/static/vendor/hpke/hpke.mjs"

// jsCallTimeout bounds one request to node; a blind or finalize takes milliseconds.
const jsCallTimeout = 30 * time.Second

// jsHarness runs in node and drives the committed bundle the way the survey page does,
// answering one JSON object per line on stdout for each request line on stdin. Byte
// strings travel as standard base64 (what encoding/json does with []byte).
const jsHarness = `import { pathToFileURL } from "node:url";
import { createInterface } from "node:readline";

const out = (o) => process.stdout.write(JSON.stringify(o) + "\n");
if (!globalThis.crypto?.subtle) {
	out({ error: "WebCrypto (globalThis.crypto.subtle) is missing: node " + process.version + " is too old, use node 20 or later" });
	process.exit(1);
}
const { RSABSSA } = await import(pathToFileURL(process.argv[2]).href);
const suite = RSABSSA.SHA384.PSS.Randomized();
// The survey page's own sealing code, and the HPKE bundle it uses (to open what Go sealed).
const page = await import(pathToFileURL(process.argv[3]).href);
const hpke = await import(pathToFileURL(process.argv[4]).href);

const bytes = (s) => new Uint8Array(Buffer.from(s ?? "", "base64"));
const b64 = (u8) => Buffer.from(u8).toString("base64");
// Exactly as the page imports a manifest key: blindrsa-ts exports it to read n and e,
// so it must be extractable.
const importKey = (spki) =>
	crypto.subtle.importKey("spki", bytes(spki), { name: "RSA-PSS", hash: "SHA-384" }, true, ["verify"]);

// Blinding state stays here; Go only holds its handle.
const states = new Map();
let seq = 0;

const ops = {
	async prepareBlind({ spki, msg }) {
		const key = await importKey(spki);
		const prepared = suite.prepare(bytes(msg));
		const { blindedMsg, inv } = await suite.blind(key, prepared);
		const state = "state-" + ++seq;
		states.set(state, { key, prepared, inv });
		return { prepared: b64(prepared), blinded: b64(blindedMsg), state };
	},
	async finalize({ state, blind_sig }) {
		const st = states.get(state);
		if (!st) throw new Error("unknown state " + JSON.stringify(state));
		// finalize verifies the unblinded signature and throws if it is not valid.
		const sig = await suite.finalize(st.key, st.prepared, bytes(blind_sig), st.inv);
		states.delete(state);
		return { sig: b64(sig) };
	},
	async verify({ spki, prepared, sig }) {
		const key = await importKey(spki);
		return { valid: await suite.verify(key, bytes(sig), bytes(prepared)) };
	},
	// seal runs the page's sealBallot on the manifest's box entry.
	async seal({ box, round, prepared, answers, comment }) {
		return { sealed: b64(await page.sealBallot(box, round, bytes(prepared), answers, comment)) };
	},
	async encode({ answers, comment }) {
		return { plain: b64(page.encodeBallot(answers, comment)) };
	},
	// open decrypts a sealed ballot with the X-Wing key of the 32-byte seed.
	async open({ seed, round, aad, sealed }) {
		const s = new hpke.CipherSuite({ kem: new hpke.XWing(), kdf: new hpke.HkdfSha256(), aead: new hpke.Aes128Gcm() });
		const recipientKey = await s.kem.importKey("raw", bytes(seed), false);
		const all = bytes(sealed);
		const info = new TextEncoder().encode("pulse/ballot/v1|" + round);
		const rc = await s.createRecipientContext({ recipientKey, enc: all.slice(0, 1120), info });
		return { plain: b64(new Uint8Array(await rc.open(all.slice(1120), bytes(aad)))) };
	},
};

out({ ready: true, node: process.version, suite: String(suite) });
for await (const line of createInterface({ input: process.stdin })) {
	let id = 0;
	try {
		const req = JSON.parse(line);
		id = req.id;
		const op = ops[req.op];
		if (!op) throw new Error("unknown op " + JSON.stringify(req.op));
		out({ id, result: await op(req) });
	} catch (e) {
		out({ id, error: String(e?.message ?? e) });
	}
}
`

// JSClient runs the committed browser bundles (frontend/static/vendor/blindrsa/blindrsa.mjs,
// and frontend/static/js/seal.js with frontend/static/vendor/hpke/hpke.mjs) in node, so Go
// tests can check that tokens blinded and finalized, and ballots sealed, by the browser's
// code interoperate with the server's circl signer and verifier and crypto/hpke.
type JSClient struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lines  chan []byte // stdout lines; closed when node's stdout ends
	stderr *syncBuffer

	mu     sync.Mutex
	nextID int
	closed bool
}

// NewJSClient starts node on the harness for t and stops it when t ends. It skips t when
// node is not installed, except under CI (CI=true), where that is a failure.
func NewJSClient(t testing.TB) *JSClient {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		if ci, _ := strconv.ParseBool(os.Getenv("CI")); ci {
			t.Fatalf("node not found (required under CI for the browser token tests): %v", err)
		}
		t.Skipf("node not found: %v (install Node.js 20 or later to run the browser token tests)", err)
	}
	root, err := ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	bundle := filepath.Join(root, filepath.FromSlash(bundlePath))
	if _, err := os.Stat(bundle); err != nil {
		t.Fatalf("blind-RSA bundle missing (run scripts/build-blindrsa.sh): %v", err)
	}
	seal, hpke := filepath.Join(root, filepath.FromSlash(sealPath)), filepath.Join(root, filepath.FromSlash(hpkePath))
	if _, err := os.Stat(hpke); err != nil {
		t.Fatalf("HPKE bundle missing (run scripts/build-hpke.sh): %v", err)
	}
	dir := t.TempDir()
	harness := filepath.Join(dir, "harness.mjs")
	if err := os.WriteFile(harness, []byte(jsHarness), 0o600); err != nil {
		t.Fatal(err)
	}

	c := &JSClient{lines: make(chan []byte, 1), stderr: &syncBuffer{}}
	c.cmd = exec.Command(node, harness, bundle, seal, hpke)
	c.cmd.Dir = dir
	c.cmd.Stderr = c.stderr
	if c.stdin, err = c.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	stdout, err := c.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.cmd.Start(); err != nil {
		t.Fatalf("start node: %v", err)
	}
	go func() {
		defer close(c.lines)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64*1024), 16*1024*1024)
		for sc.Scan() {
			c.lines <- append([]byte(nil), sc.Bytes()...)
		}
	}()
	t.Cleanup(c.Close)

	var hello struct {
		Ready bool   `json:"ready"`
		Error string `json:"error"`
	}
	line, err := c.readLine()
	if err == nil {
		err = json.Unmarshal(line, &hello)
	}
	if err == nil && !hello.Ready {
		err = errors.New(hello.Error)
	}
	if err != nil {
		t.Fatalf("node harness did not start: %v", err)
	}
	return c
}

// PrepareBlind imports spkiDER as the page does, prepares msg (32 random bytes + msg) and
// blinds it. state is a handle to the blinding secret, which stays inside node.
func (c *JSClient) PrepareBlind(spkiDER, msg []byte) (prepared, blinded []byte, state string, err error) {
	var res struct {
		Prepared []byte `json:"prepared"`
		Blinded  []byte `json:"blinded"`
		State    string `json:"state"`
	}
	if err := c.call("prepareBlind", map[string]any{"spki": spkiDER, "msg": msg}, &res); err != nil {
		return nil, nil, "", err
	}
	return res.Prepared, res.Blinded, res.State, nil
}

// Finalize unblinds blindSig for the message behind state and verifies the result against
// the key, as the page does before it keeps a token.
func (c *JSClient) Finalize(state string, blindSig []byte) (sig []byte, err error) {
	var res struct {
		Sig []byte `json:"sig"`
	}
	if err := c.call("finalize", map[string]any{"state": state, "blind_sig": blindSig}, &res); err != nil {
		return nil, err
	}
	return res.Sig, nil
}

// Verify checks sig over the prepared message with the browser library (RSA-PSS, SHA-384,
// salt length 48, through WebCrypto).
func (c *JSClient) Verify(spkiDER, prepared, sig []byte) error {
	var res struct {
		Valid bool `json:"valid"`
	}
	if err := c.call("verify", map[string]any{"spki": spkiDER, "prepared": prepared, "sig": sig}, &res); err != nil {
		return err
	}
	if !res.Valid {
		return errors.New("jsclient: verify: invalid signature")
	}
	return nil
}

// Seal runs the survey page's sealBallot (frontend/static/js/seal.js) in node: box is the
// manifest's "box" object, answers maps question ids to values.
func (c *JSClient) Seal(box any, roundID uint, prepared []byte, answers map[uint]int, comment string) ([]byte, error) {
	var res struct {
		Sealed []byte `json:"sealed"`
	}
	if err := c.call("seal", map[string]any{"box": box, "round": roundID, "prepared": prepared, "answers": answers, "comment": comment}, &res); err != nil {
		return nil, err
	}
	return res.Sealed, nil
}

// EncodeBallot runs the page's encodeBallot: the padded plaintext of a ballot.
func (c *JSClient) EncodeBallot(answers map[uint]int, comment string) ([]byte, error) {
	var res struct {
		Plain []byte `json:"plain"`
	}
	if err := c.call("encode", map[string]any{"answers": answers, "comment": comment}, &res); err != nil {
		return nil, err
	}
	return res.Plain, nil
}

// OpenSealed opens a sealed ballot in node with the X-Wing private key of seed, as a check
// that what Go seals the browser library reads too.
func (c *JSClient) OpenSealed(seed []byte, roundID uint, aad, sealed []byte) ([]byte, error) {
	var res struct {
		Plain []byte `json:"plain"`
	}
	if err := c.call("open", map[string]any{"seed": seed, "round": roundID, "aad": aad, "sealed": sealed}, &res); err != nil {
		return nil, err
	}
	return res.Plain, nil
}

// Close stops node. It is registered with t.Cleanup; calling it again is harmless.
func (c *JSClient) Close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	c.closed = true
	c.stdin.Close() // the harness ends at end of input
	done := make(chan error, 1)
	go func() { done <- c.cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		c.cmd.Process.Kill()
		<-done
	}
}

func (c *JSClient) call(op string, args map[string]any, result any) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return fmt.Errorf("jsclient: %s: closed", op)
	}
	c.nextID++
	req := map[string]any{"id": c.nextID, "op": op}
	for k, v := range args {
		req[k] = v
	}
	line, err := json.Marshal(req)
	if err != nil {
		return err
	}
	if _, err := c.stdin.Write(append(line, '\n')); err != nil {
		return fmt.Errorf("jsclient: %s: write to node: %v%s", op, err, c.stderrNote())
	}
	reply, err := c.readLine()
	if err != nil {
		return fmt.Errorf("jsclient: %s: %w", op, err)
	}
	var env struct {
		ID     int             `json:"id"`
		Result json.RawMessage `json:"result"`
		Error  string          `json:"error"`
	}
	if err := json.Unmarshal(reply, &env); err != nil {
		return fmt.Errorf("jsclient: %s: bad reply %q: %v", op, reply, err)
	}
	if env.ID != c.nextID {
		return fmt.Errorf("jsclient: %s: reply to request %d, want %d", op, env.ID, c.nextID)
	}
	if env.Error != "" {
		return fmt.Errorf("jsclient: %s: %s", op, env.Error)
	}
	return json.Unmarshal(env.Result, result)
}

func (c *JSClient) readLine() ([]byte, error) {
	select {
	case line, ok := <-c.lines:
		if !ok {
			return nil, fmt.Errorf("node exited%s", c.stderrNote())
		}
		return line, nil
	case <-time.After(jsCallTimeout):
		return nil, fmt.Errorf("no answer from node after %v%s", jsCallTimeout, c.stderrNote())
	}
}

func (c *JSClient) stderrNote() string {
	if s := bytes.TrimSpace(c.stderr.Bytes()); len(s) > 0 {
		return "; node stderr: " + string(s)
	}
	return ""
}

// ModuleRoot is the directory holding go.mod, found by walking up from the working
// directory (a package's directory under go test).
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("surveytest: no go.mod above the working directory")
		}
		dir = parent
	}
}

// syncBuffer collects node's stderr while tests read it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]byte(nil), b.buf.Bytes()...)
}
