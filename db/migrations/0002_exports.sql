-- rumd schema, version 2: export batches (PROTOCOL.md 2.2). An export for
-- CSSM is recorded, in the transaction that reads its reports, as a batch:
-- the file it was written to, the <ts> every name inside it carries, and
-- which reports went into it, so that the ACK that CSSM returns for that file
-- (ACK_UD_SA_<ts> > ACK_dev_<device id>_<ts>) can be matched to them.
-- Forward-only: never edit this file after it has landed.

CREATE TABLE export_batches (
    id          bigserial PRIMARY KEY,
    tenant_id   bigint NOT NULL REFERENCES tenants(id),
    file_name   text NOT NULL,            -- UD_SA_<ts>.tar.gz (the name written)
    ts          text NOT NULL,            -- <ts>: %y%b%d_%H_%M_%S_<ms>, UTC
    selection   text NOT NULL,            -- how the reports were chosen, for people
    devices     integer NOT NULL DEFAULT 0 CHECK (devices >= 0),
    reports     integer NOT NULL DEFAULT 0 CHECK (reports >= 0),
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX export_batches_tenant ON export_batches (tenant_id, created_at);
CREATE INDEX export_batches_ts ON export_batches (ts);

-- One row per report written into a batch, keyed so that an ACK file for one
-- device of one batch is an index range, and so that the export reads its
-- reports back in file order (device, then report). device_id is the
-- report's device, copied: it names the dev_<device id>_<ts>.txt file.
CREATE TABLE export_batch_reports (
    batch_id    bigint NOT NULL REFERENCES export_batches(id) ON DELETE CASCADE,
    device_id   bigint NOT NULL,
    report_row  bigint NOT NULL REFERENCES rum_reports(id),
    PRIMARY KEY (batch_id, device_id, report_row)
);
CREATE INDEX export_batch_reports_report ON export_batch_reports (report_row);
