package jobs

import (
	"context"
	"crypto/tls"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/riverqueue/river"

	"github.com/nubiq/hub"
	"github.com/nubiq/hub/postgres"
)

// DeliveryConfig tunes outbound delivery. Zero values get defaults (withDefaults).
type DeliveryConfig struct {
	// HTTPClient posts webhooks. Default: Timeout per request, redirects not followed, and
	// non-public destinations refused unless AllowPrivateNetworks.
	HTTPClient *http.Client
	// AllowPrivateNetworks lets webhooks reach loopback, private and link-local addresses
	// (a receiver on the same host or network). Off by default: each workspace sets its own
	// webhook_url, and must not be able to reach the server's neighbours.
	AllowPrivateNetworks bool
	// Timeout bounds one delivery attempt (one POST, or one SMTP conversation). Default 30s.
	Timeout time.Duration
	// MaxAttempts caps attempts per message, whatever the job's own MaxAttempts; after the last
	// one the message is marked failed with the last error. Default 10.
	MaxAttempts int
	// Backoff is the wait before retry n+1 after attempt n failed. Default: 30s doubling per
	// attempt up to 1h, ±10% jitter — about 3.5 hours of retries with 10 attempts.
	Backoff func(attempt int) time.Duration
	// TLSConfig is the base TLS configuration for SMTP (root CAs); nil uses the system roots.
	TLSConfig *tls.Config
	// HeloName is the name this host gives in SMTP EHLO. Default: the host name.
	HeloName string
}

func (c DeliveryConfig) withDefaults() DeliveryConfig {
	if c.Timeout == 0 {
		c.Timeout = 30 * time.Second
	}
	if c.HTTPClient == nil {
		c.HTTPClient = newWebhookClient(c.Timeout, c.AllowPrivateNetworks)
	}
	if c.MaxAttempts == 0 {
		c.MaxAttempts = 10
	}
	if c.Backoff == nil {
		c.Backoff = defaultBackoff
	}
	if c.HeloName == "" {
		c.HeloName, _ = os.Hostname()
		if c.HeloName == "" {
			c.HeloName = "localhost"
		}
	}
	return c
}

func defaultBackoff(attempt int) time.Duration {
	d := 30 * time.Second
	for i := 1; i < attempt && d < time.Hour; i++ {
		d *= 2
	}
	d = min(d, time.Hour)
	return d + time.Duration((rand.Float64()*0.2-0.1)*float64(d))
}

func init() {
	addWorkers(func(w *river.Workers, d *Deps) {
		cfg := d.Delivery.withDefaults()
		river.AddWorker(w, &deliverWorker{deps: d, cfg: cfg, mailer: &mailer{TLSConfig: cfg.TLSConfig, HeloName: cfg.HeloName, Timeout: cfg.Timeout}})
	})
}

// deliverWorker delivers one queued outbound message through its channel's driver: SMTP for
// email channels, a signed webhook (webhook.go) for sms, whatsapp, api and web_widget
// channels. The message moves queued → sent (sent_at set) or queued → failed (error set);
// attempts counts tries. Failures that retrying cannot fix fail at once; others are retried
// with backoff until MaxAttempts, then fail with the last error.
type deliverWorker struct {
	river.WorkerDefaults[nubiq.DeliverOutboundArgs]
	deps   *Deps
	cfg    DeliveryConfig
	mailer *mailer
}

// Timeout leaves the attempt's own timeout room to record its outcome.
func (w *deliverWorker) Timeout(*river.Job[nubiq.DeliverOutboundArgs]) time.Duration {
	return w.cfg.Timeout + 30*time.Second
}

func (w *deliverWorker) NextRetry(job *river.Job[nubiq.DeliverOutboundArgs]) time.Time {
	return time.Now().Add(w.cfg.Backoff(job.Attempt))
}

func (w *deliverWorker) Work(ctx context.Context, job *river.Job[nubiq.DeliverOutboundArgs]) error {
	a := job.Args
	db := w.deps.DB
	d, err := db.OutboundForDelivery(ctx, a.WorkspaceID, a.OutboundID)
	if nubiq.ErrorCode(err) == nubiq.ECodeNotFound {
		// Deleted with its workspace or channel: nothing left to deliver.
		return river.JobCancel(err)
	} else if err != nil {
		return err
	}
	if d.Message.Status != nubiq.OutboundQueued {
		return nil // already sent or failed: a duplicate job must not send twice
	}
	if ok, err := db.BeginOutboundAttempt(ctx, a.WorkspaceID, a.OutboundID); err != nil {
		return err
	} else if !ok {
		return nil
	}

	err = w.deliver(ctx, d)
	if err == nil {
		return db.MarkOutboundSent(ctx, a.WorkspaceID, a.OutboundID, time.Now())
	}
	last := job.Attempt >= min(job.MaxAttempts, w.cfg.MaxAttempts)
	if isPermanent(err) || last {
		reason := err.Error()
		if !isPermanent(err) {
			reason = fmt.Sprintf("%s (gave up after %d attempts)", reason, job.Attempt)
		}
		if merr := db.MarkOutboundFailed(ctx, a.WorkspaceID, a.OutboundID, reason); merr != nil {
			return merr // retried; the next attempt delivers or fails again
		}
		w.deps.Logger.Warn("outbound delivery failed", "workspace", a.WorkspaceID, "outbound", a.OutboundID,
			"channel", d.Channel.ID, "attempt", job.Attempt, "err", err)
		return river.JobCancel(err)
	}
	if rerr := db.RecordOutboundError(ctx, a.WorkspaceID, a.OutboundID, err.Error()); rerr != nil {
		w.deps.Logger.Error("record outbound error", "outbound", a.OutboundID, "err", rerr)
	}
	return err
}

func (w *deliverWorker) deliver(ctx context.Context, d *postgres.Delivery) error {
	if !d.Channel.Enabled {
		return permanent("channel %d was disabled before delivery", d.Channel.ID)
	}
	str := func(k string) string { s, _ := d.Config[k].(string); return s }
	switch nubiq.DeliveryDriver(d.Channel.Kind) {
	case "smtp":
		cfg := SMTPConfig{
			Host: str("host"), Port: configInt(d.Config["port"]), From: str("from"), TLS: str("tls"),
			Username: d.Secrets["username"], Password: d.Secrets["password"],
		}
		if cfg.Host == "" || cfg.From == "" {
			return permanent("email channel %d has no SMTP host or from address configured", d.Channel.ID)
		}
		return w.mailer.send(ctx, cfg, &mailMessage{
			From: cfg.From, To: d.Message.Recipient, Subject: d.Message.Subject, Body: d.Message.Body,
			ID:      newMessageID("nubiq.outbound." + strconv.FormatInt(d.Message.ID, 10)),
			Headers: map[string]string{"X-Nubiq-Outbound-Id": strconv.FormatInt(d.Message.ID, 10)},
		})
	default:
		ctx, cancel := context.WithTimeout(ctx, w.cfg.Timeout)
		defer cancel()
		return postWebhook(ctx, w.cfg.HTTPClient, str("webhook_url"), d.Secrets["webhook_secret"], d.Message, time.Now())
	}
}

// configInt reads a number from JSON config, which may hold it as a number or a string.
func configInt(v any) int {
	switch v := v.(type) {
	case float64:
		return int(v)
	case string:
		n, _ := strconv.Atoi(v)
		return n
	}
	return 0
}
