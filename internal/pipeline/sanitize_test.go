package pipeline

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestSanitizeError(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		in   *CaughtError
		want string
	}{
		{"none", nil, ""},
		{"lambda cause", &CaughtError{Error: "TransientError", Cause: `{"errorMessage":"create schema: database unavailable","errorType":"TransientError"}`},
			"TransientError: create schema: database unavailable"},
		{"stack trace dropped", &CaughtError{Error: "Lambda.Unknown", Cause: "panic: boom\n\ngoroutine 1 [running]:\nmain.main()"},
			"Lambda.Unknown: panic: boom"},
		{"e-mail redacted", &CaughtError{Error: "X", Cause: "cannot send to jane.doe+x@hospital.example.org today"},
			"X: cannot send to [redacted] today"},
		{"url credentials redacted", &CaughtError{Error: "X", Cause: "dial postgres://admin:hunter2@db.internal:5432/app failed"},
			"X: dial postgres://[redacted]@db.internal:5432/app failed"},
		{"key=value secrets redacted", &CaughtError{Error: "X", Cause: `password=hunter2 token: abc.def api_key="k"`},
			"X: password=[redacted] token: [redacted] api_key=[redacted]"},
		{"error only", &CaughtError{Error: "States.Timeout"}, "States.Timeout"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			if got := SanitizeError(c.in); got != c.want {
				t.Errorf("SanitizeError = %q, want %q", got, c.want)
			}
		})
	}
	long := SanitizeError(&CaughtError{Error: "X", Cause: strings.Repeat("é", 2000)})
	if n := utf8.RuneCountInString(long); n != 500 || !utf8.ValidString(long) {
		t.Errorf("long error: %d characters, valid UTF-8 %v", n, utf8.ValidString(long))
	}
}
