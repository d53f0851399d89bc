-- rumd schema, version 16: retention. Reports acknowledged by CSSM long
-- ago, captured messages and pull-collection records older than their
-- windows are pruned by the serve loop's upkeep (and `rumd prune`), in
-- small batches of their own short transactions.
--
-- A pruned report keeps its row and loses its payload: report becomes ''
-- and pruned_at says when. What stays is a few hundred bytes (identity,
-- entitlement, value, times, payload SHA-256, export batch and ACK state)
-- against the several KB of the payload. Keeping the row rather than a
-- fingerprint elsewhere keeps every rule that reads it as it was, without
-- a race against a device sending the report again while it is pruned:
-- - dedupe: the identity index and the payload hash still say duplicate
--   (counted on the row) or conflict (kept beside it), so a device that
--   never received its ACK and sends an old report again gets no new row
--   and nothing is exported twice;
-- - licence usage: the rollup reads the kept columns, and a report is
--   pruned only once counted (id <= usage_rollup.done_id);
-- - the inventory: first report, last ACK and pending state are computed
--   from the same rows;
-- - exports: the batch still lists the report, ACK state included; a new
--   export never selects a pruned report (its payload is gone).
-- Forward-only: never edit this file after it has landed.

ALTER TABLE rum_reports ADD COLUMN pruned_at timestamptz;

-- Reports that may become prunable: acknowledged and not pruned yet, oldest
-- ACK first. The push path inserts reports unacknowledged, so it never
-- writes an entry here.
CREATE INDEX rum_reports_prunable ON rum_reports (acked_at, id)
    WHERE acked_at IS NOT NULL AND pruned_at IS NULL;

-- Captures by age (the push path writes captures rarely, or with
-- capture_all on).
CREATE INDEX captures_received ON captures (received_at);
