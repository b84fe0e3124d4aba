package mcp

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/nubiq/hub"
)

type argsInner struct {
	Name string   `json:"name"`
	Tags []string `json:"tags,omitempty"`
	Deep *struct {
		Level int `json:"level"`
	} `json:"deep,omitempty"`
}

type argsEmbedded struct {
	Cursor string `json:"cursor,omitempty"`
}

type argsOuter struct {
	argsEmbedded
	ID     int64                `json:"id"`
	Items  []argsInner          `json:"items,omitempty"`
	ByName map[string]argsInner `json:"by_name,omitempty"`
	One    *argsInner           `json:"one,omitempty"`
	Raw    json.RawMessage      `json:"raw,omitempty"`
}

// Unknown fields are reported where they are, with the fields allowed in that object.
func TestUnknownFieldNamedWithItsPath(t *testing.T) {
	t.Parallel()
	tool := NewTool(ToolSpec{Name: "x.y"}, func(context.Context, argsOuter) (struct{}, error) { return struct{}{}, nil })
	for _, tc := range []struct{ args, field, allowed string }{
		{`{"id":1,"nope":2}`, "nope", "by_name, cursor, id, items, one, raw"},
		{`{"id":1,"items":[{"name":"a"},{"name":"b","lable":"x"}]}`, "items[1].lable", "deep, name, tags"},
		{`{"id":1,"one":{"name":"a","deep":{"level":1,"extra":true}}}`, "one.deep.extra", "level"},
		{`{"id":1,"by_name":{"k":{"NAME":"a","zz":1}}}`, "by_name.k.zz", "deep, name, tags"},
		{`{"id":1,"raw":{"anything":1},"one":{"name":"a","Tags":["t"],"q":1}}`, "one.q", "deep, name, tags"},
	} {
		err := decodeArgs(json.RawMessage(tc.args), new(argsOuter), tool.InputSchema)
		if nubiq.ErrorCode(err) != nubiq.ECodeInvalid || nubiq.ErrorField(err) != tc.field {
			t.Errorf("%s: got %v (field %q), want field %q", tc.args, err, nubiq.ErrorField(err), tc.field)
			continue
		}
		if want := tc.field + ": unknown field; allowed: " + tc.allowed; nubiq.ErrorMessage(err) != want {
			t.Errorf("%s: message %q, want %q", tc.args, nubiq.ErrorMessage(err), want)
		}
	}
	// U+0000, which PostgreSQL text cannot hold, is refused where it is.
	for args, field := range map[string]string{
		`{"id":1,"items":[{"name":"a\u0000b"}]}`:         "items[0].name",
		`{"id":1,"by_name":{"k\u0000":{}}}`:              `by_name.k\u0000`,
		`{"id":1,"raw":{"x":["\u0000"]}}`:                "raw.x[0]",
		`{"id":1,"one":{"name":"a","tags":["\\u0000"]}}`: "",
	} {
		err := decodeArgs(json.RawMessage(args), new(argsOuter), tool.InputSchema)
		if nubiq.ErrorField(err) != field || (field != "" && !strings.Contains(nubiq.ErrorMessage(err), "NUL")) {
			t.Errorf("%s: got %v, want field %q", args, err, field)
		}
	}
	// Accepted as the decoder accepts them: case-insensitive names, anything inside raw JSON.
	if err := decodeArgs(json.RawMessage(`{"id":1,"raw":{"x":{"y":1}},"Items":[{"Name":"a"}]}`), new(argsOuter), tool.InputSchema); err != nil {
		t.Fatal(err)
	}
}
