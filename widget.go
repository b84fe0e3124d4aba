package nubiq

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
	_ "time/tzdata" // business hours name IANA zones; the binary must not depend on the host's zoneinfo
	"unicode/utf8"
)

// Widget is a chat widget configuration, usually tied to a web_widget channel.
type Widget struct {
	ID        int64          `json:"id"`
	Name      string         `json:"name"`
	ChannelID int64          `json:"channel_id,omitempty"`
	Settings  WidgetSettings `json:"settings"`
	CreatedAt time.Time      `json:"created_at"`
	UpdatedAt time.Time      `json:"updated_at"`
}

// WidgetSettings are what a widget looks like and when and where it shows.
type WidgetSettings struct {
	Colour         string         `json:"colour" jsonschema:"accent colour, #RRGGBB"`
	Position       string         `json:"position" jsonschema:"corner of the page: bottom-right or bottom-left"`
	Greeting       string         `json:"greeting" jsonschema:"first message shown to visitors"`
	LauncherText   string         `json:"launcher_text" jsonschema:"label of the launcher button; empty shows the icon only"`
	AllowedDomains []string       `json:"allowed_domains" jsonschema:"host names the widget may load on; empty allows any"`
	BusinessHours  *BusinessHours `json:"business_hours,omitempty" jsonschema:"opening hours; absent means always open"`
	PreChatFields  []PreChatField `json:"pre_chat_fields" jsonschema:"fields visitors fill in before chatting"`
}

// BusinessHours are a widget's opening hours in one time zone; a day not listed is closed.
type BusinessHours struct {
	Timezone string    `json:"timezone,omitempty" jsonschema:"IANA time zone such as Europe/Paris"`
	Days     *WeekDays `json:"days,omitempty" jsonschema:"opening hours per day; days left out are closed"`
}

// WeekDays holds opening hours per day of the week.
type WeekDays struct {
	Mon *OpeningHours `json:"mon,omitempty"`
	Tue *OpeningHours `json:"tue,omitempty"`
	Wed *OpeningHours `json:"wed,omitempty"`
	Thu *OpeningHours `json:"thu,omitempty"`
	Fri *OpeningHours `json:"fri,omitempty"`
	Sat *OpeningHours `json:"sat,omitempty"`
	Sun *OpeningHours `json:"sun,omitempty"`
}

func (w *WeekDays) each(f func(day string, h *OpeningHours) error) error {
	for _, d := range []struct {
		name string
		h    *OpeningHours
	}{{"mon", w.Mon}, {"tue", w.Tue}, {"wed", w.Wed}, {"thu", w.Thu}, {"fri", w.Fri}, {"sat", w.Sat}, {"sun", w.Sun}} {
		if d.h != nil {
			if err := f(d.name, d.h); err != nil {
				return err
			}
		}
	}
	return nil
}

// OpeningHours is one day's opening time and closing time, HH:MM in the widget's time zone.
type OpeningHours struct {
	Open  string `json:"open" jsonschema:"opening time, HH:MM (24-hour)"`
	Close string `json:"close" jsonschema:"closing time, HH:MM (24-hour, 24:00 for midnight), after open"`
}

// PreChatField is a question asked before a chat starts.
type PreChatField struct {
	Name     string   `json:"name" jsonschema:"machine name: lower-case letters, digits and _, starting with a letter"`
	Label    string   `json:"label" jsonschema:"what the visitor sees"`
	Type     string   `json:"type" jsonschema:"text, email, phone or select"`
	Required bool     `json:"required,omitempty" jsonschema:"whether the visitor must answer"`
	Options  []string `json:"options,omitempty" jsonschema:"choices; required for select, refused for other types"`
}

// Widget setting limits and values.
const (
	MaxGreeting       = 280
	MaxLauncherText   = 40
	MaxAllowedDomains = 50
	MaxPreChatFields  = 10
	MaxSelectOptions  = 50
	DefaultColour     = "#2563eb"
	DefaultPosition   = "bottom-right"
)

// WidgetPositions and PreChatFieldTypes list the allowed values.
var (
	WidgetPositions   = []string{"bottom-right", "bottom-left"}
	PreChatFieldTypes = []string{"text", "email", "phone", "select"}
)

// WithDefaults fills what a stored configuration leaves out, so that clients always see a
// complete configuration.
func (s WidgetSettings) WithDefaults() WidgetSettings {
	if s.Colour == "" {
		s.Colour = DefaultColour
	}
	if s.Position == "" {
		s.Position = DefaultPosition
	}
	if s.AllowedDomains == nil {
		s.AllowedDomains = []string{}
	}
	if s.PreChatFields == nil {
		s.PreChatFields = []PreChatField{}
	}
	return s
}

// WidgetPatch is a partial update: nil fields stay as they are. An empty AllowedDomains or
// PreChatFields slice (not nil) clears the list; a BusinessHours with neither time zone nor days
// removes business hours (always open).
type WidgetPatch struct {
	Name           *string
	Colour         *string
	Position       *string
	Greeting       *string
	LauncherText   *string
	AllowedDomains []string
	BusinessHours  *BusinessHours
	PreChatFields  []PreChatField
}

// Empty reports whether the patch changes nothing.
func (p *WidgetPatch) Empty() bool {
	return p.Name == nil && p.Colour == nil && p.Position == nil && p.Greeting == nil && p.LauncherText == nil &&
		p.AllowedDomains == nil && p.BusinessHours == nil && p.PreChatFields == nil
}

var (
	colourRe       = regexp.MustCompile(`^#[0-9A-Fa-f]{6}$`)
	hhmmRe         = regexp.MustCompile(`^([01][0-9]|2[0-3]):[0-5][0-9]$`)
	fieldNameRe    = regexp.MustCompile(`^[a-z][a-z0-9_]{0,39}$`)
	hostLabelRe    = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
	textWithoutNUL = func(s string) bool { return utf8.ValidString(s) && !strings.ContainsRune(s, 0) }
)

// Validate checks every field the patch sets and normalises them in place (colour to lower
// case, domains to lower case without duplicates, trimmed text). Errors name the field, with
// its path for nested values (business_hours.days.mon.open, pre_chat_fields[1].options).
func (p *WidgetPatch) Validate() error {
	if p.Name != nil {
		n := strings.TrimSpace(*p.Name)
		if n == "" || utf8.RuneCountInString(n) > 200 || !textWithoutNUL(n) {
			return Invalidf("name", "must be 1 to 200 characters")
		}
		p.Name = &n
	}
	if p.Colour != nil {
		c := strings.TrimSpace(*p.Colour)
		if !colourRe.MatchString(c) {
			return Invalidf("colour", "must be a hex colour #RRGGBB such as #2563eb, got %q", *p.Colour)
		}
		c = strings.ToLower(c)
		p.Colour = &c
	}
	if p.Position != nil && !slices.Contains(WidgetPositions, *p.Position) {
		return Invalidf("position", "must be one of %s, got %q", strings.Join(WidgetPositions, ", "), *p.Position)
	}
	if p.Greeting != nil {
		g := strings.TrimSpace(*p.Greeting)
		if n := utf8.RuneCountInString(g); n > MaxGreeting || !textWithoutNUL(g) {
			return Invalidf("greeting", "must be at most %d characters, got %d", MaxGreeting, n)
		}
		p.Greeting = &g
	}
	if p.LauncherText != nil {
		l := strings.TrimSpace(*p.LauncherText)
		if n := utf8.RuneCountInString(l); n > MaxLauncherText || !textWithoutNUL(l) || strings.ContainsAny(l, "\r\n") {
			return Invalidf("launcher_text", "must be one line of at most %d characters, got %d", MaxLauncherText, n)
		}
		p.LauncherText = &l
	}
	if p.AllowedDomains != nil {
		if len(p.AllowedDomains) > MaxAllowedDomains {
			return Invalidf("allowed_domains", "at most %d domains, got %d", MaxAllowedDomains, len(p.AllowedDomains))
		}
		out := make([]string, 0, len(p.AllowedDomains))
		for i, d := range p.AllowedDomains {
			h, err := ParseAllowedDomain(d)
			if err != nil {
				return Invalidf(fmt.Sprintf("allowed_domains[%d]", i), "%s", err.(*Error).Message)
			}
			if !slices.Contains(out, h) {
				out = append(out, h)
			}
		}
		p.AllowedDomains = out
	}
	if p.BusinessHours != nil {
		if err := p.BusinessHours.validate(); err != nil {
			return err
		}
	}
	if p.PreChatFields != nil {
		if err := validatePreChatFields(p.PreChatFields); err != nil {
			return err
		}
	}
	return nil
}

// Apply returns s with the patch's fields set. The patch must have been validated.
func (s WidgetSettings) Apply(p *WidgetPatch) WidgetSettings {
	if p.Colour != nil {
		s.Colour = *p.Colour
	}
	if p.Position != nil {
		s.Position = *p.Position
	}
	if p.Greeting != nil {
		s.Greeting = *p.Greeting
	}
	if p.LauncherText != nil {
		s.LauncherText = *p.LauncherText
	}
	if p.AllowedDomains != nil {
		s.AllowedDomains = p.AllowedDomains
	}
	if p.BusinessHours != nil {
		if p.BusinessHours.cleared() {
			s.BusinessHours = nil
		} else {
			bh := *p.BusinessHours
			s.BusinessHours = &bh
		}
	}
	if p.PreChatFields != nil {
		s.PreChatFields = p.PreChatFields
	}
	return s
}

// ParseAllowedDomain validates a host name a widget may load on: a DNS name of letter, digit
// and hyphen labels, optionally starting with "*." for every subdomain. Schemes, ports, paths
// and IP literals with ports are refused. The result is lower case.
func ParseAllowedDomain(s string) (string, error) {
	h := strings.ToLower(strings.TrimSpace(s))
	bad := func(why string) (string, error) {
		return "", Invalidf("allowed_domains", "%s; give a bare host name such as example.com or *.example.com, got %q", why, s)
	}
	switch {
	case h == "":
		return bad("empty")
	case strings.Contains(h, "://"):
		return bad("no scheme allowed")
	case strings.ContainsAny(h, "/?#"):
		return bad("no path allowed")
	case strings.Contains(h, ":"):
		return bad("no port allowed")
	case len(h) > 253:
		return bad("longer than 253 characters")
	}
	name := strings.TrimSuffix(strings.TrimPrefix(h, "*."), ".")
	for _, label := range strings.Split(name, ".") {
		if !hostLabelRe.MatchString(label) {
			return bad("not a valid host name")
		}
	}
	if strings.HasPrefix(h, "*.") {
		return "*." + name, nil
	}
	return name, nil
}

func (b *BusinessHours) cleared() bool { return b.Timezone == "" && b.Days == nil }

func (b *BusinessHours) validate() error {
	if b.cleared() {
		return nil
	}
	if b.Timezone == "" {
		return Invalidf("business_hours.timezone", "is required with days; use an IANA time zone such as Europe/Paris (or pass business_hours as {} to remove business hours)")
	}
	if b.Timezone == "Local" || (!strings.Contains(b.Timezone, "/") && b.Timezone != "UTC") {
		return Invalidf("business_hours.timezone", "must be an IANA time zone such as Europe/Paris or UTC, got %q", b.Timezone)
	}
	if _, err := time.LoadLocation(b.Timezone); err != nil {
		return Invalidf("business_hours.timezone", "unknown time zone %q; use an IANA name such as America/New_York", b.Timezone)
	}
	if b.Days == nil {
		return Invalidf("business_hours.days", "is required with a time zone: give opening hours for at least one day (mon..sun)")
	}
	open := 0
	err := b.Days.each(func(day string, h *OpeningHours) error {
		open++
		f := "business_hours.days." + day
		if !hhmmRe.MatchString(h.Open) {
			return Invalidf(f+".open", "must be HH:MM between 00:00 and 23:59, got %q", h.Open)
		}
		if !hhmmRe.MatchString(h.Close) && h.Close != "24:00" {
			return Invalidf(f+".close", "must be HH:MM between 00:01 and 24:00, got %q", h.Close)
		}
		if h.Open >= h.Close {
			return Invalidf(f+".close", "must be after open (%s), got %s", h.Open, h.Close)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if open == 0 {
		return Invalidf("business_hours.days", "give opening hours for at least one day (mon..sun)")
	}
	return nil
}

func validatePreChatFields(fields []PreChatField) error {
	if len(fields) > MaxPreChatFields {
		return Invalidf("pre_chat_fields", "at most %d fields, got %d", MaxPreChatFields, len(fields))
	}
	seen := map[string]bool{}
	for i := range fields {
		f := &fields[i]
		path := fmt.Sprintf("pre_chat_fields[%d]", i)
		if !fieldNameRe.MatchString(f.Name) {
			return Invalidf(path+".name", "must be 1 to 40 lower-case letters, digits or _, starting with a letter, got %q", f.Name)
		}
		if seen[f.Name] {
			return Invalidf(path+".name", "%q is used by another field; names must be unique", f.Name)
		}
		seen[f.Name] = true
		f.Label = strings.TrimSpace(f.Label)
		if n := utf8.RuneCountInString(f.Label); n == 0 || n > 100 || !textWithoutNUL(f.Label) {
			return Invalidf(path+".label", "must be 1 to 100 characters")
		}
		if !slices.Contains(PreChatFieldTypes, f.Type) {
			return Invalidf(path+".type", "must be one of %s, got %q", strings.Join(PreChatFieldTypes, ", "), f.Type)
		}
		if f.Type != "select" {
			if len(f.Options) > 0 {
				return Invalidf(path+".options", "only select fields take options")
			}
			f.Options = nil
			continue
		}
		if len(f.Options) == 0 || len(f.Options) > MaxSelectOptions {
			return Invalidf(path+".options", "a select field needs 1 to %d options, got %d", MaxSelectOptions, len(f.Options))
		}
		var opts []string
		for j, o := range f.Options {
			o = strings.TrimSpace(o)
			if n := utf8.RuneCountInString(o); n == 0 || n > 100 || !textWithoutNUL(o) {
				return Invalidf(fmt.Sprintf("%s.options[%d]", path, j), "must be 1 to 100 characters")
			}
			if slices.Contains(opts, o) {
				return Invalidf(fmt.Sprintf("%s.options[%d]", path, j), "%q is listed twice", o)
			}
			opts = append(opts, o)
		}
		f.Options = opts
	}
	return nil
}
