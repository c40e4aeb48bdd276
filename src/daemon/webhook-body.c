/* Webhook delivery bodies (generic JSON or chat text) and their HMAC-SHA256 signatures (webhook-body.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/crypto.h>
#include <jansson.h>

#include "core/timeutil.h"
#include "daemon/webhook-body.h"

static json_t *
activity_json(const struct store_activity *a)
{
	return json_pack("{s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "id", (json_int_t)a->id,
			 "operation", a->operation, "status", a->status, "resourceId", a->resource_id,
			 "caller", a->caller, "callerAddress", a->caller_addr, "correlationId", a->correlation_id,
			 "justification", a->justification, "detail", a->detail);
}

/* "[jitgate] opened: vm1: <detail> (by token:alice: <justification>)": one line for a chat channel. */
static json_t *
text_json(const struct store_delivery *d)
{
	const struct store_activity *a = &d->activity;
	const char *slash = strrchr(a->resource_id, '/');
	const char *what = slash ? slash + 1 : a->resource_id;
	char line[sizeof(d->event) + sizeof(a->resource_id) + sizeof(a->detail) + sizeof(a->caller) +
		  sizeof(a->justification) + 32];

	snprintf(line, sizeof(line), "[jitgate] %s%s%s: %s (by %s%s%s)", d->event, what[0] ? ": " : "", what, a->detail,
		 a->caller, a->justification[0] ? ": " : "", a->justification);
	return json_pack("{s:s}", "text", line);
}

/* Bytes JSON cannot carry as they are (controls) or may not be UTF-8 become '?': a body that cannot be made would stop the hook. */
static void
ascii_only(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
			*s = '?';
}

int
webhook_body_render(enum webhook_format f, const struct store_delivery *in, char **ret, size_t *ret_len)
{
	struct store_delivery copy = *in, *d = &copy;
	struct store_activity *a = &copy.activity;
	char when[64];
	json_t *v;
	char *s;

	ascii_only(d->event_id);
	ascii_only(d->event);
	ascii_only(a->caller);
	ascii_only(a->caller_addr);
	ascii_only(a->operation);
	ascii_only(a->resource_id);
	ascii_only(a->status);
	ascii_only(a->detail);
	ascii_only(a->justification);
	ascii_only(a->correlation_id);
	if (time_format_rfc3339(d->activity.time_ns, when, sizeof(when)) < 0)
		return -EINVAL;
	if (f == WEBHOOK_FORMAT_TEXT)
		v = text_json(d);
	else
		v = json_pack("{s:s, s:s, s:s, s:o}", "id", d->event_id, "event", d->event, "time", when, "activity",
			      activity_json(&d->activity));
	if (!v)
		return -ENOMEM;
	s = json_dumps(v, JSON_COMPACT | JSON_ENSURE_ASCII);
	json_decref(v);
	if (!s)
		return -ENOMEM;
	*ret = s;
	*ret_len = strlen(s);
	return 0;
}

int
webhook_sign(const char *secret, const char *timestamp, const char *body, size_t n, char out[WEBHOOK_SIG_SIZE])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char mac[32];
	gnutls_hmac_hd_t h;
	size_t i, p = sizeof(WEBHOOK_SIG_PREFIX) - 1;
	int r = -EIO;

	if (gnutls_hmac_init(&h, GNUTLS_MAC_SHA256, secret, strlen(secret)) < 0)
		return -EIO;
	if (gnutls_hmac(h, timestamp, strlen(timestamp)) < 0 || gnutls_hmac(h, ".", 1) < 0 ||
	    gnutls_hmac(h, body, n) < 0)
		goto out;
	gnutls_hmac_output(h, mac);
	memcpy(out, WEBHOOK_SIG_PREFIX, p);
	for (i = 0; i < sizeof(mac); i++) {
		out[p + 2 * i] = hex[mac[i] >> 4];
		out[p + 2 * i + 1] = hex[mac[i] & 15];
	}
	out[p + 2 * sizeof(mac)] = '\0';
	r = 0;
out:
	gnutls_hmac_deinit(h, NULL);
	explicit_bzero(mac, sizeof(mac));
	return r;
}
