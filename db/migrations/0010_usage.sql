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
-- The aggregates are maintained by rum_usage_rollup in ranges of report
-- ids, each taken once: up to the newest report received before now() minus
-- a lag. Ids are given at insert and received times at the start of the
-- inserting transaction, so with a lag of more than twice the longest push
-- transaction no report with a smaller id can still be uncommitted. The push
-- path itself writes nothing here. One rollup runs at a time, whichever
-- node calls it.
-- Forward-only: never edit this file after it has landed.

CREATE TABLE usage_rollup (
    singleton    boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    done_id      bigint NOT NULL DEFAULT 0, -- reports up to this id are counted
    done_until   timestamptz,           -- and every report received before this
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

-- Counts the reports with ids in (p_from, p_to] into the aggregates, in
-- one statement. The tables above change only here, under the
-- usage_rollup row lock, so the old values read first are the ones the
-- upserts replace. Returns the number of reports taken.
CREATE FUNCTION rum_usage_rollup(p_from bigint, p_to bigint)
RETURNS bigint LANGUAGE sql AS $$
    WITH w AS MATERIALIZED (
        SELECT r.tenant_id, r.device_id, r.entitlement_tag AS tag,
               (coalesce(r.last_end, r.received_at) AT TIME ZONE 'UTC')::date AS day,
               r.last_value::bigint AS value, coalesce(r.last_end, r.received_at) AS measured_at
          FROM rum_reports r
         WHERE r.id > p_from AND r.id <= p_to AND r.conflict_of IS NULL
           AND r.entitlement_tag <> '' AND r.last_value ~ '^[0-9]{1,15}$'),
    -- Days: a device's largest value per day; the tenant's day moves by
    -- the difference.
    wd AS (SELECT tenant_id, device_id, tag, day, max(value) AS value
             FROM w GROUP BY 1, 2, 3, 4),
    od AS MATERIALIZED (
        SELECT wd.*, d.value AS old FROM wd
          LEFT JOIN usage_device_day d USING (device_id, tag, day)
         WHERE d.value IS NULL OR wd.value > d.value),
    upd AS (INSERT INTO usage_device_day (device_id, tag, day, tenant_id, value)
            SELECT device_id, tag, day, tenant_id, value FROM od
            ON CONFLICT (device_id, tag, day) DO UPDATE SET value = EXCLUDED.value),
    tagd AS (INSERT INTO usage_tag_day AS t (tenant_id, tag, day, devices, total)
             SELECT tenant_id, tag, day, count(*) FILTER (WHERE old IS NULL),
                    sum(value - coalesce(old, 0))
               FROM od GROUP BY 1, 2, 3
             ON CONFLICT (tenant_id, tag, day) DO UPDATE
                SET devices = t.devices + EXCLUDED.devices, total = t.total + EXCLUDED.total),
    -- Now: a device's newest value; the tenant's figures move by the
    -- difference (a device counts while its newest value is above zero).
    wn AS (SELECT DISTINCT ON (device_id, tag) tenant_id, device_id, tag, value, measured_at
             FROM w ORDER BY device_id, tag, measured_at DESC, value DESC),
    onow AS MATERIALIZED (
        SELECT wn.*, n.value AS old FROM wn
          LEFT JOIN usage_device_now n USING (device_id, tag)
         WHERE n.measured_at IS NULL OR wn.measured_at > n.measured_at),
    upn AS (INSERT INTO usage_device_now (device_id, tag, tenant_id, value, measured_at)
            SELECT device_id, tag, tenant_id, value, measured_at FROM onow
            ON CONFLICT (device_id, tag) DO UPDATE
               SET value = EXCLUDED.value, measured_at = EXCLUDED.measured_at),
    tagn AS (INSERT INTO usage_tag_now AS t (tenant_id, tag, devices, total)
             SELECT tenant_id, tag, sum((value > 0)::int - (coalesce(old, 0) > 0)::int),
                    sum(value - coalesce(old, 0))
               FROM onow GROUP BY 1, 2
             ON CONFLICT (tenant_id, tag) DO UPDATE
                SET devices = t.devices + EXCLUDED.devices, total = t.total + EXCLUDED.total)
    SELECT count(*) FROM w
$$;

-- One step of the rollup: the next p_chunk report ids at most, of those up
-- to the newest report received before now() - p_lag_s. Another node's step
-- in progress: nothing is done (skipped = true). caught_up: nothing older
-- than the lag is left. done_until: every report received before it is
-- counted (NULL until caught up once).
CREATE FUNCTION rum_usage_rollup_step(p_lag_s integer, p_chunk integer,
        OUT skipped boolean, OUT caught_up boolean, OUT taken bigint,
        OUT done_until timestamptz)
LANGUAGE plpgsql AS $$
DECLARE
    v_done bigint;
    v_until timestamptz;
    v_newest bigint;
    v_to bigint;
    v_horizon timestamptz := now() - make_interval(secs => p_lag_s);
BEGIN
    skipped := false;
    taken := 0;
    SELECT u.done_id, u.done_until INTO v_done, v_until FROM usage_rollup u
       FOR UPDATE SKIP LOCKED;
    IF NOT FOUND THEN
        skipped := true;
        caught_up := true;
        RETURN;
    END IF;
    -- The newest report received before the horizon: a walk back from the
    -- newest id over the lag's worth of reports.
    SELECT r.id INTO v_newest FROM rum_reports r WHERE r.received_at < v_horizon
     ORDER BY r.id DESC LIMIT 1;
    v_newest := greatest(coalesce(v_newest, 0), v_done);
    v_to := least(v_done + p_chunk, v_newest);
    IF v_to > v_done THEN
        taken := rum_usage_rollup(v_done, v_to);
    END IF;
    caught_up := v_to >= v_newest;
    IF caught_up THEN
        v_until := v_horizon;
    END IF;
    UPDATE usage_rollup SET done_id = v_to, done_until = v_until, last_run_at = now();
    done_until := v_until;
END
$$;
