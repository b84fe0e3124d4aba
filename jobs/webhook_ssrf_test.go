package jobs_test

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/nubiq/hub/jobs"
)

func TestPublicAddr(t *testing.T) {
	t.Parallel()
	for addr, public := range map[string]bool{
		"93.184.215.14": true, "8.8.8.8": true, "2606:4700:4700::1111": true, "::ffff:8.8.8.8": true,
		"127.0.0.1": false, "127.9.9.9": false, "::1": false, "::ffff:127.0.0.1": false,
		"10.1.2.3": false, "172.16.0.1": false, "192.168.1.1": false, "fd00::1": false, "::ffff:10.0.0.1": false,
		"169.254.169.254": false, "fe80::1": false, // cloud metadata, link-local
		"0.0.0.0": false, "::": false, "0.1.2.3": false, "100.64.0.1": false, "198.18.0.1": false,
		"224.0.0.1": false, "ff02::1": false, "255.255.255.255": false, "240.0.0.1": false,
		"64:ff9b::a00:1": false, "2002:a00:1::": false, "192.0.2.1": false,
	} {
		require.Equal(t, public, jobs.PublicAddr(netip.MustParseAddr(addr)), addr)
	}
}

// A workspace points its webhook at the server's own neighbourhood: the delivery is refused at
// connection time (after name resolution), fails for good with a message saying why, and the
// receiver hears nothing.
func TestWebhookToPrivateAddressRefused(t *testing.T) {
	t.Parallel()
	e := newDeliveryEnv(t)
	hook := newWebhookReceiver(t, "whsec-1", 200)
	port := hook.URL[strings.LastIndex(hook.URL, ":")+1:]
	r, err := jobs.NewRunner(&jobs.Deps{DB: e.db, Delivery: jobs.DeliveryConfig{Timeout: 5 * time.Second}},
		jobs.Config{FetchCooldown: 10 * time.Millisecond})
	require.NoError(t, err)
	require.NoError(t, r.Start(context.Background()))
	t.Cleanup(func() { r.Stop(context.Background()) }) //nolint:errcheck

	urls := []string{
		hook.URL,                            // 127.0.0.1
		"http://localhost:" + port + "/x",   // a name resolving to loopback
		"http://[::ffff:127.0.0.1]:" + port, // IPv4-mapped loopback
		"http://169.254.169.254/latest/meta-data/",
		"http://0.0.0.0:" + port,
	}
	ids := make([]int64, len(urls))
	for i, url := range urls {
		ch := e.webhookChannel(t, "sms", url, "whsec-1")
		ids[i] = e.queue(t, ch, "+14155550100", "", "hello").ID
	}
	for i, url := range urls {
		m := waitOutbound(t, e.db, e.ws, ids[i])
		require.Equal(t, "failed", m.Status, url)
		require.Equal(t, 1, m.Attempts, url)
		require.Contains(t, m.Error, "webhooks are delivered only to public addresses", url)
	}
	require.Empty(t, hook.received())
}
