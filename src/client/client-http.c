/* The client's HTTP calls to jitgated over libcurl: the handle, TLS, the unix socket, errors; the only file that includes curl.h. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <curl/curl.h>

#include "client/client.h"
#include "client/client-internal.h"

/* The client prints nothing: what goes wrong travels back in a struct client_error. */
#pragma GCC poison printf vprintf fprintf vfprintf dprintf puts fputs putchar fputc putc fwrite json_dumpf json_dumpfd perror

struct client_http {
	CURL *easy;
	char base[CLIENT_URL_MAX];		/* "https://host:port" or "http://localhost" */
	char auth[CLIENT_TOKEN_MAX + 32];	/* "Authorization: Bearer ..."; wiped */
};

struct capture {
	struct buf body;
	struct client_reply *reply;
};

int
client_global_init(void)
{
	return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -EIO;
}

void
client_global_cleanup(void)
{
	curl_global_cleanup();
}

void
client_free(struct client *c)
{
	json_decref(c->whoami);
	c->whoami = NULL;
	if (c->token) {
		explicit_bzero(c->token, strlen(c->token));
		free(c->token);
		c->token = NULL;
	}
	if (c->http) {
		if (c->http->easy)
			curl_easy_cleanup(c->http->easy);
		explicit_bzero(c->http->auth, sizeof(c->http->auth));
		free(c->http);
		c->http = NULL;
	}
}

int
client_http_open(struct client *c, struct client_error *err)
{
	c->http = calloc(1, sizeof(*c->http));
	if (!c->http)
		return client_fail(err, CLIENT_ERR_UNREACHABLE, "out of memory");
	snprintf(c->http->base, sizeof(c->http->base), "%s", c->via_socket ? "http://localhost" : c->server);
	if (c->token && !c->via_socket) {
		int n = snprintf(c->http->auth, sizeof(c->http->auth), "Authorization: Bearer %s", c->token);

		if (n < 0 || (size_t)n >= sizeof(c->http->auth))
			return client_fail(err, CLIENT_ERR_USAGE, "the token is too long");
	}
	c->http->easy = curl_easy_init();
	if (!c->http->easy)
		return client_fail(err, CLIENT_ERR_UNREACHABLE, "cannot initialise libcurl");
	return 0;
}

static size_t
on_body(char *p, size_t size, size_t nmemb, void *userdata)
{
	struct capture *cap = userdata;
	size_t n = size * nmemb;

	return buf_append(&cap->body, p, n) == 0 ? n : 0;
}

/* Copy a header's value (without CRLF) when the line is "name: value". */
static void
header_take(const char *line, size_t n, const char *name, char *dst, size_t size)
{
	size_t k = strlen(name), v;

	if (n <= k + 1 || strncasecmp(line, name, k) || line[k] != ':')
		return;
	line += k + 1;
	n -= k + 1;
	while (n && (*line == ' ' || *line == '\t'))
		line++, n--;
	while (n && (line[n - 1] == '\r' || line[n - 1] == '\n' || line[n - 1] == ' '))
		n--;
	v = n < size - 1 ? n : size - 1;
	memcpy(dst, line, v);
	dst[v] = '\0';
}

static size_t
on_header(char *p, size_t size, size_t nmemb, void *userdata)
{
	struct capture *cap = userdata;
	size_t n = size * nmemb;

	if (n >= 5 && !strncmp(p, "HTTP/", 5)) {
		cap->reply->etag[0] = '\0';
		cap->reply->content_type[0] = '\0';
	}
	header_take(p, n, "ETag", cap->reply->etag, sizeof(cap->reply->etag));
	header_take(p, n, "Content-Type", cap->reply->content_type, sizeof(cap->reply->content_type));
	return n;
}

static void
slist_wipe_free(struct curl_slist *l)
{
	struct curl_slist *i;

	for (i = l; i; i = i->next)
		explicit_bzero(i->data, strlen(i->data));
	curl_slist_free_all(l);
}

static void
transport_error(struct client *c, CURLcode rc, const char *errbuf, struct client_error *err)
{
	const char *what = errbuf[0] ? errbuf : curl_easy_strerror(rc);
	const char *where = c->via_socket ? c->socket_path : c->server;

	switch (rc) {
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_SSL_CERTPROBLEM:
		client_fail(err, CLIENT_ERR_UNREACHABLE,
			 "TLS with %s failed: %s (give the server's certificate with --ca FILE or JITGATE_CA, or run "
			 "jitgate login to pin it)",
			 where, what);
		break;
	default:
		client_fail(err, CLIENT_ERR_UNREACHABLE, "cannot reach %s: %s", where, what);
	}
}

/* What every transfer sets: the URL, the protocols it may use, the timeouts, where errors and the body go. */
static void
transfer_basics(CURL *easy, const char *url, const char *protocols, char *errbuf, struct capture *cap)
{
	curl_easy_setopt(easy, CURLOPT_URL, url);
	curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, protocols);
	curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT, (long)CLIENT_CONNECT_TIMEOUT_S);
	curl_easy_setopt(easy, CURLOPT_TIMEOUT, (long)CLIENT_TIMEOUT_S);
	curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(easy, CURLOPT_WRITEDATA, cap);
}

/* Point the (reset) handle at url with the transport's settings, the answer going into cap. */
static void
request_options(struct client *c, const char *url, char *errbuf, struct capture *cap)
{
	CURL *easy = c->http->easy;

	curl_easy_reset(easy);
	transfer_basics(easy, url, "https,http", errbuf, cap);
	curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(easy, CURLOPT_HEADERDATA, cap);
	curl_easy_setopt(easy, CURLOPT_USERAGENT, "jitgate-cli");
	/* large answers (policies with their requests, activity CSV) come compressed; libcurl inflates them */
	curl_easy_setopt(easy, CURLOPT_ACCEPT_ENCODING, "gzip");
	if (c->via_socket)
		curl_easy_setopt(easy, CURLOPT_UNIX_SOCKET_PATH, c->socket_path);
	if (c->ca[0])
		curl_easy_setopt(easy, CURLOPT_CAINFO, c->ca);
	if (c->insecure) {
		curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, 0L);
	}
}

/* The request's header lines (the token's among them: free with slist_wipe_free); NULL when out of memory. */
static struct curl_slist *
request_headers(const struct client_http *h, bool has_body, const char *if_match, const char *if_none_match)
{
	struct curl_slist *hdrs = NULL;
	char line[256];

	if (h->auth[0])
		hdrs = curl_slist_append(hdrs, h->auth);
	hdrs = curl_slist_append(hdrs, "Accept: application/json");
	hdrs = curl_slist_append(hdrs, "Expect:");
	if (has_body)
		hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
	if (if_match) {
		snprintf(line, sizeof(line), "If-Match: %s", if_match);
		hdrs = curl_slist_append(hdrs, line);
	}
	if (if_none_match) {
		snprintf(line, sizeof(line), "If-None-Match: %s", if_none_match);
		hdrs = curl_slist_append(hdrs, line);
	}
	return hdrs;
}

/* A finished transfer's answer into *ret (the captured body moves there); 0 on 2xx, else -EREMOTE. */
static int
reply_take(CURL *easy, struct capture *cap, struct client_reply *ret)
{
	long status = 0;

	curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
	ret->status = status;
	ret->body = cap->body.data ? cap->body.data : strdup("");
	ret->body_len = cap->body.len;
	cap->body.data = NULL;
	if (ret->body_len && strncasecmp(ret->content_type, "text/csv", 8))
		ret->json = json_loadb(ret->body, ret->body_len, 0, NULL);
	return status >= 200 && status < 300 ? 0 : -EREMOTE;
}

int
client_http_request(struct client *c, const char *method, const char *target, const char *body, size_t body_len,
		    const char *if_match, const char *if_none_match, struct client_reply *ret, struct client_error *err)
{
	struct client_http *h = c->http;
	struct curl_slist *hdrs = NULL;
	struct capture cap;
	char url[CLIENT_URL_MAX + ARM_ID_MAX * 2], errbuf[CURL_ERROR_SIZE] = "";
	CURLcode rc;
	int n, r = 0;

	memset(&cap, 0, sizeof(cap));
	memset(ret, 0, sizeof(*ret));
	cap.reply = ret;
	cap.body.max = CLIENT_BODY_MAX;
	n = snprintf(url, sizeof(url), "%s%s", h->base, target);
	if (n < 0 || (size_t)n >= sizeof(url))
		return client_fail(err, CLIENT_ERR_USAGE, "the request URL is too long");
	request_options(c, url, errbuf, &cap);
	hdrs = request_headers(h, body != NULL, if_match, if_none_match);
	if (!hdrs) {
		r = client_fail(err, CLIENT_ERR_UNREACHABLE, "out of memory");
		goto out;
	}
	curl_easy_setopt(h->easy, CURLOPT_HTTPHEADER, hdrs);
	if (body) {
		curl_easy_setopt(h->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
		curl_easy_setopt(h->easy, CURLOPT_POSTFIELDS, body);
	}
	if (strcmp(method, "GET"))
		curl_easy_setopt(h->easy, CURLOPT_CUSTOMREQUEST, method);
	rc = curl_easy_perform(h->easy);
	if (rc != CURLE_OK) {
		if (rc == CURLE_WRITE_ERROR && cap.body.len >= CLIENT_BODY_MAX - 1)
			r = client_fail(err, CLIENT_ERR_UNREACHABLE, "the answer is larger than %zu bytes", CLIENT_BODY_MAX);
		else {
			transport_error(c, rc, errbuf, err);
			r = -EHOSTUNREACH;
		}
		goto out;
	}
	r = reply_take(h->easy, &cap, ret);
out:
	buf_free(&cap.body);
	slist_wipe_free(hdrs);
	return r;
}

int
client_query_add(struct buf *q, const char *key, const char *value)
{
	char *esc = curl_easy_escape(NULL, value, 0);
	int r;

	if (!esc)
		return -ENOMEM;
	r = buf_printf(q, "%s%s=%s", q->len ? "&" : "", key, esc);
	curl_free(esc);
	return r;
}

int
client_fetch_cert(const char *url, char **ret_pem, struct client_error *err)
{
	struct curl_certinfo *ci = NULL;
	struct curl_slist *s;
	char target[CLIENT_URL_MAX + 16], errbuf[CURL_ERROR_SIZE] = "";
	CURL *e = curl_easy_init();
	struct capture cap;
	struct client_reply rep;
	CURLcode rc;
	int r = -ENOENT;

	memset(&cap, 0, sizeof(cap));
	memset(&rep, 0, sizeof(rep));
	cap.reply = &rep;
	cap.body.max = 65536;
	if (!e)
		return client_fail(err, CLIENT_ERR_UNREACHABLE, "cannot initialise libcurl");
	snprintf(target, sizeof(target), "%s/healthz", url);
	transfer_basics(e, target, "https", errbuf, &cap);
	/* trust on first use: the handshake is not verified, the user checks the fingerprint */
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
	curl_easy_setopt(e, CURLOPT_CERTINFO, 1L);
	rc = curl_easy_perform(e);
	if (rc != CURLE_OK) {
		client_fail(err, CLIENT_ERR_UNREACHABLE, "cannot reach %s: %s", url, errbuf[0] ? errbuf : curl_easy_strerror(rc));
		r = -EHOSTUNREACH;
		goto out;
	}
	if (curl_easy_getinfo(e, CURLINFO_CERTINFO, &ci) != CURLE_OK || !ci || ci->num_of_certs < 1)
		goto none;
	for (s = ci->certinfo[0]; s; s = s->next)
		if (!strncmp(s->data, "Cert:", 5)) {
			*ret_pem = strdup(s->data + 5);
			r = *ret_pem ? 0 : -ENOMEM;
			goto out;
		}
none:
	r = client_fail(err, CLIENT_ERR_UNREACHABLE, "the server at %s showed no certificate that libcurl can report", url);
out:
	buf_free(&cap.body);
	curl_easy_cleanup(e);
	return r;
}
