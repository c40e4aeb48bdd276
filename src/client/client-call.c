/* The client's calls as its users make them: connect (settle the settings, open the transport, learn the subscription), then call, get, send, list. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "client/client.h"
#include "client/client-internal.h"

/* The client prints nothing: what goes wrong travels back in a struct client_error. */
#pragma GCC poison printf vprintf fprintf vfprintf dprintf puts fputs putchar fputc putc fwrite json_dumpf json_dumpfd perror

static bool
url_is_https(const char *u)
{
	return !strncasecmp(u, "https://", 8) && u[8];
}

int
client_connect(struct client *c, struct client_error *err)
{
	int r;

	if (c->connected)
		return 0;
	if ((r = client_settle(c, err)) < 0)
		return r;
	if (c->socket_path[0]) {
		c->via_socket = true;
	} else if (!c->server[0]) {
		r = client_fail(err, CLIENT_ERR_USAGE,
			     "no server: give --server https://HOST:PORT, set JITGATE_SERVER, or run jitgate login");
		goto out;
	} else {
		size_t n = strlen(c->server);

		if (!url_is_https(c->server)) {
			r = client_fail(err, CLIENT_ERR_USAGE, "--server: '%s' is not an https:// URL (tokens never travel in clear)",
				     c->server);
			goto out;
		}
		while (n > 8 && c->server[n - 1] == '/')
			c->server[--n] = '\0';
		if (!c->token) {
			r = client_fail(err, CLIENT_ERR_AUTH, "no token: give --token, set JITGATE_TOKEN, or run jitgate login");
			goto out;
		}
		if (c->insecure)
			client_warning(c, "WARNING: --insecure: the server's certificate is NOT verified; anyone on the "
				"path can impersonate %s and read your token", c->server);
	}
	if ((r = client_http_open(c, err)) < 0)
		goto out;
	c->connected = true;
	/* nothing names the subscription: the server's own (a server too old to say has the default) */
	if (!c->subscription[0]) {
		json_t *me;
		const char *sub;

		if ((r = client_whoami(c, &me, err)) < 0)
			goto out;
		sub = json_string_value(json_object_get(me, "subscriptionId"));
		if (!sub)
			sub = CLIENT_SUBSCRIPTION_DEFAULT;
		if (arm_subscription_validate(sub, strlen(sub), NULL) < 0) {
			r = client_fail(err, CLIENT_ERR_UNREACHABLE, "the server's subscriptionId '%s' is not a subscription id", sub);
			goto out;
		}
		snprintf(c->subscription, sizeof(c->subscription), "%s", sub);
	}
out:
	return r;
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
	r = client_http_request(c, method, target, text, text ? strlen(text) : 0, if_match, if_none_match, ret, err);
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
		r = client_http_request(c, "GET", next, NULL, 0, NULL, NULL, &rep, err);
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
