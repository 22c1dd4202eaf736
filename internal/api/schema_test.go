package api_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
)

// openapi.json keeps to a small subset of JSON Schema 2020-12, and this file validates
// exactly that subset. TestOpenAPIUsesTheValidatedSubset refuses any other keyword, so no
// constraint in the document can go unchecked.
var (
	validatedKeywords = []string{"$ref", "type", "required", "properties", "additionalProperties",
		"items", "enum", "format", "minimum", "maximum", "minLength", "maxLength"}
	annotationKeywords = []string{"description", "default"}
	validatedFormats   = []string{"date-time", "uuid"}
)

type document struct {
	root  map[string]any
	paths *http.ServeMux // each path template of the document, for template
}

func parseDocument(raw []byte) (*document, error) {
	var root map[string]any
	if err := json.Unmarshal(raw, &root); err != nil {
		return nil, err
	}
	paths, _ := root["paths"].(map[string]any)
	mux, err := pathMux(slices.Collect(maps.Keys(paths)))
	if err != nil {
		return nil, err
	}
	return &document{root: root, paths: mux}, nil
}

// pathMux registers each template; a ServeMux panics on one that is not a valid pattern or
// that conflicts with another.
func pathMux(templates []string) (mux *http.ServeMux, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("paths: %v", r)
		}
	}()
	mux = http.NewServeMux()
	for _, tmpl := range templates {
		mux.Handle(tmpl, pathItem(tmpl))
	}
	return mux, nil
}

// pathItem is a template of the document as its ServeMux holds it, told apart from the
// mux's own 404 and redirects.
type pathItem string

func (pathItem) ServeHTTP(http.ResponseWriter, *http.Request) {}

// pointer follows a local JSON pointer such as #/components/schemas/Tenant.
func (d *document) pointer(ref string) (map[string]any, error) {
	path, ok := strings.CutPrefix(ref, "#/")
	if !ok {
		return nil, fmt.Errorf("reference %q is not local", ref)
	}
	var node any = d.root
	for _, part := range strings.Split(path, "/") {
		m, ok := node.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("reference %q: %q is not in an object", ref, part)
		}
		if node, ok = m[part]; !ok {
			return nil, fmt.Errorf("reference %q: no %q", ref, part)
		}
	}
	m, ok := node.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("reference %q is not an object", ref)
	}
	return m, nil
}

// resolve follows $ref on a response, parameter or header object.
func (d *document) resolve(node map[string]any) map[string]any {
	for range 10 {
		ref, ok := node["$ref"].(string)
		if !ok {
			return node
		}
		next, err := d.pointer(ref)
		if err != nil {
			panic(err) // TestOpenAPIDocument reports unresolvable references first
		}
		node = next
	}
	panic("reference loop")
}

// validate checks v (decoded with UseNumber) against schema and returns every violation.
func (d *document) validate(schema map[string]any, v any, at string) []string {
	var errs []string
	if ref, ok := schema["$ref"].(string); ok {
		target, err := d.pointer(ref)
		if err != nil {
			return []string{at + ": " + err.Error()}
		}
		errs = append(errs, d.validate(target, v, at)...)
	}
	if t, ok := schema["type"]; ok && !typeMatches(t, v) {
		return append(errs, fmt.Sprintf("%s: %s is not of type %v", at, kind(v), t))
	}
	if enum, ok := schema["enum"].([]any); ok && !slices.Contains(enum, v) {
		errs = append(errs, fmt.Sprintf("%s: %v is not one of %v", at, v, enum))
	}
	switch x := v.(type) {
	case map[string]any:
		props, _ := schema["properties"].(map[string]any)
		for _, r := range asList(schema["required"]) {
			if _, ok := x[r.(string)]; !ok {
				errs = append(errs, fmt.Sprintf("%s: missing required %q", at, r))
			}
		}
		for k, val := range x {
			if ps, ok := props[k].(map[string]any); ok {
				errs = append(errs, d.validate(ps, val, at+"."+k)...)
			} else if schema["additionalProperties"] == false {
				errs = append(errs, fmt.Sprintf("%s: unexpected property %q", at, k))
			}
		}
	case []any:
		if items, ok := schema["items"].(map[string]any); ok {
			for i, item := range x {
				errs = append(errs, d.validate(items, item, fmt.Sprintf("%s[%d]", at, i))...)
			}
		}
	case string:
		errs = append(errs, checkFormat(schema["format"], x, at)...)
		n := float64(utf8.RuneCountInString(x))
		if m, ok := schema["minLength"].(float64); ok && n < m {
			errs = append(errs, fmt.Sprintf("%s: shorter than %v", at, m))
		}
		if m, ok := schema["maxLength"].(float64); ok && n > m {
			errs = append(errs, fmt.Sprintf("%s: longer than %v", at, m))
		}
	case json.Number:
		f, _ := x.Float64()
		if m, ok := schema["minimum"].(float64); ok && f < m {
			errs = append(errs, fmt.Sprintf("%s: %v is below %v", at, x, m))
		}
		if m, ok := schema["maximum"].(float64); ok && f > m {
			errs = append(errs, fmt.Sprintf("%s: %v is above %v", at, x, m))
		}
	}
	return errs
}

// checkFormat asserts formats rather than only annotating them. Our date-times are
// promised in UTC, so an offset other than Z is refused too.
func checkFormat(format any, s, at string) []string {
	switch format {
	case "date-time":
		if _, err := time.Parse(time.RFC3339Nano, s); err != nil || !strings.HasSuffix(s, "Z") {
			return []string{fmt.Sprintf("%s: %q is not an RFC 3339 UTC date-time", at, s)}
		}
	case "uuid":
		if _, err := uuid.Parse(s); err != nil || len(s) != 36 {
			return []string{fmt.Sprintf("%s: %q is not a UUID", at, s)}
		}
	}
	return nil
}

func asList(v any) []any {
	l, _ := v.([]any)
	return l
}

func typeMatches(t, v any) bool {
	if s, ok := t.(string); ok {
		return kind(v) == s || s == "number" && kind(v) == "integer"
	}
	return slices.ContainsFunc(asList(t), func(alt any) bool { return typeMatches(alt, v) })
}

func kind(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case string:
		return "string"
	case json.Number:
		if _, err := x.Int64(); err == nil {
			return "integer"
		}
		return "number"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}

func decodeJSON(s string) (any, error) {
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, fmt.Errorf("trailing data")
	}
	return v, nil
}

// TestSchemaValidator shows the validator refuses what it should, so that a passing
// conformance check means something.
func TestSchemaValidator(t *testing.T) {
	t.Parallel()
	d, err := parseDocument([]byte(`{"components": {"schemas": {
		"Thing": {"type": "object", "additionalProperties": false, "required": ["id", "at"], "properties": {
			"id": {"type": "string", "format": "uuid"},
			"at": {"type": "string", "format": "date-time"},
			"maybe": {"type": ["string", "null"], "format": "date-time"},
			"n": {"type": "integer", "minimum": 1, "maximum": 3},
			"kind": {"type": "string", "enum": ["a", "b"]},
			"name": {"type": "string", "minLength": 2, "maxLength": 3},
			"list": {"type": "array", "items": {"$ref": "#/components/schemas/Item"}}}},
		"Item": {"type": "object", "required": ["ok"], "properties": {"ok": {"type": "boolean"}}}}}}`))
	if err != nil {
		t.Fatal(err)
	}
	thing := map[string]any{"$ref": "#/components/schemas/Thing"}
	const valid = `{"id": "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", "at": "2025-01-02T03:04:05.123456Z"`
	tests := []struct {
		name, body string
		ok         bool
	}{
		{"minimal", valid + `}`, true},
		{"everything", valid + `, "maybe": null, "n": 3, "kind": "b", "name": "éé", "list": [{"ok": true}]}`, true},
		{"nullable set", valid + `, "maybe": "2025-01-02T03:04:05Z"}`, true},
		{"not an object", `[]`, false},
		{"missing required", `{"id": "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"}`, false},
		{"extra property", valid + `, "adminEmail": "x"}`, false},
		{"bad uuid", `{"id": "0190a1b2c3d47e5f8a9b0c1d2e3f4a5b", "at": "2025-01-02T03:04:05Z"}`, false},
		{"offset time", `{"id": "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", "at": "2025-01-02T03:04:05+01:00"}`, false},
		{"not a time", `{"id": "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", "at": "yesterday"}`, false},
		{"null not allowed", `{"id": null, "at": "2025-01-02T03:04:05Z"}`, false},
		{"float for integer", valid + `, "n": 1.5}`, false},
		{"below minimum", valid + `, "n": 0}`, false},
		{"above maximum", valid + `, "n": 4}`, false},
		{"not in enum", valid + `, "kind": "c"}`, false},
		{"too short", valid + `, "name": "é"}`, false},
		{"too long", valid + `, "name": "abcd"}`, false},
		{"bad item", valid + `, "list": [{"ok": "yes"}]}`, false},
		{"item missing required", valid + `, "list": [{}]}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			v, err := decodeJSON(tt.body)
			if err != nil {
				t.Fatal(err)
			}
			errs := d.validate(thing, v, "$")
			if tt.ok != (len(errs) == 0) {
				t.Fatalf("valid = %v, want %v: %v", len(errs) == 0, tt.ok, errs)
			}
		})
	}
}
