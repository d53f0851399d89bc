/* Process metrics in Prometheus' text exposition format (version 0.0.4).
 *
 * Each module owns its metrics: it defines them as static objects with
 * RUM_METRIC_COUNTER / _GAUGE / _HISTOGRAM and registers each once with
 * rum_metric_register() (registering twice is harmless). Updates are
 * lock-free atomics, cheap enough for every request. A gauge may instead be
 * read when rendered, through a callback. rum_metrics_render() writes every
 * registered series, grouped by family, with HELP and TYPE once per family.
 *
 * Names follow Prometheus' conventions: rumd_<subject>_<what>[_total|_seconds
 * |_bytes]. Label sets are fixed text written by the owner ('kind="usage"'),
 * never device input: a hostile device cannot grow the series set. Series
 * with labels from data (tenant names) are written by the caller of
 * rum_metrics_render with rum_metrics_write_*, which escape label values. */
#ifndef RUM_LIB_METRICS_H
#define RUM_LIB_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum rum_metric_type { RUM_METRIC_COUNTER = 0, RUM_METRIC_GAUGE, RUM_METRIC_HISTOGRAM };

#define RUM_METRIC_MAX_BUCKETS 16

struct rum_metric {
	const char *name;   /* family name */
	const char *labels; /* label pairs without braces, or NULL */
	const char *help;
	enum rum_metric_type type;
	/* Counter or gauge value (a gauge is a signed value). Atomic. */
	int64_t value;
	/* Gauge read at render time instead of value, when set. */
	double (*read)(void *arg);
	void *read_arg;
	/* Histogram: ascending upper bounds, then per-bucket counts (the
	 * last one is +Inf), the observed count and sum. Atomic. */
	double bounds[RUM_METRIC_MAX_BUCKETS];
	unsigned nbounds;
	uint64_t buckets[RUM_METRIC_MAX_BUCKETS + 1];
	uint64_t count;
	uint64_t sum_bits; /* a double's bits, updated by compare-and-swap */
	bool registered;
	struct rum_metric *next; /* the registry's list */
};

#define RUM_METRIC_COUNTER(n, l, h)                                                 \
	{                                                                           \
		.name = (n), .labels = (l), .help = (h), .type = RUM_METRIC_COUNTER \
	}
#define RUM_METRIC_GAUGE(n, l, h)                                                 \
	{                                                                         \
		.name = (n), .labels = (l), .help = (h), .type = RUM_METRIC_GAUGE \
	}
/* Bounds are given as a brace list: RUM_METRIC_HISTOGRAM(n, l, h, {0.001, 0.01}). */
#define RUM_METRIC_HISTOGRAM(n, l, h, ...)                                                       \
	{                                                                                        \
		.name = (n), .labels = (l), .help = (h), .type = RUM_METRIC_HISTOGRAM,           \
		.bounds = __VA_ARGS__, .nbounds = sizeof((double[])__VA_ARGS__) / sizeof(double) \
	}

/* Adds m to the registry (once; later calls do nothing). Thread-safe. */
void rum_metric_register(struct rum_metric *m);

/* Registers each of n metrics of an array. */
void rum_metric_register_all(struct rum_metric *m, size_t n);

/* Counter: adds n. Gauge: adds n (may be negative). */
static inline void rum_metric_add(struct rum_metric *m, int64_t n)
{
	__atomic_add_fetch(&m->value, n, __ATOMIC_RELAXED);
}

static inline void rum_metric_inc(struct rum_metric *m)
{
	rum_metric_add(m, 1);
}

/* Gauge: sets the value. */
static inline void rum_metric_set(struct rum_metric *m, int64_t v)
{
	__atomic_store_n(&m->value, v, __ATOMIC_RELAXED);
}

/* Histogram: counts one observation of v. */
void rum_metric_observe(struct rum_metric *m, double v);

/* A growing text buffer for the exposition. */
struct rum_metrics_text {
	char *buf;
	size_t len, cap;
};

/* Appends every registered series to out (buf is malloc'd; the caller
 * frees it). */
void rum_metrics_render(struct rum_metrics_text *out);

/* For series whose labels come from data: one family header, then samples.
 * label_name/label_value may be NULL for a sample without labels; values
 * are escaped as the format requires. */
void rum_metrics_write_family(struct rum_metrics_text *out, const char *name, const char *type,
			      const char *help);
void rum_metrics_write_sample(struct rum_metrics_text *out, const char *name,
			      const char *label_name, const char *label_value, double value);

/* Appends printf-formatted text. */
void rum_metrics_printf(struct rum_metrics_text *out, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif
