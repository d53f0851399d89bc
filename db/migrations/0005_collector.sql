-- Pull collection (PROTOCOL.md 3): targets rumd reaches out to, their due
-- collections as rows that any number of rumd nodes claim with
-- FOR UPDATE SKIP LOCKED, what each collection did, and the latest licensing
-- state read from each device.

CREATE TABLE pull_targets (
    id                 bigserial PRIMARY KEY,
    tenant_id          bigint NOT NULL REFERENCES tenants(id),
    host               text NOT NULL CHECK (length(host) BETWEEN 1 AND 255),
    port               integer NOT NULL CHECK (port BETWEEN 1 AND 65535),
    protocol           text NOT NULL CHECK (protocol IN ('netconf', 'restapi')),
    username           text NOT NULL CHECK (length(username) BETWEEN 1 AND 128),
    auth               text NOT NULL CHECK (auth IN ('password', 'key')),
    -- AES-256-GCM (nonce || ciphertext || tag) under the key file named by
    -- secret_key_file; never leaves rumd in clear.
    secret             bytea NOT NULL,
    -- netconf: "TYPE BASE64" of the SSH host key; restapi: "sha256//BASE64"
    -- pin of the TLS public key; '' = not known yet.
    known_host_key     text NOT NULL DEFAULT '',
    trust_on_first_use boolean NOT NULL DEFAULT false,
    interval_s         integer CHECK (interval_s IS NULL OR interval_s >= 60), -- NULL: on demand
    path_prefix        text NOT NULL DEFAULT 'bootflash:' CHECK (length(path_prefix) <= 80),
    transfer           text NOT NULL DEFAULT 'scp' CHECK (transfer IN ('scp', 'http')),
    rest_raw           boolean NOT NULL DEFAULT false,
    rest_plain_http    boolean NOT NULL DEFAULT false,
    device_id          bigint REFERENCES devices(id), -- the device its UDI names, once seen
    busy_until         timestamptz, -- a collection runs until then at most (lease)
    busy_node          text NOT NULL DEFAULT '',
    failures           integer NOT NULL DEFAULT 0,
    failing_since      timestamptz,
    alert_id           bigint REFERENCES alerts(id),
    created_at         timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, host, port, protocol)
);

CREATE TABLE collection_jobs (
    id                bigserial PRIMARY KEY,
    target_id         bigint NOT NULL REFERENCES pull_targets(id) ON DELETE CASCADE,
    trigger           text NOT NULL CHECK (trigger IN ('schedule', 'retry', 'manual')),
    due_at            timestamptz NOT NULL,
    state             text NOT NULL DEFAULT 'queued'
                      CHECK (state IN ('queued', 'running', 'ok', 'failed')),
    attempts          integer NOT NULL DEFAULT 0,
    node              text NOT NULL DEFAULT '',
    lease_until       timestamptz,
    started_at        timestamptz,
    finished_at       timestamptz,
    duration_ms       integer,
    reports_collected integer NOT NULL DEFAULT 0,
    reports_new       integer NOT NULL DEFAULT 0,
    acks_delivered    integer NOT NULL DEFAULT 0,
    error             text,
    created_at        timestamptz NOT NULL DEFAULT now()
);
-- One scheduled collection per target and due time, whoever inserts it.
CREATE UNIQUE INDEX collection_jobs_due ON collection_jobs (target_id, due_at)
    WHERE trigger <> 'manual';
CREATE INDEX collection_jobs_pending ON collection_jobs (due_at)
    WHERE state IN ('queued', 'running');
CREATE INDEX collection_jobs_target ON collection_jobs (target_id, id);

CREATE TABLE device_snapshots (
    target_id    bigint PRIMARY KEY REFERENCES pull_targets(id) ON DELETE CASCADE,
    device_id    bigint REFERENCES devices(id),
    snapshot     jsonb NOT NULL,
    collected_at timestamptz NOT NULL DEFAULT now()
);

-- One-time URLs a device uses to hand over a usage file or fetch an ACK
-- (transfer 'http'): only the token's SHA-256 is kept.
CREATE TABLE file_transfers (
    token_sha256 bytea PRIMARY KEY,
    job_id       bigint NOT NULL REFERENCES collection_jobs(id) ON DELETE CASCADE,
    direction    text NOT NULL CHECK (direction IN ('upload', 'download')),
    content      bytea,           -- download: what to serve; upload: what arrived
    max_bytes    bigint NOT NULL,
    expires_at   timestamptz NOT NULL,
    used_at      timestamptz
);

-- Claims up to p_limit due collections for node p_node: queued ones whose
-- time has come, and running ones whose node stopped renewing (lease
-- passed). At most one collection per target runs at a time: the target row
-- is locked and leased with its job. Rows another node holds are skipped,
-- never waited for.
CREATE FUNCTION rum_collect_claim(p_node text, p_limit integer, p_lease_s integer,
                                  p_only bigint[])
RETURNS TABLE (job_id bigint, target_id bigint) LANGUAGE plpgsql AS $$
DECLARE
    r record;
    v_taken bigint[] := '{}';
BEGIN
    FOR r IN SELECT j.id AS jid, j.target_id AS tid FROM collection_jobs j
               JOIN pull_targets t ON t.id = j.target_id
              WHERE j.due_at <= now()
                AND (j.state = 'queued' OR (j.state = 'running' AND j.lease_until < now()))
                AND (t.busy_until IS NULL OR t.busy_until < now())
                AND (p_only IS NULL OR j.id = ANY (p_only))
              ORDER BY j.due_at, j.id
              LIMIT greatest(p_limit, 1) * 4
                FOR UPDATE OF j, t SKIP LOCKED
    LOOP
        EXIT WHEN cardinality(v_taken) >= p_limit;
        CONTINUE WHEN r.tid = ANY (v_taken);
        UPDATE collection_jobs SET state = 'running', node = p_node, attempts = attempts + 1,
               started_at = now(), lease_until = now() + make_interval(secs => p_lease_s)
         WHERE id = r.jid;
        UPDATE pull_targets SET busy_until = now() + make_interval(secs => p_lease_s),
               busy_node = p_node
         WHERE id = r.tid;
        v_taken := v_taken || r.tid;
        job_id := r.jid;
        target_id := r.tid;
        RETURN NEXT;
    END LOOP;
END
$$;

-- Records how a collection ended and schedules the target's next one:
-- interval after a success, exponential back-off (p_retry_base_s doubling,
-- at most p_retry_max_s and never later than the interval) after a failure.
-- A target failing for longer than p_alert_after_s raises one alert, resolved
-- by its next success. Returns false when the job was not running on p_node
-- (its lease passed and another node took it over): nothing is changed then.
CREATE FUNCTION rum_collect_finish(p_job bigint, p_node text, p_ok boolean,
        p_duration_ms integer, p_collected integer, p_new integer, p_acks integer,
        p_error text, p_retry_base_s integer, p_retry_max_s integer, p_alert_after_s integer)
RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
    v_target pull_targets%ROWTYPE;
    v_next timestamptz;
    v_backoff double precision;
    v_alert bigint;
BEGIN
    UPDATE collection_jobs SET state = CASE WHEN p_ok THEN 'ok' ELSE 'failed' END,
           finished_at = now(), lease_until = NULL, duration_ms = p_duration_ms,
           reports_collected = p_collected, reports_new = p_new, acks_delivered = p_acks,
           error = p_error
     WHERE id = p_job AND state = 'running' AND node = p_node;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    SELECT t.* INTO v_target FROM pull_targets t JOIN collection_jobs j ON j.target_id = t.id
     WHERE j.id = p_job FOR UPDATE OF t;
    IF p_ok THEN
        UPDATE pull_targets SET busy_until = NULL, busy_node = '', failures = 0,
               failing_since = NULL, alert_id = NULL WHERE id = v_target.id;
        IF v_target.alert_id IS NOT NULL THEN
            UPDATE alerts SET resolved_at = now() WHERE id = v_target.alert_id;
        END IF;
        IF v_target.interval_s IS NOT NULL THEN
            v_next := now() + make_interval(secs => v_target.interval_s);
        END IF;
    ELSE
        UPDATE pull_targets SET busy_until = NULL, busy_node = '', failures = failures + 1,
               failing_since = coalesce(failing_since, now()) WHERE id = v_target.id;
        IF v_target.interval_s IS NOT NULL THEN
            v_backoff := least(p_retry_base_s * power(2, least(v_target.failures, 30)),
                               p_retry_max_s, v_target.interval_s);
            v_next := now() + make_interval(secs => v_backoff);
        END IF;
        IF v_target.alert_id IS NULL
           AND coalesce(v_target.failing_since, now()) <= now() - make_interval(secs => p_alert_after_s) THEN
            INSERT INTO alerts (tenant_id, device_id, kind, message, details)
            VALUES (v_target.tenant_id, v_target.device_id, 'collection_failing',
                    format('collections from %s:%s (%s) have failed since %s: %s',
                           v_target.host, v_target.port, v_target.protocol,
                           coalesce(v_target.failing_since, now()), p_error),
                    jsonb_build_object('target_id', v_target.id, 'last_error', p_error))
            RETURNING id INTO v_alert;
            UPDATE pull_targets SET alert_id = v_alert WHERE id = v_target.id;
        END IF;
    END IF;
    -- The next scheduled collection, unless one is already waiting.
    IF v_next IS NOT NULL AND NOT EXISTS (
            SELECT 1 FROM collection_jobs WHERE target_id = v_target.id
               AND trigger <> 'manual' AND state = 'queued') THEN
        INSERT INTO collection_jobs (target_id, trigger, due_at)
        VALUES (v_target.id, CASE WHEN p_ok THEN 'schedule' ELSE 'retry' END, v_next)
        ON CONFLICT DO NOTHING;
    END IF;
    RETURN true;
END
$$;

-- Marks an ACK handed to a device by the pull collector as delivered, after
-- the device confirmed its import; older undelivered ones of the device are
-- superseded, as on a push poll. An ACK delivered meanwhile by another path
-- still gets this delivery recorded.
CREATE FUNCTION rum_ack_delivered(p_ack bigint, p_address text, p_via text)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    v_device bigint;
BEGIN
    SELECT device_id INTO v_device FROM acks WHERE id = p_ack FOR UPDATE;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    UPDATE acks SET superseded_by = p_ack
     WHERE device_id = v_device AND delivered_at IS NULL AND superseded_by IS NULL
       AND id < p_ack;
    UPDATE acks SET delivered_at = now() WHERE id = p_ack AND delivered_at IS NULL;
    INSERT INTO ack_deliveries (ack_id, address, via) VALUES (p_ack, p_address, p_via);
END
$$;
