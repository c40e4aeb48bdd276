/* The client's HTTP calls to jitgated over libcurl: connection settings, TLS, the unix socket, errors; the only file that includes curl.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <curl/curl.h>

#include "cli/cli.h"

struct cli_http {
	CURL *easy;
	char base[CLI_URL_MAX];		/* "https://host:port" or "http://localhost" */
	char auth[CLI_TOKEN_MAX + 32];	/* "Authorization: Bearer ..."; wiped */
};

struct capture {
	struct buf body;
	struct cli_reply *reply;
};

int
cli_http_global_init(void)
{
	return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -EIO;
}

void
cli_http_global_cleanup(void)
{
	curl_global_cleanup();
}

void
cli_free(struct cli *c)
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

void
cli_reply_clear(struct cli_reply *r)
{
	json_decref(r->json);
	free(r->body);
	memset(r, 0, sizeof(*r));
}

static int
copy_setting(struct cli *c, char *dst, size_t size, const char *what, const char *v)
{
	if (strlen(v) >= size)
		return cli_fail(c, CLI_EXIT_USAGE, "%s: too long (at most %zu bytes)", what, size - 1);
	memcpy(dst, v, strlen(v) + 1);
	return 0;
}

static bool
url_is_https(const char *u)
{
	return !strncasecmp(u, "https://", 8) && u[8];
}

int
cli_connect(struct cli *c)
{
	struct cli_config cfg;
	const char *env;
	bool have_cfg, cfg_matches;
	int r;

	if (c->connected)
		return 0;
	memset(&cfg, 0, sizeof(cfg));
	r = cli_config_read(c, &cfg);
	if (r < 0 && r != -ENOENT)
		goto out;
	have_cfg = r == 0;
	r = 0;

	if (!c->subscription[0] && (env = getenv("JITGATE_SUBSCRIPTION")) && *env) {
		if (arm_subscription_validate(env, strlen(env), NULL) < 0) {
			r = cli_fail(c, CLI_EXIT_USAGE, "JITGATE_SUBSCRIPTION: '%s' is not a subscription id", env);
			goto out;
		}
		snprintf(c->subscription, sizeof(c->subscription), "%s", env);
	}
	if (!c->socket_path[0] && (env = getenv("JITGATE_SOCKET")) && *env &&
	    (r = copy_setting(c, c->socket_path, sizeof(c->socket_path), "JITGATE_SOCKET", env)) < 0)
		goto out;
	if (!c->server[0] && !c->socket_path[0] && (env = getenv("JITGATE_SERVER")) && *env &&
	    (r = copy_setting(c, c->server, sizeof(c->server), "JITGATE_SERVER", env)) < 0)
		goto out;
	/* the config's token and CA belong to the config's server: never send them elsewhere */
	cfg_matches = have_cfg && cfg.server[0] && !c->socket_path[0] && (!c->server[0] || !strcmp(c->server, cfg.server));
	if (!c->server[0] && cfg_matches)
		snprintf(c->server, sizeof(c->server), "%s", cfg.server);
	if (!c->token && (env = getenv("JITGATE_TOKEN")) && *env) {
		if (strlen(env) > CLI_TOKEN_MAX) {
			r = cli_fail(c, CLI_EXIT_USAGE, "JITGATE_TOKEN: too long");
			goto out;
		}
		c->token = strdup(env);
	}
	if (!c->token && cfg_matches && cfg.token[0])
		c->token = strdup(cfg.token);
	if (!c->ca[0] && (env = getenv("JITGATE_CA")) && *env &&
	    (r = copy_setting(c, c->ca, sizeof(c->ca), "JITGATE_CA", env)) < 0)
		goto out;
	if (!c->ca[0] && cfg_matches && cfg.ca[0])
		snprintf(c->ca, sizeof(c->ca), "%s", cfg.ca);
	if (!c->subscription[0] && cfg_matches && cfg.subscription[0])
		snprintf(c->subscription, sizeof(c->subscription), "%s", cfg.subscription);
	if (!c->server[0] && !c->socket_path[0] && geteuid() == 0 && access(CLI_UNIX_SOCKET_DEFAULT, F_OK) == 0)
		snprintf(c->socket_path, sizeof(c->socket_path), "%s", CLI_UNIX_SOCKET_DEFAULT);

	c->http = calloc(1, sizeof(*c->http));
	if (!c->http) {
		r = cli_fail(c, CLI_EXIT_UNREACHABLE, "out of memory");
		goto out;
	}
	if (c->socket_path[0]) {
		c->via_socket = true;
		snprintf(c->http->base, sizeof(c->http->base), "http://localhost");
	} else if (!c->server[0]) {
		r = cli_fail(c, CLI_EXIT_USAGE,
			     "no server: give --server https://HOST:PORT, set JITGATE_SERVER, or run jitgate login");
		goto out;
	} else {
		size_t n = strlen(c->server);

		if (!url_is_https(c->server)) {
			r = cli_fail(c, CLI_EXIT_USAGE, "--server: '%s' is not an https:// URL (tokens never travel in clear)",
				     c->server);
			goto out;
		}
		while (n > 8 && c->server[n - 1] == '/')
			c->server[--n] = '\0';
		snprintf(c->http->base, sizeof(c->http->base), "%s", c->server);
		if (!c->token) {
			r = cli_fail(c, CLI_EXIT_AUTH, "no token: give --token, set JITGATE_TOKEN, or run jitgate login");
			goto out;
		}
		if (c->insecure)
			cli_fprintf(stderr, "jitgate: WARNING: --insecure: the server's certificate is NOT verified; anyone on the "
					"path can impersonate %s and read your token\n", c->server);
	}
	if (c->token && !c->via_socket) {
		int n = snprintf(c->http->auth, sizeof(c->http->auth), "Authorization: Bearer %s", c->token);

		if (n < 0 || (size_t)n >= sizeof(c->http->auth)) {
			r = cli_fail(c, CLI_EXIT_USAGE, "the token is too long");
			goto out;
		}
	}
	c->http->easy = curl_easy_init();
	if (!c->http->easy) {
		r = cli_fail(c, CLI_EXIT_UNREACHABLE, "cannot initialise libcurl");
		goto out;
	}
	c->connected = true;
	/* nothing names the subscription: the server's own (a server too old to say has the default) */
	if (!c->subscription[0]) {
		json_t *me;
		const char *sub;

		if ((r = cli_whoami(c, &me)) < 0)
			goto out;
		sub = cli_json_str(me, "subscriptionId", CLI_SUBSCRIPTION_DEFAULT);
		if (arm_subscription_validate(sub, strlen(sub), NULL) < 0) {
			r = cli_fail(c, CLI_EXIT_UNREACHABLE, "the server's subscriptionId '%s' is not a subscription id", sub);
			goto out;
		}
		snprintf(c->subscription, sizeof(c->subscription), "%s", sub);
	}
out:
	cli_config_clear(&cfg);
	return r;
}

int
cli_whoami(struct cli *c, json_t **ret)
{
	json_t *me;
	int r;

	/* connecting may ask already (for the subscription): then that answer is the one */
	if ((r = cli_connect(c)) < 0)
		return r;
	if (!c->whoami) {
		if ((r = cli_get(c, "/whoami", NULL, &me)) < 0)
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
transport_error(struct cli *c, CURLcode rc, const char *errbuf)
{
	const char *what = errbuf[0] ? errbuf : curl_easy_strerror(rc);
	const char *where = c->via_socket ? c->socket_path : c->server;

	switch (rc) {
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_SSL_CERTPROBLEM:
		cli_fail(c, CLI_EXIT_UNREACHABLE,
			 "TLS with %s failed: %s (give the server's certificate with --ca FILE or JITGATE_CA, or run "
			 "jitgate login to pin it)",
			 where, what);
		break;
	default:
		cli_fail(c, CLI_EXIT_UNREACHABLE, "cannot reach %s: %s", where, what);
	}
}

/* One request to base + target ("/path?query"). */
static int
request(struct cli *c, const char *method, const char *target, const char *body, size_t body_len,
	const char *if_match, const char *if_none_match, struct cli_reply *ret)
{
	struct cli_http *h = c->http;
	struct curl_slist *hdrs = NULL;
	struct capture cap;
	char url[CLI_URL_MAX + ARM_ID_MAX * 2], errbuf[CURL_ERROR_SIZE] = "", line[256];
	CURLcode rc;
	long status = 0;
	int n, r = 0;

	memset(&cap, 0, sizeof(cap));
	memset(ret, 0, sizeof(*ret));
	cap.reply = ret;
	cap.body.max = CLI_BODY_MAX;
	n = snprintf(url, sizeof(url), "%s%s", h->base, target);
	if (n < 0 || (size_t)n >= sizeof(url))
		return cli_fail(c, CLI_EXIT_USAGE, "the request URL is too long");
	curl_easy_reset(h->easy);
	curl_easy_setopt(h->easy, CURLOPT_URL, url);
	curl_easy_setopt(h->easy, CURLOPT_PROTOCOLS_STR, "https,http");
	curl_easy_setopt(h->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h->easy, CURLOPT_CONNECTTIMEOUT, (long)CLI_CONNECT_TIMEOUT_S);
	curl_easy_setopt(h->easy, CURLOPT_TIMEOUT, (long)CLI_TIMEOUT_S);
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
		r = cli_fail(c, CLI_EXIT_UNREACHABLE, "out of memory");
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
		if (rc == CURLE_WRITE_ERROR && cap.body.len >= CLI_BODY_MAX - 1)
			r = cli_fail(c, CLI_EXIT_UNREACHABLE, "the answer is larger than %zu bytes", CLI_BODY_MAX);
		else {
			transport_error(c, rc, errbuf);
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
cli_call(struct cli *c, const char *method, const char *path, const char *query, const json_t *body,
	 const char *if_match, const char *if_none_match, struct cli_reply *ret)
{
	char target[ARM_ID_MAX * 2 + 64];
	char *text = NULL;
	int n, r;

	memset(ret, 0, sizeof(*ret));	/* the caller clears it whatever happens */
	if ((r = cli_connect(c)) < 0)
		return r;
	n = snprintf(target, sizeof(target), "%s?api-version=%s%s%s", path, CLI_API_VERSION, query && *query ? "&" : "",
		     query && *query ? query : "");
	if (n < 0 || (size_t)n >= sizeof(target))
		return cli_fail(c, CLI_EXIT_USAGE, "the request path is too long");
	if (body && !(text = json_dumps(body, JSON_COMPACT)))
		return cli_fail(c, CLI_EXIT_USAGE, "cannot encode the request body");
	r = request(c, method, target, text, text ? strlen(text) : 0, if_match, if_none_match, ret);
	free(text);
	return r;
}

int
cli_report(struct cli *c, const struct cli_reply *r)
{
	const json_t *e = r->json ? json_object_get(r->json, "error") : NULL;
	const char *code = cli_json_str(e, "code", NULL), *msg = cli_json_str(e, "message", NULL),
		   *target = cli_json_str(e, "target", "");
	int exit_code = r->status == 401 || r->status == 403 ? CLI_EXIT_AUTH
			: r->status >= 500			 ? CLI_EXIT_UNREACHABLE
								 : CLI_EXIT_REFUSED;

	if (code && msg)
		cli_fail(c, exit_code, "%s: %s%s%s%s", code, msg, target[0] ? " (at " : "", target, target[0] ? ")" : "");
	else
		cli_fail(c, exit_code, "the server answered HTTP %ld%s%.200s", r->status, r->body && r->body[0] ? ": " : "",
			 r->body ? r->body : "");
	if (r->status == 401)
		cli_fprintf(stderr, "%s: check the token (--token, JITGATE_TOKEN, or jitgate login)\n", c->cmd);
	return -EREMOTE;
}

int
cli_get(struct cli *c, const char *path, const char *query, json_t **ret_json)
{
	struct cli_reply rep;
	int r = cli_call(c, "GET", path, query, NULL, NULL, NULL, &rep);

	if (r == -EREMOTE)
		cli_report(c, &rep);
	if (r == 0) {
		*ret_json = rep.json ? json_incref(rep.json) : json_object();
	}
	cli_reply_clear(&rep);
	return r;
}

int
cli_send(struct cli *c, const char *method, const char *path, const json_t *body, json_t **ret_json)
{
	struct cli_reply rep;
	int r = cli_call(c, method, path, NULL, body, NULL, NULL, &rep);

	if (r == -EREMOTE)
		cli_report(c, &rep);
	if (r == 0 && ret_json)
		*ret_json = rep.json ? json_incref(rep.json) : json_object();
	cli_reply_clear(&rep);
	return r;
}

int
cli_list(struct cli *c, const char *path, const char *query, json_t **ret_array)
{
	json_t *all = json_array(), *page = NULL;
	struct cli_reply rep;
	char next[CLI_URL_MAX + ARM_ID_MAX];
	int pages, r;

	memset(&rep, 0, sizeof(rep));
	r = cli_call(c, "GET", path, query, NULL, NULL, NULL, &rep);
	for (pages = 0; r == 0; pages++) {
		const char *link, *p;

		page = rep.json ? json_object_get(rep.json, "value") : NULL;
		if (!json_is_array(page)) {
			r = cli_fail(c, CLI_EXIT_UNREACHABLE, "the server's list has no \"value\" array");
			break;
		}
		json_array_extend(all, page);
		link = cli_json_str(rep.json, "nextLink", NULL);
		if (!link || !*link)
			break;
		if (pages >= CLI_PAGES_MAX) {
			r = cli_fail(c, CLI_EXIT_UNREACHABLE, "more than %d pages; stopping", CLI_PAGES_MAX);
			break;
		}
		/* follow the link's path and query on our own connection (it may name another host spelling) */
		p = strstr(link, "://");
		p = p ? strchr(p + 3, '/') : link;
		if (!p || strlen(p) >= sizeof(next)) {
			r = cli_fail(c, CLI_EXIT_UNREACHABLE, "the server's nextLink is not usable");
			break;
		}
		snprintf(next, sizeof(next), "%s", p);
		cli_reply_clear(&rep);
		r = request(c, "GET", next, NULL, 0, NULL, NULL, &rep);
	}
	if (r == -EREMOTE)
		cli_report(c, &rep);
	cli_reply_clear(&rep);
	if (r < 0) {
		json_decref(all);
		return r;
	}
	*ret_array = all;
	return 0;
}

int
cli_query_add(struct buf *q, const char *key, const char *value)
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
cli_http_fetch_cert(struct cli *c, const char *url, char **ret_pem)
{
	struct curl_certinfo *ci = NULL;
	struct curl_slist *s;
	char target[CLI_URL_MAX + 16], errbuf[CURL_ERROR_SIZE] = "";
	CURL *e = curl_easy_init();
	struct capture cap;
	struct cli_reply rep;
	CURLcode rc;
	int r = -ENOENT;

	memset(&cap, 0, sizeof(cap));
	memset(&rep, 0, sizeof(rep));
	cap.reply = &rep;
	cap.body.max = 65536;
	if (!e)
		return cli_fail(c, CLI_EXIT_UNREACHABLE, "cannot initialise libcurl");
	snprintf(target, sizeof(target), "%s/healthz", url);
	curl_easy_setopt(e, CURLOPT_URL, target);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, (long)CLI_CONNECT_TIMEOUT_S);
	curl_easy_setopt(e, CURLOPT_TIMEOUT, (long)CLI_TIMEOUT_S);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, errbuf);
	/* trust on first use: the handshake is not verified, the user checks the fingerprint */
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
	curl_easy_setopt(e, CURLOPT_CERTINFO, 1L);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, &cap);
	rc = curl_easy_perform(e);
	if (rc != CURLE_OK) {
		cli_fail(c, CLI_EXIT_UNREACHABLE, "cannot reach %s: %s", url, errbuf[0] ? errbuf : curl_easy_strerror(rc));
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
	r = cli_fail(c, CLI_EXIT_UNREACHABLE, "the server at %s showed no certificate that libcurl can report", url);
out:
	buf_free(&cap.body);
	curl_easy_cleanup(e);
	return r;
}
