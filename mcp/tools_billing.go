package mcp

import "github.com/nubiq/hub"

func billingTools(d *Deps) []*Tool {
	return []*Tool{
		placeholder(ToolSpec{Name: "billing.usage", Title: "Plan and API usage", Scope: nubiq.ScopeBillingRead, ReadOnly: true,
			Description: "The workspace's plan, its rate limits, and API usage this minute, today and this month, per API key."}),
	}
}
