package nubiq

import "time"

// Member roles and statuses.
const (
	RoleOwner = "owner"
	RoleAdmin = "admin"
	RoleAgent = "agent"

	MemberActive   = "active"
	MemberInvited  = "invited"
	MemberDisabled = "disabled"
)

// MemberRoles, InvitableRoles and MemberStatuses list the allowed values. Owners are not
// invited: a workspace's owner exists from its creation and ownership is transferred, not
// granted by invitation.
var (
	MemberRoles    = []string{RoleOwner, RoleAdmin, RoleAgent}
	InvitableRoles = []string{RoleAdmin, RoleAgent}
	MemberStatuses = []string{MemberActive, MemberInvited, MemberDisabled}
)

// InvitationTTL is how long an invitation can be accepted.
const InvitationTTL = 7 * 24 * time.Hour

// Member is a person working in a workspace: an owner, admin or agent.
type Member struct {
	ID                  int64      `json:"id"`
	Email               string     `json:"email"`
	Name                string     `json:"name"`
	Role                string     `json:"role"`
	Status              string     `json:"status"`
	Teams               []TeamRef  `json:"teams"`
	InvitedAt           *time.Time `json:"invited_at,omitempty"`
	InvitationExpiresAt *time.Time `json:"invitation_expires_at,omitempty"`
	JoinedAt            *time.Time `json:"joined_at,omitempty"`
	CreatedAt           time.Time  `json:"created_at"`
}

// Team is a group of members that conversations and tickets can be assigned to.
type Team struct {
	ID          int64     `json:"id"`
	Name        string    `json:"name"`
	Description string    `json:"description"`
	CreatedAt   time.Time `json:"created_at"`
}

// What team.invite did.
const (
	InviteCreated  = "created"  // a new invited member
	InviteExisting = "existing" // the email already had a pending invitation, returned as it is
	InviteRenewed  = "renewed"  // the pending invitation had expired: new token, new expiry
)

// How the invitation email goes out.
const (
	InviteEmailQueued        = "queued"         // a job sends it, with a freshly minted token
	InviteEmailAlreadySent   = "already_sent"   // sent earlier for this invitation; not sent again
	InviteEmailNotConfigured = "not_configured" // no SMTP settings: no email, no token yet
)

// Invitation is the outcome of inviting an email address. The invitation token never appears
// here: it exists only in the invitation email.
type Invitation struct {
	Member        Member    `json:"member"`
	Outcome       string    `json:"outcome"`
	ExpiresAt     time.Time `json:"expires_at"`
	EmailDelivery string    `json:"email_delivery"`
}

// SendInvitationArgs asks for the invitation email of an invited member. InvitedAt identifies
// the invitation: a job for an invitation since renewed or accepted does nothing.
type SendInvitationArgs struct {
	WorkspaceID int64     `json:"workspace_id"`
	MemberID    int64     `json:"member_id"`
	InvitedAt   time.Time `json:"invited_at"`
}

// Kind names the job for River.
func (SendInvitationArgs) Kind() string { return "send_invitation" }
