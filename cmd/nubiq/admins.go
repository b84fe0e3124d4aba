package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/nubiq/hub"
	"github.com/nubiq/hub/admin"
	"github.com/nubiq/hub/postgres"
)

func init() {
	register(&command{name: "admin", summary: "create dashboard owners and admins, or give one a new one-time password", run: runAdminCmd})
}

const adminHelp = `
The dashboard at /admin/ is for a workspace's active owners and admins. "admin create" makes
one and prints a one-time password, once: only its bcrypt hash is stored, and it must be
replaced at the first sign-in.`

func runAdminCmd(ctx context.Context, args []string) error {
	return runGroup(ctx, "admin", adminHelp, []subcommand{
		{"create", "create an owner or admin with a one-time password (--reset: a new one)", adminCreateCmd},
	}, args)
}

func adminCreateCmd(ctx context.Context, args []string) error {
	var (
		db                           dbFlags
		email, workspace, name, role string
		reset                        bool
	)
	fs := newFlags("admin create", "--email EMAIL --workspace ID|NAME [--name NAME] [--role owner|admin] [--reset] [flags]", `
Creates an active owner or admin of a workspace who can sign in to the dashboard at /admin/,
and prints a one-time password once. The first member of a workspace becomes its owner,
later ones admins, unless --role says otherwise.

With --reset, the existing member gets a new one-time password instead, and every session of
theirs ends. Use it when a password is lost.

Examples:
  nubiq admin create --email ana@example.com --workspace Acme --name "Ana Silva"
  nubiq admin create --email ana@example.com --workspace Acme --reset`)
	fs.StringVar(&email, "email", "", "the member's email address (required)")
	fs.StringVar(&workspace, "workspace", "", "workspace id or name (required)")
	fs.StringVar(&name, "name", "", "the member's display name")
	fs.StringVar(&role, "role", "", "owner or admin (default: owner for a workspace's first, admin after)")
	fs.BoolVar(&reset, "reset", false, "give an existing member a new one-time password and end their sessions")
	db.register(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErrorf(fs, "unexpected argument %q", fs.Arg(0))
	}
	if strings.TrimSpace(email) == "" || strings.TrimSpace(workspace) == "" {
		return usageErrorf(fs, "--email and --workspace are required")
	}
	d, err := openAdmin(ctx, &db)
	if err != nil {
		return err
	}
	defer d.Close()
	return adminCreate(ctx, d.DB, stdout, adminCreateParams{Email: email, Workspace: workspace, Name: name, Role: role, Reset: reset})
}

type adminCreateParams struct {
	Email, Workspace, Name, Role string
	Reset                        bool
	// Cost is the bcrypt cost; 0 means admin.DefaultPasswordCost.
	Cost int
}

// adminCreate does the work of `nubiq admin create` and prints the one-time password to out.
func adminCreate(ctx context.Context, db *postgres.DB, out io.Writer, p adminCreateParams) error {
	ws, err := db.FindWorkspace(ctx, strings.TrimSpace(p.Workspace))
	if err != nil {
		return err
	}
	password := admin.NewOneTimePassword()
	hash, err := admin.HashPassword(password, p.Cost)
	if err != nil {
		return err
	}
	m, created, err := db.BootstrapAdmin(ctx, postgres.BootstrapAdminParams{
		WorkspaceID: ws.ID, Email: p.Email, Name: p.Name, Role: p.Role, PasswordHash: hash, Reset: p.Reset,
	})
	if err != nil {
		return err
	}
	verb := "Created"
	if !created {
		verb = "Reset the password of"
	}
	fmt.Fprintf(out, "%s %s %s in workspace %q (id %d).\n", verb, m.Role, m.Email, ws.Name, ws.ID)
	if m.Status != "active" || (m.Role != postgres.RoleOwner && m.Role != postgres.RoleAdmin) {
		fmt.Fprintf(out, "Note: this member is %s and %s; only active owners and admins can sign in to the dashboard.\n", m.Status, m.Role)
	}
	fmt.Fprintf(out, "\nOne-time password (shown only now; it must be changed at the first sign-in):\n\n    %s\n\n", password)
	fmt.Fprintf(out, "Sign in at http://%s/admin/ (or wherever the server is reachable).\n", envOr("NUBIQ_ADDR", "127.0.0.1:8080"))
	return nil
}

// mountAdmin serves the dashboard under /admin/ in front of the rest of the server.
//
// Its settings come from the environment: NUBIQ_ADMIN_SESSION_TTL (default 12h),
// NUBIQ_ADMIN_SECURE_COOKIES (mark cookies Secure even over plain HTTP, for TLS ending at a
// proxy), NUBIQ_TRUST_PROXY (take the client address and scheme from X-Forwarded-For and
// X-Forwarded-Proto) and NUBIQ_KEY_MAX_EXPIRY (longest key lifetime, default 365d, as for
// `nubiq keys create`). Uploads share the limit of documents.upload (--max-upload-bytes).
// NUBIQ_ADMIN_JOBS_WORKSPACES names (comma-separated ids or names) the workspaces whose admins
// may open the job UI, which shows every workspace's jobs; without it only a server with a
// single workspace shows it, to that workspace's admins.
func mountAdmin(ctx context.Context, next http.Handler, db *database, logger *slog.Logger, maxUpload int64) (http.Handler, error) {
	maxLife, err := nubiq.ParseLifetime(envOr("NUBIQ_KEY_MAX_EXPIRY", "365d"))
	if err != nil {
		return nil, fmt.Errorf("NUBIQ_KEY_MAX_EXPIRY: %s", nubiq.ErrorMessage(err))
	}
	var jobsWS []int64
	for _, name := range strings.Split(os.Getenv("NUBIQ_ADMIN_JOBS_WORKSPACES"), ",") {
		if name = strings.TrimSpace(name); name == "" {
			continue
		}
		// An id needs no lookup, so it may name a workspace that does not exist yet.
		if id, err := strconv.ParseInt(name, 10, 64); err == nil && id > 0 {
			jobsWS = append(jobsWS, id)
			continue
		}
		ws, err := db.FindWorkspace(ctx, name)
		if err != nil {
			return nil, fmt.Errorf("NUBIQ_ADMIN_JOBS_WORKSPACES: %s", nubiq.ErrorMessage(err))
		}
		jobsWS = append(jobsWS, ws.ID)
	}
	h, err := admin.New(ctx, admin.Config{
		DB:             db.DB,
		Logger:         logger.With("component", "admin"),
		MaxUploadBytes: maxUpload,
		JobsWorkspaces: jobsWS,
		SessionTTL:     envDuration("NUBIQ_ADMIN_SESSION_TTL", 12*time.Hour),
		SecureCookies:  envBool("NUBIQ_ADMIN_SECURE_COOKIES"),
		TrustProxy:     envBool("NUBIQ_TRUST_PROXY"),
		KeyMaxLifetime: maxLife,
	})
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle(admin.Prefix, h)
	mux.Handle("/", next)
	return mux, nil
}

func envBool(name string) bool {
	b, _ := strconv.ParseBool(os.Getenv(name))
	return b
}
