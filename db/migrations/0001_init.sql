-- rumd schema, version 1: tenants, devices, RUM reports, uploads (poll ids),
-- ACKs and their deliveries, alerts, captured messages.
-- Forward-only: never edit this file after it has landed; add 0002_... instead.

CREATE TABLE rum_instance (
    singleton    boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    uuid         uuid NOT NULL DEFAULT gen_random_uuid(),
    created_at   timestamptz NOT NULL DEFAULT now()
);
INSERT INTO rum_instance DEFAULT VALUES;

CREATE TABLE tenants (
    id              bigserial PRIMARY KEY,
    name            text NOT NULL UNIQUE
                    CHECK (length(name) BETWEEN 1 AND 128 AND strpos(name, '/') = 0),
    smart_account   text NOT NULL DEFAULT '',
    virtual_account text NOT NULL DEFAULT '',
    created_at      timestamptz NOT NULL DEFAULT now()
);

-- A product instance, identified per tenant by its UDI.
CREATE TABLE devices (
    id               bigserial PRIMARY KEY,
    tenant_id        bigint NOT NULL REFERENCES tenants(id),
    udi_pid          text NOT NULL,
    udi_serial       text NOT NULL,
    hostname         text NOT NULL DEFAULT '',
    software_tag     text NOT NULL DEFAULT '',
    software_version text NOT NULL DEFAULT '',
    first_seen       timestamptz NOT NULL DEFAULT now(),
    last_contact     timestamptz NOT NULL DEFAULT now(),
    last_address     text NOT NULL DEFAULT '',
    UNIQUE (tenant_id, udi_pid, udi_serial)
);

-- One accepted device message that was answered OK_POLL. Its poll id is a
-- random token, not the row id, so that nobody can poll (and take) another
-- device's ACK by counting. Trust and authorization requests keep their
-- whole body here as pending requests.
CREATE TABLE uploads (
    id             bigserial PRIMARY KEY,
    poll_id        bigint NOT NULL UNIQUE CHECK (poll_id > 0),
    tenant_id      bigint NOT NULL REFERENCES tenants(id),
    device_id      bigint REFERENCES devices(id),
    kind           text NOT NULL CHECK (kind IN ('usage', 'trust', 'authorization')),
    source         text NOT NULL DEFAULT 'push',
    source_address text NOT NULL DEFAULT '',
    sub_path       text NOT NULL DEFAULT '',
    request_body   text,
    request_state  text NOT NULL DEFAULT 'none' CHECK (request_state IN ('none', 'pending', 'answered')),
    received_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX uploads_device ON uploads (device_id);
CREATE INDEX uploads_pending ON uploads (tenant_id) WHERE request_state = 'pending';

-- One RUM report. `report` is the report object byte-exact as the device sent
-- it (its payload is what the device signed). Identity is (tenant, UDI,
-- report id): the first arrival holds it; a different payload for the same
-- identity is kept beside it with conflict_of set, never over it.
CREATE TABLE rum_reports (
    id               bigserial PRIMARY KEY,
    tenant_id        bigint NOT NULL REFERENCES tenants(id),
    device_id        bigint NOT NULL REFERENCES devices(id),
    upload_id        bigint REFERENCES uploads(id),
    report_id        bigint NOT NULL,
    udi_pid          text NOT NULL,
    udi_serial       text NOT NULL,
    format           text NOT NULL CHECK (format IN ('A', 'B')),
    entitlement_tag  text NOT NULL DEFAULT '',
    software_version text NOT NULL DEFAULT '',
    metric_name      text NOT NULL DEFAULT '',
    last_value       text NOT NULL DEFAULT '',
    first_start      timestamptz,
    last_end         timestamptz,
    payload_sha256   bytea NOT NULL,
    report           text NOT NULL,
    received_at      timestamptz NOT NULL DEFAULT now(),
    conflict_of      bigint REFERENCES rum_reports(id),
    acked_at         timestamptz
);
CREATE UNIQUE INDEX rum_reports_identity
    ON rum_reports (tenant_id, udi_pid, udi_serial, report_id) WHERE conflict_of IS NULL;
CREATE UNIQUE INDEX rum_reports_conflict_payload
    ON rum_reports (conflict_of, payload_sha256) WHERE conflict_of IS NOT NULL;
CREATE INDEX rum_reports_device ON rum_reports (device_id, received_at);
CREATE INDEX rum_reports_unacked ON rum_reports (tenant_id) WHERE acked_at IS NULL;

-- An ACK file from CSSM for one device, byte-exact, waiting for delivery.
CREATE TABLE acks (
    id             bigserial PRIMARY KEY,
    tenant_id      bigint NOT NULL REFERENCES tenants(id),
    device_id      bigint NOT NULL REFERENCES devices(id),
    content        bytea NOT NULL,
    imported_at    timestamptz NOT NULL DEFAULT now(),
    superseded_by  bigint REFERENCES acks(id),
    delivered_at   timestamptz
);
CREATE INDEX acks_undelivered ON acks (device_id, id)
    WHERE delivered_at IS NULL AND superseded_by IS NULL;

CREATE TABLE ack_deliveries (
    id             bigserial PRIMARY KEY,
    ack_id         bigint NOT NULL REFERENCES acks(id),
    delivered_at   timestamptz NOT NULL DEFAULT now(),
    address        text NOT NULL DEFAULT '',
    via            text NOT NULL  -- 'poll', 'hello', 'netconf', 'restapi', 'file'
);

CREATE TABLE alerts (
    id          bigserial PRIMARY KEY,
    tenant_id   bigint REFERENCES tenants(id),
    device_id   bigint REFERENCES devices(id),
    kind        text NOT NULL,
    message     text NOT NULL,
    details     jsonb NOT NULL DEFAULT '{}',
    created_at  timestamptz NOT NULL DEFAULT now(),
    resolved_at timestamptz
);

-- Messages rumd could not classify with confidence (or every message when the
-- capture switch is on), verbatim, for study and replay.
CREATE TABLE captures (
    id             bigserial PRIMARY KEY,
    tenant_name    text NOT NULL DEFAULT '',
    method         text NOT NULL,
    path           text NOT NULL,
    headers        jsonb NOT NULL DEFAULT '{}',
    source_address text NOT NULL DEFAULT '',
    body           bytea NOT NULL,
    reason         text NOT NULL,
    received_at    timestamptz NOT NULL DEFAULT now()
);

-- Reports, request bodies and captures are several KB of JSON each: lz4
-- compresses them at a fraction of the CPU of the default pglz, which matters
-- on the push path. Servers built without lz4 keep the default.
DO $$
BEGIN
    ALTER TABLE rum_reports ALTER COLUMN report SET COMPRESSION lz4;
    ALTER TABLE uploads ALTER COLUMN request_body SET COMPRESSION lz4;
    ALTER TABLE captures ALTER COLUMN body SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported THEN
    RAISE NOTICE 'lz4 is not available: report text is compressed with pglz';
END
$$;

-- Stores one report; returns 'new', 'duplicate' or 'conflict' (the last also
-- raises an alert). Concurrent arrivals of one identity serialise on the
-- unique index, so exactly one becomes the first.
CREATE FUNCTION rum_report_store(p_tenant bigint, p_device bigint, p_upload bigint,
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

-- Takes the newest undelivered ACK of a device for delivery: marks it
-- delivered (to whom, over which path), supersedes older undelivered ones
-- (kept, not lost) and returns its bytes; NULL when there is none. Two
-- concurrent takers serialise on the row lock, so one ACK goes out once.
CREATE FUNCTION rum_ack_take(p_device bigint, p_address text, p_via text)
RETURNS bytea LANGUAGE plpgsql AS $$
DECLARE
    v_id bigint;
    v_content bytea;
BEGIN
    IF p_device IS NULL THEN
        RETURN NULL;
    END IF;
    SELECT id, content INTO v_id, v_content FROM acks
     WHERE device_id = p_device AND delivered_at IS NULL AND superseded_by IS NULL
     ORDER BY id DESC LIMIT 1 FOR UPDATE;
    IF v_id IS NULL THEN
        RETURN NULL;
    END IF;
    UPDATE acks SET superseded_by = v_id
     WHERE device_id = p_device AND delivered_at IS NULL AND superseded_by IS NULL
       AND id < v_id;
    UPDATE acks SET delivered_at = now() WHERE id = v_id;
    INSERT INTO ack_deliveries (ack_id, address, via) VALUES (v_id, p_address, p_via);
    RETURN v_content;
END
$$;

-- Result polling: upload_found is false when the upload (poll id) does not exist in
-- the tenant; content is the ACK to deliver to the upload's device, if any.
CREATE FUNCTION rum_poll_take(p_tenant bigint, p_poll bigint, p_address text, p_via text,
                              OUT upload_found boolean, OUT content bytea)
LANGUAGE plpgsql AS $$
DECLARE
    v_device bigint;
BEGIN
    SELECT device_id INTO v_device FROM uploads WHERE poll_id = p_poll AND tenant_id = p_tenant;
    upload_found := FOUND; -- (an OUT parameter named "found" would hide FOUND)
    IF upload_found THEN
        content := rum_ack_take(v_device, p_address, p_via);
    END IF;
END
$$;

