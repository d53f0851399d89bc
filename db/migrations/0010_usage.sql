-- rumd schema, version 10: licence usage per tenant and entitlement, kept
-- as aggregates so that a tenant's summary and its usage over time read a
-- few hundred rows, not ten million reports.
--
-- A report's usage is its value (last_value, a whole count) of its
-- entitlement, measured at its end (last_end, else when it was received),
-- on that day in UTC. A device's usage of an entitlement on a day is the
-- largest value it reported for that day; a tenant's, the sum over its
-- devices. "Now" is each device's newest value. Reports without an
-- entitlement or a whole-number value count for nothing here.
--
-- The aggregates are maintained by rum_usage_rollup, in windows of
-- received time: each window is taken once, only after every transaction
-- that could still add a report to it has ended (the caller keeps a lag,
-- longer than any push transaction). The push path itself writes nothing
-- here. One rollup runs at a time, whichever node calls it.
-- Forward-only: never edit this file after it has landed.

CREATE TABLE usage_rollup (
    singleton    boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    done_until   timestamptz,           -- reports received before this are counted
    last_run_at  timestamptz
);
INSERT INTO usage_rollup DEFAULT VALUES;

-- A device's largest value per entitlement and day.
CREATE TABLE usage_device_day (
    device_id   bigint NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
    tag         text NOT NULL,
    day         date NOT NULL,
    tenant_id   bigint NOT NULL,
    value       bigint NOT NULL,
    PRIMARY KEY (device_id, tag, day)
);

-- A device's newest value per entitlement.
CREATE TABLE usage_device_now (
    device_id   bigint NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
    tag         text NOT NULL,
    tenant_id   bigint NOT NULL,
    value       bigint NOT NULL,
    measured_at timestamptz NOT NULL,
    PRIMARY KEY (device_id, tag)
);

-- Per tenant, entitlement and day: devices that reported it, and the sum of
-- their values.
CREATE TABLE usage_tag_day (
    tenant_id   bigint NOT NULL,
    tag         text NOT NULL,
    day         date NOT NULL,
    devices     bigint NOT NULL,
    total       bigint NOT NULL,
    PRIMARY KEY (tenant_id, tag, day)
);

-- Per tenant and entitlement, now: devices whose newest value is above
-- zero, and the sum of the newest values.
CREATE TABLE usage_tag_now (
    tenant_id   bigint NOT NULL,
    tag         text NOT NULL,
    devices     bigint NOT NULL,
    total       bigint NOT NULL,
    PRIMARY KEY (tenant_id, tag)
);

-- Windows of received time are read through this (tiny, and cheap to keep
-- on an append-mostly table).
CREATE INDEX rum_reports_received_brin ON rum_reports USING brin (received_at);

-- Counts the reports received in [p_from, p_to) into the aggregates. The
-- tables above change only here, under the usage_rollup row lock, so the
-- old values read first are the ones the upserts replace. Returns the
-- number of (device, entitlement, day) values taken.
CREATE FUNCTION rum_usage_rollup(p_from timestamptz, p_to timestamptz)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    v_n bigint;
BEGIN
    CREATE TEMP TABLE IF NOT EXISTS rum_usage_window (
        tenant_id bigint, device_id bigint, tag text, day date, value bigint,
        measured_at timestamptz) ON COMMIT DROP;
    TRUNCATE rum_usage_window;
    INSERT INTO rum_usage_window
    SELECT r.tenant_id, r.device_id, r.entitlement_tag,
           (coalesce(r.last_end, r.received_at) AT TIME ZONE 'UTC')::date,
           r.last_value::bigint, coalesce(r.last_end, r.received_at)
      FROM rum_reports r
     WHERE r.received_at >= p_from AND r.received_at < p_to AND r.conflict_of IS NULL
       AND r.entitlement_tag <> '' AND r.last_value ~ '^[0-9]{1,15}$';
    GET DIAGNOSTICS v_n = ROW_COUNT;
    IF v_n = 0 THEN
        RETURN 0;
    END IF;

    -- Days: a device's largest value per day; the tenant's day moves by the
    -- difference.
    WITH w AS (SELECT tenant_id, device_id, tag, day, max(value) AS value
                 FROM rum_usage_window GROUP BY 1, 2, 3, 4),
         o AS (SELECT w.*, d.value AS old FROM w
                 LEFT JOIN usage_device_day d USING (device_id, tag, day)
                WHERE d.value IS NULL OR w.value > d.value),
         up AS (INSERT INTO usage_device_day (device_id, tag, day, tenant_id, value)
                SELECT device_id, tag, day, tenant_id, value FROM o
                ON CONFLICT (device_id, tag, day) DO UPDATE SET value = EXCLUDED.value)
    INSERT INTO usage_tag_day AS t (tenant_id, tag, day, devices, total)
    SELECT tenant_id, tag, day, count(*) FILTER (WHERE old IS NULL),
           sum(value - coalesce(old, 0))
      FROM o GROUP BY 1, 2, 3
    ON CONFLICT (tenant_id, tag, day) DO UPDATE
       SET devices = t.devices + EXCLUDED.devices, total = t.total + EXCLUDED.total;

    -- Now: a device's newest value; the tenant's figures move by the
    -- difference (a device counts while its newest value is above zero).
    WITH w AS (SELECT DISTINCT ON (device_id, tag) tenant_id, device_id, tag, value, measured_at
                 FROM rum_usage_window ORDER BY device_id, tag, measured_at DESC, value DESC),
         o AS (SELECT w.*, n.value AS old FROM w
                 LEFT JOIN usage_device_now n USING (device_id, tag)
                WHERE n.measured_at IS NULL OR w.measured_at > n.measured_at),
         up AS (INSERT INTO usage_device_now (device_id, tag, tenant_id, value, measured_at)
                SELECT device_id, tag, tenant_id, value, measured_at FROM o
                ON CONFLICT (device_id, tag) DO UPDATE
                   SET value = EXCLUDED.value, measured_at = EXCLUDED.measured_at)
    INSERT INTO usage_tag_now AS t (tenant_id, tag, devices, total)
    SELECT tenant_id, tag,
           sum((value > 0)::int - (coalesce(old, 0) > 0)::int), sum(value - coalesce(old, 0))
      FROM o GROUP BY 1, 2
    ON CONFLICT (tenant_id, tag) DO UPDATE
       SET devices = t.devices + EXCLUDED.devices, total = t.total + EXCLUDED.total;
    RETURN v_n;
END
$$;

-- One step of the rollup: the next window (at most p_window_s long) of
-- reports received before now() - p_lag_s. Another node's step in
-- progress: nothing is done (skipped = true). caught_up: nothing older than
-- the lag is left. done_until: where counting now stands.
CREATE FUNCTION rum_usage_rollup_step(p_lag_s integer, p_window_s integer,
        OUT skipped boolean, OUT caught_up boolean, OUT taken bigint,
        OUT done_until timestamptz)
LANGUAGE plpgsql AS $$
DECLARE
    v_from timestamptz;
    v_to timestamptz;
    v_horizon timestamptz := now() - make_interval(secs => p_lag_s);
    v_found boolean;
BEGIN
    skipped := false;
    caught_up := true;
    taken := 0;
    SELECT u.done_until, true INTO v_from, v_found FROM usage_rollup u FOR UPDATE SKIP LOCKED;
    IF v_found IS NULL THEN
        skipped := true;
        RETURN;
    END IF;
    IF v_from IS NULL THEN
        -- The oldest report (ids grow with time; an hour covers the few
        -- seconds by which received times and ids may disagree).
        SELECT r.received_at - interval '1 hour' INTO v_from FROM rum_reports r
         ORDER BY r.id LIMIT 1;
        IF v_from IS NULL THEN
            v_from := v_horizon;
        END IF;
    END IF;
    v_to := least(v_from + make_interval(secs => p_window_s), v_horizon);
    IF v_to > v_from THEN
        taken := rum_usage_rollup(v_from, v_to);
    ELSE
        v_to := v_from;
    END IF;
    caught_up := v_to >= v_horizon;
    UPDATE usage_rollup SET done_until = v_to, last_run_at = now();
    done_until := v_to;
END
$$;
