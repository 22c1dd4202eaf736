package store

import (
	"context"
	"errors"
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

// LeaseDeployer leases the tenant's deployer account among addresses for ttl: the one the
// tenant is pinned to, or else a free one (at random, so that containers spread out), which
// it pins the tenant to. ok is false while that account, or every one, is leased to another
// deployment. It is one short transaction: nothing stays open while the deployment waits on
// the network. Leasing again for the same tenant renews its lease.
func (s *Store) LeaseDeployer(ctx context.Context, tenantID uuid.UUID, addresses []string, ttl time.Duration) (address string, ok bool, err error) {
	const op = "lease deployer account"
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO deployer_leases (address) SELECT unnest($1::text[]) ON CONFLICT DO NOTHING`, addresses); err != nil {
			return err
		}
		var pinned *string
		if err := tx.QueryRow(ctx, `SELECT address FROM tenant_deployers WHERE tenant_id = $1`, tenantID).Scan(&pinned); err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		free := `holder IS NULL OR expires_at < now() OR holder = $1`
		var err error
		if pinned != nil {
			err = tx.QueryRow(ctx, `UPDATE deployer_leases SET holder = $1, expires_at = now() + $3 * interval '1 millisecond'
				WHERE address = $2 AND (`+free+`) RETURNING address`, tenantID, *pinned, ttl.Milliseconds()).Scan(&address)
		} else {
			err = tx.QueryRow(ctx, `UPDATE deployer_leases SET holder = $1, expires_at = now() + $3 * interval '1 millisecond'
				WHERE address = (SELECT address FROM deployer_leases WHERE address = ANY($2) AND (`+free+`)
				                 ORDER BY random() LIMIT 1 FOR UPDATE SKIP LOCKED)
				RETURNING address`, tenantID, addresses, ttl.Milliseconds()).Scan(&address)
			if err == nil {
				_, err = tx.Exec(ctx, `INSERT INTO tenant_deployers (tenant_id, address) VALUES ($1, $2)`, tenantID, address)
			}
		}
		if errors.Is(err, pgx.ErrNoRows) {
			return nil // busy
		}
		ok = err == nil
		return err
	})
	return address, ok, fault.FromDB(op, err)
}

// ReleaseDeployer ends the tenant's lease of address (a lease another deployment took over
// after it expired is left alone).
func (s *Store) ReleaseDeployer(ctx context.Context, tenantID uuid.UUID, address string) error {
	_, err := s.pool.Exec(ctx, `UPDATE deployer_leases SET holder = NULL, expires_at = NULL WHERE address = $1 AND holder = $2`,
		address, tenantID)
	return fault.FromDB("release deployer account", err)
}

// DeployerAccounts leases the contract deployer's accounts in the control plane, for
// leases of TTL (soroban.Accounts).
type DeployerAccounts struct {
	Store *Store
	TTL   time.Duration
}

// Lease leases the tenant's account among addresses (LeaseDeployer); release ends it.
func (a DeployerAccounts) Lease(ctx context.Context, tenantID uuid.UUID, addresses []string) (string, func(), bool, error) {
	addr, ok, err := a.Store.LeaseDeployer(ctx, tenantID, addresses, a.TTL)
	if !ok || err != nil {
		return "", func() {}, false, err
	}
	return addr, func() {
		// Detached: the deployment may be ending because its context did; a release that
		// fails leaves the lease to expire.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = a.Store.ReleaseDeployer(rctx, tenantID, addr)
	}, true, nil
}
