/* The agent transport's reader of one HTTP/1.1 answer, fed as bytes arrive: status, headers, the body by length, chunks or close. */
#ifndef JITGATE_CLIENT_CLIENT_HTTP1_H
#define JITGATE_CLIENT_CLIENT_HTTP1_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

#define HTTP1_LINE_MAX		8192		/* one status, header, chunk-size or trailer line, CRLF included */
#define HTTP1_HEAD_MAX		(64 * 1024)	/* all header (and trailer) lines of one answer */
#define HTTP1_INFO_MAX		8		/* 1xx answers skipped before the real one */

enum http1_phase {
	HTTP1_STATUS, HTTP1_HEADER, HTTP1_BODY_LENGTH, HTTP1_BODY_CLOSE, HTTP1_CHUNK_SIZE, HTTP1_CHUNK_DATA,
	HTTP1_CHUNK_END, HTTP1_TRAILER, HTTP1_DONE,
};

/*
 * One answer being read. The body goes to `body` (owned, freed by
 * http1_answer_free) up to max_body bytes; more is -EFBIG. Nothing here
 * allocates but the body.
 */
struct http1_answer {
	enum http1_phase phase;
	long status;
	bool close;			/* the server closes the connection after this answer (or must be read to the close) */
	bool chunked;
	bool has_length;
	uint64_t remaining;		/* body bytes (or this chunk's) still to come */
	size_t max_body;
	size_t head_len;		/* header and trailer bytes so far */
	unsigned infos;			/* 1xx answers skipped */
	bool too_big;			/* the -EFBIG was the body's (not a head past its limits) */
	char line[HTTP1_LINE_MAX];
	size_t line_len;
	struct buf body;
};

void http1_answer_init(struct http1_answer *a, size_t max_body);
void http1_answer_free(struct http1_answer *a);

/*
 * Feed the bytes that arrived. Returns how many were used (fewer than n only
 * once the answer is complete: what follows is not part of it), -EPROTO for
 * a malformed answer, -EFBIG past max_body or a limit above, -ENOMEM.
 */
long http1_feed(struct http1_answer *a, const char *p, size_t n);

/* The connection closed: 0 when that completes the answer (a body read to the close), else -EPROTO. */
int http1_eof(struct http1_answer *a);

static inline bool
http1_done(const struct http1_answer *a)
{
	return a->phase == HTTP1_DONE;
}

#endif
