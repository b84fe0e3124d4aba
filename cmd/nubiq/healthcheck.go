package main

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"
)

func init() {
	register(&command{name: "healthcheck", summary: "probe a running server's /readyz (for container health checks)", run: runHealthcheck})
}

func runHealthcheck(ctx context.Context, args []string) error {
	fs := newFlags("healthcheck", "[flags]", `
Requests /readyz (or /healthz with --live) from a running server and exits 0 when it answers
200, 1 otherwise. Container images without curl use it as their health check.`)
	addr := fs.String("addr", envOr("NUBIQ_ADDR", "127.0.0.1:8080"), "server address (env NUBIQ_ADDR)")
	live := fs.Bool("live", false, "check /healthz (process up) instead of /readyz (database ready)")
	if err := parse(fs, args); err != nil {
		return err
	}
	host := *addr
	if strings.HasPrefix(host, "0.0.0.0:") || strings.HasPrefix(host, ":") {
		host = "127.0.0.1:" + host[strings.LastIndex(host, ":")+1:]
	}
	path := "/readyz"
	if *live {
		path = "/healthz"
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+host+path, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s answered %s", path, resp.Status)
	}
	return nil
}
