/* Device operations shared by the CLI, the NETCONF server and the REST API.
 * Each takes the state lock, loads, changes, saves atomically and unlocks, so
 * that they can run concurrently with a push loop on the same directory. */
#ifndef RUM_AGENT_OPS_H
#define RUM_AGENT_OPS_H

#include <stddef.h>
#include <stdint.h>

#include "agent/files.h"
#include "agent/state.h"

/* `license smart save usage`: target is bootflash:NAME, http(s)://URL (PUT),
 * or, when allow_plain, a local path. The file is written before the state
 * records the reports as reported, so a crash can only cause a resend. */
int rum_agent_op_save_usage(const char *dir, enum rum_agent_save_mode mode, uint32_t days,
			    const char *target, int allow_plain);

/* `license smart import`: source as above (GET for URLs). */
int rum_agent_op_import(const char *dir, const char *source, int allow_plain, char *summary,
			size_t summary_size);

/* Imports bytes already in memory. */
int rum_agent_op_import_buf(const char *dir, const char *buf, size_t len, char *summary,
			    size_t summary_size);

int rum_agent_op_set_usage(const char *dir, const char *tag, uint32_t count);

/* Closes open reports (REST close-reports); returns how many. */
int rum_agent_op_close_reports(const char *dir);

/* The cisco-smart-license error-enum value an RPC answers for an
 * operation's result rc (0: "success"). */
const char *rum_agent_op_return_code(int rc);

/* Loads a consistent snapshot under the lock (caller disposes). */
int rum_agent_op_load(struct rum_agent_state *st, const char *dir);

#endif
