package search

import (
	"cmp"
	"context"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/search/query"

	"github.com/nubiq/hub"
	"github.com/nubiq/hub/postgres"
	"github.com/nubiq/hub/searchindex"
)

// Conversation statuses and priorities, as the schema allows them.
var (
	ConversationStatuses   = []string{"open", "pending", "snoozed", "resolved", "closed"}
	ConversationPriorities = []string{"low", "normal", "high", "urgent"}
)

// Conversation search limits.
const (
	DefaultConversationLimit = 10
	MaxConversationLimit     = 50
	matchesPerConversation   = 3
	conversationDepth        = 300
	subjectBoost             = 2.0
	metadataBoost            = 0.5
)

// Conversations searches message bodies, subjects and conversation metadata, and ranks the
// conversations: each scores its best hit plus a decreasing share of the next ones, so that a
// conversation that matches in several messages edges ahead of one that matches once.
func (s *Service) Conversations(ctx context.Context, workspaceID int64, p nubiq.ConversationSearch) (*nubiq.ConversationSearchResult, error) {
	if err := validateConversationSearch(&p); err != nil {
		return nil, err
	}
	ix := s.cfg.Indexes.Conversations
	m := ix.Mapping()
	out := &nubiq.ConversationSearchResult{Results: []nubiq.ConversationHit{}, IndexRebuilding: ix.Rebuilding()}
	terms := searchindex.Terms(m, searchindex.AnalyzerDefault, p.Query)
	if len(terms) == 0 {
		return out, nil
	}
	match := func(field string, boost float64) query.Query {
		q := query.NewMatchQuery(p.Query)
		q.SetField(field)
		q.SetBoost(boost)
		return q
	}
	text := query.NewDisjunctionQuery([]query.Query{
		match(searchindex.ConvFieldBody, 1), match(searchindex.ConvFieldSubject, subjectBoost), match(searchindex.ConvFieldMeta, metadataBoost),
	})
	q := query.NewConjunctionQuery(append(conversationFilters(workspaceID, &p), text))
	req := bleve.NewSearchRequestOptions(q, conversationDepth, 0, false)
	req.Fields = []string{searchindex.ConvFieldConversation}
	req.SortBy([]string{"-_score", "_id"})
	res, err := ix.Search(ctx, req)
	if err != nil {
		return nil, err
	}

	type conv struct {
		id       int64
		score    float64
		hits     int
		subject  bool
		messages []Hit // ChunkID holds the message id
	}
	byID := map[int64]*conv{}
	var order []*conv
	for _, h := range res.Hits {
		kind, id, err := searchindex.ParseConvDocID(h.ID)
		if err != nil {
			return nil, err
		}
		cs, _ := h.Fields[searchindex.ConvFieldConversation].(string)
		cid, err := strconv.ParseInt(cs, 10, 64)
		if err != nil {
			continue
		}
		c := byID[cid]
		if c == nil {
			c = &conv{id: cid}
			byID[cid] = c
			order = append(order, c)
		}
		// Best hit counts fully, the next ones a half, a quarter...
		c.score += h.Score / float64(int(1)<<min(c.hits, 10))
		c.hits++
		if kind == searchindex.KindConversation {
			c.subject = true
		} else if len(c.messages) < matchesPerConversation+2 {
			c.messages = append(c.messages, Hit{ChunkID: id, DocumentID: cid, Score: h.Score})
		}
	}
	slices.SortStableFunc(order, func(a, b *conv) int {
		if c := cmp.Compare(b.score, a.score); c != 0 {
			return c
		}
		return cmp.Compare(a.id, b.id)
	})
	if len(order) > p.Limit+10 {
		order = order[:p.Limit+10]
	}

	var convIDs, msgIDs []int64
	for _, c := range order {
		convIDs = append(convIDs, c.id)
		for _, h := range c.messages {
			msgIDs = append(msgIDs, h.ChunkID)
		}
	}
	convs, err := s.cfg.DB.SearchConversations(ctx, workspaceID, convIDs)
	if err != nil {
		return nil, err
	}
	msgs, err := s.cfg.DB.SearchMessages(ctx, workspaceID, msgIDs)
	if err != nil {
		return nil, err
	}
	termSet := map[string]bool{}
	for _, t := range terms {
		termSet[t] = true
	}
	for _, c := range order {
		if len(out.Results) == p.Limit {
			break
		}
		row := convs[c.id]
		if row == nil || !conversationPasses(row, &p) {
			continue // gone, or changed since this node indexed it
		}
		hit := nubiq.ConversationHit{
			ID: row.ID, Subject: row.Subject, Status: row.Status, Priority: row.Priority, ChannelID: row.ChannelID,
			ContactID: row.ContactID, AssigneeMemberID: row.AssigneeMemberID, AssigneeTeamID: row.AssigneeTeamID,
			Tags: row.Tags, CreatedAt: row.CreatedAt, UpdatedAt: row.UpdatedAt, LastMessageAt: row.LastMessageAt,
			Score: c.score, Matches: []nubiq.MessageMatch{},
		}
		if hit.Tags == nil {
			hit.Tags = []string{}
		}
		if c.subject {
			hit.SubjectSnippet = Snippet(m, searchindex.AnalyzerDefault, row.Subject, termSet, 500)
		}
		for _, h := range c.messages {
			msg := msgs[h.ChunkID]
			if msg == nil || msg.ConversationID != row.ID || msg.Private && !p.IncludePrivate {
				continue
			}
			if len(hit.Matches) == matchesPerConversation {
				break
			}
			hit.Matches = append(hit.Matches, nubiq.MessageMatch{
				MessageID: msg.ID, AuthorType: msg.AuthorType, Private: msg.Private, CreatedAt: msg.CreatedAt,
				Snippet: Snippet(m, searchindex.AnalyzerDefault, msg.Body, termSet, DefaultSnippetLength), Score: h.Score,
			})
		}
		if len(hit.Matches) == 0 && !c.subject {
			continue // its only matches were notes this caller may not see, or are gone
		}
		out.Results = append(out.Results, hit)
	}
	return out, nil
}

func validateConversationSearch(p *nubiq.ConversationSearch) error {
	p.Query = strings.TrimSpace(p.Query)
	switch {
	case p.Query == "":
		return nubiq.Invalidf("query", "is required: the words to find in messages and subjects")
	case !utf8.ValidString(p.Query):
		return nubiq.Invalidf("query", "must be valid UTF-8 text")
	case utf8.RuneCountInString(p.Query) > MaxQueryLength:
		return nubiq.Invalidf("query", "must be at most %d characters", MaxQueryLength)
	}
	switch {
	case p.Limit == 0:
		p.Limit = DefaultConversationLimit
	case p.Limit < 1 || p.Limit > MaxConversationLimit:
		return nubiq.Invalidf("limit", "must be between 1 and %d, got %d", MaxConversationLimit, p.Limit)
	}
	if p.Status != "" && !slices.Contains(ConversationStatuses, p.Status) {
		return nubiq.Invalidf("status", "must be one of %s, got %q", strings.Join(ConversationStatuses, ", "), p.Status)
	}
	if p.Priority != "" && !slices.Contains(ConversationPriorities, p.Priority) {
		return nubiq.Invalidf("priority", "must be one of %s, got %q", strings.Join(ConversationPriorities, ", "), p.Priority)
	}
	for field, v := range map[string]int64{"channel_id": p.ChannelID, "contact_id": p.ContactID, "assignee_member_id": p.AssigneeMemberID, "assignee_team_id": p.AssigneeTeamID} {
		if v < 0 {
			return nubiq.Invalidf(field, "must be a positive id, got %d", v)
		}
	}
	if p.Unassigned && (p.AssigneeMemberID != 0 || p.AssigneeTeamID != 0) {
		return nubiq.Invalidf("unassigned", "cannot be combined with assignee_member_id or assignee_team_id")
	}
	return nil
}

func conversationFilters(workspaceID int64, p *nubiq.ConversationSearch) []query.Query {
	id := func(v int64) string { return strconv.FormatInt(v, 10) }
	clauses := []query.Query{term(searchindex.ConvFieldWorkspace, id(workspaceID))}
	if !p.IncludePrivate {
		clauses = append(clauses, term(searchindex.ConvFieldPrivate, "false"))
	}
	if p.Status != "" {
		clauses = append(clauses, term(searchindex.ConvFieldStatus, p.Status))
	}
	if p.Priority != "" {
		clauses = append(clauses, term(searchindex.ConvFieldPriority, p.Priority))
	}
	if p.ChannelID != 0 {
		clauses = append(clauses, term(searchindex.ConvFieldChannel, id(p.ChannelID)))
	}
	if p.ContactID != 0 {
		clauses = append(clauses, term(searchindex.ConvFieldContact, id(p.ContactID)))
	}
	if p.AssigneeMemberID != 0 {
		clauses = append(clauses, term(searchindex.ConvFieldMember, id(p.AssigneeMemberID)))
	}
	if p.AssigneeTeamID != 0 {
		clauses = append(clauses, term(searchindex.ConvFieldTeam, id(p.AssigneeTeamID)))
	}
	if p.Unassigned {
		clauses = append(clauses, term(searchindex.ConvFieldMember, "0"), term(searchindex.ConvFieldTeam, "0"))
	}
	if p.Tag != "" {
		clauses = append(clauses, term(searchindex.ConvFieldTag, p.Tag))
	}
	if r := dateRange(searchindex.ConvFieldCreated, p.Created); r != nil {
		clauses = append(clauses, r)
	}
	if r := dateRange(searchindex.ConvFieldUpdated, p.Updated); r != nil {
		clauses = append(clauses, r)
	}
	return clauses
}

// conversationPasses re-checks the filters on the conversation as the database has it now.
func conversationPasses(c *postgres.SearchConversation, p *nubiq.ConversationSearch) bool {
	val := func(v *int64) int64 {
		if v == nil {
			return 0
		}
		return *v
	}
	switch {
	case p.Status != "" && c.Status != p.Status,
		p.Priority != "" && c.Priority != p.Priority,
		p.ChannelID != 0 && val(c.ChannelID) != p.ChannelID,
		p.ContactID != 0 && val(c.ContactID) != p.ContactID,
		p.AssigneeMemberID != 0 && val(c.AssigneeMemberID) != p.AssigneeMemberID,
		p.AssigneeTeamID != 0 && val(c.AssigneeTeamID) != p.AssigneeTeamID,
		p.Unassigned && (c.AssigneeMemberID != nil || c.AssigneeTeamID != nil),
		p.Tag != "" && !slices.Contains(c.Tags, p.Tag),
		!p.Created.From.IsZero() && c.CreatedAt.Before(p.Created.From),
		!p.Created.To.IsZero() && !c.CreatedAt.Before(p.Created.To),
		!p.Updated.From.IsZero() && c.UpdatedAt.Before(p.Updated.From),
		!p.Updated.To.IsZero() && !c.UpdatedAt.Before(p.Updated.To):
		return false
	}
	return true
}
