package nubiq

import "testing"

func TestNormalizePhone(t *testing.T) {
	tests := []struct {
		in, cc string
		want   string
		ok     bool
	}{
		{"+1 415-555-0123", "", "+14155550123", true},
		{"+1 (415) 555.0123", "", "+14155550123", true},
		{"0044 20 7946 0958", "", "+442079460958", true},
		{"+44 (0)20 7946 0958", "", "+442079460958", true},
		{"+33 1 23 45 67 89 ext. 12", "", "+33123456789", true},
		{"+1 415 555 0123 x7", "", "+14155550123", true},
		{"＋１ ４１５ ５５５ ０１２３", "", "", false}, // full-width plus is not a prefix
		{"+１４１５５５５０１２３", "", "+14155550123", true},
		{"(415) 555-0123", "", "", false},
		{"(415) 555-0123", "1", "+14155550123", true},
		{"1-415-555-0123", "1", "+14155550123", true},
		{"020 7946 0958", "44", "+442079460958", true},
		{"+49 30 1234567", "", "+49301234567", true},
		{"+1 555", "", "", false},
		{"+1234567890123456", "", "", false},
		{"call me maybe", "", "", false},
		{"+0 123 456 789", "", "", false},
		{"", "1", "", false},
	}
	for _, tt := range tests {
		got, ok := NormalizePhone(tt.in, tt.cc)
		if got != tt.want || ok != tt.ok {
			t.Errorf("NormalizePhone(%q, %q) = %q, %v; want %q, %v", tt.in, tt.cc, got, ok, tt.want, tt.ok)
		}
	}
}

func TestPhoneDigits(t *testing.T) {
	tests := map[string]string{
		"+1 (415) 555-0123":   "14155550123",
		"020 7946 0958":       "2079460958",
		"+44 (0)20 7946 0958": "442079460958",
		"555 0123 ext 9":      "5550123",
	}
	for in, want := range tests {
		if got := PhoneDigits(in); got != want {
			t.Errorf("PhoneDigits(%q) = %q, want %q", in, got, want)
		}
	}
}
