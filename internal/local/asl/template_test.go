package asl

import (
	"errors"
	"regexp"
	"strings"
	"testing"
)

// The spec's Payload Template example, with its own context object.
func TestParametersSpecExample(t *testing.T) {
	t.Parallel()
	tmpl, err := compileTemplate(mustDecode(t, `{
		"flagged": true,
		"parts": {
			"first.$": "$.vals[0]",
			"last3.$": "$.vals[-3:]"
		},
		"weekday.$": "$$.DayOfWeek",
		"formattedOutput.$": "States.Format('Today is {}', $$.DayOfWeek)"
	}`))
	if err != nil {
		t.Fatal(err)
	}
	got, err := tmpl.eval(&env{
		input:   mustDecode(t, `{"flagged": 7, "vals": [0, 10, 20, 30, 40, 50]}`),
		context: mustDecode(t, `{"DayOfWeek": "TUESDAY"}`),
	})
	if err != nil {
		t.Fatal(err)
	}
	sameJSON(t, encodeJSON(got), `{
		"flagged": true,
		"parts": {"first": 0, "last3": [30, 40, 50]},
		"weekday": "TUESDAY",
		"formattedOutput": "Today is TUESDAY"
	}`)
}

func TestTemplateNestedInArrays(t *testing.T) {
	t.Parallel()
	tmpl, err := compileTemplate(mustDecode(t, `{"list": [{"x.$": "$.a"}, "$.a", 1], "keep": {"y": "$.a"}}`))
	if err != nil {
		t.Fatal(err)
	}
	got, err := tmpl.eval(&env{input: mustDecode(t, `{"a": "A"}`)})
	if err != nil {
		t.Fatal(err)
	}
	// Only fields ending in .$ are paths; a plain string that looks like one stays a string.
	sameJSON(t, encodeJSON(got), `{"list": [{"x": "A"}, "$.a", 1], "keep": {"y": "$.a"}}`)
}

func TestTemplateErrors(t *testing.T) {
	t.Parallel()
	tests := []struct{ template, wantErrSub string }{
		{`{"a": 1, "a.$": "$.x"}`, `would both set "a"`},
		{`{"a.$": 3}`, "must hold a string"},
		{`{"a.$": "x"}`, "neither a path nor an intrinsic"},
		{`{".$": "$"}`, "no name"},
		{`{"a.$": "$.b["}`, "unclosed"},
		{`{"a.$": "States.Nope()"}`, "unknown intrinsic function"},
	}
	for _, tt := range tests {
		_, err := compileTemplate(mustDecode(t, tt.template))
		if err == nil || !strings.Contains(err.Error(), tt.wantErrSub) {
			t.Errorf("compileTemplate(%s) error = %v, want it to mention %q", tt.template, err, tt.wantErrSub)
		}
	}
}

func TestTemplateMissingPath(t *testing.T) {
	t.Parallel()
	tmpl, err := compileTemplate(mustDecode(t, `{"outer": {"id.$": "$.nope"}}`))
	if err != nil {
		t.Fatal(err)
	}
	_, err = tmpl.eval(&env{input: mustDecode(t, `{"a": 1}`)})
	var fe *fieldError
	var mp *missingPathError
	if !errors.As(err, &fe) || !errors.As(err, &mp) || fe.field != "id.$" {
		t.Fatalf("error = %#v, want a missing path for field id.$", err)
	}
	want := `The JSONPath '$.nope' specified for the field 'id.$' could not be found in the input '{"a":1}'`
	if got := describe(err, map[string]any{"a": number(1)}); got != want {
		t.Errorf("describe = %q\nwant       %q", got, want)
	}
}

// Examples from the Step Functions documentation of each intrinsic function, and the
// argument syntax: quoted strings with escapes, numbers, null, booleans, paths, nesting.
func TestIntrinsicFunctions(t *testing.T) {
	t.Parallel()
	const input = `{
		"name": "Arnav",
		"escapedJsonString": "{\"foo\": \"bar\"}",
		"unescapedJson": {"foo": "bar"},
		"someJson": {"random": "abcdefg"},
		"inputArray": [1, 2, 3, 4, 5, 6, 7, 8, 9],
		"dupArray": [1, 2, 3, 3, 3, 3, 3, 3, 4],
		"lookingFor": 5,
		"index": 5,
		"input": "Data to encode",
		"base64": "RGF0YSB0byBlbmNvZGU=",
		"Data": "input data",
		"Algorithm": "SHA-1",
		"json1": {"a": {"a1": 1, "a2": 2}, "b": 2},
		"json2": {"a": {"a3": 1, "a4": 2}, "c": 3},
		"value1": 111,
		"step": -1,
		"inputString": "1,2,3,4,5",
		"splitter": ",",
		"odd": "This.is+a,test=string",
		"h": 5,
		"a,b": "comma"
	}`
	tests := []struct{ call, want string }{
		{`States.Format('Hello, my name is {}.', $.name)`, `"Hello, my name is Arnav."`},
		{`States.Format('It\'s {} o\'clock', $.h)`, `"It's 5 o'clock"`},
		{`States.Format('\{\} is {}', 'x')`, `"{} is x"`},
		{`States.Format('{}\\{}', 'a', 'b')`, `"a\\b"`},
		{`States.Format('{} {} {} {}', 1.5, true, null, 'z')`, `"1.5 true null z"`},
		{`States.Format($.name)`, `"Arnav"`},
		{`States.StringToJson($.escapedJsonString)`, `{"foo": "bar"}`},
		{`States.JsonToString($.unescapedJson)`, `"{\"foo\":\"bar\"}"`},
		{`States.Array('Foo', 2020, $.someJson, null)`, `["Foo", 2020, {"random": "abcdefg"}, null]`},
		{`States.Array( 1 ,  'a' )`, `[1, "a"]`},
		{`States.Array()`, `[]`},
		{`States.Array($['a,b'])`, `["comma"]`},
		{`States.ArrayPartition($.inputArray, 4)`, `[[1, 2, 3, 4], [5, 6, 7, 8], [9]]`},
		{`States.ArrayContains($.inputArray, $.lookingFor)`, `true`},
		{`States.ArrayContains($.inputArray, 5.0)`, `true`},
		{`States.ArrayContains($.inputArray, 'x')`, `false`},
		{`States.ArrayRange(1, 9, 2)`, `[1, 3, 5, 7, 9]`},
		{`States.ArrayRange(10, 0, -5)`, `[10, 5, 0]`},
		{`States.ArrayGetItem($.inputArray, $.index)`, `6`},
		{`States.ArrayLength($.inputArray)`, `9`},
		{`States.ArrayUnique($.dupArray)`, `[1, 2, 3, 4]`},
		{`States.Base64Encode($.input)`, `"RGF0YSB0byBlbmNvZGU="`},
		{`States.Base64Decode($.base64)`, `"Data to encode"`},
		{`States.Hash($.Data, $.Algorithm)`, `"aaff4a450a104cd177d28d18d74485e8cae074b7"`},
		{`States.Hash('input data', 'SHA-256')`, `"b4a697a057313163aee33cd8d40c66e9f0f177e00cac2de32475ffff6169c3e3"`},
		{`States.JsonMerge($.json1, $.json2, false)`, `{"a": {"a3": 1, "a4": 2}, "b": 2, "c": 3}`},
		{`States.MathRandom(7, 8)`, `7`},
		{`States.MathAdd($.value1, $.step)`, `110`},
		{`States.MathAdd(1, -3)`, `-2`},
		{`States.MathAdd(2.4, 1)`, `3`},
		{`States.StringSplit($.inputString, $.splitter)`, `["1", "2", "3", "4", "5"]`},
		{`States.StringSplit($.odd, '.+,=')`, `["This", "is", "a", "test", "string"]`},
		{`States.Format('{}', States.JsonToString(States.Array(1, States.MathAdd(1, 1))))`, `"[1,2]"`},
	}
	data := mustDecode(t, input)
	for _, tt := range tests {
		c, err := parseIntrinsic(tt.call)
		if err != nil {
			t.Errorf("parse %s: %v", tt.call, err)
			continue
		}
		got, err := c.eval(&env{input: data})
		if err != nil {
			t.Errorf("%s: %v", tt.call, err)
			continue
		}
		t.Run(tt.call, func(t *testing.T) { sameJSON(t, encodeJSON(got), tt.want) })
	}
}

func TestIntrinsicUUIDAndRandom(t *testing.T) {
	t.Parallel()
	c, err := parseIntrinsic("States.UUID()")
	if err != nil {
		t.Fatal(err)
	}
	v, _ := c.eval(&env{})
	if s, _ := v.(string); !regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(s) {
		t.Errorf("States.UUID() = %v, want a version 4 UUID", v)
	}
	seeded, err := parseIntrinsic("States.MathRandom(1, 999, 1234)")
	if err != nil {
		t.Fatal(err)
	}
	first, _ := seeded.eval(&env{})
	for range 20 {
		again, _ := seeded.eval(&env{})
		if !jsonEqual(first, again) {
			t.Fatalf("seeded States.MathRandom gave %v then %v", first, again)
		}
		n, _ := integer(again)
		if n < 1 || n >= 999 {
			t.Fatalf("States.MathRandom(1, 999) = %d", n)
		}
	}
}

func TestIntrinsicParseErrors(t *testing.T) {
	t.Parallel()
	tests := []struct{ call, wantErrSub string }{
		{`States.Nope(1)`, "unknown intrinsic function"},
		{`States.Format`, "missing '('"},
		{`States.Format('x {}', 1`, "missing ')'"},
		{`States.Format('unterminated)`, "unterminated"},
		{`States.Format('{} {}', 1)`, "2 placeholders for 1 arguments"},
		{`States.MathAdd(1)`, "takes 2 arguments"},
		{`States.UUID(1)`, "takes 0 arguments"},
		{`States.Array(1) x`, "after the call"},
		{`States.Array(01)`, "expected ','"},
		{`States.Array(nope)`, "unexpected argument"},
		{`States.JsonMerge($.a, $.b, true)`, "shallow"},
		{`States.Array($.a[)`, "missing ')'"},
	}
	for _, tt := range tests {
		_, err := parseIntrinsic(tt.call)
		if err == nil || !strings.Contains(err.Error(), tt.wantErrSub) {
			t.Errorf("parseIntrinsic(%s) error = %v, want it to mention %q", tt.call, err, tt.wantErrSub)
		}
	}
}

func TestIntrinsicRuntimeErrors(t *testing.T) {
	t.Parallel()
	data := mustDecode(t, `{"s": "not json", "arr": [1], "obj": {"a": 1}, "big": 2147483647, "tmpl": "{} {}"}`)
	tests := []struct{ call, wantErrSub string }{
		{`States.StringToJson($.s)`, "invalid JSON"},
		{`States.ArrayGetItem($.arr, 1)`, "out of bounds"},
		{`States.Format('{}', $.obj)`, "cannot format an object"},
		{`States.Format($.tmpl, 1)`, "more placeholders"},
		{`States.MathAdd($.big, 1)`, "outside"},
		{`States.ArrayLength($.obj)`, "must be an array"},
		{`States.ArrayRange(1, 2000, 1)`, "more than 1000"},
		{`States.Hash('x', 'SHA-3')`, "unknown algorithm"},
		{`States.Base64Decode('%%%')`, "invalid base64"},
		{`States.Format('{}', $.missing)`, "could not be found"},
	}
	for _, tt := range tests {
		c, err := parseIntrinsic(tt.call)
		if err != nil {
			t.Fatalf("parse %s: %v", tt.call, err)
		}
		_, err = c.eval(&env{input: data})
		var ie *intrinsicError
		if !errors.As(err, &ie) || !strings.Contains(err.Error(), tt.wantErrSub) {
			t.Errorf("%s error = %v, want an intrinsic error mentioning %q", tt.call, err, tt.wantErrSub)
		}
	}
}
