package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/nubiq/hub"
	"github.com/nubiq/hub/postgres"
)

// findChromium returns the browser the dashboard's end-to-end test drives: NUBIQ_CHROMIUM, or
// Debian's chromium that scripts/setup-chromium installs.
func findChromium() string {
	for _, c := range []string{os.Getenv("NUBIQ_CHROMIUM"), "/usr/bin/chromium", "/usr/bin/chromium-browser"} {
		if c == "" {
			continue
		}
		if st, err := os.Stat(c); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return c
		}
	}
	for _, n := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	return ""
}

// chromiumForTest finds Chromium, installing it with scripts/setup-chromium when it is
// missing. Only when that fails too does the test skip, saying why; with
// NUBIQ_REQUIRE_BROWSER or CI set it fails instead, so that a CI run cannot pass without the
// browser.
func chromiumForTest(t *testing.T) string {
	t.Helper()
	if c := findChromium(); c != "" {
		return c
	}
	t.Log("Chromium not found: running scripts/setup-chromium")
	cmd := exec.Command(filepath.Join("..", "..", "scripts", "setup-chromium"))
	out, err := cmd.CombinedOutput()
	if c := findChromium(); c != "" {
		t.Logf("installed Chromium: %s", strings.TrimSpace(string(out)))
		return c
	}
	msg := fmt.Sprintf("SKIPPING the dashboard's browser test: Chromium is not installed and scripts/setup-chromium could not install it (err %v):\n%s", err, out)
	if os.Getenv("NUBIQ_REQUIRE_BROWSER") != "" || os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// artifactsDir is where the test keeps its screenshots: artifacts/admin-e2e at the root of
// the repository (git ignores artifacts/).
func artifactsDir(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("..", "..", "artifacts", "admin-e2e"))
	require.NoError(t, err)
	require.NoError(t, os.RemoveAll(dir))
	require.NoError(t, os.MkdirAll(dir, 0o755))
	return dir
}

// TestDashboardInBrowser drives headless Chromium through the dashboard of a real server: sign
// in (a wrong password first), replace the one-time password, create an API key and use it on
// /api/mcp/, revoke it and see it refused, see the workspace's usage, upload a document and
// watch it indexed, reindex it and watch the run finish, and open the jobs UI.
// Each page's screenshot is kept under artifacts/admin-e2e/.
func TestDashboardInBrowser(t *testing.T) {
	chromium := chromiumForTest(t)
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	// A real server on a fresh database, wired as `nubiq serve` wires it.
	base, url, stop := startServer(t)
	defer stop()
	db, err := postgres.Open(ctx, postgres.Config{URL: url})
	require.NoError(t, err)
	defer db.Close()
	ws, err := db.CreateWorkspace(ctx, "Acme Support", "pro")
	require.NoError(t, err)
	var out bytes.Buffer
	require.NoError(t, adminCreate(ctx, db, &out, adminCreateParams{Email: "ana@example.com", Workspace: "Acme Support", Name: "Ana", Cost: bcrypt.MinCost}))
	m := oneTimeRE.FindStringSubmatch(out.String())
	require.NotNil(t, m, out.String())
	oneTime := m[1]

	// The browser.
	shots := artifactsDir(t)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 1000),
	)...)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(allocCtx)
	defer cancelBrowser()
	require.NoError(t, chromedp.Do(bctx, chromedp.Navigate("about:blank")), "start Chromium")
	_, err = chromedp.CallBrowser(bctx, browser.SetPermission, browser.SetPermissionParams{
		Permission: &browser.PermissionDescriptor{Name: "clipboard-read"}, Setting: browser.PermissionSettingGranted, Origin: base})
	require.NoError(t, err)
	_, err = chromedp.CallBrowser(bctx, browser.SetPermission, browser.SetPermissionParams{
		Permission: &browser.PermissionDescriptor{Name: "clipboard-write"}, Setting: browser.PermissionSettingGranted, Origin: base})
	require.NoError(t, err)

	// Every console error, CSP violation and uncaught exception on our pages fails the test.
	var (
		mu       sync.Mutex
		problems []string
	)
	_, err = chromedp.Call(bctx, cdplog.Enable, cdp.Empty{})
	require.NoError(t, err)
	require.NoError(t, chromedp.Listen(bctx, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch ev := ev.(type) {
		case *cdplog.EventEntryAdded:
			if ev.Entry.Level == cdplog.EntryLevelError && !strings.Contains(ev.Entry.URL, "/admin/jobs/") {
				problems = append(problems, fmt.Sprintf("console %s: %s (%s)", ev.Entry.Source, ev.Entry.Text, ev.Entry.URL))
			}
		case *runtime.EventExceptionThrown:
			problems = append(problems, "exception: "+ev.ExceptionDetails.Text)
		}
	}))

	step := 0
	shot := func(name string) {
		t.Helper()
		step++
		buf, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
		require.NoError(t, err, "screenshot %s", name)
		require.NoError(t, os.WriteFile(filepath.Join(shots, fmt.Sprintf("%02d-%s.png", step, name)), buf, 0o644))
	}
	do := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		require.NoError(t, chromedp.Do(bctx, actions...), what)
	}
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(bctx, chromedp.Text(chromedp.CSS(sel)))
		require.NoError(t, err, "text of %s", sel)
		return s
	}
	// waitFor evaluates cond until it is true. The page reloads itself meanwhile, which
	// interrupts evaluations; those count as not yet.
	waitFor := func(what, cond string, timeout time.Duration) {
		t.Helper()
		deadline := time.Now().Add(timeout)
		for {
			ok, err := chromedp.Run(bctx, chromedp.Evaluate[bool](cond))
			if err == nil && ok {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: not within %s (last error %v)", what, timeout, err)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	location := func() string {
		t.Helper()
		l, err := chromedp.Run(bctx, chromedp.Location())
		require.NoError(t, err)
		return strings.TrimPrefix(l, base)
	}

	// Sign in: the dashboard sends us to the form; a wrong password gets the generic error.
	do("open the dashboard", chromedp.Navigate(base+"/admin/"), chromedp.WaitVisible(chromedp.ID("email")))
	require.Equal(t, "/admin/login?next=%2Fadmin%2F", location())
	shot("sign-in")
	do("wrong password",
		chromedp.SendKeys(chromedp.ID("email"), "ana@example.com"),
		chromedp.SendKeys(chromedp.ID("password"), "not the password"),
		chromedp.Submit(chromedp.ID("password")),
		chromedp.WaitVisible(chromedp.CSS(".error-summary")))
	require.Contains(t, text(".error-summary"), "The email, password or workspace is not correct.")
	shot("sign-in-refused")
	do("sign in with the one-time password",
		chromedp.SendKeys(chromedp.ID("password"), oneTime),
		chromedp.Submit(chromedp.ID("password")),
		chromedp.WaitVisible(chromedp.ID("new")))
	require.Equal(t, "/admin/account/password", location())
	shot("choose-password")
	do("choose a password",
		chromedp.SendKeys(chromedp.ID("current"), oneTime),
		chromedp.SendKeys(chromedp.ID("new"), "a long and private passphrase"),
		chromedp.SendKeys(chromedp.ID("confirm"), "a long and private passphrase"),
		chromedp.Submit(chromedp.ID("confirm")),
		chromedp.WaitVisible(chromedp.ID("usage-minute")))
	require.Contains(t, text(".notice"), "Your password was changed.")
	shot("workspace")
	// Keyboard users meet the skip link first, and it moves focus to the content.
	do("tab", chromedp.KeyEvent(kb.Tab))
	focused, err := chromedp.Run(bctx, chromedp.Evaluate[string](`document.activeElement.textContent`))
	require.NoError(t, err)
	require.Equal(t, "Skip to content", focused)
	do("skip", chromedp.KeyEvent(kb.Enter))
	focused, err = chromedp.Run(bctx, chromedp.Evaluate[string](`document.activeElement.id`))
	require.NoError(t, err)
	require.Equal(t, "main", focused)

	// Settings → API Keys → Create API key.
	do("open API keys",
		chromedp.Click(chromedp.CSS(`nav a[href="/admin/settings/api-keys"]`)),
		chromedp.WaitVisible(chromedp.CSS(`a.button[href="/admin/settings/api-keys/new"]`)))
	require.Contains(t, text("main"), "This workspace has no API keys yet.")
	do("open the create form",
		chromedp.Click(chromedp.CSS(`a.button[href="/admin/settings/api-keys/new"]`)),
		chromedp.WaitVisible(chromedp.ID("name")))
	do("fill the form",
		chromedp.SendKeys(chromedp.ID("name"), "Claude Code on Ana's laptop"),
		chromedp.Click(chromedp.ID("scope-documents-read")),
		chromedp.Click(chromedp.ID("scope-tickets-read")),
		chromedp.Click(chromedp.ID("expiry-30")))
	shot("key-create")
	do("create the key",
		chromedp.Click(chromedp.CSS(`form[action="/admin/settings/api-keys"] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.ID("secret")))
	require.Contains(t, text(".warning"), "It will not be shown again.")
	secret, err := chromedp.Run(bctx, chromedp.Value(chromedp.ID("secret")))
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(secret, "nbq_"), secret)
	// The copy button exists only with JavaScript, and copies the key.
	do("copy the key", chromedp.WaitVisible(chromedp.CSS("button.copy")), chromedp.Click(chromedp.CSS("button.copy")),
		chromedp.Poll[chromedp.Void](`document.getElementById("copy-status").textContent !== ""`, chromedp.WithPollingTimeout(5*time.Second)))
	require.Equal(t, "The key was copied to the clipboard.", text("#copy-status"))
	clip, err := chromedp.Run(bctx, chromedp.Evaluate[string](`navigator.clipboard.readText()`, chromedp.EvalAwaitPromise))
	require.NoError(t, err)
	require.Equal(t, secret, clip)
	shot("key-created")

	// The key works on the MCP endpoint and sees the tools of its scopes only.
	tools := mcpToolsList(t, base, secret)
	require.Contains(t, tools, "documents.search")
	require.Contains(t, tools, "tickets.list")
	require.NotContains(t, tools, "conversations.list")

	do("back to the list", chromedp.Click(chromedp.CSS(`a.button[href="/admin/settings/api-keys"]`)), chromedp.WaitVisible(chromedp.CSS("table.keys")))
	row := text("table.keys tbody tr")
	require.Contains(t, row, "Claude Code on Ana's laptop")
	require.Contains(t, row, secret[:12])
	require.NotContains(t, text("main"), secret)
	require.Contains(t, row, "active")
	shot("keys")

	// Revoke, through the confirmation page.
	do("ask to revoke", chromedp.Click(chromedp.CSS(`table.keys a[href$="/revoke"]`)), chromedp.WaitVisible(chromedp.CSS("button.danger")))
	shot("key-revoke-confirm")
	do("revoke", chromedp.Click(chromedp.CSS("button.danger")), chromedp.WaitVisible(chromedp.CSS(".notice")))
	require.Contains(t, text(".notice"), "was revoked")
	require.Contains(t, text("table.keys tbody tr"), "revoked")
	shot("key-revoked")
	// Verified keys may be trusted from a cache for up to two seconds.
	acceptedAfterRevoke := 0
	require.Eventually(t, func() bool {
		st := mcpStatus(t, base, secret)
		if st == http.StatusOK {
			acceptedAfterRevoke++
		}
		return st == http.StatusUnauthorized
	}, 5*time.Second, 100*time.Millisecond, "the revoked key must be refused")

	// Without the script the same forms work; the copy button stays hidden and the key can be
	// selected by hand.
	nojs, cancelNoJS := chromedp.NewContext(bctx)
	do2 := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		require.NoError(t, chromedp.Do(nojs, actions...), what)
	}
	do2("open a tab", chromedp.Navigate("about:blank"))
	// Blocking the page's one script leaves the protocol's own evaluation working, which
	// disabling scripts altogether would not.
	_, err = chromedp.Call(nojs, network.Enable, network.EnableParams{})
	require.NoError(t, err)
	_, err = chromedp.Call(nojs, network.SetBlockedURLs, network.SetBlockedURLsParams{
		URLPatterns: []*network.BlockPattern{{URLPattern: base + "/admin/static/*.js", Block: true}}})
	require.NoError(t, err)
	do2("create a key without the script",
		chromedp.Navigate(base+"/admin/settings/api-keys/new"),
		chromedp.WaitVisible(chromedp.ID("name")),
		chromedp.SendKeys(chromedp.ID("name"), "no-script client"),
		chromedp.Click(chromedp.ID("scope-team-read")),
		chromedp.Click(chromedp.ID("expiry-90")),
		chromedp.Click(chromedp.CSS(`form[action="/admin/settings/api-keys"] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.ID("secret")))
	// Checked at once rather than waited for: without the script nothing will change.
	copyShown, err := chromedp.Run(nojs, chromedp.Evaluate[bool](`document.querySelector("button.copy").checkVisibility()`))
	require.NoError(t, err)
	require.False(t, copyShown, "the copy button needs the script, so it stays hidden without it")
	buf, err := chromedp.Run(nojs, chromedp.FullScreenshot(100))
	require.NoError(t, err)
	step++
	require.NoError(t, os.WriteFile(filepath.Join(shots, fmt.Sprintf("%02d-key-created-without-script.png", step)), buf, 0o644))
	secret2, err := chromedp.Run(nojs, chromedp.Value(chromedp.ID("secret")))
	require.NoError(t, err)
	require.Contains(t, mcpToolsList(t, base, secret2), "team.members")
	cancelNoJS()

	// Workspace usage counts the MCP requests the key made.
	do("workspace", chromedp.Click(chromedp.CSS(`nav a[href="/admin/workspace"]`)), chromedp.WaitVisible(chromedp.ID("usage-day")))
	// Two tools/list sessions of two requests each, and whatever the cache let through after
	// the revocation; refused requests do not count.
	require.Equal(t, fmt.Sprint(4+acceptedAfterRevoke), text("#usage-day"))
	require.Contains(t, text("main"), "Claude Code on Ana's laptop")
	require.Contains(t, text("main"), "no-script client")
	shot("workspace-usage")

	// Documents: upload a file through the form; the server's own workers index it while the
	// page, reloading itself, shows it queued and then ready.
	docFile := filepath.Join(t.TempDir(), "refund-policy.md")
	require.NoError(t, os.WriteFile(docFile, []byte("# Refund policy\n\n## Annual plans\n\nAnnual plans are refunded pro rata within 30 days of renewal.\n\n"+
		"## Monthly plans\n\nMonthly plans are not refunded; cancel before the next billing date.\n"), 0o644))
	do("documents", chromedp.Click(chromedp.CSS(`nav a[href="/admin/documents"]`)), chromedp.WaitVisible(chromedp.ID("file")))
	require.Contains(t, text("main"), "No documents yet.")
	do("upload a document",
		chromedp.SetUploadFiles(chromedp.ID("file"), []string{docFile}),
		chromedp.SendKeys(chromedp.ID("title"), "Refund policy"),
		chromedp.Click(chromedp.CSS(`form[action="/admin/documents"] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS("table.documents")))
	require.Contains(t, text(".notice"), "The document was uploaded and queued for indexing.")
	docs, _, err := db.ListDocuments(ctx, nubiq.DocumentFilter{WorkspaceID: ws.ID})
	require.NoError(t, err)
	require.Len(t, docs, 1)
	doc := docs[0]
	require.Equal(t, "Refund policy", doc.Title)
	require.Equal(t, "text/markdown", doc.MIMEType)
	shot("document-uploaded")
	docRow := fmt.Sprintf("#document-%d", doc.ID)
	waitFor("the document gets indexed", fmt.Sprintf(`document.querySelector(%q)?.textContent === "ready"`, docRow+" .status"), 30*time.Second)
	require.Contains(t, text(docRow), "ready")
	doc2, err := db.GetDocument(ctx, ws.ID, doc.ID)
	require.NoError(t, err)
	require.Equal(t, nubiq.DocumentReady, doc2.Status)
	require.Positive(t, doc2.ChunkCount)
	require.Contains(t, text(docRow), doc2.Embedder)
	shot("document-ready")

	// Reindex it from its row: the run page follows progress until the run is done.
	do("reindex the document",
		chromedp.Click(chromedp.CSS(docRow+` form[action$="/reindex"] button`)),
		chromedp.WaitVisible(chromedp.ID("run-status")))
	require.Regexp(t, `^/admin/reindex-runs/\d+$`, location())
	shot("reindex-run")
	waitFor("the reindex run finishes", `document.getElementById("run-status")?.textContent === "done"`, 30*time.Second)
	require.Contains(t, text("#run-counts"), "1 of 1 processed: 1 done, 0 failed.")
	shot("reindex-run-done")
	doc3, err := db.GetDocument(ctx, ws.ID, doc.ID)
	require.NoError(t, err)
	require.Equal(t, nubiq.DocumentReady, doc3.Status)
	require.True(t, doc3.IndexedAt.After(*doc2.IndexedAt), "the document was indexed again")
	do("back to documents", chromedp.Click(chromedp.CSS(`.breadcrumb a[href="/admin/documents"]`)), chromedp.WaitVisible(chromedp.CSS("table.runs")))
	require.Contains(t, text("table.runs"), "done")
	shot("documents")

	// Jobs: River's UI behind the same sign-in, listing the indexing jobs just run.
	resp, err := chromedp.RunResponse(bctx, chromedp.Click(chromedp.CSS(`nav a[href="/admin/jobs/"]`)))
	require.NoError(t, err, "open jobs")
	require.EqualValues(t, http.StatusOK, resp.Status)
	// River's UI opens on running jobs; ours have completed.
	do("jobs UI lists the indexing jobs",
		chromedp.WaitVisible(chromedp.CSS(`a[href*="state=completed"]`)),
		chromedp.Click(chromedp.CSS(`a[href*="state=completed"]`)),
		chromedp.Poll[chromedp.Void](`document.body.innerText.includes("ingest_document")`, chromedp.WithPollingTimeout(15*time.Second)))
	require.True(t, strings.HasPrefix(location(), "/admin/jobs/"), location())
	shot("jobs")

	// Sign out: the dashboard is closed again.
	do("sign out", chromedp.Navigate(base+"/admin/workspace"), chromedp.WaitVisible(chromedp.CSS(`form[action="/admin/logout"] button`)),
		chromedp.Click(chromedp.CSS(`form[action="/admin/logout"] button`)), chromedp.WaitVisible(chromedp.ID("email")))
	do("signed out", chromedp.Navigate(base+"/admin/settings/api-keys"), chromedp.WaitVisible(chromedp.ID("email")))
	require.True(t, strings.HasPrefix(location(), "/admin/login"), location())

	mu.Lock()
	defer mu.Unlock()
	// The sign-in refusal answers 401, which Chromium reports as a failed resource load.
	problems = slices.DeleteFunc(problems, func(p string) bool {
		return strings.Contains(p, "status of 401") && strings.Contains(p, "/admin/login")
	})
	require.Empty(t, problems, "browser console")
	t.Logf("dashboard browser test took %s; screenshots in %s", time.Since(start).Round(time.Millisecond), shots)
}

// mcpPost sends one JSON-RPC message to /api/mcp/ with the key and returns the status and the
// JSON-RPC response (from a JSON body or the first event of an event stream).
func mcpPost(t *testing.T, base, key string, msg map[string]any) (int, map[string]any) {
	t.Helper()
	b, _ := json.Marshal(msg)
	req, _ := http.NewRequest(http.MethodPost, base+"/api/mcp/", bytes.NewReader(b))
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("MCP-Protocol-Version", "2025-06-18")
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		io.Copy(io.Discard, res.Body) //nolint:errcheck
		return res.StatusCode, nil
	}
	var body []byte
	if strings.HasPrefix(res.Header.Get("Content-Type"), "text/event-stream") {
		sc := bufio.NewScanner(res.Body)
		sc.Buffer(make([]byte, 1<<20), 8<<20)
		for sc.Scan() {
			if d, ok := strings.CutPrefix(sc.Text(), "data:"); ok {
				body = []byte(strings.TrimSpace(d))
				break
			}
		}
	} else {
		body, _ = io.ReadAll(res.Body)
	}
	var out map[string]any
	require.NoError(t, json.Unmarshal(body, &out), "%s", body)
	return res.StatusCode, out
}

func mcpStatus(t *testing.T, base, key string) int {
	status, _ := mcpPost(t, base, key, map[string]any{"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
	return status
}

// mcpToolsList initialises an MCP session over plain HTTP and lists the tool names.
func mcpToolsList(t *testing.T, base, key string) []string {
	t.Helper()
	status, res := mcpPost(t, base, key, map[string]any{"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": map[string]any{
		"protocolVersion": "2025-06-18", "capabilities": map[string]any{}, "clientInfo": map[string]any{"name": "e2e", "version": "1"}}})
	require.Equal(t, http.StatusOK, status)
	require.NotNil(t, res["result"], "%v", res)
	status, res = mcpPost(t, base, key, map[string]any{"jsonrpc": "2.0", "id": 2, "method": "tools/list"})
	require.Equal(t, http.StatusOK, status)
	result, _ := res["result"].(map[string]any)
	require.NotNil(t, result, "%v", res)
	var names []string
	for _, tool := range result["tools"].([]any) {
		names = append(names, tool.(map[string]any)["name"].(string))
	}
	return names
}
