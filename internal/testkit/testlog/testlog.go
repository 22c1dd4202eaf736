// Package testlog collects log output in tests, from any number of goroutines, so leak
// checks can search every line the code under test wrote. It is imported by tests only.
package testlog

import (
	"bytes"
	"log/slog"
	"sync"
)

// Buffer is a concurrency-safe io.Writer that keeps everything written to it.
type Buffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// JSON returns a JSON slog logger writing to a new Buffer, at debug level so nothing is
// left out of the checks.
func JSON() (*slog.Logger, *Buffer) {
	b := &Buffer{}
	return slog.New(slog.NewJSONHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug})), b
}
