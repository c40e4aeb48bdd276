/*
 * Load for the crash test: THREADS clients send TOTAL initiate requests between them, each from its own source
 * address, retrying (a bounded number of times) while the server is down, and print one JSON line per request.
 * usage: loadgen URL CACERT TOKENS_FILE TOTAL THREADS VM_ID PORT_FIRST PORT_COUNT [MIN_S MAX_S]
 *   URL is the policy's initiate URL (with ?api-version=); TOKENS_FILE has one token a line, thread i uses line
 *   i % lines. Request k asks for port PORT_FIRST + k % PORT_COUNT from 10.64.(k/250).(k%250 + 1), for
 *   MIN_S + (k * 7) % (MAX_S - MIN_S + 1) seconds. Output lines:
 *   {"k":K,"src":"A","port":P,"code":C,"no_answer":N,"busy":M,"body":B}   (C 0, B null: never an answer;
 *   N tries found the server down, M were answered 503)
 * Environment: LOADGEN_RATE=R paces the requests to R per second in all (request k starts at k / R s at the earliest).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#define LOADGEN_TOKENS_MAX	64
#define LOADGEN_TRIES_MAX	100	/* per request: 100 tries 100 ms apart outlast any restart */
#define LOADGEN_RETRY_US	100000
#define LOADGEN_BODY_MAX	(64 * 1024)

static const char *url, *cacert, *vm_id;
static char tokens[LOADGEN_TOKENS_MAX][128];
static int n_tokens, total, port_first, port_count, min_s = 3, max_s = 40;
static atomic_int next_k;
static double rate, t_start;	/* requests per second in all (0: as fast as they go); CLOCK_MONOTONIC start */
static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;

struct body {
	char data[LOADGEN_BODY_MAX];
	size_t len;
};

static size_t
on_data(char *p, size_t size, size_t n, void *ctx)
{
	struct body *b = ctx;
	size_t len = size * n, room = sizeof(b->data) - 1 - b->len;

	memcpy(b->data + b->len, p, len < room ? len : room);
	b->len += len < room ? len : room;
	b->data[b->len] = '\0';
	return len;
}

static double
mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long
parse_num(const char *s, long lo, long hi)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (*s == '\0' || *end != '\0' || v < lo || v > hi) {
		fprintf(stderr, "loadgen: bad number '%s'\n", s);
		exit(2);
	}
	return v;
}

static void *
client(void *arg)
{
	int id = (int)(long)arg;
	CURL *h = curl_easy_init();
	struct curl_slist *hdr = NULL;
	char auth[160];
	static struct body b[LOADGEN_TOKENS_MAX];	/* one per thread: too big for a thread's stack */
	struct body *bd = &b[id % LOADGEN_TOKENS_MAX];
	int k;

	if (!h)
		return NULL;
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", tokens[id % n_tokens]);
	hdr = curl_slist_append(hdr, auth);
	hdr = curl_slist_append(hdr, "Content-Type: application/json");
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_CAINFO, cacert);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, bd);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 1000L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 5000L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	while ((k = atomic_fetch_add(&next_k, 1)) < total) {
		char src[32], end[32], req[512];
		struct tm tm;
		time_t t;
		long code = 0;
		int tries, n_none = 0, n_503 = 0, port = port_first + k % port_count;

		if (rate > 0) {
			double wait = t_start + k / rate - mono_s();

			if (wait > 0)
				usleep((useconds_t)(wait * 1e6));
		}
		snprintf(src, sizeof(src), "10.64.%d.%d", k / 250, k % 250 + 1);
		for (tries = 1; tries <= LOADGEN_TRIES_MAX; tries++) {
			CURLcode rc;

			t = time(NULL) + min_s + (k * 7) % (max_s - min_s + 1);
			gmtime_r(&t, &tm);
			strftime(end, sizeof(end), "%Y-%m-%dT%H:%M:%SZ", &tm);
			snprintf(req, sizeof(req),
				 "{\"virtualMachines\":[{\"id\":\"%s\",\"ports\":[{\"number\":%d,\"endTimeUtc\":\"%s\","
				 "\"allowedSourceAddressPrefix\":\"%s\"}]}],\"justification\":\"crash test %d\"}",
				 vm_id, port, end, src, k);
			curl_easy_setopt(h, CURLOPT_POSTFIELDS, req);
			bd->len = 0;
			bd->data[0] = '\0';
			rc = curl_easy_perform(h);
			code = 0;
			if (rc == CURLE_OK)
				curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
			/* no answer (the server is down), or 503 (busy): try again after a pause; anything else is final */
			if (code == 0)
				n_none++;
			else if (code == 503)
				n_503++;
			else
				break;
			if (tries < LOADGEN_TRIES_MAX)
				usleep(LOADGEN_RETRY_US);
		}
		pthread_mutex_lock(&out_lock);
		printf("{\"k\":%d,\"src\":\"%s\",\"port\":%d,\"code\":%ld,\"no_answer\":%d,\"busy\":%d,\"body\":%s}\n", k,
		       src, port, code, n_none, n_503, code && bd->data[0] == '{' ? bd->data : "null");
		fflush(stdout);
		pthread_mutex_unlock(&out_lock);
	}
	curl_slist_free_all(hdr);
	curl_easy_cleanup(h);
	return NULL;
}

int
main(int argc, char **argv)
{
	pthread_t th[LOADGEN_TOKENS_MAX];
	FILE *f;
	int n_threads, i;

	if (argc != 9 && argc != 11) {
		fputs("usage: loadgen URL CACERT TOKENS_FILE TOTAL THREADS VM_ID PORT_FIRST PORT_COUNT [MIN_S MAX_S]\n",
		      stderr);
		return 2;
	}
	url = argv[1];
	cacert = argv[2];
	total = (int)parse_num(argv[4], 1, 62500);
	n_threads = (int)parse_num(argv[5], 1, LOADGEN_TOKENS_MAX);
	vm_id = argv[6];
	port_first = (int)parse_num(argv[7], 1, 65535);
	port_count = (int)parse_num(argv[8], 1, 65536 - port_first);
	if (argc == 11) {
		min_s = (int)parse_num(argv[9], 1, 86400);
		max_s = (int)parse_num(argv[10], min_s, 86400);
	}
	if (!(f = fopen(argv[3], "r"))) {
		perror(argv[3]);
		return 2;
	}
	while (n_tokens < LOADGEN_TOKENS_MAX && fgets(tokens[n_tokens], sizeof(tokens[0]), f)) {
		tokens[n_tokens][strcspn(tokens[n_tokens], "\r\n")] = '\0';
		if (tokens[n_tokens][0])
			n_tokens++;
	}
	fclose(f);
	if (!n_tokens) {
		fputs("loadgen: no tokens\n", stderr);
		return 2;
	}
	if (getenv("LOADGEN_RATE"))
		rate = (double)parse_num(getenv("LOADGEN_RATE"), 1, 100000);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	t_start = mono_s();
	for (i = 0; i < n_threads; i++)
		if (pthread_create(&th[i], NULL, client, (void *)(long)i)) {
			n_threads = i;
			break;
		}
	for (i = 0; i < n_threads; i++)
		pthread_join(th[i], NULL);
	curl_global_cleanup();
	return 0;
}
