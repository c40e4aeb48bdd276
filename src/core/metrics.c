/* The Prometheus text format's writer (metrics.h): families, samples with escaped labels, cumulative histogram buckets. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/metrics.h"

void
metrics_histogram_init(struct metrics_histogram *h, const double *bounds, size_t n)
{
	memset(h, 0, sizeof(*h));
	h->bounds = bounds;
	h->n_bounds = n > METRICS_BUCKETS_MAX ? METRICS_BUCKETS_MAX : n;
}

void
metrics_histogram_observe(struct metrics_histogram *h, double v)
{
	size_t i;

	/* "le": a value equal to a bound falls in that bound's bucket; NaN falls above every bound */
	for (i = 0; i < h->n_bounds && !(v <= h->bounds[i]); i++)
		;
	h->counts[i]++;
	h->count++;
	if (!isnan(v))
		h->sum += v;
}

/* s with each byte of `special` preceded by a backslash and a new line written as "\n". */
static int
append_escaped(struct buf *b, const char *s, const char *special)
{
	const char *run = s;
	int r = 0;

	for (; *s && r == 0; s++) {
		if (*s != '\n' && !strchr(special, *s))
			continue;
		r = buf_append(b, run, (size_t)(s - run));
		if (r == 0)
			r = buf_append(b, *s == '\n' ? "\\n" : "\\", *s == '\n' ? 2 : 1);
		if (r == 0 && *s != '\n')
			r = buf_append(b, s, 1);
		run = s + 1;
	}
	return r < 0 ? r : buf_append(b, run, strlen(run));
}

int
metrics_escape_label(const char *value, char *out, size_t size)
{
	struct buf b = { .max = size ? size - 1 : 0 };
	int r;

	if (size == 0)
		return -E2BIG;
	r = append_escaped(&b, value, "\\\"");
	if (r == 0)
		memcpy(out, b.data ? b.data : "", b.len + 1);
	buf_free(&b);
	return r == -ENOMEM ? -ENOMEM : r < 0 ? -E2BIG : 0;
}

void
metrics_format_value(double v, char *out, size_t size)
{
	int p;

	if (isnan(v))
		snprintf(out, size, "NaN");
	else if (isinf(v))
		snprintf(out, size, "%s", v > 0 ? "+Inf" : "-Inf");
	else if (fabs(v) < 9007199254740992.0 && v == (double)(int64_t)v)	/* below 2^53 (tested first): exact as an integer */
		snprintf(out, size, "%lld", (long long)v);
	else
		for (p = 15; p <= 17; p += 2) {	/* 15 digits when they read back as v (0.0005, not 0.00050000000000000001), else 17 */
			snprintf(out, size, "%.*g", p, v);
			if (strtod(out, NULL) == v)
				break;
		}
}

int
metrics_family(struct buf *b, const char *name, const char *type, const char *help)
{
	int r = buf_printf(b, "# HELP %s ", name);

	if (r == 0)
		r = append_escaped(b, help, "\\");
	if (r == 0)
		r = buf_printf(b, "\n# TYPE %s %s\n", name, type);
	return r;
}

/* name{labels[,le="extra"]} value: the line every sample writer ends in. */
static int
sample(struct buf *b, const char *name, const struct metrics_label *labels, size_t n, const char *le,
       const char *value)
{
	size_t i;
	int r;

	if (n > METRICS_LABELS_MAX)
		return -EINVAL;
	r = buf_append(b, name, strlen(name));
	for (i = 0; r == 0 && i < n; i++) {
		r = buf_printf(b, "%s%s=\"", i ? "," : "{", labels[i].name);
		if (r == 0)
			r = append_escaped(b, labels[i].value, "\\\"");
		if (r == 0)
			r = buf_append(b, "\"", 1);
	}
	if (r == 0 && le)
		r = buf_printf(b, "%sle=\"%s\"", n ? "," : "{", le);
	if (r == 0 && (n || le))
		r = buf_append(b, "}", 1);
	if (r == 0)
		r = buf_printf(b, " %s\n", value);
	return r;
}

int
metrics_counter(struct buf *b, const char *name, const struct metrics_label *labels, size_t n, uint64_t v)
{
	char text[24];

	snprintf(text, sizeof(text), "%llu", (unsigned long long)v);
	return sample(b, name, labels, n, NULL, text);
}

int
metrics_gauge(struct buf *b, const char *name, const struct metrics_label *labels, size_t n, double v)
{
	char text[32];

	metrics_format_value(v, text, sizeof(text));
	return sample(b, name, labels, n, NULL, text);
}

int
metrics_histogram_write(struct buf *b, const char *name, const struct metrics_label *labels, size_t n,
			const struct metrics_histogram *h)
{
	char series[128], le[32], text[32];
	uint64_t cum = 0;
	size_t i;
	int r = 0;

	if ((size_t)snprintf(series, sizeof(series), "%s_bucket", name) >= sizeof(series))
		return -E2BIG;
	for (i = 0; r == 0 && i <= h->n_bounds; i++) {
		cum += h->counts[i];
		if (i < h->n_bounds)
			metrics_format_value(h->bounds[i], le, sizeof(le));
		else
			snprintf(le, sizeof(le), "+Inf");
		snprintf(text, sizeof(text), "%llu", (unsigned long long)cum);
		r = sample(b, series, labels, n, le, text);
	}
	snprintf(series, sizeof(series), "%s_sum", name);
	metrics_format_value(h->sum, text, sizeof(text));
	if (r == 0)
		r = sample(b, series, labels, n, NULL, text);
	snprintf(series, sizeof(series), "%s_count", name);
	snprintf(text, sizeof(text), "%llu", (unsigned long long)h->count);
	if (r == 0)
		r = sample(b, series, labels, n, NULL, text);
	return r;
}
