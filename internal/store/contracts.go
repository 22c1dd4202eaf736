package store

import (
	"context"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/healthstack/tenant-provisioning/internal/fault"
)

// ContractTx is a journalled contract-deployment transaction without a recorded outcome.
type ContractTx struct {
	Hash, Envelope string
	ValidUntil     time.Time
}

// JournalContractTx records a transaction before it is sent, each write on its own (no
// transaction stays open while the network is waited on). Recording it again is a no-op.
func (s *Store) JournalContractTx(ctx context.Context, tenantID uuid.UUID, account, hash, envelope string, validUntil time.Time) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO contract_transactions (tx_hash, tenant_id, account, envelope, valid_until)
		VALUES ($1, $2, $3, $4, $5) ON CONFLICT (tx_hash) DO NOTHING`, hash, tenantID, account, envelope, validUntil)
	return fault.FromDB("journal contract transaction", err)
}

// UnsettledContractTxs lists the tenant's journalled transactions without an outcome,
// oldest first.
func (s *Store) UnsettledContractTxs(ctx context.Context, tenantID uuid.UUID) ([]ContractTx, error) {
	rows, err := s.pool.Query(ctx, `SELECT tx_hash, envelope, valid_until FROM contract_transactions
		WHERE tenant_id = $1 AND outcome IS NULL ORDER BY sent_at`, tenantID)
	if err != nil {
		return nil, fault.FromDB("list unsettled contract transactions", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (ContractTx, error) {
		var c ContractTx
		return c, r.Scan(&c.Hash, &c.Envelope, &c.ValidUntil)
	})
	return out, fault.FromDB("list unsettled contract transactions", err)
}

// SettleContractTx records a journalled transaction's outcome; the first one recorded stays.
func (s *Store) SettleContractTx(ctx context.Context, hash, outcome string) error {
	_, err := s.pool.Exec(ctx, `UPDATE contract_transactions SET outcome = $2, settled_at = now()
		WHERE tx_hash = $1 AND outcome IS NULL`, hash, outcome)
	return fault.FromDB("settle contract transaction", err)
}
