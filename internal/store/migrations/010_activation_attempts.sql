-- The per-client limit on the public activation route. WAF cannot be attached to an HTTP
-- API, and API Gateway's route throttle is one bucket for everyone: one client could use
-- it all. Each client (source IP) counts its attempts in fixed windows here, through the
-- control plane's activation_attempt function (access.sql), the only way the activation
-- route's user reaches it. UNLOGGED: a count lost in a crash costs nothing worth a WAL
-- write per attempt.
CREATE UNLOGGED TABLE activation_attempts (
    client       inet NOT NULL,
    window_start timestamptz NOT NULL,
    attempts     integer NOT NULL CHECK (attempts > 0),
    PRIMARY KEY (client, window_start)
);

---- create above / drop below ----

DROP TABLE activation_attempts;
