package jobs

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/nubiq/hub"
)

// Webhook delivery. Each outbound message on a webhook channel is POSTed as JSON to the
// channel's webhook_url:
//
//	{"id": 42, "channel_id": 7, "conversation_id": 9 (or null), "recipient": "+14155550100",
//	 "subject": "", "body": "…", "created_at": "2026-01-31T09:00:00Z"}
//
// with headers
//
//	X-Nubiq-Timestamp: <unix seconds>
//	X-Nubiq-Signature: v1=<hex HMAC-SHA256(webhook_secret, timestamp + "." + raw body)>
//
// A receiver recomputes the HMAC over the raw body it received, compares in constant time, and
// refuses timestamps too far from its clock to stop replays. Delivery is at least once: the
// same id may arrive again (a 2xx lost on the way back), so receivers deduplicate on id.
//
// The answer decides what happens next: 2xx is sent; 408, 429 and 5xx (and timeouts and
// connection failures) are retried with backoff; any other status (4xx, and 3xx: redirects are
// not followed) fails the message for good with the status and the start of the response.
const (
	HeaderTimestamp = "X-Nubiq-Timestamp"
	HeaderSignature = "X-Nubiq-Signature"
)

type webhookPayload struct {
	ID             int64     `json:"id"`
	ChannelID      int64     `json:"channel_id"`
	ConversationID *int64    `json:"conversation_id"`
	Recipient      string    `json:"recipient"`
	Subject        string    `json:"subject"`
	Body           string    `json:"body"`
	CreatedAt      time.Time `json:"created_at"`
}

// SignWebhook returns the X-Nubiq-Signature value for a body sent at timestamp (unix seconds).
func SignWebhook(secret, timestamp string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(timestamp))
	mac.Write([]byte("."))
	mac.Write(body)
	return "v1=" + hex.EncodeToString(mac.Sum(nil))
}

func postWebhook(ctx context.Context, client *http.Client, webhookURL, secret string, m *nubiq.OutboundMessage, now time.Time) error {
	u, err := url.Parse(webhookURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return permanent("channel has no http(s) webhook_url configured")
	}
	if secret == "" {
		return permanent("channel has no webhook_secret to sign deliveries with")
	}
	p := webhookPayload{ID: m.ID, ChannelID: m.ChannelID, Recipient: m.Recipient, Subject: m.Subject, Body: m.Body, CreatedAt: m.CreatedAt.UTC()}
	if m.ConversationID != 0 {
		p.ConversationID = &m.ConversationID
	}
	body, err := json.Marshal(p)
	if err != nil {
		return permanent("encode webhook payload: %v", err)
	}
	ts := strconv.FormatInt(now.Unix(), 10)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(body))
	if err != nil {
		return permanent("build webhook request: %v", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "NubiqHub-Webhook/1")
	req.Header.Set(HeaderTimestamp, ts)
	req.Header.Set(HeaderSignature, SignWebhook(secret, ts, body))
	resp, err := client.Do(req)
	var private *errPrivateDestination
	if errors.As(err, &private) {
		return permanent("webhook_url host %s resolves to %v; webhooks are delivered only to public addresses "+
			"(the server's operator can allow private networks with --webhook-allow-private)", u.Hostname(), private)
	}
	if err != nil {
		// Never echo the URL's query (it may carry a provider token) into stored errors.
		return fmt.Errorf("webhook POST to %s: %v", u.Redacted(), stripURLError(err))
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 300))
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) //nolint:errcheck // let the connection be reused
	switch code := resp.StatusCode; {
	case code >= 200 && code < 300:
		return nil
	case code == http.StatusRequestTimeout || code == http.StatusTooManyRequests || code >= 500:
		return fmt.Errorf("webhook answered %s%s", resp.Status, describeBody(snippet))
	default:
		return permanent("webhook answered %s%s", resp.Status, describeBody(snippet))
	}
}

func describeBody(b []byte) string {
	s := strings.TrimSpace(strings.ToValidUTF8(string(b), ""))
	if s == "" {
		return ""
	}
	if len(s) > 200 {
		n := 200
		for n > 0 && !utf8.RuneStart(s[n]) {
			n--
		}
		s = s[:n] + "…"
	}
	return ": " + oneLine(s)
}

// stripURLError drops the URL that *url.Error repeats, which the caller names redacted.
func stripURLError(err error) error {
	if ue, ok := err.(*url.Error); ok {
		return ue.Err
	}
	return err
}

// newWebhookClient is the default client: no redirects (a POST must not turn into a GET
// elsewhere, and a redirect is the receiver's misconfiguration to fix) and, unless
// allowPrivate, no connections to private, loopback, link-local or otherwise non-public
// addresses. A workspace sets its own webhook_url; without this check any workspace could
// make the server POST to its neighbours (cloud metadata at 169.254.169.254, the database,
// admin ports on localhost). The check runs on the address actually dialled, after DNS
// resolution, so a name that resolves (or re-resolves) to a private address is refused too.
func newWebhookClient(timeout time.Duration, allowPrivate bool) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if !allowPrivate {
		dialer := &net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second, Control: refusePrivate}
		tr.DialContext = dialer.DialContext
	}
	return &http.Client{
		Timeout:   timeout,
		Transport: tr,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// errPrivateDestination is returned by the dialer for a refused address.
type errPrivateDestination struct{ addr netip.Addr }

func (e *errPrivateDestination) Error() string {
	return fmt.Sprintf("%s is a private, loopback or link-local address", e.addr)
}

func refusePrivate(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("webhook destination %q: %w", address, err)
	}
	if !PublicAddr(ap.Addr()) {
		return &errPrivateDestination{ap.Addr()}
	}
	return nil
}

// nonPublic are special-purpose ranges (RFC 6890 and successors) not covered by netip's
// predicates.
var nonPublic = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),       // "this network"
	netip.MustParsePrefix("100.64.0.0/10"),   // carrier-grade NAT
	netip.MustParsePrefix("192.0.0.0/24"),    // IETF protocol assignments
	netip.MustParsePrefix("192.0.2.0/24"),    // documentation
	netip.MustParsePrefix("198.18.0.0/15"),   // benchmarking
	netip.MustParsePrefix("198.51.100.0/24"), // documentation
	netip.MustParsePrefix("203.0.113.0/24"),  // documentation
	netip.MustParsePrefix("240.0.0.0/4"),     // reserved, broadcast
	netip.MustParsePrefix("64:ff9b::/96"),    // NAT64: may embed a private IPv4 address
	netip.MustParsePrefix("64:ff9b:1::/48"),  // local NAT64
	netip.MustParsePrefix("2001:db8::/32"),   // documentation
	netip.MustParsePrefix("fec0::/10"),       // deprecated site-local
	netip.MustParsePrefix("2002::/16"),       // 6to4: embeds an IPv4 address
}

// PublicAddr reports whether a webhook may be delivered to ip: a globally routable unicast
// address, not loopback, private (RFC 1918, fc00::/7), link-local, multicast, unspecified or
// another special-purpose range. IPv4-mapped IPv6 addresses are judged by their IPv4 address.
func PublicAddr(ip netip.Addr) bool {
	ip = ip.Unmap()
	if !ip.IsValid() || ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() ||
		ip.IsInterfaceLocalMulticast() || ip.IsMulticast() || ip.IsUnspecified() || !ip.IsGlobalUnicast() {
		return false
	}
	for _, p := range nonPublic {
		if p.Contains(ip) {
			return false
		}
	}
	return true
}
