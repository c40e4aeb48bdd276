/* One hex digit's value: percent-decoding (the HTTP layer and its fuzz double), the agent's pin, PostgreSQL's bytea text. */
#ifndef JITGATE_CORE_HEX_H
#define JITGATE_CORE_HEX_H

/* The value of hex digit c (either case), or -1. */
static inline int
hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

#endif
