/* Fuzz target: the agent's NETCONF server, a whole session: framing, the
 * client's <hello>, <rpc> parsing (lib/xml, no DTD) and every operation
 * (get with filters, rum-save-usage-*, import-file, close-session) on a real
 * device state directory. The first byte picks base:1.0 only or base:1.1;
 * the rest is what the client sends. The state is put back before every
 * input so that runs are independent. http(s) file paths go to a proxy that
 * refuses connections, so no input reaches the network. */
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/netconf.h"
#include "agent/push.h"
#include "agent/state.h"
#include "lib/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define TAG "regid.2017-03.com.cisco.advantagek9,1.0_bd1da96e-ec1d-412b-a50e-53846b347d53"

static char root[256], dir[300], state_path[320], flash[320];
static char *pristine;
static size_t pristine_len;
static int null_fd = -1;

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

static void cleanup(void)
{
	if (root[0])
		nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void setup(void)
{
	struct rum_agent_state *st = calloc(1, sizeof(*st));
	const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";

	if (!st)
		abort();
	setenv("http_proxy", "http://127.0.0.1:1", 1);
	setenv("https_proxy", "http://127.0.0.1:1", 1);
	setenv("HTTPS_PROXY", "http://127.0.0.1:1", 1);
	setenv("ALL_PROXY", "http://127.0.0.1:1", 1);
	unsetenv("no_proxy");
	unsetenv("NO_PROXY");
	rum_agent_http_global_init();
	rum_log_set_level(RUM_LOG_ERROR); /* refused file paths are expected here */
	snprintf(root, sizeof(root), "%s/agentfuzz_netconf.XXXXXX", base);
	if (!mkdtemp(root))
		abort();
	atexit(cleanup);
	snprintf(dir, sizeof(dir), "%s/dev", root);
	snprintf(state_path, sizeof(state_path), "%s/state.json", dir);
	snprintf(flash, sizeof(flash), "%s/bootflash", dir);
	snprintf(st->dir, sizeof(st->dir), "%s", dir);
	snprintf(st->pid, sizeof(st->pid), "C9300-24P");
	snprintf(st->serial, sizeof(st->serial), "FOC1234X0AB");
	snprintf(st->hostname, sizeof(st->hostname), "sw1");
	if (rum_agent_parse_usage_arg(st->ent[0].tag, &st->ent[0].count, TAG "=3") < 0)
		abort();
	st->n_ent = 1;
	if (rum_agent_state_create(st, 1700000000) < 0)
		abort();
	/* one reported report, so that get and save-usage have something to show */
	if (rum_agent_state_close_open(st, 1700000100, "CurrentUsageRequested") < 0 ||
	    rum_agent_state_save(st) < 0)
		abort();
	rum_agent_state_dispose(st);
	free(st);
	if (rum_agent_read_file(&pristine, &pristine_len, state_path, 1 << 20) < 0)
		abort();
	null_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (null_fd < 0)
		abort();
}

/* Puts the device back as it was, with an empty bootflash (no fsync: a
 * fuzzing run needs no durability). */
static void restore(void)
{
	DIR *d = opendir(flash);
	struct dirent *e;
	char path[700];
	int fd;

	while (d && (e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", flash, e->d_name);
		unlink(path);
	}
	if (d)
		closedir(d);
	fd = open(state_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, pristine, pristine_len) != (ssize_t)pristine_len)
		abort();
	close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int fd;

	if (!root[0])
		setup();
	if (size < 1)
		return 0;
	restore();
	if (data[0] & 1)
		setenv("RUM_AGENT_NETCONF_BASE", "1.0", 1);
	else
		unsetenv("RUM_AGENT_NETCONF_BASE");
	fd = memfd_create("agentfuzz_netconf", MFD_CLOEXEC);
	if (fd < 0)
		abort();
	if (size > 1 && write(fd, data + 1, size - 1) != (ssize_t)(size - 1))
		abort();
	lseek(fd, 0, SEEK_SET);
	rum_agent_netconf_serve(dir, fd, null_fd);
	close(fd);
	return 0;
}
