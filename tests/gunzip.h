/*
 * For tests and the fuzzers: one gzip member inflated with zlib, to check what the server compressed.
 * The product never inflates (clients do), so this lives here, not in src/.
 */
#ifndef JITGATE_TESTS_GUNZIP_H
#define JITGATE_TESTS_GUNZIP_H

#include <stdint.h>
#include <stdlib.h>

#include <zlib.h>

/* in[0..len) inflated into a new buffer of at most cap bytes; NULL unless it is exactly one whole member. */
static inline char *
test_gunzip(const char *in, size_t len, size_t cap, size_t *ret_len)
{
	z_stream z = { 0 };
	char *out = malloc(cap ? cap : 1);
	int zr;

	if (!out || inflateInit2(&z, 15 + 16) != Z_OK) {
		free(out);
		return NULL;
	}
	z.next_in = (Bytef *)(uintptr_t)in;
	z.avail_in = (uInt)len;
	z.next_out = (Bytef *)out;
	z.avail_out = (uInt)cap;
	zr = inflate(&z, Z_FINISH);
	*ret_len = z.total_out;
	inflateEnd(&z);
	if (zr != Z_STREAM_END || z.avail_in != 0) {
		free(out);
		return NULL;
	}
	return out;
}

#endif
