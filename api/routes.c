/* The whole HTTP surface of rumd, as data: device endpoints (CSLU protocol,
 * one-time file URLs), probes, and the admin REST API with the token role
 * each admin route needs. The router (api/router.c) matches requests
 * against it; the OpenAPI description is checked against it. */
#include "api/call.h"

#define T "/api/v1/tenants/{tenant}"

const struct rum_api_route rum_api_routes[] = {
	/* Devices and probes: no token. */
	{NULL, "/cslu/v1/pi/...", RUM_API_DIRECT, 0, NULL, rum_api_cslu, NULL, NULL,
	 "CSLU device endpoint: usage, trust and authorization requests, result polls"},
	{NULL, "/cslu/v1/files/...", RUM_API_DIRECT, 0, NULL, rum_api_files, NULL, NULL,
	 "one-time file URLs handed to devices by pull collections"},
	{NULL, "/", RUM_API_DIRECT, 0, NULL, rum_api_web_page, NULL, NULL,
	 "the admin console (sign in, overview, devices)"},
	{NULL, "/assets/...", RUM_API_DIRECT, 0, NULL, rum_api_web_asset, NULL, NULL,
	 "the admin console's scripts, styles and images (cached for good: content-hashed)"},
	{NULL, "/healthz", RUM_API_DIRECT, 0, NULL, rum_api_healthz, NULL, NULL, "liveness"},
	{NULL, "/readyz", RUM_API_DIRECT, 0, NULL, rum_api_readyz, NULL, NULL,
	 "readiness: the database answers with this binary's schema"},

	/* The admin API: a bearer token of at least the role named. */
	{"GET", "/api/v1/openapi.json", RUM_API_LIGHT, RUM_ROLE_READER, "openapi-read", NULL, NULL,
	 rum_api_openapi_run, "this API's OpenAPI 3.1 description (api/openapi.json)"},
	{"POST", T "/exports", RUM_API_HEAVY, RUM_ROLE_OPERATOR, "export", NULL,
	 rum_api_export_parse, rum_api_export_run, "export the tenant's usage for CSSM"},
	{"GET", T "/exports", RUM_API_LIGHT, RUM_ROLE_READER, "export-read", NULL,
	 rum_api_reports_parse, rum_api_exports_list_run,
	 "the tenant's export batches, newest first, with how far CSSM's ACKs came back"},
	{"GET", T "/exports/{export}/file", RUM_API_LIGHT, RUM_ROLE_READER, "export-download", NULL,
	 NULL, rum_api_export_file_run, "download an export's file"},
	{"POST", T "/imports", RUM_API_HEAVY, RUM_ROLE_OPERATOR, "import", NULL,
	 rum_api_import_parse, rum_api_import_run,
	 "import CSSM's ACK file, ACK tarball or policy file"},
	{"GET", T "/overview", RUM_API_LIGHT, RUM_ROLE_READER, "device-read", NULL,
	 rum_api_overview_parse, rum_api_overview_run,
	 "the tenant at a glance: devices by state, open alerts, the soonest deadlines"},
	{"GET", T "/devices", RUM_API_LIGHT, RUM_ROLE_READER, "device-read", NULL,
	 rum_api_devices_parse, rum_api_devices_list_run,
	 "the tenant's devices: filter by state, search, sort, keyset pages"},
	{"GET", T "/devices/{device}", RUM_API_LIGHT, RUM_ROLE_READER, "device-read", NULL, NULL,
	 rum_api_device_get_run, "one device: state, deadline, policy, usage, newest reports"},
	{"GET", T "/devices/{device}/reports", RUM_API_LIGHT, RUM_ROLE_READER, "report-read", NULL,
	 rum_api_reports_parse, rum_api_device_reports_run, "a device's reports, newest first"},
	{"GET", T "/reports", RUM_API_LIGHT, RUM_ROLE_READER, "report-read", NULL,
	 rum_api_reports_parse, rum_api_reports_list_run, "the tenant's reports, newest first"},
	{"GET", T "/reports/{report}", RUM_API_LIGHT, RUM_ROLE_READER, "report-read", NULL, NULL,
	 rum_api_report_get_run, "one report: identity, usage, export and ACK state"},
	{"GET", T "/reports/{report}/raw", RUM_API_LIGHT, RUM_ROLE_READER, "report-read", NULL,
	 NULL, rum_api_report_raw_run, "one report byte-exact, as the device sent it"},
	/* Signing in costs a password hash (scrypt): on the heavy lane, so
	 * that a flood of attempts cannot hold the readers' threads. */
	{"POST", "/api/v1/session", RUM_API_HEAVY, RUM_ROLE_NONE, "sign-in", NULL,
	 rum_api_session_parse, rum_api_session_begin_run,
	 "sign in a browser: a session cookie from a token or a user and password"},
	{"GET", "/api/v1/session", RUM_API_LIGHT, RUM_ROLE_READER, "session-read", NULL, NULL,
	 rum_api_session_get_run, "who the request acts as; a session's CSRF token"},
	{"DELETE", "/api/v1/session", RUM_API_LIGHT, RUM_ROLE_READER, "sign-out", NULL, NULL,
	 rum_api_session_end_run, "sign out: end the browser session"},
	{"GET", "/api/v1/tenants", RUM_API_LIGHT, RUM_ROLE_READER, "tenant-read", NULL, NULL,
	 rum_api_tenants_list_run, "tenants (a tenant-bound token sees its own)"},
	{"POST", "/api/v1/tenants", RUM_API_LIGHT, RUM_ROLE_ADMIN, "tenant-create", NULL,
	 rum_api_tenant_create_parse, rum_api_tenant_create_run, "create a tenant"},
	{"PATCH", T, RUM_API_LIGHT, RUM_ROLE_ADMIN, "tenant-update", NULL,
	 rum_api_tenant_update_parse, rum_api_tenant_update_run,
	 "set a tenant's Smart Account and Virtual Account names"},
	{"GET", "/api/v1/tokens", RUM_API_LIGHT, RUM_ROLE_ADMIN, "token-read", NULL, NULL,
	 rum_api_tokens_list_run, "bearer tokens (never their secret)"},
	{"POST", "/api/v1/tokens", RUM_API_LIGHT, RUM_ROLE_ADMIN, "token-create", NULL,
	 rum_api_token_create_parse, rum_api_token_create_run,
	 "create a token; its secret is in this answer only"},
	{"DELETE", "/api/v1/tokens/{token}", RUM_API_LIGHT, RUM_ROLE_ADMIN, "token-revoke", NULL,
	 NULL, rum_api_token_revoke_run, "revoke a token"},
	/* Users: passwords are hashed (scrypt), on the heavy lane. */
	{"GET", "/api/v1/users", RUM_API_LIGHT, RUM_ROLE_ADMIN, "user-read", NULL, NULL,
	 rum_api_users_list_run, "local users of the admin console (never a password)"},
	{"POST", "/api/v1/users", RUM_API_HEAVY, RUM_ROLE_ADMIN, "user-add", NULL,
	 rum_api_user_create_parse, rum_api_user_create_run,
	 "add a local user who signs in to the console with a password"},
	{"PATCH", "/api/v1/users/{user}", RUM_API_HEAVY, RUM_ROLE_ADMIN, "user-update", NULL,
	 rum_api_user_update_parse, rum_api_user_update_run,
	 "set a user's password, or disable or enable the user (signs the user out)"},
	{"GET", "/api/v1/audit", RUM_API_LIGHT, RUM_ROLE_READER, "audit-read", NULL,
	 rum_api_reports_parse, rum_api_audit_list_run,
	 "the audit log, newest first (a tenant-bound token sees its tenant's)"},
	{"GET", T "/usage", RUM_API_LIGHT, RUM_ROLE_READER, "usage-read", NULL, NULL,
	 rum_api_usage_run, "licence usage per entitlement: devices, in use now, peak day"},
	{"GET", T "/usage/daily", RUM_API_LIGHT, RUM_ROLE_READER, "usage-read", NULL,
	 rum_api_usage_parse, rum_api_usage_days_run,
	 "licence usage per entitlement and day: devices, in use"},
	{"GET", T "/alerts", RUM_API_LIGHT, RUM_ROLE_READER, "alert-read", NULL,
	 rum_api_alerts_parse, rum_api_alerts_list_run,
	 "the tenant's alerts: open, unacknowledged, resolved; newest first"},
	{"POST", T "/alerts/{alert}/ack", RUM_API_LIGHT, RUM_ROLE_OPERATOR, "alert-ack", NULL, NULL,
	 rum_api_alert_ack_run, "acknowledge an alert (a report conflict is resolved by it)"},
	{"GET", T "/devices/{device}/ack", RUM_API_LIGHT, RUM_ROLE_READER, "ack-download", NULL,
	 NULL, rum_api_ack_run, "download a device's newest ACK"},
	{"GET", T "/pull-targets", RUM_API_LIGHT, RUM_ROLE_READER, "pull-target-read", NULL, NULL,
	 rum_api_targets_list_run, "list the tenant's pull targets"},
	{"POST", T "/pull-targets", RUM_API_LIGHT, RUM_ROLE_ADMIN, "pull-target-add", NULL,
	 rum_api_target_add_parse, rum_api_target_add_run, "add a pull target"},
	{"POST", T "/pull-targets/collect", RUM_API_LIGHT, RUM_ROLE_OPERATOR, "collect", NULL, NULL,
	 rum_api_collect_run, "collect from every pull target of the tenant now"},
	{"GET", T "/pull-targets/{pull-target}", RUM_API_LIGHT, RUM_ROLE_READER, "pull-target-read",
	 NULL, NULL, rum_api_target_get_run, "one pull target with its last collections"},
	{"PATCH", T "/pull-targets/{pull-target}", RUM_API_LIGHT, RUM_ROLE_ADMIN,
	 "pull-target-update", NULL, rum_api_target_update_parse, rum_api_target_update_run,
	 "change a pull target: address, credential, host key, schedule, transfer"},
	{"DELETE", T "/pull-targets/{pull-target}", RUM_API_LIGHT, RUM_ROLE_ADMIN,
	 "pull-target-remove", NULL, NULL, rum_api_target_remove_run, "remove a pull target"},
	{"POST", T "/pull-targets/{pull-target}/collect", RUM_API_LIGHT, RUM_ROLE_OPERATOR,
	 "collect", NULL, NULL, rum_api_collect_run, "collect from one pull target now"},
	/* Connected mode's configuration: secrets are write-only. */
	{"GET", "/api/v1/upstreams", RUM_API_LIGHT, RUM_ROLE_ADMIN, "upstream-read", NULL, NULL,
	 rum_api_upstreams_list_run, "every tenant's upstream (a tenant-bound token: its own)"},
	{"GET", T "/upstream", RUM_API_LIGHT, RUM_ROLE_READER, "upstream-read", NULL, NULL,
	 rum_api_upstream_get_run, "the tenant's upstream: CSSM or another collector"},
	{"PUT", T "/upstream", RUM_API_LIGHT, RUM_ROLE_ADMIN, "upstream-set", NULL,
	 rum_api_upstream_set_parse, rum_api_upstream_set_run,
	 "create or replace the tenant's upstream (secrets write-only)"},
	{"DELETE", T "/upstream", RUM_API_LIGHT, RUM_ROLE_ADMIN, "upstream-remove", NULL, NULL,
	 rum_api_upstream_remove_run, "remove the tenant's upstream"},
	{"GET", T "/sync", RUM_API_LIGHT, RUM_ROLE_READER, "sync-read", NULL, NULL,
	 rum_api_sync_get_run,
	 "the tenant's connected syncs: state, last runs (calls, ACKs, polls pending, errors)"},
	{"POST", T "/sync", RUM_API_LIGHT, RUM_ROLE_OPERATOR, "sync-request", NULL, NULL,
	 rum_api_sync_request_run, "ask for a connected sync now (serve's scheduler runs it)"},
	{"GET", T "/collections/{collection}", RUM_API_LIGHT, RUM_ROLE_READER, "collection-read",
	 NULL, NULL, rum_api_collection_run, "one collection: state, counts, error"},
};

const size_t rum_api_routes_count = sizeof(rum_api_routes) / sizeof(rum_api_routes[0]);

void rum_api_routes_each(void (*cb)(void *arg, const char *method, const char *pattern,
				    const char *role, const char *action, const char *summary),
			 void *arg)
{
	static const char *const roles[] = {"public", "reader", "operator", "admin"};

	for (size_t i = 0; i < rum_api_routes_count; i++) {
		const struct rum_api_route *r = &rum_api_routes[i];

		cb(arg, r->method ? r->method : "*", r->pattern,
		   r->lane == RUM_API_DIRECT ? "" : roles[r->role], r->action ? r->action : "",
		   r->summary);
	}
}
