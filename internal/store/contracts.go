package store

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/healthstack/tenant-provisioning/internal/fault"
	"github.com/healthstack/tenant-provisioning/internal/soroban"
)

// ContractDeployments is the control plane's side of the contract deployer: the journal of
// the transactions its deployments send (contract_transactions) and the leases of the
// deployer accounts they send from (deployer_leases, tenant_deployers). It is the deployer's
// soroban.Journal and soroban.Accounts. Each method is one short statement or transaction:
// nothing stays open while a deployment waits on the network.
type ContractDeployments struct {
	s     *Store
	lease time.Duration
}

var (
	_ soroban.Journal  = (*ContractDeployments)(nil)
	_ soroban.Accounts = (*ContractDeployments)(nil)
)

// ContractDeployments is the contract deployer's journal and account leases, each lease
// lasting lease unless released.
func (s *Store) ContractDeployments(lease time.Duration) *ContractDeployments {
	return &ContractDeployments{s: s, lease: lease}
}

// Sending records a transaction before it is sent. Recording it again is a no-op.
func (c *ContractDeployments) Sending(ctx context.Context, tenantID uuid.UUID, account, hash, envelope string, validUntil time.Time) error {
	_, err := c.s.db.Exec(ctx, `INSERT INTO contract_transactions (tx_hash, tenant_id, account, envelope, valid_until)
		VALUES ($1, $2, $3, $4, $5) ON CONFLICT (tx_hash) DO NOTHING`, hash, tenantID, account, envelope, validUntil)
	return fault.FromDB("journal contract transaction", err)
}

// Unsettled lists the tenant's journalled transactions without an outcome, oldest first.
func (c *ContractDeployments) Unsettled(ctx context.Context, tenantID uuid.UUID) ([]soroban.Pending, error) {
	rows, err := c.s.db.Query(ctx, `SELECT tx_hash, envelope, valid_until FROM contract_transactions
		WHERE tenant_id = $1 AND outcome IS NULL ORDER BY sent_at`, tenantID)
	if err != nil {
		return nil, fault.FromDB("list unsettled contract transactions", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (soroban.Pending, error) {
		var p soroban.Pending
		return p, r.Scan(&p.Hash, &p.Envelope, &p.ValidUntil)
	})
	return out, fault.FromDB("list unsettled contract transactions", err)
}

// Settled records a journalled transaction's outcome; the first one recorded stays.
func (c *ContractDeployments) Settled(ctx context.Context, hash, outcome string) error {
	_, err := c.s.db.Exec(ctx, `UPDATE contract_transactions SET outcome = $2, settled_at = now()
		WHERE tx_hash = $1 AND outcome IS NULL`, hash, outcome)
	return fault.FromDB("settle contract transaction", err)
}

// Lease leases the tenant's deployer account among addresses: the one the tenant is pinned
// to, or else a free one (at random, so that containers spread out), which it pins the
// tenant to. The lease belongs to this call, by a random token that only its release knows:
// ok is false while that account, or every one, is leased, to another tenant's deployment
// or to another attempt of this tenant's (a timed-out invocation still running beside its
// retry), until that lease is released or expires. release ends this lease and no other.
func (c *ContractDeployments) Lease(ctx context.Context, tenantID uuid.UUID, addresses []string) (address string, release func(), ok bool, err error) {
	const op = "lease deployer account"
	token := uuid.New() // crypto/rand
	err = pgx.BeginFunc(ctx, c.s.db, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO deployer_leases (address) SELECT unnest($1::text[]) ON CONFLICT DO NOTHING`, addresses); err != nil {
			return err
		}
		var pinned *string
		if err := tx.QueryRow(ctx, `SELECT address FROM tenant_deployers WHERE tenant_id = $1`, tenantID).Scan(&pinned); err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		const free = `holder IS NULL OR expires_at < now()`
		const take = `UPDATE deployer_leases SET holder = $1, lease_token = $4, expires_at = now() + $3 * interval '1 millisecond'`
		var err error
		if pinned != nil {
			err = tx.QueryRow(ctx, take+` WHERE address = $2 AND (`+free+`) RETURNING address`,
				tenantID, *pinned, c.lease.Milliseconds(), token).Scan(&address)
		} else {
			err = tx.QueryRow(ctx, take+` WHERE address = (SELECT address FROM deployer_leases WHERE address = ANY($2) AND (`+free+`)
				                 ORDER BY random() LIMIT 1 FOR UPDATE SKIP LOCKED)
				RETURNING address`, tenantID, addresses, c.lease.Milliseconds(), token).Scan(&address)
			if err == nil {
				var tag pgconn.CommandTag
				tag, err = tx.Exec(ctx, `INSERT INTO tenant_deployers (tenant_id, address) VALUES ($1, $2) ON CONFLICT (tenant_id) DO NOTHING`, tenantID, address)
				if err == nil && tag.RowsAffected() == 0 {
					// Another attempt of the tenant, leasing at the same moment, pinned it
					// first, to the account it leased: this one is busy like any other.
					return errPinnedMeanwhile
				}
			}
		}
		if errors.Is(err, pgx.ErrNoRows) {
			return nil // busy
		}
		ok = err == nil
		return err
	})
	if errors.Is(err, errPinnedMeanwhile) {
		err = nil
	}
	if err != nil || !ok {
		return "", func() {}, false, fault.FromDB(op, err)
	}
	return address, func() {
		// Detached: the deployment may be ending because its context did; a release that
		// fails leaves the lease to expire.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = c.release(rctx, address, token)
	}, true, nil
}

// errPinnedMeanwhile rolls back a lease whose tenant another attempt pinned meanwhile.
var errPinnedMeanwhile = errors.New("tenant pinned by another attempt")

// release ends the lease of address that token names. A lease that expired and was taken
// since, by another tenant or by another attempt of the same one, has another token and is
// left alone.
func (c *ContractDeployments) release(ctx context.Context, address string, token uuid.UUID) error {
	_, err := c.s.db.Exec(ctx, `UPDATE deployer_leases SET holder = NULL, lease_token = NULL, expires_at = NULL
		WHERE address = $1 AND lease_token = $2`, address, token)
	return fault.FromDB("release deployer account", err)
}
