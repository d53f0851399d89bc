-- rumd schema, version 4: bearer tokens for the admin REST API and the audit
-- log of what was done through it (and through the token CLI verbs).
-- A token is shown once when created; only its SHA-256 is kept, with a short
-- display prefix so that people can tell tokens apart.
-- Forward-only: never edit this file after it has landed.

CREATE TABLE api_tokens (
    id            bigserial PRIMARY KEY,
    hash          text NOT NULL UNIQUE CHECK (hash ~ '^[0-9a-f]{64}$'), -- SHA-256, hex
    prefix        text NOT NULL,            -- rumd_<first 8 hex digits>, for display
    role          text NOT NULL CHECK (role IN ('admin', 'operator', 'reader')),
    tenant_id     bigint REFERENCES tenants(id), -- NULL: every tenant
    description   text NOT NULL DEFAULT '',
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_used_at  timestamptz,
    revoked_at    timestamptz
);

-- One row per audited action: an export, an import, an ACK download, a token
-- created or revoked, and refusals of write attempts. Never holds a token.
CREATE TABLE audit_log (
    id        bigserial PRIMARY KEY,
    at        timestamptz NOT NULL DEFAULT now(),
    actor     text NOT NULL,                -- 'token <id> (<prefix>)', 'cli', 'anonymous'
    token_id  bigint REFERENCES api_tokens(id),
    action    text NOT NULL,                -- export, import, ack-download, token-create, ...
    tenant    text,                         -- the tenant named, as given
    target    text NOT NULL DEFAULT '',     -- batch id, device id, token id, file name
    result    text NOT NULL CHECK (result IN ('ok', 'error')),
    details   jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_at ON audit_log (at);
