package secrets

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
)

func TestNothingPrintsTheSecret(t *testing.T) {
	t.Parallel()
	const pw = "hunter2-LEAK-CANARY-5bd1"
	v := NewValue(pw)
	creds := DBCredentials{Username: "app", Password: v, Host: "db.internal", Port: 5432, DBName: "tenants", Engine: "postgres"}

	subjects := []struct {
		name string
		val  any
	}{
		{"value", v},
		{"pointer to value", &v},
		{"credentials", creds},
		{"pointer to credentials", &creds},
		{"value in unexported field", struct{ hidden Value }{v}},
		{"credentials nested", struct{ Creds DBCredentials }{creds}},
		{"slice of values", []Value{v}},
		{"map of values", map[string]Value{"k": v}},
	}
	renderers := []struct {
		name   string
		render func(any) string
	}{
		{"%v", func(x any) string { return fmt.Sprintf("%v", x) }},
		{"%+v", func(x any) string { return fmt.Sprintf("%+v", x) }},
		{"%#v", func(x any) string { return fmt.Sprintf("%#v", x) }},
		{"%s", func(x any) string { return fmt.Sprintf("%s", x) }},
		{"%q", func(x any) string { return fmt.Sprintf("%q", x) }},
		{"%x", func(x any) string { return fmt.Sprintf("%x", x) }},
		{"%d", func(x any) string { return fmt.Sprintf("%d", x) }},
		{"Sprint", func(x any) string { return fmt.Sprint(x) }},
		{"Errorf", func(x any) string { return fmt.Errorf("connect with %v: %w", x, fmt.Errorf("refused")).Error() }},
		{"json.Marshal", func(x any) string {
			b, err := json.Marshal(x)
			if err != nil {
				return "error: " + err.Error()
			}
			return string(b)
		}},
		{"slog JSON", func(x any) string { return logWith(slog.NewJSONHandler, x) }},
		{"slog text", func(x any) string { return logWith(slog.NewTextHandler, x) }},
	}
	for _, s := range subjects {
		for _, r := range renderers {
			t.Run(s.name+"/"+r.name, func(t *testing.T) {
				t.Parallel()
				out := r.render(s.val)
				if strings.Contains(out, pw) || strings.Contains(out, fmt.Sprintf("%x", pw)) {
					t.Fatalf("secret printed: %s", out)
				}
			})
		}
	}
}

func logWith[H slog.Handler](newHandler func(w io.Writer, opts *slog.HandlerOptions) H, x any) string {
	var buf bytes.Buffer
	slog.New(newHandler(&buf, nil)).Info("connecting", "secret", x)
	return buf.String()
}

// Redaction must still show that something is there, and credentials must stay useful in
// logs: everything but the password.
func TestRenderings(t *testing.T) {
	t.Parallel()
	v := NewValue("s3cret")
	creds := DBCredentials{Username: "app", Password: v, Host: "db.internal", Port: 5432, DBName: "tenants", Engine: "postgres"}
	valueJSON, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	credsJSON, err := json.Marshal(creds)
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name, got, want string
	}{
		{"%v", fmt.Sprintf("%v", v), "[redacted]"},
		{"%#v", fmt.Sprintf("%#v", v), "[redacted]"},
		{"json", string(valueJSON), `"[redacted]"`},
		{"credentials %+v", fmt.Sprintf("%+v", creds), "{Username:app Password:[redacted] Host:db.internal Port:5432 DBName:tenants Engine:postgres}"},
		{"credentials json", string(credsJSON), `{"Username":"app","Password":"[redacted]","Host":"db.internal","Port":5432,"DBName":"tenants","Engine":"postgres"}`},
		{"credentials slog", logWith(slog.NewJSONHandler, creds), `"secret":{"username":"app","host":"db.internal","port":5432,"dbname":"tenants","engine":"postgres"}`},
	}
	for _, tt := range tests {
		if !strings.Contains(tt.got, tt.want) {
			t.Errorf("%s: got %s, want %s", tt.name, tt.got, tt.want)
		}
	}
	if got := v.Reveal(); got != "s3cret" {
		t.Errorf("Reveal() = %q", got)
	}
	if got := (Value{}).Reveal(); got != "" {
		t.Errorf("zero Value reveals %q", got)
	}
}
