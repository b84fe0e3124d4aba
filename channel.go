package nubiq

import (
	"net/mail"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Channel kinds.
const (
	ChannelEmail     = "email"
	ChannelWebWidget = "web_widget"
	ChannelWhatsApp  = "whatsapp"
	ChannelSMS       = "sms"
	ChannelAPI       = "api"
)

// ChannelKinds lists every channel kind.
var ChannelKinds = []string{ChannelEmail, ChannelWebWidget, ChannelWhatsApp, ChannelSMS, ChannelAPI}

// Channel is a configured way of reaching customers. Config is the channel's public
// configuration; credentials live apart and are never part of a Channel.
//
// Outbound delivery depends on the kind: email channels send through SMTP (config host, port,
// from and optionally tls: starttls|implicit|none; secrets username and password); every other
// kind (sms, whatsapp, api, web_widget) posts a signed webhook to config webhook_url, signed
// with the secret webhook_secret, and the receiving provider or bridge does the last mile.
type Channel struct {
	ID     int64          `json:"id"`
	Kind   string         `json:"kind"`
	Name   string         `json:"name"`
	Config map[string]any `json:"config"`
	// DeliveryDriver is how outbound messages leave: smtp or webhook (see DeliveryDriver).
	DeliveryDriver string    `json:"delivery_driver"`
	Enabled        bool      `json:"enabled"`
	CreatedAt      time.Time `json:"created_at"`
	UpdatedAt      time.Time `json:"updated_at"`
}

// DeliveryStats summarises a channel's outbound messages created since a time.
type DeliveryStats struct {
	Since        time.Time  `json:"since"`
	Queued       int        `json:"queued"`
	Sent         int        `json:"sent"`
	Failed       int        `json:"failed"`
	LastError    string     `json:"last_error,omitempty"`
	LastFailedAt *time.Time `json:"last_failed_at,omitempty"`
}

// DeliveryDriver names how a channel kind's outbound messages leave: "smtp" or "webhook".
func DeliveryDriver(kind string) string {
	if kind == ChannelEmail {
		return "smtp"
	}
	return "webhook"
}

// credentialWords mark config keys that hold credentials. Config is public by contract, but a
// credential put there by mistake (an import, a hand-edited row) must still not reach a client.
var credentialWords = []string{"secret", "password", "passwd", "token", "api_key", "apikey", "private_key", "credential", "authorization"}

// IsCredentialKey reports whether a config key looks like it holds a credential.
func IsCredentialKey(key string) bool {
	k := strings.ToLower(key)
	for _, w := range credentialWords {
		if strings.Contains(k, w) {
			return true
		}
	}
	return false
}

// PublicConfig returns a copy of config without keys that look like credentials, at any depth.
func PublicConfig(config map[string]any) map[string]any {
	out := make(map[string]any, len(config))
	for k, v := range config {
		if IsCredentialKey(k) {
			continue
		}
		out[k] = publicValue(v)
	}
	return out
}

func publicValue(v any) any {
	switch v := v.(type) {
	case map[string]any:
		return PublicConfig(v)
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = publicValue(e)
		}
		return out
	}
	return v
}

// Outbound message statuses.
const (
	OutboundQueued = "queued"
	OutboundSent   = "sent"
	OutboundFailed = "failed"
)

// OutboundMessage is a message sent out through a channel, delivered by a background job.
type OutboundMessage struct {
	ID             int64      `json:"id"`
	ChannelID      int64      `json:"channel_id"`
	ConversationID int64      `json:"conversation_id,omitempty"`
	Recipient      string     `json:"recipient"`
	Subject        string     `json:"subject,omitempty"`
	Body           string     `json:"body"`
	Status         string     `json:"status"`
	Error          string     `json:"error,omitempty"`
	Attempts       int        `json:"attempts"`
	CreatedAt      time.Time  `json:"created_at"`
	SentAt         *time.Time `json:"sent_at,omitempty"`
	UpdatedAt      time.Time  `json:"updated_at"`
}

// Limits of an outbound message.
const (
	MaxOutboundBody    = 20000 // characters
	MaxOutboundSubject = 255   // characters
)

// Recipient is a validated outbound recipient. Address is the normalised form to store and
// deliver to; ConversationID is set for "conversation:<id>" recipients.
type Recipient struct {
	Address        string
	ConversationID int64
}

var (
	e164Re      = regexp.MustCompile(`^\+[1-9][0-9]{7,14}$`)
	visitorIDRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$`)
	phoneStrip  = strings.NewReplacer(" ", "", "-", "", ".", "", "(", "", ")", "")
)

// ParseRecipient validates a recipient for a channel kind:
//   - email: one email address ("Ada <ada@example.com>" is accepted and reduced to the address);
//   - sms, whatsapp: an E.164 phone number, "+" then 8 to 15 digits; spaces, dashes, dots and
//     parentheses are dropped first;
//   - web_widget, api: "visitor:<visitor id>" or "conversation:<conversation id>".
//
// Errors name the field "recipient". Whether a conversation exists is for the caller to check.
func ParseRecipient(kind, s string) (Recipient, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return Recipient{}, Invalidf("recipient", "is required")
	}
	switch kind {
	case ChannelEmail:
		addr, err := ParseEmail(s)
		if err != nil {
			return Recipient{}, Invalidf("recipient", "must be one email address such as ada@example.com for an email channel, got %q", s)
		}
		return Recipient{Address: addr}, nil
	case ChannelSMS, ChannelWhatsApp:
		p := phoneStrip.Replace(s)
		if !e164Re.MatchString(p) {
			return Recipient{}, Invalidf("recipient", "must be an E.164 phone number (\"+\" then 8 to 15 digits, country code first, such as +14155550100) for %s channels, got %q", kind, s)
		}
		return Recipient{Address: p}, nil
	case ChannelWebWidget, ChannelAPI:
		prefix, rest, _ := strings.Cut(s, ":")
		switch prefix {
		case "conversation":
			id, err := strconv.ParseInt(rest, 10, 64)
			if err != nil || id <= 0 {
				return Recipient{}, Invalidf("recipient", "conversation:<id> needs a positive conversation id, got %q", s)
			}
			return Recipient{Address: "conversation:" + strconv.FormatInt(id, 10), ConversationID: id}, nil
		case "visitor":
			if !visitorIDRe.MatchString(rest) {
				return Recipient{}, Invalidf("recipient", "visitor:<id> needs a visitor id of 1 to 128 letters, digits, '.', '_', ':' or '-', got %q", s)
			}
			return Recipient{Address: s}, nil
		}
		return Recipient{}, Invalidf("recipient", "must be \"visitor:<visitor id>\" or \"conversation:<conversation id>\" for %s channels, got %q", kind, s)
	}
	return Recipient{}, Invalidf("recipient", "channel kind %q cannot send", kind)
}

// ParseEmail validates a single email address and returns its bare form (no display name).
// Lists, group syntax and control characters are refused.
func ParseEmail(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" || len(s) > 320 || strings.ContainsAny(s, "\r\n\x00") || !utf8.ValidString(s) {
		return "", Invalidf("email", "must be one email address such as ada@example.com")
	}
	a, err := mail.ParseAddress(s)
	if err != nil {
		return "", Invalidf("email", "must be one email address such as ada@example.com")
	}
	local, domain, ok := strings.Cut(a.Address, "@")
	if !ok || local == "" || domain == "" || strings.HasPrefix(domain, "[") {
		return "", Invalidf("email", "must be one email address such as ada@example.com")
	}
	return a.Address, nil
}
