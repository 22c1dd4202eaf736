-- The pool of deployer accounts: a contract deployment sends from one account at a time
-- (the network takes one pending transaction per source account), so each deployment
-- leases its account here, in one short statement, instead of holding a connection on an
-- advisory lock for the seconds a ledger close takes. A lease whose holder died (a Lambda
-- timeout, a frozen container) ends at expires_at, and another deployment may take it.
CREATE TABLE deployer_leases (
    address    text PRIMARY KEY CHECK (address ~ '^G[A-Z2-7]{55}$'),
    holder     uuid,        -- the tenant deploying from it, while leased
    expires_at timestamptz, -- the lease's end, while leased
    CHECK ((holder IS NULL) = (expires_at IS NULL))
);

-- The account each tenant's contract comes from: the contract id follows from it, so every
-- attempt of the tenant's deployment leases that account again.
CREATE TABLE tenant_deployers (
    tenant_id uuid PRIMARY KEY,
    address   text NOT NULL,
    pinned_at timestamptz NOT NULL DEFAULT now()
);

---- create above / drop below ----

DROP TABLE tenant_deployers;
DROP TABLE deployer_leases;
