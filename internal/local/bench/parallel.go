package bench

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/jackc/pgx/v5"
)

// inParallel calls do(w, i) for every i in [0, n) from workers goroutines; w numbers the
// goroutine, for state of its own such as a connection. After the first error no further
// i is handed out, and that error is returned once all goroutines are done.
func inParallel(n, workers int, do func(w, i int) error) error {
	var next atomic.Int64
	var first error
	var once sync.Once
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				if err := do(w, i); err != nil {
					once.Do(func() { first = err })
					next.Store(int64(n))
					return
				}
			}
		}()
	}
	wg.Wait()
	return first
}

// connect opens n connections to url, one per worker; closeAll closes them, and closing
// a connection frees all the catalog its backend cached.
func connect(ctx context.Context, url string, n int) (conns []*pgx.Conn, closeAll func(), err error) {
	closeAll = func() {
		for _, c := range conns {
			c.Close(context.WithoutCancel(ctx))
		}
	}
	for range n {
		c, err := pgx.Connect(ctx, url)
		if err != nil {
			closeAll()
			return nil, nil, err
		}
		conns = append(conns, c)
	}
	return conns, closeAll, nil
}
