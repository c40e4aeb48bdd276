/*
 * Fuzz target for the Prometheus text writer (core/metrics.c): any label value and help text stays on one
 * line and reads back as written; any observed value lands in one bucket, and the buckets written are cumulative.
 */
#include <errno.h>
#include <math.h>

#include "core/metrics.h"
#include "fuzz-common.h"

/* The label value between the first '="' and the closing quote, unescaped as Prometheus reads it, into out. */
static void
read_back(const char *line, char *out, size_t size)
{
	const char *p = strstr(line, "=\"");
	size_t n = 0;

	fuzz_check(p != NULL);
	for (p += 2; *p != '"'; p++) {
		fuzz_check(*p && *p != '\n' && n + 1 < size);
		if (*p == '\\') {
			p++;
			fuzz_check(*p == '\\' || *p == '"' || *p == 'n');
			out[n++] = *p == 'n' ? '\n' : *p;
		} else {
			out[n++] = *p;
		}
	}
	out[n] = '\0';
}

static void
check_histogram(const uint8_t *data, size_t size)
{
	static const double bounds[] = { -1, 0, 0.5, 1, 1e9 };
	struct metrics_histogram h;
	struct buf b = { 0 };
	unsigned long long prev = 0, cum;
	const char *p;
	double v;
	size_t i, k = 0;

	metrics_histogram_init(&h, bounds, sizeof(bounds) / sizeof(bounds[0]));
	for (i = 0; i + sizeof(v) <= size && i < 64 * sizeof(v); i += sizeof(v)) {
		memcpy(&v, data + i, sizeof(v));
		metrics_histogram_observe(&h, v);
		k++;
	}
	fuzz_check(h.count == k);
	fuzz_check(metrics_histogram_write(&b, "h", NULL, 0, &h) == 0);
	for (p = b.data; p && (p = strstr(p, "h_bucket{le=\"")); p++) {
		fuzz_check(sscanf(strchr(p, '}') + 1, " %llu", &cum) == 1);
		fuzz_check(cum >= prev);
		prev = cum;
	}
	fuzz_check(prev == k);	/* "+Inf" holds every observation, NaN included */
	buf_free(&b);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1), *back = malloc(2 * size + 2);
	struct buf b = { 0 };
	struct metrics_label l;

	fuzz_check(s && back);
	memcpy(s, data, size);
	s[size] = '\0';
	l = (struct metrics_label){ "code", s };
	fuzz_check(metrics_counter(&b, "x_total", &l, 1, 1) == 0);
	fuzz_check(strchr(b.data, '\n') == b.data + b.len - 1);	/* one line, whatever the value holds */
	read_back(b.data, back, 2 * size + 2);
	fuzz_check(strcmp(back, s) == 0);
	buf_reset(&b);
	fuzz_check(metrics_family(&b, "x_total", "counter", s) == 0);
	fuzz_check(strchr(b.data, '\n') == strstr(b.data, "\n# TYPE x_total counter\n"));
	buf_free(&b);
	check_histogram(data, size);
	free(s);
	free(back);
	return 0;
}
