/* Gateway DNAT at jitgated's start: the dnat_ports rows of mappings written before migration 14 made them. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "api/api-internal.h"

/* The clash's line: the port, the policy left without rows and the one holding the port. */
static void
say_clash(struct api *api, const struct store_policy *sp, const struct store_dnat_port *d, int64_t holder,
	  void (*say)(const char *line))
{
	char mine[ARM_ID_MAX + 1], theirs[ARM_ID_MAX + 1] = "", pub[NET_ADDR_TEXT_MAX];
	char line[3 * ARM_ID_MAX + 256];
	struct store_policy hp = { 0 };

	arm_policy_id_format(&sp->arm, mine, sizeof(mine));
	if (store_policy_get_by_id(api->store, holder, &hp) == 0)
		arm_policy_id_format(&hp.arm, theirs, sizeof(theirs));
	else
		snprintf(theirs, sizeof(theirs), "with id %" PRId64, holder);
	store_policy_clear(&hp);
	net_addr_format(&d->pub, pub, sizeof(pub));
	snprintf(line, sizeof(line), "gateway DNAT: CONFLICT: policy %s maps %s port %u (%s), which the older policy "
		 "%s maps too; the store keeps none of %s's mapped ports until it is written again: PUT one of the two "
		 "with another mappedPort (or none, to have one picked)", mine, pub, d->port, net_proto_name(d->proto),
		 theirs, mine);
	say(line);
}

/* One policy's rows: how many were added (0 for a policy that maps nothing, or a clash, said), or -errno. */
static int
fill_policy(struct api *api, const struct store_policy *sp, void (*say)(const char *line))
{
	struct store_dnat_port *v = NULL;
	struct policy *p = NULL;
	int64_t holder = 0;
	size_t n = 0, at = 0;
	int r;

	/* a policy that does not decode is enforced by nothing: it has no mapping to keep */
	if (api_policy_decode_stored(api, sp, &p, NULL) < 0)
		return 0;
	if ((r = api_dnat_ports_of(p, &v, &n)) < 0)
		goto out;
	r = n ? store_dnat_ports_fill(api->store, sp->id, v, n, &holder, &at) : 0;
	if (r == -EEXIST) {
		say_clash(api, sp, &v[at], holder, say);
		r = 0;
	}
out:
	free(v);
	policy_free(p);
	return r;
}

static int
by_id(const void *a, const void *b)
{
	const struct store_policy *x = a, *y = b;

	return (x->id > y->id) - (x->id < y->id);
}

int
api_dnat_backfill(struct api *api, void (*say)(const char *line))
{
	struct store_policy *pols = NULL;
	size_t n = 0, i;
	int r, added = 0;

	/* the writers' lock: a replica starting or writing a policy at the same time waits, then finds the rows */
	if ((r = store_begin(api->store)) < 0)
		return r;
	if ((r = store_policy_list(api->store, &pols, &n)) < 0)
		goto out;
	/* oldest first: of two policies that map one port, the one written first keeps it */
	if (n)
		qsort(pols, n, sizeof(*pols), by_id);
	for (i = 0; i < n && r >= 0; i++)
		if ((r = fill_policy(api, &pols[i], say)) > 0)
			added += r;
	if (r >= 0)
		r = store_commit(api->store);
out:
	if (r < 0)
		store_rollback(api->store);
	store_policies_free(pols, n);
	return r < 0 ? r : added;
}
