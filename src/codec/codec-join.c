/* The join token bodies (codec-join.h): an Owner's ask, decoded and encoded, and a token as the API shows it. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "codec/codec-internal.h"
#include "codec/codec-join.h"
#include "core/armid.h"
#include "core/duration.h"
#include "core/timeutil.h"

#define MS_PER_DAY	(24LL * 3600 * 1000)

int
codec_join_ask_decode(const char *body, size_t n, struct join_ask *ret, struct core_error *err)
{
	struct join_ask a = { .uses = JOIN_USES_DEFAULT, .expires_ms = JOIN_EXPIRES_DEFAULT_MS };
	json_t *root = NULL, *v;
	int r;

	if ((r = body_load(body, n, &root, err)) < 0)
		return r;
	if ((r = get_member(root, "", "resourceGroup", JSON_STRING, true, &v, err)) < 0)
		goto out;
	if ((r = arm_resource_group_validate(json_string_value(v), json_string_length(v), err)) < 0) {
		r = error_at(err, "resourceGroup");
		goto out;
	}
	memcpy(a.resource_group, json_string_value(v), json_string_length(v));
	if ((r = get_member(root, "", "uses", JSON_INTEGER, false, &v, err)) < 0)
		goto out;
	if (r == 0) {
		if (json_integer_value(v) < 1 || json_integer_value(v) > JOIN_USES_MAX) {
			r = core_error_set(err, "InvalidValue", "uses", "uses must be between 1 and %d.", JOIN_USES_MAX);
			goto out;
		}
		a.uses = json_integer_value(v);
	}
	if ((r = get_member(root, "", "expiresIn", JSON_STRING, false, &v, err)) < 0)
		goto out;
	if (r == 0) {
		if ((r = duration_parse_iso8601(json_string_value(v), json_string_length(v), &a.expires_ms, err)) < 0) {
			r = error_at(err, "expiresIn");
			goto out;
		}
		if (a.expires_ms < JOIN_EXPIRES_MIN_MS || a.expires_ms > JOIN_EXPIRES_MAX_MS) {
			char lo[DURATION_FORMAT_SIZE] = "", hi[DURATION_FORMAT_SIZE] = "";

			duration_format_iso8601(JOIN_EXPIRES_MIN_MS, lo, sizeof(lo));
			duration_format_iso8601(JOIN_EXPIRES_MAX_MS, hi, sizeof(hi));
			r = core_error_set(err, "InvalidValue", "expiresIn", "expiresIn must be from %s to %s (%lld days).", lo,
					   hi, JOIN_EXPIRES_MAX_MS / MS_PER_DAY);
			goto out;
		}
	}
	*ret = a;
	r = 0;
out:
	json_decref(root);
	return r;
}

json_t *
codec_join_ask_encode(const struct join_ask *a)
{
	char d[DURATION_FORMAT_SIZE];
	json_t *o = json_object();

	if (!o || duration_format_iso8601(a->expires_ms, d, sizeof(d)) < 0 ||
	    put(o, "resourceGroup", string_field(a->resource_group, sizeof(a->resource_group))) < 0 ||
	    put(o, "uses", json_integer(a->uses)) < 0 || put(o, "expiresIn", json_string(d)) < 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}

const char *
codec_join_token_state(const struct join_token_view *t, int64_t now_ns)
{
	if (t->revoked_ns)
		return "Revoked";
	if (t->uses_left <= 0)
		return "UsedUp";
	return now_ns >= t->expires_ns ? "Expired" : "Valid";
}

/* A time as RFC 3339 text, or NULL (ENOMEM, or a time no calendar of ours holds). */
static json_t *
time_json(int64_t ns)
{
	char buf[TIME_FORMAT_SIZE];

	return time_format_azure(ns, buf, sizeof(buf)) > 0 ? json_string(buf) : NULL;
}

json_t *
codec_join_token_encode(const struct join_token_view *t, int64_t now_ns)
{
	json_t *o = json_object();

	if (!o || put(o, "id", string_field(t->id, sizeof(t->id))) < 0 ||
	    put(o, "resourceGroup", string_field(t->resource_group, sizeof(t->resource_group))) < 0 ||
	    put(o, "usesLeft", json_integer(t->uses_left)) < 0 || put(o, "expiresTimeUtc", time_json(t->expires_ns)) < 0 ||
	    put(o, "createdTimeUtc", time_json(t->created_ns)) < 0 ||
	    put(o, "createdBy", string_field(t->created_by, sizeof(t->created_by))) < 0 ||
	    put(o, "state", json_string(codec_join_token_state(t, now_ns))) < 0 ||
	    (t->revoked_ns && put(o, "revokedTimeUtc", time_json(t->revoked_ns)) < 0)) {
		json_decref(o);
		return NULL;
	}
	return o;
}
