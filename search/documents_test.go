package search_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/nubiq/hub"
	"github.com/nubiq/hub/search/searchtest"
)

func TestDocumentsSmoke(t *testing.T) {
	env := searchtest.New(t, nil)
	ws := searchtest.Workspace(t, env.DB, "acme")
	env.AddDocuments(t, ws,
		searchtest.Doc{Title: "Installing the agent", Text: "Download the installer and run it. The agent starts on boot.\n\n---\n\nTo uninstall, remove the package."},
		searchtest.Doc{Title: "Billing", Text: "Invoices are sent monthly. Refunds take five days."},
	)
	env.Sync(t)
	ctx := context.Background()
	for _, mode := range []string{"keyword", "semantic", "hybrid"} {
		res, err := env.Service.Documents(ctx, ws, nubiq.DocumentSearch{Query: "how do I install the agent", Mode: mode})
		require.NoError(t, err)
		require.NotEmpty(t, res.Results, mode)
		t.Logf("%s: %+v", mode, res.Results[0])
	}
}
