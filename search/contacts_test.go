package search_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/nubiq/hub"
	"github.com/nubiq/hub/search/searchtest"
)

func contactIDs(res *nubiq.ContactSearchResult) []int64 {
	var ids []int64
	for _, c := range res.Results {
		ids = append(ids, c.Contact.ID)
	}
	return ids
}

func TestContactSearch(t *testing.T) {
	env := searchtest.New(t, nil)
	db := env.DB
	ws := searchtest.Workspace(t, db, "acme")
	other := searchtest.Workspace(t, db, "globex")
	jose := searchtest.AddContact(t, db, ws, searchtest.Contact{Name: "José Álvarez", Email: "Jose.Alvarez@Mail.Example.com",
		Phone: "+1 415-555-0123", Company: "Acme Corporation", ExternalID: "crm-42", Attributes: map[string]any{"plan": "Gold", "seats": 12.0}})
	anne := searchtest.AddContact(t, db, ws, searchtest.Contact{Name: "Anne-Marie O'Neil", Email: "anne@globex.io",
		Phone: "020 7946 0958", Company: "Globex", Attributes: map[string]any{"plan": "silver", "region": "EMEA"}})
	john := searchtest.AddContact(t, db, ws, searchtest.Contact{Name: "John Smith", Email: "john.smith@example.com",
		Phone: "+44 20 7946 0000", Company: "Acme Logistics"})
	foreign := searchtest.AddContact(t, db, other, searchtest.Contact{Name: "José Álvarez", Email: "jose@example.com", Phone: "+14155550123", Company: "Acme Corporation"})
	env.Sync(t)
	ctx := context.Background()

	tests := []struct {
		name string
		p    nubiq.ContactSearch
		want []int64
	}{
		{"email exact, any case", nubiq.ContactSearch{Email: "jose.alvarez@mail.example.COM"}, []int64{jose}},
		{"email domain", nubiq.ContactSearch{Email: "@globex.io"}, []int64{anne}},
		{"email parent domain", nubiq.ContactSearch{Email: "@example.com"}, []int64{jose, john}},
		{"email of nobody", nubiq.ContactSearch{Email: "nobody@example.com"}, nil},
		{"phone in E.164", nubiq.ContactSearch{Phone: "+14155550123"}, []int64{jose}},
		{"phone as written nationally", nubiq.ContactSearch{Phone: "(415) 555-0123"}, []int64{jose}},
		{"phone with international prefix 00", nubiq.ContactSearch{Phone: "0014155550123"}, []int64{jose}},
		{"phone stored without country code", nubiq.ContactSearch{Phone: "+44 20 7946 0958"}, []int64{anne}},
		{"phone, a different number", nubiq.ContactSearch{Phone: "+44 20 7946 0001"}, nil},
		{"name, accents and case", nubiq.ContactSearch{Name: "jose alvarez"}, []int64{jose}},
		{"name, a typo", nubiq.ContactSearch{Name: "Jhon Smith"}, []int64{john}},
		{"name, a prefix", nubiq.ContactSearch{Name: "Alv"}, []int64{jose}},
		{"name, hyphenated", nubiq.ContactSearch{Name: "anne marie"}, []int64{anne}},
		{"name, every word must match", nubiq.ContactSearch{Name: "John Alvarez"}, nil},
		{"company", nubiq.ContactSearch{Company: "acme"}, []int64{jose, john}},
		{"company, every word", nubiq.ContactSearch{Company: "Acme Logistics"}, []int64{john}},
		{"attribute", nubiq.ContactSearch{Attributes: map[string]string{"plan": "gold"}}, []int64{jose}},
		{"number attribute", nubiq.ContactSearch{Attributes: map[string]string{"seats": "12"}}, []int64{jose}},
		{"two criteria", nubiq.ContactSearch{Company: "acme", Email: "@example.com", Name: "smith"}, []int64{john}},
		{"free query: a name with a typo", nubiq.ContactSearch{Query: "alvares"}, []int64{jose}},
		{"free query: an email", nubiq.ContactSearch{Query: "anne@globex.io"}, []int64{anne}},
		{"free query: a phone", nubiq.ContactSearch{Query: "415 555 0123"}, []int64{jose}},
		{"free query: an external id", nubiq.ContactSearch{Query: "crm-42"}, []int64{jose}},
		{"free query: an attribute value", nubiq.ContactSearch{Query: "emea"}, []int64{anne}},
		{"free query: a company and a name", nubiq.ContactSearch{Query: "acme john"}, []int64{john}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := env.Service.Contacts(ctx, ws, tt.p)
			require.NoError(t, err)
			got := contactIDs(res)
			require.ElementsMatch(t, tt.want, got)
			require.NotContains(t, got, foreign)
		})
	}

	res, err := env.Service.Contacts(ctx, ws, nubiq.ContactSearch{Email: "Jose.Alvarez@Mail.Example.com"})
	require.NoError(t, err)
	c := res.Results[0].Contact
	require.Equal(t, "José Álvarez", c.Name)
	require.Equal(t, "crm-42", c.ExternalID)
	require.Equal(t, "+1 415-555-0123", c.Phone)
	require.Equal(t, map[string]any{"plan": "Gold", "seats": 12.0}, c.CustomAttributes)

	res, err = env.Service.Contacts(ctx, other, nubiq.ContactSearch{Name: "jose"})
	require.NoError(t, err)
	require.Equal(t, []int64{foreign}, contactIDs(res), "the other workspace sees only its own")

	for _, tt := range []struct {
		p     nubiq.ContactSearch
		field string
	}{
		{nubiq.ContactSearch{}, "query"},
		{nubiq.ContactSearch{Email: "not-an-address"}, "email"},
		{nubiq.ContactSearch{Email: "@nodot"}, "email"},
		{nubiq.ContactSearch{Phone: "555"}, "phone"},
		{nubiq.ContactSearch{Phone: "call me"}, "phone"},
		{nubiq.ContactSearch{Name: "x", Limit: 101}, "limit"},
		{nubiq.ContactSearch{Attributes: map[string]string{" ": "v"}}, "attributes"},
	} {
		_, err := env.Service.Contacts(ctx, ws, tt.p)
		require.Equal(t, nubiq.ECodeInvalid, nubiq.ErrorCode(err), "%+v", tt.p)
		require.Equal(t, tt.field, nubiq.ErrorField(err))
	}
}

func TestContactSearchRanksExactBeforeFuzzy(t *testing.T) {
	env := searchtest.New(t, nil)
	ws := searchtest.Workspace(t, env.DB, "acme")
	jon := searchtest.AddContact(t, env.DB, ws, searchtest.Contact{Name: "Jon Smyth"})
	john := searchtest.AddContact(t, env.DB, ws, searchtest.Contact{Name: "John Smith"})
	env.Sync(t)
	res, err := env.Service.Contacts(context.Background(), ws, nubiq.ContactSearch{Name: "John Smith"})
	require.NoError(t, err)
	require.Equal(t, []int64{john, jon}, contactIDs(res))
	res, err = env.Service.Contacts(context.Background(), ws, nubiq.ContactSearch{Query: "jon smyth"})
	require.NoError(t, err)
	require.Equal(t, []int64{jon}, contactIDs(res), "three-letter words are not matched with typos")
}
