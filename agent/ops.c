/* Locked device operations, see ops.h. */
#include "agent/ops.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent/push.h"
#include "lib/err.h"

struct locked {
	struct rum_agent_state st;
	int fd;
};

static int begin(struct locked **out, const char *dir)
{
	struct locked *l = calloc(1, sizeof(*l));
	int rc;

	if (!l)
		abort();
	if ((rc = rum_agent_state_lock(dir, &l->fd)) < 0) {
		free(l);
		return rc;
	}
	if ((rc = rum_agent_state_load(&l->st, dir)) < 0) {
		rum_agent_state_unlock(l->fd);
		free(l);
		return rc;
	}
	*out = l;
	return 0;
}

static void release(struct locked *l)
{
	rum_agent_state_dispose(&l->st);
	rum_agent_state_unlock(l->fd);
	free(l);
}

/* Saves the changed state and releases; returns result, or the save error. */
static int end(struct locked *l, int result)
{
	int rc = rum_agent_state_save(&l->st);

	release(l);
	return rc < 0 ? rc : result;
}

int rum_agent_op_load(struct rum_agent_state *st, const char *dir)
{
	int fd, rc;

	if ((rc = rum_agent_state_lock(dir, &fd)) < 0)
		return rc;
	rc = rum_agent_state_load(st, dir);
	rum_agent_state_unlock(fd);
	return rc;
}

int rum_agent_op_save_usage(const char *dir, enum rum_agent_save_mode mode, uint32_t days,
			    const char *target, int allow_plain)
{
	struct locked *l;
	char path[2048];
	char *text = NULL;
	size_t len;
	int rc, url;

	rc = rum_agent_map_path(path, sizeof(path), dir, target, allow_plain);
	url = rc == RUM_ENOTFOUND;
	if (rc < 0 && !url)
		return rc;
	if ((rc = begin(&l, dir)) < 0)
		return rc;
	rc = rum_agent_usage_build(&text, &len, &l->st, mode, days, (int64_t)time(NULL));
	if (rc == 0)
		rc = url ? rum_agent_http_put(target, text, len)
			 : rum_agent_write_file_atomic(path, text, len);
	free(text);
	if (rc < 0) {
		release(l);
		return rc;
	}
	return end(l, 0);
}

int rum_agent_op_import_buf(const char *dir, const char *buf, size_t len, char *summary,
			    size_t summary_size)
{
	struct locked *l;
	int rc;

	if ((rc = begin(&l, dir)) < 0)
		return rc;
	rc = rum_agent_import_buf(&l->st, buf, len, (int64_t)time(NULL), summary, summary_size);
	if (rc < 0) {
		release(l);
		return rc;
	}
	if (l->st.poll_id[0] && strstr(summary, "RUM ACK")) {
		l->st.poll_id[0] = '\0'; /* imported by hand: nothing left to poll for */
		l->st.poll_stage = 0;
	}
	return end(l, 0);
}

int rum_agent_op_import(const char *dir, const char *source, int allow_plain, char *summary,
			size_t summary_size)
{
	char path[2048];
	char *buf = NULL;
	size_t len;
	int rc = rum_agent_map_path(path, sizeof(path), dir, source, allow_plain);

	if (rc == RUM_ENOTFOUND)
		rc = rum_agent_http_get(&buf, &len, source, RUM_AGENT_FILE_MAX);
	else if (rc == 0)
		rc = rum_agent_read_file(&buf, &len, path, RUM_AGENT_FILE_MAX);
	if (rc < 0)
		return rc;
	rc = rum_agent_op_import_buf(dir, buf, len, summary, summary_size);
	free(buf);
	return rc;
}

int rum_agent_op_set_usage(const char *dir, const char *tag, uint32_t count)
{
	struct locked *l;
	int rc;

	if ((rc = begin(&l, dir)) < 0)
		return rc;
	rc = rum_agent_state_set_usage(&l->st, tag, count, (int64_t)time(NULL));
	if (rc < 0) {
		release(l);
		return rc;
	}
	return end(l, 0);
}

int rum_agent_op_close_reports(const char *dir)
{
	struct locked *l;
	int rc;

	if ((rc = begin(&l, dir)) < 0)
		return rc;
	rc = rum_agent_state_close_open(&l->st, (int64_t)time(NULL), "CurrentUsageRequested");
	if (rc < 0) {
		release(l);
		return rc;
	}
	return end(l, rc);
}

const char *rum_agent_op_return_code(int rc)
{
	switch (rc) {
	case 0: return "success";
	case RUM_ENOTFOUND: return "notfound";
	case RUM_EIO: return "storagefailtostore";
	case RUM_EUNAVAIL: return "commsend";
	case RUM_ETOOBIG: return "invalidrequest";
	default: return "BadInputParams";
	}
}
