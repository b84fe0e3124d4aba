package jobs_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/nubiq/hub"
	"github.com/nubiq/hub/jobs"
	"github.com/nubiq/hub/mcp/mcptest"
	"github.com/nubiq/hub/postgres"
	"github.com/nubiq/hub/postgres/pgtest"
)

// startRunner runs every registered worker on db through a real River client until the test
// ends, with retries a few milliseconds apart.
func startDeliveryRunner(t *testing.T, db *postgres.DB, deps jobs.Deps) {
	t.Helper()
	deps.DB = db
	deps.Delivery.AllowPrivateNetworks = true // the test receivers listen on loopback
	if deps.Delivery.Backoff == nil {
		deps.Delivery.Backoff = func(int) time.Duration { return 10 * time.Millisecond }
	}
	if deps.Delivery.Timeout == 0 {
		deps.Delivery.Timeout = 5 * time.Second
	}
	// JobTimeout and RescueStuckJobsAfter are explicit: River refuses a rescue delay shorter than
	// the job timeout.
	r, err := jobs.NewRunner(&deps, jobs.Config{FetchCooldown: 10 * time.Millisecond, JobTimeout: time.Minute, RescueStuckJobsAfter: 2 * time.Minute})
	require.NoError(t, err)
	require.NoError(t, r.Start(context.Background()))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = r.Stop(ctx)
	})
}

// waitOutbound waits until the message leaves the queued status and returns it.
func waitOutbound(t *testing.T, db *postgres.DB, ws, id int64) *nubiq.OutboundMessage {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		m, err := db.OutboundMessage(context.Background(), ws, id)
		require.NoError(t, err)
		if m.Status != nubiq.OutboundQueued {
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("outbound message %d still queued after 15s (attempts %d, error %q)", id, m.Attempts, m.Error)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitJobsFinal waits until every job of kind has reached a final state.
func waitJobsFinal(t *testing.T, db *postgres.DB, kind string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		var pending int
		require.NoError(t, db.Pool.QueryRow(context.Background(), `
			SELECT count(*) FROM river_job WHERE kind = $1 AND state NOT IN ('completed', 'cancelled', 'discarded')`, kind).Scan(&pending))
		if pending == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d %s jobs unfinished after 15s", pending, kind)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// webhookReceiver is a receiving endpoint that verifies signatures the way a receiver would,
// independently of the sender's code, and answers with a scripted series of statuses.
type webhookReceiver struct {
	*httptest.Server
	secret string

	mu       sync.Mutex
	statuses []int // answers in order; the last one repeats
	bodies   []map[string]any
	badSigs  int
}

func newWebhookReceiver(t *testing.T, secret string, statuses ...int) *webhookReceiver {
	w := &webhookReceiver{secret: secret, statuses: statuses}
	w.Server = httptest.NewServer(http.HandlerFunc(w.handle))
	t.Cleanup(w.Close)
	return w
}

func (w *webhookReceiver) handle(rw http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	ts := r.Header.Get("X-Nubiq-Timestamp")
	mac := hmac.New(sha256.New, []byte(w.secret))
	mac.Write([]byte(ts + "." + string(body)))
	want := "v1=" + hex.EncodeToString(mac.Sum(nil))
	sec, err := strconv.ParseInt(ts, 10, 64)
	w.mu.Lock()
	defer w.mu.Unlock()
	if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" || err != nil ||
		time.Since(time.Unix(sec, 0)).Abs() > 5*time.Minute || !hmac.Equal([]byte(want), []byte(r.Header.Get("X-Nubiq-Signature"))) {
		w.badSigs++
		http.Error(rw, "bad signature", http.StatusUnauthorized)
		return
	}
	var p map[string]any
	if err := json.Unmarshal(body, &p); err != nil {
		http.Error(rw, "bad json", http.StatusBadRequest)
		return
	}
	w.bodies = append(w.bodies, p)
	status := w.statuses[min(len(w.bodies), len(w.statuses))-1]
	if status >= 400 {
		http.Error(rw, fmt.Sprintf("scripted failure %d: recipient unknown to provider", status), status)
		return
	}
	rw.WriteHeader(status)
}

func (w *webhookReceiver) received() []map[string]any {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]map[string]any(nil), w.bodies...)
}

type deliveryEnv struct {
	db *postgres.DB
	ws int64
}

func newDeliveryEnv(t *testing.T) *deliveryEnv {
	db := pgtest.NewDB(t)
	w, err := db.CreateWorkspace(context.Background(), "Acme", "pro")
	require.NoError(t, err)
	return &deliveryEnv{db: db, ws: w.ID}
}

func (e *deliveryEnv) webhookChannel(t *testing.T, kind, url, secret string) int64 {
	c, err := e.db.CreateChannel(context.Background(), e.ws, postgres.CreateChannelParams{
		Kind: kind, Name: kind, Config: map[string]any{"webhook_url": url}, Secrets: map[string]string{"webhook_secret": secret},
	})
	require.NoError(t, err)
	return c.ID
}

func (e *deliveryEnv) queue(t *testing.T, channel int64, recipient, subject, body string) *nubiq.OutboundMessage {
	m, err := e.db.QueueOutbound(context.Background(), e.ws, postgres.SendParams{ChannelID: channel, Recipient: recipient, Subject: subject, Body: body})
	require.NoError(t, err)
	return m
}

func TestWebhookDeliveryIsSigned(t *testing.T) {
	t.Parallel()
	e := newDeliveryEnv(t)
	hook := newWebhookReceiver(t, "whsec-1", 200)
	ch := e.webhookChannel(t, "sms", hook.URL+"/sms?route=eu", "whsec-1")
	startDeliveryRunner(t, e.db, jobs.Deps{})

	q := e.queue(t, ch, "+14155550100", "", "Your code is 1234")
	m := waitOutbound(t, e.db, e.ws, q.ID)
	require.Equal(t, "sent", m.Status, m.Error)
	require.Equal(t, 1, m.Attempts)
	require.Empty(t, m.Error)
	require.NotNil(t, m.SentAt)
	require.Equal(t, time.UTC, m.SentAt.Location())

	got := hook.received()
	require.Len(t, got, 1)
	require.Zero(t, hook.badSigs)
	require.Equal(t, map[string]any{
		"id": float64(q.ID), "channel_id": float64(ch), "conversation_id": nil, "recipient": "+14155550100",
		"subject": "", "body": "Your code is 1234", "created_at": q.CreatedAt.Format(time.RFC3339Nano),
	}, got[0])
}

func TestWebhookWrongSecretFailsPermanently(t *testing.T) {
	t.Parallel()
	e := newDeliveryEnv(t)
	hook := newWebhookReceiver(t, "the-receivers-secret", 200)
	ch := e.webhookChannel(t, "whatsapp", hook.URL, "a-different-secret")
	startDeliveryRunner(t, e.db, jobs.Deps{})
	m := waitOutbound(t, e.db, e.ws, e.queue(t, ch, "+33612345678", "", "Bonjour").ID)
	require.Equal(t, "failed", m.Status)
	require.Contains(t, m.Error, "401")
	require.Equal(t, 1, hook.badSigs, "the receiver's own check refused the signature")
}

func TestWebhookRetriesServerErrorsThenSends(t *testing.T) {
	t.Parallel()
	e := newDeliveryEnv(t)
	hook := newWebhookReceiver(t, "s", 500, 200)
	throttled := newWebhookReceiver(t, "s", 429, 408, 204)
	ch := e.webhookChannel(t, "api", hook.URL, "s")
	ch2 := e.webhookChannel(t, "api", throttled.URL, "s")
	startDeliveryRunner(t, e.db, jobs.Deps{})

	m := waitOutbound(t, e.db, e.ws, e.queue(t, ch, "visitor:v1", "", "Hi").ID)
	require.Equal(t, "sent", m.Status)
	require.Equal(t, 2, m.Attempts)
	require.Empty(t, m.Error, "the error of a failed attempt is cleared once sent")
	require.Len(t, hook.received(), 2)

	m = waitOutbound(t, e.db, e.ws, e.queue(t, ch2, "visitor:v1", "", "Hi").ID)
	require.Equal(t, "sent", m.Status)
	require.Equal(t, 3, m.Attempts, "408 and 429 are retried")
}

func TestWebhookClientErrorFailsWithoutRetry(t *testing.T) {
	t.Parallel()
	e := newDeliveryEnv(t)
	hook := newWebhookReceiver(t, "s", 400)
	ch := e.webhookChannel(t, "web_widget", hook.URL, "s")
	startDeliveryRunner(t, e.db, jobs.Deps{})

	m := waitOutbound(t, e.db, e.ws, e.queue(t, ch, "visitor:v1", "", "Hi").ID)
	require.Equal(t, "failed", m.Status)
	require.Equal(t, 1, m.Attempts)
	require.Contains(t, m.Error, "400 Bad Request")
	require.Contains(t, m.Error, "recipient unknown to provider", "the reason includes the start of the response")
	require.Nil(t, m.SentAt)
	waitJobsFinal(t, e.db, "deliver_outbound")
	var state string
	require.NoError(t, e.db.Pool.QueryRow(context.Background(), `SELECT state FROM river_job WHERE kind = 'deliver_outbound'`).Scan(&state))
	require.Equal(t, "cancelled", state)
	require.Len(t, hook.received(), 1, "a permanent failure is not retried")
}

func TestWebhookGivesUpAfterMaxAttempts(t *testing.T) {
	t.Parallel()
	e := newDeliveryEnv(t)
	hook := newWebhookReceiver(t, "s", 503)
	ch := e.webhookChannel(t, "sms", hook.URL, "s")
	startDeliveryRunner(t, e.db, jobs.Deps{Delivery: jobs.DeliveryConfig{MaxAttempts: 3}})

	m := waitOutbound(t, e.db, e.ws, e.queue(t, ch, "+14155550100", "", "Hi").ID)
	require.Equal(t, "failed", m.Status)
	require.Equal(t, 3, m.Attempts)
	require.Contains(t, m.Error, "503 Service Unavailable")
	require.Contains(t, m.Error, "gave up after 3 attempts")
	waitJobsFinal(t, e.db, "deliver_outbound")
	require.Len(t, hook.received(), 3)
}

func TestWebhookTimeoutIsRetried(t *testing.T) {
	t.Parallel()
	e := newDeliveryEnv(t)
	var calls int
	var mu sync.Mutex
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls++
		n := calls
		mu.Unlock()
		if n == 1 {
			time.Sleep(600 * time.Millisecond)
		}
		w.WriteHeader(200)
	}))
	t.Cleanup(slow.Close)
	ch := e.webhookChannel(t, "api", slow.URL, "s")
	startDeliveryRunner(t, e.db, jobs.Deps{Delivery: jobs.DeliveryConfig{Timeout: 300 * time.Millisecond}})
	m := waitOutbound(t, e.db, e.ws, e.queue(t, ch, "visitor:v1", "", "Hi").ID)
	require.Equal(t, "sent", m.Status)
	require.Equal(t, 2, m.Attempts)
}

func TestDeliveryOfASentMessageIsNotRepeated(t *testing.T) {
	t.Parallel()
	e := newDeliveryEnv(t)
	hook := newWebhookReceiver(t, "s", 200)
	ch := e.webhookChannel(t, "sms", hook.URL, "s")
	startDeliveryRunner(t, e.db, jobs.Deps{})
	q := e.queue(t, ch, "+14155550100", "", "Once")
	require.Equal(t, "sent", waitOutbound(t, e.db, e.ws, q.ID).Status)

	// A second job for the same message (a retry racing a success, a manual re-enqueue), and
	// one naming the message under another workspace: neither sends.
	other, err := e.db.CreateWorkspace(context.Background(), "Other", "pro")
	require.NoError(t, err)
	for _, args := range []nubiq.DeliverOutboundArgs{{OutboundID: q.ID, WorkspaceID: e.ws}, {OutboundID: q.ID, WorkspaceID: other.ID}} {
		_, err := e.db.River.Insert(context.Background(), args, nil)
		require.NoError(t, err)
	}
	waitJobsFinal(t, e.db, "deliver_outbound")
	require.Len(t, hook.received(), 1)
	m, err := e.db.OutboundMessage(context.Background(), e.ws, q.ID)
	require.NoError(t, err)
	require.Equal(t, 1, m.Attempts)
}

func TestDisabledBeforeDeliveryFails(t *testing.T) {
	t.Parallel()
	e := newDeliveryEnv(t)
	hook := newWebhookReceiver(t, "s", 200)
	ch := e.webhookChannel(t, "sms", hook.URL, "s")
	q := e.queue(t, ch, "+14155550100", "", "Hi")
	_, err := e.db.Pool.Exec(context.Background(), `UPDATE channels SET enabled = false WHERE id = $1`, ch)
	require.NoError(t, err)
	startDeliveryRunner(t, e.db, jobs.Deps{})
	m := waitOutbound(t, e.db, e.ws, q.ID)
	require.Equal(t, "failed", m.Status)
	require.Contains(t, m.Error, "disabled")
	require.Empty(t, hook.received())
}

func (e *deliveryEnv) emailChannel(t *testing.T, srv *smtpServer, extra map[string]any, secrets map[string]string) int64 {
	config := map[string]any{"host": srv.Host, "port": srv.Port, "from": "Acme Support <support@acme.test>"}
	for k, v := range extra {
		config[k] = v
	}
	c, err := e.db.CreateChannel(context.Background(), e.ws, postgres.CreateChannelParams{Kind: "email", Name: "Email", Config: config, Secrets: secrets})
	require.NoError(t, err)
	return c.ID
}

func parseMail(t *testing.T, data string) (*mail.Message, string) {
	t.Helper()
	msg, err := mail.ReadMessage(strings.NewReader(data))
	require.NoError(t, err)
	body, err := io.ReadAll(quotedprintable.NewReader(msg.Body))
	require.NoError(t, err)
	return msg, string(body)
}

func TestSMTPDelivery(t *testing.T) {
	t.Parallel()
	e := newDeliveryEnv(t)
	srv := newSMTPServer(t, nil)
	ch := e.emailChannel(t, srv, nil, map[string]string{"username": "support@acme.test", "password": "app-password"})
	startDeliveryRunner(t, e.db, jobs.Deps{})

	body := "Hello Ada,\n\nYour order shipped. Délai: 2 jours.\n.\nA line with only a dot above.\n" + strings.Repeat("long line ", 20)
	q := e.queue(t, ch, "Ada Lovelace <ada@example.com>", "Votre commande — expédiée", body)
	m := waitOutbound(t, e.db, e.ws, q.ID)
	require.Equal(t, "sent", m.Status, m.Error)
	require.Equal(t, 1, m.Attempts)

	msgs := srv.Messages()
	require.Len(t, msgs, 1)
	got := msgs[0]
	require.Equal(t, "support@acme.test", got.From)
	require.Equal(t, []string{"ada@example.com"}, got.To)
	require.Equal(t, "support@acme.test", got.AuthUser)
	require.Equal(t, "app-password", got.AuthPass)
	require.False(t, got.TLS)
	msg, text := parseMail(t, got.Data)
	subject, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	require.NoError(t, err)
	require.Equal(t, "Votre commande — expédiée", subject)
	from, err := mail.ParseAddress(msg.Header.Get("From"))
	require.NoError(t, err)
	require.Equal(t, "Acme Support", from.Name)
	require.Equal(t, "<ada@example.com>", msg.Header.Get("To"))
	require.Equal(t, strconv.FormatInt(q.ID, 10), msg.Header.Get("X-Nubiq-Outbound-Id"))
	require.True(t, strings.HasSuffix(msg.Header.Get("Message-ID"), "@acme.test>"))
	// The test server reads DATA as lines ending in LF; the final line break ends the message.
	require.Equal(t, body+"\n", text)
}

func TestSMTPUsesStartTLSWhenOffered(t *testing.T) {
	t.Parallel()
	e := newDeliveryEnv(t)
	serverTLS, roots := selfSignedTLS(t)
	srv := newSMTPServer(t, func(s *smtpServer) { s.TLS = serverTLS })
	ch := e.emailChannel(t, srv, nil, map[string]string{"username": "u", "password": "p"})
	startDeliveryRunner(t, e.db, jobs.Deps{Delivery: jobs.DeliveryConfig{TLSConfig: &tls.Config{RootCAs: roots}}})

	m := waitOutbound(t, e.db, e.ws, e.queue(t, ch, "ada@example.com", "Hi", "Over TLS").ID)
	require.Equal(t, "sent", m.Status, m.Error)
	msgs := srv.Messages()
	require.Len(t, msgs, 1)
	require.True(t, msgs[0].TLS, "the message travelled after STARTTLS")
	require.Equal(t, "u", msgs[0].AuthUser)
}

func TestSMTPUntrustedCertificateFails(t *testing.T) {
	t.Parallel()
	e := newDeliveryEnv(t)
	serverTLS, _ := selfSignedTLS(t)
	srv := newSMTPServer(t, func(s *smtpServer) { s.TLS = serverTLS })
	ch := e.emailChannel(t, srv, nil, nil)
	startDeliveryRunner(t, e.db, jobs.Deps{}) // system roots: the test certificate is not trusted
	m := waitOutbound(t, e.db, e.ws, e.queue(t, ch, "ada@example.com", "Hi", "x").ID)
	require.Equal(t, "failed", m.Status)
	require.Contains(t, m.Error, "STARTTLS")
	require.Empty(t, srv.Messages())
}

func TestSMTPRefusedRecipientFailsPermanently(t *testing.T) {
	t.Parallel()
	e := newDeliveryEnv(t)
	srv := newSMTPServer(t, func(s *smtpServer) { s.RcptReply = "550 5.1.1 no such user here" })
	ch := e.emailChannel(t, srv, nil, nil)
	startDeliveryRunner(t, e.db, jobs.Deps{})
	m := waitOutbound(t, e.db, e.ws, e.queue(t, ch, "nobody@example.com", "Hi", "x").ID)
	require.Equal(t, "failed", m.Status)
	require.Equal(t, 1, m.Attempts)
	require.Contains(t, m.Error, "550")
	require.Contains(t, m.Error, "no such user here")
	require.Equal(t, 1, srv.Sessions())
}

func TestSMTPDeferredRecipientIsRetried(t *testing.T) {
	t.Parallel()
	e := newDeliveryEnv(t)
	srv := newSMTPServer(t, func(s *smtpServer) { s.RcptReply = "451 4.7.1 greylisted, try again" })
	ch := e.emailChannel(t, srv, nil, nil)
	startDeliveryRunner(t, e.db, jobs.Deps{Delivery: jobs.DeliveryConfig{MaxAttempts: 2}})
	m := waitOutbound(t, e.db, e.ws, e.queue(t, ch, "ada@example.com", "Hi", "x").ID)
	require.Equal(t, "failed", m.Status)
	require.Equal(t, 2, m.Attempts)
	require.Contains(t, m.Error, "451")
	require.Contains(t, m.Error, "gave up after 2 attempts")
	require.Equal(t, 2, srv.Sessions())
}

func TestSMTPUnreachableIsRetried(t *testing.T) {
	t.Parallel()
	e := newDeliveryEnv(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close() // nothing listens there now
	c, err := e.db.CreateChannel(context.Background(), e.ws, postgres.CreateChannelParams{Kind: "email", Name: "Email",
		Config: map[string]any{"host": "127.0.0.1", "port": port, "from": "support@acme.test"}})
	require.NoError(t, err)
	startDeliveryRunner(t, e.db, jobs.Deps{Delivery: jobs.DeliveryConfig{MaxAttempts: 2}})
	m := waitOutbound(t, e.db, e.ws, e.queue(t, c.ID, "ada@example.com", "Hi", "x").ID)
	require.Equal(t, "failed", m.Status)
	require.Equal(t, 2, m.Attempts)
	require.Contains(t, m.Error, "connect to SMTP server")
}

func TestChannelsSendIsDeliveredEndToEnd(t *testing.T) {
	t.Parallel()
	e := newDeliveryEnv(t)
	env := mcptest.New(t, e.db)
	hook := newWebhookReceiver(t, "whsec-e2e", 200)
	ch := e.webhookChannel(t, "web_widget", hook.URL, "whsec-e2e")
	var conv int64
	require.NoError(t, e.db.Pool.QueryRow(context.Background(), `INSERT INTO conversations (workspace_id, channel_id) VALUES ($1, $2) RETURNING id`, e.ws, ch).Scan(&conv))
	startDeliveryRunner(t, e.db, jobs.Deps{})

	cs := env.Client(t, env.Key(t, e.ws, nubiq.ScopeChannelsWrite, nubiq.ScopeChannelsRead))
	var out struct {
		ID     int64  `json:"id"`
		Status string `json:"status"`
	}
	mcptest.MustCall(t, cs, "channels.send", map[string]any{"channel_id": ch, "recipient": fmt.Sprintf("conversation:%d", conv), "body": "We replied!"}, &out)
	require.Equal(t, "queued", out.Status)
	m := waitOutbound(t, e.db, e.ws, out.ID)
	require.Equal(t, "sent", m.Status, m.Error)
	got := hook.received()
	require.Len(t, got, 1)
	require.Equal(t, float64(conv), got[0]["conversation_id"])
	require.Equal(t, "We replied!", got[0]["body"])

	var stats struct {
		Delivery nubiq.DeliveryStats `json:"delivery"`
	}
	mcptest.MustCall(t, cs, "channels.get", map[string]any{"id": ch}, &stats)
	require.Equal(t, 1, stats.Delivery.Sent)
}

// conversations.reply queues its own outbound rows; the same worker delivers them.
func TestConversationReplyIsDeliveredByEmail(t *testing.T) {
	t.Parallel()
	e := newDeliveryEnv(t)
	ctx := context.Background()
	env := mcptest.New(t, e.db)
	srv := newSMTPServer(t, nil)
	ch := e.emailChannel(t, srv, nil, nil)
	var contact int64
	require.NoError(t, e.db.Pool.QueryRow(ctx, `INSERT INTO contacts (workspace_id, name, email) VALUES ($1, 'Ada', 'ada@example.com') RETURNING id`, e.ws).Scan(&contact))
	conv, err := e.db.CreateConversation(ctx, e.ws, nubiq.NewConversation{ContactID: contact, ChannelID: ch, Subject: "Where is my order?"})
	require.NoError(t, err)
	startDeliveryRunner(t, e.db, jobs.Deps{})

	cs := env.Client(t, env.Key(t, e.ws, nubiq.ScopeConversationsWrite))
	var reply struct {
		Delivery nubiq.Delivery `json:"delivery"`
	}
	mcptest.MustCall(t, cs, "conversations.reply", map[string]any{"id": conv.ID, "body": "It left the warehouse today."}, &reply)
	require.Equal(t, "queued", reply.Delivery.Status, reply.Delivery.Reason)
	m := waitOutbound(t, e.db, e.ws, reply.Delivery.OutboundID)
	require.Equal(t, "sent", m.Status, m.Error)
	msgs := srv.Messages()
	require.Len(t, msgs, 1)
	require.Equal(t, []string{"ada@example.com"}, msgs[0].To)
	msg, text := parseMail(t, msgs[0].Data)
	require.Equal(t, "Re: Where is my order?", msg.Header.Get("Subject"))
	require.Contains(t, text, "It left the warehouse today.")
}
