package jobs

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/smtp"
	"net/textproto"
	"strconv"
	"strings"
	"time"
)

// SMTP TLS modes.
const (
	// TLSStartTLS upgrades the connection with STARTTLS whenever the server offers it (the
	// default). Credentials are only ever sent over TLS, or to a server on the loopback address.
	TLSStartTLS = "starttls"
	// TLSImplicit speaks TLS from the first byte (SMTPS, usually port 465).
	TLSImplicit = "implicit"
	// TLSNone never upgrades: for a relay on a trusted local network.
	TLSNone = "none"
)

// SMTPConfig is an SMTP server to send through: the service's own (NUBIQ_SMTP_*) or an email
// channel's.
type SMTPConfig struct {
	Host string
	// Port defaults to 465 for implicit TLS and 587 otherwise.
	Port     int
	Username string
	Password string
	// From is the sender, "support@example.com" or "Acme Support <support@example.com>".
	From string
	// TLS is starttls (default), implicit or none.
	TLS string
}

// Configured reports whether mail can be sent: a host and a sender are set.
func (c SMTPConfig) Configured() bool { return c.Host != "" && c.From != "" }

func (c SMTPConfig) port() int {
	if c.Port != 0 {
		return c.Port
	}
	if c.TLS == TLSImplicit {
		return 465
	}
	return 587
}

func isPermanent(err error) bool {
	var p *permanentError
	return errors.As(err, &p)
}

// mailMessage is one plain-text email.
type mailMessage struct {
	From    string // header form, possibly with a display name
	To      string // bare address
	Subject string
	Body    string
	// ID is a unique token for the Message-ID header.
	ID      string
	Headers map[string]string
}

// bytes renders the message as RFC 5322 text: UTF-8 plain text, quoted-printable, with header
// values stripped of line breaks so that no field can inject headers.
func (m *mailMessage) bytes(now time.Time) ([]byte, error) {
	from, err := mail.ParseAddress(m.From)
	if err != nil {
		return nil, permanent("sender %q is not an email address: %v", m.From, err)
	}
	to, err := mail.ParseAddress(m.To)
	if err != nil {
		return nil, permanent("recipient %q is not an email address: %v", m.To, err)
	}
	domain := from.Address[strings.LastIndexByte(from.Address, '@')+1:]
	var b bytes.Buffer
	header := func(k, v string) { fmt.Fprintf(&b, "%s: %s\r\n", k, oneLine(v)) }
	header("From", from.String())
	header("To", to.String())
	header("Subject", mime.QEncoding.Encode("utf-8", oneLine(m.Subject)))
	header("Date", now.UTC().Format(time.RFC1123Z))
	header("Message-ID", "<"+m.ID+"@"+domain+">")
	header("MIME-Version", "1.0")
	header("Content-Type", "text/plain; charset=utf-8")
	header("Content-Transfer-Encoding", "quoted-printable")
	for k, v := range m.Headers {
		header(k, v)
	}
	b.WriteString("\r\n")
	qp := quotedprintable.NewWriter(&b)
	if _, err := qp.Write([]byte(m.Body)); err != nil {
		return nil, err
	}
	if err := qp.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func oneLine(s string) string {
	return strings.Join(strings.FieldsFunc(s, func(r rune) bool { return r == '\r' || r == '\n' }), " ")
}

func newMessageID(prefix string) string {
	b := make([]byte, 8)
	rand.Read(b)
	return prefix + "." + hex.EncodeToString(b)
}

// mailer sends mail over SMTP with net/smtp, bounding every connection by a deadline.
type mailer struct {
	// TLSConfig is the base TLS configuration (root CAs); ServerName is set per server.
	TLSConfig *tls.Config
	// HeloName is the name given in EHLO.
	HeloName string
	Timeout  time.Duration
}

// send delivers msg to one recipient. Errors that retrying cannot fix (5xx replies, bad
// configuration) are permanent; connection failures and 4xx replies are not.
func (ml *mailer) send(ctx context.Context, cfg SMTPConfig, msg *mailMessage) error {
	if cfg.Host == "" {
		return permanent("no SMTP host configured")
	}
	from, err := mail.ParseAddress(msg.From)
	if err != nil {
		return permanent("sender %q is not an email address", msg.From)
	}
	// Rows queued by other paths (conversation replies) carry the contact's address as stored,
	// possibly with a display name: the envelope takes the bare address.
	to, err := mail.ParseAddress(msg.To)
	if err != nil {
		return permanent("recipient %q is not an email address", msg.To)
	}
	data, err := msg.bytes(time.Now())
	if err != nil {
		return err
	}
	mode := cfg.TLS
	if mode == "" {
		mode = TLSStartTLS
	}
	if mode != TLSStartTLS && mode != TLSImplicit && mode != TLSNone {
		return permanent("unknown SMTP tls mode %q; use starttls, implicit or none", cfg.TLS)
	}
	addr := net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.port()))
	ctx, cancel := context.WithTimeout(ctx, ml.Timeout)
	defer cancel()
	deadline, _ := ctx.Deadline()

	tlsConfig := &tls.Config{MinVersion: tls.VersionTLS12}
	if ml.TLSConfig != nil {
		tlsConfig = ml.TLSConfig.Clone()
	}
	tlsConfig.ServerName = cfg.Host

	var conn net.Conn
	dialer := &net.Dialer{}
	if mode == TLSImplicit {
		conn, err = (&tls.Dialer{NetDialer: dialer, Config: tlsConfig}).DialContext(ctx, "tcp", addr)
	} else {
		conn, err = dialer.DialContext(ctx, "tcp", addr)
	}
	if err != nil {
		return fmt.Errorf("connect to SMTP server %s: %w", addr, err)
	}
	defer conn.Close()
	// net/smtp has no timeouts of its own: the deadline bounds every read and write, and
	// cancellation cuts the connection short.
	_ = conn.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Now()) })
	defer stop()

	c, err := smtp.NewClient(conn, cfg.Host)
	if err != nil {
		return smtpError("greeting", err)
	}
	defer c.Close()
	if err := c.Hello(ml.HeloName); err != nil {
		return smtpError("EHLO", err)
	}
	if ok, _ := c.Extension("STARTTLS"); ok && mode == TLSStartTLS {
		if err := c.StartTLS(tlsConfig); err != nil {
			return smtpError("STARTTLS", err)
		}
	}
	if cfg.Username != "" {
		if ok, _ := c.Extension("AUTH"); !ok {
			return permanent("SMTP server %s does not offer AUTH but credentials are configured", addr)
		}
		// PlainAuth refuses to send credentials over a connection that is neither TLS nor to
		// the loopback address.
		if err := c.Auth(smtp.PlainAuth("", cfg.Username, cfg.Password, cfg.Host)); err != nil {
			return smtpError("AUTH", err)
		}
	}
	if err := c.Mail(from.Address); err != nil {
		return smtpError("MAIL FROM", err)
	}
	if err := c.Rcpt(to.Address); err != nil {
		return smtpError("RCPT TO", err)
	}
	w, err := c.Data()
	if err != nil {
		return smtpError("DATA", err)
	}
	if _, err := w.Write(data); err != nil {
		return smtpError("DATA", err)
	}
	if err := w.Close(); err != nil {
		return smtpError("end of DATA", err)
	}
	// The message is accepted once DATA ends; a failed QUIT changes nothing.
	c.Quit() //nolint:errcheck
	return nil
}

// smtpError classifies a failure: a 5xx reply is permanent, anything else (4xx, network) may
// pass on retry. A refusal to authenticate without TLS is permanent too.
func smtpError(stage string, err error) error {
	var tpErr *textproto.Error
	if errors.As(err, &tpErr) {
		if tpErr.Code >= 500 {
			return &permanentError{fmt.Errorf("SMTP %s refused: %d %s", stage, tpErr.Code, tpErr.Msg)}
		}
		return fmt.Errorf("SMTP %s deferred: %d %s", stage, tpErr.Code, tpErr.Msg)
	}
	if strings.Contains(err.Error(), "unencrypted connection") {
		return &permanentError{fmt.Errorf("SMTP %s: credentials would travel unencrypted (the server offers no STARTTLS); use tls implicit or a server with STARTTLS", stage)}
	}
	var certErr *tls.CertificateVerificationError
	if errors.As(err, &certErr) {
		return &permanentError{fmt.Errorf("SMTP %s: %w", stage, err)}
	}
	return fmt.Errorf("SMTP %s: %w", stage, err)
}
