package audit

import (
	"context"
	"testing"
)

// An Unrecorded context names no actor, whatever is set in it before or after.
func TestUnrecorded(t *testing.T) {
	t.Parallel()
	a := Actor{Name: Admin("https://issuer.example", "sub")}
	if got, ok := From(With(context.Background(), a)); !ok || got != a {
		t.Fatalf("From(With) = %+v, %v", got, ok)
	}
	for name, ctx := range map[string]context.Context{
		"after":  Unrecorded(With(context.Background(), a)),
		"before": With(Unrecorded(context.Background()), a),
		"as":     nil,
	} {
		if ctx == nil {
			_, _ = As("Fn", func(ctx context.Context, _ int) (int, error) {
				if _, ok := From(ctx); ok {
					t.Errorf("as: an actor in an Unrecorded context")
				}
				return 0, nil
			})(Unrecorded(context.Background()), 0)
			continue
		}
		if _, ok := From(ctx); ok {
			t.Errorf("%s: an actor in an Unrecorded context", name)
		}
	}
}
