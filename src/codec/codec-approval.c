/* Approval decision bodies: {"requestId": "...", "reason": "..."} for a policy's approve and deny actions. */
#include <errno.h>
#include <string.h>

#include "codec/codec.h"
#include "codec/codec-internal.h"

int
codec_approval_decode(const char *body, size_t n, struct approval_body *ret, struct core_error *err)
{
	struct approval_body b;
	json_t *root = NULL, *id, *reason;
	int r;

	memset(&b, 0, sizeof(b));
	if ((r = body_load(body, n, &root, err)) < 0)
		goto out;
	if (!json_is_object(root)) {
		r = error_type(err, "", "an object");
		goto out;
	}
	if ((r = get_member(root, "", "requestId", JSON_STRING, true, &id, err)) < 0 ||
	    (r = string_copy(id, b.request_id, sizeof(b.request_id), "ValueTooLong", "requestId", err)) < 0)
		goto out;
	if (!b.request_id[0]) {
		r = core_error_set(err, "InvalidRequestId", "requestId", "requestId must not be empty");
		goto out;
	}
	if ((r = get_member(root, "", "reason", JSON_STRING, false, &reason, err)) < 0 ||
	    (reason && (r = string_copy(reason, b.reason, sizeof(b.reason), "ValueTooLong", "reason", err)) < 0))
		goto out;
	*ret = b;
	r = 0;
out:
	json_decref(root);
	return r;
}

json_t *
codec_approval_encode(const struct approval_body *b)
{
	json_t *o = json_pack("{s:s}", "requestId", b->request_id);

	if (o && b->reason[0] && put(o, "reason", json_string(b->reason)) < 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}
