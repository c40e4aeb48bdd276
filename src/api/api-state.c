/* What the store implies for the kernel, reconcile at start and on a timer, and marking grants Expired at their end. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "api/api-internal.h"
#include "codec/codec.h"
#include "core/buf.h"
#include "core/dnat.h"
#include "core/timeutil.h"

void
api_grant_to_fw(const struct store_grant *g, struct fw_grant *ret)
{
	memset(ret, 0, sizeof(*ret));
	ret->vm = (uint64_t)g->vm_id;
	ret->source = g->source;
	ret->proto = g->proto;
	ret->port = g->port;
	ret->end_ms = g->end_ns / TIME_NS_PER_MS;
	snprintf(ret->request_id, sizeof(ret->request_id), "%s", g->request_id);
}

/*
 * Clock steps (issue 11): a grant never lasts longer than it was granted, measured on
 * CLOCK_MONOTONIC, whatever the wall clock does. src/fw holds each grant it has seen to a
 * monotonic deadline, but a context is fresh after a restart, and a grant whose kernel element
 * had already expired then looks like one never applied. So each grant also records, in the
 * store, the boot it was made in and its end on that boot's monotonic clock: within the boot,
 * expiry and every state handed to src/fw read its end on both clocks (api_grant_end_ns).
 */
static bool
boot_id_is_valid(const char *s, size_t n)
{
	size_t i;

	if (n != STORE_BOOT_ID_MAX)
		return false;
	for (i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f') || s[i] == '-'))
			return false;
	return true;
}

int
api_clock_start(struct api *api)
{
	char buf[STORE_BOOT_ID_MAX + 2];
	ssize_t n;
	int fd, r;

	api->boot_id[0] = '\0';
	if ((fd = open(API_BOOT_ID_PATH, O_RDONLY | O_CLOEXEC)) < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf));
	r = n < 0 ? -errno : 0;
	close(fd);
	if (r < 0)
		return r;
	if (n > 0 && buf[n - 1] == '\n')
		n--;
	if (!boot_id_is_valid(buf, (size_t)n))
		return -EINVAL;
	memcpy(api->boot_id, buf, (size_t)n);
	api->boot_id[n] = '\0';
	return store_grants_adopt_boot(api->store, api->boot_id, time_now_ns(), time_mono_ns());
}

int64_t
api_grant_end_ns(const struct api *api, const struct store_grant *g, int64_t now_ns, int64_t mono_ns)
{
	bool same_boot = api->boot_id[0] && !strcmp(g->boot_id, api->boot_id);

	return time_end_on_both_clocks(g->end_ns, g->mono_end_ns, same_boot, now_ns, mono_ns);
}

void
api_state_free(struct api_state *st)
{
	free(st->vms);
	free(st->fw_vms);
	free(st->ports);
	free(st->grants);
	store_policies_free(st->pols, st->n_pols);
	memset(st, 0, sizeof(*st));
}

static const struct store_vm *
vm_by_arm(const struct store_vm *vms, size_t n, const struct arm_vm_id *id)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (arm_vm_id_equal(&vms[i].arm, id))
			return &vms[i];
	return NULL;
}

/* store_grants_live_each: each live grant straight into the kernel's form, never all store rows at once */
struct grants_acc {
	const struct api *api;
	int64_t now, mono;
	struct fw_grant *v;
	size_t n, cap;
};

int64_t
api_grant_live_end_ns(const struct api *api, const struct store_grant *g, int64_t now_ns, int64_t mono_ns)
{
	const struct store_journal_entry *closed = NULL;
	int64_t end = api_grant_end_ns(api, g, now_ns, mono_ns);

	/* closed while the store refused to record it (api-closing.c): the kernel follows the close, not the store */
	if (api_closing_pending(api) && (closed = api_closing_find(api, g->request_id, g->vm_id, g->port)) &&
	    closed->kind == STORE_JOURNAL_END)
		return 0;
	/* its granted time is over on the monotonic clock: ended (api_expire records it), whatever the wall clock */
	if (end <= now_ns)
		return 0;
	if (closed && closed->at_ns < end) {
		if (closed->at_ns <= now_ns)
			return 0;
		end = closed->at_ns;
	}
	return end;
}

static int
grant_push(void *ctx, const struct store_grant *g)
{
	struct grants_acc *acc = ctx;
	struct fw_grant *v;
	int64_t end = api_grant_live_end_ns(acc->api, g, acc->now, acc->mono);

	if (end == 0)
		return 0;
	if (!(v = array_grow(acc->v, &acc->cap, acc->n, sizeof(*v))))
		return -ENOMEM;
	acc->v = v;
	api_grant_to_fw(g, &acc->v[acc->n]);
	/* never more time than its monotonic end leaves (src/fw reads a changed end by the clocks of now) */
	acc->v[acc->n].end_ms = end / TIME_NS_PER_MS;
	acc->n++;
	return 0;
}

static int
id_cmp(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

/* Agent VMs and their grants are never in this host's kernel table: their agents enforce them. */
static int
state_drop_agents(struct api_state *st, struct core_error *err)
{
	int64_t *agents = NULL;
	size_t i, k = 0, n = 0;

	for (i = 0; i < st->n_vms; i++)
		n += st->vms[i].point == STORE_POINT_AGENT;
	if (n == 0)
		return 0;
	if (!(agents = calloc(n, sizeof(*agents)))) {
		api_state_free(st);
		return core_error_set(err, "InternalError", "", "out of memory"), -ENOMEM;
	}
	for (i = 0, n = 0; i < st->n_vms; i++)
		if (st->vms[i].point == STORE_POINT_AGENT)
			agents[n++] = st->vms[i].id;
		else
			st->vms[k++] = st->vms[i];
	st->n_vms = k;
	qsort(agents, n, sizeof(*agents), id_cmp);
	for (i = 0, k = 0; i < st->n_grants; i++) {
		int64_t vm = (int64_t)st->grants[i].vm;

		if (!bsearch(&vm, agents, n, sizeof(*agents), id_cmp))
			st->grants[k++] = st->grants[i];
	}
	st->n_grants = k;
	free(agents);
	return 0;
}

int
api_state_read(struct api *api, struct api_state *st, struct core_error *err)
{
	struct grants_acc grants = { .api = api };
	int r;

	grants.now = time_now_ns();
	grants.mono = time_mono_ns();
	memset(st, 0, sizeof(*st));
	if ((r = store_vm_list(api->store, &st->vms, &st->n_vms)) < 0 ||
	    (r = store_policy_list(api->store, &st->pols, &st->n_pols)) < 0 ||
	    (r = store_grants_live_each(api->store, grants.now, grant_push, &grants)) < 0) {
		core_error_set(err, "StoreError", "", "cannot read the store: %s",
			       r == -ENOMEM ? "out of memory" : store_last_error(api->store));
		free(grants.v);
		api_state_free(st);
		return r;
	}
	st->grants = grants.v;
	st->n_grants = grants.n;
	return state_drop_agents(st, err);
}

/*
 * A mapping the kernel cannot hold is left out rather than failing the whole state (every VM's
 * enforcement): a VM that lost its address of the public address's family, or is no gateway VM,
 * since its policy was written; or a public port given twice (two writers at once on replicas).
 * The first port keeps it. The ports stay protected; the grants on them just open no mapped port.
 */
static int
state_dnat_sanitize(struct api_state *st, size_t n_ports)
{
	struct dnat_taken t = { 0 };
	size_t i, k;
	int r = 0;

	for (i = 0; i < n_ports && r >= 0; i++) {
		struct fw_port *pt = &st->ports[i];
		const struct fw_vm *vm = NULL;

		if (pt->dnat_addr.family == 0)
			continue;
		for (k = 0; k < st->n_vms && !vm; k++)
			if (st->fw_vms[k].id == pt->vm)
				vm = &st->fw_vms[k];
		if (vm && fw_dnat_is_valid(vm, &pt->dnat_addr, pt->dnat_port) &&
		    dnat_port_is_free(&t, &pt->dnat_addr, pt->proto, pt->dnat_port)) {
			r = dnat_take(&t, &pt->dnat_addr, pt->proto, pt->dnat_port);
			continue;
		}
		memset(&pt->dnat_addr, 0, sizeof(pt->dnat_addr));
		pt->dnat_port = 0;
	}
	free(t.v);
	return r;
}

/*
 * Each live grant on a port with a DNAT mapping carries it (fw opens the mapped port for it). A
 * rule for "*" covers a TCP or UDP grant; a "*" grant only a "*" rule (policy_find_port).
 */
static int
state_dnat_grants(struct api_state *st, size_t n_ports)
{
	const struct fw_port **mapped = NULL;
	size_t n = 0, i, k;

	for (i = 0; i < n_ports; i++)
		n += st->ports[i].dnat_addr.family != 0;
	if (n == 0)
		return 0;
	if (!(mapped = calloc(n, sizeof(*mapped))))
		return -ENOMEM;
	for (i = 0, n = 0; i < n_ports; i++)
		if (st->ports[i].dnat_addr.family)
			mapped[n++] = &st->ports[i];
	for (i = 0; i < st->n_grants; i++) {
		struct fw_grant *g = &st->grants[i];

		for (k = 0; k < n; k++) {
			const struct fw_port *pt = mapped[k];

			if (pt->vm != g->vm || pt->port != g->port ||
			    (pt->proto != g->proto && pt->proto != NET_PROTO_ANY))
				continue;
			g->dnat_addr = pt->dnat_addr;
			g->dnat_port = pt->dnat_port;
			if (pt->proto == g->proto)
				break;	/* the rule of its own protocol wins over a "*" one */
		}
	}
	free(mapped);
	return 0;
}

int
api_state_build(struct api *api, struct api_state *st, struct core_error *err)
{
	size_t n_ports = 0, cap_ports = 0, i, j, k;
	int r;

	st->fw_vms = calloc(st->n_vms ? st->n_vms : 1, sizeof(*st->fw_vms));
	if (!st->fw_vms) {
		r = -ENOMEM;
		goto oom;
	}
	for (i = 0; i < st->n_vms; i++) {
		struct fw_vm *v = &st->fw_vms[i];

		v->id = (uint64_t)st->vms[i].id;
		/* the input hook is only for VMs that jitgated registered as its own host (local: fixed at creation) */
		v->point = st->vms[i].point == STORE_POINT_LOCAL ? FW_POINT_LOCAL : FW_POINT_GATEWAY;
		v->n_addrs = v->point == FW_POINT_GATEWAY ? st->vms[i].n_addrs : 0;
		memcpy(v->addrs, st->vms[i].addrs, sizeof(v->addrs));
	}
	for (i = 0; i < st->n_pols; i++) {
		struct policy *p = NULL;

		if ((r = api_policy_decode_stored(api, &st->pols[i], &p, err)) < 0)
			goto out;
		for (j = 0; j < p->n_vms; j++) {
			const struct store_vm *vm = vm_by_arm(st->vms, st->n_vms, &p->vms[j].id);

			if (!vm)
				continue;	/* a policy never holds an unknown VM; be safe if the store says otherwise */
			for (k = 0; k < p->vms[j].n_ports; k++) {
				struct fw_port *np = array_grow(st->ports, &cap_ports, n_ports, sizeof(*np));

				if (!np) {
					policy_free(p);
					r = -ENOMEM;
					goto oom;
				}
				st->ports = np;
				st->ports[n_ports] = (struct fw_port){ .vm = (uint64_t)vm->id,
								       .proto = p->vms[j].ports[k].proto,
								       .port = p->vms[j].ports[k].number };
				api_dnat_of_port(&p->vms[j], &p->vms[j].ports[k], &st->ports[n_ports].dnat_addr,
						 &st->ports[n_ports].dnat_port);
				n_ports++;
			}
		}
		policy_free(p);
	}
	if ((r = state_dnat_sanitize(st, n_ports)) < 0 || (r = state_dnat_grants(st, n_ports)) < 0)
		goto oom;
	st->fw = (struct fw_state){ st->fw_vms, st->n_vms, st->ports, n_ports, st->grants, st->n_grants };
	api->state_loaded = true;
	r = 0;
	goto out;
oom:
	core_error_set(err, "InternalError", "", "out of memory");
out:
	store_policies_free(st->pols, st->n_pols);
	st->pols = NULL;
	st->n_pols = 0;
	if (r < 0)
		api_state_free(st);
	return r;
}

int
api_state_load(struct api *api, struct api_state *st, struct core_error *err)
{
	int r = api_state_read(api, st, err);

	return r < 0 ? r : api_state_build(api, st, err);
}

int
api_reconcile_after(struct api *api, const struct fw_tamper *t, struct core_error *err)
{
	struct api_state st;
	struct fw_changes ch = { 0 };
	int64_t start = time_mono_ns();
	int r;

	if (!api->fw)
		return core_error_set(err, FW_ERR_UNAVAILABLE, "", "%s", api->fw_reason), -EOPNOTSUPP;
	if ((r = api_state_load(api, &st, err)) < 0) {
		api_metrics_reconcile(api, false, time_mono_ns() - start, false, 0, 0, 0, false);
		return r;
	}
	/* the arrays go to the context instead of being copied there (100,000 grants are 11 MB) */
	r = fw_reconcile_take(api->fw, st.fw_vms, st.n_vms, st.ports, st.fw.n_ports, st.grants, st.fw.n_grants, &ch,
			      err);
	st.fw_vms = NULL;
	st.ports = NULL;
	st.grants = NULL;
	api_state_free(&st);
	api_metrics_reconcile(api, r >= 0, time_mono_ns() - start, t && t->tampered, ch.added, ch.removed, ch.updated,
			      ch.rebuilt);
	if (r < 0)
		return r;
	if (t && t->tampered)
		api_log(api, NULL, "Tamper", "", "Reconciled", NULL,
			"table inet jitgate was changed outside jitgated%s%s (pid %d)%s; restored it: %zu added, %zu "
			"removed, %zu updated, %zu kept%s",
			t->name[0] ? " by " : "", t->name, (int)t->pid, t->overflow ? ", notifications were lost" : "",
			ch.added, ch.removed, ch.updated, ch.kept, ch.rebuilt ? ", table rebuilt" : "");
	else if (ch.added || ch.removed || ch.updated || ch.rebuilt)
		api_log(api, NULL, "Reconcile", "", "Succeeded", NULL,
			"kernel brought in line with the store: %zu added, %zu removed, %zu updated, %zu kept%s", ch.added,
			ch.removed, ch.updated, ch.kept, ch.rebuilt ? ", table rebuilt" : "");
	return r;
}

int
api_state_with(struct api *api, int (*fn)(void *ctx, const struct fw_state *st), void *ctx, struct core_error *err)
{
	struct api_state st;
	int r;

	if ((r = api_state_load(api, &st, err)) < 0)
		return r;
	r = fn(ctx, &st.fw);
	api_state_free(&st);
	return r;
}

int
api_reconcile(struct api *api, struct core_error *err)
{
	return api_reconcile_after(api, NULL, err);
}

int
api_expire(struct api *api, int64_t now_ns, int64_t *ret_next_ns)
{
	struct store_grant *g = NULL;
	struct api_vm_memo vm = { 0 };
	size_t n = 0, i, expired = 0;
	int64_t next = 0, next_mono = 0, mono = time_mono_ns();
	bool tx;
	int r;

	/*
	 * Due: over on the wall clock, or (made in this boot) on the monotonic one. The latter a
	 * slack late, so that without a step a grant ends at its own end time, never a moment before.
	 */
	if ((r = store_grants_due(api->store, now_ns, api->boot_id, mono - TIME_CLOCK_SLACK_NS, &g, &n)) < 0)
		return r;
	/* all of this round's ends and their log entries in one transaction: one disk sync, not two per grant */
	tx = n > 0 && store_begin(api->store) == 0;
	for (i = 0; i < n; i++) {
		char src[NET_PREFIX_TEXT_MAX] = "", left[128] = "";
		struct api_caller owner;
		bool early = g[i].end_ns > now_ns;	/* the wall clock stepped back: over by the monotonic one */

		r = store_grant_end(api->store, g[i].request_id, g[i].vm_id, g[i].port, STORE_REASON_EXPIRED,
				    early ? now_ns : g[i].end_ns);
		if (r == -ENOENT)
			continue;
		if (r < 0)
			goto out;
		net_source_format(&g[i].source, src, sizeof(src));
		memset(&owner, 0, sizeof(owner));
		snprintf(owner.name, sizeof(owner.name), "jitgated");
		snprintf(owner.correlation_id, sizeof(owner.correlation_id), "%s", g[i].request_id);
		if (early)
			snprintf(left, sizeof(left),
				 " by the monotonic clock (the wall clock, stepped back, gave it %lld s more)",
				 (long long)((g[i].end_ns - now_ns) / TIME_NS_PER_SEC));
		api_log(api, &owner, "Expire", api_vm_text(api, &vm, g[i].vm_id), "Expired", NULL,
			"port %u (%s) from %s of request %s for %s ended at its end time%s; the kernel had closed it",
			g[i].port, net_proto_name(g[i].proto), src, g[i].request_id, g[i].requestor, left);
		expired++;
	}
	if (tx && (r = store_commit(api->store)) < 0) {
		tx = false;
		goto out;
	}
	tx = false;
	if ((r = store_grant_next_end(api->store, now_ns, &next)) < 0 ||
	    (r = store_grant_next_mono_end(api->store, api->boot_id, mono - TIME_CLOCK_SLACK_NS, &next_mono)) < 0)
		goto out;
	/* the daemon waits on the wall clock: a monotonic end, as the wall-clock time it comes at now */
	if (next_mono && (!next || now_ns + (next_mono + TIME_CLOCK_SLACK_NS - mono) < next))
		next = now_ns + (next_mono + TIME_CLOCK_SLACK_NS - mono);
	/* ports waiting for approval lapse on the same timer */
	if ((r = api_approval_expire(api, now_ns, &next_mono)) < 0)
		goto out;
	if (next_mono && (!next || next_mono < next))
		next = next_mono;
	r = (int)expired;
	if (ret_next_ns)
		*ret_next_ns = next;
out:
	if (tx)
		store_rollback(api->store);
	free(g);
	return r;
}
