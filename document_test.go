package nubiq_test

import (
	"strings"
	"testing"

	"github.com/nubiq/hub"
)

func TestDocumentUploadValidate(t *testing.T) {
	ok := func() nubiq.DocumentUpload {
		return nubiq.DocumentUpload{WorkspaceID: 1, Title: "  Title  ", MIMEType: "text/plain", Raw: []byte("x")}
	}
	for _, tc := range []struct {
		name  string
		edit  func(u *nubiq.DocumentUpload)
		field string
	}{
		{"valid", func(u *nubiq.DocumentUpload) {}, ""},
		{"full", func(u *nubiq.DocumentUpload) {
			u.ExternalID, u.SourceURL, u.Language = " kb-1 ", "https://example.com/a?b=c", "pt-BR"
			u.Metadata = map[string]string{"team": "support", "v1.2:x-y_z": strings.Repeat("v", 1000)}
		}, ""},
		{"empty title", func(u *nubiq.DocumentUpload) { u.Title = " " }, "title"},
		{"long title", func(u *nubiq.DocumentUpload) { u.Title = strings.Repeat("é", 501) }, "title"},
		{"title of 500 runes", func(u *nubiq.DocumentUpload) { u.Title = strings.Repeat("é", 500) }, ""},
		{"nul in title", func(u *nubiq.DocumentUpload) { u.Title = "a\x00b" }, "title"},
		{"long external id", func(u *nubiq.DocumentUpload) { u.ExternalID = strings.Repeat("x", 256) }, "external_id"},
		{"relative url", func(u *nubiq.DocumentUpload) { u.SourceURL = "/docs/a" }, "source_url"},
		{"javascript url", func(u *nubiq.DocumentUpload) { u.SourceURL = "javascript:alert(1)" }, "source_url"},
		{"language", func(u *nubiq.DocumentUpload) { u.Language = "en_US" }, "language"},
		{"metadata key", func(u *nubiq.DocumentUpload) { u.Metadata = map[string]string{"-x": "y"} }, "metadata"},
		{"metadata key length", func(u *nubiq.DocumentUpload) { u.Metadata = map[string]string{strings.Repeat("k", 65): "y"} }, "metadata"},
		{"metadata value", func(u *nubiq.DocumentUpload) { u.Metadata = map[string]string{"k": strings.Repeat("v", 1001)} }, "metadata"},
		{"metadata keys", func(u *nubiq.DocumentUpload) {
			u.Metadata = map[string]string{}
			for i := range 51 {
				u.Metadata[strings.Repeat("k", i+1)] = ""
			}
		}, "metadata"},
		{"no type", func(u *nubiq.DocumentUpload) { u.MIMEType = "" }, "mime_type"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := ok()
			tc.edit(&u)
			err := u.Validate()
			if nubiq.ErrorField(err) != tc.field || (tc.field == "") != (err == nil) {
				t.Fatalf("err = %v, want field %q", err, tc.field)
			}
			if err == nil && (u.Title != strings.TrimSpace(u.Title) || u.ExternalID != strings.TrimSpace(u.ExternalID)) {
				t.Fatal("not trimmed")
			}
		})
	}
}

func TestFormatBytes(t *testing.T) {
	for in, want := range map[int64]string{10 << 20: "10 MiB (10485760 bytes)", 2048: "2 KiB (2048 bytes)", 1000: "1000 bytes"} {
		if got := nubiq.FormatBytes(in); got != want {
			t.Errorf("FormatBytes(%d) = %q, want %q", in, got, want)
		}
	}
}
