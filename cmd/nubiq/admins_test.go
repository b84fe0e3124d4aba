package main

import (
	"bytes"
	"context"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/nubiq/hub"
	"github.com/nubiq/hub/postgres/pgtest"
)

var oneTimeRE = regexp.MustCompile(`(?m)^    ([0-9A-Za-z]{20})$`)

func TestAdminCreate(t *testing.T) {
	ctx := context.Background()
	db := pgtest.NewDB(t)
	ws, err := db.CreateWorkspace(ctx, "Acme", "pro")
	require.NoError(t, err)

	var out bytes.Buffer
	require.NoError(t, adminCreate(ctx, db, &out, adminCreateParams{Email: "ana@example.com", Workspace: "acme", Name: "Ana", Cost: bcrypt.MinCost}))
	require.Contains(t, out.String(), `Created owner ana@example.com in workspace "Acme"`)
	m := oneTimeRE.FindStringSubmatch(out.String())
	require.NotNil(t, m, out.String())
	first := m[1]

	// Only the hash is stored, and it matches the printed password.
	var hash string
	var mustChange bool
	require.NoError(t, db.Pool.QueryRow(ctx, `SELECT password_hash, password_change_required FROM members WHERE workspace_id = $1 AND email = 'ana@example.com'`, ws.ID).Scan(&hash, &mustChange))
	require.NotContains(t, hash, first)
	require.NoError(t, bcrypt.CompareHashAndPassword([]byte(hash), []byte(first)))
	require.True(t, mustChange)

	// The workspace has an owner now: the next member is an admin.
	out.Reset()
	require.NoError(t, adminCreate(ctx, db, &out, adminCreateParams{Email: "bo@example.com", Workspace: "Acme", Cost: bcrypt.MinCost}))
	require.Contains(t, out.String(), "Created admin bo@example.com")

	// Creating an existing member again is refused; --reset gives a new password.
	err = adminCreate(ctx, db, &out, adminCreateParams{Email: "ANA@example.com", Workspace: "Acme", Cost: bcrypt.MinCost})
	require.Equal(t, nubiq.ECodeConflict, nubiq.ErrorCode(err))
	require.Contains(t, nubiq.ErrorMessage(err), "--reset")

	out.Reset()
	require.NoError(t, adminCreate(ctx, db, &out, adminCreateParams{Email: "ana@example.com", Workspace: "Acme", Reset: true, Cost: bcrypt.MinCost}))
	require.Contains(t, out.String(), "Reset the password of owner ana@example.com")
	second := oneTimeRE.FindStringSubmatch(out.String())[1]
	require.NotEqual(t, first, second)
	require.NoError(t, db.Pool.QueryRow(ctx, `SELECT password_hash FROM members WHERE workspace_id = $1 AND email = 'ana@example.com'`, ws.ID).Scan(&hash))
	require.NoError(t, bcrypt.CompareHashAndPassword([]byte(hash), []byte(second)))

	for _, c := range []struct {
		p    adminCreateParams
		code string
	}{
		{adminCreateParams{Email: "x@example.com", Workspace: "Nope"}, nubiq.ECodeNotFound},
		{adminCreateParams{Email: "new@example.com", Workspace: "Acme", Reset: true}, nubiq.ECodeNotFound},
		{adminCreateParams{Email: "not-an-email", Workspace: "Acme"}, nubiq.ECodeInvalid},
		{adminCreateParams{Email: "x@example.com", Workspace: "Acme", Role: "agent"}, nubiq.ECodeInvalid},
	} {
		c.p.Cost = bcrypt.MinCost
		err := adminCreate(ctx, db, &out, c.p)
		require.Equal(t, c.code, nubiq.ErrorCode(err), "%+v: %v", c.p, err)
	}
}

func TestAdminCreateCommand(t *testing.T) {
	url := pgtest.URL(t)
	cli(t, "workspaces", "create", "--name", "Acme", "--database-url", url)
	out := cli(t, "admin", "create", "--email", "ana@example.com", "--workspace", "Acme", "--database-url", url)
	require.Contains(t, out, `Created owner ana@example.com in workspace "Acme"`)
	require.Regexp(t, oneTimeRE, out)
	require.Equal(t, 2, run(context.Background(), []string{"admin", "create", "--email", "x@example.com", "--database-url", url}), "--workspace is required")
	require.Equal(t, 2, run(context.Background(), []string{"admin", "nope"}))
}
