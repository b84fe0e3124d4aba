package nubiq

import "time"

// Search modes of documents.search.
const (
	SearchHybrid   = "hybrid"
	SearchKeyword  = "keyword"
	SearchSemantic = "semantic"
)

// SearchModes lists the modes, default first.
var SearchModes = []string{SearchHybrid, SearchKeyword, SearchSemantic}

// Markers around matched words in search snippets ("**install**"), as in Markdown bold.
const (
	SnippetMarkOpen  = "**"
	SnippetMarkClose = "**"
)

// DocumentSearch is a knowledge-base query.
type DocumentSearch struct {
	Query string
	Mode  string // SearchHybrid (default), SearchKeyword or SearchSemantic
	Limit int
	// Chunks returns every matching passage instead of one (the best) per document.
	Chunks      bool
	DocumentIDs []int64
	// Metadata filters on document metadata: every key must hold the value.
	Metadata map[string]string
	MimeType string
	Updated  TimeRange
}

// DocumentSearchResult is what documents.search returns.
type DocumentSearchResult struct {
	Results []DocumentHit `json:"results"`
	Mode    string        `json:"mode"`
	// Embedder names the embedding model that served the semantic side ("" in keyword mode).
	Embedder string `json:"embedder,omitempty"`
	// IndexRebuilding is true while this node's keyword index is being rebuilt from the
	// database: keyword results may be incomplete until it is false again.
	IndexRebuilding bool `json:"index_rebuilding"`
}

// DocumentHit is one passage found by documents.search.
type DocumentHit struct {
	DocumentID  int64          `json:"document_id"`
	Title       string         `json:"title"`
	SourceURL   string         `json:"source_url"`
	MimeType    string         `json:"mime_type"`
	Metadata    map[string]any `json:"metadata"`
	UpdatedAt   time.Time      `json:"updated_at"`
	ChunkID     int64          `json:"chunk_id"`
	ChunkIndex  int            `json:"chunk_index"`
	HeadingPath []string       `json:"heading_path"`
	// Snippet is an excerpt of the passage with matched words marked **like this**.
	Snippet string  `json:"snippet"`
	Score   float64 `json:"score"`
	// FoundBy lists the rankings that found the passage: "keyword", "semantic" or both.
	FoundBy []string `json:"found_by"`
}

// ConversationSearch is a full-text query over conversations, with the filters of
// conversations.list (Filter.Limit and Filter.After are not used).
type ConversationSearch struct {
	Query string
	Limit int
	// IncludePrivate lets private notes match and appear as snippets.
	IncludePrivate bool
	Filter         ConversationFilter
}

// ConversationSearchResult is what conversations.search returns.
type ConversationSearchResult struct {
	Results []ConversationHit `json:"results"`
	// IndexRebuilding is true while this node's conversation index is being rebuilt from
	// the database: results may be incomplete until it is false again.
	IndexRebuilding bool `json:"index_rebuilding"`
}

// ConversationHit is a conversation found by conversations.search.
type ConversationHit struct {
	Conversation Conversation `json:"conversation"`
	Score        float64      `json:"score"`
	// SubjectSnippet is the subject with matched words marked, when the subject matched.
	SubjectSnippet string `json:"subject_snippet,omitempty"`
	// Matches are the best-matching messages, best first (at most three).
	Matches []MessageMatch `json:"matches"`
}

// MessageMatch is a message that matched a conversation search.
type MessageMatch struct {
	MessageID  int64     `json:"message_id"`
	AuthorType string    `json:"author_type"`
	Private    bool      `json:"private"`
	CreatedAt  time.Time `json:"created_at"`
	Snippet    string    `json:"snippet"`
	Score      float64   `json:"score"`
}

// ContactSearch finds contacts by field or by a free query. Given fields must all match.
type ContactSearch struct {
	Query string
	// Email is a whole address (exact, any case) or a domain written "@example.com", which
	// also matches its subdomains.
	Email string
	// Phone is a number in any common format; it matches the same number stored with or
	// without country code.
	Phone string
	// Name tolerates case, accents and small typos.
	Name    string
	Company string
	// Attributes filters on custom attributes: every key must hold the value (any case).
	Attributes map[string]string
	Limit      int
}

// ContactSearchResult is what contacts.search returns.
type ContactSearchResult struct {
	Results         []ContactHit `json:"results"`
	IndexRebuilding bool         `json:"index_rebuilding"`
}

// ContactHit is a contact found by contacts.search.
type ContactHit struct {
	Contact Contact `json:"contact"`
	Score   float64 `json:"score"`
}
