/* Who is asking: the caller's address (behind a trusted proxy too) and its authentication by token, portal session or single sign-on. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/api-internal.h"
#include "api/api-limits.h"
#include "codec/codec.h"

/* Are s[0..n) one to five digits (a port)? */
static bool
is_port(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || n > 5)
		return false;
	for (i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

/*
 * The last element of an X-Forwarded-For list (the hop the trusted proxy itself
 * saw; the ones before it are whatever the client wrote): an IPv4 or IPv6
 * address, optionally "v4:port", "[v6]" or "[v6]:port", blanks around it
 * ignored. 0, or -EINVAL for anything else (an empty last element included).
 */
int
api_forwarded_for_last(const char *list, size_t len, struct net_addr *ret)
{
	const char *b = list, *e = list + len, *p, *close, *colon;
	struct net_addr a;

	for (p = e; p > list; p--)
		if (p[-1] == ',') {
			b = p;
			break;
		}
	while (b < e && (*b == ' ' || *b == '\t'))
		b++;
	while (e > b && (e[-1] == ' ' || e[-1] == '\t'))
		e--;
	if (b == e)
		return -EINVAL;
	if (*b == '[') {
		close = memchr(b, ']', (size_t)(e - b));
		if (!close || (close + 1 != e && !(close[1] == ':' && is_port(close + 2, (size_t)(e - close - 2)))) ||
		    net_addr_parse(b + 1, (size_t)(close - b - 1), &a, NULL) < 0 || a.family != NET_INET6)
			return -EINVAL;
	} else if ((colon = memchr(b, ':', (size_t)(e - b))) && !memchr(colon + 1, ':', (size_t)(e - colon - 1))) {
		if (!is_port(colon + 1, (size_t)(e - colon - 1)) || net_addr_parse(b, (size_t)(colon - b), &a, NULL) < 0 ||
		    a.family != NET_INET)
			return -EINVAL;
	} else if (net_addr_parse(b, (size_t)(e - b), &a, NULL) < 0) {
		return -EINVAL;
	}
	*ret = a;
	return 0;
}

/*
 * The caller's address: the TCP peer or, when the peer is a trusted proxy, the
 * last element of all its X-Forwarded-For lines taken as one list. A trusted
 * proxy that sends none, or one that does not parse, leaves the address unknown
 * (never the proxy's own, which would stand for everyone behind it): requests
 * that need it are refused, and failure budgets fall on the proxy.
 */
void
api_caller_address(const struct api *api, const struct http_request *req, struct api_caller *c)
{
	char xff[API_FORWARDED_FOR_MAX + 1];
	struct net_addr a;
	size_t i;
	int n;

	c->addr = req->peer;
	c->limit_addr = req->peer;
	for (i = 0; req->peer.family && i < api->settings.n_trusted_proxies; i++)
		if (net_prefix_contains_addr(&api->settings.trusted_proxies[i], &req->peer))
			break;
	if (req->peer.family && i < api->settings.n_trusted_proxies) {
		n = http_request_header_join(req, "X-Forwarded-For", xff, sizeof(xff));
		if (n >= 0 && api_forwarded_for_last(xff, (size_t)n, &a) == 0) {
			c->addr = a;
			net_addr_unmap_v4(&c->addr);
			c->limit_addr = c->addr;
		} else {
			memset(&c->addr, 0, sizeof(c->addr));
			snprintf(c->addr_text, sizeof(c->addr_text), "unknown");
			return;
		}
	}
	net_addr_unmap_v4(&c->addr);
	if (c->addr.family)
		net_addr_format(&c->addr, c->addr_text, sizeof(c->addr_text));
	else
		snprintf(c->addr_text, sizeof(c->addr_text), "local");
}

/* Fill the caller from a token's row. */
static void
caller_from_token(const struct api *api, const struct store_token *t, struct api_caller *c)
{
	snprintf(c->name, sizeof(c->name), STORE_TOKEN_REQUESTOR "%s", t->name);
	c->n_assign = 1;
	c->assign[0].role = api_role_lookup(api, t->role);
	snprintf(c->assign[0].scope, sizeof(c->assign[0].scope), "%s", t->scope);
}

/* A portal session's caller (its token's, or the person's for single sign-on), with the CSRF check of a write. */
static int
authenticate_session(struct api *api, const struct http_request *req, struct api_session *sess, struct api_caller *c,
		     struct http_response *resp)
{
	struct store_token t;
	int r;

	if (sess->sso) {
		api_caller_from_session(api, sess, c);
	} else {
		if ((r = store_token_find(api->store, sess->token_hash, &t)) < 0 && r != -ENOENT) {
			api_store_error(api, resp, r, "cannot check the session's token");	/* 503 while unreachable */
			return r;
		}
		if (r < 0) {
			(void)api_session_end(api, sess->id_hash, sess->expires_ns);	/* its token was revoked: so is the session */
			api_error(resp, 401, "AuthenticationFailed", "", "the session's token was revoked; sign in again");
			return -EACCES;
		}
		caller_from_token(api, &t, c);
	}
	if (!api_session_csrf_ok(sess, req)) {
		api_error(resp, 403, "CsrfTokenInvalid", "X-CSRF-Token",
			  "a signed-in write needs the X-CSRF-Token header from sign-in");
		api_log(api, c, req->method, req->path, "Denied", NULL, "missing or wrong CSRF token");
		return -EACCES;
	}
	return 0;
}

/* 0 and a filled caller, or a 401/403 (503: the store cannot say) in resp. Bearer token, portal session cookie, or root on the unix socket. */
int
api_authenticate(struct api *api, const struct http_request *req, struct api_caller *c, struct http_response *resp)
{
	const char *auth = http_request_header(req, "Authorization");
	uint8_t hash[STORE_TOKEN_HASH_LEN];
	struct api_session sess;
	struct store_token t;
	const char *secret;
	int r;

	if (req->via_unix && req->peer_uid == 0 && !auth) {
		snprintf(c->name, sizeof(c->name), "root");
		c->n_assign = 1;
		c->assign[0].role = rbac_role_builtin("Owner");
		c->assign[0].scope[0] = '\0';
		return 0;
	}
	if (!auth && (r = api_session_find(api, req, &sess)) != -ENOENT) {
		if (r < 0) {
			api_store_error(api, resp, r, "cannot check the session");	/* 503 while unreachable */
			return r;
		}
		r = authenticate_session(api, req, &sess, c, resp);
		explicit_bzero(&sess, sizeof(sess));
		return r;
	}
	if (!auth || strncasecmp(auth, "Bearer ", 7)) {
		api_error(resp, 401, "AuthenticationFailed", "",
			  "authentication failed: send 'Authorization: Bearer <token>'");
		api_auth_failed(api, c, "Authenticate", req->path, false, "no bearer token", resp);
		return -EACCES;
	}
	secret = auth + 7;
	while (*secret == ' ')
		secret++;
	/* an agent's or a join token's secret is good only under /agent/v1 (api-agents.c) */
	if (!strncmp(secret, API_AGENT_PREFIX, strlen(API_AGENT_PREFIX)) ||
	    !strncmp(secret, API_JOIN_TOKEN_PREFIX, strlen(API_JOIN_TOKEN_PREFIX))) {
		api_error(resp, 401, "AuthenticationFailed", "",
			  "authentication failed: agent credentials and join tokens are good only for %s",
			  API_AGENT_ROOT);
		api_auth_failed(api, c, "Authenticate", req->path, true, "an agent or join credential", resp);
		return -EACCES;
	}
	/* a CLI's single sign-on session (jitgate login --sso): a bearer, so no CSRF token */
	if (!strncmp(secret, SSO_BEARER_PREFIX, strlen(SSO_BEARER_PREFIX))) {
		if ((r = api_session_find_bearer(api, secret, &sess)) < 0 && r != -ENOENT) {
			api_store_error(api, resp, r, "cannot check the session");
			return r;
		}
		if (r < 0 || !sess.sso) {
			api_error(resp, 401, "AuthenticationFailed", "",
				  "the single sign-on session has ended; sign in again (jitgate login --sso)");
			api_auth_failed(api, c, "Authenticate", req->path, true, "unknown or ended sso session", resp);
			return -EACCES;
		}
		api_caller_from_session(api, &sess, c);
		explicit_bzero(&sess, sizeof(sess));
		return 0;
	}
	r = -ENOENT;
	if (strlen(secret) <= API_TOKEN_TEXT_MAX && api_token_hash(secret, strlen(secret), hash) == 0)
		r = store_token_find(api->store, hash, &t);
	explicit_bzero(hash, sizeof(hash));
	if (r < 0 && r != -ENOENT) {
		/* the store cannot say (PostgreSQL unreachable): 503 with Retry-After, not a 401 the client believes */
		api_store_error(api, resp, r, "cannot check the token");
		return r;
	}
	if (r < 0) {
		api_error(resp, 401, "AuthenticationFailed", "", "authentication failed: the token is not valid");
		api_auth_failed(api, c, "Authenticate", req->path, true, "unknown or revoked token", resp);
		return -EACCES;
	}
	caller_from_token(api, &t, c);
	return 0;
}
