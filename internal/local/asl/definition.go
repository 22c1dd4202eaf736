package asl

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// object is a JSON object of the definition with its fields in written order, so that
// problems are reported, and states listed, in the order people read them.
type object struct {
	keys []string
	vals map[string]any
}

var placeholder = regexp.MustCompile(`\$\{([^}]*)\}`)

// decodeDefinition parses the definition, replacing ${Name} in string values as
// CloudFormation's DefinitionSubstitutions do. Duplicate fields are an error: Go would
// silently keep the last one, and the definition must mean one thing.
func decodeDefinition(data []byte, subs map[string]string) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	v, err := decodeNode(dec, subs, "the definition")
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("unexpected data after the definition's JSON object")
	}
	return v, nil
}

func decodeNode(dec *json.Decoder, subs map[string]string, at string) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, fmt.Errorf("the definition is not valid JSON (near byte %d): %v", dec.InputOffset(), err)
	}
	switch t := tok.(type) {
	case json.Delim:
		if t == '[' {
			arr := []any{}
			for dec.More() {
				v, err := decodeNode(dec, subs, at)
				if err != nil {
					return nil, err
				}
				arr = append(arr, v)
			}
			_, err := dec.Token()
			return arr, err
		}
		o := &object{vals: map[string]any{}}
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return nil, fmt.Errorf("the definition is not valid JSON (near byte %d): %v", dec.InputOffset(), err)
			}
			key := kt.(string)
			if _, dup := o.vals[key]; dup {
				return nil, fmt.Errorf("duplicate field %q in %s", key, at)
			}
			v, err := decodeNode(dec, subs, fmt.Sprintf("%s.%s", at, key))
			if err != nil {
				return nil, err
			}
			o.keys = append(o.keys, key)
			o.vals[key] = v
		}
		_, err := dec.Token()
		return o, err
	case string:
		if len(subs) == 0 || !strings.Contains(t, "${") {
			return t, nil
		}
		return placeholder.ReplaceAllStringFunc(t, func(m string) string {
			if v, ok := subs[m[2:len(m)-1]]; ok {
				return v
			}
			return m
		}), nil
	}
	return tok, nil
}

// plain turns definition values into state data (maps in place of ordered objects).
func plain(v any) any {
	switch x := v.(type) {
	case *object:
		m := make(map[string]any, len(x.vals))
		for k, e := range x.vals {
			m[k] = plain(e)
		}
		return m
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = plain(e)
		}
		return out
	}
	return v
}

// DefinitionError lists every problem Load found, so that one attempt shows them all.
type DefinitionError struct {
	Problems []string
}

func (e *DefinitionError) Error() string {
	return "asl: invalid state machine definition: " + strings.Join(e.Problems, "; ")
}

type loader struct {
	problems []string
	// at locates the problems of a nested ItemProcessor: `state "Fan": ItemProcessor: `.
	at    string
	names map[string]bool // every state name so far, ItemProcessors included
}

func (l *loader) problem(format string, args ...any) {
	l.problems = append(l.problems, l.at+fmt.Sprintf(format, args...))
}

// Limits Step Functions enforces on definitions.
const (
	maxNameLength   = 80
	maxSeconds      = 99999999 // TimeoutSeconds, HeartbeatSeconds, Seconds, IntervalSeconds, MaxAttempts
	maxDelaySeconds = 31622400
)

var stateFields = map[string][]string{
	"Task": {"Type", "Comment", "QueryLanguage", "Next", "End", "InputPath", "OutputPath", "Parameters",
		"ResultSelector", "ResultPath", "Retry", "Catch", "Resource", "TimeoutSeconds", "HeartbeatSeconds"},
	"Pass":    {"Type", "Comment", "QueryLanguage", "Next", "End", "InputPath", "OutputPath", "Parameters", "ResultPath", "Result"},
	"Choice":  {"Type", "Comment", "QueryLanguage", "InputPath", "OutputPath", "Choices", "Default"},
	"Wait":    {"Type", "Comment", "QueryLanguage", "Next", "End", "InputPath", "OutputPath", "Seconds", "Timestamp", "SecondsPath", "TimestampPath"},
	"Succeed": {"Type", "Comment", "QueryLanguage", "InputPath", "OutputPath"},
	"Fail":    {"Type", "Comment", "QueryLanguage", "Error", "ErrorPath", "Cause", "CausePath"},
	"Map": {"Type", "Comment", "QueryLanguage", "Next", "End", "InputPath", "OutputPath", "ItemsPath", "ItemSelector",
		"Parameters", "ItemProcessor", "Iterator", "ItemBatcher", "MaxConcurrency", "ResultPath", "ResultSelector",
		"Retry", "Catch", "ToleratedFailurePercentage", "ToleratedFailureCount", "Label"},
}

// unsupportedFields exist in Step Functions but not in this engine; naming them apart from
// typos tells the reader the definition is fine for AWS and the engine is what is missing.
var unsupportedFields = map[string]string{
	"TimeoutSecondsPath":             "dynamic timeouts",
	"HeartbeatSecondsPath":           "dynamic timeouts",
	"Credentials":                    "cross-account tasks",
	"Assign":                         "variables",
	"Arguments":                      "JSONata",
	"Output":                         "JSONata",
	"Branches":                       "Parallel",
	"ItemReader":                     "Map items read from S3",
	"ResultWriter":                   "Map results written to S3",
	"MaxConcurrencyPath":             "dynamic Map settings",
	"ToleratedFailurePercentagePath": "dynamic Map settings",
	"ToleratedFailureCountPath":      "dynamic Map settings",
}

// knownErrors are the States.* error names Step Functions defines; any other States.*
// name in ErrorEquals is a typo that would never match.
var knownErrors = []string{
	"States.ALL", "States.BranchFailed", "States.DataLimitExceeded", "States.ExceedToleratedFailureThreshold",
	"States.HeartbeatTimeout", "States.Http.Socket", "States.IntrinsicFailure", "States.ItemReaderFailed",
	"States.NoChoiceMatched", "States.ParameterPathFailure", "States.Permissions", "States.QueryEvaluationError",
	"States.ResultPathMatchFailure", "States.ResultWriterFailed", "States.Runtime", "States.TaskFailed", "States.Timeout",
}

type state struct {
	name, kind string
	next       string
	end        bool

	inputPath, outputPath, resultPath *jpath // nil: the field is null
	parameters, resultSelector        template
	result                            any
	hasResult                         bool

	resource           string
	timeout, heartbeat int64 // seconds; 0 when absent
	retry              []retrier
	catch              []catcher

	choices     []*rule
	defaultNext string

	seconds, timestamp, secondsPath, timestampPath bool // which Wait field is set
	waitSeconds                                    int64
	waitUntil                                      time.Time
	waitPath                                       *jpath

	errorName, cause     string
	errorExpr, causeExpr expr

	itemsPath      *jpath
	itemSelector   template // ItemSelector, or Parameters, its older name
	processor      *processor
	batcher        *batcher // nil: one item per child execution
	maxConcurrency int64    // 0: no limit
	tolerance      tolerance
	label          string
}

type retrier struct {
	errorEquals []string
	interval    int64
	maxAttempts int64
	backoff     float64
	maxDelay    int64 // 0: no cap
	fullJitter  bool
}

type catcher struct {
	errorEquals []string
	next        string
	resultPath  *jpath
}

func (l *loader) machine(root any) *Machine {
	o, ok := root.(*object)
	if !ok {
		l.problem("the definition must be a JSON object")
		return nil
	}
	m := &Machine{}
	for _, k := range o.keys {
		switch k {
		case "Comment", "StartAt", "States", "TimeoutSeconds", "Version", "QueryLanguage":
		default:
			l.problem("unknown top-level field %q", k)
		}
	}
	l.str("the definition", o, "Comment", false)
	l.queryLanguage("the definition", o)
	if v, ok := l.str("the definition", o, "Version", false); ok && v != "1.0" {
		l.problem("Version must be \"1.0\", not %q", v)
	}
	if n, ok := l.integer("the definition", o, "TimeoutSeconds", 1, maxSeconds); ok {
		m.timeout = time.Duration(n) * time.Second
	}
	m.graph = l.graph("the definition", o)
	return m
}

// graph reads StartAt and States, of the definition or of an ItemProcessor (key names it),
// and checks its transitions once its states are sound.
func (l *loader) graph(key string, o *object) graph {
	g := graph{states: map[string]*state{}}
	g.startAt, _ = l.str(key, o, "StartAt", true)
	nested := key != "the definition"
	scope := ""
	if nested {
		scope = key + ": "
	}
	states, ok := o.vals["States"].(*object)
	if !ok || len(states.keys) == 0 {
		l.problem("%sStates must be a non-empty object", scope)
		return g
	}
	before, outer := len(l.problems), l.at
	l.at += scope
	defer func() { l.at = outer }()
	if l.names == nil {
		l.names = map[string]bool{}
	}
	for _, name := range states.keys {
		if name == "" || utf8.RuneCountInString(name) > maxNameLength {
			l.problem("state name %q must have 1 to %d characters", name, maxNameLength)
		}
		// Step Functions requires unique names in the whole machine, and history tells
		// states apart by name alone.
		if l.names[name] {
			l.problem("state name %q is used more than once: state names must be unique in the whole state machine, ItemProcessors included", name)
		}
		l.names[name] = true
		so, ok := states.vals[name].(*object)
		if !ok {
			l.problem("state %q must be an object", name)
			continue
		}
		if s := l.state(name, so); s != nil {
			g.states[name] = s
			g.order = append(g.order, name)
		}
	}
	if len(l.problems) == before {
		l.transitions(&g, nested)
	}
	return g
}

func (l *loader) queryLanguage(where string, o *object) {
	switch v, ok := l.str(where, o, "QueryLanguage", false); {
	case !ok || v == "JSONPath":
	case v == "JSONata":
		l.problem("%s: QueryLanguage JSONata is not supported by the local engine", where)
	default:
		l.problem("%s: QueryLanguage must be JSONPath or JSONata, not %q", where, v)
	}
}

func (l *loader) state(name string, o *object) *state {
	where := fmt.Sprintf("state %q", name)
	kind, ok := l.str(where, o, "Type", true)
	if !ok {
		return nil
	}
	fields, known := stateFields[kind]
	switch {
	case known:
	case kind == "Parallel":
		l.problem("%s: state type %s is not supported by the local engine", where, kind)
		return nil
	default:
		l.problem("%s: unknown state type %q", where, kind)
		return nil
	}
	for _, k := range o.keys {
		if slices.Contains(fields, k) {
			continue
		}
		if what, ok := unsupportedFields[k]; ok {
			l.problem("%s: field %q (%s) is not supported by the local engine", where, k, what)
			continue
		}
		elsewhere := false
		for _, f := range stateFields {
			elsewhere = elsewhere || slices.Contains(f, k)
		}
		if elsewhere {
			l.problem("%s: field %q is not allowed in a %s state", where, k, kind)
		} else {
			l.problem("%s: unknown field %q", where, k)
		}
	}
	s := &state{name: name, kind: kind}
	l.str(where, o, "Comment", false)
	l.queryLanguage(where, o)
	if slices.Contains(fields, "Next") {
		l.transition(where, o, s)
	}
	if slices.Contains(fields, "InputPath") {
		s.inputPath = l.pathField(where, o, "InputPath", false)
		s.outputPath = l.pathField(where, o, "OutputPath", false)
	}
	if slices.Contains(fields, "ResultPath") {
		s.resultPath = l.pathField(where, o, "ResultPath", true)
	}
	if slices.Contains(fields, "Parameters") {
		s.parameters = l.template(where, o, "Parameters")
	}
	switch kind {
	case "Task":
		l.task(where, o, s)
	case "Map":
		l.mapState(where, o, s)
	case "Pass":
		if v, ok := o.vals["Result"]; ok {
			s.result, s.hasResult = plain(v), true
		}
	case "Choice":
		l.choice(where, o, s)
	case "Wait":
		l.wait(where, o, s)
	case "Fail":
		s.errorName, s.errorExpr = l.failField(where, o, "Error", "ErrorPath")
		s.cause, s.causeExpr = l.failField(where, o, "Cause", "CausePath")
	}
	return s
}

func (l *loader) transition(where string, o *object, s *state) {
	_, hasNext := o.vals["Next"]
	end, hasEnd := o.vals["End"]
	switch {
	case hasNext && hasEnd:
		l.problem("%s: Next and End are mutually exclusive", where)
	case hasNext:
		s.next, _ = l.str(where, o, "Next", true)
	case hasEnd:
		if end != true {
			l.problem("%s: End must be true (give Next instead)", where)
		}
		s.end = true
	default:
		l.problem("%s: needs Next or \"End\": true", where)
	}
}

func (l *loader) task(where string, o *object, s *state) {
	s.resource, _ = l.str(where, o, "Resource", true)
	if m := placeholder.FindStringSubmatch(s.resource); m != nil {
		l.problem("%s: Resource %q: no substitution was given for ${%s}", where, s.resource, m[1])
	} else if strings.HasPrefix(s.resource, "arn:") {
		if _, _, ok := lambdaFunction(s.resource); !ok {
			l.problem("%s: Resource %q: only Lambda function ARNs are supported by the local engine (no service integrations or activities)", where, s.resource)
		}
	}
	s.timeout, _ = l.integer(where, o, "TimeoutSeconds", 1, maxSeconds)
	s.heartbeat, _ = l.integer(where, o, "HeartbeatSeconds", 1, maxSeconds)
	limit := s.timeout
	if limit == 0 {
		limit = maxSeconds // Step Functions' default TimeoutSeconds
	}
	if s.heartbeat >= limit {
		l.problem("%s: HeartbeatSeconds must be smaller than TimeoutSeconds", where)
	}
	l.errorHandling(where, o, s)
}

// errorHandling reads what Task and Map states share: ResultSelector, Retry and Catch.
func (l *loader) errorHandling(where string, o *object, s *state) {
	s.resultSelector = l.template(where, o, "ResultSelector")
	l.eachObject(where, o, "Retry", func(at string, ro *object, last bool) {
		s.retry = append(s.retry, l.retrier(at, ro, last))
	})
	l.eachObject(where, o, "Catch", func(at string, co *object, last bool) {
		for _, k := range co.keys {
			if k != "ErrorEquals" && k != "Next" && k != "ResultPath" {
				l.problem("%s: unknown field %q", at, k)
			}
		}
		c := catcher{errorEquals: l.errorEquals(at, co, last)}
		c.next, _ = l.str(at, co, "Next", true)
		c.resultPath = l.pathField(at, co, "ResultPath", true)
		s.catch = append(s.catch, c)
	})
}

// eachObject calls fn on each element of o's array field name, which must be objects; at
// names the element ("<where>: Retry[2]") and last says it ends the array.
func (l *loader) eachObject(where string, o *object, name string, fn func(at string, e *object, last bool)) {
	v, ok := o.vals[name]
	if !ok {
		return
	}
	list, _ := v.([]any)
	if list == nil {
		l.problem("%s: %s must be an array", where, name)
	}
	for i, e := range list {
		at := fmt.Sprintf("%s: %s[%d]", where, name, i)
		eo, ok := e.(*object)
		if !ok {
			l.problem("%s must be an object", at)
			continue
		}
		fn(at, eo, i == len(list)-1)
	}
}

func (l *loader) retrier(at string, o *object, last bool) retrier {
	for _, k := range o.keys {
		switch k {
		case "ErrorEquals", "IntervalSeconds", "MaxAttempts", "BackoffRate", "MaxDelaySeconds", "JitterStrategy":
		default:
			l.problem("%s: unknown field %q", at, k)
		}
	}
	r := retrier{errorEquals: l.errorEquals(at, o, last), interval: 1, maxAttempts: 3, backoff: 2}
	if n, ok := l.integer(at, o, "IntervalSeconds", 1, maxSeconds); ok {
		r.interval = n
	}
	if n, ok := l.integer(at, o, "MaxAttempts", 0, maxSeconds); ok {
		r.maxAttempts = n
	}
	r.maxDelay, _ = l.integer(at, o, "MaxDelaySeconds", 1, maxDelaySeconds)
	if v, ok := o.vals["BackoffRate"]; ok {
		n, isNumber := v.(json.Number)
		f, err := n.Float64()
		if !isNumber || err != nil || f < 1 {
			l.problem("%s: BackoffRate must be a number no smaller than 1.0", at)
		}
		r.backoff = f
	}
	switch j, _ := l.str(at, o, "JitterStrategy", false); j {
	case "", "NONE":
	case "FULL":
		r.fullJitter = true
	default:
		l.problem("%s: JitterStrategy must be FULL or NONE, not %q", at, j)
	}
	return r
}

func (l *loader) errorEquals(at string, o *object, last bool) []string {
	list, _ := o.vals["ErrorEquals"].([]any)
	if len(list) == 0 {
		l.problem("%s: ErrorEquals must be a non-empty array of error names", at)
		return nil
	}
	var names []string
	for _, v := range list {
		name, ok := v.(string)
		switch {
		case !ok || name == "":
			l.problem("%s: ErrorEquals must hold non-empty strings", at)
		case name == "States.ALL" && len(list) > 1:
			l.problem("%s: States.ALL must appear alone in ErrorEquals", at)
		case name == "States.ALL" && !last:
			l.problem("%s: States.ALL must be in the last retrier or catcher", at)
		case strings.HasPrefix(name, "States.") && !slices.Contains(knownErrors, name):
			l.problem("%s: unknown error name %q", at, name)
		}
		names = append(names, name)
	}
	return names
}

func (l *loader) choice(where string, o *object, s *state) {
	list, _ := o.vals["Choices"].([]any)
	if len(list) == 0 {
		l.problem("%s: Choices must be a non-empty array", where)
	}
	for i, v := range list {
		at := fmt.Sprintf("%s: Choices[%d]", where, i)
		ro, ok := v.(*object)
		if !ok {
			l.problem("%s must be an object", at)
			continue
		}
		if r := l.rule(at, ro, true); r != nil {
			s.choices = append(s.choices, r)
		}
	}
	s.defaultNext, _ = l.str(where, o, "Default", false)
}

func (l *loader) wait(where string, o *object, s *state) {
	var set []string
	for _, k := range []string{"Seconds", "Timestamp", "SecondsPath", "TimestampPath"} {
		if _, ok := o.vals[k]; ok {
			set = append(set, k)
		}
	}
	if len(set) != 1 {
		l.problem("%s: a Wait state needs exactly one of Seconds, Timestamp, SecondsPath or TimestampPath, found %v", where, set)
		return
	}
	switch set[0] {
	case "Seconds":
		s.seconds = true
		s.waitSeconds, _ = l.integer(where, o, "Seconds", 0, maxSeconds)
	case "Timestamp":
		s.timestamp = true
		if v, ok := l.str(where, o, "Timestamp", true); ok {
			var valid bool
			if s.waitUntil, valid = parseTimestamp(v); !valid {
				l.problem("%s: Timestamp %q is not an RFC 3339 timestamp such as 2016-03-14T01:59:00Z", where, v)
			}
		}
	case "SecondsPath":
		s.secondsPath = true
		s.waitPath = l.referencePath(where+": SecondsPath", o.vals["SecondsPath"], true)
	case "TimestampPath":
		s.timestampPath = true
		s.waitPath = l.referencePath(where+": TimestampPath", o.vals["TimestampPath"], true)
	}
}

// failField reads Error/ErrorPath or Cause/CausePath; the Path forms take a reference path
// or an intrinsic function.
func (l *loader) failField(where string, o *object, key, pathKey string) (string, expr) {
	_, hasLiteral := o.vals[key]
	raw, hasPath := o.vals[pathKey]
	if hasLiteral && hasPath {
		l.problem("%s: %s and %s are mutually exclusive", where, key, pathKey)
	}
	if !hasPath {
		v, _ := l.str(where, o, key, false)
		return v, nil
	}
	s, ok := raw.(string)
	if !ok {
		l.problem("%s: %s must be a string", where, pathKey)
		return "", nil
	}
	if strings.HasPrefix(s, "States.") {
		c, err := parseIntrinsic(s)
		if err != nil {
			l.problem("%s: %s: %v", where, pathKey, err)
			return "", nil
		}
		return "", c
	}
	if p := l.referencePath(where+": "+pathKey, raw, true); p != nil {
		return "", p
	}
	return "", nil
}

func (l *loader) str(where string, o *object, key string, required bool) (string, bool) {
	v, ok := o.vals[key]
	if !ok {
		if required {
			l.problem("%s: %s is required", where, key)
		}
		return "", false
	}
	s, ok := v.(string)
	if !ok || (required && s == "") {
		l.problem("%s: %s must be a non-empty string", where, key)
		return "", false
	}
	return s, true
}

func (l *loader) integer(where string, o *object, key string, lo, hi int64) (int64, bool) {
	v, ok := o.vals[key]
	if !ok {
		return 0, false
	}
	n, ok := integer(v)
	if !ok || n < lo || n > hi {
		l.problem("%s: %s must be an integer from %d to %d", where, key, lo, hi)
		return 0, false
	}
	return n, true
}

// pathField reads InputPath, OutputPath or ResultPath: absent means "$", null means
// nothing (an empty input or output, or a discarded result).
func (l *loader) pathField(where string, o *object, key string, reference bool) *jpath {
	v, ok := o.vals[key]
	if !ok {
		return &jpath{text: "$"}
	}
	if v == nil {
		return nil
	}
	s, ok := v.(string)
	if !ok {
		l.problem("%s: %s must be a path or null", where, key)
		return nil
	}
	p, err := parsePath(s)
	switch {
	case err != nil:
		l.problem("%s: %s: %v", where, key, err)
	case p.context:
		l.problem("%s: %s cannot refer to the context object ($$)", where, key)
	case reference && !p.definite():
		l.problem("%s: %s %q must be a reference path (a single node: no *, .., [a,b] or [a:b])", where, key, s)
	default:
		return p
	}
	return nil
}

func (l *loader) referencePath(where string, v any, context bool) *jpath {
	s, ok := v.(string)
	if !ok {
		l.problem("%s must be a path", where)
		return nil
	}
	p, err := parsePath(s)
	switch {
	case err != nil:
		l.problem("%s: %v", where, err)
	case p.context && !context:
		l.problem("%s cannot refer to the context object ($$)", where)
	case !p.definite():
		l.problem("%s: %q must be a reference path (a single node: no *, .., [a,b] or [a:b])", where, s)
	default:
		return p
	}
	return nil
}

func (l *loader) template(where string, o *object, key string) template {
	v, ok := o.vals[key]
	if !ok {
		return nil
	}
	if _, isObject := v.(*object); !isObject {
		l.problem("%s: %s must be a JSON object", where, key)
		return nil
	}
	t, err := compileTemplate(plain(v))
	if err != nil {
		l.problem("%s: %s: %v", where, key, err)
		return nil
	}
	return t
}

// transitions checks what needs the whole graph: targets exist, every state can be
// reached, and the graph can end. An ItemProcessor's states only see each other, so a
// transition out of one names a state that is not there.
func (l *loader) transitions(m *graph, nested bool) {
	if _, ok := m.states[m.startAt]; !ok {
		l.problem("StartAt %q is not a state", m.startAt)
		return
	}
	before := len(l.problems)
	target := func(from, field, to string) {
		if _, ok := m.states[to]; !ok {
			if nested {
				l.problem("state %q: %s %q is not a state of this ItemProcessor (its states can only transition to each other)", from, field, to)
			} else {
				l.problem("state %q: %s %q is not a state", from, field, to)
			}
		}
	}
	terminal := false
	for _, name := range m.order {
		s := m.states[name]
		terminal = terminal || s.end || s.kind == "Succeed" || s.kind == "Fail"
		if s.next != "" {
			target(name, "Next", s.next)
		}
		for i, c := range s.catch {
			target(name, fmt.Sprintf("Catch[%d].Next", i), c.next)
		}
		for i, r := range s.choices {
			target(name, fmt.Sprintf("Choices[%d].Next", i), r.next)
		}
		if s.defaultNext != "" {
			target(name, "Default", s.defaultNext)
		}
	}
	if !terminal {
		what := "the execution"
		if nested {
			what = "an iteration"
		}
		l.problem("no state ends %s (Succeed, Fail or \"End\": true)", what)
	}
	if len(l.problems) > before {
		return
	}
	reached := map[string]bool{}
	var visit func(string)
	visit = func(name string) {
		if reached[name] {
			return
		}
		reached[name] = true
		for _, next := range m.states[name].successors() {
			visit(next)
		}
	}
	visit(m.startAt)
	for _, name := range m.order {
		if !reached[name] {
			l.problem("state %q cannot be reached from StartAt", name)
		}
	}
}

func (s *state) successors() []string {
	var out []string
	if s.next != "" {
		out = append(out, s.next)
	}
	for _, c := range s.catch {
		out = append(out, c.next)
	}
	for _, r := range s.choices {
		out = append(out, r.next)
	}
	if s.defaultNext != "" {
		out = append(out, s.defaultNext)
	}
	return out
}
