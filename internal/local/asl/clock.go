package asl

import (
	"context"
	"slices"
	"sync"
	"time"
)

// Clock paces what the definition asks to wait for (Wait states, retry intervals, the
// execution's TimeoutSeconds) and stamps history. Task TimeoutSeconds is not paced by it:
// it bounds real work, so the handler's context carries a real deadline whatever the clock.
type Clock interface {
	Now() time.Time
	// Sleep returns after d, or with ctx's error when ctx ends first.
	Sleep(ctx context.Context, d time.Duration) error
}

// RealClock waits for real, as Step Functions does.
type RealClock struct{}

func (RealClock) Now() time.Time { return time.Now() }

func (RealClock) Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// FastClock skips waits: Sleep returns at once and moves the clock forward by d, so a
// Wait of an hour or a minute of retry backoff costs nothing. It keeps every duration it
// was asked to sleep, in order, for tests to check backoff arithmetic.
type FastClock struct {
	mu      sync.Mutex
	start   time.Time // zero: follow the wall clock
	skipped time.Duration
	sleeps  []time.Duration
}

// NewFastClock follows the wall clock plus the time skipped so far, so history timestamps
// still show how long handlers really took.
func NewFastClock() *FastClock { return &FastClock{} }

// NewFastClockAt stands still at start except for what Sleep skips, so that timestamps,
// $$.Execution.StartTime and waits until a Timestamp are exact in tests.
func NewFastClockAt(start time.Time) *FastClock {
	return &FastClock{start: start.Round(0)}
}

func (c *FastClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.start.IsZero() {
		return time.Now().Add(c.skipped)
	}
	return c.start.Add(c.skipped)
}

func (c *FastClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sleeps = append(c.sleeps, d)
	c.skipped += max(d, 0)
	return nil
}

// Sleeps lists the durations Sleep was called with.
func (c *FastClock) Sleeps() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.sleeps)
}

// ScaledClock runs the definition's time faster than the wall clock by Factor: Sleep(d)
// takes d/Factor, and Now advances Factor seconds a second. Unlike FastClock, waits
// still take time relative to the handlers' real work, so what competes with a retry's
// backoff (a throttled function's other invocations, a ledger close) keeps its order.
type ScaledClock struct {
	Factor float64
	start  time.Time
	once   sync.Once
}

func (c *ScaledClock) origin() time.Time {
	c.once.Do(func() { c.start = time.Now() })
	return c.start
}

func (c *ScaledClock) Now() time.Time {
	start := c.origin()
	return start.Add(time.Duration(float64(time.Since(start)) * c.Factor))
}

func (c *ScaledClock) Sleep(ctx context.Context, d time.Duration) error {
	c.origin()
	return RealClock{}.Sleep(ctx, time.Duration(float64(d)/c.Factor))
}
