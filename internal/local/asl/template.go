package asl

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// env is what a state's paths resolve against: its input ($) and the context object ($$).
type env struct {
	input   any
	context any
}

// expr is the value of a "key.$" field, an intrinsic function argument, an ErrorPath or a
// CausePath: a path, an intrinsic function call or (inside calls) a literal.
type expr interface {
	eval(e *env) (any, error)
	String() string
}

// missingPathError is a definite path that selects nothing: States.Runtime for the caller.
type missingPathError struct{ path *jpath }

func (e *missingPathError) Error() string {
	where := "the input"
	if e.path.context {
		where = "the context object"
	}
	return fmt.Sprintf("the JSONPath '%s' could not be found in %s", e.path, where)
}

// intrinsicError is an intrinsic function that could not produce a value.
type intrinsicError struct {
	call string
	err  error
}

func (e *intrinsicError) Error() string {
	return fmt.Sprintf("the function '%s' had the following error: %v", e.call, e.err)
}

// fieldError names the template field whose expression failed, as Step Functions does.
type fieldError struct {
	field string
	err   error
}

func (e *fieldError) Error() string { return fmt.Sprintf("field '%s': %v", e.field, e.err) }
func (e *fieldError) Unwrap() error { return e.err }

func (p *jpath) eval(e *env) (any, error) {
	root := e.input
	if p.context {
		root = e.context
	}
	if !p.definite() {
		return p.selectAll(root), nil
	}
	v, ok := p.get(root)
	if !ok {
		return nil, &missingPathError{path: p}
	}
	return v, nil
}

type literal struct {
	v    any
	raw  string // a string literal as written, escapes kept: States.Format tells \{ from {
	text string
}

func (l *literal) eval(*env) (any, error) { return l.v, nil }
func (l *literal) String() string         { return l.text }

func parseExpr(s string) (expr, error) {
	switch {
	case strings.HasPrefix(s, "$"):
		return parsePath(s)
	case strings.HasPrefix(s, "States."):
		return parseIntrinsic(s)
	}
	return nil, fmt.Errorf("%q is neither a path nor an intrinsic function", s)
}

// template is a Payload Template (Parameters, ResultSelector): JSON in which every field
// named "key.$" is replaced by "key" holding the value of its path or intrinsic function.
type template interface {
	eval(e *env) (any, error)
}

type templateObject []templateField

type templateField struct {
	key   string
	field string // as written, with ".$", for error messages
	node  template
	expr  expr
}

type templateArray []template

type templateConst struct{ v any }

func (c templateConst) eval(*env) (any, error) { return c.v, nil }

func (o templateObject) eval(e *env) (any, error) {
	out := make(map[string]any, len(o))
	for _, f := range o {
		var v any
		var err error
		if f.expr != nil {
			v, err = f.expr.eval(e)
			if err != nil {
				var fe *fieldError
				if !errors.As(err, &fe) {
					err = &fieldError{field: f.field, err: err}
				}
			}
		} else {
			v, err = f.node.eval(e)
		}
		if err != nil {
			return nil, err
		}
		out[f.key] = v
	}
	return out, nil
}

func (a templateArray) eval(e *env) (any, error) {
	out := make([]any, len(a))
	for i, n := range a {
		v, err := n.eval(e)
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

func compileTemplate(v any) (template, error) {
	switch x := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var obj templateObject
		from := map[string]string{}
		for _, k := range keys {
			f := templateField{key: k, field: k}
			if name, ok := strings.CutSuffix(k, ".$"); ok {
				if name == "" {
					return nil, fmt.Errorf("field %q has no name before \".$\"", k)
				}
				s, ok := x[k].(string)
				if !ok {
					return nil, fmt.Errorf("field %q must hold a string: a path or an intrinsic function", k)
				}
				ex, err := parseExpr(s)
				if err != nil {
					return nil, fmt.Errorf("field %q: %v", k, err)
				}
				f.key, f.expr = name, ex
			} else {
				n, err := compileTemplate(x[k])
				if err != nil {
					return nil, err
				}
				f.node = n
			}
			if other, dup := from[f.key]; dup {
				return nil, fmt.Errorf("fields %q and %q would both set %q", other, k, f.key)
			}
			from[f.key] = k
			obj = append(obj, f)
		}
		return obj, nil
	case []any:
		arr := make(templateArray, len(x))
		for i, e := range x {
			n, err := compileTemplate(e)
			if err != nil {
				return nil, err
			}
			arr[i] = n
		}
		return arr, nil
	}
	return templateConst{v: v}, nil
}

// call is an intrinsic function invocation such as States.Format('{}', $.a).
type call struct {
	text string
	name string
	fn   intrinsic
	args []expr
}

func (c *call) String() string { return c.text }

func (c *call) eval(e *env) (any, error) {
	vals := make([]any, len(c.args))
	for i, a := range c.args {
		v, err := a.eval(e)
		if err != nil {
			var ie *intrinsicError
			if errors.As(err, &ie) {
				return nil, err
			}
			return nil, &intrinsicError{call: c.text, err: err}
		}
		vals[i] = v
	}
	v, err := c.fn.run(c, vals)
	if err != nil {
		return nil, &intrinsicError{call: c.text, err: err}
	}
	return v, nil
}

var numberLiteral = regexp.MustCompile(`^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`)

type intrinsicParser struct {
	s string
	i int
}

func parseIntrinsic(s string) (*call, error) {
	p := &intrinsicParser{s: s}
	c, err := p.call(0)
	if err != nil {
		return nil, fmt.Errorf("intrinsic function %q: %v", s, err)
	}
	p.space()
	if p.i != len(s) {
		return nil, fmt.Errorf("intrinsic function %q: unexpected %q after the call", s, s[p.i:])
	}
	return c, nil
}

func (p *intrinsicParser) space() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t' || p.s[p.i] == '\n') {
		p.i++
	}
}

// maxNesting is Step Functions' limit on intrinsic functions within one field.
const maxNesting = 10

func (p *intrinsicParser) call(depth int) (*call, error) {
	if depth >= maxNesting {
		return nil, fmt.Errorf("more than %d nested intrinsic functions", maxNesting)
	}
	start := p.i
	open := strings.IndexByte(p.s[start:], '(')
	if open < 0 {
		return nil, errors.New("missing '('")
	}
	name := strings.TrimSpace(p.s[start : start+open])
	fn, ok := intrinsics[name]
	if !ok {
		return nil, fmt.Errorf("unknown intrinsic function %q", name)
	}
	c := &call{name: name, fn: fn}
	p.i = start + open + 1
	p.space()
	if p.i < len(p.s) && p.s[p.i] == ')' {
		p.i++
	} else {
		for {
			a, err := p.arg(depth)
			if err != nil {
				return nil, err
			}
			c.args = append(c.args, a)
			p.space()
			if p.i >= len(p.s) {
				return nil, fmt.Errorf("%s: missing ')'", name)
			}
			if p.s[p.i] == ')' {
				p.i++
				break
			}
			if p.s[p.i] != ',' {
				return nil, fmt.Errorf("%s: expected ',' or ')' at %q", name, p.s[p.i:])
			}
			p.i++
		}
	}
	c.text = p.s[start:p.i]
	if len(c.args) < fn.min || (fn.max >= 0 && len(c.args) > fn.max) {
		return nil, fmt.Errorf("%s takes %s, not %d", name, fn.arity(), len(c.args))
	}
	if fn.check != nil {
		if err := fn.check(c); err != nil {
			return nil, fmt.Errorf("%s: %v", name, err)
		}
	}
	return c, nil
}

func (p *intrinsicParser) arg(depth int) (expr, error) {
	p.space()
	if p.i >= len(p.s) {
		return nil, errors.New("missing argument")
	}
	rest := p.s[p.i:]
	switch {
	case rest[0] == '\'':
		return p.stringLiteral()
	case rest[0] == '$':
		return p.path()
	case strings.HasPrefix(rest, "States."):
		return p.call(depth + 1)
	case numberLiteral.MatchString(rest):
		n := numberLiteral.FindString(rest)
		p.i += len(n)
		return &literal{v: json.Number(n), text: n}, nil
	}
	for _, kw := range []struct {
		text string
		v    any
	}{{"true", true}, {"false", false}, {"null", nil}} {
		if strings.HasPrefix(rest, kw.text) {
			p.i += len(kw.text)
			return &literal{v: kw.v, text: kw.text}, nil
		}
	}
	return nil, fmt.Errorf("unexpected argument %q", rest)
}

// stringLiteral reads '...' where a backslash escapes the next character (', {, } or \).
func (p *intrinsicParser) stringLiteral() (expr, error) {
	start := p.i
	var b strings.Builder
	for p.i++; p.i < len(p.s); p.i++ {
		switch c := p.s[p.i]; c {
		case '\\':
			p.i++
			if p.i == len(p.s) {
				return nil, errors.New("unterminated string literal")
			}
			b.WriteByte(p.s[p.i])
		case '\'':
			p.i++
			text := p.s[start:p.i]
			return &literal{v: b.String(), raw: text[1 : len(text)-1], text: text}, nil
		default:
			b.WriteByte(c)
		}
	}
	return nil, errors.New("unterminated string literal")
}

// path reads a path argument: it runs to the next ',' or ')' outside brackets and quotes.
func (p *intrinsicParser) path() (expr, error) {
	start, depth, quote := p.i, 0, byte(0)
	for ; p.i < len(p.s); p.i++ {
		c := p.s[p.i]
		switch {
		case quote != 0 && c == '\\':
			p.i++
		case quote != 0 && c == quote:
			quote = 0
		case quote != 0:
		case c == '\'' || c == '"':
			quote = c
		case c == '[':
			depth++
		case c == ']':
			depth--
		case depth == 0 && (c == ',' || c == ')'):
			return parsePath(strings.TrimSpace(p.s[start:p.i]))
		}
	}
	return nil, errors.New("missing ')'")
}
