package store

import (
	"context"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// StartStepAsyncIn runs StartStep's statement inside tx, where its effect on the commit
// can be read back before the commit.
func StartStepAsyncIn(ctx context.Context, tx pgx.Tx, tenantID uuid.UUID, step, executionArn string) (StepRun, error) {
	return startStep(ctx, tx, tenantID, step, executionArn)
}
