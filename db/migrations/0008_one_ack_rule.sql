-- One rule for handing an ACK to its device, whichever way it goes: a device
-- poll takes it (rum_ack_take, in the push path's statements), the pull
-- collector confirms it after the device installed it (rum_ack_delivered).
-- Both now mark it the same way, by rum_ack_delivered: the ACK is marked
-- delivered, older undelivered ACKs of its device are superseded (kept, not
-- lost) and the delivery is recorded with its address and path.
CREATE OR REPLACE FUNCTION rum_ack_take(p_device bigint, p_address text, p_via text)
RETURNS bytea LANGUAGE plpgsql AS $$
DECLARE
    v_id bigint;
    v_content bytea;
BEGIN
    IF p_device IS NULL THEN
        RETURN NULL;
    END IF;
    -- Two concurrent takers serialise on the row lock, so one ACK goes out once.
    SELECT id, content INTO v_id, v_content FROM acks
     WHERE device_id = p_device AND delivered_at IS NULL AND superseded_by IS NULL
     ORDER BY id DESC LIMIT 1 FOR UPDATE;
    IF v_id IS NULL THEN
        RETURN NULL;
    END IF;
    PERFORM rum_ack_delivered(v_id, p_address, p_via);
    RETURN v_content;
END
$$;
