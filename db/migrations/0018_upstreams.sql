-- rumd schema, version 18: connected mode's configuration (PROTOCOL.md 5).
-- A tenant may have one upstream that rumd sends its usage to and brings
-- ACKs back from: CSSM's Smart Licensing REST API (OAuth2 client
-- credentials and a Smart Account / Virtual Account, by ids or by names
-- resolved with accounts/search), or another collector that speaks the
-- device protocol (a central rumd's /cslu/v1/pi/<tenant>, CSLU, SSM
-- On-Prem). Only the configuration lives here; what a sync did is the sync
-- engine's, in a migration of its own.
--
-- The client secret and the proxy password are sealed like pull-target
-- credentials: AES-256-GCM (nonce || ciphertext || tag) under the key file
-- named by secret_key_file, bound to the tenant and the field, so a sealed
-- value copied to another row or column does not open. They never leave
-- rumd in clear.
-- Forward-only: never edit this file after it has landed.

CREATE TABLE upstreams (
    tenant_id            bigint PRIMARY KEY REFERENCES tenants(id) ON DELETE CASCADE,
    kind                 text NOT NULL CHECK (kind IN ('cssm', 'collector')),
    -- collector: its device endpoint URL; '' for cssm.
    url                  text NOT NULL DEFAULT '' CHECK (length(url) <= 2048),
    -- cssm: '' = Cisco's (PROTOCOL.md 5.1); another region or a test double otherwise.
    token_url            text NOT NULL DEFAULT '' CHECK (length(token_url) <= 2048),
    api_url              text NOT NULL DEFAULT '' CHECK (length(api_url) <= 2048),
    client_id            text NOT NULL DEFAULT '' CHECK (length(client_id) <= 256),
    client_secret        bytea,                -- sealed; NULL for collector
    smart_account_id     text NOT NULL DEFAULT '' CHECK (smart_account_id ~ '^[0-9]{0,20}$'),
    virtual_account_id   text NOT NULL DEFAULT '' CHECK (virtual_account_id ~ '^[0-9]{0,20}$'),
    smart_account_name   text NOT NULL DEFAULT '' CHECK (length(smart_account_name) <= 256),
    virtual_account_name text NOT NULL DEFAULT '' CHECK (length(virtual_account_name) <= 256),
    -- '' = the node's upstream_proxy setting, 'direct' = no proxy, else an
    -- http(s) URL without a password (that one is sealed beside it).
    proxy                text NOT NULL DEFAULT '' CHECK (length(proxy) <= 2048),
    proxy_password       bytea,                -- sealed; NULL: none
    ca_file              text NOT NULL DEFAULT '' CHECK (length(ca_file) <= 4096), -- '' = upstream_ca_file
    connect_timeout_s    integer NOT NULL DEFAULT 10 CHECK (connect_timeout_s BETWEEN 1 AND 300),
    request_timeout_s    integer NOT NULL DEFAULT 120 CHECK (request_timeout_s BETWEEN 1 AND 3600),
    sync_interval_s      integer NOT NULL DEFAULT 86400
                         CHECK (sync_interval_s BETWEEN 300 AND 366 * 86400),
    -- Sync this long after new reports arrive (batching what comes
    -- together), besides the schedule; NULL: only on schedule.
    sync_soon_s          integer CHECK (sync_soon_s IS NULL OR sync_soon_s BETWEEN 60 AND 86400),
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT upstreams_kind_fields CHECK (
        (kind = 'collector' AND url <> '' AND client_id = '' AND client_secret IS NULL
         AND token_url = '' AND api_url = ''
         AND smart_account_id = '' AND virtual_account_id = ''
         AND smart_account_name = '' AND virtual_account_name = '')
        OR (kind = 'cssm' AND url = '' AND client_id <> '' AND client_secret IS NOT NULL
            AND ((smart_account_id <> '' AND virtual_account_id <> ''
                  AND smart_account_name = '' AND virtual_account_name = '')
                 OR (smart_account_id = '' AND virtual_account_id = ''
                     AND smart_account_name <> '' AND virtual_account_name <> '')))),
    CONSTRAINT upstreams_proxy_password CHECK (proxy_password IS NULL OR proxy NOT IN ('', 'direct'))
);
