package searchindex

import (
	"reflect"
	"testing"
)

func TestLanguageAnalyzer(t *testing.T) {
	for in, want := range map[string]string{
		"": "en", "en": "en", "EN-us": "en", "fr": "fr", "pt_BR": "pt", "de-AT": "de", "ja": "cjk", "zh-Hant": "cjk",
		"nb": "no", "xx": "standard", "tlh": "standard",
	} {
		if got := LanguageAnalyzer(in); got != want {
			t.Errorf("LanguageAnalyzer(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestMetadataTerms(t *testing.T) {
	got := MetadataTerms(map[string]any{"plan": "gold", "seats": 12.0, "ratio": 1.5, "beta": true,
		"tags": []any{"a", 2.0, []any{"nested"}}, "obj": map[string]any{"x": "y"}, "none": nil})
	want := []string{"beta=true", "plan=gold", "ratio=1.5", "seats=12", "tags=2", "tags=a"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("MetadataTerms = %q, want %q", got, want)
	}
}

func TestFoldAndDomains(t *testing.T) {
	if got := Fold("  José   ÁLVAREZ "); got != "jose alvarez" {
		t.Errorf("Fold = %q", got)
	}
	if got := EmailDomains("Ana@Mail.Example.COM"); !reflect.DeepEqual(got, []string{"mail.example.com", "example.com"}) {
		t.Errorf("EmailDomains = %q", got)
	}
	if got := EmailDomains("nobody"); got != nil {
		t.Errorf("EmailDomains(no @) = %q", got)
	}
	if got := Reverse("12345"); got != "54321" {
		t.Errorf("Reverse = %q", got)
	}
}

func TestStatsBM25(t *testing.T) {
	s := (*Stats)(nil).clone()
	s.add(map[string]int{"all": 100, "title": 4}, 1)
	s.add(map[string]int{"all": 300, "title": 8}, 1)
	s.add(map[string]int{"all": 300, "title": 8}, -1)
	s.add(map[string]int{"all": 200, "title": 6}, 1)
	if got := s.AvgFieldLength("all"); got != 150 {
		t.Errorf("avg all = %v", got)
	}
	b := s.BM25Stats(2, []string{"all", "title", "ws"})
	// bleve takes ceil(cardinality / docs) as the average length.
	if b.FieldCardinality["all"] != 300 || b.FieldCardinality["title"] != 10 || b.FieldCardinality["ws"] != 2 || b.DocCount != 2 {
		t.Errorf("BM25Stats = %+v", b)
	}
	if got := decodeLens(encodeLens(map[string]int{"all": 7, "title": 2})); !reflect.DeepEqual(got, map[string]int{"all": 7, "title": 2}) {
		t.Errorf("lens round trip = %v", got)
	}
}
