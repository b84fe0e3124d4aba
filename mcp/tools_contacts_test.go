package mcp_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/nubiq/hub"
	"github.com/nubiq/hub/mcp/mcptest"
)

type contactsPage struct {
	Contacts   []nubiq.Contact `json:"contacts"`
	NextCursor string          `json:"next_cursor"`
}

func contactNames(cs []nubiq.Contact) []string {
	out := []string{}
	for _, c := range cs {
		out = append(out, c.Name)
	}
	return out
}

func TestContactsList(t *testing.T) {
	t.Parallel()
	env := mcptest.New(t, nil)
	ws := env.Workspace(t, "Acme Support", "pro")
	other := env.Workspace(t, "Globex Support", "pro")
	a := rowsFx{t, env, ws}
	b := rowsFx{t, env, other}

	a.contact(contactRow{Name: "Ada", Email: "ada@acme.test", Phone: "+33612345678", Company: "Acme", Created: "2026-01-01T09:00:00Z"})
	a.contact(contactRow{Name: "Bob", Phone: "+15551234567", Company: "ACME", Created: "2026-01-02T09:00:00Z"})
	a.contact(contactRow{Name: "Cy", Email: "cy@globex.test", Company: "Globex", Created: "2026-01-03T09:00:00Z"})
	a.contact(contactRow{Name: "Di", Created: "2026-01-04T09:00:00Z"})
	// Two contacts created at the same instant: the id breaks the tie, newest id first.
	a.contact(contactRow{Name: "Eli", Email: "eli@acme.test", Company: "acme ", Created: "2026-01-05T09:00:00Z"})
	a.contact(contactRow{Name: "Fay", Email: "fay@initech.test", Phone: "+4930123456", Company: "Initech", Created: "2026-01-05T09:00:00Z"})
	b.contact(contactRow{Name: "Gus", Email: "gus@acme.test", Company: "Acme", Created: "2026-01-06T09:00:00Z"})

	cs := env.Client(t, env.Key(t, ws, nubiq.ScopeContactsRead))
	list := func(args map[string]any) contactsPage {
		t.Helper()
		var p contactsPage
		mustCallSchema(t, env, cs, "contacts.list", args, &p)
		return p
	}

	t.Run("newest first, this workspace only", func(t *testing.T) {
		p := list(map[string]any{})
		require.Equal(t, []string{"Fay", "Eli", "Di", "Cy", "Bob", "Ada"}, contactNames(p.Contacts))
		require.Empty(t, p.NextCursor)
		ada := p.Contacts[5]
		require.Equal(t, "ada@acme.test", ada.Email)
		require.Equal(t, "+33612345678", ada.Phone)
		require.Equal(t, "2026-01-01T09:00:00Z", ada.CreatedAt.Format("2006-01-02T15:04:05Z07:00"))
		require.Equal(t, map[string]any{}, ada.CustomAttributes)
	})

	t.Run("filters", func(t *testing.T) {
		require.Equal(t, []string{"Bob", "Ada"}, contactNames(list(map[string]any{"company": "acme"}).Contacts),
			"company matches the whole name ignoring case, and never another workspace's contacts")
		require.Equal(t, []string{"Bob", "Ada"}, contactNames(list(map[string]any{"company": "  ACME "}).Contacts))
		require.Equal(t, []string{"Fay", "Eli", "Cy", "Ada"}, contactNames(list(map[string]any{"has_email": true}).Contacts))
		require.Equal(t, []string{"Di", "Bob"}, contactNames(list(map[string]any{"has_email": false}).Contacts))
		require.Equal(t, []string{"Fay", "Bob", "Ada"}, contactNames(list(map[string]any{"has_phone": true}).Contacts))
		require.Equal(t, []string{"Eli", "Di", "Cy"}, contactNames(list(map[string]any{"has_phone": false}).Contacts))
		require.Equal(t, []string{"Fay", "Ada"}, contactNames(list(map[string]any{"has_email": true, "has_phone": true}).Contacts))
		require.Equal(t, []string{"Cy", "Bob"}, contactNames(list(map[string]any{
			"created_from": "2026-01-02T09:00:00Z", "created_to": "2026-01-04T09:00:00Z"}).Contacts),
			"created_from is inclusive, created_to exclusive")
		require.Equal(t, []string{"Fay", "Eli", "Di"}, contactNames(list(map[string]any{"created_from": "2026-01-03T12:00:00+02:00"}).Contacts))
		require.Empty(t, list(map[string]any{"company": "Umbrella"}).Contacts)
	})

	t.Run("paging", func(t *testing.T) {
		for _, limit := range []int{1, 2, 4} {
			var names []string
			cursor := ""
			for pages := 0; ; pages++ {
				require.Less(t, pages, 10, "paging does not end")
				args := map[string]any{"limit": limit}
				if cursor != "" {
					args["cursor"] = cursor
				}
				p := list(args)
				require.LessOrEqual(t, len(p.Contacts), limit)
				names = append(names, contactNames(p.Contacts)...)
				if p.NextCursor == "" {
					break
				}
				cursor = p.NextCursor
			}
			require.Equal(t, []string{"Fay", "Eli", "Di", "Cy", "Bob", "Ada"}, names, "limit %d", limit)
		}
		// The cursor carries the position, the filters come with each call.
		p := list(map[string]any{"has_email": true, "limit": 2})
		require.Equal(t, []string{"Fay", "Eli"}, contactNames(p.Contacts))
		p = list(map[string]any{"has_email": true, "limit": 2, "cursor": p.NextCursor})
		require.Equal(t, []string{"Cy", "Ada"}, contactNames(p.Contacts))
		require.Empty(t, p.NextCursor, "an exactly full last page has no next cursor")
	})

	t.Run("bad input names the field", func(t *testing.T) {
		mustFailField(t, cs, "contacts.list", map[string]any{"limit": 101}, "invalid", "limit")
		mustFailField(t, cs, "contacts.list", map[string]any{"limit": -1}, "invalid", "limit")
		mustFailField(t, cs, "contacts.list", map[string]any{"limit": "ten"}, "invalid", "limit")
		mustFailField(t, cs, "contacts.list", map[string]any{"cursor": "not-a-cursor"}, "invalid", "cursor")
		mustFailField(t, cs, "contacts.list", map[string]any{"cursor": nubiq.Cursor{Kind: "tickets", ID: 3}.Encode()}, "invalid", "cursor")
		mustFailField(t, cs, "contacts.list", map[string]any{"created_from": "last week"}, "invalid", "created_from")
		mustFailField(t, cs, "contacts.list", map[string]any{"created_to": "2026-01-02"}, "invalid", "created_to")
		mustFailField(t, cs, "contacts.list", map[string]any{
			"created_from": "2026-01-05T00:00:00Z", "created_to": "2026-01-01T00:00:00Z"}, "invalid", "created_to")
		mustFailField(t, cs, "contacts.list", map[string]any{"company": strings.Repeat("x", 201)}, "invalid", "company")
		mustFailField(t, cs, "contacts.list", map[string]any{"has_email": "yes"}, "invalid", "has_email")
		mustFailField(t, cs, "contacts.list", map[string]any{"email": "ada@acme.test"}, "invalid", "email")
	})

	t.Run("needs contacts:read", func(t *testing.T) {
		other := env.Client(t, env.Key(t, ws, nubiq.ScopeTicketsRead))
		mcptest.MustFail(t, other, "contacts.list", map[string]any{}, "forbidden")
	})
}

func TestContactsGet(t *testing.T) {
	t.Parallel()
	env := mcptest.New(t, nil)
	ws := env.Workspace(t, "Acme Support", "pro")
	otherWS := env.Workspace(t, "Globex Support", "pro")
	a := rowsFx{t, env, ws}
	b := rowsFx{t, env, otherWS}

	ada := a.contact(contactRow{Name: "Ada Lovelace", Email: "ada@acme.test", Company: "Acme",
		Attrs: map[string]any{"plan": "gold", "seats": 12, "beta": true}, Created: "2026-01-01T09:00:00Z"})
	bob := a.contact(contactRow{Name: "Bob", Created: "2026-01-02T09:00:00Z"})
	gus := b.contact(contactRow{Name: "Gus Secret", Email: "gus@globex.test", Created: "2026-01-03T09:00:00Z"})

	// Six conversations of Ada, updated at distinct times; the five most recent are listed.
	var adaConvs []int64
	for i, u := range []string{"2026-02-01T10:00:00Z", "2026-02-06T10:00:00Z", "2026-02-03T10:00:00Z",
		"2026-02-05T10:00:00Z", "2026-02-02T10:00:00Z", "2026-02-04T10:00:00Z"} {
		status := []string{"open", "resolved", "pending", "closed", "snoozed", "open"}[i]
		adaConvs = append(adaConvs, a.conversation(conversationRow{Contact: ada, Subject: "Ada #" + string(rune('1'+i)),
			Status: status, Created: "2026-01-20T10:00:00Z", Updated: u}))
	}
	a.conversation(conversationRow{Contact: bob, Subject: "Bob's", Created: "2026-02-10T10:00:00Z"})

	tOpen := a.ticket(ada, "Invoice wrong", "open", "high", "2026-02-01T08:00:00Z")
	tPending := a.ticket(ada, "Refund", "pending", "normal", "2026-02-03T08:00:00Z")
	tHold := a.ticket(ada, "Export", "on_hold", "low", "2026-02-02T08:00:00Z")
	a.ticket(ada, "Solved one", "solved", "normal", "2026-02-04T08:00:00Z")
	a.ticket(ada, "Closed one", "closed", "urgent", "2026-02-05T08:00:00Z")
	a.ticket(bob, "Bob's ticket", "open", "normal", "2026-02-05T08:00:00Z")
	// A row of another workspace that points at Ada (the schema cannot forbid it): never shown.
	b.ticket(ada, "Other workspace", "open", "normal", "2026-02-06T08:00:00Z")
	b.conversation(conversationRow{Contact: ada, Subject: "Other workspace", Created: "2026-02-07T10:00:00Z"})

	cs := env.Client(t, env.Key(t, ws, nubiq.ScopeContactsRead))

	t.Run("detail with recent conversations and open tickets", func(t *testing.T) {
		var d nubiq.ContactDetail
		mustCallSchema(t, env, cs, "contacts.get", map[string]any{"id": ada}, &d)
		require.Equal(t, ada, d.ID)
		require.Equal(t, "Ada Lovelace", d.Name)
		require.Equal(t, "Acme", d.Company)
		require.Equal(t, map[string]any{"plan": "gold", "seats": float64(12), "beta": true}, d.CustomAttributes)

		var convIDs []int64
		for _, c := range d.RecentConversations {
			convIDs = append(convIDs, c.ID)
		}
		// Updated 02-06, 02-05, 02-04, 02-03, 02-02: the 02-01 one drops out.
		require.Equal(t, []int64{adaConvs[1], adaConvs[3], adaConvs[5], adaConvs[2], adaConvs[4]}, convIDs)
		require.Equal(t, "resolved", d.RecentConversations[0].Status)
		require.Equal(t, "Ada #2", d.RecentConversations[0].Subject)
		require.Equal(t, "2026-02-06T10:00:00Z", d.RecentConversations[0].UpdatedAt.Format("2006-01-02T15:04:05Z07:00"))

		var ticketIDs []int64
		for _, tk := range d.OpenTickets {
			ticketIDs = append(ticketIDs, tk.ID)
		}
		require.Equal(t, []int64{tPending, tHold, tOpen}, ticketIDs, "open tickets newest first, solved and closed left out")
		require.Equal(t, 3, d.OpenTicketsTotal)
		require.Equal(t, "high", d.OpenTickets[2].Priority)
	})

	t.Run("a contact with nothing attached has empty lists", func(t *testing.T) {
		lone := a.contact(contactRow{Name: "Lone", Created: "2026-01-09T09:00:00Z"})
		var d nubiq.ContactDetail
		mustCallSchema(t, env, cs, "contacts.get", map[string]any{"id": lone}, &d)
		require.Empty(t, d.RecentConversations)
		require.Empty(t, d.OpenTickets)
		require.Zero(t, d.OpenTicketsTotal)
	})

	t.Run("missing and other workspace's ids are not found alike", func(t *testing.T) {
		missing := mcptest.MustFail(t, cs, "contacts.get", map[string]any{"id": gus + 1000}, "not_found")
		foreign := mcptest.MustFail(t, cs, "contacts.get", map[string]any{"id": gus}, "not_found")
		require.NotContains(t, foreign.Message, "Gus")
		require.NotContains(t, foreign.Message, "Globex")
		// The same answer as for an id that exists nowhere.
		require.Equal(t, fmt.Sprintf("no contact %d in this workspace", gus+1000), missing.Message)
		require.Equal(t, fmt.Sprintf("no contact %d in this workspace", gus), foreign.Message)
	})

	t.Run("bad input names the field", func(t *testing.T) {
		mustFailField(t, cs, "contacts.get", map[string]any{}, "invalid", "id")
		mustFailField(t, cs, "contacts.get", map[string]any{"id": 0}, "invalid", "id")
		mustFailField(t, cs, "contacts.get", map[string]any{"id": -4}, "invalid", "id")
		mustFailField(t, cs, "contacts.get", map[string]any{"id": "ada"}, "invalid", "id")
		mustFailField(t, cs, "contacts.get", map[string]any{"id": ada, "with": "tickets"}, "invalid", "with")
	})
}
