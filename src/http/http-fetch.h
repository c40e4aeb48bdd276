/* jitgated's outbound HTTPS (webhook deliveries, single sign-on's provider): one hardened libcurl set-up, driven by the loop. */
#ifndef JITGATE_HTTP_FETCH_H
#define JITGATE_HTTP_FETCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>

/*
 * Only src/http/http-fetch.c sets libcurl's transport options. Every transfer
 * made here: one protocol (https, or http only when the URL the operator
 * configured says http://), no redirects followed (an answer cannot send us
 * elsewhere), certificates and host names verified against the configured CA
 * file alone, or else the system's CAs (libcurl's default), a connect and a
 * total timeout, an answer capped by the write callback, no proxy taken from
 * the environment (jitgated has no proxy setting), no signals. The caller
 * adds only what the request is: method, body, headers, credentials.
 *
 * The transfers run on one libcurl multi handle (struct http_fetcher) whose
 * sockets sit in one epoll set: the daemon's loop polls http_fetcher_fd(),
 * sleeps at most http_fetcher_timeout_ms(), and calls http_fetcher_run(),
 * which never blocks and calls each finished transfer's `done`.
 */

/* What one transfer may do. */
struct http_fetch_limits {
	long timeout_ms;		/* connect to the last byte of the answer */
	long connect_timeout_ms;
	size_t answer_max;		/* answer bytes taken; one more ends the transfer (CURLE_WRITE_ERROR, too_long) */
	bool keep_answer;		/* false: counted, thrown away */
};

struct http_fetch;
typedef void (*http_fetch_done_fn)(void *ctx, struct http_fetch *t, CURLcode code);

/* One transfer; the caller's memory (embedded where it is used), set up by http_fetch_init. */
struct http_fetch {
	CURL *easy;			/* NULL: idle */
	bool running;			/* in the fetcher's multi handle */
	char errbuf[CURL_ERROR_SIZE];
	struct http_fetch_limits lim;
	char *answer;			/* keep_answer: malloc'd, NUL-terminated; http_fetch_end frees it */
	size_t answer_len;		/* bytes received (kept or not) */
	bool too_long;			/* the answer passed answer_max */
	http_fetch_done_fn done;
	void *ctx;
};

struct http_fetcher;

/* A multi handle and its epoll set (libcurl set up globally on the way). -ENOMEM, -errno. */
int http_fetcher_new(struct http_fetcher **ret);
/* Every transfer still running is ended without its `done` being called. NULL-safe. */
void http_fetcher_free(struct http_fetcher *f);
/* The descriptor the loop polls (readable when a transfer's socket is ready); -1 for NULL. */
int http_fetcher_fd(const struct http_fetcher *f);
/* How long the loop may sleep for the transfers' sake (ms); -1: no limit (none running, or NULL). */
int http_fetcher_timeout_ms(const struct http_fetcher *f);
/* Let libcurl work on ready sockets and its due timer; then call `done` of each transfer that finished. */
void http_fetcher_run(struct http_fetcher *f);
/* Transfers running now. */
size_t http_fetcher_running(const struct http_fetcher *f);

/*
 * A hardened easy handle in t for url (see the top of this file): ca_file NULL or "" is the system's
 * CAs; allow_http lets an http:// url be fetched in plain text (never a redirect to one). done(ctx, t,
 * code) is called by http_fetcher_run when it ends. -ENOMEM, -EINVAL (an option libcurl refused).
 */
int http_fetch_init(struct http_fetch *t, const char *url, const char *ca_file, bool allow_http,
		    const struct http_fetch_limits *lim, http_fetch_done_fn done, void *ctx);
/* Hand t (after the caller's own options) to the fetcher: it starts connecting at its next run. */
int http_fetch_start(struct http_fetcher *f, struct http_fetch *t);
/* The HTTP status of an ended transfer (0: none was received). */
long http_fetch_status(struct http_fetch *t);
/* Stop t if it runs (no `done`), free its handle and answer; t is idle after. NULL f: t never ran. */
void http_fetch_end(struct http_fetcher *f, struct http_fetch *t);
/* Why t failed, for a log or an error message: a timeout in plain words, else libcurl's text. */
const char *http_fetch_error(const struct http_fetch *t, CURLcode code, char *buf, size_t size);

#endif
