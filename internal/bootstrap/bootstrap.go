// Package bootstrap builds, once per Lambda container, what every function needs: the
// logger, the configuration and the database pool. Mains stay wiring only.
package bootstrap

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/healthstack/tenant-provisioning/internal/config"
	"github.com/healthstack/tenant-provisioning/internal/database"
	"github.com/healthstack/tenant-provisioning/internal/pipeline"
)

// Logger is the functions' logger: JSON when the function's log format is JSON (as the
// template configures it), with the invocation's request id on every line.
func Logger() *slog.Logger {
	return lambdacontext.NewLogger(lambdacontext.WithFunctionARN())
}

// Pool reads the database configuration and opens the pool.
func Pool(ctx context.Context) (*pgxpool.Pool, error) {
	cfg, err := config.LoadDatabase()
	if err != nil {
		return nil, err
	}
	return database.Open(ctx, database.Config{DSN: cfg.URL, MaxConns: cfg.MaxConns})
}

// Exit ends a container whose start-up failed. Lambda reports the init error and retries
// the invocation in a fresh container.
func Exit(log *slog.Logger, err error) {
	log.Error("start-up failed", "error", err.Error())
	os.Exit(1)
}

// Steps builds the pipeline steps for a step function's main, and returns the function
// that closes the pool on SIGTERM. A start-up failure ends the process.
func Steps() (*pipeline.Steps, func()) {
	log := Logger()
	pool, err := Pool(context.Background())
	if err != nil {
		Exit(log, err)
	}
	return pipeline.New(pool, log), pool.Close
}
