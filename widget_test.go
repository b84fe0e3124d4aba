package nubiq_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/nubiq/hub"
)

func widgetStr(v string) *string { return &v }

func TestWidgetPatchValidate(t *testing.T) {
	hours := func(tz string, days *nubiq.WeekDays) *nubiq.BusinessHours {
		return &nubiq.BusinessHours{Timezone: tz, Days: days}
	}
	day := func(open, close string) *nubiq.OpeningHours { return &nubiq.OpeningHours{Open: open, Close: close} }
	many := func(n int, s string) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = strings.Repeat("a", i+1) + s
		}
		return out
	}
	for _, tc := range []struct {
		name  string
		patch nubiq.WidgetPatch
		field string // "" means valid
	}{
		{"colour ok", nubiq.WidgetPatch{Colour: widgetStr("#A1b2C3")}, ""},
		{"colour short", nubiq.WidgetPatch{Colour: widgetStr("#abc")}, "colour"},
		{"colour named", nubiq.WidgetPatch{Colour: widgetStr("red")}, "colour"},
		{"colour no hash", nubiq.WidgetPatch{Colour: widgetStr("a1b2c3")}, "colour"},
		{"position ok", nubiq.WidgetPatch{Position: widgetStr("bottom-left")}, ""},
		{"position bad", nubiq.WidgetPatch{Position: widgetStr("top-left")}, "position"},
		{"greeting 280", nubiq.WidgetPatch{Greeting: widgetStr(strings.Repeat("é", 280))}, ""},
		{"greeting 281", nubiq.WidgetPatch{Greeting: widgetStr(strings.Repeat("é", 281))}, "greeting"},
		{"launcher 40", nubiq.WidgetPatch{LauncherText: widgetStr(strings.Repeat("x", 40))}, ""},
		{"launcher 41", nubiq.WidgetPatch{LauncherText: widgetStr(strings.Repeat("x", 41))}, "launcher_text"},
		{"launcher newline", nubiq.WidgetPatch{LauncherText: widgetStr("a\nb")}, "launcher_text"},
		{"launcher empty", nubiq.WidgetPatch{LauncherText: widgetStr("")}, ""},
		{"name empty", nubiq.WidgetPatch{Name: widgetStr(" ")}, "name"},
		{"domains ok", nubiq.WidgetPatch{AllowedDomains: []string{"Example.com", "*.shop.example.com", "localhost", "example.com."}}, ""},
		{"domains clear", nubiq.WidgetPatch{AllowedDomains: []string{}}, ""},
		{"domain scheme", nubiq.WidgetPatch{AllowedDomains: []string{"example.com", "https://example.com"}}, "allowed_domains[1]"},
		{"domain path", nubiq.WidgetPatch{AllowedDomains: []string{"example.com/help"}}, "allowed_domains[0]"},
		{"domain port", nubiq.WidgetPatch{AllowedDomains: []string{"example.com:8080"}}, "allowed_domains[0]"},
		{"domain label", nubiq.WidgetPatch{AllowedDomains: []string{"-bad.example.com"}}, "allowed_domains[0]"},
		{"domain underscore", nubiq.WidgetPatch{AllowedDomains: []string{"a_b.example.com"}}, "allowed_domains[0]"},
		{"domain inner wildcard", nubiq.WidgetPatch{AllowedDomains: []string{"a.*.example.com"}}, "allowed_domains[0]"},
		{"domain empty", nubiq.WidgetPatch{AllowedDomains: []string{""}}, "allowed_domains[0]"},
		{"domains 50", nubiq.WidgetPatch{AllowedDomains: many(50, ".example.com")}, ""},
		{"domains 51", nubiq.WidgetPatch{AllowedDomains: many(51, ".example.com")}, "allowed_domains"},
		{"hours ok", nubiq.WidgetPatch{BusinessHours: hours("Europe/Paris", &nubiq.WeekDays{Mon: day("09:00", "17:30"), Sat: day("00:00", "24:00")})}, ""},
		{"hours clear", nubiq.WidgetPatch{BusinessHours: &nubiq.BusinessHours{}}, ""},
		{"hours utc", nubiq.WidgetPatch{BusinessHours: hours("UTC", &nubiq.WeekDays{Fri: day("08:00", "12:00")})}, ""},
		{"hours unknown zone", nubiq.WidgetPatch{BusinessHours: hours("Mars/Olympus", &nubiq.WeekDays{Mon: day("09:00", "17:00")})}, "business_hours.timezone"},
		{"hours local zone", nubiq.WidgetPatch{BusinessHours: hours("Local", &nubiq.WeekDays{Mon: day("09:00", "17:00")})}, "business_hours.timezone"},
		{"hours no zone", nubiq.WidgetPatch{BusinessHours: hours("", &nubiq.WeekDays{Mon: day("09:00", "17:00")})}, "business_hours.timezone"},
		{"hours no days", nubiq.WidgetPatch{BusinessHours: hours("Europe/Paris", nil)}, "business_hours.days"},
		{"hours empty days", nubiq.WidgetPatch{BusinessHours: hours("Europe/Paris", &nubiq.WeekDays{})}, "business_hours.days"},
		{"hours bad open", nubiq.WidgetPatch{BusinessHours: hours("Europe/Paris", &nubiq.WeekDays{Tue: day("9:00", "17:00")})}, "business_hours.days.tue.open"},
		{"hours bad close", nubiq.WidgetPatch{BusinessHours: hours("Europe/Paris", &nubiq.WeekDays{Wed: day("09:00", "24:30")})}, "business_hours.days.wed.close"},
		{"hours close before open", nubiq.WidgetPatch{BusinessHours: hours("Europe/Paris", &nubiq.WeekDays{Sun: day("17:00", "09:00")})}, "business_hours.days.sun.close"},
		{"hours equal", nubiq.WidgetPatch{BusinessHours: hours("Europe/Paris", &nubiq.WeekDays{Thu: day("09:00", "09:00")})}, "business_hours.days.thu.close"},
		{"fields ok", nubiq.WidgetPatch{PreChatFields: []nubiq.PreChatField{
			{Name: "email", Label: "Email", Type: "email", Required: true},
			{Name: "topic", Label: "Topic", Type: "select", Options: []string{"Billing", "Bugs"}},
		}}, ""},
		{"fields clear", nubiq.WidgetPatch{PreChatFields: []nubiq.PreChatField{}}, ""},
		{"field name", nubiq.WidgetPatch{PreChatFields: []nubiq.PreChatField{{Name: "Email", Label: "E", Type: "email"}}}, "pre_chat_fields[0].name"},
		{"field dup", nubiq.WidgetPatch{PreChatFields: []nubiq.PreChatField{{Name: "a", Label: "A", Type: "text"}, {Name: "a", Label: "B", Type: "text"}}}, "pre_chat_fields[1].name"},
		{"field label", nubiq.WidgetPatch{PreChatFields: []nubiq.PreChatField{{Name: "a", Label: "", Type: "text"}}}, "pre_chat_fields[0].label"},
		{"field type", nubiq.WidgetPatch{PreChatFields: []nubiq.PreChatField{{Name: "a", Label: "A", Type: "date"}}}, "pre_chat_fields[0].type"},
		{"select without options", nubiq.WidgetPatch{PreChatFields: []nubiq.PreChatField{{Name: "a", Label: "A", Type: "select"}}}, "pre_chat_fields[0].options"},
		{"options on text", nubiq.WidgetPatch{PreChatFields: []nubiq.PreChatField{{Name: "a", Label: "A", Type: "text", Options: []string{"x"}}}}, "pre_chat_fields[0].options"},
		{"option dup", nubiq.WidgetPatch{PreChatFields: []nubiq.PreChatField{{Name: "a", Label: "A", Type: "select", Options: []string{"x", " x"}}}}, "pre_chat_fields[0].options[1]"},
		{"too many fields", nubiq.WidgetPatch{PreChatFields: make([]nubiq.PreChatField, 11)}, "pre_chat_fields"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.patch.Validate()
			if tc.field == "" {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			require.Equal(t, nubiq.ECodeInvalid, nubiq.ErrorCode(err))
			require.Equal(t, tc.field, nubiq.ErrorField(err), "message: %v", err)
		})
	}
}

func TestWidgetPatchNormalisesAndApplies(t *testing.T) {
	p := nubiq.WidgetPatch{
		Colour:         widgetStr("#A1B2C3"),
		AllowedDomains: []string{"Example.com", "example.com", "*.Shop.example.com", "example.org."},
	}
	require.NoError(t, p.Validate())
	s := nubiq.WidgetSettings{Greeting: "Hi", Position: "bottom-left",
		BusinessHours: &nubiq.BusinessHours{Timezone: "UTC", Days: &nubiq.WeekDays{Mon: &nubiq.OpeningHours{Open: "09:00", Close: "17:00"}}}}
	got := s.Apply(&p)
	require.Equal(t, "#a1b2c3", got.Colour)
	require.Equal(t, []string{"example.com", "*.shop.example.com", "example.org"}, got.AllowedDomains)
	require.Equal(t, "Hi", got.Greeting, "settings not in the patch stay")
	require.Equal(t, "bottom-left", got.Position)
	require.NotNil(t, got.BusinessHours)

	clear := nubiq.WidgetPatch{BusinessHours: &nubiq.BusinessHours{}}
	require.NoError(t, clear.Validate())
	require.Nil(t, s.Apply(&clear).BusinessHours, "{} removes business hours")

	d := nubiq.WidgetSettings{}.WithDefaults()
	require.Equal(t, nubiq.DefaultColour, d.Colour)
	require.Equal(t, nubiq.DefaultPosition, d.Position)
	require.NotNil(t, d.AllowedDomains)
	require.NotNil(t, d.PreChatFields)
}
