-- A tenant of 100,000 devices synced at once. Three statements on the
-- sync's path read more rows the bigger the tenant, which made a sync
-- quadratic in its devices; most visibly right after many reports arrived,
-- before autovacuum had analysed them, when the planner took a device's
-- rows to be as many as a whole tenant's.

-- 1. The inventory refresh read a device's reports three times, each with
-- conditions that two indexes match: with stale statistics the planner
-- crossed the device index with the tenant-wide one (every report of the
-- tenant, for each device). One scan of the device's own rows, by the one
-- index that names the device, gives all three figures; and the inventory
-- rows are found by the devices named, not by a walk of all of them.
CREATE OR REPLACE FUNCTION rum_inventory_refresh(p_devices bigint[]) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM device_inventory WHERE device_id = ANY (p_devices)
     ORDER BY device_id FOR UPDATE;
    UPDATE device_inventory i SET
        first_report_at = s.first_report_at,
        unacked_since = s.unacked_since,
        last_ack_at = s.last_ack_at,
        export_pending_since = s.export_pending_since
      FROM (SELECT d.id, r.first_report_at, r.unacked_since, r.last_ack_at,
                   (SELECT min(e.created_at) FROM export_batch_reports b
                      JOIN export_batches e ON e.id = b.batch_id
                      JOIN rum_reports x ON x.id = b.report_row
                     WHERE b.device_id = d.id AND x.acked_at IS NULL) AS export_pending_since
              FROM unnest(p_devices) AS d(id)
              CROSS JOIN LATERAL (
                  SELECT min(received_at) FILTER (WHERE conflict_of IS NULL) AS first_report_at,
                         min(received_at) FILTER (WHERE conflict_of IS NULL
                                                    AND acked_at IS NULL) AS unacked_since,
                         max(acked_at) FILTER (WHERE conflict_of IS NULL) AS last_ack_at
                    FROM rum_reports WHERE device_id = d.id) r) s
     WHERE i.device_id = s.id AND i.device_id = ANY (p_devices)
       AND (i.first_report_at, i.unacked_since, i.last_ack_at, i.export_pending_since)
           IS DISTINCT FROM (s.first_report_at, s.unacked_since, s.last_ack_at,
                             s.export_pending_since);
END
$$;

-- 2. An ACK marks its device's unacknowledged reports: an index of exactly
-- those, so that the statement never walks the tenant's.
CREATE INDEX rum_reports_device_unacked ON rum_reports (device_id) WHERE acked_at IS NULL;

-- 3. The due calls are taken a few dozen at a time, earliest first: in
-- index order, stopping at the limit, instead of sorting every open call of
-- the run for each few dozen.
DROP INDEX sync_sends_open;
CREATE INDEX sync_sends_open ON sync_sends (run_id, next_at, id)
    WHERE state IN ('queued', 'sending', 'polling');
