package importer

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/nubiq/hub"
	"github.com/nubiq/hub/postgres"
)

// flexString is a JSON string that also accepts a number (exports often carry numeric ids).
type flexString string

func (f *flexString) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if string(b) == "null" {
		*f = ""
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*f = flexString(strings.TrimSpace(s))
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err == nil {
		*f = flexString(n.String())
		return nil
	}
	// A type error, unlike any other error of an Unmarshaler, gets the field's name from the
	// decoder, so the report says which field.
	return &json.UnmarshalTypeError{Value: jsonValueKind(b), Type: reflect.TypeFor[string]()}
}

func jsonValueKind(b []byte) string {
	switch {
	case len(b) == 0:
		return "value"
	case b[0] == '{':
		return "object"
	case b[0] == '[':
		return "array"
	case b[0] == 't' || b[0] == 'f':
		return "bool"
	}
	return "value"
}

type contactRefJSON struct {
	ExternalID flexString `json:"external_id"`
	Email      string     `json:"email"`
	Name       string     `json:"name"`
	Phone      string     `json:"phone"`
	Company    string     `json:"company"`
}

type messageJSON struct {
	ExternalID  flexString `json:"external_id"`
	AuthorType  string     `json:"author_type"`
	AuthorEmail string     `json:"author_email"`
	Body        string     `json:"body"`
	Private     bool       `json:"private"`
	CreatedAt   string     `json:"created_at"`
}

type ratingJSON struct {
	Score     int    `json:"score"`
	Comment   string `json:"comment"`
	CreatedAt string `json:"created_at"`
}

type conversationJSON struct {
	ExternalID      flexString      `json:"external_id"`
	Subject         string          `json:"subject"`
	Status          string          `json:"status"`
	Priority        string          `json:"priority"`
	Channel         string          `json:"channel"`
	Contact         *contactRefJSON `json:"contact"`
	AssigneeEmail   string          `json:"assignee_email"`
	AssigneeTeam    string          `json:"assignee_team"`
	Tags            []string        `json:"tags"`
	CreatedAt       string          `json:"created_at"`
	UpdatedAt       string          `json:"updated_at"`
	FirstResponseAt string          `json:"first_response_at"`
	ResolvedAt      string          `json:"resolved_at"`
	ClosedAt        string          `json:"closed_at"`
	Messages        []messageJSON   `json:"messages"`
	Rating          *ratingJSON     `json:"rating"`
}

type ticketJSON struct {
	ExternalID             flexString      `json:"external_id"`
	Subject                string          `json:"subject"`
	Description            string          `json:"description"`
	Status                 string          `json:"status"`
	Priority               string          `json:"priority"`
	Contact                *contactRefJSON `json:"contact"`
	ConversationExternalID flexString      `json:"conversation_external_id"`
	AssigneeEmail          string          `json:"assignee_email"`
	Tags                   []string        `json:"tags"`
	CustomFields           map[string]any  `json:"custom_fields"`
	Resolution             string          `json:"resolution"`
	CreatedAt              string          `json:"created_at"`
	UpdatedAt              string          `json:"updated_at"`
	ClosedAt               string          `json:"closed_at"`
}

var (
	conversationStatuses = []string{"open", "pending", "snoozed", "resolved", "closed"}
	ticketStatuses       = []string{"open", "pending", "on_hold", "solved", "closed"}
	priorities           = []string{"low", "normal", "high", "urgent"}
	authorTypes          = []string{"contact", "agent", "bot", "system"}
)

// decodeStrict decodes one JSON object, refusing unknown fields (a misspelt field would
// otherwise vanish silently) and trailing data.
func decodeStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return fmt.Errorf("%s: must be %s, got JSON %s", te.Field, jsonKind(te.Type.Kind().String()), te.Value)
		}
		if strings.HasPrefix(err.Error(), "json: unknown field ") {
			return fmt.Errorf("unknown field %s", strings.TrimPrefix(err.Error(), "json: unknown field "))
		}
		return fmt.Errorf("invalid JSON: %w", jsonErr(err))
	}
	if dec.More() {
		return errors.New("more than one JSON value on the line")
	}
	return nil
}

func jsonKind(k string) string {
	switch k {
	case "string":
		return "a string"
	case "int", "int64", "int32", "float64":
		return "a number"
	case "bool":
		return "true or false"
	case "slice":
		return "an array"
	case "map", "struct", "ptr":
		return "an object"
	}
	return k
}

func enum(field, v, def string, allowed []string) (string, error) {
	v = strings.ToLower(strings.TrimSpace(v))
	if v == "" {
		return def, nil
	}
	if !slices.Contains(allowed, v) {
		return "", fmt.Errorf("%s: %q is not one of %s", field, v, strings.Join(allowed, ", "))
	}
	return v, nil
}

// timestamp parses an optional RFC 3339 time, truncated to the microseconds PostgreSQL keeps
// (so that a re-import compares equal).
func timestamp(field, s string) (time.Time, error) {
	t, err := nubiq.ParseTime(field, strings.TrimSpace(s))
	if err != nil {
		return t, errors.New(nubiq.ErrorMessage(err))
	}
	return t.Truncate(time.Microsecond), nil
}

func timep(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// cleanTags normalises tags as the conversation and ticket tools do (trimmed, lower case,
// deduplicated, within the limits); blank tags, common in exports, are dropped.
func cleanTags(field string, tags []string) ([]string, error) {
	kept := make([]string, 0, len(tags))
	for _, t := range tags {
		if strings.TrimSpace(t) != "" {
			kept = append(kept, t)
		}
	}
	out, err := nubiq.NormalizeTags(field, kept)
	if err != nil {
		return nil, errors.New(nubiq.ErrorMessage(err))
	}
	if err := checkText(field, strings.Join(out, ","), 0); err != nil {
		return nil, err
	}
	return out, nil
}

func contactRef(field string, c *contactRefJSON) (*postgres.ImportContactRef, error) {
	if c == nil {
		return nil, nil
	}
	r := &postgres.ImportContactRef{
		ExternalID: string(c.ExternalID), Email: strings.TrimSpace(c.Email), Name: strings.TrimSpace(c.Name),
		Phone: strings.TrimSpace(c.Phone), Company: strings.TrimSpace(c.Company),
	}
	if r.ExternalID == "" && r.Email == "" {
		return nil, fmt.Errorf("%s: needs an external_id or an email", field)
	}
	if r.Email != "" && !validEmail(r.Email) {
		return nil, fmt.Errorf("%s.email: %q is not an email address", field, r.Email)
	}
	if r.Phone != "" {
		r.Phone = normalizePhone(r.Phone)
	}
	for _, f := range []struct{ n, v string }{{"external_id", r.ExternalID}, {"name", r.Name}, {"phone", r.Phone}, {"company", r.Company}} {
		if err := checkText(field+"."+f.n, f.v, 500); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// conversationFromJSON parses and completes one conversation line. Times the line leaves out
// are derived from its messages: created_at from the first, last_message_at and updated_at
// from the last, first_response_at from the first public agent reply after the contact
// wrote, resolved_at/closed_at from the last activity when the status says so.
func conversationFromJSON(data []byte) (postgres.ImportConversation, error) {
	var c postgres.ImportConversation
	var j conversationJSON
	if err := decodeStrict(data, &j); err != nil {
		return c, err
	}
	var err error
	c.ExternalID = string(j.ExternalID)
	if c.ExternalID == "" {
		return c, errors.New("external_id: required (it makes re-imports update instead of duplicate)")
	}
	if err := checkText("external_id", c.ExternalID, 255); err != nil {
		return c, err
	}
	c.Subject = strings.TrimSpace(j.Subject)
	if err := checkText("subject", c.Subject, 500); err != nil {
		return c, err
	}
	if c.Status, err = enum("status", j.Status, "open", conversationStatuses); err != nil {
		return c, err
	}
	if c.Priority, err = enum("priority", j.Priority, "normal", priorities); err != nil {
		return c, err
	}
	c.Channel = strings.TrimSpace(j.Channel)
	if err := checkText("channel", c.Channel, 200); err != nil {
		return c, err
	}
	if c.Contact, err = contactRef("contact", j.Contact); err != nil {
		return c, err
	}
	c.AssigneeEmail = strings.TrimSpace(j.AssigneeEmail)
	if c.AssigneeEmail != "" && !validEmail(c.AssigneeEmail) {
		return c, fmt.Errorf("assignee_email: %q is not an email address", c.AssigneeEmail)
	}
	c.AssigneeTeam = strings.TrimSpace(j.AssigneeTeam)
	if err := checkText("assignee_team", c.AssigneeTeam, 200); err != nil {
		return c, err
	}
	if c.Tags, err = cleanTags("tags", j.Tags); err != nil {
		return c, err
	}
	var created, updated, firstResp, resolved, closed time.Time
	for _, f := range []struct {
		name string
		s    string
		t    *time.Time
	}{{"created_at", j.CreatedAt, &created}, {"updated_at", j.UpdatedAt, &updated}, {"first_response_at", j.FirstResponseAt, &firstResp},
		{"resolved_at", j.ResolvedAt, &resolved}, {"closed_at", j.ClosedAt, &closed}} {
		if *f.t, err = timestamp(f.name, f.s); err != nil {
			return c, err
		}
	}
	// Message times first: the conversation's defaults come from them.
	times := make([]time.Time, len(j.Messages))
	var earliest time.Time
	for i, m := range j.Messages {
		if times[i], err = timestamp(fmt.Sprintf("messages[%d].created_at", i), m.CreatedAt); err != nil {
			return c, err
		}
		if !times[i].IsZero() && (earliest.IsZero() || times[i].Before(earliest)) {
			earliest = times[i]
		}
	}
	if created.IsZero() {
		created = earliest
	}
	extSeen := map[string]int{}
	var last, firstContact time.Time
	for i, m := range j.Messages {
		field := fmt.Sprintf("messages[%d]", i)
		msg := postgres.ImportMessage{ExternalID: string(m.ExternalID), Body: m.Body, Private: m.Private, AuthorEmail: strings.TrimSpace(m.AuthorEmail)}
		if msg.AuthorType, err = enum(field+".author_type", m.AuthorType, "", authorTypes); err != nil {
			return c, err
		}
		if msg.AuthorType == "" {
			return c, fmt.Errorf("%s.author_type: required, one of %s", field, strings.Join(authorTypes, ", "))
		}
		if strings.TrimSpace(msg.Body) == "" {
			return c, fmt.Errorf("%s.body: required", field)
		}
		if err := checkText(field+".body", msg.Body, 0); err != nil {
			return c, err
		}
		if err := checkText(field+".external_id", msg.ExternalID, 255); err != nil {
			return c, err
		}
		if msg.ExternalID != "" {
			if k, dup := extSeen[msg.ExternalID]; dup {
				return c, fmt.Errorf("%s.external_id: %q repeats messages[%d]", field, msg.ExternalID, k)
			}
			extSeen[msg.ExternalID] = i
		}
		msg.CreatedAt = times[i]
		if msg.CreatedAt.IsZero() {
			if created.IsZero() {
				return c, fmt.Errorf("%s.created_at: required when neither the message's external_id nor the conversation's created_at is given", field)
			}
			// Deterministic, so that a re-import matches the same message.
			msg.CreatedAt = created.Add(time.Duration(i) * time.Second)
		}
		if msg.CreatedAt.After(last) {
			last = msg.CreatedAt
		}
		switch {
		case msg.AuthorType == "contact" && firstContact.IsZero():
			firstContact = msg.CreatedAt
		case msg.AuthorType == "agent" && !msg.Private && !firstContact.IsZero() && firstResp.IsZero() && j.FirstResponseAt == "":
			firstResp = msg.CreatedAt
		}
		c.Messages = append(c.Messages, msg)
	}
	if updated.IsZero() {
		updated = maxTime(created, last, resolved, closed)
	}
	if resolved.IsZero() && (c.Status == "resolved" || c.Status == "closed") {
		resolved = maxTime(last, created)
		if resolved.IsZero() {
			resolved = updated
		}
	}
	if closed.IsZero() && c.Status == "closed" {
		closed = updated
	}
	c.CreatedAt, c.UpdatedAt = created, updated
	c.FirstResponseAt, c.ResolvedAt, c.ClosedAt, c.LastMessageAt = timep(firstResp), timep(resolved), timep(closed), timep(last)
	if j.Rating != nil {
		r := &postgres.ImportRating{Score: j.Rating.Score, Comment: strings.TrimSpace(j.Rating.Comment)}
		if r.Score < 1 || r.Score > 5 {
			return c, fmt.Errorf("rating.score: must be 1 to 5, got %d", r.Score)
		}
		if err := checkText("rating.comment", r.Comment, 5000); err != nil {
			return c, err
		}
		if r.CreatedAt, err = timestamp("rating.created_at", j.Rating.CreatedAt); err != nil {
			return c, err
		}
		if r.CreatedAt.IsZero() {
			r.CreatedAt = maxTime(resolved, updated)
		}
		c.Rating = r
	}
	return c, nil
}

func maxTime(ts ...time.Time) time.Time {
	var m time.Time
	for _, t := range ts {
		if t.After(m) {
			m = t
		}
	}
	return m
}

func ticketFromJSON(data []byte) (postgres.ImportTicket, error) {
	var t postgres.ImportTicket
	var j ticketJSON
	if err := decodeStrict(data, &j); err != nil {
		return t, err
	}
	var err error
	t.ExternalID = string(j.ExternalID)
	if t.ExternalID == "" {
		return t, errors.New("external_id: required (it makes re-imports update instead of duplicate)")
	}
	if err := checkText("external_id", t.ExternalID, 255); err != nil {
		return t, err
	}
	t.Subject = strings.TrimSpace(j.Subject)
	if t.Subject == "" {
		return t, errors.New("subject: required")
	}
	if err := checkText("subject", t.Subject, 500); err != nil {
		return t, err
	}
	t.Description = j.Description
	t.Resolution = j.Resolution
	if err := checkText("description", t.Description, 0); err != nil {
		return t, err
	}
	if err := checkText("resolution", t.Resolution, 0); err != nil {
		return t, err
	}
	if t.Status, err = enum("status", j.Status, "open", ticketStatuses); err != nil {
		return t, err
	}
	if t.Priority, err = enum("priority", j.Priority, "normal", priorities); err != nil {
		return t, err
	}
	if t.Contact, err = contactRef("contact", j.Contact); err != nil {
		return t, err
	}
	t.ConversationExternalID = string(j.ConversationExternalID)
	t.AssigneeEmail = strings.TrimSpace(j.AssigneeEmail)
	if t.AssigneeEmail != "" && !validEmail(t.AssigneeEmail) {
		return t, fmt.Errorf("assignee_email: %q is not an email address", t.AssigneeEmail)
	}
	if t.Tags, err = cleanTags("tags", j.Tags); err != nil {
		return t, err
	}
	t.CustomFields = j.CustomFields
	var closed time.Time
	if t.CreatedAt, err = timestamp("created_at", j.CreatedAt); err != nil {
		return t, err
	}
	if t.UpdatedAt, err = timestamp("updated_at", j.UpdatedAt); err != nil {
		return t, err
	}
	if closed, err = timestamp("closed_at", j.ClosedAt); err != nil {
		return t, err
	}
	if !t.CreatedAt.IsZero() && t.UpdatedAt.IsZero() {
		t.UpdatedAt = maxTime(t.CreatedAt, closed)
	}
	if closed.IsZero() && t.Status == "closed" {
		closed = t.UpdatedAt
	}
	t.ClosedAt = timep(closed)
	return t, nil
}
