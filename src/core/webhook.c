/* Webhook notifications' model: event names, the activity-to-event table and a hook's settings (webhook.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/rbac.h"
#include "core/webhook.h"

static const char *const event_names[WEBHOOK_EV__MAX] = {
	[WEBHOOK_EV_REQUESTED] = "requested",
	[WEBHOOK_EV_APPROVED] = "approved",
	[WEBHOOK_EV_DENIED] = "denied",
	[WEBHOOK_EV_OPENED] = "opened",
	[WEBHOOK_EV_EXTENDED] = "extended",
	[WEBHOOK_EV_REVOKED] = "revoked",
	[WEBHOOK_EV_EXPIRED] = "expired",
	[WEBHOOK_EV_TAMPERING_UNDONE] = "tampering undone",
	[WEBHOOK_EV_AGENT_DISCONNECTED] = "agent disconnected",
};

/*
 * Which activity log entries are which event: the one place to extend when a feature logs a new
 * kind (approvals, extend, agent liveness add their rows here). An entry matches on its operation
 * and status together: "Denied" alone is also an authorization failure, which is no event.
 * The one event with no row here yet (agent disconnected) is accepted in a hook's events and sent
 * once a feature logs it.
 */
#define WEBHOOK_OP_PREFIX	"Microsoft.Security/locations/jitNetworkAccessPolicies/"
static const struct {
	const char *operation, *status;
	enum webhook_event event;
} event_table[] = {
	{ RBAC_POLICY_INITIATE, "Succeeded", WEBHOOK_EV_OPENED },	/* one row per port opened */
	{ RBAC_POLICY_REVOKE, "Revoked", WEBHOOK_EV_REVOKED },		/* by a user, a token revoke, the close journal */
	{ "Expire", "Expired", WEBHOOK_EV_EXPIRED },
	{ "Tamper", "Reconciled", WEBHOOK_EV_TAMPERING_UNDONE },	/* this host's table restored */
	/* approvals and extend: api-internal.h's API_OP_APPROVE, _DENY, _EXTEND and _APPROVAL_EXPIRE */
	{ RBAC_POLICY_INITIATE, "Pending", WEBHOOK_EV_REQUESTED },	/* a port waiting for approval */
	{ WEBHOOK_OP_PREFIX "extend/action", "Pending", WEBHOOK_EV_REQUESTED },	/* an extension waiting */
	{ WEBHOOK_OP_PREFIX "approve/action", "Approved", WEBHOOK_EV_APPROVED },	/* one approval of several */
	{ WEBHOOK_OP_PREFIX "approve/action", "Opened", WEBHOOK_EV_OPENED },	/* the last one: the port opens */
	{ WEBHOOK_OP_PREFIX "deny/action", "Denied", WEBHOOK_EV_DENIED },
	{ WEBHOOK_OP_PREFIX "extend/action", "Extended", WEBHOOK_EV_EXTENDED },
	{ "ApprovalExpire", "Expired", WEBHOOK_EV_EXPIRED },		/* an ask nobody decided lapsed */
};

const char *
webhook_event_name(enum webhook_event e)
{
	return e >= 0 && e < WEBHOOK_EV__MAX ? event_names[e] : NULL;
}

int
webhook_event_of(const char *operation, const char *status)
{
	size_t i;

	for (i = 0; i < sizeof(event_table) / sizeof(event_table[0]); i++)
		if (!strcmp(event_table[i].operation, operation) && !strcmp(event_table[i].status, status))
			return (int)event_table[i].event;
	return -1;
}

bool
webhook_name_is_valid(const char *name)
{
	size_t i, n = strlen(name);

	if (n == 0 || n > WEBHOOK_NAME_MAX)
		return false;
	for (i = 0; i < n; i++)
		if (!((name[i] >= 'a' && name[i] <= 'z') || (name[i] >= 'A' && name[i] <= 'Z') ||
		      (name[i] >= '0' && name[i] <= '9') || name[i] == '-' || name[i] == '_'))
			return false;
	return true;
}

/* The length of the scheme prefix ("http://", "https://"), or 0 for any other. */
static size_t
url_scheme_len(const char *url)
{
	if (!strncasecmp(url, "https://", 8))
		return 8;
	if (!strncasecmp(url, "http://", 7))
		return 7;
	return 0;
}

/*
 * http(s)://host[:port][/path]: printable ASCII, a host, no user:password@ (an authority with '@'
 * can read as another host to a person than to libcurl).
 */
static int
url_check(const char *url, struct core_error *err)
{
	size_t i, k = url_scheme_len(url), host;

	if (!k)
		return core_error_set(err, "InvalidConfig", "url", "a webhook url starts with https:// or http://");
	for (i = 0; url[i]; i++)
		if ((unsigned char)url[i] <= ' ' || (unsigned char)url[i] >= 0x7f)
			return core_error_set(err, "InvalidConfig", "url",
					      "a webhook url is printable ASCII without blanks (percent-encode the rest)");
	host = strcspn(url + k, "/?#");
	if (host == 0 || url[k] == ':')
		return core_error_set(err, "InvalidConfig", "url", "a webhook url names a host");
	if (memchr(url + k, '@', host))
		return core_error_set(err, "InvalidConfig", "url", "a webhook url has no user:password@ part");
	return 0;
}

/* "opened, revoked" or "all" into a mask of events. */
static int
events_parse(const char *value, uint32_t *ret, struct core_error *err)
{
	char q[ERROR_QUOTE_SIZE];
	const char *p = value;
	uint32_t mask = 0;

	while (*p) {
		size_t len, e;

		while (*p == ',' || *p == ' ' || *p == '\t')
			p++;
		len = strcspn(p, ",");
		while (len && (p[len - 1] == ' ' || p[len - 1] == '\t'))
			len--;
		if (!len)
			continue;
		if (len == 3 && !strncasecmp(p, "all", 3)) {
			mask |= WEBHOOK_EVENTS_ALL;
		} else {
			for (e = 0; e < WEBHOOK_EV__MAX; e++)
				if (strlen(event_names[e]) == len && !strncasecmp(event_names[e], p, len))
					break;
			if (e == WEBHOOK_EV__MAX)
				return core_error_set(err, "InvalidConfig", "events",
						      "unknown webhook event '%s' (requested, approved, denied, opened, extended, "
						      "revoked, expired, tampering undone, agent disconnected, all)",
						      core_error_quote(p, len, q, sizeof(q)));
			mask |= 1u << e;
		}
		p += len;
		while (*p == ' ' || *p == '\t')
			p++;
	}
	if (!mask)
		return core_error_set(err, "InvalidConfig", "events", "events names at least one event (or all)");
	*ret = mask;
	return 0;
}

static int
set_field(char *dst, size_t size, const char *key, const char *value, struct core_error *err)
{
	size_t n = strlen(value);

	if (n >= size)
		return core_error_set(err, "InvalidConfig", key, "%s is longer than %zu characters", key, size - 1);
	memcpy(dst, value, n + 1);
	return 0;
}

int
webhook_hook_set(struct webhook_hook *h, const char *key, const char *value, struct core_error *err)
{
	char q[ERROR_QUOTE_SIZE];
	int r;

	if (!strcmp(key, "url")) {
		if ((r = url_check(value, err)) < 0)
			return r;
		return set_field(h->url, sizeof(h->url), key, value, err);
	}
	if (!strcmp(key, "events"))
		return events_parse(value, &h->events, err);
	if (!strcmp(key, "format")) {
		if (!strcasecmp(value, "json"))
			h->format = WEBHOOK_FORMAT_JSON;
		else if (!strcasecmp(value, "text"))
			h->format = WEBHOOK_FORMAT_TEXT;
		else
			return core_error_set(err, "InvalidConfig", "format", "a webhook format is json or text");
		return 0;
	}
	if (!strcmp(key, "secret")) {
		/* the value is never repeated: it is a secret */
		if (strlen(value) < WEBHOOK_SECRET_MIN || strlen(value) > WEBHOOK_SECRET_MAX)
			return core_error_set(err, "InvalidConfig", "secret", "a webhook secret has %d to %d characters",
					      WEBHOOK_SECRET_MIN, WEBHOOK_SECRET_MAX);
		return set_field(h->secret, sizeof(h->secret), key, value, err);
	}
	if (!strcmp(key, "ca_file"))
		return set_field(h->ca_file, sizeof(h->ca_file), key, value, err);
	return core_error_set(err, "InvalidConfig", core_error_quote(key, strlen(key), q, sizeof(q)),
			      "unknown key '%s' in a [webhook] section (url, events, format, secret, ca_file)", q);
}

int
webhook_hook_validate(const struct webhook_hook *h, struct core_error *err)
{
	if (!h->url[0])
		return core_error_set(err, "InvalidConfig", "url", "webhook %s has no url", h->name);
	if (!h->secret[0])
		return core_error_set(err, "InvalidConfig", "secret", "webhook %s has no secret (every delivery is signed)",
				      h->name);
	return 0;
}

void
webhook_url_origin(const char *url, char *buf, size_t size)
{
	size_t k = url_scheme_len(url), host = k ? strcspn(url + k, "/?#") : 0;

	snprintf(buf, size, "%.*s", (int)(k + host), url);
}
