-- A lease belongs to one attempt of a deployment, not to its tenant: two attempts of one
-- tenant can overlap (a timed-out invocation still running beside its retry), and the
-- tenant id alone let the second take the first's lease and the first's release free the
-- account under the second. Each lease gets a random token that only its attempt knows;
-- only that token releases it. Nullable and unchecked: a function still on the release
-- before this one leases and releases by the tenant id alone while the fleet moves.
ALTER TABLE deployer_leases ADD COLUMN lease_token uuid;

---- create above / drop below ----

ALTER TABLE deployer_leases DROP COLUMN lease_token;
