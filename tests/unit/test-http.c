/* Tests for the HTTPS layer and the TLS material: a real server on loopback, real TLS clients (libcurl), real sockets. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <gnutls/gnutls.h>
#include <gnutls/crypto.h>
#include <gnutls/x509.h>
#include <microhttpd.h>

#include "core/limits.h"
#include "core/timeutil.h"
#include "daemon/tls.h"
#include "http/http-limits.h"
#include "http/http.h"
#include "../gunzip.h"

#define CONN_TIMEOUT_S 1
#define PARKED_MAX 2
#define BIGHEAD_VALUE 200	/* /bighead answers three headers of this many bytes */
/* what a request's head holds of the pool besides the header a test sizes: curl's line and headers, their records */
#define HEAD_BASE 512
/* /roomhead answers X-Room bytes of header values, in pieces of ROOM_CHUNK, at most ROOM_MAX (7 headers) */
#define ROOM_CHUNK 500
#define ROOM_MAX (7 * ROOM_CHUNK)
#define POOL_PROBE_ENTRIES 40	/* header lines, cookies or query arguments of test_pool_entries' requests */
#define POOL_PROBE_PAD 2000	/* bytes of its reference request's one X-Pad header */

/* What the handler saw last, written by the server thread and read by the test thread. */
struct seen {
	pthread_mutex_t lock;
	unsigned calls;
	char method[16];
	char path[256];
	char api_version[64];
	char query_all[256];
	char x_test[64];
	char *body;
	size_t body_len;
	bool body_terminated;
	bool via_unix;
	uid_t peer_uid;
	struct net_addr peer;
};

static struct {
	char dir[64];
	char cert[128];
	char key[128];
	char sock[128];
	struct http_server *srv;
	int port;
	pthread_t thread;
	int stop_pipe[2];
	struct seen seen;
} T = { .seen = { .lock = PTHREAD_MUTEX_INITIALIZER } };

static void
copy_str(char *dst, size_t size, const char *src)
{
	snprintf(dst, size, "%s", src ? src : "(null)");
}

static int
collect_query(void *ctx, const char *key, const char *value)
{
	char *all = ctx;
	size_t len = strlen(all);

	snprintf(all + len, sizeof(T.seen.query_all) - len, "%s=%s;", key, value);
	return 0;
}

/*
 * Parking: "/park/K?ms=N" parks with key K for N ms and answers {"woken":true} once "/wake/K"
 * has been asked (which calls http_server_wake), or {"expired":true} at its deadline; "/parked"
 * says how many are parked. All on the server thread, as in jitgated.
 */
#define PARK_KEYS 8
static bool park_woken[PARK_KEYS];

static void
answer(struct http_response *resp, int status, const char *name, unsigned long n)
{
	resp->status = status;
	if (asprintf(&resp->body, "{\"%s\":%lu}", name, n) < 0)
		abort();
	resp->body_len = strlen(resp->body);
}

static bool
park_handler(const struct http_request *req, struct http_response *resp)
{
	const char *ms = http_request_query(req, "ms");
	unsigned long key;

	if (strcmp(req->path, "/parked") == 0) {
		answer(resp, 200, "parked", http_server_parked(T.srv));
		return true;
	}
	if (strncmp(req->path, "/wake/", 6) == 0) {
		key = strtoul(req->path + 6, NULL, 10) % PARK_KEYS;
		park_woken[key] = true;
		answer(resp, 200, "woken", http_server_wake(T.srv, key));
		return true;
	}
	if (strncmp(req->path, "/park/", 6) != 0)
		return false;
	key = strtoul(req->path + 6, NULL, 10) % PARK_KEYS;
	if (req->park_expired)
		answer(resp, 200, "expired", key);
	else if (park_woken[key])
		answer(resp, 200, "woken", key);
	else {
		resp->park = true;
		resp->park_key = key;
		resp->park_until_ms = time_mono_ms() + (ms ? strtol(ms, NULL, 10) : 10000);
	}
	return true;
}

static void
handler(void *ctx, const struct http_request *req, struct http_response *resp)
{
	struct seen *s = ctx;

	pthread_mutex_lock(&s->lock);
	s->calls++;
	copy_str(s->method, sizeof(s->method), req->method);
	copy_str(s->path, sizeof(s->path), req->path);
	copy_str(s->api_version, sizeof(s->api_version), http_request_query(req, "api-version"));
	s->query_all[0] = '\0';
	http_request_query_each(req, collect_query, s->query_all);
	copy_str(s->x_test, sizeof(s->x_test), http_request_header(req, "x-test"));
	free(s->body);
	/* No cmocka asserts on this thread: they longjmp into the test thread's frames. */
	s->body = malloc(req->body_len + 1);
	if (s->body == NULL)
		abort();
	memcpy(s->body, req->body, req->body_len);
	s->body_len = req->body_len;
	s->body_terminated = req->body[req->body_len] == '\0';
	s->via_unix = req->via_unix;
	s->peer_uid = req->peer_uid;
	s->peer = req->peer;
	pthread_mutex_unlock(&s->lock);

	if (strcmp(req->path, "/nostatus") == 0)
		return;
	if (park_handler(req, resp))
		return;
	if (strncmp(req->path, "/big/", 5) == 0) {
		/* a JSON body of the length the path names, with a strong ETag */
		static const char unit[] = "{\"a\":[1,2,3]}";
		size_t n = strtoul(req->path + 5, NULL, 10), i;

		resp->status = 200;
		if (http_response_header(resp, "ETag", "\"v1\"") < 0 || !(resp->body = malloc(n + 1)))
			abort();
		for (i = 0; i < n; i++)
			resp->body[i] = unit[i % (sizeof(unit) - 1)];
		resp->body_len = n;
		resp->secret = strstr(req->path, "/secret") != NULL;	/* /big/N/secret */
		return;
	}
	if (strcmp(req->path, "/bighead") == 0) {
		/* an answer whose head is about as large as the largest jitgated sends (a portal page's, ~600 bytes) */
		char v[BIGHEAD_VALUE + 1];

		memset(v, 'r', BIGHEAD_VALUE);
		v[BIGHEAD_VALUE] = '\0';
		resp->status = 200;
		if (http_response_header(resp, "X-R1", v) < 0 || http_response_header(resp, "X-R2", v) < 0 ||
		    http_response_header(resp, "X-R3", v) < 0)
			abort();
		return;
	}
	if (strcmp(req->path, "/roomhead") == 0) {
		/* an answer head with X-Room bytes of header values (test_pool_entries) */
		const char *want = http_request_header(req, "x-room");
		size_t n = want ? strtoul(want, NULL, 10) : 0, k;
		char v[ROOM_CHUNK + 1], name[16];

		resp->status = n <= ROOM_MAX ? 200 : 400;
		for (k = 0; n > 0 && resp->status == 200; k++) {
			size_t len = n < ROOM_CHUNK ? n : ROOM_CHUNK;

			snprintf(name, sizeof(name), "X-R%zu", k);
			memset(v, 'r', len);
			v[len] = '\0';
			if (http_response_header(resp, name, v) < 0)
				abort();
			n -= len;
		}
		return;
	}
	if (strcmp(req->path, "/custom") == 0) {
		resp->status = 202;
		resp->content_type = "text/plain";
		if (http_response_header(resp, "X-Custom", "hello there") < 0)
			abort();
		resp->body = strdup("accepted");
		resp->body_len = strlen("accepted");
		return;
	}
	resp->status = 200;
	if (http_response_header(resp, "X-Reply", "yes") < 0)
		abort();
	if (asprintf(&resp->body, "{\"len\":%zu}", req->body_len) < 0)
		resp->body = NULL;
	resp->body_len = resp->body ? strlen(resp->body) : 0;
}

static unsigned
seen_calls(void)
{
	unsigned n;

	pthread_mutex_lock(&T.seen.lock);
	n = T.seen.calls;
	pthread_mutex_unlock(&T.seen.lock);
	return n;
}

static void *
server_main(void *arg)
{
	for (;;) {
		struct pollfd p[2] = {
			{ .fd = http_server_poll_fd(T.srv), .events = POLLIN },
			{ .fd = T.stop_pipe[0], .events = POLLIN },
		};
		/* No cap on the sleep: the slow-client test relies on the timeout the server reports. */
		if (poll(p, 2, http_server_timeout_ms(T.srv)) < 0 && errno != EINTR)
			break;
		if (p[1].revents)
			break;
		http_server_run(T.srv);
	}
	return NULL;
}

static int
group_setup(void **state)
{
	struct http_config cfg = { 0 };
	struct core_error err = { 0 };

	assert_int_equal(curl_global_init(CURL_GLOBAL_DEFAULT), 0);
	snprintf(T.dir, sizeof(T.dir), "/tmp/jitgate-test-http.XXXXXX");
	assert_non_null(mkdtemp(T.dir));
	snprintf(T.cert, sizeof(T.cert), "%s/tls/cert.pem", T.dir);
	snprintf(T.key, sizeof(T.key), "%s/tls/key.pem", T.dir);
	snprintf(T.sock, sizeof(T.sock), "%s/api.sock", T.dir);
	assert_int_equal(tls_ensure_self_signed(T.dir, "127.0.0.1", "testhost.example", &err), 0);

	cfg.listen = "127.0.0.1:0";
	cfg.cert_path = T.cert;
	cfg.key_path = T.key;
	cfg.unix_path = T.sock;
	cfg.body_max = API_BODY_MAX;
	cfg.conn_timeout_s = CONN_TIMEOUT_S;
	cfg.conn_max = 64;
	cfg.header_memory = API_HEADER_MEMORY;
	cfg.parked_max = PARKED_MAX;
	cfg.handler = handler;
	cfg.ctx = &T.seen;
	if (http_server_start(&cfg, &T.srv, &err) < 0)
		fail_msg("start: %s: %s", err.code, err.message);
	T.port = http_server_port(T.srv);
	assert_true(T.port > 0);
	assert_int_equal(pipe2(T.stop_pipe, O_CLOEXEC), 0);
	assert_int_equal(pthread_create(&T.thread, NULL, server_main, NULL), 0);
	return 0;
}

static void
rm_rf(const char *dir)
{
	char cmd[256];
	const char *names[] = { "tls/cert.pem", "tls/key.pem", "tls", "api.sock" };
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(cmd, sizeof(cmd), "%s/%s", dir, names[i]);
		if (unlink(cmd) < 0)
			rmdir(cmd);
	}
	rmdir(dir);
}

static int
group_teardown(void **state)
{
	struct stat st;

	assert_int_equal(write(T.stop_pipe[1], "x", 1), 1);
	pthread_join(T.thread, NULL);
	http_server_stop(T.srv);
	/* Stopping removes the socket. */
	assert_int_equal(lstat(T.sock, &st), -1);
	close(T.stop_pipe[0]);
	close(T.stop_pipe[1]);
	free(T.seen.body);
	rm_rf(T.dir);
	curl_global_cleanup();
	return 0;
}

/* One finished exchange as the client saw it. */
struct reply {
	CURLcode rc;
	long status;
	char *body;
	size_t len;
	char header[128];	/* the value of the header asked for, if any */
	char content_type[128];
};

static size_t
reply_write(char *data, size_t size, size_t nmemb, void *userdata)
{
	struct reply *r = userdata;
	size_t n = size * nmemb;
	char *p = realloc(r->body, r->len + n + 1);

	assert_non_null(p);
	r->body = p;
	memcpy(r->body + r->len, data, n);
	r->len += n;
	r->body[r->len] = '\0';
	return n;
}

struct upload {
	const char *data;
	size_t len;
	size_t off;
};

static size_t
upload_read(char *buf, size_t size, size_t nmemb, void *userdata)
{
	struct upload *u = userdata;
	size_t n = size * nmemb;

	if (n > u->len - u->off)
		n = u->len - u->off;
	memcpy(buf, u->data + u->off, n);
	u->off += n;
	return n;
}

enum body_mode { BODY_LENGTH, BODY_LENGTH_NO_EXPECT, BODY_CHUNKED };

/*
 * Make one request. Over TLS the server's certificate is verified against
 * cert.pem for the name in the URL (127.0.0.1), which exercises the SAN.
 */
static void
request_once(const char *method, const char *url, bool via_unix, const char *body, size_t body_len, enum body_mode mode,
	const char *want_header, struct reply *ret)
{
	char full[512];
	struct curl_slist *hdrs = NULL;
	struct curl_header *h;
	struct upload up = { body, body_len, 0 };
	CURL *c = curl_easy_init();
	char *ct = NULL;

	assert_non_null(c);
	memset(ret, 0, sizeof(*ret));
	if (via_unix) {
		snprintf(full, sizeof(full), "http://localhost%s", url);
		curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, T.sock);
	} else {
		snprintf(full, sizeof(full), "https://127.0.0.1:%d%s", T.port, url);
		curl_easy_setopt(c, CURLOPT_CAINFO, T.cert);
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
	}
	curl_easy_setopt(c, CURLOPT_URL, full);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, reply_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, ret);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
	hdrs = curl_slist_append(hdrs, "X-Test: hi there");
	if (body != NULL) {
		curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(c, CURLOPT_READFUNCTION, upload_read);
		curl_easy_setopt(c, CURLOPT_READDATA, &up);
		if (mode == BODY_CHUNKED)
			hdrs = curl_slist_append(hdrs, "Transfer-Encoding: chunked");
		else
			curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)body_len);
		if (mode == BODY_LENGTH_NO_EXPECT)
			hdrs = curl_slist_append(hdrs, "Expect:");
	}
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	ret->rc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &ret->status);
	if (curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct) == CURLE_OK && ct != NULL)
		copy_str(ret->content_type, sizeof(ret->content_type), ct);
	if (want_header != NULL && curl_easy_header(c, want_header, 0, CURLH_HEADER, -1, &h) == CURLHE_OK)
		copy_str(ret->header, sizeof(ret->header), h->value);
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(c);
}

static void
reply_free(struct reply *r)
{
	free(r->body);
	r->body = NULL;
}

/*
 * request_once, asked again (up to 5 times) when the TLS handshake itself failed: the test server closes a
 * connection that has not authenticated after CONN_TIMEOUT_S, and on a loaded machine under sanitizers a
 * handshake can take longer. Nothing was sent to the handler then, so asking again changes nothing it sees.
 */
static void
request(const char *method, const char *url, bool via_unix, const char *body, size_t body_len, enum body_mode mode,
	const char *want_header, struct reply *ret)
{
	int tries;

	for (tries = 0; tries < 5; tries++) {
		request_once(method, url, via_unix, body, body_len, mode, want_header, ret);
		if (ret->rc != CURLE_SSL_CONNECT_ERROR)
			return;
		reply_free(ret);
	}
}

static char *
read_all(const char *path, size_t *ret_len)
{
	FILE *f = fopen(path, "rb");
	char *buf = calloc(1, 65536);
	size_t n;

	assert_non_null(f);
	assert_non_null(buf);
	n = fread(buf, 1, 65535, f);
	fclose(f);
	*ret_len = n;
	return buf;
}

static void
test_tls_material(void **state)
{
	struct core_error err = { 0 };
	char fp[TLS_FINGERPRINT_TEXT_MAX], fp2[TLS_FINGERPRINT_TEXT_MAX];
	struct stat st_cert, st_key, st_dir, st2;
	char *cert1, *key1, *cert2, *key2, dir[128];
	size_t cl1, kl1, cl2, kl2, i;

	snprintf(dir, sizeof(dir), "%s/tls", T.dir);
	assert_int_equal(stat(dir, &st_dir), 0);
	assert_int_equal(st_dir.st_mode & 07777, 0700);
	assert_int_equal(stat(T.cert, &st_cert), 0);
	assert_int_equal(st_cert.st_mode & 07777, 0600);
	assert_int_equal(stat(T.key, &st_key), 0);
	assert_int_equal(st_key.st_mode & 07777, 0600);

	/* A second call leaves both files as they are. */
	cert1 = read_all(T.cert, &cl1);
	key1 = read_all(T.key, &kl1);
	assert_int_equal(tls_ensure_self_signed(T.dir, "127.0.0.1", "testhost.example", &err), 0);
	cert2 = read_all(T.cert, &cl2);
	key2 = read_all(T.key, &kl2);
	assert_int_equal(cl1, cl2);
	assert_int_equal(kl1, kl2);
	assert_memory_equal(cert1, cert2, cl1);
	assert_memory_equal(key1, key2, kl1);
	assert_int_equal(stat(T.cert, &st2), 0);
	assert_int_equal(st2.st_ino, st_cert.st_ino);
	assert_non_null(strstr(key1, "-----BEGIN PRIVATE KEY-----"));
	free(cert1);
	free(key1);
	free(cert2);
	free(key2);

	assert_int_equal(tls_cert_fingerprint(T.cert, fp, sizeof(fp), &err), 0);
	assert_int_equal(strlen(fp), 95);
	for (i = 0; i < 95; i++) {
		if (i % 3 == 2)
			assert_int_equal(fp[i], ':');
		else
			assert_non_null(strchr("0123456789ABCDEF", fp[i]));
	}
	/* Stable, and too small a buffer is refused without writing to it. */
	assert_int_equal(tls_cert_fingerprint(T.cert, fp2, sizeof(fp2), NULL), 0);
	assert_string_equal(fp, fp2);
	memcpy(fp2, "untouched", 10);
	assert_int_equal(tls_cert_fingerprint(T.cert, fp2, 95, NULL), -ENOSPC);
	assert_string_equal(fp2, "untouched");
	assert_true(tls_cert_fingerprint("/nonexistent/cert.pem", fp2, sizeof(fp2), &err) < 0);
	assert_string_equal(err.code, "TlsError");
}

/* The certificate itself: names, CA, usages, key type, validity, and the fingerprint against an independent hash. */
static void
test_tls_certificate(void **state)
{
	gnutls_x509_crt_t crt;
	gnutls_datum_t pem, der;
	unsigned char digest[32];
	char fp[TLS_FINGERPRINT_TEXT_MAX], expect[TLS_FINGERPRINT_TEXT_MAX], dn[256], oid[128];
	size_t dn_len = sizeof(dn), oid_len = sizeof(oid), serial_len;
	unsigned char serial[64];
	unsigned usage = 0, critical = 0, bits = 0;
	size_t i, off = 0;
	time_t now = time(NULL);

	assert_int_equal(gnutls_load_file(T.cert, &pem), 0);
	assert_int_equal(gnutls_x509_crt_init(&crt), 0);
	assert_int_equal(gnutls_x509_crt_import(crt, &pem, GNUTLS_X509_FMT_PEM), 0);

	assert_true(gnutls_x509_crt_check_hostname(crt, "127.0.0.1"));
	assert_true(gnutls_x509_crt_check_hostname(crt, "::1"));
	assert_true(gnutls_x509_crt_check_hostname(crt, "localhost"));
	assert_true(gnutls_x509_crt_check_hostname(crt, "testhost.example"));
	assert_false(gnutls_x509_crt_check_hostname(crt, "other.example"));
	assert_int_equal(gnutls_x509_crt_get_ca_status(crt, &critical), 1);
	assert_true(gnutls_x509_crt_get_key_usage(crt, &usage, &critical) >= 0);
	assert_int_equal(usage, GNUTLS_KEY_DIGITAL_SIGNATURE | GNUTLS_KEY_KEY_CERT_SIGN);
	assert_int_equal(gnutls_x509_crt_get_key_purpose_oid(crt, 0, oid, &oid_len, &critical), 0);
	assert_string_equal(oid, GNUTLS_KP_TLS_WWW_SERVER);
	assert_int_equal(gnutls_x509_crt_get_pk_algorithm(crt, &bits), GNUTLS_PK_ECDSA);
	assert_int_equal(gnutls_x509_crt_get_signature_algorithm(crt), GNUTLS_SIGN_ECDSA_SHA256);
	assert_int_equal(gnutls_x509_crt_get_dn(crt, dn, &dn_len), 0);
	assert_string_equal(dn, "CN=jitgate testhost.example");
	serial_len = sizeof(serial);
	assert_int_equal(gnutls_x509_crt_get_serial(crt, serial, &serial_len), 0);
	assert_int_equal(serial_len, 16);
	assert_true(gnutls_x509_crt_get_activation_time(crt) <= now - 3000);
	assert_true(gnutls_x509_crt_get_expiration_time(crt) >= now + (time_t)(TLS_CERT_DAYS - 1) * 86400);

	assert_int_equal(gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_DER, &der), 0);
	assert_int_equal(gnutls_hash_fast(GNUTLS_DIG_SHA256, der.data, der.size, digest), 0);
	for (i = 0; i < sizeof(digest); i++)
		off += (size_t)snprintf(expect + off, sizeof(expect) - off, i ? ":%02X" : "%02X", digest[i]);
	assert_int_equal(tls_cert_fingerprint(T.cert, fp, sizeof(fp), NULL), 0);
	assert_string_equal(fp, expect);

	gnutls_free(der.data);
	gnutls_free(pem.data);
	gnutls_x509_crt_deinit(crt);
}

static void
test_tls_incomplete(void **state)
{
	struct core_error err = { 0 };
	char dir[] = "/tmp/jitgate-test-tls.XXXXXX";
	char path[128];

	assert_non_null(mkdtemp(dir));
	/* A DNS name as the listen host, and IPv6 in brackets, are both accepted. */
	assert_int_equal(tls_ensure_self_signed(dir, "gate.example", "h", &err), 0);
	snprintf(path, sizeof(path), "%s/tls/cert.pem", dir);
	assert_int_equal(unlink(path), 0);
	assert_true(tls_ensure_self_signed(dir, "gate.example", "h", &err) < 0);
	assert_string_equal(err.code, "TlsMaterialIncomplete");
	assert_non_null(strstr(err.message, "key.pem"));
	snprintf(path, sizeof(path), "%s/tls/key.pem", dir);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(tls_ensure_self_signed(dir, "[::1]", NULL, &err), 0);
	rm_rf(dir);

	assert_true(tls_ensure_self_signed("/nonexistent/state", "127.0.0.1", "h", &err) < 0);
	assert_string_equal(err.code, "TlsError");
}

static void
test_get_query_headers(void **state)
{
	struct reply r;

	request("GET", "/echo/a%20b?api-version=2020-01-01&x=1&flag", false, NULL, 0, BODY_LENGTH, "X-Reply", &r);
	assert_int_equal(r.rc, CURLE_OK);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.header, "yes");
	assert_string_equal(r.content_type, "application/json; charset=utf-8");
	assert_string_equal(r.body, "{\"len\":0}");
	pthread_mutex_lock(&T.seen.lock);
	assert_string_equal(T.seen.method, "GET");
	assert_string_equal(T.seen.path, "/echo/a b");
	assert_string_equal(T.seen.api_version, "2020-01-01");
	assert_string_equal(T.seen.query_all, "api-version=2020-01-01;x=1;flag=;");
	assert_string_equal(T.seen.x_test, "hi there");
	assert_false(T.seen.via_unix);
	assert_int_equal(T.seen.peer_uid, (uid_t)-1);
	assert_int_equal(T.seen.peer.family, NET_INET);
	assert_memory_equal(T.seen.peer.bytes, "\x7f\0\0\x01", 4);
	assert_int_equal(T.seen.body_len, 0);
	assert_true(T.seen.body_terminated);
	pthread_mutex_unlock(&T.seen.lock);
	reply_free(&r);
}

/*
 * A %00 (or any control character) in the target is a 400 with a JSON error, before the handler:
 * libmicrohttpd would decode it into a NUL that cuts the path ("/policies/a%00b" read as "/policies/a").
 */
static void
test_control_in_target(void **state)
{
	static const char *const bad[] = {
		"/echo/a%00b", "/echo/a%00", "/echo/%0a", "/echo/x%1Fy", "/echo/x%7f", "/echo/ok?api-version=1%00x",
		"/echo/ok?x=%0d",
	};
	struct reply r;
	unsigned before;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		before = seen_calls();
		request("GET", bad[i], i % 2 == 1, NULL, 0, BODY_LENGTH, NULL, &r);
		assert_int_equal(r.rc, CURLE_OK);
		if (r.status != 400)
			fail_msg("%s: status %ld", bad[i], r.status);
		assert_string_equal(r.content_type, "application/json; charset=utf-8");
		assert_non_null(strstr(r.body, "\"code\":\"InvalidRequestTarget\""));
		assert_int_equal(seen_calls(), before);
		reply_free(&r);
	}
	/* "%25" is a percent sign, "%2500" the text "%00": no control character */
	request("GET", "/echo/a%2500b", false, NULL, 0, BODY_LENGTH, NULL, &r);
	assert_int_equal(r.status, 200);
	pthread_mutex_lock(&T.seen.lock);
	assert_string_equal(T.seen.path, "/echo/a%00b");
	pthread_mutex_unlock(&T.seen.lock);
	reply_free(&r);

	assert_true(http_target_has_control("/a%00", 5));
	assert_false(http_target_has_control("/a%00", 4));	/* only n bytes are read: "%0" is no escape */
	assert_true(http_target_has_control("/a\tb", 4));
	assert_true(http_target_has_control("/a%7F", 5));
	assert_false(http_target_has_control("/a%20b%zz%", 10));
	assert_false(http_target_has_control("/\xc3\xa9", 3));	/* UTF-8 is not a control */
}

static void
test_media_type_json(void **state)
{
	assert_true(http_media_type_is_json("application/json"));
	assert_true(http_media_type_is_json("Application/JSON"));
	assert_true(http_media_type_is_json("application/json; charset=utf-8"));
	assert_true(http_media_type_is_json(" application/json ;charset=UTF-8"));
	assert_false(http_media_type_is_json(NULL));
	assert_false(http_media_type_is_json(""));
	assert_false(http_media_type_is_json("text/plain"));
	assert_false(http_media_type_is_json("application/x-www-form-urlencoded"));
	assert_false(http_media_type_is_json("application/jsonp"));
	assert_false(http_media_type_is_json("application/json-patch+json"));
	assert_false(http_media_type_is_json("multipart/form-data; boundary=application/json"));
}

static void
test_put_body(void **state)
{
	char body[1000];
	struct reply r;
	size_t i;

	for (i = 0; i < sizeof(body); i++)
		body[i] = (char)('a' + i % 26);
	body[500] = '\0';	/* an embedded NUL survives too */
	request("PUT", "/echo", false, body, sizeof(body), BODY_LENGTH, NULL, &r);
	assert_int_equal(r.rc, CURLE_OK);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "{\"len\":1000}");
	pthread_mutex_lock(&T.seen.lock);
	assert_string_equal(T.seen.method, "PUT");
	assert_int_equal(T.seen.body_len, sizeof(body));
	assert_memory_equal(T.seen.body, body, sizeof(body));
	assert_true(T.seen.body_terminated);
	pthread_mutex_unlock(&T.seen.lock);
	reply_free(&r);

	/* Chunked, without a declared length. */
	request("POST", "/echo", false, body, sizeof(body), BODY_CHUNKED, NULL, &r);
	assert_int_equal(r.rc, CURLE_OK);
	assert_int_equal(r.status, 200);
	pthread_mutex_lock(&T.seen.lock);
	assert_int_equal(T.seen.body_len, sizeof(body));
	assert_memory_equal(T.seen.body, body, sizeof(body));
	pthread_mutex_unlock(&T.seen.lock);
	reply_free(&r);
}

static void
test_body_limit(void **state)
{
	static const char expect[] = "{\"error\":{\"code\":\"RequestBodyTooLarge\",\"message\":\"the request body is larger "
				     "than 1048576 bytes\",\"target\":\"\",\"details\":[]}}";
	const enum body_mode modes[] = { BODY_LENGTH, BODY_LENGTH_NO_EXPECT, BODY_CHUNKED };
	size_t big_len = API_BODY_MAX + 1;
	char *big = malloc(API_BODY_MAX + 4096);
	struct reply r;
	unsigned calls;
	size_t i;

	assert_non_null(big);
	memset(big, 'x', API_BODY_MAX + 4096);

	/* Exactly the limit is fine. */
	request("PUT", "/echo", false, big, API_BODY_MAX, BODY_LENGTH, NULL, &r);
	assert_int_equal(r.rc, CURLE_OK);
	assert_int_equal(r.status, 200);
	pthread_mutex_lock(&T.seen.lock);
	assert_int_equal(T.seen.body_len, API_BODY_MAX);
	pthread_mutex_unlock(&T.seen.lock);
	reply_free(&r);

	for (i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		calls = seen_calls();
		request("PUT", "/echo", false, big, i == 2 ? API_BODY_MAX + 4096 : big_len, modes[i], NULL, &r);
		/* as below: a client still sending may see the reset before the early 413 */
		if (r.rc == CURLE_OK) {
			assert_int_equal(r.status, 413);
			assert_string_equal(r.content_type, "application/json; charset=utf-8");
			assert_non_null(r.body);
			assert_string_equal(r.body, expect);
		} else {
			assert_true(r.rc == CURLE_SEND_ERROR || r.rc == CURLE_RECV_ERROR);
		}
		assert_int_equal(seen_calls(), calls);
		reply_free(&r);
	}
	/* Over the unix socket too. */
	calls = seen_calls();
	request("PUT", "/echo", true, big, big_len, BODY_LENGTH_NO_EXPECT, NULL, &r);
	/*
	 * The server answers as soon as it sees the length and stops reading; a
	 * client still sending may see the connection reset before it reads the
	 * 413 (a race in HTTP/1.1 itself). Either way the handler never runs.
	 */
	if (r.rc == CURLE_OK) {
		assert_int_equal(r.status, 413);
		assert_string_equal(r.body, expect);
	} else {
		assert_true(r.rc == CURLE_SEND_ERROR || r.rc == CURLE_RECV_ERROR);
	}
	assert_int_equal(seen_calls(), calls);
	reply_free(&r);
	free(big);
}

static void
test_custom_status_and_header(void **state)
{
	struct reply r;

	request("POST", "/custom", false, NULL, 0, BODY_LENGTH, "X-Custom", &r);
	assert_int_equal(r.rc, CURLE_OK);
	assert_int_equal(r.status, 202);
	assert_string_equal(r.header, "hello there");
	assert_string_equal(r.content_type, "text/plain");
	assert_string_equal(r.body, "accepted");
	reply_free(&r);

	/* A handler that sets no status is a 500 with a JSON error. */
	request("GET", "/nostatus", false, NULL, 0, BODY_LENGTH, NULL, &r);
	assert_int_equal(r.rc, CURLE_OK);
	assert_int_equal(r.status, 500);
	assert_string_equal(r.content_type, "application/json; charset=utf-8");
	assert_non_null(strstr(r.body, "\"code\":\"InternalError\""));
	reply_free(&r);
}

static void
test_unix_socket(void **state)
{
	struct reply r;
	struct stat st;

	assert_int_equal(lstat(T.sock, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0600);

	request("PUT", "/echo?api-version=2015-06-01-preview", true, "{}", 2, BODY_LENGTH, "X-Reply", &r);
	assert_int_equal(r.rc, CURLE_OK);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.header, "yes");
	pthread_mutex_lock(&T.seen.lock);
	assert_true(T.seen.via_unix);
	assert_int_equal(T.seen.peer_uid, getuid());
	assert_int_equal(T.seen.peer.family, 0);
	assert_string_equal(T.seen.path, "/echo");
	assert_string_equal(T.seen.api_version, "2015-06-01-preview");
	assert_int_equal(T.seen.body_len, 2);
	assert_memory_equal(T.seen.body, "{}", 2);
	pthread_mutex_unlock(&T.seen.lock);
	reply_free(&r);
}

/* Headers beyond header_memory are refused by the library, before the handler. */
static void
test_header_limit(void **state)
{
	char *big = malloc(API_HEADER_MEMORY + 64);
	struct curl_slist *hdrs;
	unsigned calls = seen_calls();
	struct reply r = { 0 };
	char url[128];
	CURL *c;

	assert_non_null(big);
	memcpy(big, "X-Big: ", 7);
	memset(big + 7, 'b', API_HEADER_MEMORY + 56 - 7);
	big[API_HEADER_MEMORY + 56] = '\0';
	hdrs = curl_slist_append(NULL, big);
	c = curl_easy_init();
	snprintf(url, sizeof(url), "https://127.0.0.1:%d/echo", T.port);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CAINFO, T.cert);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, reply_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
	r.rc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
	assert_int_equal(r.rc, CURLE_OK);
	assert_true(r.status == 431 || r.status == 413);
	assert_int_equal(seen_calls(), calls);
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(c);
	reply_free(&r);
	free(big);
}

/* GET /bighead with one more header line "NAME: PREFIX" + n bytes; X-R3's length in *x_r3 (0: none). */
static void
head_once(const char *name, const char *prefix, size_t n, struct reply *r, size_t *x_r3)
{
	size_t len = strlen(name) + 2 + strlen(prefix);
	char *line = malloc(len + n + 1), url[128];
	struct curl_slist *hdrs;
	struct curl_header *h;
	int tries;
	CURL *c;

	assert_non_null(line);
	snprintf(line, len + 1, "%s: %s", name, prefix);
	memset(line + len, 'b', n);
	line[len + n] = '\0';
	hdrs = curl_slist_append(NULL, line);
	snprintf(url, sizeof(url), "https://127.0.0.1:%d/bighead", T.port);
	/* a handshake the loaded machine did not finish within CONN_TIMEOUT_S is asked again (nothing was sent) */
	for (tries = 0; tries < 5; tries++) {
		memset(r, 0, sizeof(*r));
		*x_r3 = 0;
		c = curl_easy_init();
		curl_easy_setopt(c, CURLOPT_URL, url);
		curl_easy_setopt(c, CURLOPT_CAINFO, T.cert);
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
		curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, reply_write);
		curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
		curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
		r->rc = curl_easy_perform(c);
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
		if (curl_easy_header(c, "X-R3", 0, CURLH_HEADER, -1, &h) == CURLHE_OK)
			*x_r3 = strlen(h->value);
		curl_easy_cleanup(c);
		if (r->rc != CURLE_SSL_CONNECT_ERROR)
			break;
		reply_free(r);
	}
	curl_slist_free_all(hdrs);
	free(line);
}

/*
 * The pool (API_HEADER_MEMORY) holds a request's head and then the answer's: a request whose head fits in the part
 * not kept for the answer (HTTP_RESPONSE_HEAD_ROOM) is served whole, with an answer head as large as jitgated's
 * largest; a larger one is refused before the handler (431, ours or libmicrohttpd's, or for a head that leaves the
 * library no room for any answer, the connection closed), and the server goes on serving. Cookies count twice:
 * libmicrohttpd keeps a copy of the Cookie header to cut into cookies.
 */
static void
test_header_room(void **state)
{
	static const struct {
		const char *name, *prefix;
		size_t weight;
	} kinds[] = { { "X-Pad", "", 1 }, { "Cookie", "a=", 2 } };
	const size_t head_max = HTTP_REQUEST_HEAD_MAX;
	size_t k, n, cost, x_r3, ours = 0;
	struct reply r;
	unsigned calls;

	for (k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		for (n = 256; n * kinds[k].weight <= API_HEADER_MEMORY + 512; n += 97) {
			cost = n * kinds[k].weight + HEAD_BASE;
			calls = seen_calls();
			head_once(kinds[k].name, kinds[k].prefix, n, &r, &x_r3);
			if (cost <= head_max) {
				if (r.rc != CURLE_OK || r.status != 200 || x_r3 != BIGHEAD_VALUE)
					fail_msg("%s of %zu bytes: curl %d, HTTP %ld, X-R3 %zu", kinds[k].name, n, r.rc,
						 r.status, x_r3);
			} else if (n * kinds[k].weight > head_max) {
				if (!(r.rc == CURLE_OK && r.status == 431) && r.rc != CURLE_GOT_NOTHING)
					fail_msg("%s of %zu bytes: curl %d, HTTP %ld (431 or closed expected)",
						 kinds[k].name, n, r.rc, r.status);
				assert_int_equal(seen_calls(), calls);
				ours += r.status == 431 && r.body && strstr(r.body, "\"RequestHeadersTooLarge\"");
			}
			reply_free(&r);
		}
	}
	/* jitgated's own 431 names the limit, for heads between the limit and what libmicrohttpd refuses itself */
	assert_true(ours > 0);
	request("GET", "/echo", false, NULL, 0, BODY_LENGTH, NULL, &r);
	assert_int_equal(r.status, 200);
	reply_free(&r);
}

/* GET target on the unix socket with these header lines and an answer head of `room` bytes of values: answered whole? */
static bool
room_fits(const char *target, struct curl_slist *lines, size_t room)
{
	struct curl_slist *hdrs = NULL, *l;
	struct reply r = { 0 };
	char url[POOL_PROBE_ENTRIES * 8 + 64], want[32];
	bool ok;
	CURL *c = curl_easy_init();

	assert_non_null(c);
	for (l = lines; l; l = l->next)
		hdrs = curl_slist_append(hdrs, l->data);
	snprintf(want, sizeof(want), "X-Room: %04zu", room);	/* fixed width: the head is as long for every room */
	hdrs = curl_slist_append(hdrs, want);
	snprintf(url, sizeof(url), "http://localhost%s", target);
	curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, T.sock);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, reply_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
	r.rc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
	ok = r.rc == CURLE_OK && r.status == 200;
	curl_easy_cleanup(c);
	curl_slist_free_all(hdrs);
	reply_free(&r);
	return ok;
}

/* The largest answer head (bytes of values) the pool still has room for beside this request's head. */
static size_t
room_left(const char *target, struct curl_slist *lines)
{
	size_t lo = 0, hi = ROOM_MAX + 1, mid;

	if (!room_fits(target, lines, 0))
		fail_msg("GET %s: no answer at all", target);
	while (hi - lo > 1) {
		mid = lo + (hi - lo) / 2;
		if (mid <= ROOM_MAX && room_fits(target, lines, mid))
			lo = mid;
		else
			hi = mid;
	}
	if (lo == ROOM_MAX)
		fail_msg("GET %s: room for more than %d bytes of answer headers: the probe cannot measure it", target,
			 ROOM_MAX);
	return lo;
}

/* What http_head_count counts for one header line, query argument (HTTP_POOL_ENTRY_COST and the text) */
static size_t
counted_entry(size_t key, size_t value)
{
	return HTTP_POOL_ENTRY_COST + key + value + 4;
}

/*
 * HTTP_POOL_ENTRY_COST is a copy of how libmicrohttpd (measured against 0.9.75) keeps a request's head in its
 * pool: a record per header line, cookie and query argument, the Cookie header twice. Measured here: the room a
 * request of POOL_PROBE_ENTRIES small entries leaves for the answer's head, against a request of one large header.
 * The pool must hold no more than http_head_count counts (or a request let through could leave no room for the
 * answer, and libmicrohttpd would close the connection without one), and no more than 4 bytes an entry less (the
 * copy no longer matches the library: measure it again and say the version in http-limits.h). 32 bytes either way
 * for the pool's alignment.
 */
static void
test_pool_entries(void **state)
{
	static const char *const kinds[] = { "header lines", "cookies", "query arguments" };
	char pad[POOL_PROBE_PAD + 8], cookie[POOL_PROBE_ENTRIES * 8 + 16], target[POOL_PROBE_ENTRIES * 8 + 16];
	size_t ref_room, ref_counted, room, counted, i, k, len;
	struct curl_slist *lines;
	ssize_t used, model;

	(void)state;
	snprintf(pad, sizeof(pad), "X-Pad: ");
	memset(pad + 7, 'p', POOL_PROBE_PAD);
	pad[7 + POOL_PROBE_PAD] = '\0';
	lines = curl_slist_append(NULL, pad);
	ref_room = room_left("/roomhead", lines);
	ref_counted = counted_entry(5, POOL_PROBE_PAD);
	curl_slist_free_all(lines);
	for (k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		lines = NULL;
		counted = 0;
		snprintf(target, sizeof(target), "/roomhead");
		len = strlen("Cookie: ");
		memcpy(cookie, "Cookie: ", len + 1);
		for (i = 0; i < POOL_PROBE_ENTRIES; i++) {
			char line[16];

			if (k == 0) {
				snprintf(line, sizeof(line), "X-H%02zu: v", i);
				lines = curl_slist_append(lines, line);
				counted += counted_entry(5, 1);
			} else if (k == 1) {
				len += (size_t)snprintf(cookie + len, sizeof(cookie) - len, "%sc%02zu=v", i ? "; " : "", i);
				counted += HTTP_POOL_ENTRY_COST;
			} else {
				snprintf(target + strlen(target), sizeof(target) - strlen(target), "%ca%02zu=v", i ? '&' : '?',
					 i);
				counted += counted_entry(3, 1);
			}
		}
		if (k == 1) {
			lines = curl_slist_append(lines, cookie);
			len -= strlen("Cookie: ");
			counted += counted_entry(6, len) + len + 1;	/* and the copy cut into cookies */
		}
		room = room_left(target, lines);
		curl_slist_free_all(lines);
		used = (ssize_t)ref_room - (ssize_t)room;	/* what these entries take of the pool beyond the pad */
		model = (ssize_t)counted - (ssize_t)ref_counted;
		print_message("libmicrohttpd %s, %d %s: %zd bytes of the pool beyond the reference request, %zd counted\n",
			      MHD_get_version(), POOL_PROBE_ENTRIES, kinds[k], used, model);
		if (used > model + 32)
			fail_msg("libmicrohttpd %s keeps %zd bytes for %d %s where http_head_count counts %zd: "
				 "HTTP_POOL_ENTRY_COST (%d, measured against 0.9.75) is too small for this version; "
				 "measure it again", MHD_get_version(), used, POOL_PROBE_ENTRIES, kinds[k], model,
				 HTTP_POOL_ENTRY_COST);
		if (used < model - 4 * POOL_PROBE_ENTRIES - 32)
			fail_msg("libmicrohttpd %s keeps %zd bytes for %d %s where http_head_count counts %zd: its layout "
				 "is no longer the one HTTP_POOL_ENTRY_COST (%d) was measured against (0.9.75); measure it "
				 "again", MHD_get_version(), used, POOL_PROBE_ENTRIES, kinds[k], model,
				 HTTP_POOL_ENTRY_COST);
	}
	/* the layout matches: the version it was measured against must name this one, or jitgated warns at start */
	if (http_library_unmeasured())
		fail_msg("libmicrohttpd %s keeps its pool as %s did: set HTTP_POOL_MEASURED_MHD (http-limits.h) to it",
			 http_library_unmeasured(), HTTP_POOL_MEASURED_MHD);
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Wait for the server to close fd; returns seconds waited, or -1 if it stays open for `limit` seconds. */
static double
wait_closed(int fd, double start, double limit)
{
	char buf[256];

	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		double left = limit - (now_s() - start);
		ssize_t n;

		if (left <= 0)
			return -1;
		if (poll(&p, 1, (int)(left * 1000) + 1) <= 0)
			continue;
		n = recv(fd, buf, sizeof(buf), 0);
		if (n == 0 || (n < 0 && errno == ECONNRESET))
			return now_s() - start;
		/* A plain-HTTP server may answer 408 first; read on to the close. */
	}
}

static void
test_slow_client(void **state)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((uint16_t)T.port) };
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	/* The start of a TLS record (handshake, TLS 1.0 record version, length 512) and nothing more. */
	static const char tls_half[] = "\x16\x03\x01\x02\x00\x01";
	static const char http_half[] = "GET /echo HTTP/1.1\r\nHost: loc";
	int tcp, ux;
	double start, t_tcp, t_ux;
	struct reply r;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	memcpy(sun.sun_path, T.sock, strlen(T.sock) + 1);
	tcp = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ux = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(tcp >= 0 && ux >= 0);
	assert_int_equal(connect(tcp, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(connect(ux, (struct sockaddr *)&sun, sizeof(sun)), 0);
	start = now_s();
	assert_int_equal(send(tcp, tls_half, sizeof(tls_half) - 1, MSG_NOSIGNAL), (ssize_t)(sizeof(tls_half) - 1));
	assert_int_equal(send(ux, http_half, sizeof(http_half) - 1, MSG_NOSIGNAL), (ssize_t)(sizeof(http_half) - 1));

	/* Others are served while the two stall. */
	request("GET", "/echo?api-version=2020-01-01", false, NULL, 0, BODY_LENGTH, NULL, &r);
	assert_int_equal(r.rc, CURLE_OK);
	assert_int_equal(r.status, 200);
	reply_free(&r);
	request("GET", "/echo", true, NULL, 0, BODY_LENGTH, NULL, &r);
	assert_int_equal(r.rc, CURLE_OK);
	assert_int_equal(r.status, 200);
	reply_free(&r);

	t_tcp = wait_closed(tcp, start, CONN_TIMEOUT_S + 4);
	t_ux = wait_closed(ux, start, CONN_TIMEOUT_S + 4);
	assert_true(t_tcp >= CONN_TIMEOUT_S - 0.1);
	assert_true(t_ux >= CONN_TIMEOUT_S - 0.1);
	close(tcp);
	close(ux);
}

static void
test_start_errors(void **state)
{
	const char *bad[] = { "127.0.0.1", "127.0.0.1:", "127.0.0.1:65536", "127.0.0.1:-1", "::1:8443",
			      "[127.0.0.1]:1", "[::1]", "host.example:443", "127.0.0.1:8a", ":443" };
	struct http_config cfg = { 0 };
	struct core_error err = { 0 };
	struct http_server *srv = (struct http_server *)&cfg;	/* must stay as it is on failure */
	char listen[64];
	size_t i;

	cfg.cert_path = T.cert;
	cfg.key_path = T.key;
	cfg.body_max = 1024;
	cfg.conn_timeout_s = 1;
	cfg.conn_max = 4;
	cfg.header_memory = API_HEADER_MEMORY;
	cfg.parked_max = PARKED_MAX;
	cfg.handler = handler;
	cfg.ctx = &T.seen;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cfg.listen = bad[i];
		assert_int_equal(http_server_start(&cfg, &srv, &err), -EINVAL);
		assert_string_equal(err.code, "InvalidListenAddress");
		assert_ptr_equal(srv, (struct http_server *)&cfg);
	}

	/* The port in use. */
	snprintf(listen, sizeof(listen), "127.0.0.1:%d", T.port);
	cfg.listen = listen;
	assert_int_equal(http_server_start(&cfg, &srv, &err), -EADDRINUSE);
	assert_string_equal(err.code, "HttpStartFailed");

	/* A missing key file. */
	cfg.listen = "127.0.0.1:0";
	cfg.key_path = "/nonexistent/key.pem";
	assert_int_equal(http_server_start(&cfg, &srv, &err), -ENOENT);
	assert_string_equal(err.code, "HttpStartFailed");
	cfg.key_path = T.key;

	/* A key that does not belong to the certificate. */
	cfg.key_path = T.cert;
	assert_true(http_server_start(&cfg, &srv, &err) < 0);
	assert_string_equal(err.code, "HttpStartFailed");
	cfg.key_path = T.key;

	/* Something other than a socket at the unix path is left alone. */
	cfg.unix_path = T.cert;
	assert_int_equal(http_server_start(&cfg, &srv, &err), -EEXIST);
	assert_int_equal(access(T.cert, F_OK), 0);
	cfg.unix_path = NULL;

	/* A stale socket at the unix path (a dead server's) is replaced. */
	{
		struct sockaddr_un sun = { .sun_family = AF_UNIX };
		char stale[128];
		struct stat st;
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

		snprintf(stale, sizeof(stale), "%s/stale.sock", T.dir);
		memcpy(sun.sun_path, stale, strlen(stale) + 1);
		assert_int_equal(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
		close(fd);
		cfg.listen = "127.0.0.1:0";
		cfg.unix_path = stale;
		assert_int_equal(http_server_start(&cfg, &srv, &err), 0);
		assert_int_equal(lstat(stale, &st), 0);
		assert_int_equal(st.st_mode & 07777, 0600);
		assert_true(http_server_poll_fd(srv) >= 0);
		assert_true(http_server_run(srv) == 0);
		http_server_stop(srv);
		assert_int_equal(lstat(stale, &st), -1);
		cfg.unix_path = NULL;
	}

	/* IPv6 loopback and wildcard forms start, where the host has IPv6. */
	cfg.listen = "[::1]:0";
	if (http_server_start(&cfg, &srv, &err) == 0) {
		assert_true(http_server_port(srv) > 0);
		assert_true(http_server_poll_fd(srv) >= 0);
		http_server_stop(srv);
	}
	cfg.listen = "*:0";
	assert_int_equal(http_server_start(&cfg, &srv, &err), 0);
	assert_true(http_server_port(srv) > 0);
	http_server_stop(srv);
	http_server_stop(NULL);
}

static void
test_accepts_gzip(void **state)
{
	static const struct {
		const char *value;
		bool gzip;
	} cases[] = {
		{ NULL, false },
		{ "", false },
		{ "identity", false },
		{ "gzip", true },
		{ "GZip", true },
		{ "x-gzip", true },
		{ "deflate, gzip", true },
		{ "br;q=1.0, gzip;q=0.8, *;q=0.1", true },
		{ "gzip;q=0", false },
		{ "gzip;q=0.000", false },
		{ "gzip;q=0.001", true },
		{ "gzip ; q=0.5", true },
		{ "gzip;Q=0.5", true },
		{ "*", true },
		{ "*;q=0", false },
		{ "*, gzip;q=0", false },	/* gzip named: "*" does not bring it back */
		{ "gzip;q=0, *", false },
		{ "identity;q=0, *;q=0.5", true },
		{ "gzip,,", true },		/* empty list elements are allowed */
		{ "gzip;q=2", false },		/* does not parse: as if no header */
		{ "gzip;q=1.5", false },
		{ "gzip;q=0.5555", false },
		{ "gzip;q", false },
		{ "gzip;level=9", true },	/* parameters other than q are ignored */
		{ "gzipx", false },
		{ "gzip x", false },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (http_accepts_gzip(cases[i].value) != cases[i].gzip)
			fail_msg("Accept-Encoding \"%s\": expected %d", cases[i].value ? cases[i].value : "(none)",
				 cases[i].gzip);
	}
}

static void
test_gzip(void **state)
{
	static const char unit[] = "{\"port\":22,\"status\":\"Initiated\"}";
	struct http_response resp = { 0 };
	char text[8192], *gz, *back;
	unsigned char noise[256];
	size_t i, gz_len, back_len;

	for (i = 0; i < sizeof(text); i++)
		text[i] = unit[i % (sizeof(unit) - 1)];
	assert_int_equal(http_gzip(text, sizeof(text), 6, &gz, &gz_len), 0);
	assert_true(gz_len < sizeof(text) / 10);
	back = test_gunzip(gz, gz_len, (size_t)1 << 20, &back_len);
	assert_non_null(back);
	assert_int_equal(back_len, sizeof(text));
	assert_memory_equal(back, text, sizeof(text));
	free(back);
	free(gz);

	/* what does not shrink is left alone */
	for (i = 0; i < sizeof(noise); i++)
		noise[i] = (unsigned char)(i * 167 + 13);
	assert_int_equal(http_gzip(noise, sizeof(noise), 6, &gz, &gz_len), 1);
	assert_int_equal(http_gzip("", 0, 6, &gz, &gz_len), 1);

	/* a response: body replaced, Content-Encoding said, the strong ETag made weak */
	resp.status = 200;
	resp.body = malloc(sizeof(text));
	assert_non_null(resp.body);
	memcpy(resp.body, text, sizeof(text));
	resp.body_len = sizeof(text);
	assert_int_equal(http_response_header(&resp, "ETag", "\"17\""), 0);
	assert_int_equal(http_response_gzip(&resp, 1), 0);
	assert_string_equal(http_response_header_get(&resp, "content-encoding"), "gzip");
	assert_string_equal(http_response_header_get(&resp, "ETag"), "W/\"17\"");
	back = test_gunzip(resp.body, resp.body_len, (size_t)1 << 20, &back_len);
	assert_non_null(back);
	assert_int_equal(back_len, sizeof(text));
	assert_memory_equal(back, text, sizeof(text));
	free(back);
	/* encoded once only */
	assert_int_equal(http_response_gzip(&resp, 1), 1);
	free(resp.body);

	/* no room for Content-Encoding: left as it was */
	memset(&resp, 0, sizeof(resp));
	resp.body = malloc(sizeof(text));
	assert_non_null(resp.body);
	memcpy(resp.body, text, sizeof(text));
	resp.body_len = sizeof(text);
	for (i = 0; i < HTTP_HEADERS_OUT_MAX; i++)
		assert_int_equal(http_response_header(&resp, "X-A", "a"), 0);
	assert_int_equal(http_response_gzip(&resp, 1), 1);
	assert_int_equal(resp.body_len, sizeof(text));
	assert_memory_equal(resp.body, text, sizeof(text));
	assert_null(http_response_header_get(&resp, "Content-Encoding"));
	/* nor with a gzip form made already: it stays the caller's, and resp as it was */
	assert_int_equal(http_gzip(text, sizeof(text), 6, &gz, &gz_len), 0);
	assert_int_equal(http_response_take_gzip(&resp, gz, gz_len), 1);
	assert_int_equal(resp.body_len, sizeof(text));
	assert_memory_equal(resp.body, text, sizeof(text));
	free(gz);
	free(resp.body);
}

/* GET path with an Accept-Encoding (NULL: none), as sent, undecoded: status, body and three headers */
static void
request_encoded(const char *path, const char *accept, struct reply *r, char *ce, char *vary, char *etag, size_t size)
{
	char url[128], hdr[128];
	struct curl_slist *hdrs = NULL;
	struct curl_header *h;
	CURL *c = curl_easy_init();

	assert_non_null(c);
	memset(r, 0, sizeof(*r));
	snprintf(url, sizeof(url), "https://127.0.0.1:%d%s", T.port, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CAINFO, T.cert);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, reply_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
	if (accept) {
		/* a header of our own: libcurl then passes the body through as it came */
		snprintf(hdr, sizeof(hdr), "Accept-Encoding: %s", accept);
		hdrs = curl_slist_append(hdrs, hdr);
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	}
	r->rc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	ce[0] = vary[0] = etag[0] = '\0';
	if (curl_easy_header(c, "Content-Encoding", 0, CURLH_HEADER, -1, &h) == CURLHE_OK)
		copy_str(ce, size, h->value);
	if (curl_easy_header(c, "Vary", 0, CURLH_HEADER, -1, &h) == CURLHE_OK)
		copy_str(vary, size, h->value);
	if (curl_easy_header(c, "ETag", 0, CURLH_HEADER, -1, &h) == CURLHE_OK)
		copy_str(etag, size, h->value);
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(c);
}

static void
test_gzip_served(void **state)
{
	char ce[64], vary[64], etag[64], small[32], just[32], *back;
	struct reply r;
	size_t back_len;

	/* a large body to a client that takes gzip: compressed, said so, and the same bytes once inflated */
	request_encoded("/big/100000", "br, gzip", &r, ce, vary, etag, sizeof(ce));
	assert_int_equal(r.rc, CURLE_OK);
	assert_int_equal(r.status, 200);
	assert_string_equal(ce, "gzip");
	assert_string_equal(vary, "Accept-Encoding");
	assert_string_equal(etag, "W/\"v1\"");
	assert_true(r.len < 100000 / 10);
	back = test_gunzip(r.body, r.len, (size_t)1 << 20, &back_len);
	assert_non_null(back);
	assert_int_equal(back_len, 100000);
	assert_memory_equal(back, "{\"a\":[1,2,3]}{\"a\"", 17);
	free(back);
	reply_free(&r);

	/* the same to a client that does not, or refuses it: as it is, with Vary all the same */
	request_encoded("/big/100000", NULL, &r, ce, vary, etag, sizeof(ce));
	assert_int_equal(r.status, 200);
	assert_string_equal(ce, "");
	assert_string_equal(vary, "Accept-Encoding");
	assert_string_equal(etag, "\"v1\"");
	assert_int_equal(r.len, 100000);
	reply_free(&r);
	request_encoded("/big/100000", "gzip;q=0, *", &r, ce, vary, etag, sizeof(ce));
	assert_string_equal(ce, "");
	assert_int_equal(r.len, 100000);
	reply_free(&r);

	/* nor one that carries a secret, however large */
	request_encoded("/big/100000/secret", "gzip", &r, ce, vary, etag, sizeof(ce));
	assert_int_equal(r.status, 200);
	assert_string_equal(ce, "");
	assert_int_equal(r.len, 100000);
	reply_free(&r);

	/* a small body is never worth it */
	snprintf(small, sizeof(small), "/big/%d", HTTP_GZIP_MIN - 1);
	snprintf(just, sizeof(just), "/big/%d", HTTP_GZIP_MIN);
	request_encoded(small, "gzip", &r, ce, vary, etag, sizeof(ce));
	assert_int_equal(r.status, 200);
	assert_string_equal(ce, "");
	assert_string_equal(vary, "");
	assert_int_equal(r.len, HTTP_GZIP_MIN - 1);
	reply_free(&r);
	request_encoded(just, "gzip", &r, ce, vary, etag, sizeof(ce));
	assert_string_equal(ce, "gzip");
	back = test_gunzip(r.body, r.len, (size_t)1 << 20, &back_len);
	assert_non_null(back);
	assert_int_equal(back_len, HTTP_GZIP_MIN);
	free(back);
	reply_free(&r);
}

struct park_call {
	pthread_t thread;
	char url[64];
	struct reply r;
	double took;
};

static void *
park_call_main(void *arg)
{
	struct park_call *c = arg;
	double t0 = now_s();

	request("GET", c->url, false, NULL, 0, BODY_LENGTH, NULL, &c->r);
	c->took = now_s() - t0;
	return NULL;
}

static unsigned long
parked_now(void)
{
	struct reply r;
	unsigned long n = 0;

	request("GET", "/parked", false, NULL, 0, BODY_LENGTH, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_int_equal(sscanf(r.body, "{\"parked\":%lu}", &n), 1);
	reply_free(&r);
	return n;
}

static void
wait_parked(unsigned long want)
{
	int i;

	for (i = 0; i < 200 && parked_now() != want; i++)
		usleep(10000);
	assert_int_equal(parked_now(), want);
}

/* A parked request waits for its key, answers at its deadline, and beyond the limit is refused with a 503. */
static void
test_park(void **state)
{
	struct park_call a = { .url = "/park/1?ms=10000" }, b[PARKED_MAX];
	struct reply r;
	double t0;
	int i;

	/* woken by key: the handler is called again and answers */
	assert_int_equal(pthread_create(&a.thread, NULL, park_call_main, &a), 0);
	wait_parked(1);
	request("GET", "/wake/2", false, NULL, 0, BODY_LENGTH, NULL, &r);	/* another key: nobody */
	assert_string_equal(r.body, "{\"woken\":0}");
	reply_free(&r);
	assert_int_equal(parked_now(), 1);
	request("GET", "/wake/1", false, NULL, 0, BODY_LENGTH, NULL, &r);
	assert_string_equal(r.body, "{\"woken\":1}");
	reply_free(&r);
	pthread_join(a.thread, NULL);
	assert_int_equal(a.r.status, 200);
	assert_string_equal(a.r.body, "{\"woken\":1}");
	assert_true(a.took < 5);
	reply_free(&a.r);
	assert_int_equal(parked_now(), 0);

	/* its deadline: answered with park_expired, not before */
	t0 = now_s();
	request("GET", "/park/3?ms=300", false, NULL, 0, BODY_LENGTH, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "{\"expired\":3}");
	assert_true(now_s() - t0 >= 0.29 && now_s() - t0 < 3);
	reply_free(&r);

	/* the limit: PARKED_MAX park, the next is a 503 TooManyWatches at once */
	for (i = 0; i < PARKED_MAX; i++) {
		memset(&b[i], 0, sizeof(b[i]));
		snprintf(b[i].url, sizeof(b[i].url), "/park/4?ms=10000");
		assert_int_equal(pthread_create(&b[i].thread, NULL, park_call_main, &b[i]), 0);
	}
	wait_parked(PARKED_MAX);
	request("GET", "/park/4?ms=10000", false, NULL, 0, BODY_LENGTH, NULL, &r);
	assert_int_equal(r.status, 503);
	assert_non_null(strstr(r.body, "\"TooManyWatches\""));
	reply_free(&r);
	request("GET", "/wake/4", false, NULL, 0, BODY_LENGTH, NULL, &r);
	assert_string_equal(r.body, "{\"woken\":2}");
	reply_free(&r);
	for (i = 0; i < PARKED_MAX; i++) {
		pthread_join(b[i].thread, NULL);
		assert_int_equal(b[i].r.status, 200);
		assert_string_equal(b[i].r.body, "{\"woken\":4}");
		reply_free(&b[i].r);
	}
}

static void
test_response_header(void **state)
{
	struct http_response resp = { 0 };
	char longv[600];
	size_t i;

	memset(longv, 'v', sizeof(longv) - 1);
	longv[sizeof(longv) - 1] = '\0';
	assert_int_equal(http_response_header(&resp, "X-A", longv), -E2BIG);
	assert_int_equal(http_response_header(&resp, "X-A", "a\r\nSet-Cookie: x"), -EINVAL);
	assert_int_equal(http_response_header(&resp, "X-A:", "a"), -EINVAL);
	assert_int_equal(resp.n_headers, 0);
	for (i = 0; i < HTTP_HEADERS_OUT_MAX; i++)
		assert_int_equal(http_response_header(&resp, "X-A", "a"), 0);
	assert_int_equal(http_response_header(&resp, "X-A", "a"), -E2BIG);
	assert_int_equal(resp.n_headers, HTTP_HEADERS_OUT_MAX);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tls_material),
		cmocka_unit_test(test_tls_certificate),
		cmocka_unit_test(test_tls_incomplete),
		cmocka_unit_test(test_get_query_headers),
		cmocka_unit_test(test_control_in_target),
		cmocka_unit_test(test_media_type_json),
		cmocka_unit_test(test_put_body),
		cmocka_unit_test(test_body_limit),
		cmocka_unit_test(test_custom_status_and_header),
		cmocka_unit_test(test_unix_socket),
		cmocka_unit_test(test_header_limit),
		cmocka_unit_test(test_header_room),
		cmocka_unit_test(test_pool_entries),
		cmocka_unit_test(test_slow_client),
		cmocka_unit_test(test_start_errors),
		cmocka_unit_test(test_response_header),
		cmocka_unit_test(test_park),
		cmocka_unit_test(test_accepts_gzip),
		cmocka_unit_test(test_gzip),
		cmocka_unit_test(test_gzip_served),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
