/* The agent's transport: curl multi driven from the caller's poll loop, a pinned server certificate, capped answers. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <curl/curl.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include "client/client-agent.h"

/* The client prints nothing: what goes wrong travels back in a struct client_error. */
#pragma GCC poison printf vprintf fprintf vfprintf dprintf puts fputs putchar fputc putc fwrite perror

#define PIN_FD_PATH_MAX	64	/* "/proc/self/fd/N" */

struct client_agent {
	CURLM *multi;
	CURL *easy;
	bool busy;			/* a transfer is in the multi handle */
	bool pinning;			/* ... and it is the handshake that checks the pin */
	bool too_big;			/* the answer passed max_body */
	char ca_file[CLIENT_PATH_MAX];	/* empty with a pin */
	bool has_fp;
	uint8_t fp[CLIENT_AGENT_FP_LEN];
	int pin_fd;			/* memfd: the certificate that matched (-1: none yet) */
	char pin_path[PIN_FD_PATH_MAX];
	char pinned_server[CLIENT_URL_MAX];	/* the server the pin was checked against (empty: none) */
	char server[CLIENT_URL_MAX];	/* the one being pinned */
	char errbuf[CURL_ERROR_SIZE];
	char auth[CLIENT_TOKEN_MAX + 32];	/* wiped */
	struct curl_slist *hdrs;
	struct buf body;
	size_t max_body;
};

int
client_cert_sha256(const char *pem, uint8_t out[CLIENT_AGENT_FP_LEN])
{
	gnutls_datum_t in = { (unsigned char *)(uintptr_t)pem, (unsigned)strlen(pem) }, der = { NULL, 0 };
	int r = 0;

	if (gnutls_pem_base64_decode2("CERTIFICATE", &in, &der) < 0)
		return -EINVAL;
	if (gnutls_hash_fast(GNUTLS_DIG_SHA256, der.data, der.size, out) < 0)
		r = -EIO;
	gnutls_free(der.data);
	return r;
}

int
client_agent_new(const char *ca_file, const uint8_t *fingerprint, struct client_agent **ret, struct client_error *err)
{
	struct client_agent *ca;

	if (!ca_file == !fingerprint || (ca_file && strlen(ca_file) >= CLIENT_PATH_MAX))
		return client_fail(err, CLIENT_ERR_USAGE, "give either a CA file or a certificate fingerprint");
	if (!(ca = calloc(1, sizeof(*ca))))
		return client_fail(err, CLIENT_ERR_UNREACHABLE, "out of memory");
	ca->pin_fd = -1;
	if (ca_file)
		snprintf(ca->ca_file, sizeof(ca->ca_file), "%s", ca_file);
	else {
		ca->has_fp = true;
		memcpy(ca->fp, fingerprint, CLIENT_AGENT_FP_LEN);
	}
	ca->multi = curl_multi_init();
	ca->easy = curl_easy_init();
	if (!ca->multi || !ca->easy) {
		client_agent_free(ca);
		return client_fail(err, CLIENT_ERR_UNREACHABLE, "cannot initialise libcurl");
	}
	*ret = ca;
	return 0;
}

static void
transfer_end(struct client_agent *ca)
{
	if (ca->busy)
		curl_multi_remove_handle(ca->multi, ca->easy);
	ca->busy = ca->pinning = false;
	buf_free(&ca->body);
	if (ca->hdrs) {
		struct curl_slist *i;

		for (i = ca->hdrs; i; i = i->next)
			explicit_bzero(i->data, strlen(i->data));
		curl_slist_free_all(ca->hdrs);
		ca->hdrs = NULL;
	}
	explicit_bzero(ca->auth, sizeof(ca->auth));
}

void
client_agent_free(struct client_agent *ca)
{
	if (!ca)
		return;
	transfer_end(ca);
	if (ca->easy)
		curl_easy_cleanup(ca->easy);
	if (ca->multi)
		curl_multi_cleanup(ca->multi);
	if (ca->pin_fd >= 0)
		close(ca->pin_fd);
	free(ca);
}

bool
client_agent_is_pinned(const struct client_agent *ca, const char *server)
{
	return !ca->has_fp || (ca->pin_fd >= 0 && strcmp(ca->pinned_server, server) == 0);
}

void
client_agent_unpin(struct client_agent *ca)
{
	ca->pinned_server[0] = '\0';
}

bool
client_agent_busy(const struct client_agent *ca)
{
	return ca->busy;
}

void
client_agent_cancel(struct client_agent *ca)
{
	transfer_end(ca);
}

static size_t
on_body(char *p, size_t size, size_t nmemb, void *userdata)
{
	struct client_agent *ca = userdata;
	size_t n = size * nmemb;

	if (n > ca->max_body - ca->body.len) {
		ca->too_big = true;
		return 0;
	}
	return buf_append(&ca->body, p, n) == 0 ? n : 0;
}

/* What every transfer sets: HTTPS only, the timeouts, errors and the body, no signals. */
static void
transfer_basics(struct client_agent *ca, const char *url, long timeout_ms, size_t max_body)
{
	CURL *e = ca->easy;

	curl_easy_reset(e);
	ca->errbuf[0] = '\0';
	ca->too_big = false;
	ca->max_body = max_body;
	ca->body.max = max_body + 1;
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)CLIENT_AGENT_CONNECT_MS);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, ca->errbuf);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, ca);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "jitgate-agent");
	curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)max_body);
	/* only our anchor: never the system's CA directory beside it */
	curl_easy_setopt(e, CURLOPT_CAPATH, NULL);
}

static int
transfer_add(struct client_agent *ca, struct client_error *err)
{
	int running;

	if (curl_multi_add_handle(ca->multi, ca->easy) != CURLM_OK) {
		transfer_end(ca);
		return client_fail(err, CLIENT_ERR_UNREACHABLE, "cannot start a transfer");
	}
	ca->busy = true;
	curl_multi_perform(ca->multi, &running);
	return 0;
}

int
client_agent_start_pin(struct client_agent *ca, const char *server, struct client_error *err)
{
	if (ca->busy)
		return client_fail(err, CLIENT_ERR_USAGE, "a transfer is already in flight");
	snprintf(ca->server, sizeof(ca->server), "%s", server);
	transfer_basics(ca, server, CLIENT_AGENT_CONNECT_MS, 0);
	/* the handshake alone: nothing is sent before the certificate is known to be the pinned one */
	curl_easy_setopt(ca->easy, CURLOPT_CONNECT_ONLY, 1L);
	curl_easy_setopt(ca->easy, CURLOPT_SSL_VERIFYPEER, 0L);
	curl_easy_setopt(ca->easy, CURLOPT_SSL_VERIFYHOST, 0L);
	curl_easy_setopt(ca->easy, CURLOPT_CERTINFO, 1L);
	/* a fresh connection: a kept one would show no handshake */
	curl_easy_setopt(ca->easy, CURLOPT_FRESH_CONNECT, 1L);
	curl_easy_setopt(ca->easy, CURLOPT_FORBID_REUSE, 1L);
	ca->pinning = true;
	return transfer_add(ca, err);
}

int
client_agent_start(struct client_agent *ca, const struct client_agent_call *c, struct client_error *err)
{
	int n;

	if (ca->busy)
		return client_fail(err, CLIENT_ERR_USAGE, "a transfer is already in flight");
	transfer_basics(ca, c->url, c->timeout_ms, c->max_body);
	curl_easy_setopt(ca->easy, CURLOPT_CAINFO, ca->has_fp ? ca->pin_path : ca->ca_file);
	if (c->token) {
		n = snprintf(ca->auth, sizeof(ca->auth), "Authorization: Bearer %s", c->token);
		if (n < 0 || (size_t)n >= sizeof(ca->auth)) {
			transfer_end(ca);
			return client_fail(err, CLIENT_ERR_USAGE, "the credential is too long");
		}
		ca->hdrs = curl_slist_append(ca->hdrs, ca->auth);
	}
	ca->hdrs = curl_slist_append(ca->hdrs, "Accept: application/json");
	ca->hdrs = curl_slist_append(ca->hdrs, "Expect:");
	if (c->body)
		ca->hdrs = curl_slist_append(ca->hdrs, "Content-Type: application/json");
	if (!ca->hdrs) {
		transfer_end(ca);
		return client_fail(err, CLIENT_ERR_UNREACHABLE, "out of memory");
	}
	curl_easy_setopt(ca->easy, CURLOPT_HTTPHEADER, ca->hdrs);
	if (c->body) {
		curl_easy_setopt(ca->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)c->body_len);
		curl_easy_setopt(ca->easy, CURLOPT_POSTFIELDS, c->body);
	}
	if (strcmp(c->method, "GET"))
		curl_easy_setopt(ca->easy, CURLOPT_CUSTOMREQUEST, c->method);
	return transfer_add(ca, err);
}

int
client_agent_wait(struct client_agent *ca, struct pollfd *extra, unsigned n_extra, int timeout_ms)
{
	struct curl_waitfd w[8];
	unsigned i;
	int running = 1;

	if (n_extra > sizeof(w) / sizeof(w[0]))
		return -E2BIG;
	/*
	 * The transfer may be over already: an answer that came at once (a watch whose revision had moved
	 * while the status before it was in flight) is read by the perform that sent its request, and its
	 * socket has nothing more to say. Polling it would sleep the caller's whole timeout (the agent's
	 * tick, 1 s) before the done transfer is seen; look without sleeping instead.
	 */
	if (ca->busy && curl_multi_perform(ca->multi, &running) != CURLM_OK)
		return -EIO;
	if (ca->busy && running == 0)
		timeout_ms = 0;
	for (i = 0; i < n_extra; i++) {
		w[i].fd = extra[i].fd;
		w[i].events = (short)(extra[i].events & (POLLIN | POLLPRI | POLLOUT));
		w[i].revents = 0;
	}
	if (curl_multi_poll(ca->multi, w, n_extra, timeout_ms, NULL) != CURLM_OK)
		return -EIO;
	for (i = 0; i < n_extra; i++)
		extra[i].revents = w[i].revents;
	if (ca->busy && curl_multi_perform(ca->multi, &running) != CURLM_OK)
		return -EIO;
	return 0;
}

/* Keep the certificate that matched as the only trust anchor, in a memfd read through /proc/self/fd. */
static int
pin_keep(struct client_agent *ca, const char *pem, struct client_error *err)
{
	size_t n = strlen(pem);

	if (ca->pin_fd < 0) {
		ca->pin_fd = memfd_create("jitgate-pin", MFD_CLOEXEC);
		if (ca->pin_fd < 0)
			return client_fail(err, CLIENT_ERR_UNREACHABLE, "cannot keep the pinned certificate: %s",
					   strerror(errno));
		snprintf(ca->pin_path, sizeof(ca->pin_path), "/proc/self/fd/%d", ca->pin_fd);
	}
	if (ftruncate(ca->pin_fd, 0) < 0 || pwrite(ca->pin_fd, pem, n, 0) != (ssize_t)n)
		return client_fail(err, CLIENT_ERR_UNREACHABLE, "cannot keep the pinned certificate: %s",
				   strerror(errno));
	snprintf(ca->pinned_server, sizeof(ca->pinned_server), "%s", ca->server);
	return 1;
}

/* The pin's handshake is over: find the pinned certificate among those the server showed. */
static int
pin_check(struct client_agent *ca, struct client_error *err)
{
	struct curl_certinfo *ci = NULL;
	uint8_t got[CLIENT_AGENT_FP_LEN], first[CLIENT_AGENT_FP_LEN] = { 0 };
	char hex[3 * CLIENT_AGENT_FP_LEN + 1] = "";
	int i, k;

	if (curl_easy_getinfo(ca->easy, CURLINFO_CERTINFO, &ci) != CURLE_OK || !ci || ci->num_of_certs < 1)
		return client_fail(err, CLIENT_ERR_UNREACHABLE, "%s showed no certificate", ca->server), -EPERM;
	for (i = 0; i < ci->num_of_certs; i++) {
		struct curl_slist *s;

		for (s = ci->certinfo[i]; s; s = s->next) {
			if (strncmp(s->data, "Cert:", 5) || strlen(s->data) > CLIENT_AGENT_PEM_MAX ||
			    client_cert_sha256(s->data + 5, got) < 0)
				continue;
			if (i == 0)
				memcpy(first, got, sizeof(got));
			if (memcmp(got, ca->fp, sizeof(got)) == 0)
				return pin_keep(ca, s->data + 5, err);
		}
	}
	for (k = 0; k < CLIENT_AGENT_FP_LEN; k++)
		snprintf(hex + 3 * k, sizeof(hex) - 3 * (size_t)k, "%02X%s", first[k], k + 1 < CLIENT_AGENT_FP_LEN ? ":" : "");
	client_fail(err, CLIENT_ERR_UNREACHABLE, "the certificate of %s does not match the pinned fingerprint "
		    "(it shows SHA256 %s): nothing was sent", ca->server, hex);
	return -EPERM;
}

/* The finished call's answer into *ret: the captured body moves there. */
static int
reply_take(struct client_agent *ca, struct client_reply *ret)
{
	long status = 0;

	memset(ret, 0, sizeof(*ret));
	curl_easy_getinfo(ca->easy, CURLINFO_RESPONSE_CODE, &status);
	ret->status = status;
	ret->body = ca->body.data ? ca->body.data : strdup("");
	ret->body_len = ca->body.len;
	ca->body.data = NULL;
	ca->body.len = 0;
	return ret->body ? 1 : -ENOMEM;
}

int
client_agent_done(struct client_agent *ca, struct client_reply *ret, struct client_error *err)
{
	CURLMsg *m;
	CURLcode rc = CURLE_OK;
	int left, r;
	bool finished = false;

	while ((m = curl_multi_info_read(ca->multi, &left)))
		if (m->msg == CURLMSG_DONE && m->easy_handle == ca->easy) {
			finished = true;
			rc = m->data.result;
		}
	if (!ca->busy || !finished)
		return 0;
	if (ca->too_big || rc == CURLE_FILESIZE_EXCEEDED)
		r = client_fail(err, CLIENT_ERR_UNREACHABLE, "the answer is larger than %zu bytes", ca->max_body),
		r = -EFBIG;
	else if (rc != CURLE_OK)
		r = client_fail(err, CLIENT_ERR_UNREACHABLE, "%s", ca->errbuf[0] ? ca->errbuf : curl_easy_strerror(rc)),
		r = -EHOSTUNREACH;
	else if (ca->pinning)
		r = pin_check(ca, err);
	else
		r = reply_take(ca, ret);
	transfer_end(ca);
	return r;
}

/* Drive the transfer in flight to its end, polling nothing else. */
static int
finish(struct client_agent *ca, struct client_reply *ret, struct client_error *err)
{
	int r;

	while ((r = client_agent_done(ca, ret, err)) == 0)
		if ((r = client_agent_wait(ca, NULL, 0, 1000)) < 0) {
			transfer_end(ca);
			return client_fail(err, CLIENT_ERR_UNREACHABLE, "libcurl failed"), r;
		}
	return r;
}

int
client_agent_call(struct client_agent *ca, const char *server, const struct client_agent_call *c,
		  struct client_reply *ret, struct client_error *err)
{
	struct client_reply none;
	int r;

	memset(&none, 0, sizeof(none));
	if (!client_agent_is_pinned(ca, server)) {
		if ((r = client_agent_start_pin(ca, server, err)) < 0 || (r = finish(ca, &none, err)) < 0)
			return r;
	}
	if ((r = client_agent_start(ca, c, err)) < 0)
		return r;
	return finish(ca, ret, err);
}

void
client_reply_error(const struct client_reply *r, char *code, size_t code_size, char *message, size_t msg_size)
{
	json_t *v = r->body_len ? json_loadb(r->body, r->body_len, 0, NULL) : NULL;
	json_t *e = json_object_get(v, "error");
	const char *c = json_string_value(json_object_get(e, "code"));
	const char *m = json_string_value(json_object_get(e, "message"));

	snprintf(code, code_size, "%s", c ? c : "");
	snprintf(message, msg_size, "%s", m ? m : "");
	json_decref(v);
}
