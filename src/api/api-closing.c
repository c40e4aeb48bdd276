/* Closing access without the disk: closes the store refused to record, kept in the close journal until it takes them. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api-internal.h"
#include "core/buf.h"
#include "core/timeutil.h"

/*
 * A revoke, a token revoke or a policy change that ends (or shortens) grants
 * first tries to record it in the store, as every write does. When the store
 * refuses (a full disk, an I/O error), the close happens all the same: each one
 * goes into the close journal (store-journal.h: a pre-allocated file written in
 * place, so it works on a full disk) and into the list below, the kernel is
 * reconciled to the store minus these closes, and the answer says the record
 * is pending. Every reconcile (api_state_load) leaves them out, also after a
 * restart (main reads the journal before its first reconcile). api_closing_flush()
 * writes them into the store, with their activity entries, once it accepts
 * writes, and only then frees their slots.
 */

#define CLOSING_MAX		((size_t)1 << 20)	/* closes held in memory (beyond the journal's slots) */
#define CLOSING_RETRY_NS	(1000LL * 1000 * 1000)	/* a store that refused is asked again after this long */

struct closing_item {
	struct store_journal_entry e;
	long slot;			/* its journal slot, or -1: in memory only (journal full, or failing) */
};

struct api_closing {
	struct store_journal *journal;	/* NULL: no journal (closes then last only until a restart) */
	struct closing_item *v;
	size_t n, cap;
	int64_t retry_ns;		/* no flush before this (the store refused the last one) */
};

static struct api_closing *
closing_get(struct api *api)
{
	if (!api->closing)
		api->closing = calloc(1, sizeof(*api->closing));
	return api->closing;
}

int
api_closing_open(struct api *api, const char *path, struct core_error *err)
{
	struct store_journal_entry *v = NULL;
	struct api_closing *cl = closing_get(api);
	size_t *slots = NULL, n = 0, i;
	int r;

	if (!cl)
		return core_error_set(err, "InternalError", "", "out of memory"), -ENOMEM;
	if ((r = store_journal_open(path, &cl->journal, &v, &slots, &n, err)) < 0)
		return r;
	for (i = 0; i < n; i++) {
		struct closing_item *grown = array_grow(cl->v, &cl->cap, cl->n, sizeof(*cl->v));

		if (!grown) {
			r = -ENOMEM;
			core_error_set(err, "InternalError", "", "out of memory");
			break;
		}
		cl->v = grown;
		cl->v[cl->n].e = v[i];
		cl->v[cl->n++].slot = (long)slots[i];
	}
	free(v);
	free(slots);
	return r < 0 ? r : (int)n;
}

void
api_closing_free(struct api *api)
{
	if (!api->closing)
		return;
	store_journal_close(api->closing->journal);
	free(api->closing->v);
	free(api->closing);
	api->closing = NULL;
}

size_t
api_closing_pending(const struct api *api)
{
	return api->closing ? api->closing->n : 0;
}

const struct store_journal_entry *
api_closing_find(const struct api *api, const char *request_id, int64_t vm_id, uint16_t port)
{
	const struct api_closing *cl = api->closing;
	const struct store_journal_entry *found = NULL;
	size_t i;

	for (i = 0; cl && i < cl->n; i++) {
		const struct store_journal_entry *e = &cl->v[i].e;

		if (e->vm_id != vm_id || e->port != port || strcmp(e->request_id, request_id))
			continue;
		/* an end outweighs a truncation; of two truncations the earlier end counts */
		if (!found || e->kind == STORE_JOURNAL_END ||
		    (found->kind == STORE_JOURNAL_TRUNCATE && e->at_ns < found->at_ns))
			found = e;
	}
	return found;
}

static int
closing_put(struct api *api, const struct api_caller *c, const struct store_grant *g, enum store_journal_kind kind,
	    enum store_grant_reason reason, int64_t at_ns, bool terminate, bool *ret_durable)
{
	struct api_closing *cl = closing_get(api);
	const struct store_journal_entry *had;
	struct closing_item *grown, it;
	size_t slot;

	if (!cl)
		return -ENOMEM;
	had = api_closing_find(api, g->request_id, g->vm_id, g->port);
	if (had && (had->kind == STORE_JOURNAL_END || (kind == STORE_JOURNAL_TRUNCATE && had->at_ns <= at_ns)))
		return 0;	/* closed as much already (and as durably, or the journal refused once already) */
	if (cl->n >= CLOSING_MAX || !(grown = array_grow(cl->v, &cl->cap, cl->n, sizeof(*cl->v))))
		return -ENOMEM;
	cl->v = grown;
	memset(&it, 0, sizeof(it));
	it.e.kind = kind;
	it.e.reason = kind == STORE_JOURNAL_END ? reason : STORE_REASON_NONE;
	it.e.terminate = kind == STORE_JOURNAL_END && terminate;
	snprintf(it.e.request_id, sizeof(it.e.request_id), "%s", g->request_id);
	it.e.vm_id = g->vm_id;
	it.e.port = g->port;
	it.e.at_ns = at_ns;
	snprintf(it.e.caller, sizeof(it.e.caller), "%s", c ? c->name : "jitgated");
	it.slot = -1;
	if (cl->journal && store_journal_add(cl->journal, &it.e, &slot) == 0)
		it.slot = (long)slot;
	if (ret_durable && it.slot < 0)
		*ret_durable = false;
	cl->v[cl->n++] = it;
	return 1;
}

int
api_closing_add(struct api *api, const struct api_caller *c, const struct store_grant *g,
		enum store_journal_kind kind, enum store_grant_reason reason, int64_t at_ns, bool *ret_durable)
{
	return closing_put(api, c, g, kind, reason, at_ns, false, ret_durable);
}

int
api_closing_add_revoke(struct api *api, const struct api_caller *c, const struct store_grant *g, int64_t at_ns,
		       bool terminate, bool *ret_durable)
{
	return closing_put(api, c, g, STORE_JOURNAL_END, STORE_REASON_USER_REQUESTED, at_ns, terminate, ret_durable);
}

int
api_closing_flush(struct api *api)
{
	struct api_closing *cl = api->closing;
	struct api_vm_memo memo = { 0 };
	int64_t now = time_now_ns(), mono = time_mono_ns();
	size_t i, recorded = 0;
	int r;

	if (!cl || cl->n == 0 || now < cl->retry_ns || store_in_transaction(api->store))
		return 0;
	if ((r = store_begin(api->store)) < 0)
		goto refused;
	for (i = 0; i < cl->n; i++) {
		const struct store_journal_entry *e = &cl->v[i].e;
		struct api_caller who;
		char when[64];

		if (e->kind == STORE_JOURNAL_END)
			r = store_grant_end(api->store, e->request_id, e->vm_id, e->port, e->reason, e->at_ns);
		else
			/* its monotonic end: at most the time the new end has left now */
			r = store_grant_truncate(api->store, e->request_id, e->vm_id, e->port, e->at_ns, api->boot_id,
						 mono + (e->at_ns - now));
		if (r == -ENOENT)
			continue;	/* it ended meanwhile (expired, superseded, closed again and recorded) */
		/* its agent, if it has one, ends the sessions now: the revision this moves is the first it sees of it */
		if (r == 0 && e->terminate)
			r = store_termination_add(api->store, e->request_id, e->vm_id, e->port, now);
		if (r < 0)
			goto refused;
		memset(&who, 0, sizeof(who));
		snprintf(who.name, sizeof(who.name), "%s", e->caller);
		snprintf(who.addr_text, sizeof(who.addr_text), "local");
		snprintf(who.correlation_id, sizeof(who.correlation_id), "%s", e->request_id);
		time_format_azure(e->at_ns, when, sizeof(when));
		if (e->kind == STORE_JOURNAL_END)
			api_log(api, &who, RBAC_POLICY_REVOKE, api_vm_text(api, &memo, e->vm_id), "Revoked", NULL,
				"port %u of request %s was closed at %s while the store refused writes; recorded now%s",
				e->port, e->request_id, when, e->terminate ? " (and its open sessions to end)" : "");
		else
			api_log(api, &who, RBAC_POLICY_WRITE, api_vm_text(api, &memo, e->vm_id), "Truncated", NULL,
				"port %u of request %s was cut short to end at %s while the store refused writes; recorded now",
				e->port, e->request_id, when);
		recorded++;
	}
	if ((r = store_commit(api->store)) < 0)
		goto refused;
	for (i = 0; i < cl->n; i++)
		if (cl->v[i].slot >= 0 && cl->journal)
			store_journal_clear(cl->journal, (size_t)cl->v[i].slot);	/* if not: replayed, found done */
	cl->n = 0;
	cl->retry_ns = 0;
	return (int)recorded;
refused:
	if (store_in_transaction(api->store))
		store_rollback(api->store);
	cl->retry_ns = now + CLOSING_RETRY_NS;
	return r;
}
