package mcp

import (
	"context"
	"strconv"
	"strings"

	"github.com/nubiq/hub"
)

// The search tools: documents.search, conversations.search and contacts.search, and the
// search/fetch pair in the shape ChatGPT connectors and deep-research clients call.

// Result limits of the search tools.
const (
	documentSearchMaxLimit = 50
	// searchToolLimit is how many documents the connector-style search tool returns.
	searchToolLimit = 10
)

func searchTools(d *Deps) []*Tool {
	return []*Tool{
		NewTool(ToolSpec{Name: "documents.search", Title: "Search the knowledge base", Scope: nubiq.ScopeDocumentsRead, ReadOnly: true,
			Description: "Search the knowledge base. mode=hybrid (default) fuses keyword (BM25) and semantic (vector) ranking; " +
				"keyword or semantic alone are available. Returns the best passages, one per document unless chunks=true, with " +
				"document id, title, source URL, heading path, a snippet with matched words marked **like this**, a score and " +
				"which rankings found it; the response names the embedder behind the semantic side. Filter by document ids, " +
				"metadata, MIME type and updated time. Use this to answer questions from help-center articles; read a whole " +
				"document with fetch."},
			d.documentsSearch).Enum("mode", nubiq.SearchModes...),
		NewTool(ToolSpec{Name: "conversations.search", Title: "Search conversations", Scope: nubiq.ScopeConversationsRead, ReadOnly: true,
			Description: "Full-text search across conversation messages and subjects (and conversation metadata), with the " +
				"filters of conversations.list: status, channel, assignee (agent, team or unassigned), contact, tag, priority and " +
				"created/updated time ranges. Returns conversations ranked by relevance, each with up to three matching " +
				"message snippets (matched words marked **like this**). Private notes are searched only with " +
				"include_private=true, which needs a key with conversations:write."},
			d.conversationsSearch).Enum("status", nubiq.ConversationStatuses...).Enum("priority", nubiq.Priorities...),
		NewTool(ToolSpec{Name: "contacts.search", Title: "Search contacts", Scope: nubiq.ScopeContactsRead, ReadOnly: true,
			Description: "Find contacts by email (an exact address, or a domain written @example.com), phone (any format; " +
				"matches with or without country code), name (tolerant to case, accents and small typos), company or custom " +
				"attribute values, or a free query across all of them. Given fields must all match. Returns contacts ranked " +
				"by relevance."},
			d.contactsSearch),
		NewTool(ToolSpec{Name: "search", Title: "Search (connector)", Scope: nubiq.ScopeDocumentsRead, ReadOnly: true,
			Description: "Search the knowledge base and return matching documents as {results: [{id, title, url}]}, for " +
				"ChatGPT connectors and deep-research clients. Pass an id to fetch for the full text. documents.search " +
				"gives passages, snippets and filters."},
			d.connectorSearch),
		NewTool(ToolSpec{Name: "fetch", Title: "Fetch a document (connector)", Scope: nubiq.ScopeDocumentsRead, ReadOnly: true,
			Description: "Fetch a knowledge-base document's full text by the id that search (or a document_id that " +
				"documents.search) returned: {id, title, text, url, metadata}."},
			d.connectorFetch),
	}
}

func (d *Deps) searchReady() error {
	if d.Search == nil {
		return nubiq.Errorf(nubiq.ECodeUnavailable, "search is not running on this server")
	}
	return nil
}

type documentsSearchIn struct {
	Query       string            `json:"query" jsonschema:"the question or words to search for"`
	Mode        string            `json:"mode,omitempty" jsonschema:"hybrid (default): keyword and semantic fused; keyword: BM25 only; semantic: vectors only"`
	Limit       int               `json:"limit,omitempty" jsonschema:"number of results, 1 to 50 (default 10)"`
	Chunks      bool              `json:"chunks,omitempty" jsonschema:"return every matching passage instead of the best one per document"`
	DocumentIDs []int64           `json:"document_ids,omitempty" jsonschema:"search only these documents"`
	Metadata    map[string]string `json:"metadata,omitempty" jsonschema:"only documents whose metadata has each of these key/value pairs"`
	MimeType    string            `json:"mime_type,omitempty" jsonschema:"only documents of this MIME type, e.g. text/markdown"`
	UpdatedFrom string            `json:"updated_from,omitempty" jsonschema:"only documents updated at or after this RFC 3339 time"`
	UpdatedTo   string            `json:"updated_to,omitempty" jsonschema:"only documents updated before this RFC 3339 time"`
}

func (d *Deps) documentsSearch(ctx context.Context, in documentsSearchIn) (*nubiq.DocumentSearchResult, error) {
	if err := d.searchReady(); err != nil {
		return nil, err
	}
	if in.Limit < 0 || in.Limit > documentSearchMaxLimit {
		return nil, nubiq.Invalidf("limit", "must be between 1 and %d, got %d", documentSearchMaxLimit, in.Limit)
	}
	updated, err := nubiq.ParseTimeRange("updated_from", in.UpdatedFrom, "updated_to", in.UpdatedTo)
	if err != nil {
		return nil, err
	}
	caller := nubiq.CallerFromContext(ctx)
	return d.Search.Documents(ctx, caller.WorkspaceID, nubiq.DocumentSearch{
		Query: in.Query, Mode: in.Mode, Limit: in.Limit, Chunks: in.Chunks, DocumentIDs: in.DocumentIDs,
		Metadata: in.Metadata, MimeType: in.MimeType, Updated: updated,
	})
}

type conversationsSearchIn struct {
	Query          string `json:"query" jsonschema:"words to find in message bodies, subjects and conversation metadata"`
	Limit          int    `json:"limit,omitempty" jsonschema:"number of conversations, 1 to 50; default 10"`
	IncludePrivate bool   `json:"include_private,omitempty" jsonschema:"also search private notes (needs a key with conversations:write)"`
	conversationFilterIn
}

func (d *Deps) conversationsSearch(ctx context.Context, in conversationsSearchIn) (*nubiq.ConversationSearchResult, error) {
	if err := d.searchReady(); err != nil {
		return nil, err
	}
	caller := nubiq.CallerFromContext(ctx)
	// Private notes are the team's internal remarks. A read-only key (a customer-facing
	// assistant, say) must not surface them in answers; a key that may act on conversations
	// belongs to the team.
	if in.IncludePrivate && !caller.Has(nubiq.ScopeConversationsWrite) {
		return nil, nubiq.Errorf(nubiq.ECodeForbidden, "include_private needs a key with scope %s; this key may search public messages only", nubiq.ScopeConversationsWrite)
	}
	f, err := in.filter()
	if err != nil {
		return nil, err
	}
	return d.Search.Conversations(ctx, caller.WorkspaceID, nubiq.ConversationSearch{
		Query: in.Query, Limit: in.Limit, IncludePrivate: in.IncludePrivate, Filter: f,
	})
}

type contactsSearchIn struct {
	Query      string            `json:"query,omitempty" jsonschema:"free text matched against names, companies, emails, phones, external ids and attribute values"`
	Email      string            `json:"email,omitempty" jsonschema:"an exact address (any case) or a domain written @example.com (subdomains included)"`
	Phone      string            `json:"phone,omitempty" jsonschema:"a phone number in any format, e.g. +1 415 555 0123 or (415) 555-0123"`
	Name       string            `json:"name,omitempty" jsonschema:"a name or part of one; case, accents and small typos do not matter"`
	Company    string            `json:"company,omitempty" jsonschema:"a company name or part of one"`
	Attributes map[string]string `json:"attributes,omitempty" jsonschema:"custom attributes that must have these values (any case)"`
	Limit      int               `json:"limit,omitempty" jsonschema:"number of contacts, 1 to 100 (default 20)"`
}

func (d *Deps) contactsSearch(ctx context.Context, in contactsSearchIn) (*nubiq.ContactSearchResult, error) {
	if err := d.searchReady(); err != nil {
		return nil, err
	}
	return d.Search.Contacts(ctx, nubiq.CallerFromContext(ctx).WorkspaceID, nubiq.ContactSearch{
		Query: in.Query, Email: in.Email, Phone: in.Phone, Name: in.Name, Company: in.Company, Attributes: in.Attributes, Limit: in.Limit,
	})
}

type connectorSearchIn struct {
	Query string `json:"query" jsonschema:"the question or words to search for"`
}

type connectorResult struct {
	ID    string `json:"id" jsonschema:"document id, for fetch"`
	Title string `json:"title"`
	URL   string `json:"url" jsonschema:"the document's source URL, or a nubiq:// URL naming it when it has none"`
}

type connectorSearchOut struct {
	Results []connectorResult `json:"results"`
}

// documentURL is where a document is cited from: its source URL, or a URL that names it in
// this workspace when it has none (connectors require a URL on every result).
func documentURL(id int64, source string) string {
	if source != "" {
		return source
	}
	return "nubiq://documents/" + strconv.FormatInt(id, 10)
}

func (d *Deps) connectorSearch(ctx context.Context, in connectorSearchIn) (*connectorSearchOut, error) {
	if err := d.searchReady(); err != nil {
		return nil, err
	}
	res, err := d.Search.Documents(ctx, nubiq.CallerFromContext(ctx).WorkspaceID, nubiq.DocumentSearch{Query: in.Query, Limit: searchToolLimit})
	if err != nil {
		return nil, err
	}
	out := &connectorSearchOut{Results: make([]connectorResult, 0, len(res.Results))}
	for _, h := range res.Results {
		out.Results = append(out.Results, connectorResult{ID: strconv.FormatInt(h.DocumentID, 10), Title: h.Title, URL: documentURL(h.DocumentID, h.SourceURL)})
	}
	return out, nil
}

type connectorFetchIn struct {
	ID string `json:"id" jsonschema:"a document id from search"`
}

type connectorFetchOut struct {
	ID       string         `json:"id"`
	Title    string         `json:"title"`
	Text     string         `json:"text"`
	URL      string         `json:"url"`
	Metadata map[string]any `json:"metadata"`
}

func (d *Deps) connectorFetch(ctx context.Context, in connectorFetchIn) (*connectorFetchOut, error) {
	if d.DB == nil {
		return nil, errNotAvailable("fetch")
	}
	id, err := strconv.ParseInt(strings.TrimSpace(in.ID), 10, 64)
	if err != nil || id <= 0 {
		return nil, nubiq.Invalidf("id", "must be a document id as returned by search, got %q", in.ID)
	}
	doc, err := d.DB.FetchDocument(ctx, nubiq.CallerFromContext(ctx).WorkspaceID, id)
	if err != nil {
		return nil, err
	}
	meta := map[string]any{"document_metadata": doc.Metadata}
	if doc.Metadata == nil {
		meta["document_metadata"] = map[string]any{}
	}
	meta["mime_type"] = doc.MimeType
	meta["status"] = doc.Status
	meta["version"] = doc.Version
	meta["updated_at"] = doc.UpdatedAt
	if doc.Language != "" {
		meta["language"] = doc.Language
	}
	if doc.SourceURL != "" {
		meta["source_url"] = doc.SourceURL
	}
	return &connectorFetchOut{ID: strconv.FormatInt(doc.ID, 10), Title: doc.Title, Text: doc.Text, URL: documentURL(doc.ID, doc.SourceURL), Metadata: meta}, nil
}
