/* Prometheus text exposition (format 0.0.4): counters, gauges and histograms written into a buf, label values escaped. */
#ifndef JITGATE_CORE_METRICS_H
#define JITGATE_CORE_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

#define METRICS_BUCKETS_MAX	16	/* upper bounds of one histogram (+Inf comes on top) */
#define METRICS_LABELS_MAX	4	/* labels of one sample, "le" of a bucket not counted */

/*
 * A histogram as Prometheus reads it: per-bucket counts (made cumulative when written), their sum and
 * count. Observing is a scan of at most METRICS_BUCKETS_MAX doubles: nothing allocates, nothing locks
 * (jitgated's API runs on one thread).
 */
struct metrics_histogram {
	const double *bounds;		/* ascending upper bounds, static; NULL before metrics_histogram_init */
	size_t n_bounds;
	uint64_t counts[METRICS_BUCKETS_MAX + 1];	/* [n_bounds]: above every bound */
	double sum;
	uint64_t count;
};

/* A label of one sample: name as Prometheus allows it ([a-zA-Z_][a-zA-Z0-9_]*), value any text. */
struct metrics_label {
	const char *name;
	const char *value;
};

/* bounds[0..n) ascending, n at most METRICS_BUCKETS_MAX (more are ignored). */
void metrics_histogram_init(struct metrics_histogram *h, const double *bounds, size_t n);
void metrics_histogram_observe(struct metrics_histogram *h, double v);

/*
 * Each returns 0 or the buf's -E2BIG/-ENOMEM. metrics_family: the "# HELP" (escaped) and "# TYPE"
 * lines that open a metric family ("counter", "gauge", "histogram"); every sample of it follows.
 * labels[0..n) are written in order, their values escaped (backslash, double quote, new line);
 * more than METRICS_LABELS_MAX is -EINVAL.
 */
int metrics_family(struct buf *b, const char *name, const char *type, const char *help);
int metrics_counter(struct buf *b, const char *name, const struct metrics_label *labels, size_t n, uint64_t v);
int metrics_gauge(struct buf *b, const char *name, const struct metrics_label *labels, size_t n, double v);
/* name_bucket{labels,le="…"} cumulative, one per bound and "+Inf", then name_sum and name_count. */
int metrics_histogram_write(struct buf *b, const char *name, const struct metrics_label *labels, size_t n,
			    const struct metrics_histogram *h);

/* A label value escaped as the format wants it, into out (NUL-terminated): 0, or -E2BIG when it does not fit. */
int metrics_escape_label(const char *value, char *out, size_t size);
/* A sample value: integers exactly, NaN and the infinities as Prometheus spells them. */
void metrics_format_value(double v, char *out, size_t size);

#endif
