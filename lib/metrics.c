#include "lib/metrics.h"

#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static pthread_mutex_t rum_metrics_lock = PTHREAD_MUTEX_INITIALIZER;
static struct rum_metric *rum_metrics_head;

void rum_metric_register(struct rum_metric *m)
{
	pthread_mutex_lock(&rum_metrics_lock);
	if (!m->registered) {
		m->registered = true;
		m->next = rum_metrics_head;
		rum_metrics_head = m;
	}
	pthread_mutex_unlock(&rum_metrics_lock);
}

void rum_metric_register_all(struct rum_metric *m, size_t n)
{
	for (size_t i = 0; i < n; i++)
		rum_metric_register(&m[i]);
}

void rum_metric_observe(struct rum_metric *m, double v)
{
	unsigned i = 0;
	uint64_t old, next;
	double sum;

	while (i < m->nbounds && v > m->bounds[i])
		i++;
	__atomic_add_fetch(&m->buckets[i], 1, __ATOMIC_RELAXED);
	__atomic_add_fetch(&m->count, 1, __ATOMIC_RELAXED);
	old = __atomic_load_n(&m->sum_bits, __ATOMIC_RELAXED);
	do {
		memcpy(&sum, &old, sizeof(sum));
		sum += v;
		memcpy(&next, &sum, sizeof(next));
	} while (!__atomic_compare_exchange_n(&m->sum_bits, &old, next, true, __ATOMIC_RELAXED,
					      __ATOMIC_RELAXED));
}

void rum_metrics_printf(struct rum_metrics_text *out, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		size_t room = out->cap - out->len;

		va_start(ap, fmt);
		n = vsnprintf(out->buf ? out->buf + out->len : NULL, room, fmt, ap);
		va_end(ap);
		if (n < 0)
			abort();
		if ((size_t)n < room)
			break;
		out->cap = out->cap ? 2 * out->cap : 8192;
		while (out->cap - out->len <= (size_t)n)
			out->cap *= 2;
		out->buf = realloc(out->buf, out->cap);
		if (!out->buf)
			abort();
	}
	out->len += (size_t)n;
}

/* Prometheus' float text: integers without a fraction, +Inf/-Inf/NaN. */
static void rum_metrics_value(struct rum_metrics_text *out, double v)
{
	if (isnan(v))
		rum_metrics_printf(out, "NaN");
	else if (isinf(v))
		rum_metrics_printf(out, v > 0 ? "+Inf" : "-Inf");
	else if (v > -9e15 && v < 9e15 && v == (double)(int64_t)v)
		rum_metrics_printf(out, "%lld", (long long)v);
	else
		rum_metrics_printf(out, "%.17g", v);
}

static const char *rum_metrics_type_name(enum rum_metric_type t)
{
	return t == RUM_METRIC_COUNTER ? "counter" : t == RUM_METRIC_GAUGE ? "gauge" : "histogram";
}

void rum_metrics_write_family(struct rum_metrics_text *out, const char *name, const char *type,
			      const char *help)
{
	/* HELP text escapes only backslash and newline. */
	rum_metrics_printf(out, "# HELP %s ", name);
	for (const char *c = help; *c; c++) {
		if (*c == '\\')
			rum_metrics_printf(out, "\\\\");
		else if (*c == '\n')
			rum_metrics_printf(out, "\\n");
		else
			rum_metrics_printf(out, "%c", *c);
	}
	rum_metrics_printf(out, "\n# TYPE %s %s\n", name, type);
}

void rum_metrics_write_sample(struct rum_metrics_text *out, const char *name,
			      const char *label_name, const char *label_value, double value)
{
	rum_metrics_printf(out, "%s", name);
	if (label_name && label_value) {
		rum_metrics_printf(out, "{%s=\"", label_name);
		for (const unsigned char *c = (const unsigned char *)label_value; *c; c++) {
			if (*c == '\\' || *c == '"')
				rum_metrics_printf(out, "\\%c", *c);
			else if (*c == '\n')
				rum_metrics_printf(out, "\\n");
			else
				rum_metrics_printf(out, "%c", *c);
		}
		rum_metrics_printf(out, "\"}");
	}
	rum_metrics_printf(out, " ");
	rum_metrics_value(out, value);
	rum_metrics_printf(out, "\n");
}

static void rum_metrics_series(struct rum_metrics_text *out, const struct rum_metric *m,
			       const char *suffix, const char *extra, double v)
{
	bool labels = m->labels && m->labels[0];

	rum_metrics_printf(out, "%s%s", m->name, suffix);
	if (labels || extra)
		rum_metrics_printf(out, "{%s%s%s}", labels ? m->labels : "",
				   labels && extra ? "," : "", extra ? extra : "");
	rum_metrics_printf(out, " ");
	rum_metrics_value(out, v);
	rum_metrics_printf(out, "\n");
}

static void rum_metrics_one(struct rum_metrics_text *out, struct rum_metric *m)
{
	uint64_t cumulative = 0, bits;
	double sum;
	char le[48];

	if (m->type != RUM_METRIC_HISTOGRAM) {
		double v = m->read ? m->read(m->read_arg)
				   : (double)__atomic_load_n(&m->value, __ATOMIC_RELAXED);

		rum_metrics_series(out, m, "", NULL, v);
		return;
	}
	for (unsigned i = 0; i <= m->nbounds; i++) {
		cumulative += __atomic_load_n(&m->buckets[i], __ATOMIC_RELAXED);
		if (i < m->nbounds)
			snprintf(le, sizeof(le), "le=\"%g\"", m->bounds[i]);
		else
			snprintf(le, sizeof(le), "le=\"+Inf\"");
		rum_metrics_series(out, m, "_bucket", le, (double)cumulative);
	}
	bits = __atomic_load_n(&m->sum_bits, __ATOMIC_RELAXED);
	memcpy(&sum, &bits, sizeof(sum));
	rum_metrics_series(out, m, "_sum", NULL, sum);
	/* The count is the +Inf bucket's, so that the two always agree. */
	rum_metrics_series(out, m, "_count", NULL, (double)cumulative);
}

static int rum_metrics_cmp(const void *a, const void *b)
{
	const struct rum_metric *x = *(struct rum_metric *const *)a;
	const struct rum_metric *y = *(struct rum_metric *const *)b;
	int c = strcmp(x->name, y->name);

	return c ? c : strcmp(x->labels ? x->labels : "", y->labels ? y->labels : "");
}

void rum_metrics_render(struct rum_metrics_text *out)
{
	struct rum_metric **all;
	size_t n = 0, i = 0;

	pthread_mutex_lock(&rum_metrics_lock);
	for (struct rum_metric *m = rum_metrics_head; m; m = m->next)
		n++;
	all = calloc(n ? n : 1, sizeof(*all));
	if (!all)
		abort();
	for (struct rum_metric *m = rum_metrics_head; m; m = m->next)
		all[i++] = m;
	pthread_mutex_unlock(&rum_metrics_lock);
	/* Series of a family must be consecutive, under one HELP and TYPE. */
	qsort(all, n, sizeof(*all), rum_metrics_cmp);
	for (i = 0; i < n; i++) {
		if (i == 0 || strcmp(all[i - 1]->name, all[i]->name) != 0) {
			/* The family's help is given by one of its series. */
			const char *help = "";

			for (size_t j = i; j < n && strcmp(all[j]->name, all[i]->name) == 0; j++)
				if (all[j]->help && all[j]->help[0] && !help[0])
					help = all[j]->help;
			rum_metrics_write_family(out, all[i]->name,
						 rum_metrics_type_name(all[i]->type), help);
		}
		rum_metrics_one(out, all[i]);
	}
	free(all);
	if (!out->buf)
		rum_metrics_printf(out, "%s", "");
}
