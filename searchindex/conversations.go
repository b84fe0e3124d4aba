package searchindex

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/blevesearch/bleve/v2/mapping"

	"github.com/nubiq/hub/postgres"
)

// Fields of the conversations index. Each message is a bleve document ("m<id>") and so is
// each conversation ("c<id>", holding its subject and metadata); both carry the
// conversation's filterable fields, so that filters apply inside the index and a ranking is
// never cut short by filtering afterwards.
const (
	ConvFieldWorkspace    = "ws"
	ConvFieldConversation = "conv" // keyword, stored
	ConvFieldKind         = "kind" // "message" or "conversation"
	ConvFieldBody         = "body"
	ConvFieldSubject      = "subject"
	ConvFieldMeta         = "meta"    // metadata values, as text
	ConvFieldPrivate      = "private" // "true" for private notes
	ConvFieldAuthor       = "author"  // author type
	ConvFieldStatus       = "status"
	ConvFieldPriority     = "priority"
	ConvFieldChannel      = "channel" // channel id, "0" when none
	ConvFieldContact      = "contact" // contact id, "0" when none
	ConvFieldMember       = "amember" // assignee member id, "0" when none
	ConvFieldTeam         = "ateam"   // assignee team id, "0" when none
	ConvFieldTag          = "tag"     // one term per tag
	ConvFieldCreated      = "created" // the conversation's created_at
	ConvFieldUpdated      = "updated" // the conversation's updated_at
	KindMessage           = "message" // value of ConvFieldKind
	KindConversation      = "conversation"
)

// ConvFields lists every field of the conversations index that a query may touch.
var ConvFields = []string{ConvFieldWorkspace, ConvFieldConversation, ConvFieldKind, ConvFieldBody, ConvFieldSubject,
	ConvFieldMeta, ConvFieldPrivate, ConvFieldAuthor, ConvFieldStatus, ConvFieldPriority, ConvFieldChannel,
	ConvFieldContact, ConvFieldMember, ConvFieldTeam, ConvFieldTag, ConvFieldCreated, ConvFieldUpdated}

var conversationsSpec = &spec{
	name:    Conversations,
	version: 1,
	kinds:   []string{"message", "conversation"},
	fields:  ConvFields,
	mapping: conversationsMapping(),
	apply:   applyConversations,
	scan:    scanConversations,
}

func conversationsMapping() *mapping.IndexMappingImpl {
	im := newIndexMapping()
	dm := mapping.NewDocumentStaticMapping()
	for _, f := range []string{ConvFieldWorkspace, ConvFieldKind, ConvFieldPrivate, ConvFieldAuthor, ConvFieldStatus,
		ConvFieldPriority, ConvFieldChannel, ConvFieldContact, ConvFieldMember, ConvFieldTeam, ConvFieldTag} {
		dm.AddFieldMappingsAt(f, keywordField(false))
	}
	dm.AddFieldMappingsAt(ConvFieldConversation, keywordField(true))
	dm.AddFieldMappingsAt(ConvFieldBody, textField(AnalyzerDefault))
	dm.AddFieldMappingsAt(ConvFieldSubject, textField(AnalyzerDefault))
	dm.AddFieldMappingsAt(ConvFieldMeta, textField(AnalyzerDefault))
	dm.AddFieldMappingsAt(ConvFieldCreated, dateField())
	dm.AddFieldMappingsAt(ConvFieldUpdated, dateField())
	dm.AddFieldMappingsAt(fieldLens, lensField())
	im.DefaultMapping = dm
	return im
}

// MessageDocID and ConversationDocID name the bleve documents of the conversations index.
func MessageDocID(id int64) string      { return "m" + strconv.FormatInt(id, 10) }
func ConversationDocID(id int64) string { return "c" + strconv.FormatInt(id, 10) }

// ParseConvDocID splits a conversations-index hit id into its kind and row id.
func ParseConvDocID(s string) (kind string, id int64, err error) {
	if len(s) < 2 {
		return "", 0, fmt.Errorf("bad id %q in conversations index", s)
	}
	id, err = strconv.ParseInt(s[1:], 10, 64)
	if err != nil {
		return "", 0, fmt.Errorf("bad id %q in conversations index", s)
	}
	switch s[0] {
	case 'm':
		return KindMessage, id, nil
	case 'c':
		return KindConversation, id, nil
	}
	return "", 0, fmt.Errorf("bad id %q in conversations index", s)
}

func id10(id int64) string { return strconv.FormatInt(id, 10) }

// conversationFields are the fields every document of a conversation carries.
func conversationFields(c *postgres.IndexConversation) map[string]any {
	doc := map[string]any{
		ConvFieldWorkspace:    id10(c.WorkspaceID),
		ConvFieldConversation: id10(c.ID),
		ConvFieldStatus:       c.Status,
		ConvFieldPriority:     c.Priority,
		ConvFieldChannel:      id10(c.ChannelID),
		ConvFieldContact:      id10(c.ContactID),
		ConvFieldMember:       id10(c.AssigneeMemberID),
		ConvFieldTeam:         id10(c.AssigneeTeamID),
		ConvFieldCreated:      c.CreatedAt,
		ConvFieldUpdated:      c.UpdatedAt,
	}
	if len(c.Tags) > 0 {
		doc[ConvFieldTag] = c.Tags
	}
	return doc
}

// metadataText flattens metadata values into text ("order 1234 plan gold"), so that an order
// number kept in a conversation's metadata finds it.
func metadataText(meta map[string]any) string {
	keys := make([]string, 0, len(meta))
	for k := range meta {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var sb strings.Builder
	for _, k := range keys {
		for _, t := range MetadataTerms(map[string]any{k: meta[k]}) {
			_, v, _ := strings.Cut(t, "=")
			sb.WriteString(v)
			sb.WriteByte('\n')
		}
	}
	return sb.String()
}

func putConversation(w *writer, c *postgres.IndexConversation) error {
	doc := conversationFields(c)
	doc[ConvFieldKind] = KindConversation
	doc[ConvFieldPrivate] = "false"
	doc[ConvFieldSubject] = c.Subject
	meta := metadataText(c.Metadata)
	doc[ConvFieldMeta] = meta
	m := w.ix.spec.mapping
	lens := map[string]int{
		ConvFieldSubject: tokenCount(m, AnalyzerDefault, c.Subject),
		ConvFieldMeta:    tokenCount(m, AnalyzerDefault, meta),
	}
	return w.put(ConversationDocID(c.ID), doc, lens)
}

func putMessage(w *writer, c *postgres.IndexConversation, msg *postgres.IndexMessage) error {
	doc := conversationFields(c)
	doc[ConvFieldKind] = KindMessage
	doc[ConvFieldPrivate] = strconv.FormatBool(msg.Private)
	doc[ConvFieldAuthor] = msg.AuthorType
	doc[ConvFieldBody] = msg.Body
	lens := map[string]int{ConvFieldBody: tokenCount(w.ix.spec.mapping, AnalyzerDefault, msg.Body)}
	return w.put(MessageDocID(msg.ID), doc, lens)
}

func applyConversations(ctx context.Context, w *writer, entries []postgres.IndexLogEntry) error {
	db := w.ix.cfg.DB
	for ws, list := range groupByWorkspace(entries) {
		var msgUp, convIDs []int64
		for _, e := range list {
			switch {
			case e.Kind == "message" && e.Op == "upsert":
				msgUp = append(msgUp, e.EntityID)
			case e.Kind == "message":
				if err := w.delete(MessageDocID(e.EntityID)); err != nil {
					return err
				}
			case e.Kind == "conversation":
				convIDs = append(convIDs, e.EntityID)
			}
		}
		if len(msgUp) > 0 {
			msgs, err := db.IndexMessages(ctx, ws, msgUp)
			if err != nil {
				return err
			}
			var parents []int64
			for _, m := range msgs {
				parents = append(parents, m.ConversationID)
			}
			convs, err := db.IndexConversations(ctx, ws, parents)
			if err != nil {
				return err
			}
			byID := map[int64]*postgres.IndexConversation{}
			for i := range convs {
				byID[convs[i].ID] = &convs[i]
			}
			found := map[int64]bool{}
			for i := range msgs {
				if c := byID[msgs[i].ConversationID]; c != nil {
					found[msgs[i].ID] = true
					if err := putMessage(w, c, &msgs[i]); err != nil {
						return err
					}
				}
			}
			for _, id := range msgUp {
				if !found[id] {
					if err := w.delete(MessageDocID(id)); err != nil {
						return err
					}
				}
			}
		}
		if len(convIDs) > 0 {
			if err := reloadConversations(ctx, w, ws, convIDs); err != nil {
				return err
			}
		}
	}
	return nil
}

// reloadConversations makes the index hold exactly the conversations' current state: a status
// or assignee change touches every message's filter fields.
func reloadConversations(ctx context.Context, w *writer, ws int64, ids []int64) error {
	db := w.ix.cfg.DB
	if err := w.flush(); err != nil {
		return err
	}
	convs, err := db.IndexConversations(ctx, ws, ids)
	if err != nil {
		return err
	}
	msgs, err := db.IndexConversationMessages(ctx, ws, ids)
	if err != nil {
		return err
	}
	byID := map[int64]*postgres.IndexConversation{}
	current := map[string]bool{}
	for i := range convs {
		byID[convs[i].ID] = &convs[i]
		current[ConversationDocID(convs[i].ID)] = true
	}
	for i := range msgs {
		if byID[msgs[i].ConversationID] != nil {
			current[MessageDocID(msgs[i].ID)] = true
		}
	}
	for _, id := range ids {
		indexed, err := w.idsWhere(ctx, ConvFieldConversation, id10(id))
		if err != nil {
			return err
		}
		for _, d := range indexed {
			if !current[d] {
				if err := w.delete(d); err != nil {
					return err
				}
			}
		}
	}
	for i := range convs {
		if err := putConversation(w, &convs[i]); err != nil {
			return err
		}
	}
	for i := range msgs {
		if c := byID[msgs[i].ConversationID]; c != nil {
			if err := putMessage(w, c, &msgs[i]); err != nil {
				return err
			}
		}
	}
	return nil
}

func scanConversations(ctx context.Context, w *writer, ws int64) error {
	db := w.ix.cfg.DB
	const size = 200
	return scanPages(ctx, size, func(after int64) (int64, int, error) {
		convs, err := db.IndexConversationsPage(ctx, ws, after, size)
		if err != nil || len(convs) == 0 {
			return after, 0, err
		}
		ids := make([]int64, len(convs))
		byID := map[int64]*postgres.IndexConversation{}
		for i := range convs {
			ids[i] = convs[i].ID
			byID[convs[i].ID] = &convs[i]
			if err := putConversation(w, &convs[i]); err != nil {
				return 0, 0, err
			}
		}
		msgs, err := db.IndexConversationMessages(ctx, ws, ids)
		if err != nil {
			return 0, 0, err
		}
		for i := range msgs {
			if err := putMessage(w, byID[msgs[i].ConversationID], &msgs[i]); err != nil {
				return 0, 0, err
			}
		}
		return convs[len(convs)-1].ID, len(convs), nil
	})
}
