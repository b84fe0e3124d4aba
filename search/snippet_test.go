package search

import (
	"strings"
	"testing"

	"github.com/nubiq/hub/searchindex"
)

func TestSnippet(t *testing.T) {
	m := searchindex.DocumentsMapping()
	long := strings.Repeat("Filler words about nothing in particular. ", 20)
	tests := []struct {
		name, analyzer, text, query string
		max                         int
		want                        string
	}{
		{"stems match across forms", "en", "The installer installed the agent.", "installing agents", 200,
			"The **installer** **installed** the **agent**."},
		{"no match gives the start", "en", "Refunds take five days to arrive.", "password", 200,
			"Refunds take five days to arrive."},
		{"cut around the best passage", "en", long + "Reset your password from the login page. " + long, "reset password", 80,
			"…Filler words about nothing in particular. **Reset** your **password** from the login page.…"},
		{"whitespace collapses", "en", "Line one\n\n  line two\tpassword", "password", 200,
			"Line one line two **password**"},
		{"French stemming", "fr", "Les utilisateurs changent leur mot de passe.", "utilisateur", 200,
			"Les **utilisateurs** changent leur mot de passe."},
		{"whole words only", "en", "Passwords and passwordless sign-in.", "password", 200,
			"**Passwords** and passwordless sign-in."},
		{"stop words are not marked", "en", "The cat and the hat.", "the cat", 200,
			"The **cat** and the hat."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Snippet(m, tt.analyzer, tt.text, queryTerms(m, tt.analyzer, tt.query), tt.max)
			if got != tt.want {
				t.Errorf("Snippet = %q\n            want %q", got, tt.want)
			}
		})
	}
}
