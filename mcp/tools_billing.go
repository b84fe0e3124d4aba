package mcp

import (
	"context"

	"github.com/nubiq/hub"
)

func billingTools(d *Deps) []*Tool {
	return []*Tool{
		NewTool(ToolSpec{Name: "billing.usage", Title: "Plan and API usage", Scope: nubiq.ScopeBillingRead, ReadOnly: true,
			Description: "The workspace's plan, its rate limits, and API usage this minute, today and this month, per API key." +
				" Days and months are UTC; the plan's limits apply to the workspace total, and remaining_minute and remaining_day say what is left of them."},
			d.billingUsage),
	}
}

type billingUsageIn struct{}

func (d *Deps) billingUsage(ctx context.Context, _ billingUsageIn) (nubiq.Usage, error) {
	if d.DB == nil {
		return nubiq.Usage{}, errNotAvailable("billing.usage")
	}
	u, err := d.DB.Usage(ctx, nubiq.CallerFromContext(ctx).WorkspaceID, d.now())
	if err != nil {
		return nubiq.Usage{}, err
	}
	return *u, nil
}
