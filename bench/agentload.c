/* agentload: many agents' worth of real joins and long-poll watches against jitgated, and a fleet latency probe. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>

/*
 * usage: agentload BASE CAFILE MODE ARGS...
 *   BASE  https://10.x.y.z:8443
 *   join TOKEN N PREFIX SRC
 *         joins N hosts named PREFIX0..PREFIX(N-1) with join token TOKEN (POST /agent/v1/join from SRC, one
 *         kept-alive connection) and prints "VMID CREDENTIAL" a line
 *   watch CREDFILE SRC...
 *         holds watches as jitgate-agent does (GET /agent/v1{VM}/state?since=REV, again at once when answered),
 *         watcher i with credential line i from source SRC[i % n]. Commands on stdin, one a line:
 *           hold N                   watch with the first N credentials; prints "held N" once each has its first
 *                                    answer and has sent the poll the server holds
 *           fanout TOKEN PATH FILE   PUT FILE at PATH (an owner's token), then prints how long until each held
 *                                    watcher had a newer revision (bounded by FANOUT_WAIT_MS)
 *           quit                     prints "quit errors=N" (watch calls that failed in all) and ends
 *   latency TOKEN POLICY VMID TARGET PORT COUNT SRC...
 *         COUNT times: initiate POLICY for VMID's PORT from SRC[i % n] (so each grant supersedes the one before),
 *         then a TCP connect from that source to TARGET:PORT every PROBE_EVERY_MS until one opens; prints
 *         percentiles of initiate sent -> first connect open; AGENTLOAD_GAP_MS=N in the environment waits N ms
 *         between one sample's connect and the next initiate (default 0: back to back)
 *   propagate TOKEN POLICY VMID CREDENTIAL BASE_B COUNT SRC
 *         a watch of agent VM VMID held on replica BASE_B with the agent's CREDENTIAL (polled again at once when
 *         answered); COUNT times, PROPAGATE_GAP_MS after its last answer (the next poll parked on B): an initiate
 *         of POLICY on BASE (replica A) for VMID's port 22 from SRC; prints percentiles of initiate sent on A ->
 *         B's watch answered with a newer revision, and of the initiate's own answer
 * Each figure line is key=value pairs on stdout; errors on stderr. Every wait is bounded.
 */

#define API_VERSION		"?api-version=2020-01-01"
#define WATCHERS_MAX		4096		/* watches one agentload holds */
#define SRCS_MAX		64		/* source addresses */
#define LINE_MAX_LEN		1024		/* a credential-file or stdin line */
#define BODY_CAP		(256 * 1024)	/* kept of an answer (a watch's state is small; a 1000-VM policy is not) */
#define WATCH_TIMEOUT_MS	45000L		/* the agent's AGENT_WATCH_TIMEOUT_MS: above the server's 30 s hold */
#define CALL_TIMEOUT_MS		30000L
#define HOLD_BATCH		50		/* watches started together by hold */
#define RETRY_MS		1000		/* a watch that failed polls again after this */
#define FANOUT_WAIT_MS		30000		/* a fan-out gives up on the watchers not updated by then */
#define PROBE_EVERY_MS		1		/* a new connect this often: the latency figure's resolution */
#define PROBE_WAIT_MS		5000		/* an initiate whose port does not open by then counts as failed */
#define PROBES_MAX		(PROBE_WAIT_MS / PROBE_EVERY_MS + 16)
#define LATENCY_MAX		10000		/* samples */
#define GRANT_SECONDS		3600		/* each grant asked for */
#define PROPAGATE_GAP_MS	50		/* after a watch's answer: its next poll is parked on B by then */
#define PROPAGATE_WAIT_MS	5000		/* a sample whose watch is not answered by then counts as failed */
#define ERRORS_SHOWN		5

static const char *base, *cafile;
static int errors_shown;

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static double
wall_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void err_show(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
err_show(const char *fmt, ...)
{
	va_list ap;

	if (errors_shown++ >= ERRORS_SHOWN)
		return;
	va_start(ap, fmt);
	fputs("agentload: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

/* An answer's body: the first BODY_CAP bytes, NUL-terminated. */
struct body {
	char *data;
	size_t len;
};

static size_t
body_write(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct body *b = ud;
	size_t n = size * nmemb, k = n;

	if (!b->data && !(b->data = malloc(BODY_CAP + 1)))
		return 0;
	if (b->len + k > BODY_CAP)
		k = BODY_CAP - b->len;
	memcpy(b->data + b->len, ptr, k);
	b->len += k;
	b->data[b->len] = '\0';
	return n;
}

/* A handle with the options every call here shares: the CA, HTTP/1.1, from source SRC, bounded. */
static CURL *
handle_new(const char *src, struct body *b, long timeout_ms)
{
	char iface[80];
	CURL *h = curl_easy_init();

	if (!h)
		return NULL;
	snprintf(iface, sizeof(iface), "host!%s", src);
	curl_easy_setopt(h, CURLOPT_CAINFO, cafile);
	curl_easy_setopt(h, CURLOPT_INTERFACE, iface);
	curl_easy_setopt(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, body_write);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, b);
	return h;
}

/* One blocking call on H (kept alive between calls): the HTTP status, or -1. */
static long
call(CURL *h, struct body *b, const char *method, const char *url, const char *token, const char *json)
{
	struct curl_slist *hdr = NULL;
	char auth[LINE_MAX_LEN + 32];
	long status = -1;
	CURLcode cc;

	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
	hdr = curl_slist_append(hdr, auth);
	hdr = curl_slist_append(hdr, "Content-Type: application/json");
	hdr = curl_slist_append(hdr, "Expect:");
	b->len = 0;
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, json);
	curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(json));
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, strcmp(method, "POST") ? method : NULL);
	cc = curl_easy_perform(h);
	if (cc == CURLE_OK)
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	else
		err_show("%s %s: %s", method, url, curl_easy_strerror(cc));
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
	curl_slist_free_all(hdr);
	return status;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Nearest-rank percentile P (0..1) of the N sorted samples V. */
static double
pct(const double *v, size_t n, double p)
{
	size_t k = (size_t)ceil(p * (double)n);

	if (n == 0)
		return 0;
	return v[k ? k - 1 : 0];
}

/* ---- join ---- */

static int
mode_join(int argc, char **argv)
{
	const char *token, *prefix;
	struct body b = { 0 };
	char url[512], json[512];
	long n, i, st;
	int r = 1;
	CURL *h;

	if (argc != 4)
		return 2;
	token = argv[0];
	prefix = argv[2];
	n = strtol(argv[1], NULL, 10);
	if (n <= 0 || !(h = handle_new(argv[3], &b, CALL_TIMEOUT_MS)))
		return 2;
	snprintf(url, sizeof(url), "%s/agent/v1/join", base);
	for (i = 0; i < n; i++) {
		json_t *o;

		snprintf(json, sizeof(json), "{\"name\":\"%s%ld\",\"osType\":\"Linux\",\"revision\":-1,\"version\":"
			 "\"agentload\",\"kernel\":{\"supported\":true},\"addresses\":[\"192.0.2.%ld\"],\"listening\":"
			 "[{\"number\":22,\"protocol\":\"TCP\"}]}", prefix, i, 1 + i % 250);
		st = call(h, &b, "POST", url, token, json);
		if (st != 201 || !(o = json_loads(b.data ? b.data : "", 0, NULL))) {
			err_show("join %s%ld: HTTP %ld: %.300s", prefix, i, st, b.data ? b.data : "");
			goto out;
		}
		printf("%s %s\n", json_string_value(json_object_get(o, "vm")),
		       json_string_value(json_object_get(o, "credential")));
		json_decref(o);
	}
	r = 0;
out:
	fflush(stdout);
	curl_easy_cleanup(h);
	free(b.data);
	return r;
}

/* ---- watch ---- */

struct watcher {
	CURL *h;
	struct curl_slist *hdr;
	struct body b;
	char vm[512];
	const char *src;
	int64_t rev;			/* the newest revision answered; -1 before the first */
	int64_t fan_base;		/* the revision when the fan-out began */
	double fan_at;			/* when it saw a newer one (ms, 0: not yet) */
	double retry_at;		/* a failed poll goes again then (0: not waiting) */
	unsigned answers;
	bool started;
};

struct load {
	CURLM *m;
	struct watcher w[WATCHERS_MAX];
	size_t n_creds, held;
	long target;			/* hold: the N being waited for (-1: none) */
	unsigned long errors;
	/* the fan-out in progress */
	bool fanning;
	double fan_t0, fan_put_ms;
	long fan_status;
	CURL *put;
	struct body put_b;
	struct curl_slist *put_hdr;
	char *put_json;
};

static void
watch_poll(struct load *l, struct watcher *w)
{
	char url[1024];

	snprintf(url, sizeof(url), "%s/agent/v1%s/state?since=%lld", base, w->vm, (long long)w->rev);
	w->b.len = 0;
	curl_easy_setopt(w->h, CURLOPT_URL, url);
	curl_multi_add_handle(l->m, w->h);
}

static int
watch_start(struct load *l, struct watcher *w, const char *cred)
{
	char auth[LINE_MAX_LEN + 32];

	if (!(w->h = handle_new(w->src, &w->b, WATCH_TIMEOUT_MS)))
		return -ENOMEM;
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", cred);
	w->hdr = curl_slist_append(NULL, auth);
	curl_easy_setopt(w->h, CURLOPT_HTTPHEADER, w->hdr);
	curl_easy_setopt(w->h, CURLOPT_PRIVATE, w);
	w->rev = -1;
	w->started = true;
	watch_poll(l, w);
	return 0;
}

/* A watch answered (or failed): note a newer revision, and poll again (at once, or after RETRY_MS). */
static void
watch_done(struct load *l, struct watcher *w, CURLcode cc)
{
	long status = 0;
	json_t *o = NULL;
	int64_t rev;

	curl_multi_remove_handle(l->m, w->h);
	if (cc == CURLE_OK)
		curl_easy_getinfo(w->h, CURLINFO_RESPONSE_CODE, &status);
	if (status != 200 || !(o = json_loads(w->b.data ? w->b.data : "", 0, NULL))) {
		double conn_s = 0, tls_s = 0, sent_s = 0, total_s = 0;
		long fresh = 0;

		/* where the time went: a call that never reached the server differs from one it did not answer */
		curl_easy_getinfo(w->h, CURLINFO_NUM_CONNECTS, &fresh);
		curl_easy_getinfo(w->h, CURLINFO_CONNECT_TIME, &conn_s);
		curl_easy_getinfo(w->h, CURLINFO_APPCONNECT_TIME, &tls_s);
		curl_easy_getinfo(w->h, CURLINFO_PRETRANSFER_TIME, &sent_s);
		curl_easy_getinfo(w->h, CURLINFO_TOTAL_TIME, &total_s);
		l->errors++;
		err_show("watch %s since=%lld: %s, HTTP %ld (new connections %ld; connect %.3f s, TLS %.3f s, "
			 "request sent %.3f s, total %.3f s): %.200s", w->vm, (long long)w->rev, curl_easy_strerror(cc),
			 status, fresh, conn_s, tls_s, sent_s, total_s, w->b.data && status ? w->b.data : "");
		w->retry_at = now_ms() + RETRY_MS;
		json_decref(o);
		return;
	}
	rev = (int64_t)json_integer_value(json_object_get(o, "revision"));
	json_decref(o);
	if (rev > w->rev)
		w->rev = rev;
	if (l->fanning && !w->fan_at && w->rev > w->fan_base)
		w->fan_at = now_ms();
	w->answers++;
	watch_poll(l, w);
}

static void
put_done(struct load *l, CURLcode cc)
{
	l->fan_put_ms = now_ms() - l->fan_t0;
	if (cc == CURLE_OK)
		curl_easy_getinfo(l->put, CURLINFO_RESPONSE_CODE, &l->fan_status);
	if (l->fan_status < 200 || l->fan_status > 299)
		err_show("fan-out PUT: %s, HTTP %ld: %.300s", curl_easy_strerror(cc), l->fan_status,
			 l->put_b.data ? l->put_b.data : "");
	curl_multi_remove_handle(l->m, l->put);
	curl_easy_cleanup(l->put);
	curl_slist_free_all(l->put_hdr);
	free(l->put_json);
	l->put = NULL;
	l->put_hdr = NULL;
	l->put_json = NULL;
}

static void
load_messages(struct load *l)
{
	CURLMsg *msg;
	int left;

	while ((msg = curl_multi_info_read(l->m, &left))) {
		struct watcher *w = NULL;

		if (msg->msg != CURLMSG_DONE)
			continue;
		if (msg->easy_handle == l->put) {
			put_done(l, msg->data.result);
			continue;
		}
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&w);
		if (w)
			watch_done(l, w, msg->data.result);
	}
}

static char *
file_read(const char *path)
{
	FILE *f = fopen(path, "r");
	char *p = NULL;
	long n;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
	    (p = malloc((size_t)n + 1))) {
		if (fread(p, 1, (size_t)n, f) != (size_t)n) {
			free(p);
			p = NULL;
		} else {
			p[n] = '\0';
		}
	}
	fclose(f);
	return p;
}

/* fanout TOKEN PATH FILE: start the PUT; the watchers' answers are counted as they come (load_fanout_check). */
static void
load_fanout_start(struct load *l, const char *token, const char *path, const char *file)
{
	char url[3 * LINE_MAX_LEN], auth[LINE_MAX_LEN + 32];
	size_t i;

	if (!(l->put_json = file_read(file)) || !(l->put = handle_new(l->w[0].src, &l->put_b, CALL_TIMEOUT_MS))) {
		printf("fanout error=cannot_start\n");
		fflush(stdout);
		free(l->put_json);
		l->put_json = NULL;
		return;
	}
	for (i = 0; i < l->held; i++) {
		l->w[i].fan_base = l->w[i].rev;
		l->w[i].fan_at = 0;
	}
	snprintf(url, sizeof(url), "%s%s" API_VERSION, base, path);
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
	l->put_hdr = curl_slist_append(NULL, auth);
	l->put_hdr = curl_slist_append(l->put_hdr, "Content-Type: application/json");
	l->put_hdr = curl_slist_append(l->put_hdr, "Expect:");
	curl_easy_setopt(l->put, CURLOPT_URL, url);
	curl_easy_setopt(l->put, CURLOPT_HTTPHEADER, l->put_hdr);
	curl_easy_setopt(l->put, CURLOPT_POSTFIELDS, l->put_json);
	curl_easy_setopt(l->put, CURLOPT_POSTFIELDSIZE, (long)strlen(l->put_json));
	curl_easy_setopt(l->put, CURLOPT_CUSTOMREQUEST, "PUT");
	l->put_b.len = 0;
	l->fan_status = 0;
	l->fanning = true;
	l->fan_t0 = now_ms();
	curl_multi_add_handle(l->m, l->put);
}

/* The fan-out is over when the PUT answered and every held watcher updated, or FANOUT_WAIT_MS passed. */
static void
load_fanout_check(struct load *l)
{
	double lat[WATCHERS_MAX], now = now_ms();
	size_t i, n = 0;

	if (!l->fanning || l->put)
		return;
	for (i = 0; i < l->held; i++)
		if (l->w[i].fan_at)
			lat[n++] = l->w[i].fan_at - l->fan_t0;
	if (n < l->held && now - l->fan_t0 < FANOUT_WAIT_MS)
		return;
	qsort(lat, n, sizeof(lat[0]), cmp_double);
	printf("fanout watchers=%zu updated=%zu put_status=%ld put_ms=%.1f p50_ms=%.1f p99_ms=%.1f all_ms=%s%.1f\n",
	       l->held, n, l->fan_status, l->fan_put_ms, pct(lat, n, 0.5), pct(lat, n, 0.99),
	       n < l->held ? ">" : "", n < l->held ? now - l->fan_t0 : pct(lat, n, 1.0));
	fflush(stdout);
	l->fanning = false;
}

/*
 * hold N: start watchers HOLD_BATCH at a time (the next batch once each of the last had its first answer, as
 * agents coming up over time would), and say "held N" once all N had theirs.
 */
static void
load_hold_check(struct load *l, char creds[][LINE_MAX_LEN])
{
	size_t i, k;

	if (l->target < 0)
		return;
	for (i = 0; i < l->held; i++)
		if (!l->w[i].answers)
			return;
	if (l->held < (size_t)l->target) {
		for (k = 0; k < HOLD_BATCH && l->held < (size_t)l->target; k++, l->held++)
			if (watch_start(l, &l->w[l->held], creds[l->held]) < 0)
				break;
		return;
	}
	printf("held %ld errors=%lu\n", l->target, l->errors);
	fflush(stdout);
	l->target = -1;
}

/* One command from stdin; returns 1 on quit. */
static int
load_command(struct load *l, char *line)
{
	char a[LINE_MAX_LEN], b[LINE_MAX_LEN], c[LINE_MAX_LEN];
	long n;

	if (strncmp(line, "quit", 4) == 0) {
		printf("quit errors=%lu\n", l->errors);
		fflush(stdout);
		return 1;
	}
	if (sscanf(line, "hold %ld", &n) == 1 && n >= 0 && (size_t)n <= l->n_creds && (size_t)n >= l->held) {
		l->target = n;
	} else if (sscanf(line, "fanout %1023s %1023s %1023s", a, b, c) == 3 && !l->fanning) {
		load_fanout_start(l, a, b, c);
	} else {
		printf("error unknown_command\n");
		fflush(stdout);
	}
	return 0;
}

/* Lines arrived on stdin: run each whole one; returns 1 on quit or end of input. */
static int
load_stdin(struct load *l, char *buf, size_t *len)
{
	ssize_t k = read(0, buf + *len, LINE_MAX_LEN - 1 - *len);
	char *nl;

	if (k <= 0)
		return 1;
	*len += (size_t)k;
	buf[*len] = '\0';
	while ((nl = strchr(buf, '\n'))) {
		*nl = '\0';
		if (load_command(l, buf))
			return 1;
		*len -= (size_t)(nl + 1 - buf);
		memmove(buf, nl + 1, *len + 1);
	}
	if (*len >= LINE_MAX_LEN - 1)
		*len = 0;
	return 0;
}

static void
load_retries(struct load *l)
{
	double now = now_ms();
	size_t i;

	for (i = 0; i < l->held; i++)
		if (l->w[i].retry_at && l->w[i].retry_at <= now) {
			l->w[i].retry_at = 0;
			watch_poll(l, &l->w[i]);
		}
}

/* Reads CREDFILE's "VMID CREDENTIAL" lines into L and CREDS. */
static int
load_creds(struct load *l, const char *path, char creds[][LINE_MAX_LEN], char **srcs, size_t n_srcs)
{
	char line[2 * LINE_MAX_LEN];
	FILE *f = fopen(path, "r");

	if (!f)
		return -errno;
	while (l->n_creds < WATCHERS_MAX && fgets(line, sizeof(line), f)) {
		struct watcher *w = &l->w[l->n_creds];

		if (sscanf(line, "%511s %1023s", w->vm, creds[l->n_creds]) != 2)
			continue;
		w->src = srcs[l->n_creds % n_srcs];
		l->n_creds++;
	}
	fclose(f);
	return 0;
}

static int
mode_watch(int argc, char **argv)
{
	static struct load l;
	static char creds[WATCHERS_MAX][LINE_MAX_LEN];
	char buf[LINE_MAX_LEN];
	size_t len = 0, i;
	int running;

	if (argc < 2 || argc - 1 > SRCS_MAX || load_creds(&l, argv[0], creds, argv + 1, (size_t)argc - 1) < 0)
		return 2;
	l.target = -1;
	l.m = curl_multi_init();
	curl_multi_setopt(l.m, CURLMOPT_MAXCONNECTS, (long)WATCHERS_MAX * 2);
	printf("ready creds=%zu\n", l.n_creds);
	fflush(stdout);
	for (;;) {
		struct curl_waitfd in = { .fd = 0, .events = CURL_WAIT_POLLIN };
		int nfds = 0;

		curl_multi_perform(l.m, &running);
		load_messages(&l);
		load_hold_check(&l, creds);
		load_fanout_check(&l);
		load_retries(&l);
		curl_multi_poll(l.m, &in, 1, 10, &nfds);
		if ((in.revents & CURL_WAIT_POLLIN) && load_stdin(&l, buf, &len))
			break;
	}
	for (i = 0; i < l.held; i++) {
		curl_multi_remove_handle(l.m, l.w[i].h);
		curl_easy_cleanup(l.w[i].h);
		curl_slist_free_all(l.w[i].hdr);
		free(l.w[i].b.data);
	}
	curl_multi_cleanup(l.m);
	return 0;
}

/* ---- latency ---- */

/* A non-blocking connect from SRC to DST:PORT; the fd or -1. */
static int
probe_start(const char *src, const char *dst, int port)
{
	struct sockaddr_in s = { .sin_family = AF_INET }, d = { .sin_family = AF_INET, .sin_port = htons(port) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	inet_pton(AF_INET, src, &s.sin_addr);
	inet_pton(AF_INET, dst, &d.sin_addr);
	if (bind(fd, (struct sockaddr *)&s, sizeof(s)) < 0 ||
	    (connect(fd, (struct sockaddr *)&d, sizeof(d)) < 0 && errno != EINPROGRESS)) {
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * Starts a connect every PROBE_EVERY_MS (a dropped SYN is not tried again for a second, so each try is a
 * new connection) until one opens: the time it opened (ms), or -1 after PROBE_WAIT_MS.
 */
static double
probe_until_open(const char *src, const char *dst, int port, double t0)
{
	static struct pollfd p[PROBES_MAX];
	double opened = -1, last = 0;
	size_t n = 0, i;

	while (opened < 0 && now_ms() - t0 < PROBE_WAIT_MS && n < PROBES_MAX) {
		if (now_ms() - last >= PROBE_EVERY_MS) {
			last = now_ms();
			if ((p[n].fd = probe_start(src, dst, port)) >= 0)
				p[n++].events = POLLOUT;
		}
		if (poll(p, n, PROBE_EVERY_MS) <= 0)
			continue;
		for (i = 0; i < n && opened < 0; i++) {
			int e = 0;
			socklen_t el = sizeof(e);

			if (p[i].fd < 0 || !(p[i].revents & (POLLOUT | POLLERR | POLLHUP)))
				continue;
			if (getsockopt(p[i].fd, SOL_SOCKET, SO_ERROR, &e, &el) == 0 && e == 0)
				opened = now_ms();
			close(p[i].fd);
			p[i].fd = -1;	/* poll skips it */
		}
	}
	for (i = 0; i < n; i++)
		if (p[i].fd >= 0)
			close(p[i].fd);
	return opened;
}

static void
initiate_body(char *buf, size_t size, const char *vm, int port, const char *src)
{
	char end[32];
	time_t t = time(NULL) + GRANT_SECONDS;
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(end, sizeof(end), "%Y-%m-%dT%H:%M:%SZ", &tm);
	snprintf(buf, size, "{\"virtualMachines\":[{\"id\":\"%s\",\"ports\":[{\"number\":%d,\"endTimeUtc\":\"%s\","
		 "\"allowedSourceAddressPrefix\":\"%s\"}]}],\"justification\":\"agentload\"}", vm, port, end, src);
}

/*
 * One figure run, shared by latency and propagate: COUNT initiates on one kept-alive connection, each timed from
 * its sending to when the caller's effect callback saw it take effect. The callbacks say what each sample sends
 * and what it waits for.
 */
struct sampler {
	CURL *h;
	struct body *b;
	const char *url, *token;
	const char *what;	/* the initiate in error messages ("initiate", "initiate on A") */
	const char *api_key;	/* the initiate's own answer's figures: "<api_key>_p50_ms", "<api_key>_p99_ms" */
	long count;
	void *ctx;
	/* before sample i (-1: the first, not counted): wait as the mode wants, note what it needs, write the body */
	void (*prepare)(void *ctx, long i, char *json, size_t size);
	/* sample i was answered 202 (sent at t0, answered at t202): when it took effect (now_ms), or -1 */
	double (*effect)(void *ctx, long i, double t0, double t202);
};

/* Runs s's samples and prints their percentiles, a line on stdout; how many failed. */
static long
sampler_run(const struct sampler *s)
{
	static double lat[LATENCY_MAX], api[LATENCY_MAX];
	char json[2048];
	long i, failed = 0;
	size_t n = 0;

	/* i = -1: a first initiate, not counted, opens the kept-alive connection (TCP and TLS are no part of it) */
	for (i = -1; i < s->count; i++) {
		double t0, t202, t1;
		long st;

		s->prepare(s->ctx, i, json, sizeof(json));
		t0 = now_ms();
		st = call(s->h, s->b, "POST", s->url, s->token, json);
		t202 = now_ms();
		if (st != 202) {
			err_show("%s %ld: HTTP %ld: %.300s", s->what, i, st, s->b->data ? s->b->data : "");
			failed++;
			continue;
		}
		if ((t1 = s->effect(s->ctx, i, t0, t202)) < 0) {
			failed++;
			continue;
		}
		if (i < 0)
			continue;
		lat[n] = t1 - t0;
		api[n++] = t202 - t0;
	}
	qsort(lat, n, sizeof(lat[0]), cmp_double);
	qsort(api, n, sizeof(api[0]), cmp_double);
	printf("n=%zu failed=%ld p50_ms=%.1f p90_ms=%.1f p99_ms=%.1f max_ms=%.1f %s_p50_ms=%.1f %s_p99_ms=%.1f\n", n,
	       failed, pct(lat, n, 0.5), pct(lat, n, 0.9), pct(lat, n, 0.99), pct(lat, n, 1.0), s->api_key,
	       pct(api, n, 0.5), s->api_key, pct(api, n, 0.99));
	return failed;
}

/* latency's samples: sources in turn, each waited for until its TCP connect opens. */
struct latency_ctx {
	char **srcs;
	size_t n_srcs;
	const char *vm, *target, *src;	/* src: the current sample's */
	int port;
	long gap_ms;
};

static void
latency_prepare(void *ctx, long i, char *json, size_t size)
{
	struct latency_ctx *c = ctx;

	c->src = c->srcs[(size_t)(i + 1) % c->n_srcs];
	if (i >= 0 && c->gap_ms > 0)
		usleep((useconds_t)c->gap_ms * 1000);
	initiate_body(json, size, c->vm, c->port, c->src);
}

static double
latency_effect(void *ctx, long i, double t0, double t202)
{
	struct latency_ctx *c = ctx;
	double t1 = probe_until_open(c->src, c->target, c->port, t0);

	if (t1 >= 0 && i >= 0 && getenv("AGENTLOAD_VERBOSE"))	/* each sample, with the wall clock at its start */
		fprintf(stderr, "sample %ld src=%s wall=%.3f api_ms=%.1f connect_ms=%.1f\n", i, c->src, wall_s(),
			t202 - t0, t1 - t0);
	return t1;
}

static int
mode_latency(int argc, char **argv)
{
	const char *gap = getenv("AGENTLOAD_GAP_MS");
	char url[1024];
	struct latency_ctx c = { .srcs = argv + 6, .gap_ms = gap ? strtol(gap, NULL, 10) : 0 };
	struct body b = { 0 };
	struct sampler s = { .b = &b, .url = url, .what = "initiate", .api_key = "api", .ctx = &c,
			     .prepare = latency_prepare, .effect = latency_effect };
	long port, failed;

	if (argc < 7)
		return 2;
	s.token = argv[0];
	c.vm = argv[2];
	c.target = argv[3];
	port = strtol(argv[4], NULL, 10);
	s.count = strtol(argv[5], NULL, 10);
	c.n_srcs = (size_t)argc - 6;
	if (port <= 0 || port > 65535 || s.count <= 0 || s.count > LATENCY_MAX ||
	    !(s.h = handle_new(c.srcs[0], &b, CALL_TIMEOUT_MS)))
		return 2;
	c.port = (int)port;
	snprintf(url, sizeof(url), "%s%s/initiate" API_VERSION, base, argv[1]);
	failed = sampler_run(&s);
	curl_easy_cleanup(s.h);
	free(b.data);
	return failed ? 1 : 0;
}

/* ---- propagate ---- */

/* The watch held on replica B: the newest revision answered, and when (now_ms). */
struct prop_watch {
	pthread_mutex_t lock;
	pthread_cond_t moved;
	int64_t rev;
	double at_ms;
	bool failed;
	char url[1024], cred[LINE_MAX_LEN];
	const char *src;
};

/* The watch's loop (its own thread): polls B, notes each newer revision; ends at the first failure. */
static void *
prop_watch_run(void *arg)
{
	struct prop_watch *w = arg;
	struct body b = { 0 };
	CURL *h = handle_new(w->src, &b, WATCH_TIMEOUT_MS);
	char url[1200];
	int64_t since = -1;

	for (;;) {
		const char *rev;
		long st = -1;

		snprintf(url, sizeof(url), "%s?since=%lld", w->url, (long long)since);
		/* the revision is near the start; the rest (every live grant) may pass BODY_CAP */
		if (h && (st = call(h, &b, "GET", url, w->cred, "")) == 200 && b.data &&
		    (rev = strstr(b.data, "\"revision\":"))) {
			pthread_mutex_lock(&w->lock);
			since = strtoll(rev + strlen("\"revision\":"), NULL, 10);
			if (since > w->rev) {
				w->rev = since;
				w->at_ms = now_ms();
				pthread_cond_broadcast(&w->moved);
			}
			pthread_mutex_unlock(&w->lock);
			continue;
		}
		err_show("watch on B: HTTP %ld: %.200s", st, b.data ? b.data : "");
		pthread_mutex_lock(&w->lock);
		w->failed = true;
		pthread_cond_broadcast(&w->moved);
		pthread_mutex_unlock(&w->lock);
		break;
	}
	if (h)
		curl_easy_cleanup(h);
	free(b.data);
	return NULL;
}

/* Wait (<= PROPAGATE_WAIT_MS) for a revision above rev: when it was answered (now_ms), or -1. */
static double
prop_wait(struct prop_watch *w, int64_t rev)
{
	struct timespec until;
	double at = -1;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += PROPAGATE_WAIT_MS / 1000;
	pthread_mutex_lock(&w->lock);
	while (w->rev <= rev && !w->failed)
		if (pthread_cond_timedwait(&w->moved, &w->lock, &until) == ETIMEDOUT)
			break;
	if (w->rev > rev)
		at = w->at_ms;
	pthread_mutex_unlock(&w->lock);
	return at;
}

/* propagate's samples: each waits for B's watch to answer a revision newer than the one before its initiate. */
struct prop_ctx {
	struct prop_watch *w;
	const char *vm, *src;
	int64_t rev;	/* the watch's revision before the current sample's initiate */
};

static void
prop_prepare(void *ctx, long i, char *json, size_t size)
{
	struct prop_ctx *c = ctx;

	(void)i;
	usleep(PROPAGATE_GAP_MS * 1000);
	pthread_mutex_lock(&c->w->lock);
	c->rev = c->w->rev;
	pthread_mutex_unlock(&c->w->lock);
	initiate_body(json, size, c->vm, 22, c->src);
}

static double
prop_effect(void *ctx, long i, double t0, double t202)
{
	struct prop_ctx *c = ctx;

	(void)i;
	(void)t0;
	(void)t202;
	return prop_wait(c->w, c->rev);
}

static int
mode_propagate(int argc, char **argv)
{
	static struct prop_watch w = { .lock = PTHREAD_MUTEX_INITIALIZER, .rev = -1 };
	char url[1024];
	struct prop_ctx c = { .w = &w };
	struct body b = { 0 };
	struct sampler s = { .b = &b, .url = url, .what = "initiate on A", .api_key = "initiate", .ctx = &c,
			     .prepare = prop_prepare, .effect = prop_effect };
	pthread_t th;
	long failed;

	if (argc != 7 || (s.count = strtol(argv[5], NULL, 10)) <= 0 || s.count > LATENCY_MAX)
		return 2;
	pthread_cond_init(&w.moved, NULL);
	snprintf(w.url, sizeof(w.url), "%s/agent/v1%s/state", argv[4], argv[2]);
	snprintf(w.cred, sizeof(w.cred), "%s", argv[3]);
	w.src = argv[6];
	s.token = argv[0];
	c.vm = argv[2];
	c.src = argv[6];
	snprintf(url, sizeof(url), "%s%s/initiate" API_VERSION, base, argv[1]);
	if (!(s.h = handle_new(argv[6], &b, CALL_TIMEOUT_MS)) || pthread_create(&th, NULL, prop_watch_run, &w) != 0)
		return 1;
	if (prop_wait(&w, -1) < 0) {	/* the first answer: the revision now */
		err_show("the watch on B did not answer");
		return 1;
	}
	failed = sampler_run(&s);
	fflush(stdout);
	/* the watch may sit in a poll B holds for up to 30 s: end without waiting for it */
	_exit(failed ? 1 : 0);
}

int
main(int argc, char **argv)
{
	struct rlimit rl;
	int r;

	if (argc < 4) {
		fputs("usage: agentload BASE CAFILE join|watch|latency|propagate ARGS... (see bench/agentload.c)\n", stderr);
		return 2;
	}
	/* a watch and a probe are a descriptor each */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	base = argv[1];
	cafile = argv[2];
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (strcmp(argv[3], "join") == 0)
		r = mode_join(argc - 4, argv + 4);
	else if (strcmp(argv[3], "watch") == 0)
		r = mode_watch(argc - 4, argv + 4);
	else if (strcmp(argv[3], "latency") == 0)
		r = mode_latency(argc - 4, argv + 4);
	else if (strcmp(argv[3], "propagate") == 0)
		r = mode_propagate(argc - 4, argv + 4);
	else
		r = 2;
	curl_global_cleanup();
	return r;
}
