package testdb

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"testing"
)

type fatalRecorder struct {
	testing.TB
	msg string
}

func (f *fatalRecorder) Helper() {}

func (f *fatalRecorder) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// Without PostgreSQL the integration tests must fail, saying what is missing and how to
// start it, never skip.
func TestUnreachableServerFailsClearly(t *testing.T) {
	t.Parallel()
	rec := &fatalRecorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		create(context.Background(), rec, "postgres://postgres:topsecret@127.0.0.1:1/postgres?connect_timeout=2")
	}()
	<-done
	for _, want := range []string{"PostgreSQL is not reachable at", "127.0.0.1:1", "pg_ctlcluster", "TEST_DATABASE_URL"} {
		if !strings.Contains(rec.msg, want) {
			t.Errorf("message lacks %q:\n%s", want, rec.msg)
		}
	}
	if strings.Contains(rec.msg, "topsecret") {
		t.Errorf("message shows the password:\n%s", rec.msg)
	}
}
