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
	register(&command{name: "admin", summary: "create a dashboard owner or admin, or give one a new one-time password", run: runAdmin})
}

const adminDescription = `
"create" makes an active owner or admin of a workspace who can sign in to the dashboard at
/admin/, and prints a one-time password once: it is stored only as a bcrypt hash, and must be
replaced at the first sign-in. The first member of a workspace becomes its owner, later ones
admins, unless --role says otherwise.

With --reset, the existing member gets a new one-time password instead, and every session of
theirs ends. Use it when a password is lost.

Examples:
  nubiq admin create --email ana@example.com --workspace Acme --name "Ana Silva"
  nubiq admin create --email ana@example.com --workspace Acme --reset`

func runAdmin(ctx context.Context, args []string) error {
	var db dbFlags
	fs := newFlags("admin", "create --email EMAIL --workspace ID|NAME [--name NAME] [--role owner|admin] [--reset]", adminDescription)
	db.register(fs)
	email := fs.String("email", "", "the member's email address (required)")
	workspace := fs.String("workspace", "", "workspace id or name (required)")
	name := fs.String("name", "", "the member's display name")
	role := fs.String("role", "", "owner or admin (default: owner for a workspace's first, admin after)")
	reset := fs.Bool("reset", false, "give an existing member a new one-time password and end their sessions")
	if len(args) == 0 || args[0] != "create" {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
			fs.SetOutput(os.Stdout)
			fs.Usage()
			return nil
		}
		fmt.Fprintln(os.Stderr, `nubiq admin: expected "create"`)
		fmt.Fprintln(os.Stderr)
		fs.Usage()
		return errUsage
	}
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "nubiq admin create: unexpected argument %q\n", fs.Arg(0))
		return errUsage
	}
	if *email == "" || *workspace == "" {
		fmt.Fprintln(os.Stderr, "nubiq admin create: --email and --workspace are required")
		fs.Usage()
		return errUsage
	}
	logger := newLogger(db.LogLevel)
	d, err := openMigrated(ctx, &db, logger)
	if err != nil {
		return err
	}
	defer d.Close()
	return adminCreate(ctx, d.DB, os.Stdout, adminCreateParams{
		Email: *email, Workspace: *workspace, Name: *name, Role: *role, Reset: *reset,
	})
}

type adminCreateParams struct {
	Email, Workspace, Name, Role string
	Reset                        bool
	// Cost is the bcrypt cost; 0 means admin.DefaultPasswordCost.
	Cost int
}

// adminCreate does the work of `nubiq admin create` and prints the one-time password to out.
func adminCreate(ctx context.Context, db *postgres.DB, out io.Writer, p adminCreateParams) error {
	ws, err := db.FindWorkspace(ctx, p.Workspace)
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
// X-Forwarded-Proto) and NUBIQ_KEY_MAX_EXPIRY (longest key expiry offered, default 365d).
func mountAdmin(ctx context.Context, next http.Handler, db *database, logger *slog.Logger, docs admin.DocumentStore) (http.Handler, error) {
	maxLife, err := parseDays(envOr("NUBIQ_KEY_MAX_EXPIRY", "365d"))
	if err != nil {
		return nil, fmt.Errorf("NUBIQ_KEY_MAX_EXPIRY: %w", err)
	}
	h, err := admin.New(ctx, admin.Config{
		DB:             db.DB,
		Logger:         logger.With("component", "admin"),
		Documents:      docs,
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

// parseDays parses "90d" as days, or any Go duration.
func parseDays(s string) (time.Duration, error) {
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.Atoi(n)
		if err != nil || days <= 0 {
			return 0, nubiq.Invalidf("lifetime", "%q is not a positive number of days", s)
		}
		return time.Duration(days) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, nubiq.Invalidf("lifetime", "%q is not a lifetime such as 365d or 720h", s)
	}
	return d, nil
}
