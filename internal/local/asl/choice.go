package asl

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// rule is a Choice Rule: a comparison of Variable with a literal or a second path, or a
// Boolean expression (And, Or, Not) of nested rules. Only top-level rules have a Next.
type rule struct {
	next     string
	op       string
	variable *jpath
	rules    []*rule // And, Or, Not (one)
	value    any
	path     *jpath // operand of a ...Path operator
	pattern  *regexp.Regexp
}

type operand uint8

const (
	operandString operand = iota
	operandNumber
	operandBool
	operandTimestamp
	operandTest // IsNull, IsPresent, ...: the operand is true or false
)

type comparison struct {
	kind operand
	test string // Equals, LessThan, ..., Matches, or the Is* name
	path bool
}

var comparisons = func() map[string]comparison {
	m := map[string]comparison{
		"BooleanEquals":     {kind: operandBool, test: "Equals"},
		"BooleanEqualsPath": {kind: operandBool, test: "Equals", path: true},
		"StringMatches":     {kind: operandString, test: "Matches"},
	}
	for prefix, kind := range map[string]operand{"String": operandString, "Numeric": operandNumber, "Timestamp": operandTimestamp} {
		for _, test := range []string{"Equals", "LessThan", "GreaterThan", "LessThanEquals", "GreaterThanEquals"} {
			m[prefix+test] = comparison{kind: kind, test: test}
			m[prefix+test+"Path"] = comparison{kind: kind, test: test, path: true}
		}
	}
	for _, test := range []string{"IsNull", "IsPresent", "IsNumeric", "IsString", "IsBoolean", "IsTimestamp"} {
		m[test] = comparison{kind: operandTest, test: test}
	}
	return m
}()

func (l *loader) rule(where string, o *object, top bool) *rule {
	r := &rule{}
	var ops []string
	for _, k := range o.keys {
		_, isComparison := comparisons[k]
		switch {
		case k == "Variable" || (top && (k == "Next" || k == "Comment")):
		case k == "And" || k == "Or" || k == "Not" || isComparison:
			ops = append(ops, k)
		case k == "Next" || k == "Comment":
			l.problem("%s: %s is only allowed in a top-level Choice rule", where, k)
		case k == "Condition" || k == "Assign" || k == "Output":
			l.problem("%s: %s is not supported by the local engine (JSONata or variables)", where, k)
		default:
			l.problem("%s: unknown field %q", where, k)
		}
	}
	if top {
		r.next, _ = l.str(where, o, "Next", true)
	}
	if _, ok := o.vals["Comment"]; ok && top {
		l.str(where, o, "Comment", false)
	}
	if len(ops) != 1 {
		l.problem("%s: a Choice rule needs exactly one comparison operator, And, Or or Not; found %d %v", where, len(ops), ops)
		return nil
	}
	r.op = ops[0]
	raw := o.vals[r.op]
	switch r.op {
	case "And", "Or", "Not":
		if _, ok := o.vals["Variable"]; ok {
			l.problem("%s: Variable is not allowed with %s", where, r.op)
		}
		var list []any
		if r.op == "Not" {
			list = []any{raw}
		} else if list, _ = raw.([]any); len(list) == 0 {
			l.problem("%s: %s must be a non-empty array of Choice rules", where, r.op)
			return nil
		}
		for i, e := range list {
			sub, ok := e.(*object)
			if !ok {
				l.problem("%s: %s must hold Choice rules (objects)", where, r.op)
				return nil
			}
			if n := l.rule(fmt.Sprintf("%s.%s[%d]", where, r.op, i), sub, false); n != nil {
				r.rules = append(r.rules, n)
			}
		}
		return r
	}
	v, ok := o.vals["Variable"]
	if !ok {
		l.problem("%s: %s needs a Variable", where, r.op)
		return nil
	}
	if r.variable = l.referencePath(where+".Variable", v, true); r.variable == nil {
		return nil
	}
	c := comparisons[r.op]
	if c.path {
		r.path = l.referencePath(where+"."+r.op, raw, true)
		return r
	}
	r.value = raw
	valid := false
	switch c.kind {
	case operandString:
		s, isString := raw.(string)
		valid = isString
		if isString && c.test == "Matches" {
			var err error
			if r.pattern, err = wildcardPattern(s); err != nil {
				l.problem("%s: StringMatches: %v", where, err)
			}
		}
	case operandNumber:
		_, valid = raw.(json.Number)
	case operandBool, operandTest:
		_, valid = raw.(bool)
	case operandTimestamp:
		s, isString := raw.(string)
		_, valid = parseTimestamp(s)
		valid = valid && isString
	}
	if !valid {
		l.problem("%s: %s needs %s, not %s", where, r.op, operandNames[c.kind], encodeJSON(plain(raw)))
	}
	return r
}

var operandNames = map[operand]string{
	operandString:    "a string",
	operandNumber:    "a number",
	operandBool:      "true or false",
	operandTimestamp: "an RFC 3339 timestamp such as 2016-03-14T01:59:00Z",
	operandTest:      "true or false",
}

// wildcardPattern compiles StringMatches: * matches any run of characters and a backslash
// makes the next character literal (\* is an asterisk, \\ a backslash).
func wildcardPattern(s string) (*regexp.Regexp, error) {
	var b strings.Builder
	b.WriteString(`(?s)\A`)
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			if i+1 == len(s) {
				return nil, fmt.Errorf("pattern %q ends with an unescaped backslash", s)
			}
			i++
			b.WriteString(regexp.QuoteMeta(s[i : i+1]))
		case '*':
			b.WriteString(`.*`)
		default:
			b.WriteString(regexp.QuoteMeta(s[i : i+1]))
		}
	}
	b.WriteString(`\z`)
	return regexp.Compile(b.String())
}

// parseTimestamp accepts the States Language's profile of RFC 3339: an uppercase T between
// date and time and an uppercase Z when there is no numeric offset.
func parseTimestamp(s string) (time.Time, bool) {
	if len(s) < 20 || s[10] != 'T' || strings.ContainsRune(s, 'z') {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	return t, err == nil
}

// choicePathError is a Variable or ...Path operand that selects nothing.
type choicePathError struct{ path *jpath }

func (e *choicePathError) Error() string {
	return fmt.Sprintf("Invalid path '%s': The choice state's condition path references an invalid value.", e.path)
}

func (r *rule) match(e *env) (bool, error) {
	switch r.op {
	case "And", "Or":
		for _, sub := range r.rules {
			ok, err := sub.match(e)
			if err != nil {
				return false, err
			}
			if ok == (r.op == "Or") {
				return ok, nil
			}
		}
		return r.op == "And", nil
	case "Not":
		ok, err := r.rules[0].match(e)
		return !ok, err
	}
	c := comparisons[r.op]
	v, err := r.variable.eval(e)
	if c.test == "IsPresent" {
		return (err == nil) == r.value.(bool), nil
	}
	if err != nil {
		return false, &choicePathError{path: r.variable}
	}
	if c.kind == operandTest {
		return typeTest(c.test, v) == r.value.(bool), nil
	}
	other := r.value
	if c.path {
		if other, err = r.path.eval(e); err != nil {
			return false, &choicePathError{path: r.path}
		}
	}
	return compare(c, v, other, r.pattern), nil
}

func typeTest(test string, v any) bool {
	switch test {
	case "IsNull":
		return v == nil
	case "IsNumeric":
		_, ok := v.(json.Number)
		return ok
	case "IsString":
		_, ok := v.(string)
		return ok
	case "IsBoolean":
		_, ok := v.(bool)
		return ok
	case "IsTimestamp":
		s, ok := v.(string)
		if !ok {
			return false
		}
		_, ok = parseTimestamp(s)
		return ok
	}
	return false
}

// compare is false whenever either side is not of the operator's type: that is a mismatch,
// not an error, in the States Language.
func compare(c comparison, a, b any, pattern *regexp.Regexp) bool {
	var order int
	switch c.kind {
	case operandString:
		x, ok1 := a.(string)
		y, ok2 := b.(string)
		if !ok1 || !ok2 {
			return false
		}
		if c.test == "Matches" {
			if pattern == nil {
				return false
			}
			return pattern.MatchString(x)
		}
		order = strings.Compare(x, y)
	case operandNumber:
		x, ok1 := a.(json.Number)
		y, ok2 := b.(json.Number)
		if !ok1 || !ok2 {
			return false
		}
		var ok bool
		if order, ok = compareNumbers(x, y); !ok {
			return false
		}
	case operandBool:
		x, ok1 := a.(bool)
		y, ok2 := b.(bool)
		return ok1 && ok2 && x == y
	case operandTimestamp:
		x, ok1 := a.(string)
		y, ok2 := b.(string)
		if !ok1 || !ok2 {
			return false
		}
		tx, ok1 := parseTimestamp(x)
		ty, ok2 := parseTimestamp(y)
		if !ok1 || !ok2 {
			return false
		}
		order = tx.Compare(ty)
	}
	switch c.test {
	case "Equals":
		return order == 0
	case "LessThan":
		return order < 0
	case "GreaterThan":
		return order > 0
	case "LessThanEquals":
		return order <= 0
	case "GreaterThanEquals":
		return order >= 0
	}
	return false
}
