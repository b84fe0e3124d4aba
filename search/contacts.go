package search

import (
	"context"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/mapping"
	"github.com/blevesearch/bleve/v2/search/query"

	"github.com/nubiq/hub"
	"github.com/nubiq/hub/searchindex"
)

// Contact search limits.
const (
	DefaultContactLimit = 20
	MaxContactLimit     = 100
	// minPhoneDigits is the shortest phone query: fewer digits match too many numbers.
	minPhoneDigits = 6
	// phoneSuffixDigits is how many trailing digits a phone query compares, so that a number
	// typed with its country code finds one stored without it, and the other way round.
	phoneSuffixDigits = 9
)

// Contacts finds contacts by email, phone, name, company or custom attributes, or by a free
// query across all of them. Every given criterion must match.
func (s *Service) Contacts(ctx context.Context, workspaceID int64, p nubiq.ContactSearch) (*nubiq.ContactSearchResult, error) {
	clauses, err := contactClauses(s.cfg.Indexes.Contacts, &p)
	if err != nil {
		return nil, err
	}
	ix := s.cfg.Indexes.Contacts
	out := &nubiq.ContactSearchResult{Results: []nubiq.ContactHit{}, IndexRebuilding: ix.Rebuilding()}
	if clauses == nil {
		return out, nil // criteria that cannot match anything (a name of punctuation only)
	}
	clauses = append([]query.Query{term(searchindex.ContactFieldWorkspace, strconv.FormatInt(workspaceID, 10))}, clauses...)
	req := bleve.NewSearchRequestOptions(query.NewConjunctionQuery(clauses), p.Limit+10, 0, false)
	req.SortBy([]string{"-_score", "_id"})
	res, err := ix.Search(ctx, req)
	if err != nil {
		return nil, err
	}
	ids := make([]int64, 0, len(res.Hits))
	for _, h := range res.Hits {
		if id, err := strconv.ParseInt(h.ID, 10, 64); err == nil {
			ids = append(ids, id)
		}
	}
	rows, err := s.cfg.DB.ContactsByID(ctx, workspaceID, ids)
	if err != nil {
		return nil, err
	}
	for i, id := range ids {
		if len(out.Results) == p.Limit {
			break
		}
		c := rows[id]
		if c == nil {
			continue // deleted since this node indexed it
		}
		out.Results = append(out.Results, nubiq.ContactHit{Contact: *c, Score: res.Hits[i].Score})
	}
	return out, nil
}

// contactClauses validates the criteria and turns each into a query clause. It returns nil
// clauses (and no error) when a criterion has no searchable words.
func contactClauses(ix *searchindex.Index, p *nubiq.ContactSearch) ([]query.Query, error) {
	trim := func(field string, v *string) error {
		*v = strings.TrimSpace(*v)
		if !utf8.ValidString(*v) {
			return nubiq.Invalidf(field, "must be valid UTF-8 text")
		}
		if utf8.RuneCountInString(*v) > 500 {
			return nubiq.Invalidf(field, "must be at most 500 characters")
		}
		return nil
	}
	for field, v := range map[string]*string{"query": &p.Query, "email": &p.Email, "phone": &p.Phone, "name": &p.Name, "company": &p.Company} {
		if err := trim(field, v); err != nil {
			return nil, err
		}
	}
	if p.Query == "" && p.Email == "" && p.Phone == "" && p.Name == "" && p.Company == "" && len(p.Attributes) == 0 {
		return nil, nubiq.Invalidf("query", "give a query or at least one of email, phone, name, company, attributes")
	}
	switch {
	case p.Limit == 0:
		p.Limit = DefaultContactLimit
	case p.Limit < 1 || p.Limit > MaxContactLimit:
		return nil, nubiq.Invalidf("limit", "must be between 1 and %d, got %d", MaxContactLimit, p.Limit)
	}
	if len(p.Attributes) > 20 {
		return nil, nubiq.Invalidf("attributes", "at most 20 keys, got %d", len(p.Attributes))
	}

	m := ix.Mapping()
	var clauses []query.Query
	empty := false
	if p.Email != "" {
		q, err := emailQuery(p.Email)
		if err != nil {
			return nil, err
		}
		clauses = append(clauses, q)
	}
	if p.Phone != "" {
		q, err := phoneQuery(p.Phone)
		if err != nil {
			return nil, err
		}
		clauses = append(clauses, q)
	}
	if p.Name != "" {
		q := wordsQuery(m, p.Name, []string{searchindex.ContactFieldName})
		empty = empty || q == nil
		clauses = append(clauses, q)
	}
	if p.Company != "" {
		exact := query.NewTermQuery(searchindex.Fold(p.Company))
		exact.SetField(searchindex.ContactFieldCompanyKey)
		exact.SetBoost(3)
		words := wordsQuery(m, p.Company, []string{searchindex.ContactFieldCompany})
		if words == nil {
			clauses = append(clauses, exact)
		} else {
			clauses = append(clauses, query.NewDisjunctionQuery([]query.Query{exact, words}))
		}
	}
	for k, v := range p.Attributes {
		if strings.TrimSpace(k) == "" {
			return nil, nubiq.Invalidf("attributes", "keys must not be empty")
		}
		q := query.NewTermQuery(searchindex.Fold(k + "=" + v))
		q.SetField(searchindex.ContactFieldAttr)
		clauses = append(clauses, q)
	}
	if p.Query != "" {
		q := freeContactQuery(m, p.Query)
		empty = empty || q == nil
		clauses = append(clauses, q)
	}
	if empty {
		return nil, nil
	}
	return clauses, nil
}

func emailQuery(v string) (query.Query, error) {
	v = strings.ToLower(v)
	if strings.HasPrefix(v, "@") {
		d := strings.Trim(v[1:], ".")
		if d == "" || !strings.Contains(d, ".") || strings.ContainsAny(d, " @") {
			return nil, nubiq.Invalidf("email", "a domain is written like @example.com, got %q", v)
		}
		q := query.NewTermQuery(d)
		q.SetField(searchindex.ContactFieldDomain)
		return q, nil
	}
	at := strings.LastIndexByte(v, '@')
	if at <= 0 || at == len(v)-1 || strings.ContainsAny(v, " ") {
		return nil, nubiq.Invalidf("email", "give a whole address like ana@example.com or a domain like @example.com, got %q", v)
	}
	q := query.NewTermQuery(v)
	q.SetField(searchindex.ContactFieldEmail)
	return q, nil
}

// phoneQuery matches the number's E.164 form exactly, or its last digits, so that
// "(415) 555-0123" finds "+14155550123" and "+44 20 7946 0958" finds "020 7946 0958".
func phoneQuery(v string) (query.Query, error) {
	for _, r := range v {
		if !strings.ContainsRune("0123456789+-.() /\u00a0xXeEtT#;", r) && !(r >= '０' && r <= '９') {
			return nil, nubiq.Invalidf("phone", "must be a phone number (digits, spaces, +, -, ., parentheses), got %q", v)
		}
	}
	digits := nubiq.PhoneDigits(v)
	if len(digits) < minPhoneDigits {
		return nil, nubiq.Invalidf("phone", "needs at least %d digits, got %q", minPhoneDigits, v)
	}
	suffix := query.NewPrefixQuery(searchindex.Reverse(digits[max(0, len(digits)-phoneSuffixDigits):]))
	suffix.SetField(searchindex.ContactFieldPhoneRev)
	if e, ok := nubiq.NormalizePhone(v, ""); ok {
		exact := query.NewTermQuery(e)
		exact.SetField(searchindex.ContactFieldPhone)
		exact.SetBoost(2)
		return query.NewDisjunctionQuery([]query.Query{exact, suffix}), nil
	}
	return suffix, nil
}

// wordsQuery requires every word of text in one of fields, each word matched exactly
// (scoring highest), as a prefix, or with a typo (edit distance 1, or 2 for words of seven
// letters or more). Words are folded like the index: case and accents do not matter. It
// returns nil when text has no words.
func wordsQuery(m *mapping.IndexMappingImpl, text string, fields []string) query.Query {
	words := searchindex.Terms(m, searchindex.AnalyzerFolded, text)
	if len(words) == 0 {
		return nil
	}
	perWord := make([]query.Query, 0, len(words))
	for _, w := range words {
		var alts []query.Query
		n := utf8.RuneCountInString(w)
		for _, f := range fields {
			exact := query.NewTermQuery(w)
			exact.SetField(f)
			exact.SetBoost(3)
			alts = append(alts, exact)
			if n >= 2 {
				pq := query.NewPrefixQuery(w)
				pq.SetField(f)
				pq.SetBoost(1.5)
				alts = append(alts, pq)
			}
			if fz := fuzziness(n); fz > 0 {
				fq := query.NewFuzzyQuery(w)
				fq.SetField(f)
				fq.SetFuzziness(fz)
				alts = append(alts, fq)
			}
		}
		perWord = append(perWord, query.NewDisjunctionQuery(alts))
	}
	if len(perWord) == 1 {
		return perWord[0]
	}
	return query.NewConjunctionQuery(perWord)
}

func fuzziness(runes int) int {
	switch {
	case runes >= 7:
		return 2
	case runes >= 4:
		return 1
	}
	return 0
}

// freeContactQuery matches a query against every contact field: an address or domain
// against emails, a number against phones, an exact external id, and otherwise its words
// against names, companies, email words and attribute values.
func freeContactQuery(m *mapping.IndexMappingImpl, q string) query.Query {
	var alts []query.Query
	if strings.Contains(q, "@") && !strings.Contains(q, " ") {
		if eq, err := emailQuery(q); err == nil {
			eq.(query.BoostableQuery).SetBoost(5)
			alts = append(alts, eq)
		}
	}
	if looksLikePhone(q) {
		if pq, err := phoneQuery(q); err == nil {
			pq.(query.BoostableQuery).SetBoost(5)
			alts = append(alts, pq)
		}
	}
	ext := query.NewTermQuery(q)
	ext.SetField(searchindex.ContactFieldExternalID)
	ext.SetBoost(5)
	alts = append(alts, ext)
	if words := wordsQuery(m, q, []string{searchindex.ContactFieldName, searchindex.ContactFieldCompany,
		searchindex.ContactFieldEmailText, searchindex.ContactFieldAttrText}); words != nil {
		alts = append(alts, words)
	}
	return query.NewDisjunctionQuery(alts)
}

func looksLikePhone(q string) bool {
	digits := 0
	for _, r := range q {
		switch {
		case r >= '0' && r <= '9':
			digits++
		case strings.ContainsRune("+-.() ", r):
		default:
			return false
		}
	}
	return digits >= minPhoneDigits
}
