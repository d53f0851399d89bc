-- The overview of a tenant with very many devices, counted by the serve
-- loop's upkeep every round rather than on each request: counting a million
-- index entries per state takes longer than the page people open every
-- morning should wait. Tenants with fewer devices than overview_live_max_devices
-- are always counted live; the snapshot says when it was counted (as_of).
CREATE TABLE overview_snapshots (
    tenant_id             bigint PRIMARY KEY REFERENCES tenants(id) ON DELETE CASCADE,
    computed_at           timestamptz NOT NULL,
    due_days              integer NOT NULL,
    devices               bigint NOT NULL,
    contacted_last_day    bigint NOT NULL,
    never_reported        bigint NOT NULL,
    overdue               bigint NOT NULL,
    due_soon              bigint NOT NULL,
    ack_pending           bigint NOT NULL,
    failing               bigint NOT NULL,
    alerts_open           bigint NOT NULL,
    alerts_critical       bigint NOT NULL,
    alerts_unacknowledged bigint NOT NULL
);
