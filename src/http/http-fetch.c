/* jitgated's outbound HTTPS (http-fetch.h): the hardened easy handle, and the multi handle the loop drives. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "core/timeutil.h"
#include "http/http-fetch.h"

#define HTTP_FETCH_EVENTS_MAX	64	/* ready sockets taken per epoll_wait; more are taken at the next run */

struct http_fetcher {
	CURLM *multi;
	int epfd;			/* libcurl's sockets, for the loop to poll as one */
	int64_t timer_at;		/* monotonic: when libcurl wants to be called (0: not) */
	size_t running;
};

/* libcurl tells which of its sockets to watch for what (CURLMOPT_SOCKETFUNCTION). */
static int
on_socket(CURL *e, curl_socket_t fd, int what, void *ctx, void *sockp)
{
	struct http_fetcher *f = ctx;
	struct epoll_event ev = { .data.fd = fd };

	(void)e;
	(void)sockp;
	if (what == CURL_POLL_REMOVE) {
		epoll_ctl(f->epfd, EPOLL_CTL_DEL, fd, NULL);
		return 0;
	}
	ev.events = (what & CURL_POLL_IN ? EPOLLIN : 0) | (what & CURL_POLL_OUT ? EPOLLOUT : 0);
	if (epoll_ctl(f->epfd, EPOLL_CTL_MOD, fd, &ev) < 0 && errno == ENOENT)
		return epoll_ctl(f->epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -1 : 0;
	return 0;
}

/* ... and when to call it back (CURLMOPT_TIMERFUNCTION; -1: never). */
static int
on_timer(CURLM *m, long ms, void *ctx)
{
	struct http_fetcher *f = ctx;

	(void)m;
	f->timer_at = ms < 0 ? 0 : time_mono_ns() + (int64_t)ms * TIME_NS_PER_MS;
	return 0;
}

int
http_fetcher_new(struct http_fetcher **ret)
{
	struct http_fetcher *f;
	int r = -ENOMEM;

	if (!(f = calloc(1, sizeof(*f))))
		return -ENOMEM;
	if ((f->epfd = epoll_create1(EPOLL_CLOEXEC)) < 0) {
		r = -errno;
		goto fail;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK || !(f->multi = curl_multi_init()) ||
	    curl_multi_setopt(f->multi, CURLMOPT_SOCKETFUNCTION, on_socket) != CURLM_OK ||
	    curl_multi_setopt(f->multi, CURLMOPT_SOCKETDATA, f) != CURLM_OK ||
	    curl_multi_setopt(f->multi, CURLMOPT_TIMERFUNCTION, on_timer) != CURLM_OK ||
	    curl_multi_setopt(f->multi, CURLMOPT_TIMERDATA, f) != CURLM_OK)
		goto fail;
	*ret = f;
	return 0;
fail:
	http_fetcher_free(f);
	return r;
}

void
http_fetcher_free(struct http_fetcher *f)
{
	if (!f)
		return;
	/* the owners of the transfers have ended them (http_fetch_end) */
	curl_multi_cleanup(f->multi);
	if (f->epfd >= 0)
		close(f->epfd);
	free(f);
}

int
http_fetcher_fd(const struct http_fetcher *f)
{
	return f ? f->epfd : -1;
}

int
http_fetcher_timeout_ms(const struct http_fetcher *f)
{
	int64_t d;

	if (!f || !f->timer_at)
		return -1;
	d = f->timer_at - time_mono_ns();
	return d <= 0 ? 0 : (int)(d / TIME_NS_PER_MS + 1);
}

size_t
http_fetcher_running(const struct http_fetcher *f)
{
	return f ? f->running : 0;
}

/* Let libcurl work: on the sockets epoll says are ready, and on its timer if due. Never blocks. */
static void
pump(struct http_fetcher *f)
{
	struct epoll_event ev[HTTP_FETCH_EVENTS_MAX];
	int n, i, still;

	n = epoll_wait(f->epfd, ev, HTTP_FETCH_EVENTS_MAX, 0);
	for (i = 0; i < n; i++)
		curl_multi_socket_action(f->multi, ev[i].data.fd,
					 (ev[i].events & EPOLLIN ? CURL_CSELECT_IN : 0) |
						 (ev[i].events & EPOLLOUT ? CURL_CSELECT_OUT : 0) |
						 (ev[i].events & (EPOLLERR | EPOLLHUP) ? CURL_CSELECT_ERR : 0),
					 &still);
	if (f->timer_at && time_mono_ns() >= f->timer_at) {
		f->timer_at = 0;	/* before the call: it may set the next one */
		curl_multi_socket_action(f->multi, CURL_SOCKET_TIMEOUT, 0, &still);
	}
}

void
http_fetcher_run(struct http_fetcher *f)
{
	struct http_fetch *t;
	CURLMsg *m;
	int left;

	if (!f || !f->running)
		return;
	pump(f);
	while ((m = curl_multi_info_read(f->multi, &left))) {
		t = NULL;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&t);
		if (m->msg != CURLMSG_DONE || !t)
			continue;
		/* out of the multi handle before `done`, which may end t or start it again */
		curl_multi_remove_handle(f->multi, t->easy);
		t->running = false;
		f->running--;
		t->done(t->ctx, t, m->data.result);
	}
}

/* The answer, kept (up to answer_max) or only counted. */
static size_t
on_answer(char *p, size_t size, size_t n, void *ctx)
{
	struct http_fetch *t = ctx;
	size_t add = size * n;
	char *d;

	if (t->answer_len + add > t->lim.answer_max) {
		t->too_long = true;
		return 0;
	}
	if (t->lim.keep_answer) {
		if (!(d = realloc(t->answer, t->answer_len + add + 1)))
			return 0;
		memcpy(d + t->answer_len, p, add);
		d[t->answer_len + add] = '\0';
		t->answer = d;
	}
	t->answer_len += add;
	return add;
}

int
http_fetch_init(struct http_fetch *t, const char *url, const char *ca_file, bool allow_http,
		const struct http_fetch_limits *lim, http_fetch_done_fn done, void *ctx)
{
	/* the url's own scheme is the one protocol allowed: an https hook never speaks plain http */
	bool plain = allow_http && !strncasecmp(url, "http://", 7);
	CURLcode c = CURLE_OK;
	CURL *e;

	memset(t, 0, sizeof(*t));
	if (!(e = curl_easy_init()))
		return -ENOMEM;
	t->easy = e;
	t->lim = *lim;
	t->done = done;
	t->ctx = ctx;
	c |= curl_easy_setopt(e, CURLOPT_URL, url);
	c |= curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, plain ? "http" : "https");
	c |= curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "https");
	c |= curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
	c |= curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	c |= curl_easy_setopt(e, CURLOPT_PROXY, "");	/* "": no proxy, whatever http(s)_proxy in the environment says */
	c |= curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, lim->timeout_ms);
	c |= curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, lim->connect_timeout_ms);
	c |= curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_answer);
	c |= curl_easy_setopt(e, CURLOPT_WRITEDATA, t);
	c |= curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t->errbuf);
	c |= curl_easy_setopt(e, CURLOPT_PRIVATE, t);
	c |= curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
	c |= curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
	/*
	 * A configured CA file is the only trust: no directory beside it. Without one, the system's CAs as
	 * libcurl was built to find them (Debian's libcurl-gnutls: the directory /etc/ssl/certs, no bundle).
	 */
	if (ca_file && ca_file[0]) {
		c |= curl_easy_setopt(e, CURLOPT_CAINFO, ca_file);
		c |= curl_easy_setopt(e, CURLOPT_CAPATH, NULL);
	}
	if (c != CURLE_OK) {
		http_fetch_end(NULL, t);
		return -EINVAL;
	}
	return 0;
}

int
http_fetch_start(struct http_fetcher *f, struct http_fetch *t)
{
	if (curl_multi_add_handle(f->multi, t->easy) != CURLM_OK)
		return -ENOMEM;
	t->running = true;
	f->running++;
	return 0;
}

long
http_fetch_status(struct http_fetch *t)
{
	long status = 0;

	if (t->easy)
		curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &status);
	return status;
}

void
http_fetch_end(struct http_fetcher *f, struct http_fetch *t)
{
	if (t->running && f) {
		curl_multi_remove_handle(f->multi, t->easy);
		f->running--;
	}
	if (t->easy)
		curl_easy_cleanup(t->easy);
	free(t->answer);
	t->easy = NULL;
	t->answer = NULL;
	t->answer_len = 0;
	t->running = false;
}

const char *
http_fetch_error(const struct http_fetch *t, CURLcode code, char *buf, size_t size)
{
	if (t->too_long)
		snprintf(buf, size, "its answer is longer than %zu bytes", t->lim.answer_max);
	else if (code == CURLE_OPERATION_TIMEDOUT)
		snprintf(buf, size, "no answer within %ld ms", t->lim.timeout_ms);
	else
		snprintf(buf, size, "%s", t->errbuf[0] ? t->errbuf : curl_easy_strerror(code));
	return buf;
}
