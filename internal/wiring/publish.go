package wiring

import (
	"context"
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/healthstack/tenant-provisioning/internal/catalog"
	"github.com/healthstack/tenant-provisioning/internal/config"
	"github.com/healthstack/tenant-provisioning/internal/outbox"
	"github.com/healthstack/tenant-provisioning/internal/store"
)

// Publisher builds the event publisher for its main.
func Publisher(id string) (*outbox.Publisher, func()) {
	return start(id, func(ctx context.Context, log *slog.Logger, f catalog.Function) (*outbox.Publisher, *pgxpool.Pool, error) {
		return NewPublisher(ctx, log, f)
	})
}

// NewPublisher reads the configuration, then builds the publisher of function f: the
// outbox as f's database user and the EventBridge client for the bus EVENT_BUS_NAME.
func NewPublisher(ctx context.Context, log *slog.Logger, f catalog.Function) (*outbox.Publisher, *pgxpool.Pool, error) {
	ev, err := config.LoadEvents()
	if err != nil {
		return nil, nil, err
	}
	awsCfg, err := AWSConfig(ctx)
	if err != nil {
		return nil, nil, err
	}
	pool, err := Pool(ctx, awsCfg, f.DBUser())
	if err != nil {
		return nil, nil, err
	}
	return &outbox.Publisher{Store: store.New(pool), Bus: eventbridge.NewFromConfig(awsCfg), BusName: ev.BusName, Log: log}, pool, nil
}
