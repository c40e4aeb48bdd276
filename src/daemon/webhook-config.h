/* Reading webhooks from the config file: [webhook NAME] sections (url, events, format, secret, ca_file) and webhook_backoff_max. */
#ifndef JITGATE_DAEMON_WEBHOOK_CONFIG_H
#define JITGATE_DAEMON_WEBHOOK_CONFIG_H

#include "core/error.h"
#include "daemon/webhook.h"

/* One key of section [webhook NAME]; the first key of a new name adds a hook. Errors name "webhook.NAME.KEY". */
int webhook_config_section(struct webhook_config *wc, const char *name, const char *key, const char *value,
			   struct core_error *err);
/* A webhook_* key of the main section (webhook_backoff_max = PT5M). */
int webhook_config_set(struct webhook_config *wc, const char *key, const char *value, struct core_error *err);
/* Every hook has a url and a secret. */
int webhook_config_validate(const struct webhook_config *wc, struct core_error *err);

#endif
