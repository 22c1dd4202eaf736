package lambdarun

import (
	"context"
	"fmt"
	"sync"
	"testing"
)

// Invocations of one function at once each get their own answer, as from sandboxes of
// their own: one lambda.NewHandler handler shared between them hands its pooled answer
// buffer to the next invocation before the caller has read it.
func TestNewHandlerServesConcurrentInvocations(t *testing.T) {
	t.Parallel()
	type msg struct {
		N int `json:"n"`
	}
	h := NewHandler(func(_ context.Context, in msg) (msg, error) { return in, nil })
	var wg sync.WaitGroup
	for i := range 64 {
		wg.Go(func() {
			for range 20 {
				want := fmt.Sprintf(`{"n":%d}`, i)
				out, err := h.Invoke(context.Background(), []byte(want))
				if err != nil || string(out) != want {
					t.Errorf("invocation with %s answered %s, %v", want, out, err)
					return
				}
			}
		})
	}
	wg.Wait()
}
