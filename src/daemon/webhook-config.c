/* The config file's [webhook NAME] sections and webhook_* settings, into struct webhook_config (webhook.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/duration.h"
#include "daemon/webhook-config.h"

#define WEBHOOK_BACKOFF_MAX_MIN_MS	1000	/* webhook_backoff_max: at least PT1S ... */
#define WEBHOOK_BACKOFF_MAX_MAX_MS	(60 * 60 * 1000)	/* ... at most PT1H */

int
webhook_config_set(struct webhook_config *wc, const char *key, const char *value, struct core_error *err)
{
	char q[ERROR_QUOTE_SIZE];
	int64_t ms;

	if (strcmp(key, "webhook_backoff_max"))
		return core_error_set(err, "InvalidConfig", core_error_quote(key, strlen(key), q, sizeof(q)),
				      "unknown setting '%s'", q);
	if (duration_parse_iso8601(value, strlen(value), &ms, err) < 0) {
		if (err)
			snprintf(err->target, sizeof(err->target), "%s", key);
		return -EINVAL;
	}
	if (ms < WEBHOOK_BACKOFF_MAX_MIN_MS || ms > WEBHOOK_BACKOFF_MAX_MAX_MS)
		return core_error_set(err, "InvalidConfig", key, "webhook_backoff_max must be between PT1S and PT1H");
	wc->backoff_max_ms = ms;
	return 0;
}

int
webhook_config_section(struct webhook_config *wc, const char *name, const char *key, const char *value,
		       struct core_error *err)
{
	char q[ERROR_QUOTE_SIZE];
	size_t i;
	int r;

	if (!webhook_name_is_valid(name))
		return core_error_set(err, "InvalidConfig", "webhook", "a webhook's name is 1 to %d letters, digits, '-' or '_'"
				      ", not '%s'", WEBHOOK_NAME_MAX, core_error_quote(name, strlen(name), q, sizeof(q)));
	for (i = 0; i < wc->n; i++)
		if (!strcmp(wc->hooks[i].name, name))
			break;
	if (i == wc->n) {
		if (wc->n == WEBHOOK_HOOKS_MAX)
			return core_error_set(err, "InvalidConfig", "webhook", "at most %d webhooks", WEBHOOK_HOOKS_MAX);
		memset(&wc->hooks[i], 0, sizeof(wc->hooks[i]));
		snprintf(wc->hooks[i].name, sizeof(wc->hooks[i].name), "%s", name);
		wc->n++;
	}
	if ((r = webhook_hook_set(&wc->hooks[i], key, value, err)) < 0 && err) {
		/* "webhook.NAME.url": which section's key */
		snprintf(q, sizeof(q), "webhook.%s.%.32s", name, err->target);
		snprintf(err->target, sizeof(err->target), "%s", q);
	}
	return r;
}

int
webhook_config_validate(const struct webhook_config *wc, struct core_error *err)
{
	size_t i;
	int r;

	for (i = 0; i < wc->n; i++)
		if ((r = webhook_hook_validate(&wc->hooks[i], err)) < 0) {
			if (err) {
				char t[ERROR_QUOTE_SIZE];

				snprintf(t, sizeof(t), "webhook.%s.%.32s", wc->hooks[i].name, err->target);
				snprintf(err->target, sizeof(err->target), "%s", t);
			}
			return r;
		}
	return 0;
}
