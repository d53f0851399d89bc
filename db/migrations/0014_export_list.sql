-- The export batches page (admin API, console) shows each batch's ACK state:
-- how many of its devices CSSM's ACKs have come back for, read per batch
-- from import_acks by this index rather than by a scan.
CREATE INDEX import_acks_batch ON import_acks (export_batch_id, device_id)
    WHERE export_batch_id IS NOT NULL;
