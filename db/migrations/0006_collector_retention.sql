-- Retention for pull collection: without it every collection (100,000
-- devices a day is 36 million rows a year) and every one-time URL would be
-- kept for ever. rum_collect_finish now drops the job's spent URLs and keeps
-- each target's last 100 finished collections; the rest is as in 0005.

CREATE OR REPLACE FUNCTION rum_collect_finish(p_job bigint, p_node text, p_ok boolean,
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
    -- Retention: one-time URLs of the job are spent; a target keeps its
    -- last 100 finished collections.
    DELETE FROM file_transfers WHERE job_id = p_job;
    DELETE FROM collection_jobs
     WHERE target_id = v_target.id AND state IN ('ok', 'failed')
       AND id < (SELECT id FROM collection_jobs WHERE target_id = v_target.id
                    AND state IN ('ok', 'failed') ORDER BY id DESC OFFSET 99 LIMIT 1);
    RETURN true;
END
$$;
