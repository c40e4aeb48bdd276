/* What the client prints: aligned tables, the API's JSON, and times in local time. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "core/timeutil.h"

#define TABLE_COLS_MAX	16
#define TABLE_CELL_MAX	512	/* longer cells are cut with "..." */

struct table {
	size_t ncols;
	size_t nrows, cap;
	char **cells;			/* nrows * ncols, owned; row 0 holds the headers */
};

/* The width on screen of UTF-8 text: bytes that do not continue a character. */
static size_t
text_width(const char *s)
{
	size_t w = 0;

	for (; *s; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			w++;
	return w;
}

/* A copy safe for a terminal: control characters become '?'. */
static char *
cell_dup(const char *s)
{
	size_t n = strlen(s), i;
	char *d;

	if (n > TABLE_CELL_MAX)
		n = TABLE_CELL_MAX;
	d = malloc(n + 4);
	if (!d)
		return NULL;
	for (i = 0; i < n; i++)
		d[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i];
	if (strlen(s) > TABLE_CELL_MAX)
		memcpy(d + n, "...", 3), n += 3;
	d[n] = '\0';
	return d;
}

struct table *
table_new(size_t ncols, const char *const *headers)
{
	struct table *t;

	if (ncols == 0 || ncols > TABLE_COLS_MAX)
		return NULL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->ncols = ncols;
	if (table_add(t, headers) < 0) {
		table_free(t);
		return NULL;
	}
	return t;
}

int
table_add(struct table *t, const char *const *cells)
{
	size_t i;

	if (!t)
		return -EINVAL;
	if (t->nrows == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 16;
		char **n = realloc(t->cells, cap * t->ncols * sizeof(*n));

		if (!n)
			return -ENOMEM;
		t->cells = n;
		t->cap = cap;
	}
	for (i = 0; i < t->ncols; i++) {
		char *d = cell_dup(cells[i] && cells[i][0] ? cells[i] : "-");

		if (!d) {
			while (i--)
				free(t->cells[t->nrows * t->ncols + i]);
			return -ENOMEM;
		}
		t->cells[t->nrows * t->ncols + i] = d;
	}
	t->nrows++;
	return 0;
}

void
table_print(const struct table *t, FILE *f)
{
	size_t w[TABLE_COLS_MAX] = { 0 }, r, i;

	if (!t)
		return;
	for (r = 0; r < t->nrows; r++)
		for (i = 0; i < t->ncols; i++) {
			size_t x = text_width(t->cells[r * t->ncols + i]);

			if (x > w[i])
				w[i] = x;
		}
	for (r = 0; r < t->nrows; r++) {
		for (i = 0; i < t->ncols; i++) {
			const char *s = t->cells[r * t->ncols + i];

			fputs(s, f);
			if (i + 1 < t->ncols) {
				size_t pad = w[i] - text_width(s) + 2;

				while (pad--)
					fputc(' ', f);
			}
		}
		fputc('\n', f);
	}
}

void
table_free(struct table *t)
{
	size_t i;

	if (!t)
		return;
	for (i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	free(t);
}

void
cli_print_json(const json_t *v)
{
	json_dumpf(v, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	fputc('\n', stdout);
}

void
cli_time_local_ns(int64_t ns, char *buf, size_t size)
{
	time_t t = (time_t)(ns / TIME_NS_PER_SEC);
	struct tm tm;

	if (!localtime_r(&t, &tm) || strftime(buf, size, "%Y-%m-%d %H:%M:%S %Z", &tm) == 0)
		snprintf(buf, size, "%lld", (long long)t);
}

void
cli_time_local(const char *rfc3339, char *buf, size_t size)
{
	int64_t ns;

	if (!rfc3339 || !*rfc3339) {
		snprintf(buf, size, "-");
		return;
	}
	if (time_parse_rfc3339(rfc3339, strlen(rfc3339), &ns, NULL) < 0) {
		snprintf(buf, size, "%s", rfc3339);
		return;
	}
	cli_time_local_ns(ns, buf, size);
}

const char *
cli_json_str(const json_t *o, const char *key, const char *dflt)
{
	const json_t *v = o ? json_object_get(o, key) : NULL;

	return json_is_string(v) ? json_string_value(v) : dflt;
}

const char *
cli_id_name(const char *id)
{
	const char *s = id ? strrchr(id, '/') : NULL;

	return s ? s + 1 : id ? id : "";
}
