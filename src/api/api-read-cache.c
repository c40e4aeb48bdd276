/*
 * Rows an initiate reads when it arrives, kept between requests while the store says that nothing they came
 * from was written since (store_config_generation): policies by ARM id, and VMs by ARM id. On PostgreSQL this
 * spares an initiate two of its round trips; on SQLite the store says false and every read goes to it.
 *
 * Another replica's write reaches the generation with its announcement, a few milliseconds after its commit:
 * until then a kept row is that much older, as a read made just before the write would be. What the store
 * checks at the insert still holds (the policy as read, the requestor's token: request_as_read), and an
 * initiate it refuses drops everything kept (api_read_cache_drop), so that the request, sent again, reads anew.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/api-internal.h"
#include "api/api-limits.h"

struct read_policy {
	char key[ARM_ID_MAX + 1];	/* its ARM id as asked for; "": free slot */
	struct store_policy sp;		/* json owned */
	uint64_t used;
};

struct read_vm {
	char key[ARM_ID_MAX + 1];
	struct store_vm vm;
	uint64_t used;
};

struct api_read_cache {
	uint64_t generation;		/* store_config_generation() of every row kept */
	uint64_t clock;			/* LRU ticks */
	struct read_policy policies[API_READ_CACHE_POLICIES];
	struct read_vm vms[API_READ_CACHE_VMS];
};

void
api_read_cache_drop(struct api *api)
{
	struct api_read_cache *c = api->read_cache;
	size_t i;

	if (!c)
		return;
	for (i = 0; i < API_READ_CACHE_POLICIES; i++)
		if (c->policies[i].key[0]) {
			store_policy_clear(&c->policies[i].sp);
			c->policies[i].key[0] = '\0';
		}
	for (i = 0; i < API_READ_CACHE_VMS; i++)
		c->vms[i].key[0] = '\0';
}

void
api_read_cache_free(struct api *api)
{
	api_read_cache_drop(api);
	free(api->read_cache);
	api->read_cache = NULL;
}

/* The cache, emptied if the generation moved; NULL when nothing may be kept now (or no memory). */
static struct api_read_cache *
cache_now(struct api *api)
{
	uint64_t gen;

	if (!store_config_generation(api->store, &gen)) {
		api_read_cache_drop(api);
		return NULL;
	}
	if (!api->read_cache && !(api->read_cache = calloc(1, sizeof(*api->read_cache))))
		return NULL;
	if (api->read_cache->generation != gen) {
		api_read_cache_drop(api);
		api->read_cache->generation = gen;
	}
	return api->read_cache;
}

static bool
kept_policy_copy(const struct store_policy *from, struct store_policy *to)
{
	*to = *from;
	to->json = strdup(from->json);
	return to->json != NULL;
}

/* The slot for key: its own, else a free one, else the least recently used (emptied). */
static struct read_policy *
policy_slot(struct api_read_cache *c, const char *key, bool *hit)
{
	struct read_policy *lru = &c->policies[0];
	size_t i;

	for (i = 0; i < API_READ_CACHE_POLICIES; i++) {
		struct read_policy *e = &c->policies[i];

		if (e->key[0] && !strcasecmp(e->key, key)) {
			*hit = true;
			return e;
		}
		if (!e->key[0] || (lru->key[0] && e->used < lru->used))
			lru = e;
	}
	*hit = false;
	if (lru->key[0]) {
		store_policy_clear(&lru->sp);
		lru->key[0] = '\0';
	}
	return lru;
}

int
api_read_policy(struct api *api, const struct arm_policy_id *id, const char *text, struct store_policy *ret,
		struct core_error *err)
{
	struct api_read_cache *c = cache_now(api);
	struct read_policy *e;
	bool hit;
	int r;

	if (!c || strlen(text) >= sizeof(e->key))
		return api_policy_read(api, id, text, ret, err);
	e = policy_slot(c, text, &hit);
	if (!hit) {
		if ((r = api_policy_read(api, id, text, ret, err)) < 0)
			return r;
		/* too long to keep, or no memory: this one is read each time */
		if (strlen(ret->json) > API_READ_CACHE_POLICY_JSON_MAX || !kept_policy_copy(ret, &e->sp))
			return 0;
		memcpy(e->key, text, strlen(text) + 1);
		e->used = ++c->clock;
		return 0;
	}
	if (!kept_policy_copy(&e->sp, ret))
		return core_error_set(err, "InternalError", "", "out of memory"), -ENOMEM;
	e->used = ++c->clock;
	return 0;
}

int
api_read_vm(struct api *api, const struct arm_vm_id *arm, struct store_vm *ret)
{
	struct api_read_cache *c = cache_now(api);
	char key[ARM_ID_MAX + 1];
	struct read_vm *lru;
	size_t i;
	int r;

	if (!c || arm_vm_id_format(arm, key, sizeof(key)) < 0)
		return store_vm_get(api->store, arm, ret);
	lru = &c->vms[0];
	for (i = 0; i < API_READ_CACHE_VMS; i++) {
		struct read_vm *e = &c->vms[i];

		if (e->key[0] && !strcasecmp(e->key, key)) {
			*ret = e->vm;
			e->used = ++c->clock;
			return 0;
		}
		if (!e->key[0] || (lru->key[0] && e->used < lru->used))
			lru = e;
	}
	/* a VM the store lacks is not kept: it may be added at any moment, and asking for it is rare */
	if ((r = store_vm_get(api->store, arm, ret)) < 0)
		return r;
	lru->vm = *ret;
	memcpy(lru->key, key, sizeof(key));
	lru->used = ++c->clock;
	return 0;
}
