package mcp

import "github.com/nubiq/hub"

func teamTools(d *Deps) []*Tool {
	return []*Tool{
		placeholder(ToolSpec{Name: "team.members", Title: "List team members", Scope: nubiq.ScopeTeamRead, ReadOnly: true,
			Description: "List team members with their role (owner, admin, agent), status (active, invited) and teams."}),
		placeholder(ToolSpec{Name: "team.invite", Title: "Invite a team member", Scope: nubiq.ScopeTeamWrite, Idempotent: true, OpenWorld: true,
			Description: "Invite a person by email with a role (admin or agent). Inviting the same email again returns the pending invitation. Sends the invitation email when email is configured."}),
	}
}
