-- rumd schema, version 17: RESTCONF pull targets. CSLU reaches devices over
-- NETCONF, RESTCONF or the device REST API; RESTCONF (RFC 8040 over HTTPS,
-- the cisco-smart-license model) joins the other two. It has no file copy
-- of its own, so its usage files and ACKs always travel through one-time
-- HTTP URLs on rumd (transfer 'http').
ALTER TABLE pull_targets DROP CONSTRAINT pull_targets_protocol_check;
ALTER TABLE pull_targets ADD CONSTRAINT pull_targets_protocol_check
    CHECK (protocol IN ('netconf', 'restapi', 'restconf'));
ALTER TABLE pull_targets ADD CONSTRAINT pull_targets_restconf_transfer
    CHECK (protocol <> 'restconf' OR transfer = 'http');
