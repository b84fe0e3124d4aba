// Package mcp is Nubiq Hub's MCP server: the tool registry, key authentication, scopes, plan
// rate limits and the streamable HTTP handler mounted at /api/mcp/.
package mcp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"

	"github.com/google/jsonschema-go/jsonschema"

	"github.com/nubiq/hub"
)

// ToolSpec describes a tool as clients see it. Descriptions are written for an AI client:
// what the tool does, when to use it, what it returns.
type ToolSpec struct {
	Name        string
	Title       string
	Description string
	Scope       nubiq.Scope
	// Annotations, which must tell the truth: ReadOnly tools change nothing; Destructive
	// write tools may delete or overwrite; Idempotent ones may be repeated safely.
	ReadOnly    bool
	Destructive bool
	Idempotent  bool
	// OpenWorld marks tools that reach outside the workspace (sending messages out).
	OpenWorld bool
}

// Tool is a registered tool: its spec, schemas and typed handler behind a JSON boundary.
type Tool struct {
	ToolSpec
	InputSchema  *jsonschema.Schema
	OutputSchema *jsonschema.Schema
	inputType    reflect.Type
	call         func(ctx context.Context, raw json.RawMessage) (any, error)
}

// NewTool builds a tool from a typed handler. In and Out must be structs. The caller's
// identity is in ctx (nubiq.CallerFromContext); the handler returns *nubiq.Error values for
// business failures, which reach the client as tool errors with their code and message.
func NewTool[In, Out any](spec ToolSpec, h func(ctx context.Context, in In) (Out, error)) *Tool {
	in, err := schemaFor[In]()
	if err != nil {
		panic(fmt.Sprintf("tool %s: input schema: %v", spec.Name, err))
	}
	out, err := schemaFor[Out]()
	if err != nil {
		panic(fmt.Sprintf("tool %s: output schema: %v", spec.Name, err))
	}
	t := &Tool{ToolSpec: spec, InputSchema: in, OutputSchema: out, inputType: reflect.TypeFor[In]()}
	t.call = func(ctx context.Context, raw json.RawMessage) (any, error) {
		var v In
		if err := decodeArgs(raw, &v, in); err != nil {
			return nil, err
		}
		return h(ctx, v)
	}
	return t
}

// Enum restricts a string property (or the items of an array property) to values, so that
// clients see the allowed values in the schema. It returns t for chaining.
func (t *Tool) Enum(property string, values ...string) *Tool {
	p := t.InputSchema.Properties[property]
	if p == nil {
		panic(fmt.Sprintf("tool %s: no property %q", t.Name, property))
	}
	if p.Type == "array" && p.Items != nil {
		p = p.Items
	}
	p.Enum = nil
	for _, v := range values {
		p.Enum = append(p.Enum, v)
	}
	return t
}

// Describe sets a property's description.
func (t *Tool) Describe(property, description string) *Tool {
	p := t.InputSchema.Properties[property]
	if p == nil {
		panic(fmt.Sprintf("tool %s: no property %q", t.Name, property))
	}
	p.Description = description
	return t
}

// Call runs the tool with raw JSON arguments. The caller must already be in ctx.
func (t *Tool) Call(ctx context.Context, raw json.RawMessage) (any, error) { return t.call(ctx, raw) }

// schemaFor infers T's schema and rewrites it to plain types: the inferred schema of a slice,
// map or pointer field is a ["null", T] union, which several clients mishandle.
func schemaFor[T any]() (*jsonschema.Schema, error) {
	s, err := jsonschema.For[T](&jsonschema.ForOptions{})
	if err != nil {
		return nil, err
	}
	plainTypes(s)
	if s.Type != "object" {
		return nil, fmt.Errorf("schema type is %q, want object", s.Type)
	}
	return s, nil
}

func plainTypes(s *jsonschema.Schema) {
	if s == nil {
		return
	}
	if len(s.Types) > 0 {
		var kept []string
		for _, t := range s.Types {
			if t != "null" {
				kept = append(kept, t)
			}
		}
		if len(kept) == 1 {
			s.Type, s.Types = kept[0], nil
		} else {
			s.Types = kept
		}
	}
	plainTypes(s.Items)
	plainTypes(s.AdditionalProperties)
	for _, p := range s.Properties {
		plainTypes(p)
	}
	for _, d := range s.Defs {
		plainTypes(d)
	}
	for _, d := range s.Definitions {
		plainTypes(d)
	}
}

// decodeArgs decodes tool arguments strictly: unknown fields and wrong types are refused with
// the offending field named, and required properties must be present.
func decodeArgs(raw json.RawMessage, v any, schema *jsonschema.Schema) error {
	if len(bytes.TrimSpace(raw)) == 0 || string(bytes.TrimSpace(raw)) == "null" {
		raw = json.RawMessage("{}")
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil {
		return nubiq.Invalidf("arguments", "must be a JSON object")
	}
	for _, req := range schema.Required {
		if val, ok := obj[req]; !ok || string(val) == "null" {
			return nubiq.Invalidf(req, "is required")
		}
	}
	// PostgreSQL text and jsonb cannot hold U+0000; refuse it here, by field, rather than fail
	// deep in a statement. In valid JSON it can only arrive escaped.
	if bytes.Contains(raw, []byte(`\u0000`)) {
		var v any
		if json.Unmarshal(raw, &v) == nil {
			if path, ok := nulPath(v, ""); ok {
				if path == "" {
					path = "arguments"
				}
				return nubiq.Invalidf(path, "must not contain the NUL character (\\u0000)")
			}
		}
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var typeErr *json.UnmarshalTypeError
		switch {
		case errors.As(err, &typeErr):
			field := withoutEmbedded(typeErr.Field, reflect.TypeOf(v))
			if field == "" {
				field = "arguments"
			}
			return nubiq.Invalidf(field, "must be %s, got %s", jsonKind(typeErr.Type), typeErr.Value)
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
			// The decoder names the field but not where it is: a field nested in an object
			// argument would be reported as if it were a top-level one.
			if path, allowed, ok := unknownFieldPath(raw, reflect.TypeOf(v), name, ""); ok {
				return nubiq.Invalidf(path, "unknown field; allowed: %s", strings.Join(allowed, ", "))
			}
			return nubiq.Invalidf(name, "unknown field; allowed: %s", strings.Join(propertyNames(schema), ", "))
		default:
			return nubiq.Invalidf("arguments", "%v", strings.TrimPrefix(err.Error(), "json: "))
		}
	}
	return nil
}

var jsonUnmarshaler = reflect.TypeFor[json.Unmarshaler]()

// unknownFieldPath finds the field called name that the type t does not have, inside raw
// (decoded as t), and returns its path ("pre_chat_fields[1].lable") with the fields allowed in
// the object that holds it.
func unknownFieldPath(raw json.RawMessage, t reflect.Type, name, path string) (string, []string, bool) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if reflect.PointerTo(t).Implements(jsonUnmarshaler) {
		return "", nil, false
	}
	switch t.Kind() {
	case reflect.Struct:
		var obj map[string]json.RawMessage
		if json.Unmarshal(raw, &obj) != nil {
			return "", nil, false
		}
		fields := jsonFields(t)
		keys := slices.Sorted(maps.Keys(obj))
		// This level's own unknown fields first, then the known ones' contents.
		for _, k := range keys {
			if _, ok := fieldType(fields, k); !ok && k == name {
				return joinPath(path, k), slices.Sorted(maps.Keys(fields)), true
			}
		}
		for _, k := range keys {
			if ft, ok := fieldType(fields, k); ok {
				if p, allowed, found := unknownFieldPath(obj[k], ft, name, joinPath(path, k)); found {
					return p, allowed, true
				}
			}
		}
	case reflect.Map:
		var obj map[string]json.RawMessage
		if json.Unmarshal(raw, &obj) != nil {
			return "", nil, false
		}
		for _, k := range slices.Sorted(maps.Keys(obj)) {
			if p, allowed, found := unknownFieldPath(obj[k], t.Elem(), name, joinPath(path, k)); found {
				return p, allowed, true
			}
		}
	case reflect.Slice, reflect.Array:
		var items []json.RawMessage
		if json.Unmarshal(raw, &items) != nil {
			return "", nil, false
		}
		for i, it := range items {
			if p, allowed, found := unknownFieldPath(it, t.Elem(), name, fmt.Sprintf("%s[%d]", path, i)); found {
				return p, allowed, true
			}
		}
	}
	return "", nil, false
}

// fieldType finds a JSON key's field the way the decoder does: exact name, else any
// case-insensitive match.
func fieldType(fields map[string]reflect.Type, key string) (reflect.Type, bool) {
	if ft, ok := fields[key]; ok {
		return ft, true
	}
	for n, ft := range fields {
		if strings.EqualFold(n, key) {
			return ft, true
		}
	}
	return nil, false
}

// nulPath finds a string (value or object key) holding U+0000 in a decoded JSON value.
func nulPath(v any, path string) (string, bool) {
	switch v := v.(type) {
	case string:
		return path, strings.ContainsRune(v, 0)
	case []any:
		for i, e := range v {
			if p, ok := nulPath(e, fmt.Sprintf("%s[%d]", path, i)); ok {
				return p, true
			}
		}
	case map[string]any:
		for _, k := range slices.Sorted(maps.Keys(v)) {
			if strings.ContainsRune(k, 0) {
				return joinPath(path, strings.ReplaceAll(k, "\x00", `\u0000`)), true
			}
			if p, ok := nulPath(v[k], joinPath(path, k)); ok {
				return p, true
			}
		}
	}
	return "", false
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// jsonFields maps the JSON names of a struct's fields, embedded structs' included, to their types.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" {
			et := f.Type
			if et.Kind() == reflect.Pointer {
				et = et.Elem()
			}
			if et.Kind() == reflect.Struct {
				for n, ft := range jsonFields(et) {
					if _, ok := out[n]; !ok {
						out[n] = ft
					}
				}
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[name] = f.Type
	}
	return out
}

// withoutEmbedded drops the names of embedded structs from a decoding error's field path:
// encoding/json reports "conversationFilterIn.channel_id" where the client sent channel_id.
func withoutEmbedded(path string, t reflect.Type) string {
	embedded := map[string]bool{}
	var walk func(reflect.Type)
	walk = func(t reflect.Type) {
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct {
			return
		}
		for i := range t.NumField() {
			if f := t.Field(i); f.Anonymous && !embedded[f.Name] {
				embedded[f.Name] = true
				walk(f.Type)
			}
		}
	}
	walk(t)
	if len(embedded) == 0 {
		return path
	}
	parts := strings.Split(path, ".")
	kept := parts[:0]
	for _, p := range parts {
		if !embedded[p] {
			kept = append(kept, p)
		}
	}
	return strings.Join(kept, ".")
}

func propertyNames(s *jsonschema.Schema) []string {
	names := make([]string, 0, len(s.Properties))
	for n := range s.Properties {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

func jsonKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Map, reflect.Struct:
		return "an object"
	case reflect.Pointer:
		return jsonKind(t.Elem())
	}
	return t.String()
}

// newInput returns a pointer to a new zero value of the tool's input type (for fuzzing).
func newInput(t *Tool) any { return reflect.New(t.inputType).Interface() }
