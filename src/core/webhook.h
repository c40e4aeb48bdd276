/* Webhook notifications' model: the events, which activity log entries they come from, and one hook's settings. */
#ifndef JITGATE_CORE_WEBHOOK_H
#define JITGATE_CORE_WEBHOOK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

#define WEBHOOK_HOOKS_MAX	16	/* [webhook NAME] sections in one config file */
#define WEBHOOK_NAME_MAX	32	/* a hook's name: letters, digits, '-', '_' */
#define WEBHOOK_URL_MAX		2048	/* a receiver's URL (chat services put their key in the path) */
#define WEBHOOK_SECRET_MIN	16	/* bytes of a signing secret, at least: a short one can be guessed offline */
#define WEBHOOK_SECRET_MAX	256
#define WEBHOOK_EVENT_NAME_MAX	32	/* the longest event name, "agent disconnected", fits */

/*
 * The events a hook may ask for (issue 16). Each comes from activity log entries (webhook_event_of);
 * an event no entry maps to yet is accepted in a config and simply never sent (doc/operator.md lists them).
 */
enum webhook_event {
	WEBHOOK_EV_REQUESTED,
	WEBHOOK_EV_APPROVED,
	WEBHOOK_EV_DENIED,
	WEBHOOK_EV_OPENED,
	WEBHOOK_EV_EXTENDED,
	WEBHOOK_EV_REVOKED,
	WEBHOOK_EV_EXPIRED,
	WEBHOOK_EV_TAMPERING_UNDONE,
	WEBHOOK_EV_AGENT_DISCONNECTED,
	WEBHOOK_EV__MAX,
};
#define WEBHOOK_EVENTS_ALL	((1u << WEBHOOK_EV__MAX) - 1)

enum webhook_format {
	WEBHOOK_FORMAT_JSON,	/* {"id", "event", "time", "activity": {...}} */
	WEBHOOK_FORMAT_TEXT,	/* {"text": "..."}: what Slack, Mattermost, Rocket.Chat and Teams' incoming hooks read */
};

/* One [webhook NAME] section. The secret is the operator's: it is never logged nor shown by the API. */
struct webhook_hook {
	char name[WEBHOOK_NAME_MAX + 1];
	char url[WEBHOOK_URL_MAX + 1];
	uint32_t events;	/* bit (1 << enum webhook_event); 0 in a section means all */
	enum webhook_format format;
	char secret[WEBHOOK_SECRET_MAX + 1];
	char ca_file[4096];	/* empty: the system's CAs */
};

/* "opened", "tampering undone", ...; NULL out of range. */
const char *webhook_event_name(enum webhook_event e);
/* The event an activity log entry (its operation and status) is, or -1 for none. */
int webhook_event_of(const char *operation, const char *status);

/*
 * Apply one key of a [webhook NAME] section to h: url, events (names separated by commas; "all"),
 * format (json or text), secret, ca_file. Errors name the key.
 */
int webhook_hook_set(struct webhook_hook *h, const char *key, const char *value, struct core_error *err);
/* A hook's name as a section may carry it: 1 to WEBHOOK_NAME_MAX of [A-Za-z0-9_-]. */
bool webhook_name_is_valid(const char *name);
/* A complete hook: url and secret given. */
int webhook_hook_validate(const struct webhook_hook *h, struct core_error *err);
/* The URL's scheme and host[:port] ("https://chat.example.com"), without the path that may hold a key. */
void webhook_url_origin(const char *url, char *buf, size_t size);

#endif
