package jobs

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/riverqueue/river"

	"github.com/nubiq/hub"
)

// MailConfig is the service's own outgoing mail.
type MailConfig struct {
	SMTPConfig
	// PublicURL is the address people reach the service at; invitation links start with it.
	// Default http://localhost:8080.
	PublicURL string
}

// InvitationPath is where an invitation link points, under PublicURL. The token travels in
// the fragment, which browsers never send to servers or write into access logs.
const InvitationPath = "/accept-invitation"

// InvitationLink returns the link an invitation email carries.
func (c MailConfig) InvitationLink(token string) string {
	base := strings.TrimRight(c.PublicURL, "/")
	if base == "" {
		base = "http://localhost:8080"
	}
	return base + InvitationPath + "#token=" + token
}

func init() {
	addWorkers(func(w *river.Workers, d *Deps) {
		cfg := d.Delivery.withDefaults()
		river.AddWorker(w, &inviteWorker{deps: d, cfg: cfg, mailer: &mailer{TLSConfig: cfg.TLSConfig, HeloName: cfg.HeloName, Timeout: cfg.Timeout}})
	})
}

// inviteWorker sends an invitation email. It mints the invitation's token itself, just before
// sending, so that the token exists only in the email (the database keeps its SHA-256). A
// failed send forgets the token; a retry mints a new one.
type inviteWorker struct {
	river.WorkerDefaults[nubiq.SendInvitationArgs]
	deps   *Deps
	cfg    DeliveryConfig
	mailer *mailer
}

func (w *inviteWorker) NextRetry(job *river.Job[nubiq.SendInvitationArgs]) time.Time {
	return time.Now().Add(w.cfg.Backoff(job.Attempt))
}

func (w *inviteWorker) Work(ctx context.Context, job *river.Job[nubiq.SendInvitationArgs]) error {
	mail := w.deps.Mail
	if !mail.Configured() {
		return river.JobCancel(fmt.Errorf("no SMTP server configured (NUBIQ_SMTP_HOST, NUBIQ_SMTP_FROM): invitation email to member %d not sent", job.Args.MemberID))
	}
	inv, ok, err := w.deps.DB.MintInvitationToken(ctx, job.Args)
	if err != nil {
		return err
	} else if !ok {
		return nil // accepted, renewed or withdrawn since: this invitation needs no email
	}
	greeting := "Hello,"
	if inv.Name != "" {
		greeting = "Hello " + inv.Name + ","
	}
	body := fmt.Sprintf(`%s

You have been invited to join the %s workspace on Nubiq Hub as an %s.

Accept the invitation:
%s

The link works once and expires on %s UTC. If you did not expect this invitation, ignore this
email.
`, greeting, inv.WorkspaceName, inv.Role, mail.InvitationLink(inv.Token), inv.ExpiresAt.UTC().Format("2 January 2006 at 15:04"))
	err = w.mailer.send(ctx, mail.SMTPConfig, &mailMessage{
		From: mail.From, To: inv.Email,
		Subject: fmt.Sprintf("You are invited to join %s on Nubiq Hub", inv.WorkspaceName),
		Body:    body,
		ID:      newMessageID("nubiq.invitation." + strconv.FormatInt(job.Args.MemberID, 10)),
	})
	if err == nil {
		return nil
	}
	if ferr := w.deps.DB.ForgetInvitationToken(context.WithoutCancel(ctx), job.Args, inv.Token); ferr != nil {
		w.deps.Logger.Error("forget invitation token", "member", job.Args.MemberID, "err", ferr)
	}
	w.deps.Logger.Warn("invitation email failed", "workspace", job.Args.WorkspaceID, "member", job.Args.MemberID,
		"attempt", job.Attempt, "err", err)
	if isPermanent(err) || job.Attempt >= min(job.MaxAttempts, w.cfg.MaxAttempts) {
		return river.JobCancel(err)
	}
	return err
}
