-- rumd schema, version 13: browsers sign in to a session of their own, so
-- that the admin console never keeps a long-lived bearer token where
-- scripts can read it.
--
-- A session is created from a bearer token (it acts with that token's role
-- and tenant, for as long as the token is not revoked) or from a local user
-- with a password (scrypt; only the hash is kept). The browser holds a
-- random secret in an HttpOnly cookie; only its SHA-256 is stored here. A
-- session ends when signed out, after web_session_idle_s without a request,
-- or web_session_max_s after it began. Every state-changing request of a
-- session carries its CSRF token in a header.
-- Forward-only: never edit this file after it has landed.

CREATE TABLE web_users (
    id            bigserial PRIMARY KEY,
    name          text NOT NULL UNIQUE CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$'),
    password_hash text NOT NULL CHECK (password_hash LIKE '$scrypt$%'),
    role          text NOT NULL CHECK (role IN ('admin', 'operator', 'reader')),
    tenant_id     bigint REFERENCES tenants(id), -- NULL: every tenant
    created_at    timestamptz NOT NULL DEFAULT now(),
    password_at   timestamptz NOT NULL DEFAULT now(),
    disabled_at   timestamptz
);

CREATE TABLE web_sessions (
    id           bigserial PRIMARY KEY,
    secret_hash  text NOT NULL UNIQUE CHECK (secret_hash ~ '^[0-9a-f]{64}$'),
    csrf_token   text NOT NULL CHECK (csrf_token ~ '^[0-9a-f]{64}$'),
    token_id     bigint REFERENCES api_tokens(id),
    user_id      bigint REFERENCES web_users(id),
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_seen_at timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    ended_at     timestamptz,
    address      text NOT NULL DEFAULT '',
    CHECK ((token_id IS NULL) <> (user_id IS NULL))
);
-- Sessions still open, for a user's or a token's sign-out everywhere.
CREATE INDEX web_sessions_user ON web_sessions (user_id) WHERE ended_at IS NULL;
CREATE INDEX web_sessions_token ON web_sessions (token_id) WHERE ended_at IS NULL;
