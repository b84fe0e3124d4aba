package bench

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// serverProcess is a real `nubiq serve` process on the scratch database, for figures that
// only a process of its own can give (its memory).
type serverProcess struct {
	cmd     *exec.Cmd
	addr    string
	URL     string // the MCP endpoint
	dataDir string
	stderr  bytes.Buffer
	exited  chan error
}

// startServerProcess runs argv (the nubiq binary and "serve") with the scratch database, a
// data directory of its own and a free loopback port, and waits until /readyz answers. When
// indexDir is set, its "index" directory (a stopped node's search indexes) is moved into the
// server's data directory first, so that the server opens it instead of building its own.
func startServerProcess(ctx context.Context, argv []string, databaseURL, indexDir string, extraEnv ...string) (*serverProcess, error) {
	if len(argv) == 0 {
		return nil, fmt.Errorf("no server command")
	}
	port, err := freeLoopbackPort()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "nubiq-bench-node-")
	if err != nil {
		return nil, err
	}
	if indexDir != "" {
		if err := os.Rename(filepath.Join(indexDir, "index"), filepath.Join(dir, "index")); err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("hand the search indexes to the server: %w", err)
		}
	}
	p := &serverProcess{addr: "127.0.0.1:" + strconv.Itoa(port), dataDir: dir}
	p.URL = "http://" + p.addr + "/api/mcp/"
	args := append(append([]string{}, argv[1:]...), "--addr", p.addr, "--database-url", databaseURL, "--data-dir", dir, "--log-level", "warn")
	p.cmd = exec.Command(argv[0], args...)
	p.cmd.Env = append(os.Environ(), extraEnv...)
	p.cmd.Stderr = &p.stderr
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := p.cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("start %s: %w", argv[0], err)
	}
	p.exited = make(chan error, 1)
	go func() { p.exited <- p.cmd.Wait() }()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		select {
		case err := <-p.exited:
			os.RemoveAll(dir)
			return nil, fmt.Errorf("server exited before it was ready (%v): %s", err, strings.TrimSpace(p.stderr.String()))
		case <-ctx.Done():
			p.stop()
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		resp, err := http.Get("http://" + p.addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p, nil
			}
		}
		if time.Now().After(deadline) {
			p.stop()
			return nil, fmt.Errorf("server not ready after 2 minutes: %s", strings.TrimSpace(p.stderr.String()))
		}
	}
}

// memory returns the process's resident set and its peak, in MiB.
func (p *serverProcess) memory() (rss, peak float64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		return 0, 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		f := strings.Fields(v)
		if len(f) == 0 {
			continue
		}
		kb, _ := strconv.ParseFloat(f[0], 64)
		switch k {
		case "VmRSS":
			rss = kb / 1024
		case "VmHWM":
			peak = kb / 1024
		}
	}
	return rss, peak, nil
}

// cpuTime returns the CPU time the process has used so far (user and system).
func (p *serverProcess) cpuTime() (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	// The command name, in parentheses, may hold spaces: fields are counted after it.
	_, rest, ok := strings.Cut(string(b), ") ")
	f := strings.Fields(rest)
	if !ok || len(f) < 13 {
		return 0, fmt.Errorf("unexpected /proc stat: %q", b)
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("unexpected /proc stat: %q", b)
	}
	const ticks = 100 // USER_HZ, 100 on every Linux architecture Go runs on
	return time.Duration(utime+stime) * time.Second / ticks, nil
}

// waitIdle waits until the process uses less than a tenth of a core over a second (its
// start-up work done: indexes it had to rebuild, jobs found at start), or until timeout.
func (p *serverProcess) waitIdle(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	prev, err := p.cpuTime()
	if err != nil {
		return err
	}
	for time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
		cur, err := p.cpuTime()
		if err != nil {
			return err
		}
		if cur-prev < 100*time.Millisecond {
			return nil
		}
		prev = cur
	}
	return fmt.Errorf("server still busy after %s", timeout)
}

// stop stops the server (SIGTERM, then SIGKILL after 20s) and removes its data directory.
func (p *serverProcess) stop() {
	defer os.RemoveAll(p.dataDir)
	p.cmd.Process.Signal(syscall.SIGTERM) //nolint:errcheck
	select {
	case <-p.exited:
	case <-time.After(20 * time.Second):
		p.cmd.Process.Kill() //nolint:errcheck
		<-p.exited
	}
}

func freeLoopbackPort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
