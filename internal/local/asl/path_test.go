package asl

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// sameJSON compares two JSON texts by meaning: key order and number spelling aside.
func sameJSON(t *testing.T, got []byte, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("got %s: %v", got, err)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("want %s: %v", want, err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

func mustDecode(t *testing.T, s string) any {
	t.Helper()
	v, err := decodeJSON([]byte(s))
	if err != nil {
		t.Fatalf("decode %s: %v", s, err)
	}
	return v
}

func TestPathSelect(t *testing.T) {
	t.Parallel()
	// The spec's Reference Path example input, and Jayway's usual bookstore shapes.
	const spec = `{"foo": 123, "bar": ["a", "b", "c"], "car": {"cdr": true}}`
	const vals = `{"flagged": 7, "vals": [0, 10, 20, 30, 40, 50], "a": {"b": {"c": 1}, "d": [{"c": 2}, {"c": 3}]}, "odd key": 5}`
	tests := []struct {
		input, path, want string
	}{
		{spec, "$.foo", `123`},
		{spec, "$.bar", `["a", "b", "c"]`},
		{spec, "$.car.cdr", `true`},
		{spec, "$", spec},
		{spec, "$['car']['cdr']", `true`},
		{spec, `$["bar"][1]`, `"b"`},
		{spec, "$.bar[-1]", `"c"`},
		{vals, "$.vals[0]", `0`},
		{vals, "$.vals[-3:]", `[30, 40, 50]`},
		{vals, "$.vals[:2]", `[0, 10]`},
		{vals, "$.vals[1:3]", `[10, 20]`},
		{vals, "$.vals[0,2]", `[0, 20]`},
		{vals, "$.vals[*]", `[0, 10, 20, 30, 40, 50]`},
		{vals, "$.a.d[*].c", `[2, 3]`},
		{vals, "$..c", `[1, 2, 3]`},
		{vals, "$.a.*", `[{"c": 1}, [{"c": 2}, {"c": 3}]]`},
		{vals, "$['flagged','odd key']", `[7, 5]`},
		{vals, "$.missing[*]", `[]`},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			t.Parallel()
			p, err := parsePath(tt.path)
			if err != nil {
				t.Fatal(err)
			}
			got, err := p.eval(&env{input: mustDecode(t, tt.input)})
			if err != nil {
				t.Fatal(err)
			}
			sameJSON(t, encodeJSON(got), tt.want)
		})
	}
}

func TestPathMissing(t *testing.T) {
	t.Parallel()
	input := mustDecode(t, `{"a": {"b": [1]}, "s": "x"}`)
	for _, path := range []string{"$.b", "$.a.c", "$.a.b[1]", "$.s.x", "$.a[0]"} {
		p, err := parsePath(path)
		if err != nil {
			t.Fatal(err)
		}
		if v, err := p.eval(&env{input: input}); err == nil {
			t.Errorf("%s = %v, want a missing-path error", path, v)
		}
	}
}

func TestPathSyntax(t *testing.T) {
	t.Parallel()
	tests := []struct {
		path       string
		definite   bool
		wantErrSub string
	}{
		{path: "$", definite: true},
		{path: "$$.Execution.Id", definite: true},
		{path: "$.a-b.c_d", definite: true},
		{path: "$.a[0]['x y']", definite: true},
		{path: "$.a[*]"},
		{path: "$..a"},
		{path: "$.a[0:2]"},
		{path: "a.b", wantErrSub: "must begin with $"},
		{path: "$.", wantErrSub: "ends with a dot"},
		{path: "$.a[", wantErrSub: "unclosed"},
		{path: "$.a[?(@.x > 1)]", wantErrSub: "filter"},
		{path: "$.a.length()", wantErrSub: "unexpected"},
		{path: "$.a[1:2:3]", wantErrSub: "step"},
		{path: "$.a b", wantErrSub: "unexpected"},
		{path: "$a", wantErrSub: "unexpected"},
		{path: "$.a[x]", wantErrSub: "bad array index"},
	}
	for _, tt := range tests {
		p, err := parsePath(tt.path)
		switch {
		case tt.wantErrSub != "":
			if err == nil || !strings.Contains(err.Error(), tt.wantErrSub) {
				t.Errorf("parsePath(%q) error = %v, want it to mention %q", tt.path, err, tt.wantErrSub)
			}
		case err != nil:
			t.Errorf("parsePath(%q): %v", tt.path, err)
		case p.definite() != tt.definite:
			t.Errorf("parsePath(%q).definite() = %v", tt.path, p.definite())
		}
	}
}

// The spec's ResultPath examples: an existing field is replaced, missing ones are created.
func TestResultPathSet(t *testing.T) {
	t.Parallel()
	const raw = `{"master": {"detail": [1, 2, 3]}}`
	tests := []struct {
		input, path, want string
		wantErr           bool
	}{
		{raw, "$.master.detail", `{"master": {"detail": 6}}`, false},
		{raw, "$.master.result.sum", `{"master": {"detail": [1, 2, 3], "result": {"sum": 6}}}`, false},
		{raw, "$", `6`, false},
		{raw, "$.master.detail[1]", `{"master": {"detail": [1, 6, 3]}}`, false},
		{raw, "$.master.detail.x", "", true},
		{raw, "$.master.detail[3]", "", true},
		{`"text"`, "$.x", "", true},
		{`{"a": null}`, "$.a.b", "", true},
	}
	for _, tt := range tests {
		p, err := parsePath(tt.path)
		if err != nil {
			t.Fatal(err)
		}
		input := mustDecode(t, tt.input)
		before := string(encodeJSON(input))
		got, err := p.set(input, mustDecode(t, "6"))
		if tt.wantErr {
			if err == nil {
				t.Errorf("set(%s, %s) = %s, want an error", tt.input, tt.path, encodeJSON(got))
			}
			continue
		}
		if err != nil {
			t.Fatalf("set(%s, %s): %v", tt.input, tt.path, err)
		}
		sameJSON(t, encodeJSON(got), tt.want)
		if after := string(encodeJSON(input)); after != before {
			t.Errorf("set modified its input: %s became %s", before, after)
		}
	}
}
