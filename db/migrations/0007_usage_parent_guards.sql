-- rumd schema, version 7: the push path writes uploads and rum_reports rows
-- without foreign-key checks; deleting what they refer to is refused by
-- triggers instead.
--
-- Every device message writes an uploads row and one rum_reports row per
-- report. Their foreign keys to tenants, devices and uploads cost, per row
-- written, a lookup and a FOR KEY SHARE lock on the parent row; all devices of
-- a tenant lock the same tenants row, which under concurrent batches turns
-- into multixacts. That was about a sixth of the database's CPU per report.
-- rumd takes these ids from lookups in the same transaction (tenant by name,
-- device by UDI, the upload just inserted) and never deletes tenants, devices
-- or uploads, so the insert-side check protected nothing rumd does. The
-- delete side (someone removing a parent by hand) is what keeps usage
-- meaningful, and it stays refused, with the same error code: a parent row
-- that usage refers to cannot be deleted, re-keyed or truncated away.

ALTER TABLE rum_reports
    DROP CONSTRAINT rum_reports_tenant_id_fkey,
    DROP CONSTRAINT rum_reports_device_id_fkey,
    DROP CONSTRAINT rum_reports_upload_id_fkey;
ALTER TABLE uploads
    DROP CONSTRAINT uploads_tenant_id_fkey,
    DROP CONSTRAINT uploads_device_id_fkey;

-- Row triggers: OLD is a tenant, device or upload about to be deleted or to
-- change its id.
CREATE FUNCTION rum_usage_parent_guard() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    v_used boolean;
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.id = OLD.id THEN
        RETURN NEW;
    END IF;
    IF TG_TABLE_NAME = 'tenants' THEN
        v_used := EXISTS (SELECT 1 FROM uploads WHERE tenant_id = OLD.id)
               OR EXISTS (SELECT 1 FROM rum_reports WHERE tenant_id = OLD.id);
    ELSIF TG_TABLE_NAME = 'devices' THEN
        v_used := EXISTS (SELECT 1 FROM uploads WHERE device_id = OLD.id)
               OR EXISTS (SELECT 1 FROM rum_reports WHERE device_id = OLD.id);
    ELSE
        v_used := EXISTS (SELECT 1 FROM rum_reports WHERE upload_id = OLD.id);
    END IF;
    IF v_used THEN
        RAISE EXCEPTION '% row % is referred to by stored usage', TG_TABLE_NAME, OLD.id
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END
$$;

-- Statement triggers: TRUNCATE skips row triggers.
CREATE FUNCTION rum_usage_parent_truncate_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (TG_TABLE_NAME IN ('tenants', 'devices') AND EXISTS (SELECT 1 FROM uploads))
       OR EXISTS (SELECT 1 FROM rum_reports) THEN
        RAISE EXCEPTION 'cannot truncate %: stored usage refers to it', TG_TABLE_NAME
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER tenants_usage_guard BEFORE DELETE OR UPDATE OF id ON tenants
    FOR EACH ROW EXECUTE FUNCTION rum_usage_parent_guard();
CREATE TRIGGER devices_usage_guard BEFORE DELETE OR UPDATE OF id ON devices
    FOR EACH ROW EXECUTE FUNCTION rum_usage_parent_guard();
CREATE TRIGGER uploads_usage_guard BEFORE DELETE OR UPDATE OF id ON uploads
    FOR EACH ROW EXECUTE FUNCTION rum_usage_parent_guard();
CREATE TRIGGER tenants_usage_truncate_guard BEFORE TRUNCATE ON tenants
    FOR EACH STATEMENT EXECUTE FUNCTION rum_usage_parent_truncate_guard();
CREATE TRIGGER devices_usage_truncate_guard BEFORE TRUNCATE ON devices
    FOR EACH STATEMENT EXECUTE FUNCTION rum_usage_parent_truncate_guard();
CREATE TRIGGER uploads_usage_truncate_guard BEFORE TRUNCATE ON uploads
    FOR EACH STATEMENT EXECUTE FUNCTION rum_usage_parent_truncate_guard();
