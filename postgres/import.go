package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// Bulk import: each batch is staged with COPY into a session-local temporary table, matched
// against existing rows by external id (and email for contacts), then written with one
// UPDATE of the rows whose content differs and one INSERT of the new ones. index_log rows for
// everything created or changed are written in the same statement, so the search indexer sees
// exactly what was committed. The caller owns the transaction: the importer commits one per
// batch together with its progress row; the demo seed runs everything in one.

// ImportCounts tallies what a batch did to its records.
type ImportCounts struct {
	Created   int64 `json:"created"`
	Updated   int64 `json:"updated"`
	Unchanged int64 `json:"unchanged"`
	Failed    int64 `json:"failed"`
}

// Add adds o to c.
func (c *ImportCounts) Add(o ImportCounts) {
	c.Created += o.Created
	c.Updated += o.Updated
	c.Unchanged += o.Unchanged
	c.Failed += o.Failed
}

// Total is the number of records counted.
func (c ImportCounts) Total() int64 { return c.Created + c.Updated + c.Unchanged + c.Failed }

// ImportRowError is a record of a batch that was skipped, by its index in the batch.
type ImportRowError struct {
	Index  int
	Reason string
}

// ImportContact is one contact record. Nil fields were absent from the source and keep the
// stored value on update; an empty string clears the field.
type ImportContact struct {
	ExternalID string // "" when the source has none; then Email identifies the contact
	Name       *string
	Email      *string
	Phone      *string
	Company    *string
	// Attributes are merged into custom_attributes (keys present replace stored ones).
	Attributes map[string]any
}

func importStrp(s string) *string { return &s }

// ImportContactRef names a contact that a conversation or ticket belongs to: by external id, else by
// email. A contact not found by either is created with the other fields.
type ImportContactRef struct {
	ExternalID string
	Email      string
	Name       string
	Phone      string
	Company    string
}

func (r *ImportContactRef) empty() bool { return r == nil || (r.ExternalID == "" && r.Email == "") }

// ImportConversation is one conversation record with its messages. Every field comes from
// the source: on update, the stored conversation takes the record's values (absent ones take
// their defaults). Messages are matched to stored ones and added or updated, never deleted:
// replies written after an import survive a re-import.
type ImportConversation struct {
	ExternalID      string // required
	Contact         *ImportContactRef
	Channel         string // a channel name or kind; "" for none
	Subject         string
	Status          string
	Priority        string
	AssigneeEmail   string
	AssigneeTeam    string // a team name; "" for none
	Tags            []string
	CreatedAt       time.Time // zero: now for a new conversation, unchanged for a stored one
	UpdatedAt       time.Time // zero: unchanged unless something else changes
	FirstResponseAt *time.Time
	ResolvedAt      *time.Time
	ClosedAt        *time.Time
	LastMessageAt   *time.Time
	Messages        []ImportMessage
	Rating          *ImportRating
}

// ImportMessage is one message of an imported conversation. With an ExternalID it is matched
// by (conversation, external id); without, by (conversation, created_at, author_type, and its
// rank among the conversation's messages sharing both), so that re-importing a file that has
// no message ids neither duplicates messages nor loses corrections to their bodies.
type ImportMessage struct {
	ExternalID  string
	AuthorType  string // contact, agent, bot or system
	AuthorEmail string // agent messages: the member who wrote it, when known
	Body        string
	Private     bool
	CreatedAt   time.Time
}

// ImportRating is a conversation's satisfaction rating.
type ImportRating struct {
	Score     int
	Comment   string
	CreatedAt time.Time
}

// ImportTicket is one ticket record; like conversations, the record's values replace stored
// ones on update.
type ImportTicket struct {
	ExternalID             string // required
	Subject                string
	Description            string
	Status                 string
	Priority               string
	Contact                *ImportContactRef
	ConversationExternalID string
	AssigneeEmail          string
	Tags                   []string
	CustomFields           map[string]any
	Resolution             string
	CreatedAt              time.Time // zero: now for a new ticket, unchanged for a stored one
	UpdatedAt              time.Time // zero: unchanged unless something else changes
	ClosedAt               *time.Time
}

// ImportConversationCounts is the outcome of a conversations batch: conversations, their messages,
// and side effects worth reporting.
type ImportConversationCounts struct {
	Conversations   ImportCounts
	Messages        ImportCounts
	ContactsCreated int64
	Warnings        []ImportRowError // imported, but with something left out (unknown assignee…)
}

// ImportTicketCounts is the outcome of a tickets batch.
type ImportTicketCounts struct {
	Tickets         ImportCounts
	ContactsCreated int64
	Warnings        []ImportRowError
}

func (db *DB) createTemp(ctx context.Context, tx pgx.Tx, ddl string, table string) error {
	if _, err := tx.Exec(ctx, `CREATE TEMP TABLE IF NOT EXISTS `+table+` (`+ddl+`) ON COMMIT DELETE ROWS`); err != nil {
		return fmt.Errorf("create staging table %s: %w", table, err)
	}
	// Rows of an earlier batch in the same transaction (the demo seed) must not linger.
	if _, err := tx.Exec(ctx, `TRUNCATE `+table); err != nil {
		return fmt.Errorf("clear staging table %s: %w", table, err)
	}
	return nil
}

// analyze gives the planner the staging table's real size and how many rows matched: without
// it, a temporary table looks like a thousand-odd rows and the planner may scan a whole
// workspace table once per batch, which grows with every batch.
func importAnalyze(ctx context.Context, tx pgx.Tx, table string) error {
	if _, err := tx.Exec(ctx, `ANALYZE `+table); err != nil {
		return fmt.Errorf("analyze %s: %w", table, err)
	}
	return nil
}

func importJSONOrNil(m map[string]any) ([]byte, error) {
	if m == nil {
		return nil, nil
	}
	return json.Marshal(m)
}

func importLower(s *string) string {
	if s == nil {
		return ""
	}
	return strings.ToLower(*s)
}

// ImportContactsTx writes one batch of contacts in tx. Records are matched by external id,
// then by email (a contact found by email adopts the record's external id when it has none).
// Records that would clash with another contact's email, or repeat a key of a later record in
// the same batch, are returned as row errors and skipped.
func (db *DB) ImportContactsTx(ctx context.Context, tx pgx.Tx, workspaceID int64, rows []ImportContact) (ImportCounts, []ImportRowError, error) {
	var counts ImportCounts
	var rowErrs []ImportRowError
	skip := make([]bool, len(rows))
	// Within one batch a later record wins over an earlier one with the same key; an email
	// shared by records with different keys is kept by the first only.
	lastByKey := map[string]int{}
	for i, r := range rows {
		key := "x:" + r.ExternalID
		if r.ExternalID == "" {
			key = "e:" + importLower(r.Email)
		}
		if j, ok := lastByKey[key]; ok {
			skip[j] = true
			rowErrs = append(rowErrs, ImportRowError{j, "superseded by a later record with the same " + importKeyName(key) + " in the same file"})
		}
		lastByKey[key] = i
	}
	emailOwner := map[string]string{}
	for i, r := range rows {
		if skip[i] || r.Email == nil || *r.Email == "" {
			continue
		}
		key := "x:" + r.ExternalID
		if r.ExternalID == "" {
			key = "e:" + importLower(r.Email)
		}
		e := importLower(r.Email)
		if owner, ok := emailOwner[e]; ok && owner != key {
			skip[i] = true
			rowErrs = append(rowErrs, ImportRowError{i, fmt.Sprintf("email %q is also used by another record of the file", *r.Email)})
			continue
		}
		emailOwner[e] = key
	}

	// Match in Go against two index lookups (by external id, by email): the cost stays
	// proportional to the batch, however many contacts the workspace already has.
	var exts, emails []string
	for i, r := range rows {
		if skip[i] {
			continue
		}
		if r.ExternalID != "" {
			exts = append(exts, r.ExternalID)
		}
		if e := importLower(r.Email); e != "" {
			emails = append(emails, e)
		}
	}
	type stored struct {
		id  int64
		ext *string
	}
	byExt, byEmail := map[string]stored{}, map[string]stored{}
	for _, q := range []struct {
		sql  string
		arg  []string
		into map[string]stored
	}{
		{`SELECT id, external_id, external_id FROM contacts WHERE workspace_id = $1 AND external_id = ANY($2)`, exts, byExt},
		{`SELECT id, external_id, lower(email) FROM contacts WHERE workspace_id = $1 AND lower(email) = ANY($2)`, emails, byEmail},
	} {
		if len(q.arg) == 0 {
			continue
		}
		rs, err := tx.Query(ctx, q.sql, workspaceID, q.arg)
		if err != nil {
			return counts, nil, fmt.Errorf("match contacts: %w", err)
		}
		for rs.Next() {
			var st stored
			var key string
			if err := rs.Scan(&st.id, &st.ext, &key); err != nil {
				rs.Close()
				return counts, nil, err
			}
			q.into[key] = st
		}
		if err := rs.Err(); err != nil {
			return counts, nil, fmt.Errorf("match contacts: %w", err)
		}
	}
	src := make([][]any, 0, len(rows))
	var matched int64
	for i, r := range rows {
		if skip[i] {
			continue
		}
		var id int64
		email := importLower(r.Email)
		owner, emailTaken := byEmail[email]
		if st, ok := byExt[r.ExternalID]; ok && r.ExternalID != "" {
			id = st.id
		} else if emailTaken && email != "" {
			if owner.ext != nil && r.ExternalID != "" {
				rowErrs = append(rowErrs, ImportRowError{i, fmt.Sprintf("email %s belongs to the contact with external_id %s", *r.Email, *owner.ext)})
				continue
			}
			id = owner.id // found by email; it adopts the record's external id
		}
		if id != 0 && emailTaken && email != "" && owner.id != id {
			rowErrs = append(rowErrs, ImportRowError{i, fmt.Sprintf("email %s belongs to another contact (id %d)", *r.Email, owner.id)})
			continue
		}
		attrs, err := importJSONOrNil(r.Attributes)
		if err != nil {
			return counts, nil, fmt.Errorf("encode attributes: %w", err)
		}
		var idp *int64
		if id != 0 {
			idp = &id
			matched++
		}
		src = append(src, []any{i, importNilIfEmpty(r.ExternalID), r.Name, r.Email, r.Phone, r.Company, attrs, idp})
	}

	if err := db.createTemp(ctx, tx, `idx int, external_id text, name text, email text, phone text, company text,
		attrs jsonb, id bigint`, "imp_contacts"); err != nil {
		return counts, nil, err
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"imp_contacts"},
		[]string{"idx", "external_id", "name", "email", "phone", "company", "attrs", "id"}, pgx.CopyFromRows(src)); err != nil {
		return counts, nil, fmt.Errorf("stage contacts: %w", err)
	}
	insert := `
		ins AS (
			INSERT INTO contacts (workspace_id, external_id, name, email, phone, company, custom_attributes)
			SELECT $1, i.external_id, coalesce(i.name, ''), nullif(i.email, ''), nullif(i.phone, ''),
			       coalesce(i.company, ''), coalesce(i.attrs, '{}')
			FROM imp_contacts i WHERE i.id IS NULL ORDER BY i.idx
			RETURNING id)`
	var q string
	if matched == 0 {
		// Nothing to update: leave the UPDATE out rather than let the planner guess at it.
		q = `WITH ` + insert + `,
		log AS (INSERT INTO index_log (workspace_id, kind, entity_id, op) SELECT $1, 'contact', id, 'upsert' FROM ins)
		SELECT 0::bigint, (SELECT count(*) FROM ins)`
	} else {
		if err := importAnalyze(ctx, tx, "imp_contacts"); err != nil {
			return counts, nil, err
		}
		q = `WITH upd AS (
			UPDATE contacts c SET
				external_id = coalesce(i.external_id, c.external_id),
				name = coalesce(i.name, c.name),
				email = CASE WHEN i.email IS NULL THEN c.email ELSE nullif(i.email, '') END,
				phone = CASE WHEN i.phone IS NULL THEN c.phone ELSE nullif(i.phone, '') END,
				company = coalesce(i.company, c.company),
				custom_attributes = c.custom_attributes || coalesce(i.attrs, '{}'),
				updated_at = now()
			FROM imp_contacts i
			WHERE i.id IS NOT NULL AND c.id = i.id AND c.workspace_id = $1
			  AND (coalesce(i.external_id, c.external_id), coalesce(i.name, c.name),
			       CASE WHEN i.email IS NULL THEN c.email ELSE nullif(i.email, '') END,
			       CASE WHEN i.phone IS NULL THEN c.phone ELSE nullif(i.phone, '') END,
			       coalesce(i.company, c.company), c.custom_attributes || coalesce(i.attrs, '{}'))
			  IS DISTINCT FROM (c.external_id, c.name, c.email, c.phone, c.company, c.custom_attributes)
			RETURNING c.id),` + insert + `,
		log AS (
			INSERT INTO index_log (workspace_id, kind, entity_id, op)
			SELECT $1, 'contact', id, 'upsert' FROM (SELECT id FROM upd UNION ALL SELECT id FROM ins) x)
		SELECT (SELECT count(*) FROM upd), (SELECT count(*) FROM ins)`
	}
	if err := tx.QueryRow(ctx, q, workspaceID).Scan(&counts.Updated, &counts.Created); err != nil {
		return counts, nil, fmt.Errorf("write contacts: %w", err)
	}
	counts.Unchanged = matched - counts.Updated
	importSortRowErrors(rowErrs)
	counts.Failed = int64(len(rowErrs))
	return counts, rowErrs, nil
}

func importKeyName(key string) string {
	if strings.HasPrefix(key, "x:") {
		return "external_id"
	}
	return "email"
}

func importSortRowErrors(es []ImportRowError) {
	slices.SortStableFunc(es, func(a, b ImportRowError) int { return a.Index - b.Index })
}

// resolveContacts finds or creates the contacts that refs name and returns their ids (0 for
// an empty ref), with the number created. Existing contacts are not changed: updating
// contacts is the contacts import's business.
func importResolveContacts(ctx context.Context, tx pgx.Tx, workspaceID int64, refs []*ImportContactRef) ([]int64, int64, error) {
	ids := make([]int64, len(refs))
	var exts, emails []string
	seenX, seenE := map[string]bool{}, map[string]bool{}
	for _, r := range refs {
		if r.empty() {
			continue
		}
		if r.ExternalID != "" && !seenX[r.ExternalID] {
			seenX[r.ExternalID] = true
			exts = append(exts, r.ExternalID)
		}
		if e := strings.ToLower(r.Email); e != "" && !seenE[e] {
			seenE[e] = true
			emails = append(emails, e)
		}
	}
	if len(exts)+len(emails) == 0 {
		return ids, 0, nil
	}
	byExt, byEmail := map[string]int64{}, map[string]int64{}
	rows, err := tx.Query(ctx, `
		SELECT id, external_id, lower(email) FROM contacts
		WHERE workspace_id = $1 AND (external_id = ANY($2) OR lower(email) = ANY($3))`, workspaceID, exts, emails)
	if err != nil {
		return nil, 0, fmt.Errorf("find contacts: %w", err)
	}
	for rows.Next() {
		var id int64
		var ext, email *string
		if err := rows.Scan(&id, &ext, &email); err != nil {
			rows.Close()
			return nil, 0, err
		}
		if ext != nil {
			byExt[*ext] = id
		}
		if email != nil {
			byEmail[*email] = id
		}
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("find contacts: %w", err)
	}
	lookup := func(r *ImportContactRef) int64 {
		if id, ok := byExt[r.ExternalID]; ok && r.ExternalID != "" {
			return id
		}
		if id, ok := byEmail[strings.ToLower(r.Email)]; ok && r.Email != "" {
			return id
		}
		return 0
	}
	// New contacts, each once even when several records name it (by either key).
	type newContact struct{ ext, email, name, phone, company *string }
	var fresh []newContact
	slot := map[string]int{}
	refSlot := make([]int, len(refs))
	for i, r := range refs {
		refSlot[i] = -1
		if r.empty() {
			continue
		}
		if id := lookup(r); id != 0 {
			ids[i] = id
			continue
		}
		s, ok := slot["x:"+r.ExternalID]
		if !ok || r.ExternalID == "" {
			s, ok = slot["e:"+strings.ToLower(r.Email)]
			ok = ok && r.Email != ""
		}
		if !ok {
			s = len(fresh)
			nc := newContact{name: importStrp(r.Name), phone: importNilIfEmpty(r.Phone), company: importStrp(r.Company)}
			nc.ext, nc.email = importNilIfEmpty(r.ExternalID), importNilIfEmpty(r.Email)
			fresh = append(fresh, nc)
		}
		if r.ExternalID != "" {
			slot["x:"+r.ExternalID] = s
		}
		if r.Email != "" {
			slot["e:"+strings.ToLower(r.Email)] = s
		}
		refSlot[i] = s
	}
	if len(fresh) == 0 {
		return ids, 0, nil
	}
	cols := make([][]*string, 5)
	for _, n := range fresh {
		cols[0] = append(cols[0], n.ext)
		cols[1] = append(cols[1], n.email)
		cols[2] = append(cols[2], n.name)
		cols[3] = append(cols[3], n.phone)
		cols[4] = append(cols[4], n.company)
	}
	rows, err = tx.Query(ctx, `
		WITH ins AS (
			INSERT INTO contacts (workspace_id, external_id, email, name, phone, company)
			SELECT $1, t.ext, t.email, t.name, t.phone, t.company
			FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[]) WITH ORDINALITY
			     AS t(ext, email, name, phone, company, n)
			ORDER BY t.n
			RETURNING id, external_id, lower(email) AS email),
		log AS (INSERT INTO index_log (workspace_id, kind, entity_id, op) SELECT $1, 'contact', id, 'upsert' FROM ins)
		SELECT id, external_id, email FROM ins`,
		workspaceID, cols[0], cols[1], cols[2], cols[3], cols[4])
	if err != nil {
		return nil, 0, fmt.Errorf("create contacts: %w", err)
	}
	freshID := make([]int64, len(fresh))
	for rows.Next() {
		var id int64
		var ext, email *string
		if err := rows.Scan(&id, &ext, &email); err != nil {
			rows.Close()
			return nil, 0, err
		}
		s := -1
		if ext != nil {
			s = slot["x:"+*ext]
		} else if email != nil {
			s = slot["e:"+*email]
		}
		if s >= 0 {
			freshID[s] = id
		}
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("create contacts: %w", err)
	}
	for i, s := range refSlot {
		if s >= 0 {
			ids[i] = freshID[s]
		}
	}
	return ids, int64(len(fresh)), nil
}

func importTimeOrNil(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func importNilIfEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// importMembersByEmail returns the ids of the workspace's members with the given emails (lowercased).
func importMembersByEmail(ctx context.Context, tx pgx.Tx, workspaceID int64, emails []string) (map[string]int64, error) {
	return importIDsByKey(ctx, tx, "members", `SELECT lower(email), id FROM members WHERE workspace_id = $1 AND lower(email) = ANY($2)`, workspaceID, emails)
}

// importTeamsByName returns the ids of the workspace's teams with the given names (lowercased).
func importTeamsByName(ctx context.Context, tx pgx.Tx, workspaceID int64, names []string) (map[string]int64, error) {
	return importIDsByKey(ctx, tx, "teams", `SELECT lower(name), id FROM teams WHERE workspace_id = $1 AND lower(name) = ANY($2)`, workspaceID, names)
}

// importIDsByKey runs query (workspace id, keys) → (key, id) rows and maps keys to ids.
func importIDsByKey(ctx context.Context, tx pgx.Tx, what, query string, workspaceID int64, keys []string) (map[string]int64, error) {
	out := map[string]int64{}
	if len(keys) == 0 {
		return out, nil
	}
	rows, err := tx.Query(ctx, query, workspaceID, keys)
	if err != nil {
		return nil, fmt.Errorf("find %s: %w", what, err)
	}
	for rows.Next() {
		var k string
		var id int64
		if err := rows.Scan(&k, &id); err != nil {
			rows.Close()
			return nil, fmt.Errorf("find %s: %w", what, err)
		}
		out[k] = id
	}
	return out, rows.Err()
}

// importChannelKinds are the kinds a channel may have.
var importChannelKinds = []string{"email", "web_widget", "whatsapp", "sms", "api"}

func importIsChannelKind(s string) bool {
	for _, k := range importChannelKinds {
		if k == s {
			return true
		}
	}
	return false
}

// resolveChannels maps channel references to ids: a channel whose name matches (ignoring
// case), else the oldest channel of that kind; a reference matching neither creates a channel
// of that name (and kind, when the name is a kind; "api" otherwise).
func importResolveChannels(ctx context.Context, tx pgx.Tx, workspaceID int64, names []string) (map[string]int64, error) {
	out := map[string]int64{}
	if len(names) == 0 {
		return out, nil
	}
	rows, err := tx.Query(ctx, `SELECT id, lower(name), kind FROM channels WHERE workspace_id = $1 ORDER BY id`, workspaceID)
	if err != nil {
		return nil, fmt.Errorf("find channels: %w", err)
	}
	byName, byKind := map[string]int64{}, map[string]int64{}
	for rows.Next() {
		var id int64
		var name, kind string
		if err := rows.Scan(&id, &name, &kind); err != nil {
			rows.Close()
			return nil, err
		}
		if _, ok := byName[name]; !ok {
			byName[name] = id
		}
		if _, ok := byKind[kind]; !ok {
			byKind[kind] = id
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("find channels: %w", err)
	}
	for _, n := range names {
		l := strings.ToLower(n)
		if _, ok := out[l]; ok {
			continue
		}
		if id, ok := byName[l]; ok {
			out[l] = id
			continue
		}
		if id, ok := byKind[l]; ok {
			out[l] = id
			continue
		}
		kind := "api"
		if importIsChannelKind(l) {
			kind = l
		}
		var id int64
		if err := tx.QueryRow(ctx, `
			INSERT INTO channels (workspace_id, kind, name, config) VALUES ($1, $2, $3, '{"created_by_import": true}')
			RETURNING id`, workspaceID, kind, n).Scan(&id); err != nil {
			return nil, fmt.Errorf("create channel %q: %w", n, err)
		}
		byName[l] = id
		out[l] = id
	}
	return out, nil
}

// ImportConversationsTx writes one batch of conversations with their messages and ratings.
// Records must have distinct, non-empty external ids (the importer checks).
func (db *DB) ImportConversationsTx(ctx context.Context, tx pgx.Tx, workspaceID int64, convs []ImportConversation) (ImportConversationCounts, error) {
	var out ImportConversationCounts
	if len(convs) == 0 {
		return out, nil
	}
	seen := map[string]bool{}
	refs := make([]*ImportContactRef, len(convs))
	var channelNames, emails, teamNames []string
	for i := range convs {
		c := &convs[i]
		if c.ExternalID == "" || seen[c.ExternalID] {
			return out, fmt.Errorf("conversation %d of the batch: external id %q empty or repeated", i, c.ExternalID)
		}
		seen[c.ExternalID] = true
		refs[i] = c.Contact
		if c.Channel != "" {
			channelNames = append(channelNames, c.Channel)
		}
		if c.AssigneeEmail != "" {
			emails = append(emails, strings.ToLower(c.AssigneeEmail))
		}
		if c.AssigneeTeam != "" {
			teamNames = append(teamNames, strings.ToLower(c.AssigneeTeam))
		}
		for _, m := range c.Messages {
			if m.AuthorEmail != "" && m.AuthorType == "agent" {
				emails = append(emails, strings.ToLower(m.AuthorEmail))
			}
		}
	}
	contactIDs, created, err := importResolveContacts(ctx, tx, workspaceID, refs)
	if err != nil {
		return out, err
	}
	out.ContactsCreated = created
	channels, err := importResolveChannels(ctx, tx, workspaceID, channelNames)
	if err != nil {
		return out, err
	}
	members, err := importMembersByEmail(ctx, tx, workspaceID, emails)
	if err != nil {
		return out, err
	}
	teams, err := importTeamsByName(ctx, tx, workspaceID, teamNames)
	if err != nil {
		return out, err
	}

	if err := db.createTemp(ctx, tx, `idx int, external_id text, contact_id bigint, channel_id bigint,
		subject text, status text, priority text, assignee_member_id bigint, assignee_team_id bigint, tags text[],
		created_at timestamptz, updated_at timestamptz, first_response_at timestamptz, resolved_at timestamptz,
		closed_at timestamptz, last_message_at timestamptz, id bigint, created bool NOT NULL DEFAULT false`, "imp_conversations"); err != nil {
		return out, err
	}
	if err := db.createTemp(ctx, tx, `conv_idx int, pos int, external_id text, rank int, author_type text,
		author_member_id bigint, author_contact_id bigint, body text, private bool, created_at timestamptz,
		id bigint`, "imp_messages"); err != nil {
		return out, err
	}
	// Stored conversations, by one index lookup for the batch.
	existing := map[string]int64{}
	exts := make([]string, len(convs))
	for i := range convs {
		exts[i] = convs[i].ExternalID
	}
	rs, err := tx.Query(ctx, `SELECT external_id, id FROM conversations WHERE workspace_id = $1 AND external_id = ANY($2)`, workspaceID, exts)
	if err != nil {
		return out, fmt.Errorf("match conversations: %w", err)
	}
	for rs.Next() {
		var ext string
		var id int64
		if err := rs.Scan(&ext, &id); err != nil {
			rs.Close()
			return out, err
		}
		existing[ext] = id
	}
	if err := rs.Err(); err != nil {
		return out, fmt.Errorf("match conversations: %w", err)
	}
	var convRows, msgRows [][]any
	for i := range convs {
		c := &convs[i]
		var contactID, channelID, assignee, team *int64
		if contactIDs[i] != 0 {
			contactID = &contactIDs[i]
		}
		if c.AssigneeTeam != "" {
			if id, ok := teams[strings.ToLower(c.AssigneeTeam)]; ok {
				team = &id
			} else {
				out.Warnings = append(out.Warnings, ImportRowError{i, fmt.Sprintf("team %q does not exist in the workspace; imported without a team", c.AssigneeTeam)})
			}
		}
		if c.Channel != "" {
			id := channels[strings.ToLower(c.Channel)]
			channelID = &id
		}
		if c.AssigneeEmail != "" {
			if id, ok := members[strings.ToLower(c.AssigneeEmail)]; ok {
				assignee = &id
			} else {
				out.Warnings = append(out.Warnings, ImportRowError{i, fmt.Sprintf("assignee %q is not a member of the workspace; imported unassigned", c.AssigneeEmail)})
			}
		}
		tags := c.Tags
		if tags == nil {
			tags = []string{}
		}
		var convID *int64
		if id, ok := existing[c.ExternalID]; ok {
			convID = &id
		}
		convRows = append(convRows, []any{i, c.ExternalID, contactID, channelID, c.Subject, c.Status, c.Priority, assignee, team,
			tags, importTimeOrNil(c.CreatedAt), importTimeOrNil(c.UpdatedAt), c.FirstResponseAt, c.ResolvedAt, c.ClosedAt, c.LastMessageAt, convID})
		rank := map[string]int{}
		for p, m := range c.Messages {
			var ext *string
			var rk *int
			if m.ExternalID != "" {
				ext = importStrp(m.ExternalID)
			} else {
				k := m.CreatedAt.UTC().Format(time.RFC3339Nano) + "/" + m.AuthorType
				rank[k]++
				r := rank[k]
				rk = &r
			}
			var memberID, authorContact *int64
			switch m.AuthorType {
			case "agent":
				if id, ok := members[strings.ToLower(m.AuthorEmail)]; ok && m.AuthorEmail != "" {
					memberID = &id
				}
			case "contact":
				authorContact = contactID
			}
			msgRows = append(msgRows, []any{i, p, ext, rk, m.AuthorType, memberID, authorContact, m.Body, m.Private, m.CreatedAt})
		}
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"imp_conversations"}, []string{"idx", "external_id", "contact_id",
		"channel_id", "subject", "status", "priority", "assignee_member_id", "assignee_team_id", "tags", "created_at", "updated_at",
		"first_response_at", "resolved_at", "closed_at", "last_message_at", "id"}, pgx.CopyFromRows(convRows)); err != nil {
		return out, fmt.Errorf("stage conversations: %w", err)
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"imp_messages"}, []string{"conv_idx", "pos", "external_id", "rank",
		"author_type", "author_member_id", "author_contact_id", "body", "private", "created_at"}, pgx.CopyFromRows(msgRows)); err != nil {
		return out, fmt.Errorf("stage messages: %w", err)
	}

	for _, t := range []string{"imp_conversations", "imp_messages"} {
		if err := importAnalyze(ctx, tx, t); err != nil {
			return out, err
		}
	}
	changed := map[int64]bool{} // conversations updated (not created) by this batch
	var createdConvs, matchedConvs int64
	matchedConvs = int64(len(existing))
	if matchedConvs > 0 {
		ids, err := importCollectIDs(tx.Query(ctx, `
		UPDATE conversations c SET contact_id = i.contact_id, channel_id = i.channel_id, subject = i.subject,
			status = i.status, priority = i.priority, assignee_member_id = i.assignee_member_id,
			assignee_team_id = i.assignee_team_id, tags = i.tags,
			created_at = coalesce(i.created_at, c.created_at), updated_at = coalesce(i.updated_at, now()),
			first_response_at = i.first_response_at, resolved_at = i.resolved_at, closed_at = i.closed_at,
			last_message_at = i.last_message_at
		FROM imp_conversations i
		WHERE i.id IS NOT NULL AND NOT i.created AND c.id = i.id AND c.workspace_id = $1
		  AND (c.contact_id, c.channel_id, c.subject, c.status, c.priority, c.assignee_member_id, c.assignee_team_id,
		       c.tags, c.created_at, c.updated_at, c.first_response_at, c.resolved_at, c.closed_at, c.last_message_at)
		  IS DISTINCT FROM (i.contact_id, i.channel_id, i.subject, i.status, i.priority, i.assignee_member_id,
		       i.assignee_team_id, i.tags,
		       coalesce(i.created_at, c.created_at), coalesce(i.updated_at, c.updated_at), i.first_response_at,
		       i.resolved_at, i.closed_at, i.last_message_at)
		RETURNING c.id`, workspaceID))
		if err != nil {
			return out, fmt.Errorf("update conversations: %w", err)
		}
		for _, id := range ids {
			changed[id] = true
		}
	}
	tag, err := tx.Exec(ctx, `
		WITH ins AS (
			INSERT INTO conversations (workspace_id, external_id, contact_id, channel_id, subject, status, priority,
				assignee_member_id, assignee_team_id, tags, created_at, updated_at, first_response_at, resolved_at, closed_at,
				last_message_at)
			SELECT $1, external_id, contact_id, channel_id, subject, status, priority, assignee_member_id, assignee_team_id, tags,
				coalesce(created_at, now()), coalesce(updated_at, now()), first_response_at, resolved_at, closed_at, last_message_at
			FROM imp_conversations WHERE id IS NULL ORDER BY idx
			RETURNING id, external_id)
		UPDATE imp_conversations i SET id = ins.id, created = true FROM ins WHERE i.external_id = ins.external_id`, workspaceID)
	if err != nil {
		return out, fmt.Errorf("insert conversations: %w", err)
	}
	createdConvs = tag.RowsAffected()

	// Messages: match stored ones of conversations that existed before this batch (none, in
	// a first import: then the staging table is left as it is).
	if matchedConvs > 0 {
		steps := []string{
			`UPDATE imp_messages m SET id = x.id FROM messages x, imp_conversations i
			 WHERE i.idx = m.conv_idx AND NOT i.created AND m.external_id IS NOT NULL
			   AND x.conversation_id = i.id AND x.external_id = m.external_id`,
			`UPDATE imp_messages m SET id = x.id
			 FROM (SELECT x.id, x.conversation_id, x.created_at, x.author_type,
			              row_number() OVER (PARTITION BY x.conversation_id, x.created_at, x.author_type ORDER BY x.id) AS rank
			       FROM messages x
			       WHERE x.conversation_id IN (SELECT id FROM imp_conversations WHERE NOT created) AND x.external_id IS NULL) x,
			      imp_conversations i
			 WHERE i.idx = m.conv_idx AND NOT i.created AND m.external_id IS NULL AND x.conversation_id = i.id
			   AND x.created_at = m.created_at AND x.author_type = m.author_type AND x.rank = m.rank`,
		}
		for _, q := range steps {
			if _, err := tx.Exec(ctx, q); err != nil {
				return out, fmt.Errorf("match messages: %w", err)
			}
		}
		if err := importAnalyze(ctx, tx, "imp_messages"); err != nil {
			return out, err
		}
	}
	var msgUpdated, msgCreated, msgMatched int64
	rows, err := tx.Query(ctx, `
		WITH upd AS (
			UPDATE messages x SET author_type = m.author_type, author_member_id = m.author_member_id,
				author_contact_id = m.author_contact_id, body = m.body, private = m.private, created_at = m.created_at
			FROM imp_messages m
			WHERE m.id IS NOT NULL AND x.id = m.id AND x.workspace_id = $1
			  AND (x.author_type, x.author_member_id, x.author_contact_id, x.body, x.private, x.created_at)
			  IS DISTINCT FROM (m.author_type, m.author_member_id, m.author_contact_id, m.body, m.private, m.created_at)
			RETURNING x.id, x.conversation_id),
		ins AS (
			INSERT INTO messages (workspace_id, conversation_id, external_id, author_type, author_member_id,
				author_contact_id, body, private, created_at)
			SELECT $1, i.id, m.external_id, m.author_type, m.author_member_id, m.author_contact_id, m.body, m.private, m.created_at
			FROM imp_messages m JOIN imp_conversations i ON i.idx = m.conv_idx
			WHERE m.id IS NULL ORDER BY m.conv_idx, m.created_at, m.pos
			RETURNING id, conversation_id),
		log AS (
			INSERT INTO index_log (workspace_id, kind, entity_id, op)
			SELECT $1, 'message', id, 'upsert' FROM (SELECT id FROM upd UNION ALL SELECT id FROM ins) x)
		SELECT 'u', conversation_id, count(*) FROM upd GROUP BY conversation_id
		UNION ALL
		SELECT 'i', conversation_id, count(*) FROM ins GROUP BY conversation_id`, workspaceID)
	if err != nil {
		return out, fmt.Errorf("write messages: %w", err)
	}
	for rows.Next() {
		var op string
		var convID, n int64
		if err := rows.Scan(&op, &convID, &n); err != nil {
			rows.Close()
			return out, err
		}
		if op == "u" {
			msgUpdated += n
		} else {
			msgCreated += n
		}
		changed[convID] = true
	}
	if err := rows.Err(); err != nil {
		return out, fmt.Errorf("write messages: %w", err)
	}
	if matchedConvs > 0 {
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM imp_messages WHERE id IS NOT NULL`).Scan(&msgMatched); err != nil {
			return out, err
		}
	}

	// Ratings: one per conversation; records without one leave a stored rating alone.
	var rConv []int64
	var rScore []int32
	var rComment []string
	var rAt []time.Time
	var rContact []*int64
	convID := map[int]int64{}
	createdIDs := map[int64]bool{}
	idRows, err := tx.Query(ctx, `SELECT idx, id, created FROM imp_conversations`)
	if err != nil {
		return out, err
	}
	for idRows.Next() {
		var idx int
		var id int64
		var created bool
		if err := idRows.Scan(&idx, &id, &created); err != nil {
			idRows.Close()
			return out, err
		}
		convID[idx] = id
		if created {
			createdIDs[id] = true
		}
	}
	if err := idRows.Err(); err != nil {
		return out, err
	}
	for i := range convs {
		if r := convs[i].Rating; r != nil {
			rConv = append(rConv, convID[i])
			rScore = append(rScore, int32(r.Score))
			rComment = append(rComment, r.Comment)
			rAt = append(rAt, r.CreatedAt)
			var cid *int64
			if contactIDs[i] != 0 {
				cid = &contactIDs[i]
			}
			rContact = append(rContact, cid)
		}
	}
	if len(rConv) > 0 {
		ids, err := importCollectIDs(tx.Query(ctx, `
			INSERT INTO satisfaction_ratings AS s (workspace_id, conversation_id, contact_id, score, comment, created_at)
			SELECT $1, t.conv, t.contact, t.score, t.comment, t.at
			FROM unnest($2::bigint[], $3::bigint[], $4::smallint[], $5::text[], $6::timestamptz[]) AS t(conv, contact, score, comment, at)
			ON CONFLICT (conversation_id) DO UPDATE SET contact_id = EXCLUDED.contact_id, score = EXCLUDED.score,
				comment = EXCLUDED.comment, created_at = EXCLUDED.created_at
			WHERE (s.contact_id, s.score, s.comment, s.created_at)
			  IS DISTINCT FROM (EXCLUDED.contact_id, EXCLUDED.score, EXCLUDED.comment, EXCLUDED.created_at)
			RETURNING s.conversation_id`, workspaceID, rConv, rContact, rScore, rComment, rAt))
		if err != nil {
			return out, fmt.Errorf("write ratings: %w", err)
		}
		for _, id := range ids {
			changed[id] = true
		}
	}

	// Every created or changed conversation is (re)indexed, in file order.
	var logIDs []int64
	var updatedConvs int64
	for i := range convs {
		id := convID[i]
		if createdIDs[id] || changed[id] {
			logIDs = append(logIDs, id)
		}
		if changed[id] && !createdIDs[id] {
			updatedConvs++
		}
	}
	if _, err := tx.Exec(ctx, `
		INSERT INTO index_log (workspace_id, kind, entity_id, op)
		SELECT $1, 'conversation', id, 'upsert' FROM unnest($2::bigint[]) AS id`, workspaceID, logIDs); err != nil {
		return out, fmt.Errorf("log conversations: %w", err)
	}
	out.Conversations = ImportCounts{Created: createdConvs, Updated: updatedConvs, Unchanged: matchedConvs - updatedConvs}
	out.Messages = ImportCounts{Created: msgCreated, Updated: msgUpdated, Unchanged: msgMatched - msgUpdated}
	return out, nil
}

func importKeys(m map[int64]bool) []int64 {
	out := make([]int64, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

func importCollectIDs(rows pgx.Rows, err error) ([]int64, error) {
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[int64])
}

// ImportTicketsTx writes one batch of tickets. A ticket naming a conversation that does not
// exist is returned as a row error (import conversations first).
func (db *DB) ImportTicketsTx(ctx context.Context, tx pgx.Tx, workspaceID int64, tickets []ImportTicket) (ImportTicketCounts, []ImportRowError, error) {
	var out ImportTicketCounts
	var rowErrs []ImportRowError
	if len(tickets) == 0 {
		return out, nil, nil
	}
	seen := map[string]bool{}
	refs := make([]*ImportContactRef, len(tickets))
	var emails, convExts []string
	for i := range tickets {
		t := &tickets[i]
		if t.ExternalID == "" || seen[t.ExternalID] {
			return out, nil, fmt.Errorf("ticket %d of the batch: external id %q empty or repeated", i, t.ExternalID)
		}
		seen[t.ExternalID] = true
		refs[i] = t.Contact
		if t.AssigneeEmail != "" {
			emails = append(emails, strings.ToLower(t.AssigneeEmail))
		}
		if t.ConversationExternalID != "" {
			convExts = append(convExts, t.ConversationExternalID)
		}
	}
	convs := map[string]int64{}
	if len(convExts) > 0 {
		rows, err := tx.Query(ctx, `SELECT external_id, id FROM conversations WHERE workspace_id = $1 AND external_id = ANY($2)`, workspaceID, convExts)
		if err != nil {
			return out, nil, fmt.Errorf("find conversations: %w", err)
		}
		for rows.Next() {
			var ext string
			var id int64
			if err := rows.Scan(&ext, &id); err != nil {
				rows.Close()
				return out, nil, err
			}
			convs[ext] = id
		}
		if err := rows.Err(); err != nil {
			return out, nil, fmt.Errorf("find conversations: %w", err)
		}
	}
	// Refuse missing conversations before creating any contact for the ticket.
	skip := make([]bool, len(tickets))
	for i := range tickets {
		if e := tickets[i].ConversationExternalID; e != "" && convs[e] == 0 {
			skip[i] = true
			refs[i] = nil
			rowErrs = append(rowErrs, ImportRowError{i, fmt.Sprintf("conversation %q not found (import conversations before tickets)", e)})
		}
	}
	contactIDs, created, err := importResolveContacts(ctx, tx, workspaceID, refs)
	if err != nil {
		return out, nil, err
	}
	out.ContactsCreated = created
	members, err := importMembersByEmail(ctx, tx, workspaceID, emails)
	if err != nil {
		return out, nil, err
	}
	if err := db.createTemp(ctx, tx, `idx int, external_id text, subject text, description text, status text,
		priority text, assignee_member_id bigint, contact_id bigint, conversation_id bigint, tags text[],
		custom_fields jsonb, resolution text, created_at timestamptz, updated_at timestamptz, closed_at timestamptz,
		id bigint`, "imp_tickets"); err != nil {
		return out, nil, err
	}
	var src [][]any
	for i := range tickets {
		if skip[i] {
			continue
		}
		t := &tickets[i]
		var contactID, convID, assignee *int64
		if contactIDs[i] != 0 {
			contactID = &contactIDs[i]
		}
		if t.ConversationExternalID != "" {
			id := convs[t.ConversationExternalID]
			convID = &id
		}
		if t.AssigneeEmail != "" {
			if id, ok := members[strings.ToLower(t.AssigneeEmail)]; ok {
				assignee = &id
			} else {
				out.Warnings = append(out.Warnings, ImportRowError{i, fmt.Sprintf("assignee %q is not a member of the workspace; imported unassigned", t.AssigneeEmail)})
			}
		}
		cf, err := importJSONOrNil(t.CustomFields)
		if err != nil {
			return out, nil, fmt.Errorf("encode custom fields: %w", err)
		}
		if cf == nil {
			cf = []byte("{}")
		}
		tags := t.Tags
		if tags == nil {
			tags = []string{}
		}
		src = append(src, []any{i, t.ExternalID, t.Subject, t.Description, t.Status, t.Priority, assignee, contactID,
			convID, tags, cf, t.Resolution, importTimeOrNil(t.CreatedAt), importTimeOrNil(t.UpdatedAt), t.ClosedAt})
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"imp_tickets"}, []string{"idx", "external_id", "subject", "description",
		"status", "priority", "assignee_member_id", "contact_id", "conversation_id", "tags", "custom_fields", "resolution",
		"created_at", "updated_at", "closed_at"}, pgx.CopyFromRows(src)); err != nil {
		return out, nil, fmt.Errorf("stage tickets: %w", err)
	}
	// Match stored tickets through the (workspace_id, external_id) index, per staged row.
	if _, err := tx.Exec(ctx, `
		UPDATE imp_tickets i SET id = m.id
		FROM (SELECT s.idx, t.id FROM imp_tickets s
		      CROSS JOIN LATERAL (SELECT id FROM tickets t WHERE t.workspace_id = $1 AND t.external_id = s.external_id) t) m
		WHERE i.idx = m.idx`, workspaceID); err != nil {
		return out, nil, fmt.Errorf("match tickets: %w", err)
	}
	if err := importAnalyze(ctx, tx, "imp_tickets"); err != nil {
		return out, nil, err
	}
	var matched int64
	err = tx.QueryRow(ctx, `
		WITH upd AS (
			UPDATE tickets t SET subject = i.subject, description = i.description, status = i.status,
				priority = i.priority, assignee_member_id = i.assignee_member_id, contact_id = i.contact_id,
				conversation_id = i.conversation_id, tags = i.tags, custom_fields = i.custom_fields,
				resolution = i.resolution, created_at = coalesce(i.created_at, t.created_at),
				updated_at = coalesce(i.updated_at, now()), closed_at = coalesce(i.closed_at, CASE WHEN i.status = 'closed' THEN t.closed_at END)
			FROM imp_tickets i
			WHERE i.id IS NOT NULL AND t.id = i.id AND t.workspace_id = $1
			  AND (t.subject, t.description, t.status, t.priority, t.assignee_member_id, t.contact_id, t.conversation_id,
			       t.tags, t.custom_fields, t.resolution, t.created_at, t.updated_at, t.closed_at)
			  IS DISTINCT FROM (i.subject, i.description, i.status, i.priority, i.assignee_member_id, i.contact_id,
			       i.conversation_id, i.tags, i.custom_fields, i.resolution, coalesce(i.created_at, t.created_at),
			       coalesce(i.updated_at, t.updated_at), coalesce(i.closed_at, CASE WHEN i.status = 'closed' THEN t.closed_at END))
			RETURNING t.id),
		ins AS (
			INSERT INTO tickets (workspace_id, external_id, subject, description, status, priority, assignee_member_id,
				contact_id, conversation_id, tags, custom_fields, resolution, created_at, updated_at, closed_at)
			SELECT $1, external_id, subject, description, status, priority, assignee_member_id, contact_id,
				conversation_id, tags, custom_fields, resolution, coalesce(created_at, now()), coalesce(updated_at, now()),
				coalesce(closed_at, CASE WHEN status = 'closed' THEN now() END)
			FROM imp_tickets WHERE id IS NULL ORDER BY idx
			RETURNING id)
		SELECT (SELECT count(*) FROM upd), (SELECT count(*) FROM ins), (SELECT count(*) FROM imp_tickets WHERE id IS NOT NULL)`,
		workspaceID).Scan(&out.Tickets.Updated, &out.Tickets.Created, &matched)
	if err != nil {
		return out, nil, fmt.Errorf("write tickets: %w", err)
	}
	out.Tickets.Unchanged = matched - out.Tickets.Updated
	out.Tickets.Failed = int64(len(rowErrs))
	return out, rowErrs, nil
}

// ImportProgress is the recorded state of one file's import.
type ImportProgress struct {
	WorkspaceID int64
	Kind        string
	Source      string
	Fingerprint string
	Offset      int64 // bytes of the file whose records are committed
	Line        int64 // lines of the file whose records are committed
	Counts      ImportCounts
	Done        bool
	StartedAt   time.Time
	UpdatedAt   time.Time
}

// ImportProgressOf returns the recorded progress of a file's import, or nil when none is.
func (db *DB) ImportProgressOf(ctx context.Context, workspaceID int64, kind, source string) (*ImportProgress, error) {
	p := ImportProgress{WorkspaceID: workspaceID, Kind: kind, Source: source}
	err := db.Pool.QueryRow(ctx, `
		SELECT fingerprint, byte_offset, line, created, updated, unchanged, failed, done, started_at, updated_at
		FROM import_progress WHERE workspace_id = $1 AND kind = $2 AND source = $3`, workspaceID, kind, source).Scan(
		&p.Fingerprint, &p.Offset, &p.Line, &p.Counts.Created, &p.Counts.Updated, &p.Counts.Unchanged, &p.Counts.Failed,
		&p.Done, &p.StartedAt, &p.UpdatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	} else if err != nil {
		return nil, fmt.Errorf("read import progress: %w", unavailable(err))
	}
	return &p, nil
}

// SaveImportProgressTx records p in tx, the transaction of the batch it counts. A new
// fingerprint for the same file replaces the old record (the file changed: start over).
func (db *DB) SaveImportProgressTx(ctx context.Context, tx pgx.Tx, p *ImportProgress) error {
	_, err := tx.Exec(ctx, `
		INSERT INTO import_progress AS p (workspace_id, kind, source, fingerprint, byte_offset, line,
			created, updated, unchanged, failed, done)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
		ON CONFLICT (workspace_id, kind, source) DO UPDATE SET fingerprint = EXCLUDED.fingerprint,
			byte_offset = EXCLUDED.byte_offset, line = EXCLUDED.line, created = EXCLUDED.created,
			updated = EXCLUDED.updated, unchanged = EXCLUDED.unchanged, failed = EXCLUDED.failed, done = EXCLUDED.done,
			started_at = CASE WHEN p.done OR p.fingerprint <> EXCLUDED.fingerprint THEN now() ELSE p.started_at END,
			updated_at = now()`,
		p.WorkspaceID, p.Kind, p.Source, p.Fingerprint, p.Offset, p.Line,
		p.Counts.Created, p.Counts.Updated, p.Counts.Unchanged, p.Counts.Failed, p.Done)
	if err != nil {
		return fmt.Errorf("save import progress: %w", err)
	}
	return nil
}
