package secrets

import (
	"fmt"
	"log/slog"
)

const redacted = "[redacted]"

// Value is a secret string that renders as "[redacted]" in fmt, slog, JSON and text
// encodings, so passing it to a logger or an error by mistake leaks nothing. Reveal is the
// only way to the content. The zero Value reveals "".
type Value struct {
	// A pointer, not the string itself: fmt prints a Value held in an unexported struct
	// field by reflection, without calling its methods, and then shows an address only.
	s *string
}

// NewValue wraps s.
func NewValue(s string) Value { return Value{s: &s} }

// Reveal returns the secret itself. Call it only where the secret is handed to the thing
// that needs it (a connection config, a signing key), never to build a message.
func (v Value) Reveal() string {
	if v.s == nil {
		return ""
	}
	return *v.s
}

func (Value) String() string   { return redacted }
func (Value) GoString() string { return redacted }

// Format gives the verbs String does not serve (%d, %e …) the placeholder too, rather than
// the struct.
func (Value) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(redacted)) }

func (Value) LogValue() slog.Value { return slog.StringValue(redacted) }

func (Value) MarshalJSON() ([]byte, error) { return []byte(`"` + redacted + `"`), nil }

// MarshalText covers encoders other than JSON (XML, YAML, JSON map keys).
func (Value) MarshalText() ([]byte, error) { return []byte(redacted), nil }
