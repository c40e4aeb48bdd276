/* propagate-bench: how soon a grant made on one jitgated replica answers an agent's watch held on another. */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>

/*
 * usage: propagate-bench BASE_A BASE_B CAFILE TOKEN POLICY VMID CREDENTIAL COUNT SRC
 *   A watch of agent VM VMID is held on BASE_B with the agent's CREDENTIAL (GET /agent/v1{VMID}/state?since=REV,
 *   polled again at once when answered, as jitgate-agent does). COUNT times: GAP_MS after the last answer (so the
 *   next poll is parked on B), an initiate of POLICY (on BASE_A, owner TOKEN) for VMID's port 22 from source SRC;
 *   the sample is initiate sent on A -> B's watch answered with a newer revision. Prints one line of key=value
 *   figures (percentiles of the samples, and of the initiate's own answer on A). Every wait is bounded.
 */

#define API_VERSION	"?api-version=2020-01-01"
#define SAMPLES_MAX	10000
#define GAP_MS		50L	/* after an answer: B has the next poll parked (a loopback round trip is far less) */
#define ANSWER_WAIT_MS	5000L	/* a sample whose watch is not answered by then counts as failed */
#define WATCH_TIMEOUT_MS 45000L	/* the agent's: above the server's 30 s hold */
#define CALL_TIMEOUT_MS	30000L
#define BODY_CAP	(8 << 20)	/* an agent's whole state: ~150 bytes a live grant, thousands live after the rate runs */
#define GRANT_SECONDS	3600

static const char *cafile;

struct body {
	char data[BODY_CAP + 1];
	size_t len;
};

/* The watcher on B: the newest revision answered, and when (CLOCK_MONOTONIC ms). */
struct watch {
	pthread_mutex_t lock;
	pthread_cond_t moved;
	int64_t rev;
	double at_ms;
	bool stop, failed;
	char url_base[1024], auth[1100];
};

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static size_t
body_write(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct body *b = ud;
	size_t n = size * nmemb, k = n;

	if (b->len + k > BODY_CAP)
		k = BODY_CAP - b->len;
	memcpy(b->data + b->len, ptr, k);
	b->len += k;
	b->data[b->len] = '\0';
	return n;
}

static CURL *
handle_new(struct body *b, long timeout_ms)
{
	CURL *h = curl_easy_init();

	if (!h)
		return NULL;
	curl_easy_setopt(h, CURLOPT_CAINFO, cafile);
	curl_easy_setopt(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, body_write);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, b);
	return h;
}

/* Polls B's watch until told to stop; each answer with a newer revision is noted and signalled. */
static void *
watch_run(void *arg)
{
	struct watch *w = arg;
	struct curl_slist *hdr = curl_slist_append(NULL, w->auth);
	static struct body b;
	CURL *h = handle_new(&b, WATCH_TIMEOUT_MS);

	if (!h) {
		curl_slist_free_all(hdr);
		pthread_mutex_lock(&w->lock);
		w->failed = true;
		pthread_cond_broadcast(&w->moved);
		pthread_mutex_unlock(&w->lock);
		return NULL;
	}
	int64_t since = -1;
	char url[1200];

	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
	for (;;) {
		long status = 0;
		json_t *o;
		int64_t rev;

		pthread_mutex_lock(&w->lock);
		if (w->stop) {
			pthread_mutex_unlock(&w->lock);
			break;
		}
		pthread_mutex_unlock(&w->lock);
		snprintf(url, sizeof(url), "%s?since=%lld", w->url_base, (long long)since);
		curl_easy_setopt(h, CURLOPT_URL, url);
		b.len = 0;
		b.data[0] = '\0';
		if (curl_easy_perform(h) == CURLE_OK)
			curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
		o = status == 200 ? json_loads(b.data, 0, NULL) : NULL;
		pthread_mutex_lock(&w->lock);
		if (!o) {
			fprintf(stderr, "propagate-bench: watch on B: HTTP %ld: %.200s\n", status, b.data);
			w->failed = true;
			pthread_cond_broadcast(&w->moved);
			pthread_mutex_unlock(&w->lock);
			break;
		}
		rev = (int64_t)json_integer_value(json_object_get(o, "revision"));
		json_decref(o);
		if (rev > w->rev) {
			w->rev = rev;
			w->at_ms = now_ms();
			pthread_cond_broadcast(&w->moved);
		}
		since = w->rev;
		pthread_mutex_unlock(&w->lock);
	}
	curl_easy_cleanup(h);
	curl_slist_free_all(hdr);
	return NULL;
}

/* Wait (<= ANSWER_WAIT_MS) until the watch has a revision above rev: when it came (ms), or -1. */
static double
watch_wait(struct watch *w, int64_t rev)
{
	struct timespec until;
	double at = -1;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += ANSWER_WAIT_MS / 1000;
	pthread_mutex_lock(&w->lock);
	while (w->rev <= rev && !w->failed)
		if (pthread_cond_timedwait(&w->moved, &w->lock, &until) == ETIMEDOUT)
			break;
	if (w->rev > rev)
		at = w->at_ms;
	pthread_mutex_unlock(&w->lock);
	return at;
}

static int64_t
watch_rev(struct watch *w)
{
	int64_t r;

	pthread_mutex_lock(&w->lock);
	r = w->rev;
	pthread_mutex_unlock(&w->lock);
	return r;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double
pct(const double *v, size_t n, double p)
{
	size_t k = (size_t)ceil(p * (double)n);

	return n ? v[k ? k - 1 : 0] : 0;
}

/* One initiate on A: the HTTP status. */
static long
initiate(CURL *h, struct body *b, const char *url, const char *auth, const char *vm, const char *src)
{
	struct curl_slist *hdr = curl_slist_append(NULL, auth);
	char json[2048], end[32];
	time_t t = time(NULL) + GRANT_SECONDS;
	struct tm tm;
	long status = -1;

	hdr = curl_slist_append(hdr, "Content-Type: application/json");
	gmtime_r(&t, &tm);
	strftime(end, sizeof(end), "%Y-%m-%dT%H:%M:%SZ", &tm);
	snprintf(json, sizeof(json), "{\"virtualMachines\":[{\"id\":\"%s\",\"ports\":[{\"number\":22,\"endTimeUtc\":\"%s\","
		 "\"allowedSourceAddressPrefix\":\"%s\"}]}]}", vm, end, src);
	b->len = 0;
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, json);
	if (curl_easy_perform(h) == CURLE_OK)
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
	curl_slist_free_all(hdr);
	return status;
}

int
main(int argc, char **argv)
{
	static double lat[SAMPLES_MAX], api[SAMPLES_MAX];
	static struct watch w = { .lock = PTHREAD_MUTEX_INITIALIZER };
	static struct body b;
	char url[1200], auth[1100];
	long count, i, failed = 0;
	size_t n = 0;
	pthread_t th;
	CURL *h;

	if (argc != 10 || (count = strtol(argv[8], NULL, 10)) <= 0 || count > SAMPLES_MAX) {
		fputs("usage: propagate-bench BASE_A BASE_B CAFILE TOKEN POLICY VMID CREDENTIAL COUNT SRC\n", stderr);
		return 2;
	}
	cafile = argv[3];
	curl_global_init(CURL_GLOBAL_DEFAULT);
	pthread_cond_init(&w.moved, NULL);
	w.rev = -1;
	snprintf(w.url_base, sizeof(w.url_base), "%s/agent/v1%s/state", argv[2], argv[6]);
	snprintf(w.auth, sizeof(w.auth), "Authorization: Bearer %s", argv[7]);
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", argv[4]);
	snprintf(url, sizeof(url), "%s%s/initiate" API_VERSION, argv[1], argv[5]);
	if (!(h = handle_new(&b, CALL_TIMEOUT_MS)) || pthread_create(&th, NULL, watch_run, &w) != 0)
		return 1;
	if (watch_wait(&w, -1) < 0) {	/* the first answer: the revision now */
		fputs("propagate-bench: the watch on B did not answer\n", stderr);
		return 1;
	}
	/* i = -1: a first initiate, not counted, opens the kept-alive connection to A */
	for (i = -1; i < count; i++) {
		int64_t rev;
		double t0, t202, t1;
		long st;

		usleep((useconds_t)GAP_MS * 1000);
		rev = watch_rev(&w);
		t0 = now_ms();
		st = initiate(h, &b, url, auth, argv[6], argv[9]);
		t202 = now_ms();
		if (st != 202) {
			fprintf(stderr, "propagate-bench: initiate on A: HTTP %ld: %.300s\n", st, b.data);
			failed++;
			continue;
		}
		if ((t1 = watch_wait(&w, rev)) < 0) {
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
	printf("n=%zu failed=%ld p50_ms=%.1f p90_ms=%.1f p99_ms=%.1f max_ms=%.1f initiate_p50_ms=%.1f initiate_p99_ms=%.1f\n",
	       n, failed, pct(lat, n, 0.5), pct(lat, n, 0.9), pct(lat, n, 0.99), pct(lat, n, 1.0), pct(api, n, 0.5),
	       pct(api, n, 0.99));
	fflush(stdout);
	/* the watcher may sit in a held poll for up to 30 s: end without waiting for it */
	_exit(failed ? 1 : 0);
}
