// Package asl runs an Amazon States Language definition (JSONPath, Standard workflow) in
// process against aws-lambda-go handlers, with Step Functions' semantics and history, and
// rejects every state type or field it does not implement instead of ignoring it.
package asl

import (
	"slices"
	"time"
)

// Machine is a loaded, validated state machine definition. It is immutable: any number of
// executions may run it at once.
type Machine struct {
	graph
	timeout time.Duration // 0: none
}

// graph is a set of states and where they start: the machine's, or a Map's ItemProcessor.
type graph struct {
	startAt string
	states  map[string]*state
	order   []string // definition order
}

// Load parses definition strictly and validates it as Step Functions would. substitutions
// are applied first to every string value, as DefinitionSubstitutions are: "${Name}" becomes
// substitutions["Name"]. A Resource still holding a ${...} after that is an error. All
// problems are reported together in a *DefinitionError.
func Load(definition []byte, substitutions map[string]string) (*Machine, error) {
	root, err := decodeDefinition(definition, substitutions)
	if err != nil {
		return nil, &DefinitionError{Problems: []string{err.Error()}}
	}
	l := &loader{}
	m := l.machine(root)
	if len(l.problems) > 0 {
		return nil, &DefinitionError{Problems: l.problems}
	}
	return m, nil
}

// Resources lists the distinct Task resources (after substitution) in definition order, for
// checking handlers before running. A Map's ItemProcessor lists its own at the Map's place.
func (m *Machine) Resources() []string {
	return m.graph.resources(nil)
}

func (g *graph) resources(out []string) []string {
	for _, name := range g.order {
		switch s := g.states[name]; {
		case s.kind == "Task" && !slices.Contains(out, s.resource):
			out = append(out, s.resource)
		case s.kind == "Map":
			out = s.processor.resources(out)
		}
	}
	return out
}

// MissingHandlers lists the Resources that handlers cannot serve. At run time such a Task
// fails with States.TaskFailed, which the definition's Catch may well route to a rollback:
// checking first turns a wiring mistake into an error before anything runs.
func (m *Machine) MissingHandlers(handlers map[string]Handler) []string {
	var out []string
	for _, r := range m.Resources() {
		if resolveHandler(handlers, r) == nil {
			out = append(out, r)
		}
	}
	return out
}
