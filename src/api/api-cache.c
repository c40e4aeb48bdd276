/*
 * Caches of work the API would otherwise redo on every request:
 *
 *   decoded policies  a stored policy's JSON, decoded once per version. Keyed by the
 *                     policy's row id and its exact stored text, so a hit can never be
 *                     a different policy or an older version of it.
 *   rendered GETs     a policy's GET body and ETag as one caller's role and scope see it.
 *                     Valid while store_generation() is unchanged (nothing was written
 *                     through the store since) and for at most API_RENDER_CACHE_TTL_NS,
 *                     since the body also depends on the clock (the 7-day window).
 *                     For clients that take gzip the entry keeps the body's gzip form
 *                     too, compressed once (API_RENDER_CACHE_GZIP_LEVEL) and sent as is;
 *                     the HTTP layer leaves an encoded body alone.
 *
 * Both are small, fixed-size, evict the least recently used entry, and live only in the
 * thread that runs the API (like the rest of struct api).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api-internal.h"
#include "api/api-limits.h"
#include "codec/codec.h"
#include "core/timeutil.h"

struct policy_entry {
	int64_t id;			/* store row id; 0: free slot */
	char *json;			/* the stored text it was decoded from */
	size_t json_len;
	struct policy *p;
	struct policy_vm_ref *index;	/* p's VMs by id (NULL: none, or no memory: found by scanning) */
	uint64_t used;			/* for LRU */
};

struct render_entry {
	char *key;			/* NULL: free slot */
	uint64_t generation;		/* store_generation() when rendered */
	int64_t expires_ns;		/* time_now_ns() after which it is stale */
	char *body;
	size_t body_len;
	char *gz;			/* the body's gzip form, made at the first hit that takes gzip */
	size_t gz_len;
	bool gz_tried;			/* made, or found not worth it (not smaller, or no memory) */
	char etag[32];
	uint64_t used;
};

struct api_cache {
	uint64_t clock;			/* LRU ticks */
	struct policy_entry policies[API_POLICY_CACHE_MAX];
	struct render_entry renders[API_RENDER_CACHE_MAX];
};

static struct api_cache *
cache_of(struct api *api)
{
	if (!api->cache)
		api->cache = calloc(1, sizeof(*api->cache));
	return api->cache;
}

static void
policy_entry_clear(struct policy_entry *e)
{
	free(e->json);
	free(e->index);
	policy_free(e->p);
	memset(e, 0, sizeof(*e));
}

static void
render_entry_clear(struct render_entry *e)
{
	free(e->key);
	free(e->body);
	free(e->gz);
	memset(e, 0, sizeof(*e));
}

void
api_caches_free(struct api *api)
{
	size_t i;

	if (!api->cache)
		return;
	for (i = 0; i < API_POLICY_CACHE_MAX; i++)
		policy_entry_clear(&api->cache->policies[i]);
	for (i = 0; i < API_RENDER_CACHE_MAX; i++)
		render_entry_clear(&api->cache->renders[i]);
	free(api->cache);
	api->cache = NULL;
}

/*
 * The cache's entry for this version of the stored policy (decoding it on a miss), or NULL when it cannot be kept
 * (too long, no memory); then *ret is the decoded policy (the caller's), or r the decode error.
 */
static struct policy_entry *
policy_entry_of(struct api *api, const struct store_policy *sp, struct policy **ret, int *r, struct core_error *err)
{
	struct api_cache *c = cache_of(api);
	size_t len = strlen(sp->json), i, victim = 0;
	struct policy_entry *e;
	struct policy *p = NULL;

	*ret = NULL;
	if (!c || len > API_POLICY_CACHE_JSON_MAX) {
		*r = codec_policy_decode(sp->json, len, &sp->arm, ret, err);
		return NULL;
	}
	for (i = 0; i < API_POLICY_CACHE_MAX; i++) {
		e = &c->policies[i];
		if (e->id == sp->id && e->json_len == len && memcmp(e->json, sp->json, len) == 0) {
			e->used = ++c->clock;
			return e;
		}
		if (e->used < c->policies[victim].used)
			victim = i;
	}
	if ((*r = codec_policy_decode(sp->json, len, &sp->arm, &p, err)) < 0)
		return NULL;
	/* keep it for next time; if that fails, the caller still gets its policy */
	e = &c->policies[victim];
	policy_entry_clear(e);
	e->json = malloc(len + 1);
	if (!e->json) {
		*ret = p;
		return NULL;
	}
	memcpy(e->json, sp->json, len + 1);
	e->json_len = len;
	e->id = sp->id;
	e->used = ++c->clock;
	e->p = p;
	e->index = policy_vm_index(p);
	return e;
}

int
api_policy_decode_stored(struct api *api, const struct store_policy *sp, struct policy **ret, struct core_error *err)
{
	int r = 0;
	struct policy_entry *e = policy_entry_of(api, sp, ret, &r, err);

	return e ? policy_copy(e->p, ret) : r;
}

int
api_policy_stored_vm(struct api *api, const struct store_policy *sp, const struct arm_vm_id *id,
		     const struct policy_vm **ret, struct policy **owned, struct core_error *err)
{
	int r = 0;
	struct policy_entry *e = policy_entry_of(api, sp, owned, &r, err);

	*ret = NULL;
	if (e)
		policy_find_vm_indexed(e->p, e->index, id, ret);
	else if (r == 0)
		policy_find_vm(*owned, id, ret);
	return r;
}

/* The entry's gzip form, made the first time it is asked for; false when there is none. */
static bool
render_entry_gzip(struct render_entry *e)
{
	if (!e->gz_tried) {
		e->gz_tried = true;
		if (e->body_len < HTTP_GZIP_MIN ||	/* as the HTTP layer would */
		    http_gzip(e->body, e->body_len, API_RENDER_CACHE_GZIP_LEVEL, &e->gz, &e->gz_len) != 0)
			e->gz = NULL;
	}
	return e->gz != NULL;
}

bool
api_render_cache_get(struct api *api, const char *key, bool gzip, struct http_response *resp)
{
	struct api_cache *c = cache_of(api);
	uint64_t gen = store_generation(api->store);
	int64_t now = time_now_ns();
	size_t i, n_headers;

	if (!c)
		return false;
	for (i = 0; i < API_RENDER_CACHE_MAX; i++) {
		struct render_entry *e = &c->renders[i];
		char *body;

		if (!e->key || strcmp(e->key, key))
			continue;
		if (e->generation != gen || now >= e->expires_ns || now < e->expires_ns - API_RENDER_CACHE_TTL_NS) {
			render_entry_clear(e);	/* stale (the store changed, time passed, or the clock jumped back) */
			break;
		}
		n_headers = resp->n_headers;
		http_response_header(resp, "ETag", e->etag);
		resp->status = 200;
		e->used = ++c->clock;
		/* the kept gzip form to a client that takes it, as the HTTP layer would have compressed the body */
		if (gzip && render_entry_gzip(e) && (body = malloc(e->gz_len))) {
			memcpy(body, e->gz, e->gz_len);
			if (http_response_take_gzip(resp, body, e->gz_len) == 0)
				return true;
			free(body);
		}
		if (!(body = malloc(e->body_len ? e->body_len : 1))) {
			resp->n_headers = n_headers;	/* the caller renders it afresh */
			resp->status = 0;
			return false;
		}
		memcpy(body, e->body, e->body_len);
		resp->body = body;
		resp->body_len = e->body_len;
		return true;
	}
	return false;
}

void
api_render_cache_put(struct api *api, const char *key, const struct http_response *resp, const char *etag)
{
	struct api_cache *c = cache_of(api);
	struct render_entry *e;
	size_t i, victim = 0;

	if (!c || resp->status != 200 || !resp->body || resp->body_len > API_RENDER_CACHE_BODY_MAX ||
	    strlen(etag) >= sizeof(e->etag))
		return;
	for (i = 0; i < API_RENDER_CACHE_MAX; i++) {
		if (!c->renders[i].key || !strcmp(c->renders[i].key, key)) {
			victim = i;
			break;
		}
		if (c->renders[i].used < c->renders[victim].used)
			victim = i;
	}
	e = &c->renders[victim];
	render_entry_clear(e);
	e->key = strdup(key);
	e->body = malloc(resp->body_len);
	if (!e->key || !e->body) {
		render_entry_clear(e);
		return;
	}
	memcpy(e->body, resp->body, resp->body_len);
	e->body_len = resp->body_len;
	snprintf(e->etag, sizeof(e->etag), "%s", etag);
	e->generation = store_generation(api->store);
	e->expires_ns = time_now_ns() + API_RENDER_CACHE_TTL_NS;
	e->used = ++c->clock;
}
