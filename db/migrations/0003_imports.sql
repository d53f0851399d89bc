-- rumd schema, version 3: imports of CSSM's ACK files (PROTOCOL.md 2.3).
-- An import is recorded with the SHA-256 of the file and the scope it was
-- applied to (tenant, devices named), so that importing the same file the
-- same way twice changes nothing the second time. Each device ACK it brought
-- is kept byte-exact in `acks` (delivered as 0001 describes); what rumd read
-- from it, for display only, is kept beside it here.
-- Forward-only: never edit this file after it has landed.

CREATE TABLE imports (
    id            bigserial PRIMARY KEY,
    file_name     text NOT NULL,           -- as given on the command line (base name)
    file_sha256   bytea NOT NULL,
    scope         text NOT NULL,           -- "tenant=<id>;devices=<ids>", '' parts when unset
    kind          text NOT NULL CHECK (kind IN ('ack', 'policy')),
    devices       integer NOT NULL DEFAULT 0,
    acks          integer NOT NULL DEFAULT 0,
    reports_acked integer NOT NULL DEFAULT 0,
    skipped       integer NOT NULL DEFAULT 0,
    imported_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (file_sha256, scope)
);

-- One device ACK of an import. ack_id is the `acks` row holding its bytes:
-- a new one, or the one an earlier import stored with the same bytes for
-- the same device (then new_ack is false and nothing was queued again).
CREATE TABLE import_acks (
    import_id         bigint NOT NULL REFERENCES imports(id) ON DELETE CASCADE,
    ack_id            bigint NOT NULL REFERENCES acks(id),
    device_id         bigint NOT NULL REFERENCES devices(id),
    entry_name        text NOT NULL,       -- ACK_dev_<id>_<ts>.txt, or the file's name
    new_ack           boolean NOT NULL,
    export_batch_id   bigint REFERENCES export_batches(id),
    policy_name       text,
    policy_version    text,
    reporting_days    integer,
    smart_account     text,
    virtual_account   text,
    has_rum_ack       boolean NOT NULL DEFAULT false,
    has_trust_code    boolean NOT NULL DEFAULT false,
    has_authorization boolean NOT NULL DEFAULT false,
    rum_ack_json      text,                -- the RUM ACK <data>, as received
    reports_acked     integer NOT NULL DEFAULT 0,
    PRIMARY KEY (import_id, ack_id)
);
CREATE INDEX import_acks_device ON import_acks (device_id);
CREATE INDEX acks_device ON acks (device_id, id);
