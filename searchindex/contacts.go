package searchindex

import (
	"context"
	"strings"

	"github.com/blevesearch/bleve/v2/analysis/char/asciifolding"
	"github.com/blevesearch/bleve/v2/mapping"

	"github.com/nubiq/hub"
	"github.com/nubiq/hub/postgres"
)

// Fields of the contacts index: one bleve document per contact, id = contact id in decimal.
const (
	ContactFieldWorkspace  = "ws"
	ContactFieldName       = "name"        // folded text
	ContactFieldEmail      = "email"       // keyword, lowercased
	ContactFieldDomain     = "domain"      // keyword: the email's domain and its parent domains
	ContactFieldEmailText  = "email_text"  // folded text: the email's words
	ContactFieldPhone      = "phone"       // keyword: E.164
	ContactFieldPhoneRev   = "phone_rev"   // keyword: digits reversed, for suffix matches
	ContactFieldCompany    = "company"     // folded text
	ContactFieldCompanyKey = "company_key" // keyword: Fold(company)
	ContactFieldAttr       = "attr"        // keyword: Fold("key=value") per custom attribute
	ContactFieldAttrText   = "attr_text"   // folded text: custom attribute values
	ContactFieldExternalID = "external_id" // keyword
)

// ContactFields lists every field of the contacts index that a query may touch.
var ContactFields = []string{ContactFieldWorkspace, ContactFieldName, ContactFieldEmail, ContactFieldDomain,
	ContactFieldEmailText, ContactFieldPhone, ContactFieldPhoneRev, ContactFieldCompany, ContactFieldCompanyKey,
	ContactFieldAttr, ContactFieldAttrText, ContactFieldExternalID}

var contactsSpec = &spec{
	name:    Contacts,
	version: 1,
	kinds:   []string{"contact"},
	fields:  ContactFields,
	mapping: contactsMapping(),
	apply:   applyContacts,
	scan:    scanContacts,
}

func contactsMapping() *mapping.IndexMappingImpl {
	im := newIndexMapping()
	dm := mapping.NewDocumentStaticMapping()
	for _, f := range []string{ContactFieldWorkspace, ContactFieldEmail, ContactFieldDomain, ContactFieldPhone,
		ContactFieldPhoneRev, ContactFieldCompanyKey, ContactFieldAttr, ContactFieldExternalID} {
		dm.AddFieldMappingsAt(f, keywordField(false))
	}
	for _, f := range []string{ContactFieldName, ContactFieldEmailText, ContactFieldCompany, ContactFieldAttrText} {
		dm.AddFieldMappingsAt(f, textField(AnalyzerFolded))
	}
	dm.AddFieldMappingsAt(fieldLens, lensField())
	im.DefaultMapping = dm
	return im
}

var folder = asciifolding.New()

// Fold lowercases s, folds accents ("José" → "jose") and collapses runs of spaces: the form
// in which exact-match contact fields are indexed and compared.
func Fold(s string) string {
	return strings.Join(strings.Fields(strings.ToLower(string(folder.Filter([]byte(s))))), " ")
}

// EmailDomains returns the domain of an email address and its parent domains of at least two
// labels ("mail.example.com", "example.com"), lowercased.
func EmailDomains(email string) []string {
	at := strings.LastIndexByte(email, '@')
	if at < 0 {
		return nil
	}
	d := strings.Trim(strings.ToLower(email[at+1:]), ".")
	var out []string
	for strings.Count(d, ".") >= 1 {
		out = append(out, d)
		d = d[strings.IndexByte(d, '.')+1:]
	}
	return out
}

// Reverse reverses a string of ASCII digits.
func Reverse(s string) string {
	b := []byte(s)
	for i, j := 0, len(b)-1; i < j; i, j = i+1, j-1 {
		b[i], b[j] = b[j], b[i]
	}
	return string(b)
}

func putContact(w *writer, c *postgres.IndexContact) error {
	doc := map[string]any{
		ContactFieldWorkspace: id10(c.WorkspaceID),
		ContactFieldName:      c.Name,
		ContactFieldCompany:   c.Company,
	}
	if c.Company != "" {
		doc[ContactFieldCompanyKey] = Fold(c.Company)
	}
	if c.ExternalID != "" {
		doc[ContactFieldExternalID] = c.ExternalID
	}
	if c.Email != "" {
		doc[ContactFieldEmail] = strings.ToLower(c.Email)
		doc[ContactFieldDomain] = EmailDomains(c.Email)
		doc[ContactFieldEmailText] = c.Email
	}
	if c.Phone != "" {
		if e, ok := nubiq.NormalizePhone(c.Phone, ""); ok {
			doc[ContactFieldPhone] = e
		}
		if d := nubiq.PhoneDigits(c.Phone); d != "" {
			doc[ContactFieldPhoneRev] = Reverse(d)
		}
	}
	var attrs, attrText []string
	for _, t := range MetadataTerms(c.CustomAttributes) {
		attrs = append(attrs, Fold(t))
		_, v, _ := strings.Cut(t, "=")
		attrText = append(attrText, v)
	}
	if len(attrs) > 0 {
		doc[ContactFieldAttr] = attrs
		doc[ContactFieldAttrText] = strings.Join(attrText, "\n")
	}
	m := w.ix.spec.mapping
	lens := map[string]int{
		ContactFieldName:      tokenCount(m, AnalyzerFolded, c.Name),
		ContactFieldCompany:   tokenCount(m, AnalyzerFolded, c.Company),
		ContactFieldEmailText: tokenCount(m, AnalyzerFolded, c.Email),
		ContactFieldAttrText:  tokenCount(m, AnalyzerFolded, strings.Join(attrText, "\n")),
	}
	return w.put(id10(c.ID), doc, lens)
}

func applyContacts(ctx context.Context, w *writer, entries []postgres.IndexLogEntry) error {
	for ws, list := range groupByWorkspace(entries) {
		var up []int64
		for _, e := range list {
			if e.Op == "upsert" {
				up = append(up, e.EntityID)
			} else if err := w.delete(id10(e.EntityID)); err != nil {
				return err
			}
		}
		if len(up) == 0 {
			continue
		}
		contacts, err := w.ix.cfg.DB.IndexContacts(ctx, ws, up)
		if err != nil {
			return err
		}
		found := map[int64]bool{}
		for i := range contacts {
			found[contacts[i].ID] = true
			if err := putContact(w, &contacts[i]); err != nil {
				return err
			}
		}
		for _, id := range up {
			if !found[id] {
				if err := w.delete(id10(id)); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func scanContacts(ctx context.Context, w *writer, ws int64) error {
	const size = 1000
	return scanPages(ctx, size, func(after int64) (int64, int, error) {
		contacts, err := w.ix.cfg.DB.IndexContactsPage(ctx, ws, after, size)
		if err != nil || len(contacts) == 0 {
			return after, 0, err
		}
		for i := range contacts {
			if err := putContact(w, &contacts[i]); err != nil {
				return 0, 0, err
			}
		}
		return contacts[len(contacts)-1].ID, len(contacts), nil
	})
}
