/*
 * What the client prints, and the only file that writes to stdout or stderr: formatted lines with every
 * argument sanitised, aligned tables, the API's JSON, documents, and times in local time.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>

#define CLI_OUTPUT_SELF	/* this file may call stdio's printing functions (see the end of cli.h) */
#include "cli/cli.h"
#include "cli/text.h"
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

/* A copy safe for a terminal (cli_text_escape), cut with "..." past TABLE_CELL_MAX bytes on a character boundary. */
static char *
cell_dup(const char *s)
{
	struct buf b = { 0 };
	size_t n;

	if (cli_text_escape(&b, s, strlen(s), 0) < 0) {
		buf_free(&b);
		return NULL;
	}
	if (b.len > TABLE_CELL_MAX) {
		n = TABLE_CELL_MAX;
		while (n && ((unsigned char)b.data[n] & 0xc0) == 0x80)
			n--;
		b.len = n;
		if (buf_append(&b, "...", 3) < 0) {
			buf_free(&b);
			return NULL;
		}
	}
	return b.data;
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

/*
 * jansson writes C0 controls as \u00XX already, but DEL and C1 (U+0080-U+009F) as they are;
 * cli_text_escape writes those as the same \u00XX escapes, so the JSON keeps its values.
 */
void
cli_print_json(const json_t *v)
{
	char *text = v ? json_dumps(v, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;

	if (text)
		cli_write_document(stdout, text, strlen(text));
	fputc('\n', stdout);
	free(text);
}

void
cli_print_list_json(json_t *items)
{
	json_t *wrap = json_pack("{s:O}", "value", items);

	cli_print_json(wrap);
	json_decref(wrap);
}

int
cli_write_document(FILE *f, const char *s, size_t n)
{
	struct buf b = { 0 };
	int r = cli_text_escape(&b, s, n, CLI_TEXT_MULTILINE);

	if (r == 0 && fwrite(b.data, 1, b.len, f) != b.len)
		r = -EIO;
	buf_free(&b);
	return r;
}

void
cli_print_static(FILE *f, const char *text)
{
	fputs(text, f);
}

/*
 * One conversion of a format, sanitised. The spec was rebuilt from a format that the
 * compiler checked at the call of cli_printf(), so it is not a literal here.
 */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
static int
piece(struct buf *out, const char *spec, ...)
{
	char small[256], *big = NULL;
	va_list ap, ap2;
	int n, r;

	va_start(ap, spec);
	va_copy(ap2, ap);
	n = vsnprintf(small, sizeof(small), spec, ap);
	if (n < 0) {
		r = -EINVAL;
	} else if ((size_t)n < sizeof(small)) {
		r = cli_text_escape(out, small, (size_t)n, 0);
	} else if (!(big = malloc((size_t)n + 1))) {
		r = -ENOMEM;
	} else {
		vsnprintf(big, (size_t)n + 1, spec, ap2);
		r = cli_text_escape(out, big, (size_t)n, 0);
	}
	va_end(ap2);
	va_end(ap);
	free(big);
	return r;
}
#pragma GCC diagnostic pop

enum length { LEN_NONE, LEN_HH, LEN_H, LEN_L, LEN_LL, LEN_Z, LEN_J, LEN_T, LEN_BIG_L };

/* One conversion of a format as the caller wrote it: what follows its '%'. */
struct conversion {
	char flags[8];
	int width, prec;		/* -1: not given */
	enum length len;
	char conv;			/* '\0' when the format ends early */
};

/* A run of digits as a number that stops growing past 100000 (no overflow). */
static int
digits(const char **pp)
{
	const char *p = *pp;
	int v;

	for (v = 0; *p >= '0' && *p <= '9'; p++)
		v = v < 100000 ? v * 10 + (*p - '0') : v;
	*pp = p;
	return v;
}

/* The length modifier at *pp (hh, ll, h, l, z, j, t, L), or LEN_NONE; advances past it. */
static enum length
length_parse(const char **pp)
{
	static const struct {
		const char *text;
		enum length len;
	} mods[] = {
		{ "hh", LEN_HH }, { "ll", LEN_LL }, { "h", LEN_H }, { "l", LEN_L },
		{ "z", LEN_Z }, { "j", LEN_J }, { "t", LEN_T }, { "L", LEN_BIG_L },
	};
	size_t i, n;

	for (i = 0; i < sizeof(mods) / sizeof(mods[0]); i++) {
		n = strlen(mods[i].text);
		if (!strncmp(*pp, mods[i].text, n)) {
			*pp += n;
			return mods[i].len;
		}
	}
	return LEN_NONE;
}

/* Parse the conversion after a '%' at *pp (a '*' width or precision taken from ap); advances past it. */
static void
conversion_parse(const char **pp, va_list *ap, struct conversion *cv)
{
	const char *p = *pp;
	size_t nflags = 0;

	cv->width = cv->prec = -1;
	while (*p && strchr("-+ #0", *p) && nflags < sizeof(cv->flags) - 2)
		cv->flags[nflags++] = *p++;
	if (*p == '*') {
		cv->width = va_arg(*ap, int);
		if (cv->width < 0) {
			cv->flags[nflags++] = '-';
			cv->width = cv->width == INT_MIN ? INT_MAX : -cv->width;
		}
		p++;
	} else if (*p >= '0' && *p <= '9') {
		cv->width = digits(&p);
	}
	cv->flags[nflags] = '\0';
	if (*p == '.') {
		p++;
		if (*p == '*') {
			cv->prec = va_arg(*ap, int);
			p++;
		} else {
			cv->prec = digits(&p);
		}
	}
	cv->len = length_parse(&p);
	cv->conv = *p ? *p++ : '\0';
	*pp = p;
}

/* The conversion rebuilt as a format of its own, with the numbers '*' took from the arguments written in. */
static void
conversion_spec(const struct conversion *cv, char *spec, size_t size)
{
	static const char *const len_text[] = { "", "hh", "h", "l", "ll", "z", "j", "t", "L" };
	char w[16] = "", pr[16] = "";

	if (cv->width >= 0)
		snprintf(w, sizeof(w), "%d", cv->width);
	if (cv->prec >= 0)
		snprintf(pr, sizeof(pr), ".%d", cv->prec);
	snprintf(spec, size, "%%%s%s%s%s%c", cv->flags, w, pr, len_text[cv->len], cv->conv);
}

/* %d and %i: the argument's type by its length modifier. */
static int
piece_signed(struct buf *out, const char *spec, enum length len, va_list *ap)
{
	switch (len) {
	case LEN_L:
		return piece(out, spec, va_arg(*ap, long));
	case LEN_LL:
		return piece(out, spec, va_arg(*ap, long long));
	case LEN_Z:
		return piece(out, spec, va_arg(*ap, ssize_t));
	case LEN_J:
		return piece(out, spec, va_arg(*ap, intmax_t));
	case LEN_T:
		return piece(out, spec, va_arg(*ap, ptrdiff_t));
	default:
		return piece(out, spec, va_arg(*ap, int));
	}
}

/* %u, %x, %X and %o: the argument's type by its length modifier. */
static int
piece_unsigned(struct buf *out, const char *spec, enum length len, va_list *ap)
{
	switch (len) {
	case LEN_L:
		return piece(out, spec, va_arg(*ap, unsigned long));
	case LEN_LL:
		return piece(out, spec, va_arg(*ap, unsigned long long));
	case LEN_Z:
		return piece(out, spec, va_arg(*ap, size_t));
	case LEN_J:
		return piece(out, spec, va_arg(*ap, uintmax_t));
	case LEN_T:
		return piece(out, spec, va_arg(*ap, ptrdiff_t));
	default:
		return piece(out, spec, va_arg(*ap, unsigned));
	}
}

/* One conversion's argument, taken from ap and appended to out sanitised. */
static int
conversion_print(struct buf *out, const struct conversion *cv, va_list *ap)
{
	char spec[64];

	conversion_spec(cv, spec, sizeof(spec));
	switch (cv->conv) {
	case 'd':
	case 'i':
		return piece_signed(out, spec, cv->len, ap);
	case 'u':
	case 'x':
	case 'X':
	case 'o':
		return piece_unsigned(out, spec, cv->len, ap);
	case 'c':
		return piece(out, spec, va_arg(*ap, int));
	case 's':
		return piece(out, spec, va_arg(*ap, const char *));
	case 'p':
		return piece(out, spec, va_arg(*ap, void *));
	case 'e':
	case 'E':
	case 'f':
	case 'F':
	case 'g':
	case 'G':
		if (cv->len == LEN_BIG_L)
			return piece(out, spec, va_arg(*ap, long double));
		return piece(out, spec, va_arg(*ap, double));
	default:
		return -EINVAL;	/* %n and the unknown: never printed */
	}
}

/*
 * printf's own text is the client's and passes as it is; each conversion's output is
 * server text as often as not, so it goes through cli_text_escape() without
 * CLI_TEXT_MULTILINE: no field can break a line, move the cursor or retitle the window.
 * The whole line is written with one fwrite, or nothing on a bad format.
 */
int
cli_vfprintf(FILE *f, const char *fmt, va_list ap)
{
	struct buf out = { 0 };
	const char *p = fmt;
	va_list args;
	int r = 0;

	/* the steps take the arguments through a pointer to a list of our own: a va_list parameter may be an array */
	va_copy(args, ap);
	while (r == 0) {
		const char *pct = strchr(p, '%');
		struct conversion cv;

		r = buf_append(&out, p, pct ? (size_t)(pct - p) : strlen(p));
		if (r < 0 || !pct)
			break;
		p = pct + 1;
		if (*p == '%') {
			r = buf_append(&out, "%", 1);
			p++;
			continue;
		}
		memset(&cv, 0, sizeof(cv));
		conversion_parse(&p, &args, &cv);
		r = conversion_print(&out, &cv, &args);
	}
	va_end(args);
	if (r == 0 && out.len && fwrite(out.data, 1, out.len, f) != out.len)
		r = -EIO;
	buf_free(&out);
	return r;
}

int
cli_fprintf(FILE *f, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = cli_vfprintf(f, fmt, ap);
	va_end(ap);
	return r;
}

int
cli_printf(const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = cli_vfprintf(stdout, fmt, ap);
	va_end(ap);
	return r;
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
