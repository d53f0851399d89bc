-- rumd schema, version 11: one model for everything an admin must act on.
-- An alert has a kind, a severity, a subject (what it is about: a device,
-- a pull target, a tenant, a report), when it was first and last seen, when
-- it was resolved (automatically, when its cause went away) and whether
-- someone acknowledged it. While unresolved there is one alert per kind and
-- subject.
--
-- Kinds raised from state by rum_alerts_evaluate (the serve loop's upkeep):
--   deadline_passed (critical)   a device's next reporting deadline passed
--   deadline_near (warning)      it falls within the warning window
--   ack_pending (warning)        an export waits longer than N days for its ACK
--   device_silent (warning)      a device has not been heard of for N days
--   unclassified_messages (warning)  a tenant's devices sent messages rumd
--                                could not classify (captured) lately
-- Kinds raised where they happen (0001, 0005):
--   report_conflict (warning)    a report id arrived with another payload;
--                                resolved when acknowledged (nothing else
--                                makes it go away)
--   collection_failing (critical)  a pull target fails; resolved by its next
--                                success
-- Forward-only: never edit this file after it has landed.

ALTER TABLE alerts
    ADD COLUMN severity text NOT NULL DEFAULT 'warning'
        CHECK (severity IN ('critical', 'warning', 'info')),
    ADD COLUMN subject text NOT NULL DEFAULT '',
    ADD COLUMN last_seen_at timestamptz,
    ADD COLUMN acknowledged_at timestamptz,
    ADD COLUMN acknowledged_by text;

-- Alerts inserted without a subject (the functions of 0001 and 0005) get
-- theirs from their kind and details, and their severity.
CREATE FUNCTION rum_alert_defaults() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.subject = '' THEN
        NEW.subject := CASE NEW.kind
            WHEN 'report_conflict' THEN 'report:' || coalesce(NEW.details->>'conflicting_row', '')
            WHEN 'collection_failing' THEN 'target:' || coalesce(NEW.details->>'target_id', '')
            ELSE '' END;
    END IF;
    IF NEW.kind = 'collection_failing' THEN
        NEW.severity := 'critical';
    END IF;
    NEW.last_seen_at := coalesce(NEW.last_seen_at, NEW.created_at);
    RETURN NEW;
END
$$;
CREATE TRIGGER alerts_defaults BEFORE INSERT ON alerts
    FOR EACH ROW EXECUTE FUNCTION rum_alert_defaults();

UPDATE alerts SET
    subject = CASE kind
        WHEN 'report_conflict' THEN 'report:' || coalesce(details->>'conflicting_row', '')
        WHEN 'collection_failing' THEN 'target:' || coalesce(details->>'target_id', '')
        ELSE 'alert:' || id END,
    severity = CASE kind WHEN 'collection_failing' THEN 'critical' ELSE 'warning' END,
    last_seen_at = created_at;
ALTER TABLE alerts ALTER COLUMN last_seen_at SET NOT NULL;

-- Several unresolved alerts of one kind and subject (there were none of
-- these kinds with a subject before): keep the oldest open.
UPDATE alerts a SET resolved_at = now()
 WHERE a.resolved_at IS NULL AND EXISTS (
       SELECT 1 FROM alerts b WHERE b.kind = a.kind AND b.subject = a.subject
          AND b.resolved_at IS NULL AND b.id < a.id);
CREATE UNIQUE INDEX alerts_open_subject ON alerts (kind, subject) WHERE resolved_at IS NULL;
CREATE INDEX alerts_tenant ON alerts (tenant_id, id);
CREATE INDEX alerts_tenant_open ON alerts (tenant_id, id) WHERE resolved_at IS NULL;

-- Raises, refreshes and resolves the state-derived kinds. Windows in days;
-- 0 turns a kind off (its open alerts resolve). Returns the number of
-- alerts raised plus resolved.
CREATE FUNCTION rum_alerts_evaluate(p_warn_days integer, p_ack_days integer,
        p_silent_days integer, p_capture_days integer)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    v_raised bigint;
    v_resolved bigint;
BEGIN
    CREATE TEMP TABLE IF NOT EXISTS rum_alert_now (
        tenant_id bigint, device_id bigint, kind text, severity text, subject text,
        message text, details jsonb) ON COMMIT DROP;
    TRUNCATE rum_alert_now;

    INSERT INTO rum_alert_now
    SELECT i.tenant_id, i.device_id, 'deadline_passed', 'critical', 'device:' || i.device_id,
           format('%s / %s: its reporting deadline passed on %s', d.udi_pid, d.udi_serial,
                  to_char(i.next_deadline AT TIME ZONE 'UTC', 'YYYY-MM-DD')),
           jsonb_build_object('next_deadline', i.next_deadline)
      FROM device_inventory i JOIN devices d ON d.id = i.device_id
     WHERE i.next_deadline < now();

    INSERT INTO rum_alert_now
    SELECT i.tenant_id, i.device_id, 'deadline_near', 'warning', 'device:' || i.device_id,
           format('%s / %s: its reporting deadline is %s', d.udi_pid, d.udi_serial,
                  to_char(i.next_deadline AT TIME ZONE 'UTC', 'YYYY-MM-DD')),
           jsonb_build_object('next_deadline', i.next_deadline)
      FROM device_inventory i JOIN devices d ON d.id = i.device_id
     WHERE p_warn_days > 0 AND i.next_deadline >= now()
       AND i.next_deadline < now() + make_interval(days => p_warn_days);

    INSERT INTO rum_alert_now
    SELECT i.tenant_id, i.device_id, 'ack_pending', 'warning', 'device:' || i.device_id,
           format('%s / %s: exported %s, no ACK from CSSM imported since', d.udi_pid,
                  d.udi_serial, to_char(i.export_pending_since AT TIME ZONE 'UTC', 'YYYY-MM-DD')),
           jsonb_build_object('exported_at', i.export_pending_since)
      FROM device_inventory i JOIN devices d ON d.id = i.device_id
     WHERE p_ack_days > 0 AND i.export_pending_since < now() - make_interval(days => p_ack_days);

    INSERT INTO rum_alert_now
    SELECT d.tenant_id, d.id, 'device_silent', 'warning', 'device:' || d.id,
           format('%s / %s: not heard of since %s', d.udi_pid, d.udi_serial,
                  to_char(d.last_contact AT TIME ZONE 'UTC', 'YYYY-MM-DD')),
           jsonb_build_object('last_contact', d.last_contact)
      FROM devices d
     WHERE p_silent_days > 0 AND d.last_contact < now() - make_interval(days => p_silent_days);

    INSERT INTO rum_alert_now
    SELECT t.id, NULL, 'unclassified_messages', 'warning', 'tenant:' || t.id,
           format('%s device message%s could not be classified in the last %s days (rumd capture list)',
                  count(*), CASE WHEN count(*) = 1 THEN '' ELSE 's' END, p_capture_days),
           jsonb_build_object('captures', count(*), 'last', max(c.received_at))
      FROM captures c JOIN tenants t ON t.name = c.tenant_name
     WHERE p_capture_days > 0 AND c.reason = 'unclassified'
       AND c.received_at > now() - make_interval(days => p_capture_days)
     GROUP BY t.id;

    UPDATE alerts a SET resolved_at = now()
     WHERE a.resolved_at IS NULL
       AND a.kind IN ('deadline_passed', 'deadline_near', 'ack_pending', 'device_silent',
                      'unclassified_messages')
       AND NOT EXISTS (SELECT 1 FROM rum_alert_now n
                        WHERE n.kind = a.kind AND n.subject = a.subject);
    GET DIAGNOSTICS v_resolved = ROW_COUNT;

    -- Still true: seen now (written at most every five minutes, or when
    -- what it says changed).
    UPDATE alerts a SET last_seen_at = now(), message = n.message, details = n.details
      FROM rum_alert_now n
     WHERE a.resolved_at IS NULL AND a.kind = n.kind AND a.subject = n.subject
       AND (a.last_seen_at < now() - interval '5 minutes' OR a.message <> n.message);

    INSERT INTO alerts (tenant_id, device_id, kind, severity, subject, message, details,
                        last_seen_at)
    SELECT n.tenant_id, n.device_id, n.kind, n.severity, n.subject, n.message, n.details, now()
      FROM rum_alert_now n
     WHERE NOT EXISTS (SELECT 1 FROM alerts a WHERE a.resolved_at IS NULL
                          AND a.kind = n.kind AND a.subject = n.subject)
    ON CONFLICT DO NOTHING;
    GET DIAGNOSTICS v_raised = ROW_COUNT;
    RETURN v_raised + v_resolved;
END
$$;
