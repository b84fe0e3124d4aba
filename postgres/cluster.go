package postgres

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// ClusterConfig configures a private PostgreSQL cluster kept under a data directory.
type ClusterConfig struct {
	// Dir is the directory that holds the cluster (Dir/pg) and its socket. Required.
	Dir string
	// Port is the loopback TCP port. 0 picks a free port on first start and keeps it.
	Port int
	// BinDir holds initdb, pg_ctl and postgres. Empty finds the newest installed version.
	BinDir string
	// RunAs is the OS user the server runs as when this process is root, since PostgreSQL
	// refuses to run as root. Default "postgres".
	RunAs string
	// Fast trades durability for speed (fsync off): for test clusters only.
	Fast   bool
	Logger *slog.Logger
}

// Cluster is a local PostgreSQL server managed by this process or found already running.
type Cluster struct {
	cfg       ClusterConfig
	pgdata    string
	socketDir string
	port      int
	user      string
	started   bool // true when this process started the server and so should stop it
	cred      *syscall.Credential
}

// superuser is the cluster's bootstrap role; the server trusts only its private socket.
const superuser = "nubiq"

// StartCluster starts the cluster under cfg.Dir, creating it with initdb on first use, or
// reuses it when another process already runs it.
func StartCluster(ctx context.Context, cfg ClusterConfig) (*Cluster, error) {
	if cfg.Dir == "" {
		return nil, errors.New("cluster: data directory is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.RunAs == "" {
		cfg.RunAs = "postgres"
	}
	dir, err := filepath.Abs(cfg.Dir)
	if err != nil {
		return nil, err
	}
	cfg.Dir = dir
	if cfg.BinDir == "" {
		if cfg.BinDir, err = FindPostgresBin(); err != nil {
			return nil, err
		}
	}
	c := &Cluster{cfg: cfg, pgdata: filepath.Join(dir, "pg"), user: superuser}
	c.socketDir = socketDirFor(dir)
	if os.Geteuid() == 0 {
		if c.cred, err = credentialFor(cfg.RunAs); err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("cluster: create %s: %w", dir, err)
	}
	if c.cred != nil {
		if err := checkTraversable(dir, cfg.RunAs); err != nil {
			return nil, err
		}
	}

	unlock, err := lockFile(filepath.Join(dir, "cluster.lock"))
	if err != nil {
		return nil, err
	}
	defer unlock()

	if _, err := os.Stat(filepath.Join(c.pgdata, "PG_VERSION")); errors.Is(err, os.ErrNotExist) {
		if err := c.initdb(ctx); err != nil {
			return nil, err
		}
	}
	if c.port, err = c.configuredPort(); err != nil {
		return nil, err
	}
	if err := c.prepareSocketDir(); err != nil {
		return nil, err
	}
	if c.running(ctx) {
		cfg.Logger.Info("reusing running local PostgreSQL cluster; it stops when the process that started it stops", "dir", c.pgdata, "port", c.port)
		return c, nil
	}
	if err := c.start(ctx); err != nil {
		return nil, err
	}
	c.started = true
	return c, nil
}

// FindPostgresBin returns the bin directory of the newest installed PostgreSQL server.
func FindPostgresBin() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return pgMajor(dirs[i]) > pgMajor(dirs[j]) })
	for _, d := range dirs {
		if isExec(filepath.Join(d, "initdb")) && isExec(filepath.Join(d, "pg_ctl")) {
			return d, nil
		}
	}
	if p, err := exec.LookPath("pg_ctl"); err == nil && isExec(filepath.Join(filepath.Dir(p), "initdb")) {
		return filepath.Dir(p), nil
	}
	return "", errors.New("no PostgreSQL server binaries found (initdb, pg_ctl): run scripts/setup-postgres, or set NUBIQ_DATABASE_URL to use an existing database")
}

func pgMajor(binDir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return n
}

func isExec(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir() && st.Mode()&0o111 != 0
}

// socketDirFor keeps the socket path under the ~107-byte limit of Unix socket addresses:
// inside the data dir when short enough, else in a per-directory folder under the temp dir.
func socketDirFor(dir string) string {
	d := filepath.Join(dir, "run")
	if len(d)+len("/.s.PGSQL.65535") < 100 {
		return d
	}
	sum := sha256.Sum256([]byte(dir))
	return filepath.Join(os.TempDir(), "nubiq-pg-"+hex.EncodeToString(sum[:6]))
}

func credentialFor(name string) (*syscall.Credential, error) {
	u, err := user.Lookup(name)
	if err != nil {
		return nil, fmt.Errorf("cluster: running as root, PostgreSQL must run as an unprivileged user, and user %q was not found (install PostgreSQL's package, which creates it, or set --pg-user): %w", name, err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if uid == 0 {
		return nil, fmt.Errorf("cluster: user %q is root; PostgreSQL refuses to run as root", name)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

// checkTraversable fails early, with the reason, when the server's OS user cannot reach the
// data directory (a home directory with mode 0700 is the usual cause).
func checkTraversable(dir, runAs string) error {
	for d := dir; ; d = filepath.Dir(d) {
		st, err := os.Stat(d)
		if err != nil {
			return err
		}
		if d != dir && st.Mode().Perm()&0o001 == 0 {
			return fmt.Errorf("cluster: the data directory %s is inside %s, which user %q cannot enter (mode %v); choose a data directory elsewhere with --data-dir or NUBIQ_DATA_DIR", dir, d, runAs, st.Mode().Perm())
		}
		if d == "/" {
			return nil
		}
	}
}

func lockFile(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("cluster: open lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("cluster: lock: %w", err)
	}
	return func() { syscall.Flock(int(f.Fd()), syscall.LOCK_UN); f.Close() }, nil //nolint:errcheck
}

func (c *Cluster) command(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, filepath.Join(c.cfg.BinDir, name), args...)
	// Its own process group, so a Ctrl-C meant for us does not also hit the server; we stop it
	// ourselves, in order.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if c.cred != nil {
		cmd.SysProcAttr.Credential = c.cred
	}
	cmd.Env = append(os.Environ(), "LC_ALL=C.UTF-8", "LANG=C.UTF-8")
	cmd.Dir = c.cfg.Dir
	return cmd
}

func (c *Cluster) run(ctx context.Context, name string, args ...string) error {
	out, err := c.command(ctx, name, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %w\n%s", name, err, strings.TrimSpace(string(out)))
	}
	return nil
}

func (c *Cluster) initdb(ctx context.Context) error {
	c.cfg.Logger.Info("creating local PostgreSQL cluster", "dir", c.pgdata)
	tmp := c.pgdata + ".init"
	os.RemoveAll(tmp)
	if err := os.MkdirAll(tmp, 0o700); err != nil {
		return err
	}
	pw := make([]byte, 24)
	rand.Read(pw)
	pwFile := filepath.Join(c.cfg.Dir, "pg-password")
	if err := os.WriteFile(pwFile, []byte(hex.EncodeToString(pw)+"\n"), 0o600); err != nil {
		return err
	}
	if err := c.chown(tmp, pwFile); err != nil {
		return err
	}
	// Local socket connections are trusted (the socket directory is private to the server's
	// user and to root); TCP connections need the password in pg-password.
	err := c.run(ctx, "initdb", "-D", tmp, "-U", superuser, "-E", "UTF8", "--locale=C.UTF-8",
		"--auth-local=trust", "--auth-host=scram-sha-256", "--pwfile="+pwFile)
	if err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	port := c.cfg.Port
	if port == 0 {
		if port, err = freePort(); err != nil {
			return err
		}
	}
	conf := fmt.Sprintf("\n# nubiq local cluster\nlisten_addresses = '127.0.0.1'\nport = %d\nmax_connections = 200\nshared_buffers = 256MB\nmaintenance_work_mem = 512MB\nunix_socket_permissions = 0770\n", port)
	if c.cfg.Fast {
		conf += "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
	}
	f, err := os.OpenFile(filepath.Join(tmp, "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, err = f.WriteString(conf)
	f.Close()
	if err != nil {
		return err
	}
	// Renamed into place only when complete, so an interrupted initdb is redone, not reused.
	return os.Rename(tmp, c.pgdata)
}

func (c *Cluster) chown(paths ...string) error {
	if c.cred == nil {
		return nil
	}
	for _, p := range paths {
		if err := os.Chown(p, int(c.cred.Uid), int(c.cred.Gid)); err != nil {
			return fmt.Errorf("cluster: chown %s: %w", p, err)
		}
	}
	return nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// configuredPort reads the port back from postgresql.conf (the last setting wins).
func (c *Cluster) configuredPort() (int, error) {
	f, err := os.Open(filepath.Join(c.pgdata, "postgresql.conf"))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	port := 5432
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if v, ok := strings.CutPrefix(line, "port = "); ok {
			if p, err := strconv.Atoi(strings.Fields(v)[0]); err == nil {
				port = p
			}
		}
	}
	return port, sc.Err()
}

func (c *Cluster) prepareSocketDir() error {
	if err := os.MkdirAll(c.socketDir, 0o750); err != nil {
		return fmt.Errorf("cluster: socket dir: %w", err)
	}
	return c.chown(c.socketDir)
}

func (c *Cluster) running(ctx context.Context) bool {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, c.URL("postgres"))
	if err != nil {
		return false
	}
	conn.Close(ctx)
	return true
}

func (c *Cluster) start(ctx context.Context) error {
	c.cfg.Logger.Info("starting local PostgreSQL cluster", "dir", c.pgdata, "port", c.port, "socket", c.socketDir)
	logPath := filepath.Join(c.cfg.Dir, "postgres.log")
	if f, err := os.OpenFile(logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o640); err == nil {
		f.Close()
		c.chown(logPath) //nolint:errcheck
	}
	// A stale pid file from a crash is handled by postgres itself; pg_ctl -w waits for ready.
	err := c.run(ctx, "pg_ctl", "start", "-w", "-t", "60", "-D", c.pgdata, "-l", logPath,
		"-o", fmt.Sprintf("-k %s -p %d", c.socketDir, c.port))
	if err != nil {
		if c.running(ctx) {
			return nil
		}
		return fmt.Errorf("cluster: start failed (see %s): %w", logPath, err)
	}
	return nil
}

// Stop stops the server if this process started it; a reused cluster is left running.
func (c *Cluster) Stop(ctx context.Context) error {
	if !c.started {
		return nil
	}
	c.cfg.Logger.Info("stopping local PostgreSQL cluster", "dir", c.pgdata)
	if err := c.run(ctx, "pg_ctl", "stop", "-w", "-t", "60", "-m", "fast", "-D", c.pgdata); err != nil {
		return fmt.Errorf("cluster: stop: %w", err)
	}
	c.started = false
	return nil
}

// Started reports whether this process started the server (and so will stop it).
func (c *Cluster) Started() bool { return c.started }

// Port returns the cluster's loopback TCP port.
func (c *Cluster) Port() int { return c.port }

// URL returns a connection URL for database dbname over the private Unix socket.
func (c *Cluster) URL(dbname string) string {
	q := url.Values{"host": {c.socketDir}, "port": {strconv.Itoa(c.port)}, "sslmode": {"disable"}}
	return (&url.URL{Scheme: "postgres", User: url.User(c.user), Path: "/" + dbname, RawQuery: q.Encode()}).String()
}

// EnsureDatabase creates database name if it does not exist.
func (c *Cluster) EnsureDatabase(ctx context.Context, name string) error {
	return EnsureDatabase(ctx, c.URL("postgres"), name, "")
}

// EnsureDatabase connects to the maintenance database at adminURL and creates database name
// (from template, when given) unless it exists.
func EnsureDatabase(ctx context.Context, adminURL, name, template string) error {
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(ctx)
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, name).Scan(&exists); err != nil {
		return err
	}
	if exists {
		return nil
	}
	sql := "CREATE DATABASE " + pgx.Identifier{name}.Sanitize()
	if template != "" {
		sql += " TEMPLATE " + pgx.Identifier{template}.Sanitize()
	}
	if _, err := conn.Exec(ctx, sql); err != nil {
		return fmt.Errorf("create database %s: %w", name, err)
	}
	return nil
}
