package mcp

import "github.com/nubiq/hub"

func analyticsTools(d *Deps) []*Tool {
	return []*Tool{
		placeholder(ToolSpec{Name: "analytics.overview", Title: "Support KPIs", Scope: nubiq.ScopeAnalyticsRead, ReadOnly: true,
			Description: "Key support metrics over a period in a time zone: conversations opened and resolved, currently open and pending, first-response and resolution times, CSAT and open tickets."}),
		placeholder(ToolSpec{Name: "analytics.conversations", Title: "Conversation volume over time", Scope: nubiq.ScopeAnalyticsRead, ReadOnly: true,
			Description: "Conversation counts over time by day, week or month, optionally split by channel or status."}),
		placeholder(ToolSpec{Name: "analytics.satisfaction", Title: "Customer satisfaction", Scope: nubiq.ScopeAnalyticsRead, ReadOnly: true,
			Description: "CSAT over a period: average score, distribution over 1-5, response rate and the latest comments."}),
	}
}
