-- Every Stellar transaction a contract deployment sends, journalled before it is sent: an
-- attempt that dies after sending (a Lambda timeout, a lost answer) leaves the next attempt
-- the transaction to resume, by its hash, or by sending the very same signed envelope again
-- (it applies at most once), instead of sending a second one. The envelope is signed
-- public data: the contract's constructor gets a hash of the tenant id, nothing personal.
CREATE TABLE contract_transactions (
    tx_hash     text PRIMARY KEY CHECK (tx_hash ~ '^[0-9a-f]{64}$'),
    tenant_id   uuid NOT NULL,
    account     text NOT NULL, -- the source account (G…)
    envelope    text NOT NULL, -- base64 TransactionEnvelope
    valid_until timestamptz NOT NULL, -- its time bounds: never applies after this
    sent_at     timestamptz NOT NULL DEFAULT now(),
    outcome     text CHECK (outcome IN ('SUCCESS', 'FAILED', 'EXPIRED')), -- NULL: not settled
    settled_at  timestamptz
);

CREATE INDEX contract_transactions_unsettled_idx ON contract_transactions (tenant_id) WHERE outcome IS NULL;

---- create above / drop below ----

DROP TABLE contract_transactions;
