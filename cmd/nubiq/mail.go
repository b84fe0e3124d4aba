package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/nubiq/hub/jobs"
)

// mailFlags are the service's own outgoing mail settings (invitation emails). Email channels
// carry their own SMTP settings; these are only for mail the service itself sends.
type mailFlags struct {
	host      string
	port      int
	username  string
	from      string
	tls       string
	publicURL string
}

func (f *mailFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.host, "smtp-host", envOr("NUBIQ_SMTP_HOST", ""), "SMTP server for invitation emails; empty sends none (env NUBIQ_SMTP_HOST)")
	fs.IntVar(&f.port, "smtp-port", envInt("NUBIQ_SMTP_PORT", 0), "SMTP port; 0 means 465 with --smtp-tls implicit, else 587 (env NUBIQ_SMTP_PORT)")
	fs.StringVar(&f.username, "smtp-username", envOr("NUBIQ_SMTP_USERNAME", ""), "SMTP user; the password comes from NUBIQ_SMTP_PASSWORD only (env NUBIQ_SMTP_USERNAME)")
	fs.StringVar(&f.from, "smtp-from", envOr("NUBIQ_SMTP_FROM", ""), `sender of invitation emails, e.g. "Nubiq Hub <hub@example.com>" (env NUBIQ_SMTP_FROM)`)
	fs.StringVar(&f.tls, "smtp-tls", envOr("NUBIQ_SMTP_TLS", jobs.TLSStartTLS), "starttls (upgrade when offered), implicit (SMTPS) or none (env NUBIQ_SMTP_TLS)")
	fs.StringVar(&f.publicURL, "public-url", envOr("NUBIQ_PUBLIC_URL", ""), "address people reach this service at, for links in emails; default http://<addr> (env NUBIQ_PUBLIC_URL)")
}

// config returns the mail settings; addr is the listen address, the default public URL.
func (f *mailFlags) config(addr string) (jobs.MailConfig, error) {
	c := jobs.MailConfig{
		SMTPConfig: jobs.SMTPConfig{
			Host: f.host, Port: f.port, Username: f.username, Password: os.Getenv("NUBIQ_SMTP_PASSWORD"),
			From: f.from, TLS: f.tls,
		},
		PublicURL: f.publicURL,
	}
	if c.PublicURL == "" {
		c.PublicURL = "http://" + addr
	}
	if c.TLS == "" {
		c.TLS = jobs.TLSStartTLS
	}
	switch c.TLS {
	case jobs.TLSStartTLS, jobs.TLSImplicit, jobs.TLSNone:
	default:
		return c, fmt.Errorf("--smtp-tls: want starttls, implicit or none, got %q", c.TLS)
	}
	if c.Host != "" && c.From == "" {
		return c, fmt.Errorf("--smtp-host is set but --smtp-from (NUBIQ_SMTP_FROM) is not: invitation emails need a sender")
	}
	return c, nil
}
