/* GET …/providers/Jitgate/webhooks: the configured webhooks and how their deliveries fare (admins only). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "api/api-internal.h"
#include "core/timeutil.h"
#include "core/webhook.h"
#include "store/store-webhooks.h"

void
api_set_webhooks(struct api *api, const struct webhook_hook *hooks, size_t n)
{
	api->webhooks = hooks;
	api->n_webhooks = n;
}

static json_t *
time_or_null(int64_t ns)
{
	char buf[64];

	return ns && time_format_rfc3339(ns, buf, sizeof(buf)) >= 0 ? json_string(buf) : json_null();
}

/* One hook: never its secret, and of its URL only scheme://host[:port] (a chat service's path is its key). */
static json_t *
hook_json(const struct webhook_hook *h, const struct store_hook_state *hs, int64_t waiting)
{
	char origin[WEBHOOK_URL_MAX + 1];
	json_t *events = json_array(), *o;
	uint32_t mask = h->events ? h->events : WEBHOOK_EVENTS_ALL;
	int e;

	for (e = 0; e < WEBHOOK_EV__MAX; e++)
		if (mask & (1u << e))
			json_array_append_new(events, json_string(webhook_event_name(e)));
	webhook_url_origin(h->url, origin, sizeof(origin));
	o = json_pack("{s:s, s:s, s:o, s:s, s:s, s:I, s:I, s:I, s:s}", "name", h->name, "url", origin, "events", events,
		      "format", h->format == WEBHOOK_FORMAT_TEXT ? "text" : "json", "state",
		      hs->failing ? "Failing" : "Ok", "waiting", (json_int_t)waiting, "failures",
		      (json_int_t)hs->failures, "dropped", (json_int_t)hs->dropped, "lastError", hs->last_error);
	if (o) {
		json_object_set_new(o, "lastDelivered", time_or_null(hs->last_ok_ns));
		json_object_set_new(o, "lastFailed", time_or_null(hs->last_fail_ns));
	}
	return o;
}

void
api_webhooks_list(struct api *api, const struct api_caller *c, const struct http_request *req,
		  struct http_response *resp)
{
	char scope[ARM_ID_MAX + 1];
	json_t *items;
	size_t i;
	int r;

	/* the hooks are configuration, as tokens are: who may read tokens may read them */
	snprintf(scope, sizeof(scope), "/subscriptions/%s", api->settings.subscription);
	if (!api_require(api, c, RBAC_TOKEN_READ, scope, resp))
		return;
	items = json_array();
	for (i = 0; i < api->n_webhooks; i++) {
		const struct webhook_hook *h = &api->webhooks[i];
		struct store_hook_state hs;
		int64_t waiting = 0;

		if ((r = store_hook_state_get(api->store, h->name, &hs)) < 0 ||
		    (r = store_outbox_count(api->store, h->name, &waiting)) < 0) {
			json_decref(items);
			api_store_error(api, resp, r, "cannot read the webhooks' state");
			return;
		}
		json_array_append_new(items, hook_json(h, &hs, waiting));
	}
	api_list_respond(req, items, resp);
}
