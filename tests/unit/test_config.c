/* Settings: types, bounds, precedence (flag > environment > file > default)
 * and all-or-nothing config files. */
#include "check.h"
#include "lib/err.h"
#include "server/config.h"

#include <stdlib.h>
#include <unistd.h>

static char *write_file(const char *text)
{
	static char path[] = "/tmp/rumd-test-config-XXXXXX";
	char *p = strdup(path);
	int fd = mkstemp(p);

	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		abort();
	close(fd);
	return p;
}

static void test_defaults(void)
{
	struct rum_config cfg;

	rum_config_init(&cfg);
	CHECK_STR(cfg.http_listen, "0.0.0.0:8182");
	CHECK_STR(cfg.default_tenant, "default");
	CHECK_STR(cfg.database_url, "");
	CHECK_INT(cfg.max_body_bytes, 16 * 1024 * 1024);
	CHECK(!cfg.auto_create_tenants);
	CHECK_INT(rum_config_validate(&cfg), 0);
	rum_config_dispose(&cfg);
}

static void test_types_and_bounds(void)
{
	struct rum_config cfg;

	rum_config_init(&cfg);
	CHECK_INT(rum_config_set(&cfg, "max_body_bytes", "2MiB", RUM_CFG_FLAG), 0);
	CHECK_INT(cfg.max_body_bytes, 2 * 1024 * 1024);
	CHECK_INT(rum_config_set(&cfg, "max-body-bytes", "12x", RUM_CFG_FLAG), RUM_EINVAL);
	CHECK(strstr(rum_err_msg(), "max_body_bytes") != NULL);
	CHECK_INT(cfg.max_body_bytes, 2 * 1024 * 1024); /* unchanged */
	CHECK_INT(rum_config_set(&cfg, "db_pool_size", "257", RUM_CFG_FLAG), RUM_EINVAL);
	CHECK(strstr(rum_err_msg(), "outside") != NULL);
	CHECK_INT(rum_config_set(&cfg, "db_pool_size", "0", RUM_CFG_FLAG), 0);
	CHECK(rum_config_pool_size(&cfg) >= 2); /* 0: one per CPU, at least 2 */
	CHECK_INT(rum_config_set(&cfg, "db_pool_size", "1", RUM_CFG_FLAG), 0);
	CHECK_INT(rum_config_pool_size(&cfg), 2);
	CHECK_INT(rum_config_set(&cfg, "db_pool_size", "5", RUM_CFG_FLAG), 0);
	CHECK_INT(rum_config_pool_size(&cfg), 5);
	CHECK_INT(rum_config_set(&cfg, "db_pool_size", " 4", RUM_CFG_FLAG), RUM_EINVAL);
	CHECK_INT(rum_config_set(&cfg, "auto_create_tenants", "yes", RUM_CFG_FLAG), 0);
	CHECK(cfg.auto_create_tenants);
	CHECK_INT(rum_config_set(&cfg, "auto_create_tenants", "maybe", RUM_CFG_FLAG), RUM_EINVAL);
	CHECK_INT(rum_config_set(&cfg, "log_level", "loud", RUM_CFG_FLAG), RUM_EINVAL);
	CHECK_INT(rum_config_set(&cfg, "default_tenant", "a/b", RUM_CFG_FLAG), RUM_EINVAL);
	CHECK_INT(rum_config_set(&cfg, "no_such_key", "1", RUM_CFG_FLAG), RUM_EINVAL);
	CHECK(strstr(rum_err_msg(), "no_such_key") != NULL);
	CHECK_INT(rum_config_set(&cfg, "https_listen", "127.0.0.1:8443", RUM_CFG_FLAG), 0);
	CHECK_INT(rum_config_validate(&cfg), RUM_EINVAL); /* no certificate */
	CHECK(strstr(rum_err_msg(), "tls_cert") != NULL);
	rum_config_dispose(&cfg);
}

static void test_precedence(void)
{
	struct rum_config cfg;
	char *path = write_file("# comment\nhttp_listen = 127.0.0.1:1111\n"
				"default_tenant = \"from-file\"\nlog_level=warn\n\n");

	rum_config_init(&cfg);
	/* Flags are parsed first in main(); a later, weaker source must not win. */
	CHECK_INT(rum_config_set(&cfg, "http_listen", "127.0.0.1:3333", RUM_CFG_FLAG), 0);
	setenv("RUMD_HTTP_LISTEN", "127.0.0.1:2222", 1);
	setenv("RUMD_DEFAULT_TENANT", "from-env", 1);
	CHECK_INT(rum_config_load_file(&cfg, path), 0);
	CHECK_INT(rum_config_load_env(&cfg), 0);
	CHECK_STR(cfg.http_listen, "127.0.0.1:3333");
	CHECK_STR(cfg.default_tenant, "from-env");
	CHECK_STR(cfg.log_level, "warn");
	unsetenv("RUMD_HTTP_LISTEN");
	unsetenv("RUMD_DEFAULT_TENANT");
	rum_config_dispose(&cfg);
	unlink(path);
	free(path);
}

static void test_bad_file_applies_nothing(void)
{
	struct rum_config cfg;
	char *path = write_file("log_level = debug\ndb_pool_size = lots\n");

	rum_config_init(&cfg);
	CHECK_INT(rum_config_load_file(&cfg, path), RUM_EINVAL);
	CHECK(strstr(rum_err_msg(), ":2:") != NULL);
	CHECK_STR(cfg.log_level, "info");
	rum_config_dispose(&cfg);
	unlink(path);
	free(path);
	rum_config_init(&cfg);
	CHECK_INT(rum_config_load_file(&cfg, "/nonexistent/rumd.conf"), RUM_EIO);
	rum_config_dispose(&cfg);
}

static void test_listen(void)
{
	char addr[64];
	uint16_t port;

	CHECK_INT(rum_config_parse_listen("0.0.0.0:8182", addr, sizeof(addr), &port), 0);
	CHECK_STR(addr, "0.0.0.0");
	CHECK_INT(port, 8182);
	CHECK_INT(rum_config_parse_listen("[::1]:0", addr, sizeof(addr), &port), 0);
	CHECK_STR(addr, "::1");
	CHECK_INT(port, 0);
	CHECK_INT(rum_config_parse_listen("host", addr, sizeof(addr), &port), RUM_EINVAL);
	CHECK_INT(rum_config_parse_listen("h:70000", addr, sizeof(addr), &port), RUM_EINVAL);
	CHECK_INT(rum_config_parse_listen(":80", addr, sizeof(addr), &port), RUM_EINVAL);
}

int main(void)
{
	test_defaults();
	test_types_and_bounds();
	test_precedence();
	test_bad_file_applies_nothing();
	test_listen();
	return rum_check_result("test_config");
}
