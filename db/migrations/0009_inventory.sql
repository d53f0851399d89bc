-- rumd schema, version 9: what rumd knows of each device, kept so that the
-- device list and its filters (overdue, due soon, ACK pending, never
-- reported) are index lookups on a million devices.
--
-- One device_inventory row per device, created with the device. It holds
-- only what changes rarely: when the device first reported, since when it
-- has reports not acknowledged, when an ACK last acknowledged its reports,
-- since when an export of its reports waits for CSSM's ACK, the reporting
-- policy CSSM installed, and the next reporting deadline computed from
-- them. Counts and the newest report are read per page, from the reports'
-- indexes, when a device is shown.
--
-- Who keeps it current: the push path's statements set first_report_at and
-- unacked_since when they go from empty to set (most device messages write
-- nothing here); triggers below keep the rest on exports, ACK imports and
-- policies. rum_inventory_refresh recomputes rows exactly from the reports,
-- and is what the triggers call.
-- Forward-only: never edit this file after it has landed.

CREATE TABLE device_inventory (
    device_id            bigint PRIMARY KEY REFERENCES devices(id) ON DELETE CASCADE,
    tenant_id            bigint NOT NULL,
    first_report_at      timestamptz,  -- the first report stored (received)
    unacked_since        timestamptz,  -- the oldest report not acknowledged
    last_ack_at          timestamptz,  -- reports last acknowledged by an imported ACK
    export_pending_since timestamptz,  -- exported and not acknowledged since (oldest batch)
    -- Policy from CSSM (NULL: none imported; Cisco default applies). Days
    -- are the strictest non-zero of the perpetual and subscription values;
    -- 0 means no such requirement.
    policy_name          text,
    policy_first_days    integer CHECK (policy_first_days >= 0),
    policy_ongoing_days  integer CHECK (policy_ongoing_days >= 0),
    policy_change_days   integer CHECK (policy_change_days >= 0),
    policy_at            timestamptz,
    next_deadline        timestamptz   -- computed by the trigger below, never written directly
) WITH (fillfactor = 90);
-- Sorted by deadline (none: last), and the overdue and due-soon filters.
CREATE INDEX device_inventory_deadline
    ON device_inventory (tenant_id, (coalesce(next_deadline, 'infinity')), device_id);
CREATE INDEX device_inventory_ack_pending ON device_inventory (tenant_id, device_id)
    WHERE export_pending_since IS NOT NULL;
CREATE INDEX device_inventory_never ON device_inventory (tenant_id, device_id)
    WHERE first_report_at IS NULL;

-- The device list's other orders, and a device's export batches.
CREATE INDEX devices_tenant_id ON devices (tenant_id, id);
CREATE INDEX devices_last_contact ON devices (tenant_id, last_contact, id);
CREATE INDEX devices_hostname ON devices (tenant_id, hostname, id);
CREATE INDEX devices_serial_prefix ON devices (tenant_id, lower(udi_serial) text_pattern_ops);
CREATE INDEX devices_hostname_prefix ON devices (tenant_id, lower(hostname) text_pattern_ops);
CREATE INDEX export_batch_reports_device ON export_batch_reports (device_id, batch_id);
-- A device's newest upload (how it reports) is the top of this index; it
-- replaces the device-only index, so a stored message still writes one.
CREATE INDEX uploads_device_id ON uploads (device_id, id);
DROP INDEX uploads_device;
CREATE INDEX pull_targets_device ON pull_targets (device_id) WHERE device_id IS NOT NULL;

-- The policy days import read from an ACK or policy file (see above).
ALTER TABLE import_acks
    ADD COLUMN policy_first_days   integer,
    ADD COLUMN policy_ongoing_days integer,
    ADD COLUMN policy_change_days  integer;

-- The next reporting deadline under Cisco's policy rules, as rumd applies
-- them (days NULL: Cisco default, 90 each, the strictest of its perpetual
-- and subscription values; 0: no such requirement):
-- - a device that never reported has consumed nothing rumd knows of: none;
-- - before any ACK (first report): first report + first-report days;
-- - after an ACK: the earlier of the last ACK + ongoing-reporting days and,
--   when reports arrived since (usage changed), the oldest of them +
--   report-on-change days.
CREATE FUNCTION rum_deadline(p_first_report timestamptz, p_unacked_since timestamptz,
        p_last_ack timestamptz, p_first_days integer, p_ongoing_days integer,
        p_change_days integer)
RETURNS timestamptz LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE
        WHEN p_first_report IS NULL THEN NULL
        WHEN p_last_ack IS NULL THEN
            CASE WHEN coalesce(p_first_days, 90) > 0
                 THEN p_first_report + make_interval(days => coalesce(p_first_days, 90)) END
        ELSE least(
            CASE WHEN coalesce(p_ongoing_days, 90) > 0
                 THEN p_last_ack + make_interval(days => coalesce(p_ongoing_days, 90)) END,
            CASE WHEN coalesce(p_change_days, 90) > 0 AND p_unacked_since IS NOT NULL
                 THEN p_unacked_since + make_interval(days => coalesce(p_change_days, 90)) END)
    END
$$;

CREATE FUNCTION rum_inventory_deadline() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.next_deadline := rum_deadline(NEW.first_report_at, NEW.unacked_since, NEW.last_ack_at,
                                      NEW.policy_first_days, NEW.policy_ongoing_days,
                                      NEW.policy_change_days);
    RETURN NEW;
END
$$;
CREATE TRIGGER device_inventory_deadline BEFORE INSERT OR UPDATE ON device_inventory
    FOR EACH ROW EXECUTE FUNCTION rum_inventory_deadline();

-- Recomputes the report-derived columns of the devices named, exactly.
-- Rows are locked in device order, so two refreshes never deadlock.
CREATE FUNCTION rum_inventory_refresh(p_devices bigint[]) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM device_inventory WHERE device_id = ANY (p_devices)
     ORDER BY device_id FOR UPDATE;
    UPDATE device_inventory i SET
        first_report_at = s.first_report_at,
        unacked_since = s.unacked_since,
        last_ack_at = s.last_ack_at,
        export_pending_since = s.export_pending_since
      FROM (SELECT d.id,
                   (SELECT min(r.received_at) FROM rum_reports r
                     WHERE r.device_id = d.id AND r.conflict_of IS NULL) AS first_report_at,
                   (SELECT min(r.received_at) FROM rum_reports r
                     WHERE r.device_id = d.id AND r.conflict_of IS NULL
                       AND r.acked_at IS NULL) AS unacked_since,
                   (SELECT max(r.acked_at) FROM rum_reports r
                     WHERE r.device_id = d.id AND r.conflict_of IS NULL) AS last_ack_at,
                   (SELECT min(e.created_at) FROM export_batch_reports b
                      JOIN export_batches e ON e.id = b.batch_id
                      JOIN rum_reports r ON r.id = b.report_row
                     WHERE b.device_id = d.id AND r.acked_at IS NULL) AS export_pending_since
              FROM unnest(p_devices) AS d(id)) s
     WHERE i.device_id = s.id
       AND (i.first_report_at, i.unacked_since, i.last_ack_at, i.export_pending_since)
           IS DISTINCT FROM (s.first_report_at, s.unacked_since, s.last_ack_at,
                             s.export_pending_since);
END
$$;

-- Every device gets its row when it is created.
CREATE FUNCTION rum_inventory_device_new() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO device_inventory (device_id, tenant_id) VALUES (NEW.id, NEW.tenant_id);
    RETURN NULL;
END
$$;
CREATE TRIGGER devices_inventory AFTER INSERT ON devices
    FOR EACH ROW EXECUTE FUNCTION rum_inventory_device_new();

-- Exports (a batch filled, or a failed one deleted) and ACK imports (reports
-- marked acknowledged) change what is pending: refresh the devices they
-- touched, once per statement.
CREATE FUNCTION rum_inventory_batch_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM rum_inventory_refresh(array(SELECT DISTINCT device_id FROM new_rows));
    ELSE
        PERFORM rum_inventory_refresh(array(SELECT DISTINCT device_id FROM old_rows));
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER export_batch_reports_inventory_ins AFTER INSERT ON export_batch_reports
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION rum_inventory_batch_changed();
CREATE TRIGGER export_batch_reports_inventory_del AFTER DELETE ON export_batch_reports
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION rum_inventory_batch_changed();

CREATE FUNCTION rum_inventory_acked() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM rum_inventory_refresh(array(SELECT DISTINCT n.device_id FROM new_rows n
                                          JOIN old_rows o ON o.id = n.id
                                         WHERE n.acked_at IS DISTINCT FROM o.acked_at));
    RETURN NULL;
END
$$;
CREATE TRIGGER rum_reports_inventory_acked AFTER UPDATE ON rum_reports
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION rum_inventory_acked();

-- A policy arriving with an ACK (or a policy file) becomes the device's.
CREATE FUNCTION rum_inventory_policy() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.policy_name IS NOT NULL OR NEW.policy_first_days IS NOT NULL
       OR NEW.policy_ongoing_days IS NOT NULL OR NEW.policy_change_days IS NOT NULL THEN
        UPDATE device_inventory SET policy_name = coalesce(NEW.policy_name, ''),
               policy_first_days = NEW.policy_first_days,
               policy_ongoing_days = NEW.policy_ongoing_days,
               policy_change_days = NEW.policy_change_days, policy_at = now()
         WHERE device_id = NEW.device_id;
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER import_acks_inventory AFTER INSERT ON import_acks
    FOR EACH ROW EXECUTE FUNCTION rum_inventory_policy();

-- rum_report_store (0001) as before; a first arrival also marks the
-- device's first report and the start of its unacknowledged usage when
-- those were empty.
CREATE OR REPLACE FUNCTION rum_report_store(p_tenant bigint, p_device bigint, p_upload bigint,
        p_report_id bigint, p_pid text, p_sn text, p_format text, p_tag text,
        p_version text, p_metric text, p_value text, p_start bigint, p_end bigint,
        p_sha bytea, p_report text)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    v_id bigint;
    v_first bigint;
    v_first_sha bytea;
BEGIN
    INSERT INTO rum_reports (tenant_id, device_id, upload_id, report_id, udi_pid, udi_serial,
            format, entitlement_tag, software_version, metric_name, last_value,
            first_start, last_end, payload_sha256, report)
    VALUES (p_tenant, p_device, p_upload, p_report_id, p_pid, p_sn, p_format, p_tag,
            p_version, p_metric, p_value, to_timestamp(p_start), to_timestamp(p_end),
            p_sha, p_report)
    ON CONFLICT (tenant_id, udi_pid, udi_serial, report_id) WHERE conflict_of IS NULL
    DO NOTHING
    RETURNING id INTO v_id;
    IF v_id IS NOT NULL THEN
        UPDATE device_inventory SET first_report_at = coalesce(first_report_at, now()),
               unacked_since = coalesce(unacked_since, now())
         WHERE device_id = p_device AND (first_report_at IS NULL OR unacked_since IS NULL);
        RETURN 'new';
    END IF;

    SELECT id, payload_sha256 INTO v_first, v_first_sha FROM rum_reports
     WHERE tenant_id = p_tenant AND udi_pid = p_pid AND udi_serial = p_sn
       AND report_id = p_report_id AND conflict_of IS NULL;
    IF v_first_sha = p_sha THEN
        RETURN 'duplicate';
    END IF;

    INSERT INTO rum_reports (tenant_id, device_id, upload_id, report_id, udi_pid, udi_serial,
            format, entitlement_tag, software_version, metric_name, last_value,
            first_start, last_end, payload_sha256, report, conflict_of)
    VALUES (p_tenant, p_device, p_upload, p_report_id, p_pid, p_sn, p_format, p_tag,
            p_version, p_metric, p_value, to_timestamp(p_start), to_timestamp(p_end),
            p_sha, p_report, v_first)
    ON CONFLICT (conflict_of, payload_sha256) WHERE conflict_of IS NOT NULL DO NOTHING
    RETURNING id INTO v_id;
    IF v_id IS NULL THEN
        RETURN 'duplicate';
    END IF;

    INSERT INTO alerts (tenant_id, device_id, kind, message, details)
    VALUES (p_tenant, p_device, 'report_conflict',
            format('report %s of %s/%s arrived again with a different payload; both are kept',
                   p_report_id, p_pid, p_sn),
            jsonb_build_object('first_row', v_first, 'conflicting_row', v_id,
                               'report_id', p_report_id));
    RETURN 'conflict';
END
$$;

-- Devices that exist already get their rows, computed from what is stored.
INSERT INTO device_inventory (device_id, tenant_id) SELECT id, tenant_id FROM devices;
SELECT rum_inventory_refresh(array(SELECT id FROM devices));
UPDATE device_inventory i SET policy_name = coalesce(a.policy_name, ''),
       policy_ongoing_days = a.reporting_days, policy_at = a.imported_at
  FROM (SELECT DISTINCT ON (ia.device_id) ia.device_id, ia.policy_name, ia.reporting_days,
               im.imported_at
          FROM import_acks ia JOIN imports im ON im.id = ia.import_id
         WHERE ia.policy_name IS NOT NULL OR ia.reporting_days IS NOT NULL
         ORDER BY ia.device_id, ia.import_id DESC) a
 WHERE i.device_id = a.device_id;
