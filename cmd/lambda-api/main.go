// Command lambda-api serves every function over the Lambda Invoke API that `sam local
// start-lambda` offers, on local PostgreSQL with local endpoints, so AWS Step Functions
// Local, LocalStack or the aws CLI can drive them:
//
//	aws lambda invoke --endpoint-url http://127.0.0.1:3001 --function-name CreateSchemaFunction \
//	  --payload '{"tenantId":"…"}' out.json
//
// (aws CLI v2 also needs --cli-binary-format raw-in-base64-out.)
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/healthstack/tenant-provisioning/internal/config"
	"github.com/healthstack/tenant-provisioning/internal/local/devstack"
	"github.com/healthstack/tenant-provisioning/internal/local/handlers"
	"github.com/healthstack/tenant-provisioning/internal/local/lambdaapi"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:3001", "listen address (sam local start-lambda's default port)")
	flag.Parse()
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	if err := run(*addr, log); err != nil {
		fmt.Fprintln(os.Stderr, "lambda-api:", err)
		os.Exit(1)
	}
}

func run(addr string, log *slog.Logger) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	db, err := config.LoadDatabase()
	if err != nil {
		return err
	}
	stack, err := devstack.Start(ctx, devstack.Options{DatabaseURL: db.URL, Log: log})
	if err != nil {
		return err
	}
	defer stack.Close()
	for _, n := range stack.Notes {
		fmt.Println(n)
	}
	for fn, why := range stack.Unconfigured {
		fmt.Printf("note: %s answers ConfigError: %s\n", fn, why)
	}
	srv := &http.Server{Addr: addr, Handler: lambdaapi.New(stack.Catalog, log), ReadHeaderTimeout: 10 * time.Second}
	fmt.Printf("Lambda Invoke API on http://%s: %s\n", addr, strings.Join(handlers.Names(stack.Catalog), ", "))
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(shutdown); err != nil && !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	}
}
