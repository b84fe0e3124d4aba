package nubiq_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/nubiq/hub"
)

func TestParseRecipient(t *testing.T) {
	for _, tc := range []struct {
		kind, in string
		want     string // normalised address; "" means refused
		conv     int64
	}{
		{"email", "ada@example.com", "ada@example.com", 0},
		{"email", "  Ada Lovelace <ada@example.com> ", "ada@example.com", 0},
		{"email", "ada@localhost", "ada@localhost", 0},
		{"email", "ada@example.com, bob@example.com", "", 0},
		{"email", "ada@example.com\r\nBcc: eve@example.com", "", 0},
		{"email", "not an address", "", 0},
		{"email", "@example.com", "", 0},
		{"email", "ada@[127.0.0.1]", "", 0},
		{"email", "undisclosed-recipients:;", "", 0},
		{"email", "", "", 0},
		{"sms", "+14155550100", "+14155550100", 0},
		{"sms", "+1 (415) 555-0100", "+14155550100", 0},
		{"whatsapp", "+33.6.12.34.56.78", "+33612345678", 0},
		{"sms", "+1234567", "", 0},           // 7 digits
		{"sms", "+12345678", "+12345678", 0}, // 8 digits
		{"sms", "+123456789012345", "+123456789012345", 0},
		{"sms", "+1234567890123456", "", 0}, // 16 digits
		{"sms", "14155550100", "", 0},       // no +
		{"sms", "+04155550100", "", 0},      // country codes do not start with 0
		{"whatsapp", "+1415555010a", "", 0},
		{"web_widget", "visitor:v_8f3a-19", "visitor:v_8f3a-19", 0},
		{"api", "conversation:42", "conversation:42", 42},
		{"api", "conversation:0", "", 0},
		{"api", "conversation:-3", "", 0},
		{"web_widget", "conversation:abc", "", 0},
		{"web_widget", "visitor:", "", 0},
		{"web_widget", "visitor:has space", "", 0},
		{"api", "ada@example.com", "", 0},
		{"email", "+14155550100", "", 0},
		{"fax", "+14155550100", "", 0},
	} {
		r, err := nubiq.ParseRecipient(tc.kind, tc.in)
		if tc.want == "" {
			require.Error(t, err, "%s %q", tc.kind, tc.in)
			require.Equal(t, "recipient", nubiq.ErrorField(err), "%s %q", tc.kind, tc.in)
			continue
		}
		require.NoError(t, err, "%s %q", tc.kind, tc.in)
		require.Equal(t, tc.want, r.Address, "%s %q", tc.kind, tc.in)
		require.Equal(t, tc.conv, r.ConversationID, "%s %q", tc.kind, tc.in)
	}
}

func TestPublicConfigDropsCredentials(t *testing.T) {
	in := map[string]any{
		"host": "smtp.example.com", "port": 587.0, "smtp_password": "p", "webhook_secret": "s",
		"nested": map[string]any{"api_key": "k", "region": "eu", "list": []any{map[string]any{"Token": "t", "x": 1.0}}},
	}
	got := nubiq.PublicConfig(in)
	require.Equal(t, map[string]any{
		"host": "smtp.example.com", "port": 587.0,
		"nested": map[string]any{"region": "eu", "list": []any{map[string]any{"x": 1.0}}},
	}, got)
	require.Equal(t, "p", in["smtp_password"], "the input is not modified")
}

func TestDeliveryDriver(t *testing.T) {
	want := map[string]string{"email": "smtp", "sms": "webhook", "whatsapp": "webhook", "api": "webhook", "web_widget": "webhook"}
	for _, k := range nubiq.ChannelKinds {
		require.Equal(t, want[k], nubiq.DeliveryDriver(k), k)
	}
}
