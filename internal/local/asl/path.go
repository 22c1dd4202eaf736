package asl

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// jpath is a JSONPath as Step Functions reads it (Jayway syntax): rooted at the state's
// input ($) or the context object ($$). Filter and script expressions and functions are
// not implemented, so Load rejects them instead of letting a path mean something else.
type jpath struct {
	text    string
	context bool
	segs    []pathSeg
}

type segKind uint8

const (
	segName     segKind = iota // .a ['a'] ['a','b']
	segIndex                   // [0] [-1] [0,2]
	segWildcard                // .* [*]
	segSlice                   // [1:3] [-3:] [:2]
)

type pathSeg struct {
	kind           segKind
	deep           bool // reached through "..": applies to the node and every descendant
	names          []string
	indexes        []int
	from, to       int
	hasFrom, hasTo bool
}

func parsePath(s string) (*jpath, error) {
	p := &jpath{text: s}
	var i int
	switch {
	case strings.HasPrefix(s, "$$"):
		p.context, i = true, 2
	case strings.HasPrefix(s, "$"):
		i = 1
	default:
		return nil, fmt.Errorf("path %q must begin with $", s)
	}
	for i < len(s) {
		switch s[i] {
		case '.':
			i++
			deep := false
			if i < len(s) && s[i] == '.' {
				deep = true
				i++
			}
			if i == len(s) {
				return nil, fmt.Errorf("path %q ends with a dot", s)
			}
			switch s[i] {
			case '[':
				if !deep {
					return nil, fmt.Errorf("path %q: unexpected '[' after '.'", s)
				}
				seg, n, err := parseBracket(s, i)
				if err != nil {
					return nil, err
				}
				seg.deep = true
				p.segs = append(p.segs, seg)
				i += n
			case '*':
				p.segs = append(p.segs, pathSeg{kind: segWildcard, deep: deep})
				i++
			default:
				j := i
				for j < len(s) {
					r, size := utf8.DecodeRuneInString(s[j:])
					if r == '.' || r == '[' {
						break
					}
					if unicode.IsSpace(r) || strings.ContainsRune("]()'\"*,:?@", r) {
						return nil, fmt.Errorf("path %q: unexpected %q in a field name (use ['...'])", s, r)
					}
					j += size
				}
				p.segs = append(p.segs, pathSeg{kind: segName, deep: deep, names: []string{s[i:j]}})
				i = j
			}
		case '[':
			seg, n, err := parseBracket(s, i)
			if err != nil {
				return nil, err
			}
			p.segs = append(p.segs, seg)
			i += n
		default:
			return nil, fmt.Errorf("path %q: unexpected %q at offset %d", s, s[i], i)
		}
	}
	return p, nil
}

// parseBracket reads the [...] selector starting at s[start] and reports its length.
func parseBracket(s string, start int) (pathSeg, int, error) {
	end, quote := -1, byte(0)
	for j := start + 1; j < len(s) && end < 0; j++ {
		switch c := s[j]; {
		case quote != 0 && c == '\\':
			j++
		case quote != 0 && c == quote:
			quote = 0
		case quote != 0:
		case c == '\'' || c == '"':
			quote = c
		case c == ']':
			end = j
		}
	}
	if end < 0 {
		return pathSeg{}, 0, fmt.Errorf("path %q: unclosed '['", s)
	}
	inner := strings.TrimSpace(s[start+1 : end])
	n := end - start + 1
	switch {
	case inner == "*":
		return pathSeg{kind: segWildcard}, n, nil
	case inner == "":
		return pathSeg{}, 0, fmt.Errorf("path %q: empty []", s)
	case inner[0] == '?' || inner[0] == '(':
		return pathSeg{}, 0, fmt.Errorf("path %q: filter and script expressions are not supported by the local engine", s)
	case inner[0] == '\'' || inner[0] == '"':
		names, err := parseQuotedNames(inner)
		if err != nil {
			return pathSeg{}, 0, fmt.Errorf("path %q: %v", s, err)
		}
		return pathSeg{kind: segName, names: names}, n, nil
	case strings.Contains(inner, ":"):
		parts := strings.Split(inner, ":")
		if len(parts) != 2 {
			return pathSeg{}, 0, fmt.Errorf("path %q: slices with a step are not supported", s)
		}
		seg := pathSeg{kind: segSlice}
		var err error
		if t := strings.TrimSpace(parts[0]); t != "" {
			seg.hasFrom = true
			if seg.from, err = strconv.Atoi(t); err != nil {
				return pathSeg{}, 0, fmt.Errorf("path %q: bad slice start %q", s, t)
			}
		}
		if t := strings.TrimSpace(parts[1]); t != "" {
			seg.hasTo = true
			if seg.to, err = strconv.Atoi(t); err != nil {
				return pathSeg{}, 0, fmt.Errorf("path %q: bad slice end %q", s, t)
			}
		}
		return seg, n, nil
	default:
		seg := pathSeg{kind: segIndex}
		for _, t := range strings.Split(inner, ",") {
			idx, err := strconv.Atoi(strings.TrimSpace(t))
			if err != nil {
				return pathSeg{}, 0, fmt.Errorf("path %q: bad array index %q", s, strings.TrimSpace(t))
			}
			seg.indexes = append(seg.indexes, idx)
		}
		return seg, n, nil
	}
}

func parseQuotedNames(s string) ([]string, error) {
	var names []string
	for i := 0; ; {
		if i >= len(s) || (s[i] != '\'' && s[i] != '"') {
			return nil, fmt.Errorf("expected a quoted name in [%s]", s)
		}
		quote := s[i]
		var b strings.Builder
		j := i + 1
		for ; j < len(s) && s[j] != quote; j++ {
			if s[j] == '\\' && j+1 < len(s) {
				j++
			}
			b.WriteByte(s[j])
		}
		if j >= len(s) {
			return nil, fmt.Errorf("unterminated name in [%s]", s)
		}
		names = append(names, b.String())
		rest := strings.TrimLeft(s[j+1:], " ")
		if rest == "" {
			return names, nil
		}
		if rest[0] != ',' {
			return nil, fmt.Errorf("expected ',' in [%s]", s)
		}
		rest = strings.TrimLeft(rest[1:], " ")
		s, i = rest, 0
	}
}

// definite reports whether the path can only select a single node: the States Language's
// Reference Path. Everything else selects a list.
func (p *jpath) definite() bool {
	for _, s := range p.segs {
		if s.deep || s.kind == segWildcard || s.kind == segSlice || len(s.names)+len(s.indexes) != 1 {
			return false
		}
	}
	return true
}

func (p *jpath) String() string { return p.text }

// get follows a definite path; ok is false when something on the way is missing.
func (p *jpath) get(root any) (v any, ok bool) {
	v = root
	for _, s := range p.segs {
		switch s.kind {
		case segName:
			m, isMap := v.(map[string]any)
			if !isMap {
				return nil, false
			}
			if v, ok = m[s.names[0]]; !ok {
				return nil, false
			}
		case segIndex:
			a, isArr := v.([]any)
			if !isArr {
				return nil, false
			}
			i := s.indexes[0]
			if i < 0 {
				i += len(a)
			}
			if i < 0 || i >= len(a) {
				return nil, false
			}
			v = a[i]
		}
	}
	return v, true
}

// selectAll evaluates an indefinite path: the list of every match, possibly empty.
func (p *jpath) selectAll(root any) []any {
	cur := []any{root}
	for _, s := range p.segs {
		next := []any{}
		for _, v := range cur {
			if !s.deep {
				next = s.apply(v, next)
				continue
			}
			for _, d := range descendants(v, nil) {
				next = s.apply(d, next)
			}
		}
		cur = next
	}
	return cur
}

func (s pathSeg) apply(v any, out []any) []any {
	switch s.kind {
	case segName:
		if m, ok := v.(map[string]any); ok {
			for _, n := range s.names {
				if c, ok := m[n]; ok {
					out = append(out, c)
				}
			}
		}
	case segIndex:
		if a, ok := v.([]any); ok {
			for _, i := range s.indexes {
				if i < 0 {
					i += len(a)
				}
				if i >= 0 && i < len(a) {
					out = append(out, a[i])
				}
			}
		}
	case segWildcard:
		switch c := v.(type) {
		case map[string]any:
			for _, k := range sortedKeys(c) {
				out = append(out, c[k])
			}
		case []any:
			out = append(out, c...)
		}
	case segSlice:
		if a, ok := v.([]any); ok {
			from, to := 0, len(a)
			if s.hasFrom {
				from = clampIndex(s.from, len(a))
			}
			if s.hasTo {
				to = clampIndex(s.to, len(a))
			}
			if from < to {
				out = append(out, a[from:to]...)
			}
		}
	}
	return out
}

func clampIndex(i, n int) int {
	if i < 0 {
		i += n
	}
	return max(0, min(i, n))
}

// descendants lists v and everything inside it, parents first, object keys sorted so that
// ".." selects in a stable order.
func descendants(v any, out []any) []any {
	out = append(out, v)
	switch c := v.(type) {
	case map[string]any:
		for _, k := range sortedKeys(c) {
			out = descendants(c[k], out)
		}
	case []any:
		for _, e := range c {
			out = descendants(e, out)
		}
	}
	return out
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// set returns root with v placed at the path (a ResultPath), creating missing objects on the
// way. root itself is not modified: earlier states' outputs stay as they were recorded.
func (p *jpath) set(root, v any) (any, error) {
	return setAt(root, p.segs, v)
}

func setAt(node any, segs []pathSeg, v any) (any, error) {
	if len(segs) == 0 {
		return v, nil
	}
	s := segs[0]
	switch s.kind {
	case segName:
		m, ok := node.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("cannot set field %q in %s", s.names[0], jsonKind(node))
		}
		child, ok := m[s.names[0]]
		if !ok {
			child = map[string]any{}
		}
		nv, err := setAt(child, segs[1:], v)
		if err != nil {
			return nil, err
		}
		out := make(map[string]any, len(m)+1)
		for k, e := range m {
			out[k] = e
		}
		out[s.names[0]] = nv
		return out, nil
	case segIndex:
		a, ok := node.([]any)
		i := s.indexes[0]
		if !ok || i < 0 || i >= len(a) {
			return nil, fmt.Errorf("cannot set index %d in %s", i, jsonKind(node))
		}
		nv, err := setAt(a[i], segs[1:], v)
		if err != nil {
			return nil, err
		}
		out := append([]any(nil), a...)
		out[i] = nv
		return out, nil
	}
	return nil, fmt.Errorf("cannot set through a wildcard or slice")
}

func jsonKind(v any) string {
	switch c := v.(type) {
	case nil:
		return "null"
	case map[string]any:
		return "an object"
	case []any:
		return fmt.Sprintf("an array of %d", len(c))
	case string:
		return "a string"
	case bool:
		return "a boolean"
	default:
		return "a number"
	}
}
