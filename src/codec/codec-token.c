/* Token bodies (jitgate's extension): the PUT body that creates an API token, as a client sends it. */
#include "codec/codec.h"
#include "codec/codec-internal.h"

json_t *
codec_token_body_encode(const struct codec_token_body *t)
{
	json_t *o = json_object();

	if (o == NULL || put(o, "role", json_string(t->role)) < 0 ||
	    (t->scope != NULL && put(o, "scope", json_string(t->scope)) < 0)) {
		json_decref(o);
		return NULL;
	}
	return o;
}
