package mcp

import (
	"context"
	"strings"
	"unicode/utf8"

	"github.com/nubiq/hub"
)

func contactTools(d *Deps) []*Tool {
	return []*Tool{
		NewTool(ToolSpec{Name: "contacts.list", Title: "List contacts", Scope: nubiq.ScopeContactsRead, ReadOnly: true,
			Description: "List contact profiles, newest first. Filter by company, created range and whether they have an email or phone. Returns a page and next_cursor."},
			d.listContacts),
		NewTool(ToolSpec{Name: "contacts.get", Title: "Get a contact", Scope: nubiq.ScopeContactsRead, ReadOnly: true,
			Description: "Get one contact by id with custom attributes, recent conversations and open tickets."},
			d.getContact),
	}
}

type listContactsIn struct {
	Company     string `json:"company,omitempty" jsonschema:"only contacts of this company; the whole name, compared ignoring case"`
	CreatedFrom string `json:"created_from,omitempty" jsonschema:"only contacts created at or after this RFC 3339 time"`
	CreatedTo   string `json:"created_to,omitempty" jsonschema:"only contacts created before this RFC 3339 time"`
	HasEmail    *bool  `json:"has_email,omitempty" jsonschema:"true: only contacts with an email address; false: only those without"`
	HasPhone    *bool  `json:"has_phone,omitempty" jsonschema:"true: only contacts with a phone number; false: only those without"`
	Limit       int    `json:"limit,omitempty" jsonschema:"page size, 1 to 100; default 20"`
	Cursor      string `json:"cursor,omitempty" jsonschema:"next_cursor of the previous page, unchanged; omit for the first page"`
}

type listContactsOut struct {
	Contacts   []*nubiq.Contact `json:"contacts"`
	NextCursor string           `json:"next_cursor" jsonschema:"pass as cursor to get the next page; empty when this is the last page"`
}

func (d *Deps) listContacts(ctx context.Context, in listContactsIn) (listContactsOut, error) {
	var out listContactsOut
	if d.DB == nil {
		return out, errNotAvailable("contacts.list")
	}
	caller := nubiq.CallerFromContext(ctx)
	f := nubiq.ContactFilter{Company: strings.TrimSpace(in.Company), HasEmail: in.HasEmail, HasPhone: in.HasPhone}
	if utf8.RuneCountInString(f.Company) > 200 {
		return out, nubiq.Invalidf("company", "must be at most 200 characters")
	}
	var err error
	if f.Created, err = nubiq.ParseTimeRange("created_from", in.CreatedFrom, "created_to", in.CreatedTo); err != nil {
		return out, err
	}
	if f.Limit, err = nubiq.PageLimit(in.Limit); err != nil {
		return out, err
	}
	if f.After, err = nubiq.DecodeCursor(nubiq.ContactCursorKind, in.Cursor); err != nil {
		return out, err
	}
	out.Contacts, out.NextCursor, err = d.DB.ListContacts(ctx, caller.WorkspaceID, f)
	return out, err
}

type getContactIn struct {
	ID int64 `json:"id" jsonschema:"the contact's id, as returned by contacts.list or contacts.search"`
}

func (d *Deps) getContact(ctx context.Context, in getContactIn) (nubiq.ContactDetail, error) {
	if d.DB == nil {
		return nubiq.ContactDetail{}, errNotAvailable("contacts.get")
	}
	if in.ID <= 0 {
		return nubiq.ContactDetail{}, nubiq.Invalidf("id", "must be a positive contact id, got %d", in.ID)
	}
	c, err := d.DB.ContactDetail(ctx, nubiq.CallerFromContext(ctx).WorkspaceID, in.ID)
	if err != nil {
		return nubiq.ContactDetail{}, err
	}
	return *c, nil
}
