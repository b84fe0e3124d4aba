package nubiq_test

import (
	"strings"
	"testing"

	"github.com/nubiq/hub"
)

func TestConversationTransitions(t *testing.T) {
	const ok = ""
	// want[from][to]: "" allowed, otherwise the error code and a fragment of the rule named.
	type refusal struct{ code, rule string }
	allowed := refusal{}
	final := refusal{nubiq.ECodeConflict, "closed is final"}
	reopenFirst := refusal{nubiq.ECodeConflict, "can only be reopened (status open) or closed"}
	want := map[string]map[string]refusal{
		"open":     {"open": allowed, "pending": allowed, "snoozed": allowed, "resolved": allowed, "closed": allowed},
		"pending":  {"open": allowed, "pending": allowed, "snoozed": allowed, "resolved": allowed, "closed": allowed},
		"snoozed":  {"open": allowed, "pending": allowed, "snoozed": allowed, "resolved": allowed, "closed": allowed},
		"resolved": {"open": allowed, "pending": reopenFirst, "snoozed": reopenFirst, "resolved": allowed, "closed": allowed},
		"closed":   {"open": final, "pending": final, "snoozed": final, "resolved": final, "closed": allowed},
	}
	for _, from := range nubiq.ConversationStatuses {
		for _, to := range nubiq.ConversationStatuses {
			w := want[from][to]
			err := nubiq.CheckConversationTransition(from, to)
			if w.code == ok {
				if err != nil {
					t.Errorf("%s → %s: refused (%v), want allowed", from, to, err)
				}
				continue
			}
			if nubiq.ErrorCode(err) != w.code || !strings.Contains(nubiq.ErrorMessage(err), w.rule) {
				t.Errorf("%s → %s: err = %v, want %s naming %q", from, to, err, w.code, w.rule)
			}
		}
	}
	for _, bad := range []string{"", "archived", "Open"} {
		if err := nubiq.CheckConversationTransition("open", bad); nubiq.ErrorField(err) != "status" {
			t.Errorf("open → %q: err = %v, want invalid status", bad, err)
		}
	}
}

func TestParseAssigneeFilter(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want nubiq.AssigneeFilter
		ok   bool
	}{
		{"", nubiq.AssigneeFilter{}, true},
		{"unassigned", nubiq.AssigneeFilter{Kind: "unassigned"}, true},
		{" Member:12 ", nubiq.AssigneeFilter{Kind: "member", ID: 12}, true},
		{"team:3", nubiq.AssigneeFilter{Kind: "team", ID: 3}, true},
		{"team:0", nubiq.AssigneeFilter{}, false},
		{"member:-1", nubiq.AssigneeFilter{}, false},
		{"member:", nubiq.AssigneeFilter{}, false},
		{"12", nubiq.AssigneeFilter{}, false},
		{"agent:4", nubiq.AssigneeFilter{}, false},
	} {
		got, err := nubiq.ParseAssigneeFilter("assignee", tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseAssigneeFilter(%q) = %+v, %v", tc.in, got, err)
		}
		if err != nil && nubiq.ErrorField(err) != "assignee" {
			t.Errorf("ParseAssigneeFilter(%q): field %q", tc.in, nubiq.ErrorField(err))
		}
	}
}

func TestNormalizeTags(t *testing.T) {
	got, err := nubiq.NormalizeTags("tags", []string{" VIP", "billing", "vip", "Billing "})
	if err != nil || strings.Join(got, ",") != "vip,billing" {
		t.Fatalf("NormalizeTags = %v, %v", got, err)
	}
	many := make([]string, nubiq.MaxTags+1)
	for i := range many {
		many[i] = strings.Repeat("x", i+1)
	}
	for _, bad := range [][]string{{""}, {"  "}, {strings.Repeat("a", nubiq.MaxTagLen+1)}, many} {
		if _, err := nubiq.NormalizeTags("tags", bad); nubiq.ErrorField(err) != "tags" {
			t.Errorf("NormalizeTags(%d tags): err = %v, want invalid tags", len(bad), err)
		}
	}
	// Duplicates collapse before counting: 21 spellings of one tag are one tag.
	same := make([]string, nubiq.MaxTags+1)
	for i := range same {
		same[i] = "Dup"
	}
	if got, err := nubiq.NormalizeTags("tags", same); err != nil || len(got) != 1 {
		t.Errorf("duplicates: %v, %v", got, err)
	}
	if _, err := nubiq.NormalizeTags("tags", []string{strings.Repeat("é", nubiq.MaxTagLen)}); err != nil {
		t.Errorf("a tag of exactly %d characters (multi-byte) was refused: %v", nubiq.MaxTagLen, err)
	}
}

func TestCheckCustomFields(t *testing.T) {
	tooMany := map[string]string{}
	for i := range nubiq.MaxCustomFields + 1 {
		tooMany[strings.Repeat("k", i+1)] = "v"
	}
	for _, tc := range []struct {
		m          map[string]string
		allowEmpty bool
		ok         bool
	}{
		{nil, false, true},
		{map[string]string{"plan": "pro", "region": "eu"}, false, true},
		{map[string]string{"plan": ""}, false, false},
		{map[string]string{"plan": ""}, true, true},
		{map[string]string{"": "x"}, false, false},
		{map[string]string{" plan": "x"}, false, false},
		{map[string]string{strings.Repeat("k", nubiq.MaxCustomFieldKey+1): "x"}, false, false},
		{map[string]string{"k": strings.Repeat("v", nubiq.MaxCustomFieldValue+1)}, false, false},
		{tooMany, false, false},
	} {
		err := nubiq.CheckCustomFields("custom_fields", tc.m, tc.allowEmpty)
		if (err == nil) != tc.ok || (err != nil && nubiq.ErrorField(err) != "custom_fields") {
			t.Errorf("CheckCustomFields(%d keys, allowEmpty=%v) = %v", len(tc.m), tc.allowEmpty, err)
		}
	}
}
