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
	"github.com/nubiq/hub/searchindex"
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
	f := &p.Filter
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
	convs, err := s.cfg.DB.ConversationsByID(ctx, workspaceID, convIDs)
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
		if row == nil || !conversationPasses(row, f) {
			continue // gone, or changed since this node indexed it
		}
		hit := nubiq.ConversationHit{Conversation: *row, Score: c.score, Matches: []nubiq.MessageMatch{}}
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
	f := &p.Filter
	if err := nubiq.CheckEnum("status", f.Status, nubiq.ConversationStatuses); err != nil {
		return err
	}
	if err := nubiq.CheckEnum("priority", f.Priority, nubiq.Priorities); err != nil {
		return err
	}
	if f.ChannelID != 0 {
		if err := nubiq.CheckID("channel_id", f.ChannelID); err != nil {
			return err
		}
	}
	if f.ContactID != 0 {
		if err := nubiq.CheckID("contact_id", f.ContactID); err != nil {
			return err
		}
	}
	if f.Tag != "" {
		t, err := nubiq.NormalizeTag("tag", f.Tag)
		if err != nil {
			return err
		}
		f.Tag = t
	}
	return nil
}

func conversationFilters(workspaceID int64, p *nubiq.ConversationSearch) []query.Query {
	id := func(v int64) string { return strconv.FormatInt(v, 10) }
	f := &p.Filter
	clauses := []query.Query{term(searchindex.ConvFieldWorkspace, id(workspaceID))}
	if !p.IncludePrivate {
		clauses = append(clauses, term(searchindex.ConvFieldPrivate, "false"))
	}
	if f.Status != "" {
		clauses = append(clauses, term(searchindex.ConvFieldStatus, f.Status))
	}
	if f.Priority != "" {
		clauses = append(clauses, term(searchindex.ConvFieldPriority, f.Priority))
	}
	if f.ChannelID != 0 {
		clauses = append(clauses, term(searchindex.ConvFieldChannel, id(f.ChannelID)))
	}
	if f.ContactID != 0 {
		clauses = append(clauses, term(searchindex.ConvFieldContact, id(f.ContactID)))
	}
	switch f.Assignee.Kind {
	case nubiq.AssigneeMember:
		clauses = append(clauses, term(searchindex.ConvFieldMember, id(f.Assignee.ID)))
	case nubiq.AssigneeTeam:
		clauses = append(clauses, term(searchindex.ConvFieldTeam, id(f.Assignee.ID)))
	case nubiq.AssigneeUnassigned:
		clauses = append(clauses, term(searchindex.ConvFieldMember, "0"), term(searchindex.ConvFieldTeam, "0"))
	}
	if f.Tag != "" {
		clauses = append(clauses, term(searchindex.ConvFieldTag, f.Tag))
	}
	if r := dateRange(searchindex.ConvFieldCreated, f.Created); r != nil {
		clauses = append(clauses, r)
	}
	if r := dateRange(searchindex.ConvFieldUpdated, f.Updated); r != nil {
		clauses = append(clauses, r)
	}
	return clauses
}

// conversationPasses re-checks the filters on the conversation as the database has it now.
func conversationPasses(c *nubiq.Conversation, f *nubiq.ConversationFilter) bool {
	var channel, contact, member, team int64
	if c.Channel != nil {
		channel = c.Channel.ID
	}
	if c.Contact != nil {
		contact = c.Contact.ID
	}
	if c.AssigneeMember != nil {
		member = c.AssigneeMember.ID
	}
	if c.AssigneeTeam != nil {
		team = c.AssigneeTeam.ID
	}
	switch {
	case f.Status != "" && c.Status != f.Status,
		f.Priority != "" && c.Priority != f.Priority,
		f.ChannelID != 0 && channel != f.ChannelID,
		f.ContactID != 0 && contact != f.ContactID,
		f.Assignee.Kind == nubiq.AssigneeMember && member != f.Assignee.ID,
		f.Assignee.Kind == nubiq.AssigneeTeam && team != f.Assignee.ID,
		f.Assignee.Kind == nubiq.AssigneeUnassigned && (member != 0 || team != 0),
		f.Tag != "" && !slices.Contains(c.Tags, f.Tag),
		!f.Created.From.IsZero() && c.CreatedAt.Before(f.Created.From),
		!f.Created.To.IsZero() && !c.CreatedAt.Before(f.Created.To),
		!f.Updated.From.IsZero() && c.UpdatedAt.Before(f.Updated.From),
		!f.Updated.To.IsZero() && !c.UpdatedAt.Before(f.Updated.To):
		return false
	}
	return true
}
