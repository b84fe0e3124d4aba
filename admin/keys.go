package admin

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/nubiq/hub"
	"github.com/nubiq/hub/postgres"
)

// expiryChoices are the lifetimes the create form offers, in days, besides a date.
var expiryChoices = []int{30, 90, 365}

const defaultExpiryDays = 90

// keyForm is the create-key form as submitted.
type keyForm struct {
	Name   string
	Scopes map[nubiq.Scope]bool
	Expiry string // a number of days from expiryChoices, or "date"
	Date   string // YYYY-MM-DD when Expiry is "date"
}

// parsedKey is a valid create-key request.
type parsedKey struct {
	Name      string
	Scopes    []nubiq.Scope
	ExpiresAt time.Time
}

// parseKeyForm validates the create-key form at now against the maximum lifetime. It returns
// the form as submitted (to show it again), and either the key to create or the problems by
// field (name, scopes, expiry, date).
func parseKeyForm(v url.Values, now time.Time, maxLife time.Duration) (keyForm, *parsedKey, map[string]string) {
	now = now.UTC()
	f := keyForm{
		Name:   strings.TrimSpace(v.Get("name")),
		Scopes: map[nubiq.Scope]bool{},
		Expiry: v.Get("expiry"),
		Date:   strings.TrimSpace(v.Get("date")),
	}
	errs := map[string]string{}
	switch n := utf8.RuneCountInString(f.Name); {
	case n == 0:
		errs["name"] = "Enter a name, such as the tool or person the key is for."
	case n > 200:
		errs["name"] = fmt.Sprintf("The name must be at most 200 characters; it has %d.", n)
	case !utf8.ValidString(f.Name) || strings.IndexFunc(f.Name, unicode.IsControl) >= 0:
		errs["name"] = "The name must be plain text without control characters."
	}
	var scopes []nubiq.Scope
	for _, s := range v["scope"] {
		sc := nubiq.Scope(s)
		if !sc.Valid() {
			errs["scopes"] = fmt.Sprintf("%q is not a scope.", s)
			continue
		}
		f.Scopes[sc] = true
	}
	for _, s := range nubiq.AllScopes {
		if f.Scopes[s] {
			scopes = append(scopes, s)
		}
	}
	if len(scopes) == 0 && errs["scopes"] == "" {
		errs["scopes"] = "Choose at least one scope."
	}
	latest := now.Add(maxLife)
	var expires time.Time
	switch f.Expiry {
	case "":
		errs["expiry"] = "Choose when the key expires."
	case "date":
		d, err := time.Parse(time.DateOnly, f.Date)
		switch {
		case f.Date == "":
			errs["date"] = "Enter the date the key expires."
		case err != nil:
			errs["date"] = "Enter the date as YYYY-MM-DD."
		case !d.After(now):
			errs["date"] = "The date must be in the future."
		case d.After(latest):
			errs["date"] = fmt.Sprintf("Keys may live at most %s; choose a date no later than %s.", lifetime(maxLife), latest.Format(time.DateOnly))
		default:
			expires = d
		}
	default:
		days := 0
		for _, c := range expiryChoices {
			if fmt.Sprint(c) == f.Expiry {
				days = c
			}
		}
		switch {
		case days == 0:
			errs["expiry"] = "Choose one of the offered expiry periods or a date."
		case time.Duration(days)*24*time.Hour > maxLife:
			errs["expiry"] = fmt.Sprintf("Keys may live at most %s.", lifetime(maxLife))
		default:
			expires = now.Add(time.Duration(days) * 24 * time.Hour).Truncate(time.Second)
		}
	}
	if len(errs) > 0 {
		return f, nil, errs
	}
	return f, &parsedKey{Name: f.Name, Scopes: scopes, ExpiresAt: expires}, nil
}

func lifetime(d time.Duration) string {
	if d%(24*time.Hour) == 0 {
		if days := int(d / (24 * time.Hour)); days == 1 {
			return "1 day"
		} else {
			return fmt.Sprintf("%d days", days)
		}
	}
	return d.String()
}

type scopeOption struct {
	Scope       string
	ID          string
	Access      string
	Description string
	Checked     bool
}

type scopeGroup struct {
	Domain string
	Scopes []scopeOption
}

// scopeGroups groups the scopes by domain, in the order of the public contract.
func scopeGroups(checked map[nubiq.Scope]bool) []scopeGroup {
	var groups []scopeGroup
	for _, s := range nubiq.AllScopes {
		domain, access, _ := strings.Cut(string(s), ":")
		name := strings.ToUpper(domain[:1]) + domain[1:]
		if len(groups) == 0 || groups[len(groups)-1].Domain != name {
			groups = append(groups, scopeGroup{Domain: name})
		}
		g := &groups[len(groups)-1]
		g.Scopes = append(g.Scopes, scopeOption{
			Scope: string(s), ID: "scope-" + domain + "-" + access, Access: access,
			Description: nubiq.ScopeDescriptions[s], Checked: checked[s],
		})
	}
	return groups
}

type expiryOption struct {
	Value   string
	Label   string
	Until   string
	Checked bool
}

type newKeyData struct {
	Form     keyForm
	Errors   map[string]string
	Groups   []scopeGroup
	Expiries []expiryOption
	MinDate  string
	MaxDate  string
	MaxLife  string
}

func (h *Handler) newKeyData(f keyForm, errs map[string]string) newKeyData {
	now := h.now()
	d := newKeyData{Form: f, Errors: errs, Groups: scopeGroups(f.Scopes), MaxLife: lifetime(h.cfg.KeyMaxLifetime),
		MinDate: now.AddDate(0, 0, 1).Format(time.DateOnly), MaxDate: now.Add(h.cfg.KeyMaxLifetime).Format(time.DateOnly)}
	for _, days := range expiryChoices {
		dur := time.Duration(days) * 24 * time.Hour
		if dur > h.cfg.KeyMaxLifetime {
			continue
		}
		v := fmt.Sprint(days)
		d.Expiries = append(d.Expiries, expiryOption{Value: v, Label: fmt.Sprintf("%d days", days),
			Until: now.Add(dur).Format(time.DateOnly), Checked: f.Expiry == v})
	}
	return d
}

func (h *Handler) newKeyPage(w http.ResponseWriter, r *http.Request, s *postgres.AdminSession) {
	f := keyForm{Scopes: map[nubiq.Scope]bool{}, Expiry: fmt.Sprint(defaultExpiryDays)}
	if time.Duration(defaultExpiryDays)*24*time.Hour > h.cfg.KeyMaxLifetime {
		f.Expiry = "date"
	}
	h.render(w, http.StatusOK, "key_new", page{Title: "Create API key", Nav: "keys", Session: s, Data: h.newKeyData(f, nil)})
}

type keyCreatedData struct {
	Key      *nubiq.APIKey
	Secret   string
	Endpoint string
}

func (h *Handler) createKey(w http.ResponseWriter, r *http.Request, s *postgres.AdminSession) {
	f, k, errs := parseKeyForm(r.PostForm, h.now(), h.cfg.KeyMaxLifetime)
	if errs != nil {
		h.render(w, http.StatusBadRequest, "key_new", page{Title: "Create API key", Nav: "keys", Session: s, Data: h.newKeyData(f, errs)})
		return
	}
	key, secret, err := h.db.CreateAPIKey(r.Context(), postgres.CreateKeyParams{
		WorkspaceID: s.WorkspaceID, Name: k.Name, Scopes: k.Scopes, ExpiresAt: k.ExpiresAt, CreatedBy: s.Email,
	})
	if err != nil {
		if nubiq.ErrorCode(err) == nubiq.ECodeInvalid {
			field := nubiq.ErrorField(err)
			if field == "expires_at" {
				field = "expiry"
			}
			h.render(w, http.StatusBadRequest, "key_new", page{Title: "Create API key", Nav: "keys", Session: s,
				Data: h.newKeyData(f, map[string]string{field: nubiq.ErrorMessage(err)})})
			return
		}
		h.renderError(w, r, s, err)
		return
	}
	h.audit(r.Context(), s, "api_key.create", fmt.Sprintf("api_key:%d", key.ID))
	scheme := "http"
	if h.secure(r) {
		scheme = "https"
	}
	h.render(w, http.StatusCreated, "key_created", page{Title: "API key created", Nav: "keys", Session: s,
		Data: keyCreatedData{Key: key, Secret: secret, Endpoint: scheme + "://" + r.Host + "/api/mcp/"}})
}

type keyRow struct {
	*nubiq.APIKey
	Status    string
	AllScopes bool
}

type keysData struct {
	Keys    []keyRow
	Revoked *nubiq.APIKey
}

func (h *Handler) keyRows(r *http.Request, s *postgres.AdminSession) ([]keyRow, error) {
	keys, err := h.db.ListAPIKeys(r.Context(), s.WorkspaceID)
	if err != nil {
		return nil, err
	}
	now := h.now()
	rows := make([]keyRow, len(keys))
	for i, k := range keys {
		rows[i] = keyRow{APIKey: k, Status: k.Status(now), AllScopes: len(k.Scopes) == len(nubiq.AllScopes)}
	}
	return rows, nil
}

func (h *Handler) keysPage(w http.ResponseWriter, r *http.Request, s *postgres.AdminSession) {
	rows, err := h.keyRows(r, s)
	if err != nil {
		h.renderError(w, r, s, err)
		return
	}
	d := keysData{Keys: rows}
	if id := r.URL.Query().Get("revoked"); id != "" {
		for _, k := range rows {
			if fmt.Sprint(k.ID) == id {
				d.Revoked = k.APIKey
			}
		}
	}
	h.render(w, http.StatusOK, "keys", page{Title: "API keys", Nav: "keys", Session: s, Data: d})
}

func (h *Handler) findKey(r *http.Request, s *postgres.AdminSession) (*keyRow, error) {
	id, err := pathID(r, "id")
	if err != nil {
		return nil, err
	}
	rows, err := h.keyRows(r, s)
	if err != nil {
		return nil, err
	}
	for i := range rows {
		if rows[i].ID == id {
			return &rows[i], nil
		}
	}
	return nil, nubiq.NotFoundf("there is no API key %d in this workspace", id)
}

func (h *Handler) revokeKeyPage(w http.ResponseWriter, r *http.Request, s *postgres.AdminSession) {
	k, err := h.findKey(r, s)
	if err != nil {
		h.renderError(w, r, s, err)
		return
	}
	h.render(w, http.StatusOK, "key_revoke", page{Title: "Revoke API key", Nav: "keys", Session: s, Data: k})
}

func (h *Handler) revokeKey(w http.ResponseWriter, r *http.Request, s *postgres.AdminSession) {
	id, err := pathID(r, "id")
	if err != nil {
		h.renderError(w, r, s, err)
		return
	}
	k, err := h.db.RevokeAPIKey(r.Context(), s.WorkspaceID, id)
	if err != nil {
		h.renderError(w, r, s, err)
		return
	}
	h.audit(r.Context(), s, "api_key.revoke", fmt.Sprintf("api_key:%d", k.ID))
	http.Redirect(w, r, fmt.Sprintf("/admin/settings/api-keys?revoked=%d", k.ID), http.StatusSeeOther)
}
