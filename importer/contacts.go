package importer

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/nubiq/hub/postgres"
)

// contactField maps a column or key name (normalised: lower case, spaces and dashes as
// underscores) to the contact field it fills.
var contactField = map[string]string{
	"external_id": "external_id", "externalid": "external_id", "id": "external_id", "contact_id": "external_id",
	"name": "name", "full_name": "name", "fullname": "name", "display_name": "name",
	"first_name": "first_name", "firstname": "first_name", "given_name": "first_name",
	"last_name": "last_name", "lastname": "last_name", "surname": "last_name", "family_name": "last_name",
	"email": "email", "email_address": "email", "e_mail": "email", "mail": "email",
	"phone": "phone", "phone_number": "phone", "telephone": "phone", "mobile": "phone", "tel": "phone",
	"company": "company", "company_name": "company", "organization": "company", "organisation": "company",
	"custom_attributes": "attributes", "attributes": "attributes",
}

func normName(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	return strings.NewReplacer(" ", "_", "-", "_", ".", "_").Replace(s)
}

// contactHeader is a CSV header: for each column, the contact field it fills, or "" for a
// custom attribute named by the column's own header.
type contactHeader struct {
	fields []string
	names  []string
}

func parseContactHeader(data []byte) (*contactHeader, error) {
	cols, err := parseCSV(string(data))
	if err != nil {
		return nil, fmt.Errorf("header: %w", err)
	}
	h := &contactHeader{fields: make([]string, len(cols)), names: make([]string, len(cols))}
	seen := map[string]int{}
	known := false
	for i, c := range cols {
		name := strings.TrimSpace(c)
		if name == "" {
			return nil, fmt.Errorf("header: column %d has no name", i+1)
		}
		n := normName(name)
		if j, ok := seen[n]; ok {
			return nil, fmt.Errorf("header: columns %d and %d are both %q", j+1, i+1, name)
		}
		seen[n] = i
		f := contactField[n]
		if f == "attributes" {
			f = "" // a column literally named attributes is one more attribute
		}
		known = known || f == "external_id" || f == "email"
		h.fields[i] = f
		h.names[i] = name
	}
	if !known {
		return nil, fmt.Errorf("header: needs an external_id or an email column to identify contacts (columns: %s)", strings.Join(cols, ", "))
	}
	return h, nil
}

// contactFromCSV builds a contact from a CSV record. Columns present in the header set their
// field (an empty cell clears it); unknown columns with a value become custom attributes.
func contactFromCSV(h *contactHeader, data []byte) (postgres.ImportContact, error) {
	var c postgres.ImportContact
	cells, err := parseCSV(string(data))
	if err != nil {
		return c, err
	}
	if len(cells) != len(h.fields) {
		return c, fmt.Errorf("has %d fields, the header has %d", len(cells), len(h.fields))
	}
	var first, last *string
	for i, v := range cells {
		v = strings.TrimSpace(v)
		switch h.fields[i] {
		case "external_id":
			c.ExternalID = v
		case "name":
			c.Name = &v
		case "first_name":
			first = &v
		case "last_name":
			last = &v
		case "email":
			c.Email = &v
		case "phone":
			c.Phone = &v
		case "company":
			c.Company = &v
		default:
			if v != "" {
				if c.Attributes == nil {
					c.Attributes = map[string]any{}
				}
				c.Attributes[h.names[i]] = v
			}
		}
	}
	if c.Name == nil && (first != nil || last != nil) {
		n := strings.TrimSpace(deref(first) + " " + deref(last))
		c.Name = &n
	}
	return c, validateContact(&c)
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// contactFromJSON builds a contact from a JSON object. Keys are mapped like CSV columns;
// "custom_attributes" (an object) and unknown keys become custom attributes. A null or empty
// string clears a field; an absent key keeps it.
func contactFromJSON(data []byte) (postgres.ImportContact, error) {
	var c postgres.ImportContact
	var obj map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&obj); err != nil {
		return c, fmt.Errorf("not a JSON object: %w", jsonErr(err))
	}
	if dec.More() {
		return c, fmt.Errorf("more than one JSON value on the line")
	}
	var first, last *string
	for k, raw := range obj {
		f := contactField[normName(k)]
		if f == "attributes" {
			var attrs map[string]any
			if err := json.Unmarshal(raw, &attrs); err != nil {
				return c, fmt.Errorf("%s: must be an object", k)
			}
			for ak, av := range attrs {
				if c.Attributes == nil {
					c.Attributes = map[string]any{}
				}
				c.Attributes[ak] = av
			}
			continue
		}
		if f == "" {
			var v any
			if err := json.Unmarshal(raw, &v); err != nil {
				return c, fmt.Errorf("%s: %w", k, err)
			}
			if v != nil {
				if c.Attributes == nil {
					c.Attributes = map[string]any{}
				}
				c.Attributes[k] = v
			}
			continue
		}
		s, err := jsonString(k, raw)
		if err != nil {
			return c, err
		}
		switch f {
		case "external_id":
			c.ExternalID = s
		case "name":
			c.Name = &s
		case "first_name":
			first = &s
		case "last_name":
			last = &s
		case "email":
			c.Email = &s
		case "phone":
			c.Phone = &s
		case "company":
			c.Company = &s
		}
	}
	if c.Name == nil && (first != nil || last != nil) {
		n := strings.TrimSpace(deref(first) + " " + deref(last))
		c.Name = &n
	}
	return c, validateContact(&c)
}

// jsonString reads a string (numbers are accepted as their text, for ids); null is "".
func jsonString(field string, raw json.RawMessage) (string, error) {
	raw = bytes.TrimSpace(raw)
	if string(raw) == "null" {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return strings.TrimSpace(s), nil
	}
	var n json.Number
	if err := json.Unmarshal(raw, &n); err == nil {
		return n.String(), nil
	}
	return "", fmt.Errorf("%s: must be a string", field)
}

var emailRE = regexp.MustCompile(`^[^@\s,;<>"]+@[^@\s,;<>"]+\.[^@\s,;<>".]+$`)

func validEmail(s string) bool { return len(s) <= 320 && emailRE.MatchString(s) }

var phoneSeparators = strings.NewReplacer(" ", "", "-", "", ".", "", "(", "", ")", "", "\u00a0", "")

var e164 = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)

// normalizePhone returns the E.164 form of a number written with a country code and common
// separators ("+44 20 7946-0958" → "+442079460958"); anything else is kept as written.
func normalizePhone(s string) string {
	p := phoneSeparators.Replace(s)
	if strings.HasPrefix(p, "00") {
		p = "+" + p[2:]
	}
	if e164.MatchString(p) {
		return p
	}
	return s
}

func validateContact(c *postgres.ImportContact) error {
	if c.ExternalID == "" && (c.Email == nil || *c.Email == "") {
		return fmt.Errorf("needs an external_id or an email to identify the contact")
	}
	if err := checkText("external_id", c.ExternalID, 255); err != nil {
		return err
	}
	if c.Email != nil && *c.Email != "" && !validEmail(*c.Email) {
		return fmt.Errorf("email: %q is not an email address", *c.Email)
	}
	if c.Phone != nil && *c.Phone != "" {
		p := normalizePhone(*c.Phone)
		c.Phone = &p
		if err := checkText("phone", p, 50); err != nil {
			return err
		}
	}
	for _, f := range []struct {
		name string
		v    *string
	}{{"name", c.Name}, {"company", c.Company}} {
		if f.v != nil {
			if err := checkText(f.name, *f.v, 500); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkText refuses invalid UTF-8, NUL bytes (PostgreSQL text cannot hold them) and values
// longer than max characters.
func checkText(field, s string, max int) error {
	if !utf8.ValidString(s) {
		return fmt.Errorf("%s: not valid UTF-8", field)
	}
	if strings.IndexByte(s, 0) >= 0 {
		return fmt.Errorf("%s: contains a NUL character", field)
	}
	if max > 0 && utf8.RuneCountInString(s) > max {
		return fmt.Errorf("%s: longer than %d characters", field, max)
	}
	return nil
}

// jsonErr shortens encoding/json's messages.
func jsonErr(err error) error {
	var se *json.SyntaxError
	if e, ok := err.(*json.SyntaxError); ok {
		se = e
		return fmt.Errorf("%s (at byte %d)", se.Error(), se.Offset)
	}
	return err
}
