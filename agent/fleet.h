/* Many simulated devices in one process, for load tests of rumd: ROOT/dev-NNNNN
 * state directories (created on first run, reused after), each running the
 * push behaviour of push.h, scheduled over a few worker threads. */
#ifndef RUM_AGENT_FLEET_H
#define RUM_AGENT_FLEET_H

#include "agent/push.h"

struct rum_agent_fleet_opts {
	const char *root;
	int count;
	struct rum_agent_push_opts push; /* push.url is required */
	const char *pid;                 /* default C9300-24P */
	int n_ents;
	const char *const *ents; /* TAG=COUNT; default one network-advantage license */
	char format;             /* 'A', 'B' or 0 (B) */
};

/* Runs until SIGINT/SIGTERM; prints a one-line tally on exit. */
int rum_agent_fleet_run(const struct rum_agent_fleet_opts *o);

#endif
