/* A growable text buffer with a hard cap, for building batches and bodies without fixed arrays. */
#ifndef JITGATE_CORE_BUF_H
#define JITGATE_CORE_BUF_H

#include <stddef.h>

/*
 * The buffer owns `data`, which is always NUL-terminated once anything was
 * appended. Appends that would pass `max` fail with -E2BIG and leave the
 * buffer as it was; allocation failure gives -ENOMEM, also unchanged.
 */
struct buf {
	char *data;
	size_t len;
	size_t cap;
	size_t max;	/* the cap on len; 0 means BUF_MAX_DEFAULT */
};

#define BUF_MAX_DEFAULT ((size_t)256 << 20)	/* 256 MiB: no batch or body we build comes near */

int buf_append(struct buf *b, const char *s, size_t n);
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_reset(struct buf *b);	/* len = 0, keeps memory */
void buf_free(struct buf *b);	/* frees memory; the struct may be reused */

/*
 * Room for element n of a growable array v of `size`-byte elements holding *cap:
 * returns v itself while n < *cap, else v reallocated to twice the capacity (at
 * least 8) with *cap updated. NULL when out of memory, with v and *cap untouched.
 */
void *array_grow(void *v, size_t *cap, size_t n, size_t size);

#endif
