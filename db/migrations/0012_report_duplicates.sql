-- rumd schema, version 12: a stored report remembers how often it arrived
-- again. A device sends its reports again until it holds their ACK, so a
-- report received again and again says its device still waits; a duplicate
-- is never stored twice, only counted on the copy it repeats (the first
-- arrival, or the conflicting copy whose payload it matches).
--
-- And a device search by the prefix of its product id finds the devices in
-- an index, as one by serial number or hostname does (0009); the overview's
-- counts read indexes only.
-- Forward-only: never edit this file after it has landed.

CREATE INDEX devices_pid_prefix ON devices (tenant_id, lower(udi_pid) text_pattern_ops);

-- The overview counts devices by deadline and open alerts by severity and
-- acknowledgement from the indexes alone (index-only scans): the deadline
-- index of 0009 names only the expression, so each count visited the table.
DROP INDEX device_inventory_deadline;
CREATE INDEX device_inventory_deadline
    ON device_inventory (tenant_id, coalesce(next_deadline, 'infinity'), device_id)
    INCLUDE (next_deadline);
CREATE INDEX alerts_open_counts ON alerts (tenant_id, severity) INCLUDE (acknowledged_at)
    WHERE resolved_at IS NULL;

ALTER TABLE rum_reports
    ADD COLUMN duplicates integer NOT NULL DEFAULT 0,
    ADD COLUMN last_duplicate_at timestamptz;

-- rum_report_store (0009) as before; a duplicate is counted on its copy.
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
        UPDATE rum_reports SET duplicates = duplicates + 1, last_duplicate_at = now()
         WHERE id = v_first;
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
        UPDATE rum_reports SET duplicates = duplicates + 1, last_duplicate_at = now()
         WHERE conflict_of = v_first AND payload_sha256 = p_sha;
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
