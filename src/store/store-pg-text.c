/* SQLite's statement text made PostgreSQL's ($N parameters, no planner hints), and what kind of statement it is. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "store-pg.h"

/* Is the word w at p (followed by a non-identifier character)? */
bool
store_pg_word_at(const char *p, const char *w)
{
	size_t n = strlen(w);
	char c;

	if (strncasecmp(p, w, n) != 0)
		return false;
	c = p[n];
	return !(c == '_' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'));
}

/*
 * ?N becomes $N and "INDEXED BY name" (SQLite's planner hint) goes, outside quotes; *named gets a bit
 * per parameter the text names, *ret_n the highest. The text only shrinks, so out has strlen(sql) + 1.
 */
int
store_pg_rewrite(const char *sql, char *out, uint32_t *named, int *ret_n)
{
	const char *p = sql;
	char *o = out;
	bool quoted = false;
	int n = 0, v;

	*named = 0;
	while (*p) {
		if (*p == '\'')
			quoted = !quoted;
		if (!quoted && *p == '?' && p[1] >= '0' && p[1] <= '9') {
			*o++ = '$';
			p++;
			for (v = 0; *p >= '0' && *p <= '9'; p++) {
				v = v * 10 + (*p - '0');
				*o++ = *p;
				if (v > STORE_PG_PARAMS_MAX)
					return -E2BIG;
			}
			if (v == 0)
				return -EINVAL;
			*named |= 1u << (v - 1);
			n = v > n ? v : n;
			continue;
		}
		if (!quoted && store_pg_word_at(p, "INDEXED") && (p == sql || p[-1] == ' ')) {
			p += strlen("INDEXED");
			while (*p == ' ')
				p++;
			if (!store_pg_word_at(p, "BY"))
				return -EINVAL;
			p += 2;
			while (*p == ' ')
				p++;
			while (*p && *p != ' ')
				p++;
			continue;
		}
		*o++ = *p++;
	}
	*o = '\0';
	*ret_n = n;
	return 0;
}

bool
store_pg_ends_with(const char *s, const char *tail)
{
	size_t n = strlen(s), k = strlen(tail);

	return n >= k && !strcmp(s + n - k, tail);
}

bool
store_pg_is_write(const char *sql)
{
	return store_pg_word_at(sql, "INSERT") || store_pg_word_at(sql, "UPDATE") || store_pg_word_at(sql, "DELETE");
}
