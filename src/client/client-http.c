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
client_fail(struct client_error *err, enum client_error_kind kind, const char *fmt, ...)
{
	va_list ap;

	err->kind = kind;
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

void
client_error_clear(struct client_error *err)
{
	client_reply_clear(&err->refusal);
	err->refused = false;
	err->message[0] = '\0';
}

/* The server's refusal becomes the error (the first one stays: connecting may have been refused already). */
static void
refusal_take(struct client_error *err, struct client_reply *rep)
{
	if (err->refused)
		return;
	err->refused = true;
	err->refusal = *rep;
	memset(rep, 0, sizeof(*rep));
}

/* Object member as a string, or `dflt`. */
static const char *
json_str(const json_t *o, const char *key, const char *dflt)
{
	const json_t *v = o ? json_object_get(o, key) : NULL;

	return json_is_string(v) ? json_string_value(v) : dflt;
}

void
client_reply_clear(struct client_reply *r)
{
	json_decref(r->json);
	free(r->body);
	memset(r, 0, sizeof(*r));
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

int
client_whoami(struct client *c, json_t **ret, struct client_error *err)
{
	json_t *me;
	int r;

	/* connecting may ask already (for the subscription): then that answer is the one */
	if ((r = client_connect(c, err)) < 0)
		return r;
	if (!c->whoami) {
		if ((r = client_get(c, "/whoami", NULL, &me, err)) < 0)
			return r;
		c->whoami = me;
	}
	*ret = c->whoami;
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

/* One request to base + target ("/path?query"). */
static int
request(struct client *c, const char *method, const char *target, const char *body, size_t body_len,
	const char *if_match, const char *if_none_match, struct client_reply *ret, struct client_error *err)
{
	struct client_http *h = c->http;
	struct curl_slist *hdrs = NULL;
	struct capture cap;
	char url[CLIENT_URL_MAX + ARM_ID_MAX * 2], errbuf[CURL_ERROR_SIZE] = "", line[256];
	CURLcode rc;
	long status = 0;
	int n, r = 0;

	memset(&cap, 0, sizeof(cap));
	memset(ret, 0, sizeof(*ret));
	cap.reply = ret;
	cap.body.max = CLIENT_BODY_MAX;
	n = snprintf(url, sizeof(url), "%s%s", h->base, target);
	if (n < 0 || (size_t)n >= sizeof(url))
		return client_fail(err, CLIENT_ERR_USAGE, "the request URL is too long");
	curl_easy_reset(h->easy);
	curl_easy_setopt(h->easy, CURLOPT_URL, url);
	curl_easy_setopt(h->easy, CURLOPT_PROTOCOLS_STR, "https,http");
	curl_easy_setopt(h->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h->easy, CURLOPT_CONNECTTIMEOUT, (long)CLIENT_CONNECT_TIMEOUT_S);
	curl_easy_setopt(h->easy, CURLOPT_TIMEOUT, (long)CLIENT_TIMEOUT_S);
	curl_easy_setopt(h->easy, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(h->easy, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h->easy, CURLOPT_WRITEDATA, &cap);
	curl_easy_setopt(h->easy, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h->easy, CURLOPT_HEADERDATA, &cap);
	curl_easy_setopt(h->easy, CURLOPT_USERAGENT, "jitgate-cli");
	/* large answers (policies with their requests, activity CSV) come compressed; libcurl inflates them */
	curl_easy_setopt(h->easy, CURLOPT_ACCEPT_ENCODING, "gzip");
	if (c->via_socket)
		curl_easy_setopt(h->easy, CURLOPT_UNIX_SOCKET_PATH, c->socket_path);
	if (c->ca[0])
		curl_easy_setopt(h->easy, CURLOPT_CAINFO, c->ca);
	if (c->insecure) {
		curl_easy_setopt(h->easy, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(h->easy, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	if (h->auth[0])
		hdrs = curl_slist_append(hdrs, h->auth);
	hdrs = curl_slist_append(hdrs, "Accept: application/json");
	hdrs = curl_slist_append(hdrs, "Expect:");
	if (body)
		hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
	if (if_match) {
		snprintf(line, sizeof(line), "If-Match: %s", if_match);
		hdrs = curl_slist_append(hdrs, line);
	}
	if (if_none_match) {
		snprintf(line, sizeof(line), "If-None-Match: %s", if_none_match);
		hdrs = curl_slist_append(hdrs, line);
	}
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
	curl_easy_getinfo(h->easy, CURLINFO_RESPONSE_CODE, &status);
	ret->status = status;
	ret->body = cap.body.data ? cap.body.data : strdup("");
	ret->body_len = cap.body.len;
	cap.body.data = NULL;
	if (ret->body_len && strncasecmp(ret->content_type, "text/csv", 8))
		ret->json = json_loadb(ret->body, ret->body_len, 0, NULL);
	r = status >= 200 && status < 300 ? 0 : -EREMOTE;
out:
	buf_free(&cap.body);
	slist_wipe_free(hdrs);
	return r;
}

int
client_call(struct client *c, const char *method, const char *path, const char *query, const json_t *body,
	    const char *if_match, const char *if_none_match, struct client_reply *ret, struct client_error *err)
{
	char target[ARM_ID_MAX * 2 + 64];
	char *text = NULL;
	int n, r;

	memset(ret, 0, sizeof(*ret));	/* the caller clears it whatever happens */
	if ((r = client_connect(c, err)) < 0)
		return r;
	n = snprintf(target, sizeof(target), "%s?api-version=%s%s%s", path, CLIENT_API_VERSION, query && *query ? "&" : "",
		     query && *query ? query : "");
	if (n < 0 || (size_t)n >= sizeof(target))
		return client_fail(err, CLIENT_ERR_USAGE, "the request path is too long");
	if (body && !(text = json_dumps(body, JSON_COMPACT)))
		return client_fail(err, CLIENT_ERR_USAGE, "cannot encode the request body");
	r = request(c, method, target, text, text ? strlen(text) : 0, if_match, if_none_match, ret, err);
	free(text);
	return r;
}

int
client_get(struct client *c, const char *path, const char *query, json_t **ret_json, struct client_error *err)
{
	struct client_reply rep;
	int r = client_call(c, "GET", path, query, NULL, NULL, NULL, &rep, err);

	if (r == -EREMOTE)
		refusal_take(err, &rep);
	if (r == 0) {
		*ret_json = rep.json ? json_incref(rep.json) : json_object();
	}
	client_reply_clear(&rep);
	return r;
}

int
client_send(struct client *c, const char *method, const char *path, const json_t *body, json_t **ret_json,
	    struct client_error *err)
{
	struct client_reply rep;
	int r = client_call(c, method, path, NULL, body, NULL, NULL, &rep, err);

	if (r == -EREMOTE)
		refusal_take(err, &rep);
	if (r == 0 && ret_json)
		*ret_json = rep.json ? json_incref(rep.json) : json_object();
	client_reply_clear(&rep);
	return r;
}

int
client_list(struct client *c, const char *path, const char *query, json_t **ret_array, struct client_error *err)
{
	json_t *all = json_array(), *page = NULL;
	struct client_reply rep;
	char next[CLIENT_URL_MAX + ARM_ID_MAX];
	int pages, r;

	memset(&rep, 0, sizeof(rep));
	r = client_call(c, "GET", path, query, NULL, NULL, NULL, &rep, err);
	for (pages = 0; r == 0; pages++) {
		const char *link, *p;

		page = rep.json ? json_object_get(rep.json, "value") : NULL;
		if (!json_is_array(page)) {
			r = client_fail(err, CLIENT_ERR_UNREACHABLE, "the server's list has no \"value\" array");
			break;
		}
		json_array_extend(all, page);
		link = json_str(rep.json, "nextLink", NULL);
		if (!link || !*link)
			break;
		if (pages >= CLIENT_PAGES_MAX) {
			r = client_fail(err, CLIENT_ERR_UNREACHABLE, "more than %d pages; stopping", CLIENT_PAGES_MAX);
			break;
		}
		/* follow the link's path and query on our own connection (it may name another host spelling) */
		p = strstr(link, "://");
		p = p ? strchr(p + 3, '/') : link;
		if (!p || strlen(p) >= sizeof(next)) {
			r = client_fail(err, CLIENT_ERR_UNREACHABLE, "the server's nextLink is not usable");
			break;
		}
		snprintf(next, sizeof(next), "%s", p);
		client_reply_clear(&rep);
		r = request(c, "GET", next, NULL, 0, NULL, NULL, &rep, err);
	}
	if (r == -EREMOTE)
		refusal_take(err, &rep);
	client_reply_clear(&rep);
	if (r < 0) {
		json_decref(all);
		return r;
	}
	*ret_array = all;
	return 0;
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
	curl_easy_setopt(e, CURLOPT_URL, target);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, (long)CLIENT_CONNECT_TIMEOUT_S);
	curl_easy_setopt(e, CURLOPT_TIMEOUT, (long)CLIENT_TIMEOUT_S);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, errbuf);
	/* trust on first use: the handshake is not verified, the user checks the fingerprint */
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
	curl_easy_setopt(e, CURLOPT_CERTINFO, 1L);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, &cap);
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
