/* The agents' watches: which VMs have one parked, waking them when their VM's revision moves, and who is connected. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "api/api-internal.h"
#include "core/buf.h"
#include "core/timeutil.h"
#include "http/http-limits.h"

/* One agent VM seen by this server: its parked watches and when its agent was last heard from. */
struct api_watch {
	int64_t vm_id;
	size_t parked;
	int64_t contact_ns;
	bool kick;			/* wake its watches at the next api_watches_wake (its agent was revoked) */
	int64_t changes_window_ns;	/* the status changes budget's window (API_AGENT_STATUS_WINDOW_S) ... */
	uint32_t changes;		/* ... and the changes written in it */
	char inst[API_AGENT_INSTANCE_MAX + 1];	/* the agent instance last heard from, and when */
	int64_t inst_ns;
	char prev[API_AGENT_INSTANCE_MAX + 1];	/* the one before it, and when it was last heard from */
	int64_t prev_ns;
	int64_t shared_ns;		/* two instances last seen taking turns (0: never) */
	int64_t shared_said_ns;		/* the last activity row and log line about it */
};

/* Sorted by vm_id; an entry stays once made (one per agent VM that ever called this server). */
struct api_watches {
	struct api_watch *v;
	size_t n, cap;
	size_t parked;			/* in all */
	bool kicked;			/* some entry has kick set */
	char alert[512];		/* for jitgated's log (api_alert_take); empty: none */
};

static struct api_watch *
watch_find(const struct api *api, int64_t vm_id, size_t *ret_at)
{
	const struct api_watches *w = api->watches;
	size_t lo = 0, hi = w ? w->n : 0;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (w->v[mid].vm_id == vm_id)
			return &w->v[mid];
		if (w->v[mid].vm_id < vm_id)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (ret_at)
		*ret_at = lo;
	return NULL;
}

static struct api_watch *
watch_get(struct api *api, int64_t vm_id)
{
	struct api_watches *w;
	struct api_watch *e, *v;
	size_t at = 0;

	if ((e = watch_find(api, vm_id, &at)))
		return e;
	if (!api->watches && !(api->watches = calloc(1, sizeof(*api->watches))))
		return NULL;
	w = api->watches;
	if (!(v = array_grow(w->v, &w->cap, w->n, sizeof(*v))))
		return NULL;
	w->v = v;
	memmove(&w->v[at + 1], &w->v[at], (w->n - at) * sizeof(*v));
	w->n++;
	w->v[at] = (struct api_watch){ .vm_id = vm_id };
	return &w->v[at];
}

void
api_watch_contact(struct api *api, int64_t vm_id)
{
	struct api_watch *e = watch_get(api, vm_id);

	if (e)
		e->contact_ns = time_now_ns();
}

int
api_watch_status_change(struct api *api, int64_t vm_id)
{
	struct api_watch *e = watch_get(api, vm_id);
	int64_t now = time_now_ns(), end;

	if (!e)
		return 0;	/* out of memory: a status is not refused for it */
	end = e->changes_window_ns + API_AGENT_STATUS_WINDOW_S * TIME_NS_PER_SEC;
	if (e->changes_window_ns == 0 || now >= end || now < e->changes_window_ns) {
		e->changes_window_ns = now;
		e->changes = 0;
		end = now + API_AGENT_STATUS_WINDOW_S * TIME_NS_PER_SEC;
	}
	if (e->changes >= API_AGENT_STATUS_CHANGES_MAX)
		return (int)((end - now + TIME_NS_PER_SEC - 1) / TIME_NS_PER_SEC);
	e->changes++;
	return 0;
}

int
api_watch_instance(struct api *api, int64_t vm_id, const char *inst)
{
	struct api_watch *e = watch_get(api, vm_id);
	int64_t now = time_now_ns();

	if (!e || !strcmp(e->inst, inst)) {
		if (e)
			e->inst_ns = now;
		return 0;
	}
	/* the one before comes back while still live: two agents take turns (a restart never goes back) */
	if (!strcmp(e->prev, inst) && now - e->prev_ns < API_AGENT_CONNECTED_NS)
		e->shared_ns = now;
	memcpy(e->prev, e->inst, sizeof(e->prev));
	e->prev_ns = e->inst_ns;
	snprintf(e->inst, sizeof(e->inst), "%s", inst);
	e->inst_ns = now;
	if (e->shared_ns != now || (e->shared_said_ns && now - e->shared_said_ns < API_AGENT_SHARED_LOG_NS))
		return 0;
	e->shared_said_ns = now;
	return 1;
}

void
api_watch_alert(struct api *api, const char *fmt, ...)
{
	va_list ap;

	if (!api->watches && !(api->watches = calloc(1, sizeof(*api->watches))))
		return;
	va_start(ap, fmt);
	vsnprintf(api->watches->alert, sizeof(api->watches->alert), fmt, ap);
	va_end(ap);
}

int
api_alert_take(struct api *api, char *buf, size_t size)
{
	if (!api->watches || !api->watches->alert[0])
		return 0;
	snprintf(buf, size, "%s", api->watches->alert);
	api->watches->alert[0] = '\0';
	return 1;
}

int
api_watch_parked(struct api *api, int64_t vm_id)
{
	struct api_watch *e;

	/* the first watch parked: changes from now on are the ones to look at (nothing was watched before) */
	if ((!api->watches || api->watches->parked == 0) && store_fleet_revision(api->store, &api->watch_seen) < 0)
		return -EIO;
	if (!(e = watch_get(api, vm_id)))
		return -ENOMEM;
	e->parked++;
	e->contact_ns = time_now_ns();
	api->watches->parked++;
	return 0;
}

bool
api_watches_full(const struct api *api)
{
	return api->watches && api->watches->parked >= HTTP_PARKED_MAX;
}

void
api_watch_unparked(struct api *api, int64_t vm_id)
{
	struct api_watch *e = watch_find(api, vm_id, NULL);

	if (!e || e->parked == 0)
		return;
	e->parked--;
	e->contact_ns = time_now_ns();
	api->watches->parked--;
}

void
api_watch_kick(struct api *api, int64_t vm_id)
{
	struct api_watch *e = watch_find(api, vm_id, NULL);

	if (e && e->parked) {
		e->kick = true;
		api->watches->kicked = true;
	}
}

/* The watches of VMs whose agent was revoked: woken, so that they are answered 401 now. */
static void
watches_kicked(struct api *api, struct http_server *srv)
{
	struct api_watches *w = api->watches;
	size_t i;

	for (i = 0; i < w->n; i++)
		if (w->v[i].kick) {
			w->v[i].kick = false;
			http_server_wake(srv, (uint64_t)w->v[i].vm_id);
		}
	w->kicked = false;
}

void
api_watches_wake(struct api *api, struct http_server *srv)
{
	struct store_vm_change *ch = NULL;
	struct api_watch *e;
	size_t n = 0, i;

	if (!api->watches || api->watches->parked == 0 || !api->store)
		return;
	if (api->watches->kicked)
		watches_kicked(api, srv);
	if (store_vms_changed(api->store, api->watch_seen, &ch, &n) < 0)
		return;	/* read again after the next pass: nothing is lost, watch_seen stays */
	for (i = 0; i < n; i++) {
		if ((e = watch_find(api, ch[i].vm_id, NULL)) && e->parked)
			http_server_wake(srv, (uint64_t)ch[i].vm_id);
		if (ch[i].revision > api->watch_seen)
			api->watch_seen = ch[i].revision;
	}
	free(ch);
}

void
api_watches_free(struct api *api)
{
	if (!api->watches)
		return;
	free(api->watches->v);
	free(api->watches);
	api->watches = NULL;
}

static json_t *
time_or_null(int64_t ns)
{
	char buf[TIME_FORMAT_SIZE];

	return ns > 0 && time_format_azure(ns, buf, sizeof(buf)) > 0 ? json_string(buf) : json_null();
}

json_t *
api_agent_render(struct api *api, const struct store_vm *vm, char *ret_reason, size_t size)
{
	const struct api_watch *e = watch_find(api, vm->id, NULL);
	struct store_agent a;
	int64_t last, now = time_now_ns();
	bool connected;
	json_t *o;

	ret_reason[0] = '\0';
	if (store_agent_get(api->store, vm->id, &a) < 0) {
		snprintf(ret_reason, size, "no agent has joined as this VM");
		return json_pack("{s:s, s:b}", "state", "NeverJoined", "connected", false);
	}
	if (a.revoked_ns) {
		snprintf(ret_reason, size, "its agent's credential was revoked; join the host again");
		return json_pack("{s:s, s:b, s:o}", "state", "Revoked", "connected", false, "revokedTimeUtc",
				 time_or_null(a.revoked_ns));
	}
	last = a.seen_ns;
	if (e && e->contact_ns > last)
		last = e->contact_ns;
	connected = (e && e->parked) || (last && now - last < API_AGENT_CONNECTED_NS);
	o = json_pack("{s:s, s:b, s:s, s:I, s:o, s:o, s:b, s:I}", "state", connected ? "Connected" : "Disconnected",
		      "connected", connected, "version", a.report.version, "appliedRevision",
		      (json_int_t)a.report.applied_revision, "lastSeenTimeUtc", time_or_null(last), "joinedTimeUtc",
		      time_or_null(a.joined_ns), "kernelSupported", a.report.supported, "tamperUndone",
		      (json_int_t)a.report.tamper_undone);
	if (o && !connected)
		json_object_set_new(o, "disconnectedSince", time_or_null(last ? last : a.joined_ns));
	if (o && a.report.listening[0])
		json_object_set_new(o, "listening", json_string(a.report.listening));
	if (o && a.report.last_error[0])
		json_object_set_new(o, "lastError", json_string(a.report.last_error));
	if (o && e && e->shared_ns && now - e->shared_ns < API_AGENT_SHARED_SHOW_NS)
		json_object_set_new(o, "sharedCredential", json_pack("{s:o, s:s}", "detectedTimeUtc",
				    time_or_null(e->shared_ns), "message", API_AGENT_SHARED_TEXT));
	if (!a.report.supported) {
		snprintf(ret_reason, size, "%s",
			 a.report.reason[0] ? a.report.reason : "its agent says this host's kernel cannot hold the table");
		if (o)
			json_object_set_new(o, "reason", json_string(ret_reason));
	}
	return o;
}

size_t
api_watches_connected(const struct api *api, int64_t now_ns)
{
	const struct api_watches *w = api->watches;
	size_t i, n = 0;

	/* the inventory's rule (api_agent_render), from this server's side: a parked watch, or a recent call */
	for (i = 0; w && i < w->n; i++)
		if (w->v[i].parked || (w->v[i].contact_ns && now_ns - w->v[i].contact_ns < API_AGENT_CONNECTED_NS))
			n++;
	return n;
}
