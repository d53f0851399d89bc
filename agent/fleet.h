/* A fleet: many simulated devices in one process and one thread, for load
 * tests and benchmarks of rumd.
 *
 * Every device keeps the push behaviour of push.h (hello, usage reports at
 * its reporting interval, result polls about 60 s and 5 min after an
 * OK_POLL and daily after that, ACKs installed from poll replies), with
 * every timer divided by the speed-up. Devices are records in one shared
 * store, DIR/fleet.store, not processes, threads or directories: a device
 * costs about 200 bytes, and requests go out through one pool of kept-alive
 * connections (at most `concurrency` in flight).
 *
 * A device's reports are a pure function of its identity and its report
 * windows, and the store keeps the windows not yet acknowledged: a report
 * sent again (after a restart, or when the server forgot the upload) has
 * the same bytes. The store is saved every few seconds and on exit; after a
 * kill, the devices skip the report ids they may have used since the last
 * save, so an id never names two different reports. */
#ifndef RUM_AGENT_FLEET_H
#define RUM_AGENT_FLEET_H

#include "agent/push.h"

#define RUM_AGENT_FLEET_MAX 10000000 /* devices in one store */
#define RUM_AGENT_FLEET_MAX_ENTS 8   /* entitlements per device */

struct rum_agent_fleet_opts {
	const char *root;  /* the store's directory */
	int count;         /* devices; a store keeps the count it was made with */
	const char *url;   /* push URL (required unless dump) */
	double speedup;    /* >= 1 */
	int concurrency;   /* requests in flight, default 64 */
	int interval_days; /* reporting interval, 0: the Cisco default policy's */
	const char *pid;   /* default C9300-24P */
	int n_ents;
	const char *const *ents; /* TAG=COUNT; default one network-advantage license */
	char format;             /* 'A' or 'B' (default) */
	int quiet;               /* no progress lines */
	double duration;         /* stop after this many seconds, 0: no limit */
	int rounds;              /* stop once every device had this many report windows */
	int rounds_acked;        /* accepted (and this many acknowledged) in this run */
	double progress_s;       /* seconds between progress lines, default 10 */
	double ramp_s;           /* a new fleet's first reports spread over this; default:
				    one interval, at most 10 s */
};

/* Runs the fleet until SIGINT/SIGTERM, duration or rounds; prints progress
 * lines and a final tally ("fleet: N devices, ..."). */
int rum_agent_fleet_run(const struct rum_agent_fleet_opts *o);

/* Prints one JSON object per device (or only device `index` when >= 0):
 * identity, ACKs installed and every report not yet acknowledged with its
 * state (CLOSED or UNACK) and its bytes, as the device sends them. */
int rum_agent_fleet_dump(const char *root, long index);

#endif
