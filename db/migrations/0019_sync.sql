-- rumd schema, version 19: connected mode's syncs (PROTOCOL.md 5).
-- A sync sends a tenant's reports that no upstream has yet, device by
-- device, and brings each device's ACK back. It is recorded as it goes, so
-- that a node killed at any point resumes from here: which reports went
-- (an export batch, exactly as a file export records one), which device
-- calls were made and what the upstream answered, and every poll id.
-- A tenant whose sync has failed for longer than sync_alert_after_s gets a
-- critical alert of kind sync_failing (subject tenant:<id>, kept in
-- store_sync.c), resolved by its next good sync.
-- Forward-only: never edit this file after it has landed.

-- Per tenant: who runs its sync now (a lease that a live node renews, so a
-- dead node's sync is taken over once it runs out) and when the next one
-- is due.
CREATE TABLE sync_state (
    tenant_id      bigint PRIMARY KEY REFERENCES tenants(id) ON DELETE CASCADE,
    owner          text NOT NULL DEFAULT '' CHECK (length(owner) <= 200),
    lease_until    timestamptz,
    requested_at   timestamptz,          -- asked for (CLI, API), not begun yet
    next_at        timestamptz,          -- the schedule
    failing_since  timestamptz,          -- first failed run of the current streak
    last_ok_at     timestamptz
);

-- One sync. state: sending while device calls remain to be made, polling
-- while poll ids wait for their answer, then done (every call settled) or
-- failed (given up on; what was left is sent by the next sync).
CREATE TABLE sync_runs (
    id           bigserial PRIMARY KEY,
    tenant_id    bigint NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    kind         text NOT NULL CHECK (kind IN ('cssm', 'collector')),
    trigger      text NOT NULL CHECK (trigger IN ('manual', 'schedule', 'soon', 'api')),
    state        text NOT NULL DEFAULT 'sending'
                 CHECK (state IN ('sending', 'polling', 'done', 'failed')),
    batch_id     bigint REFERENCES export_batches(id) ON DELETE SET NULL,
    node         text NOT NULL DEFAULT '' CHECK (length(node) <= 200),
    started_at   timestamptz NOT NULL DEFAULT now(),
    finished_at  timestamptz,
    error        text NOT NULL DEFAULT '' CHECK (length(error) <= 1024)
);
CREATE INDEX sync_runs_tenant ON sync_runs (tenant_id, id);
CREATE INDEX sync_runs_batch ON sync_runs (batch_id);
-- One run at a time makes new device calls for a tenant.
CREATE UNIQUE INDEX sync_runs_one_sending ON sync_runs (tenant_id) WHERE state = 'sending';

-- One upstream call for one device (its reports in the run's batch, or a
-- trust/authorization request it left) and where it stands:
--   queued    not sent yet
--   sending   about to be sent, or sent with no answer recorded: after a
--             crash it is sent again (an upstream that already has the
--             reports says so, which settles it as duplicate)
--   polling   accepted: poll_id waits for COMPLETE
--   complete  the ACK came back and was stored (ack_id)
--   duplicate the upstream already had these reports ("already received")
--   failed    the upstream refused it (message): sent again by a later sync
CREATE TABLE sync_sends (
    id           bigserial PRIMARY KEY,
    run_id       bigint NOT NULL REFERENCES sync_runs(id) ON DELETE CASCADE,
    device_id    bigint NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
    kind         text NOT NULL DEFAULT 'usage' CHECK (kind IN ('usage', 'auth')),
    -- auth: the request (uploads.id). No foreign key: uploads carry their own
    -- guards against removal (0007), which one would pre-empt.
    upload_id    bigint,
    state        text NOT NULL DEFAULT 'queued'
                 CHECK (state IN ('queued', 'sending', 'polling', 'complete', 'duplicate',
                                  'failed')),
    reports      integer NOT NULL DEFAULT 0 CHECK (reports >= 0),
    attempts     integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    poll_id      text NOT NULL DEFAULT '' CHECK (poll_id ~ '^[0-9A-Za-z._-]{0,64}$'),
    polls        integer NOT NULL DEFAULT 0 CHECK (polls >= 0),
    next_at      timestamptz NOT NULL DEFAULT now(), -- next attempt or poll
    message      text NOT NULL DEFAULT '' CHECK (length(message) <= 1024),
    ack_id       bigint REFERENCES acks(id) ON DELETE SET NULL,
    sent_at      timestamptz,
    settled_at   timestamptz
);
-- One usage call per device and run; one call per pending request.
CREATE UNIQUE INDEX sync_sends_usage ON sync_sends (run_id, device_id) WHERE kind = 'usage';
CREATE UNIQUE INDEX sync_sends_auth ON sync_sends (run_id, upload_id) WHERE kind = 'auth';
CREATE INDEX sync_sends_open ON sync_sends (run_id, next_at)
    WHERE state IN ('queued', 'sending', 'polling');
CREATE INDEX sync_sends_device ON sync_sends (device_id);
