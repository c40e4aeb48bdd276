/* server-bench: drives a running jitgated over HTTPS (libcurl, keep-alive) and prints latency and rate figures. */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

/*
 * usage: server-bench BASE CAFILE TOKENFILE MODE ARGS...
 *   BASE       https://127.0.0.1:8443; or several replicas' "https://A:8443,https://B:8443": in initiate and get,
 *              thread t talks to the (t mod n)-th, the other modes to the first
 *   TOKENFILE  one bearer token a line; token i is line i
 *   setup    LOCALVM VMS PORTS         PUT VMS-1 gateway VMs bgwN, then the policy: LOCALVM and them, PORTS rules each
 *   latency  COUNT TOKENS PORTS OCTET  sequential single-grant initiates on ONE connection; request i uses token
 *                                      (i / PORTS) % TOKENS and rule i % PORTS, source 10.OCTET.x.y (distinct)
 *   initiate THREADS SECONDS PORTS     thread t: own connection, token t, cycles its PORTS rules, distinct sources
 *   get      THREADS SECONDS           GET of the policy, own connection per thread, token t
 *   load     GRANTS VMS PORTS THREADS TOKEN0 SECONDS
 *                                      request r: token TOKEN0 + r / VMS, VM r % VMS, all PORTS rules, distinct sources;
 *                                      every (token, VM, rule) once, so no grant supersedes another
 * Each mode prints one line of key=value figures on stdout; errors go to stderr. Times are bounded.
 * BENCH_GZIP=1 in the environment: every client sends "Accept-Encoding: gzip".
 * BENCH_VM=NAME in the environment: the VM latency, initiate and get ask for (default benchvm, or setup's LOCALVM).
 */

#define SUB "00000000-0000-0000-0000-000000000000"
#define POLICY_PATH "/subscriptions/" SUB "/resourceGroups/default/providers/Microsoft.Security/locations/local/" \
		    "jitNetworkAccessPolicies/default"
#define VM_PATH "/subscriptions/" SUB "/resourceGroups/default/providers/Microsoft.Compute/virtualMachines/"
#define API_VERSION "?api-version=2020-01-01"
#define TOKENS_MAX 4096
#define TOKEN_LEN_MAX 256
#define PORTS_MAX 64
#define VMS_MAX 1000
#define REQUEST_TIMEOUT_MS 30000L
#define CONNECT_TIMEOUT_MS 3000L
#define ERRORS_SHOWN 5
#define SAMPLES_MAX 1000000

#define BASES_MAX 8
#define BASE_LEN_MAX 256

static const char *cafile;
static char bases[BASES_MAX][BASE_LEN_MAX];
static size_t n_bases;
static char tokens[TOKENS_MAX][TOKEN_LEN_MAX];
static size_t n_tokens;
static char local_vm[64] = "benchvm";
static pthread_mutex_t err_lock = PTHREAD_MUTEX_INITIALIZER;
static int errors_shown;

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A growable response buffer: counts every byte, keeps the first `cap`. */
struct body {
	char *data;
	size_t len, cap, total;
};

static size_t
body_write(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct body *b = ud;
	size_t n = size * nmemb, k = n;

	b->total += n;
	if (b->len + k > b->cap)
		k = b->cap - b->len;
	if (k) {
		memcpy(b->data + b->len, ptr, k);
		b->len += k;
	}
	return n;
}

struct client {
	CURL *h;
	struct body body;
	char bodybuf[1024];
	char url[512];
	const char *base;		/* the replica it talks to */
	long conns;
	curl_off_t wire;		/* body bytes as they came, before libcurl inflated them (last request) */
};

static int
client_init(struct client *c)
{
	memset(c, 0, sizeof(*c));
	c->h = curl_easy_init();
	if (!c->h)
		return -ENOMEM;
	c->base = bases[0];
	c->body.data = c->bodybuf;
	c->body.cap = sizeof(c->bodybuf) - 1;
	curl_easy_setopt(c->h, CURLOPT_CAINFO, cafile);
	curl_easy_setopt(c->h, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(c->h, CURLOPT_SSL_VERIFYHOST, 2L);
	if (getenv("BENCH_GZIP"))	/* ask for compressed answers (libcurl inflates them here, on the client's CPU) */
		curl_easy_setopt(c->h, CURLOPT_ACCEPT_ENCODING, "gzip");
	curl_easy_setopt(c->h, CURLOPT_TIMEOUT_MS, REQUEST_TIMEOUT_MS);
	curl_easy_setopt(c->h, CURLOPT_CONNECTTIMEOUT_MS, CONNECT_TIMEOUT_MS);
	curl_easy_setopt(c->h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c->h, CURLOPT_TCP_NODELAY, 1L);
	curl_easy_setopt(c->h, CURLOPT_WRITEFUNCTION, body_write);
	curl_easy_setopt(c->h, CURLOPT_WRITEDATA, &c->body);
	curl_easy_setopt(c->h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	return 0;
}

static void
client_free(struct client *c)
{
	if (c->h)
		curl_easy_cleanup(c->h);
	c->h = NULL;
}

static void
show_error(const char *what, long status, CURLcode cc, const struct body *b)
{
	pthread_mutex_lock(&err_lock);
	if (errors_shown++ < ERRORS_SHOWN)
		fprintf(stderr, "server-bench: %s: %s, HTTP %ld: %.*s\n", what, curl_easy_strerror(cc), status,
			(int)(b->len > 400 ? 400 : b->len), b->data ? b->data : "");
	pthread_mutex_unlock(&err_lock);
}

/*
 * One request on the client's (kept-alive) connection. Returns the HTTP status or -1; *ret_s is the time from
 * the request leaving (pretransfer: connection and TLS already there) to the full response received.
 */
static long
client_do(struct client *c, const char *method, const char *path, const char *token, const char *json, double *ret_s)
{
	struct curl_slist *hdr = NULL;
	char auth[TOKEN_LEN_MAX + 32];
	curl_off_t total = 0, pre = 0;
	long status = -1, nc = 0;
	CURLcode cc;

	snprintf(c->url, sizeof(c->url), "%s%s" API_VERSION, c->base, path);
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
	hdr = curl_slist_append(hdr, auth);
	if (json)
		hdr = curl_slist_append(hdr, "Content-Type: application/json");
	hdr = curl_slist_append(hdr, "Expect:");	/* no 100-continue round trip for big bodies */
	c->body.len = c->body.total = 0;
	curl_easy_setopt(c->h, CURLOPT_URL, c->url);
	curl_easy_setopt(c->h, CURLOPT_HTTPHEADER, hdr);
	if (json) {
		curl_easy_setopt(c->h, CURLOPT_POSTFIELDS, json);
		curl_easy_setopt(c->h, CURLOPT_POSTFIELDSIZE, (long)strlen(json));
	} else {
		curl_easy_setopt(c->h, CURLOPT_HTTPGET, 1L);
	}
	curl_easy_setopt(c->h, CURLOPT_CUSTOMREQUEST, strcmp(method, "GET") && strcmp(method, "POST") ? method : NULL);
	cc = curl_easy_perform(c->h);
	c->body.data[c->body.len] = '\0';
	if (cc == CURLE_OK) {
		curl_easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, &status);
		curl_easy_getinfo(c->h, CURLINFO_TOTAL_TIME_T, &total);
		curl_easy_getinfo(c->h, CURLINFO_PRETRANSFER_TIME_T, &pre);
		curl_easy_getinfo(c->h, CURLINFO_NUM_CONNECTS, &nc);
		c->conns += nc;
		if (curl_easy_getinfo(c->h, CURLINFO_SIZE_DOWNLOAD_T, &c->wire) != CURLE_OK)
			c->wire = 0;
	} else {
		show_error(path, 0, cc, &c->body);
	}
	if (ret_s)
		*ret_s = (double)(total - pre) / 1e6;
	curl_easy_setopt(c->h, CURLOPT_HTTPHEADER, NULL);
	curl_slist_free_all(hdr);
	return status;
}

/* ---- JSON bodies ---- */

struct sbuf {
	char *p;
	size_t len, cap;
};

static void sb_add(struct sbuf *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
sb_add(struct sbuf *s, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(s->p ? s->p + s->len : NULL, s->p ? s->cap - s->len : 0, fmt, ap);
		va_end(ap);
		if (n < 0)
			abort();
		if (s->p && s->len + (size_t)n < s->cap) {
			s->len += (size_t)n;
			return;
		}
		s->cap = (s->cap + (size_t)n + 1) * 2;
		s->p = realloc(s->p, s->cap);
		if (!s->p)
			abort();
	}
}

static uint16_t
port_of(size_t k)
{
	return k == 0 ? 22 : (uint16_t)(1000 + k);
}

static void
vm_name(size_t v, char *buf, size_t size)
{
	if (v == 0)
		snprintf(buf, size, "%s", local_vm);
	else
		snprintf(buf, size, "bgw%zu", v);
}

static void
end_time(char *buf, size_t size)
{
	time_t t = time(NULL) + 2 * 3600;
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Sources are 10.a.b.c with a 24-bit counter: distinct for every grant the bench makes. */
static void
source_of(unsigned octet, uint32_t i, char *buf, size_t size)
{
	uint32_t x = ((uint32_t)octet << 16) + i;

	snprintf(buf, size, "10.%u.%u.%u", (x >> 16) & 255, (x >> 8) & 255, x & 255);
}

/* An initiate body for one VM: ports[k0 .. k0+n), sources from *src on. */
static void
initiate_body(struct sbuf *s, size_t vm, size_t k0, size_t n, unsigned octet, uint32_t *src)
{
	char name[64], when[32], a[32];
	size_t k;

	vm_name(vm, name, sizeof(name));
	end_time(when, sizeof(when));
	s->len = 0;
	sb_add(s, "{\"virtualMachines\":[{\"id\":\"" VM_PATH "%s\",\"ports\":[", name);
	for (k = 0; k < n; k++) {
		source_of(octet, (*src)++, a, sizeof(a));
		sb_add(s, "%s{\"number\":%u,\"endTimeUtc\":\"%s\",\"allowedSourceAddressPrefix\":\"%s\"}", k ? "," : "",
		       port_of(k0 + k), when, a);
	}
	sb_add(s, "]}],\"justification\":\"server-bench\"}");
}

/* ---- modes ---- */

static int
mode_setup(size_t vms, size_t ports)
{
	struct client c;
	struct sbuf s = { 0 };
	char name[64], path[256];
	size_t v, k;
	long st;
	int r = 1;

	if (client_init(&c) < 0)
		return 1;
	for (v = 1; v < vms; v++) {
		vm_name(v, name, sizeof(name));
		s.len = 0;
		sb_add(&s, "{\"location\":\"local\",\"properties\":{\"osType\":\"Linux\",\"enforcement\":\"gateway\","
			   "\"addresses\":[\"10.250.%zu.%zu\"]}}", v / 250, v % 250 + 1);
		snprintf(path, sizeof(path), VM_PATH "%s", name);
		st = client_do(&c, "PUT", path, tokens[0], s.p, NULL);
		if (st != 200 && st != 201) {
			show_error("PUT VM", st, CURLE_OK, &c.body);
			goto out;
		}
	}
	s.len = 0;
	sb_add(&s, "{\"location\":\"local\",\"kind\":\"Basic\",\"properties\":{\"virtualMachines\":[");
	for (v = 0; v < vms; v++) {
		vm_name(v, name, sizeof(name));
		sb_add(&s, "%s{\"id\":\"" VM_PATH "%s\",\"ports\":[", v ? "," : "", name);
		for (k = 0; k < ports; k++)
			sb_add(&s, "%s{\"number\":%u,\"protocol\":\"TCP\",\"allowedSourceAddressPrefix\":\"*\","
				   "\"maxRequestAccessDuration\":\"PT3H\"}", k ? "," : "", port_of(k));
		sb_add(&s, "]}");
	}
	sb_add(&s, "]}}");
	st = client_do(&c, "PUT", POLICY_PATH, tokens[0], s.p, NULL);
	if (st != 200 && st != 201) {
		show_error("PUT policy", st, CURLE_OK, &c.body);
		goto out;
	}
	printf("setup vms=%zu ports=%zu policy_bytes=%zu\n", vms, ports, s.len);
	r = 0;
out:
	free(s.p);
	client_free(&c);
	return r;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static int
mode_latency(size_t count, size_t ntok, size_t ports, unsigned octet)
{
	struct client c;
	struct sbuf s = { 0 };
	double *lat = calloc(count ? count : 1, sizeof(*lat)), sum = 0, t0 = now_s();
	size_t i, ok = 0, fail = 0;
	uint32_t src = 0;
	long st;

	if (!lat || client_init(&c) < 0 || ntok == 0 || ntok > n_tokens || ports == 0)
		return 1;
	for (i = 0; i < count; i++) {
		double d = 0;

		initiate_body(&s, 0, i % ports, 1, octet, &src);
		st = client_do(&c, "POST", POLICY_PATH "/initiate", tokens[(i / ports) % ntok], s.p, &d);
		if (st == 202) {
			lat[ok++] = d;
			sum += d;
		} else {
			fail++;
			show_error("initiate", st, CURLE_OK, &c.body);
		}
	}
	qsort(lat, ok, sizeof(*lat), cmp_double);
	printf("latency n=%zu ok=%zu fail=%zu conns=%ld wall_s=%.2f p50_ms=%.3f p99_ms=%.3f max_ms=%.3f mean_ms=%.3f\n",
	       count, ok, fail, c.conns, now_s() - t0, ok ? lat[ok / 2] * 1e3 : 0, ok ? lat[(ok * 99) / 100] * 1e3 : 0,
	       ok ? lat[ok - 1] * 1e3 : 0, ok ? sum / (double)ok * 1e3 : 0);
	free(lat);
	free(s.p);
	client_free(&c);
	return 0;
}

struct worker {
	pthread_t thread;
	size_t index, ports;
	bool get;
	double deadline;
	/* load mode */
	size_t n_threads, vms, token0, requests;
	/* results */
	size_t ok, fail, bytes, wire, grants;
	long conns;
	double sum_s, max_s;
	size_t n_samples;
	double *samples;
};

static void *
worker_rate(void *arg)
{
	struct worker *w = arg;
	struct client c;
	struct sbuf s = { 0 };
	uint32_t src = 0;
	size_t k = 0;
	long st;

	if (client_init(&c) < 0)
		return NULL;
	c.base = bases[w->index % n_bases];
	w->samples = calloc(SAMPLES_MAX, sizeof(*w->samples));
	while (now_s() < w->deadline && w->samples) {
		double d = 0;

		if (w->get) {
			st = client_do(&c, "GET", POLICY_PATH, tokens[w->index % n_tokens], NULL, &d);
		} else {
			initiate_body(&s, 0, k++ % w->ports, 1, 16 + (unsigned)w->index, &src);
			st = client_do(&c, "POST", POLICY_PATH "/initiate", tokens[w->index % n_tokens], s.p, &d);
		}
		if (st == (w->get ? 200 : 202)) {
			w->ok++;
			w->bytes += c.body.total;
			w->wire += (size_t)c.wire;
			w->sum_s += d;
			if (d > w->max_s)
				w->max_s = d;
			if (w->n_samples < SAMPLES_MAX)
				w->samples[w->n_samples++] = d;
		} else {
			w->fail++;
			show_error(w->get ? "GET" : "initiate", st, CURLE_OK, &c.body);
			if (st < 0)
				break;
		}
	}
	w->conns = c.conns;
	free(s.p);
	client_free(&c);
	return NULL;
}

static void *
worker_load(void *arg)
{
	struct worker *w = arg;
	struct client c;
	struct sbuf s = { 0 };
	size_t r;
	long st;

	if (client_init(&c) < 0)
		return NULL;
	for (r = w->index; r < w->requests && now_s() < w->deadline; r += w->n_threads) {
		size_t tok = w->token0 + r / w->vms;
		uint32_t src = (uint32_t)(r * w->ports);
		double d = 0;

		if (tok >= n_tokens) {
			fprintf(stderr, "server-bench: load needs token %zu, the file has %zu\n", tok, n_tokens);
			break;
		}
		/* 10.64.0.0 on: 4M addresses, room for 65,536 requests of 64 */
		initiate_body(&s, r % w->vms, 0, w->ports, 64, &src);
		st = client_do(&c, "POST", POLICY_PATH "/initiate", tokens[tok], s.p, &d);
		if (st == 202) {
			w->ok++;
			w->grants += w->ports;
			w->sum_s += d;
			if (d > w->max_s)
				w->max_s = d;
		} else {
			w->fail++;
			show_error("load initiate", st, CURLE_OK, &c.body);
			if (st < 0)
				break;
		}
	}
	w->conns = c.conns;
	free(s.p);
	client_free(&c);
	return NULL;
}

/* BASE: one address, or several separated by commas. */
static int
parse_bases(const char *arg)
{
	const char *p = arg, *comma;
	size_t n;

	for (n_bases = 0; *p; p = *comma ? comma + 1 : comma) {
		comma = strchr(p, ',');
		if (!comma)
			comma = p + strlen(p);
		n = (size_t)(comma - p);
		if (n_bases == BASES_MAX || n == 0 || n >= BASE_LEN_MAX)
			return -EINVAL;
		memcpy(bases[n_bases], p, n);
		bases[n_bases++][n] = '\0';
	}
	return n_bases ? 0 : -EINVAL;
}

static int
mode_rate(size_t threads, double seconds, size_t ports, bool get)
{
	struct worker *w = calloc(threads, sizeof(*w));
	double t0 = now_s(), elapsed, sum = 0, max = 0, *all;
	size_t i, ok = 0, fail = 0, bytes = 0, wire = 0, n = 0;
	long conns = 0;

	if (!w)
		return 1;
	for (i = 0; i < threads; i++) {
		w[i].index = i;
		w[i].ports = ports ? ports : 1;
		w[i].get = get;
		w[i].deadline = t0 + seconds;
		if (pthread_create(&w[i].thread, NULL, worker_rate, &w[i]) != 0)
			return 1;
	}
	for (i = 0; i < threads; i++)
		pthread_join(w[i].thread, NULL);
	elapsed = now_s() - t0;
	for (i = 0; i < threads; i++) {
		ok += w[i].ok;
		fail += w[i].fail;
		bytes += w[i].bytes;
		wire += w[i].wire;
		conns += w[i].conns;
		sum += w[i].sum_s;
		n += w[i].n_samples;
		if (w[i].max_s > max)
			max = w[i].max_s;
	}
	all = calloc(n ? n : 1, sizeof(*all));
	for (i = 0, n = 0; all && i < threads; i++) {
		memcpy(all + n, w[i].samples, w[i].n_samples * sizeof(*all));
		n += w[i].n_samples;
	}
	if (all)
		qsort(all, n, sizeof(*all), cmp_double);
	printf("%s threads=%zu seconds=%.2f ok=%zu fail=%zu conns=%ld per_s=%.0f mean_ms=%.3f p50_ms=%.3f p99_ms=%.3f "
	       "max_ms=%.3f bytes_per_response=%zu wire_bytes_per_response=%zu\n",
	       get ? "get" : "initiate", threads, elapsed, ok, fail, conns, (double)ok / elapsed,
	       ok ? sum / (double)ok * 1e3 : 0, n && all ? all[n / 2] * 1e3 : 0, n && all ? all[(n * 99) / 100] * 1e3 : 0,
	       max * 1e3, ok ? bytes / ok : 0, ok ? wire / ok : 0);
	for (i = 0; i < threads; i++)
		free(w[i].samples);
	free(all);
	free(w);
	return 0;
}

static int
mode_load(size_t grants, size_t vms, size_t ports, size_t threads, size_t token0, double seconds)
{
	struct worker *w = calloc(threads, sizeof(*w));
	size_t requests = (grants + ports - 1) / ports, i, ok = 0, fail = 0, done = 0;
	double t0 = now_s(), sum = 0, max = 0, elapsed;

	if (!w || vms == 0 || ports == 0)
		return 1;
	for (i = 0; i < threads; i++) {
		w[i].index = i;
		w[i].n_threads = threads;
		w[i].vms = vms;
		w[i].ports = ports;
		w[i].token0 = token0;
		w[i].requests = requests;
		w[i].deadline = t0 + seconds;
		if (pthread_create(&w[i].thread, NULL, worker_load, &w[i]) != 0)
			return 1;
	}
	for (i = 0; i < threads; i++)
		pthread_join(w[i].thread, NULL);
	elapsed = now_s() - t0;
	for (i = 0; i < threads; i++) {
		ok += w[i].ok;
		fail += w[i].fail;
		done += w[i].grants;
		sum += w[i].sum_s;
		if (w[i].max_s > max)
			max = w[i].max_s;
	}
	printf("load grants=%zu requests=%zu ok=%zu fail=%zu seconds=%.2f grants_per_s=%.0f mean_request_ms=%.2f "
	       "max_request_ms=%.2f timed_out=%d\n",
	       done, requests, ok, fail, elapsed, (double)done / elapsed, ok ? sum / (double)ok * 1e3 : 0, max * 1e3,
	       ok + fail < requests);
	free(w);
	return 0;
}

static int
read_tokens(const char *path)
{
	FILE *f = fopen(path, "r");
	char line[TOKEN_LEN_MAX];

	if (!f)
		return -errno;
	while (n_tokens < TOKENS_MAX && fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\r\n")] = '\0';
		if (line[0])
			snprintf(tokens[n_tokens++], TOKEN_LEN_MAX, "%s", line);
	}
	fclose(f);
	return n_tokens ? 0 : -ENOENT;
}

static size_t
arg_size(char **argv, int argc, int i, size_t dflt)
{
	return i < argc ? strtoul(argv[i], NULL, 10) : dflt;
}

int
main(int argc, char **argv)
{
	const char *mode;
	int r = 2;

	if (argc < 5) {
		fputs("usage: server-bench BASE CAFILE TOKENFILE setup|latency|initiate|get|load ARGS...\n", stderr);
		return 2;
	}
	if (getenv("BENCH_VM"))
		snprintf(local_vm, sizeof(local_vm), "%s", getenv("BENCH_VM"));
	if (parse_bases(argv[1]) < 0) {
		fprintf(stderr, "server-bench: BASE: at most %d addresses of fewer than %d characters\n", BASES_MAX,
			BASE_LEN_MAX);
		return 2;
	}
	cafile = argv[2];
	mode = argv[4];
	if (read_tokens(argv[3]) < 0) {
		fprintf(stderr, "server-bench: no tokens in %s\n", argv[3]);
		return 2;
	}
	if (getenv("BENCH_VM"))
		snprintf(local_vm, sizeof(local_vm), "%s", getenv("BENCH_VM"));
	if (curl_global_init(CURL_GLOBAL_ALL) != CURLE_OK)
		return 1;
	if (!strcmp(mode, "setup") && argc >= 8) {
		snprintf(local_vm, sizeof(local_vm), "%s", argv[5]);
		r = mode_setup(arg_size(argv, argc, 6, 1), arg_size(argv, argc, 7, 1));
	} else if (!strcmp(mode, "latency")) {
		r = mode_latency(arg_size(argv, argc, 5, 1000), arg_size(argv, argc, 6, 1), arg_size(argv, argc, 7, 1),
				 (unsigned)arg_size(argv, argc, 8, 1));
	} else if (!strcmp(mode, "initiate")) {
		r = mode_rate(arg_size(argv, argc, 5, 16), (double)arg_size(argv, argc, 6, 10), arg_size(argv, argc, 7, 1),
			      false);
	} else if (!strcmp(mode, "get")) {
		r = mode_rate(arg_size(argv, argc, 5, 16), (double)arg_size(argv, argc, 6, 10), 1, true);
	} else if (!strcmp(mode, "load")) {
		r = mode_load(arg_size(argv, argc, 5, 100000), arg_size(argv, argc, 6, 1), arg_size(argv, argc, 7, 64),
			      arg_size(argv, argc, 8, 1), arg_size(argv, argc, 9, 0), (double)arg_size(argv, argc, 10, 600));
	} else {
		fprintf(stderr, "server-bench: unknown mode or missing arguments: %s\n", mode);
	}
	curl_global_cleanup();
	return r;
}
