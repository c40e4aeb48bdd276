/* compare-bench: asks jitgated (HTTPS initiate) or fwknopd (an SPA datagram) for grants and times, with real TCP connections, when they open and close. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
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

/*
 * usage: compare-bench [options] MODE
 *   -j URL,CAFILE,VMID  the system is jitgated: initiate at URL (policy path included), verified with CAFILE
 *   -f PORT             the system is fwknopd: the SPA datagram goes to the VM's UDP PORT
 *   -v ADDR -p PORT     the VM's address and the protected TCP port
 *   -d SECONDS          jitgate grant length (endTimeUtc = now + SECONDS) unless a job names its end
 *   -t THREADS -s SECONDS  workers and time limit for rate and fill
 * Jobs come on stdin, one a line: "SRC CRED [END_MS]": the client address the request comes from (and
 * that the grant is for), the token (jitgate) or the SPA payload (fwknop), and for jitgate optionally the
 * grant's end in Unix milliseconds.
 *   open     one job at a time: request, then a TCP connection from SRC every 1 ms until one opens.
 *            Prints "SRC MS REQ_MS": request start -> first connection established, and -> request
 *            answered (jitgate) or sent (fwknop); or "SRC fail".
 *   rate     THREADS workers, each: request, then connections 2, 4, 8 ... 50 ms apart until one opens (10 s at most);
 *            stops at the first failure, at the time limit or when the jobs run out.
 *            Prints "grants=N seconds=S per_s=R stop=REASON".
 *   fill     jitgate only: THREADS workers initiate every job on kept-alive connections from the VM's
 *            subnet, naming SRC as allowedSourceAddressPrefix; nothing is probed. Prints "grants=N seconds=S".
 *   expiry   jobs "SRC END_MS": from END_MS - 300 ms, a connection from SRC every 1 ms; an attempt that does
 *            not open within 200 ms counts as refused. Prints "SRC MS": first refused attempt - END_MS,
 *            once 20 attempts in a row after the last success were refused (or "SRC fail" after 15 s).
 *   count    jobs "SRC": up to three attempts each, 150 ms apart. Prints "open=N refused=M".
 *   tokens   jitgate only: jobs "NAME"; creates a JitRequester token per name with the bearer token in
 *            $BENCH_TOKEN and prints each secret, one a line.
 */

#define JOBS_MAX 100000
#define LINE_MAX_BYTES 1024
#define CRED_MAX 512
#define ADDR_TEXT_MAX 64
#define ATTEMPTS_MAX 512		/* outstanding connection attempts of one prober */
#define PROBE_FAIL_S 0.200		/* an attempt not open by then was dropped */
#define OPEN_DEADLINE_S 5.0		/* open: a grant that does not open within this is a failure */
#define RATE_DEADLINE_S 10.0		/* rate: ... and this, an error that ends the run */
#define EXPIRY_LEAD_S 0.300		/* start probing this long before a grant's end */
#define EXPIRY_DEADLINE_S 15.0		/* ... and give up this long after it */
#define EXPIRY_REFUSED_RUN 20		/* refused attempts in a row that confirm the end */
#define REQUEST_TIMEOUT_MS 10000L
#define BODY_MAX 4096

struct job {
	char src[ADDR_TEXT_MAX];
	char cred[CRED_MAX];
	int64_t end_ms;			/* 0: -d SECONDS from the request */
};

static struct job *jobs;
static size_t n_jobs;
static const char *vm_addr = "10.213.0.1";
static long vm_port = 22, spa_port;
static char jit_url[512], jit_ca[512], jit_vmid[512];
static double grant_s = 600, limit_s = 60;
static size_t n_threads = 16;

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Unix time in milliseconds, for end times that the daemons also see. */
static int64_t
wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static double
wall_to_mono(int64_t ms)
{
	return now_s() + (double)(ms - wall_ms()) / 1000.0;
}

static int
sockaddr_of(const char *addr, long port, struct sockaddr_storage *ss, socklen_t *ret_len)
{
	struct sockaddr_in *in = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, addr, &in->sin_addr) == 1) {
		in->sin_family = AF_INET;
		in->sin_port = htons((uint16_t)port);
		*ret_len = sizeof(*in);
		return 0;
	}
	if (inet_pton(AF_INET6, addr, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		*ret_len = sizeof(*in6);
		return 0;
	}
	return -EINVAL;
}

/* A socket of dst's family bound to src; -1 on failure. */
static int
socket_from(int type, const char *src, const struct sockaddr_storage *dst)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd = socket(dst->ss_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	/* The port is picked at connect() by the whole 4-tuple: cheap even with thousands of sockets about. */
	if (type == SOCK_STREAM)
		setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &(int){ 1 }, sizeof(int));
	if (sockaddr_of(src, 0, &ss, &len) < 0 || bind(fd, (struct sockaddr *)&ss, len) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static void
close_hard(int fd)
{
	struct linger l = { 1, 0 };	/* RST, no TIME_WAIT: thousands of attempts must not run out of ports */

	setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
	close(fd);
}

/* ---- probers: connection attempts at a fixed cadence, judged by whether they open ---- */

enum probe_want { PROBE_OPEN, PROBE_REFUSED };

struct attempt {
	int fd;
	double start;
};

struct prober {
	const char *src;
	enum probe_want want;
	double begin, deadline, interval, next;
	double interval_max;		/* > interval: the interval doubles after each attempt up to this */
	int max_attempts, launched;
	struct attempt att[ATTEMPTS_MAX];
	int n_att;
	double last_success;		/* start of the latest attempt that opened */
	double fail_start;		/* earliest refused attempt after last_success */
	int fail_run;
	bool done, ok;
	double result;			/* PROBE_OPEN: when one opened; PROBE_REFUSED: fail_start */
};

static void
prober_init(struct prober *p, const char *src, enum probe_want want, double begin, double deadline,
	    double interval, int max_attempts)
{
	memset(p, 0, sizeof(*p));
	p->src = src;
	p->want = want;
	p->begin = p->next = begin;
	p->deadline = deadline;
	p->interval = interval;
	p->max_attempts = max_attempts;
	p->last_success = -1;
	p->fail_start = -1;
}

static void
prober_drop(struct prober *p, int i)
{
	close_hard(p->att[i].fd);
	p->att[i] = p->att[--p->n_att];
}

static void
prober_finish(struct prober *p, bool ok, double result)
{
	while (p->n_att > 0)
		prober_drop(p, 0);
	p->done = true;
	p->ok = ok;
	p->result = result;
}

static void
prober_outcome(struct prober *p, double start, bool opened, double now)
{
	if (p->want == PROBE_OPEN) {
		if (opened)
			prober_finish(p, true, now);
		return;
	}
	if (opened) {
		if (start > p->last_success)
			p->last_success = start;
		if (p->fail_start >= 0 && start > p->fail_start) {	/* the refusal was a fluke */
			p->fail_start = -1;
			p->fail_run = 0;
		}
		return;
	}
	if (start < p->last_success)
		return;
	if (p->fail_start < 0 || start < p->fail_start)
		p->fail_start = start;
	if (++p->fail_run >= EXPIRY_REFUSED_RUN)
		prober_finish(p, true, p->fail_start);
}

static void
prober_launch(struct prober *p, double now)
{
	struct sockaddr_storage dst;
	socklen_t len;
	int fd;

	p->next = now + p->interval;
	if (p->interval_max > p->interval)
		p->interval = p->interval * 2 < p->interval_max ? p->interval * 2 : p->interval_max;
	if (p->n_att >= ATTEMPTS_MAX || (p->max_attempts && p->launched >= p->max_attempts))
		return;
	if (sockaddr_of(vm_addr, vm_port, &dst, &len) < 0 || (fd = socket_from(SOCK_STREAM, p->src, &dst)) < 0) {
		fprintf(stderr, "compare-bench: socket from %s: %s\n", p->src, strerror(errno));
		prober_finish(p, false, 0);
		return;
	}
	p->launched++;
	if (connect(fd, (struct sockaddr *)&dst, len) == 0) {
		close_hard(fd);
		prober_outcome(p, now, true, now);
		return;
	}
	if (errno != EINPROGRESS) {
		close_hard(fd);
		prober_outcome(p, now, false, now);
		return;
	}
	p->att[p->n_att++] = (struct attempt){ .fd = fd, .start = now };
}

/* Runs the probers until every one is done; one thread, one poll set. */
static void
probers_run(struct prober *ps, size_t n)
{
	struct pollfd *pfd = calloc(n * ATTEMPTS_MAX, sizeof(*pfd));
	struct { size_t p; int a; } *who = calloc(n * ATTEMPTS_MAX, sizeof(*who));

	if (!pfd || !who)
		abort();
	for (;;) {
		double now = now_s(), wake = now + 1.0;
		size_t i, nfd = 0, left = 0;
		int a, r, ms;

		for (i = 0; i < n; i++) {
			struct prober *p = &ps[i];

			if (p->done)
				continue;
			if (now >= p->deadline) {
				prober_finish(p, false, 0);
				continue;
			}
			for (a = 0; a < p->n_att; a++) {
				if (now - p->att[a].start >= PROBE_FAIL_S) {
					double start = p->att[a].start;

					prober_drop(p, a--);
					prober_outcome(p, start, false, now);
					if (p->done)
						break;
				}
			}
			if (p->done)
				continue;
			if (now >= p->next && now >= p->begin)
				prober_launch(p, now);
			if (p->done)
				continue;
			left++;
			if (p->next < wake)
				wake = p->next;
			if (p->deadline < wake)
				wake = p->deadline;
			for (a = 0; a < p->n_att; a++) {
				if (p->att[a].start + PROBE_FAIL_S < wake)
					wake = p->att[a].start + PROBE_FAIL_S;
				pfd[nfd] = (struct pollfd){ .fd = p->att[a].fd, .events = POLLOUT };
				who[nfd].p = i;
				who[nfd].a = a;
				nfd++;
			}
		}
		if (!left)
			break;
		ms = (int)((wake - now) * 1000.0);
		if (ms < 0)
			ms = 0;
		r = poll(pfd, nfd, ms);
		if (r <= 0)
			continue;
		now = now_s();
		/* From the last descriptor down, so that removing one does not move those still to look at. */
		for (i = nfd; i-- > 0;) {
			struct prober *p = &ps[who[i].p];
			int err = 0;
			socklen_t sl = sizeof(err);
			double start;

			if (!pfd[i].revents || p->done)
				continue;
			start = p->att[who[i].a].start;
			getsockopt(pfd[i].fd, SOL_SOCKET, SO_ERROR, &err, &sl);
			prober_drop(p, who[i].a);
			prober_outcome(p, start, err == 0, now);
		}
	}
	free(pfd);
	free(who);
}

/*
 * One prober: waits (from now) until a connection from src opens; returns when, or -1 after the deadline.
 * Attempts every interval, or, with interval_max, at intervals doubling up to that.
 */
static double
wait_open(const char *src, double interval, double interval_max, double deadline_s)
{
	struct prober *p = malloc(sizeof(*p));
	double t = now_s(), r;

	if (!p)
		abort();
	prober_init(p, src, PROBE_OPEN, t, t + deadline_s, interval, 0);
	p->interval_max = interval_max;
	probers_run(p, 1);
	r = p->ok ? p->result : -1;
	free(p);
	return r;
}

/* ---- requests ---- */

struct body {
	char data[BODY_MAX];
	size_t len;
};

static size_t
body_write(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct body *b = ud;
	size_t n = size * nmemb, k = n;

	if (k > sizeof(b->data) - 1 - b->len)
		k = sizeof(b->data) - 1 - b->len;
	memcpy(b->data + b->len, ptr, k);
	b->len += k;
	b->data[b->len] = '\0';
	return n;
}

static void
iso_time(int64_t ms, char *out, size_t size)
{
	time_t s = (time_t)(ms / 1000);
	struct tm tm;
	char base[32];

	gmtime_r(&s, &tm);
	strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out, size, "%s.%03dZ", base, (int)(ms % 1000));
}

/* An HTTPS request; h is reused when given (keep-alive), else a fresh handle and connection. Returns the status or -1. */
static long
https(CURL *h, const char *method, const char *url, const char *token, const char *src, const char *json,
      struct body *ret_body)
{
	struct curl_slist *hdr = NULL;
	char auth[CRED_MAX + 32];
	bool own = !h;
	long code = -1;

	if (own && !(h = curl_easy_init()))
		return -1;
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
	hdr = curl_slist_append(hdr, auth);
	hdr = curl_slist_append(hdr, "Content-Type: application/json");
	ret_body->len = 0;
	ret_body->data[0] = '\0';
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_CAINFO, jit_ca);
	curl_easy_setopt(h, CURLOPT_CAPATH, NULL);	/* only jitgated's certificate: loading the system store is client cost */
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, REQUEST_TIMEOUT_MS);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
	curl_easy_setopt(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, body_write);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, ret_body);
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, json);
	curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(json));
	if (src) {
		char iface[ADDR_TEXT_MAX + 8];

		/* "host!": an address, not an interface name, which libcurl would look for among every address here */
		snprintf(iface, sizeof(iface), "host!%s", src);
		curl_easy_setopt(h, CURLOPT_INTERFACE, iface);
	}
	if (curl_easy_perform(h) == CURLE_OK)
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
	curl_slist_free_all(hdr);
	if (own)
		curl_easy_cleanup(h);
	return code;
}

/*
 * Asks for job's grant. jitgate: an initiate over a new connection from the job's address with no
 * allowedSourceAddressPrefix (so: "my own address"), or over h naming the address; fwknop: the SPA
 * datagram from the job's address. Returns 0 once the request is answered (jitgate: 202) or sent.
 */
static int
request_grant(const struct job *j, CURL *h)
{
	if (spa_port) {
		struct sockaddr_storage dst;
		socklen_t len;
		int fd, r = -1;

		if (sockaddr_of(vm_addr, spa_port, &dst, &len) < 0 || (fd = socket_from(SOCK_DGRAM, j->src, &dst)) < 0)
			return -1;
		if (sendto(fd, j->cred, strlen(j->cred), 0, (struct sockaddr *)&dst, len) == (ssize_t)strlen(j->cred))
			r = 0;
		close(fd);
		return r;
	} else {
		char json[1024], end[48], url[600], prefix[ADDR_TEXT_MAX + 64] = "";
		int64_t end_ms = j->end_ms ? j->end_ms : wall_ms() + (int64_t)(grant_s * 1000);
		struct body b;
		long code;

		iso_time(end_ms, end, sizeof(end));
		if (h)
			snprintf(prefix, sizeof(prefix), ",\"allowedSourceAddressPrefix\":\"%s\"", j->src);
		snprintf(json, sizeof(json), "{\"virtualMachines\":[{\"id\":\"%s\",\"ports\":[{\"number\":%ld,"
			 "\"endTimeUtc\":\"%s\"%s}]}],\"justification\":\"bench-compare\"}", jit_vmid, vm_port, end, prefix);
		snprintf(url, sizeof(url), "%s/initiate?api-version=2020-01-01", jit_url);
		code = https(h, "POST", url, j->cred, h ? NULL : j->src, json, &b);
		if (code != 202) {
			fprintf(stderr, "compare-bench: initiate from %s: %ld %.200s\n", j->src, code, b.data);
			return -1;
		}
		return 0;
	}
}

/* ---- modes ---- */

static int
mode_open(void)
{
	size_t i;

	for (i = 0; i < n_jobs; i++) {
		double t0 = now_s(), t_sent = 0, t1;

		if (request_grant(&jobs[i], NULL) < 0 || (t_sent = now_s(), t1 = wait_open(jobs[i].src, 0.001, 0, OPEN_DEADLINE_S)) < 0) {
			printf("%s fail\n", jobs[i].src);
			fflush(stdout);
			continue;
		}
		printf("%s %.2f %.2f\n", jobs[i].src, (t1 - t0) * 1000.0, (t_sent - t0) * 1000.0);
		fflush(stdout);
	}
	return 0;
}

static atomic_size_t next_job, granted;
static atomic_bool stop;
static atomic_int stop_reason;	/* 0 time, 1 jobs ran out, 2 a request failed, 3 a grant did not open */
static double t_start;

static void *
rate_worker(void *arg)
{
	bool fill = arg != NULL;
	CURL *h = fill ? curl_easy_init() : NULL;

	while (!atomic_load(&stop)) {
		size_t i = atomic_fetch_add(&next_job, 1);

		if (now_s() - t_start >= limit_s)
			break;
		if (i >= n_jobs) {
			atomic_store(&stop_reason, 1);
			break;
		}
		if (request_grant(&jobs[i], h) < 0) {
			atomic_store(&stop_reason, 2);
			atomic_store(&stop, true);
			break;
		}
		if (!fill && wait_open(jobs[i].src, 0.002, 0.050, RATE_DEADLINE_S) < 0) {
			fprintf(stderr, "compare-bench: the grant for %s did not open within %.0f s\n", jobs[i].src,
				RATE_DEADLINE_S);
			atomic_store(&stop_reason, 3);
			atomic_store(&stop, true);
			break;
		}
		atomic_fetch_add(&granted, 1);
	}
	if (h)
		curl_easy_cleanup(h);
	return NULL;
}

static int
mode_rate(bool fill)
{
	static const char *reasons[] = { "time", "jobs", "request-error", "grant-did-not-open" };
	pthread_t th[256];
	size_t i, n = n_threads > 256 ? 256 : n_threads;
	double secs;

	t_start = now_s();
	for (i = 0; i < n; i++)
		pthread_create(&th[i], NULL, rate_worker, fill ? (void *)1 : NULL);
	for (i = 0; i < n; i++)
		pthread_join(th[i], NULL);
	secs = now_s() - t_start;
	printf("grants=%zu seconds=%.1f per_s=%.1f stop=%s\n", atomic_load(&granted), secs,
	       (double)atomic_load(&granted) / secs, reasons[atomic_load(&stop_reason)]);
	return 0;
}

static int
mode_expiry(void)
{
	struct prober *ps = calloc(n_jobs ? n_jobs : 1, sizeof(*ps));
	size_t i;

	if (!ps)
		abort();
	for (i = 0; i < n_jobs; i++) {
		/* jobs here are "SRC END_MS": the end is the second field */
		double end = wall_to_mono(jobs[i].end_ms ? jobs[i].end_ms : strtoll(jobs[i].cred, NULL, 10));

		prober_init(&ps[i], jobs[i].src, PROBE_REFUSED, end - EXPIRY_LEAD_S, end + EXPIRY_DEADLINE_S, 0.001, 0);
	}
	probers_run(ps, n_jobs);
	for (i = 0; i < n_jobs; i++) {
		if (ps[i].ok)
			printf("%s %.2f\n", jobs[i].src, (ps[i].result - (ps[i].begin + EXPIRY_LEAD_S)) * 1000.0);
		else
			printf("%s fail\n", jobs[i].src);
	}
	free(ps);
	return 0;
}

static int
mode_count(void)
{
	struct prober *ps = calloc(n_jobs ? n_jobs : 1, sizeof(*ps));
	double t = now_s();
	size_t i, open = 0;

	if (!ps)
		abort();
	for (i = 0; i < n_jobs; i++)
		prober_init(&ps[i], jobs[i].src, PROBE_OPEN, t + 0.0005 * (double)i, t + 0.0005 * (double)i + 0.5,
			    0.150, 3);
	probers_run(ps, n_jobs);
	for (i = 0; i < n_jobs; i++)
		open += ps[i].ok;
	printf("open=%zu refused=%zu\n", open, n_jobs - open);
	free(ps);
	return 0;
}

static int
mode_tokens(void)
{
	const char *admin = getenv("BENCH_TOKEN");
	CURL *h = curl_easy_init();
	char url[800];
	struct body b;
	size_t i;

	if (!admin || !h)
		return 1;
	for (i = 0; i < n_jobs; i++) {
		char *tok, *q;
		const char *sub = strstr(jit_url, "/resourceGroups/");

		/* tokens live under the subscription: cut the policy path at its resource group */
		snprintf(url, sizeof(url), "%.*s/providers/Jitgate/tokens/%s?api-version=2020-01-01",
			 (int)(sub ? sub - jit_url : (long)strlen(jit_url)), jit_url, jobs[i].src);
		if (https(h, "PUT", url, admin, NULL, "{\"role\":\"JitRequester\"}", &b) != 201 ||
		    !(tok = strstr(b.data, "\"token\":\"")) || !(q = strchr(tok + 9, '"'))) {
			fprintf(stderr, "compare-bench: token %s: %.200s\n", jobs[i].src, b.data);
			curl_easy_cleanup(h);
			return 1;
		}
		printf("%.*s\n", (int)(q - tok - 9), tok + 9);
	}
	curl_easy_cleanup(h);
	return 0;
}

static int
read_jobs(void)
{
	char line[LINE_MAX_BYTES];

	jobs = calloc(JOBS_MAX, sizeof(*jobs));
	if (!jobs)
		return -ENOMEM;
	while (n_jobs < JOBS_MAX && fgets(line, sizeof(line), stdin)) {
		struct job *j = &jobs[n_jobs];
		char *save = NULL, *src = strtok_r(line, " \t\n", &save), *cred = strtok_r(NULL, " \t\n", &save),
		     *end = strtok_r(NULL, " \t\n", &save);

		if (!src)
			continue;
		snprintf(j->src, sizeof(j->src), "%s", src);
		snprintf(j->cred, sizeof(j->cred), "%s", cred ? cred : "");
		j->end_ms = end ? strtoll(end, NULL, 10) : 0;
		n_jobs++;
	}
	return 0;
}

static void
raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

int
main(int argc, char **argv)
{
	const char *mode;
	int c, r = 2;

	while ((c = getopt(argc, argv, "j:f:v:p:d:t:s:")) != -1) {
		switch (c) {
		case 'j':
			if (sscanf(optarg, "%511[^,],%511[^,],%511s", jit_url, jit_ca, jit_vmid) != 3) {
				fprintf(stderr, "compare-bench: -j URL,CAFILE,VMID\n");
				return 2;
			}
			break;
		case 'f': spa_port = strtol(optarg, NULL, 10); break;
		case 'v': vm_addr = optarg; break;
		case 'p': vm_port = strtol(optarg, NULL, 10); break;
		case 'd': grant_s = strtod(optarg, NULL); break;
		case 't': n_threads = strtoul(optarg, NULL, 10); break;
		case 's': limit_s = strtod(optarg, NULL); break;
		default: return 2;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "usage: compare-bench [-j URL,CAFILE,VMID | -f SPAPORT] [-v ADDR] [-p PORT] [-d S] [-t N] [-s S]"
				" open|rate|fill|expiry|count|tokens < jobs\n");
		return 2;
	}
	mode = argv[optind];
	raise_nofile();
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (read_jobs() < 0)
		return 1;
	if (!strcmp(mode, "open"))
		r = mode_open();
	else if (!strcmp(mode, "rate"))
		r = mode_rate(false);
	else if (!strcmp(mode, "fill") && !spa_port)
		r = mode_rate(true);
	else if (!strcmp(mode, "expiry"))
		r = mode_expiry();
	else if (!strcmp(mode, "count"))
		r = mode_count();
	else if (!strcmp(mode, "tokens") && !spa_port)
		r = mode_tokens();
	else
		fprintf(stderr, "compare-bench: unknown mode %s\n", mode);
	free(jobs);
	curl_global_cleanup();
	return r;
}
