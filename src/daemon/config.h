/* jitgated's settings: defaults, then the config file (libinih), then command-line flags. */
#ifndef JITGATE_DAEMON_CONFIG_H
#define JITGATE_DAEMON_CONFIG_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include "api/api.h"
#include "core/error.h"
#include "daemon/webhook.h"

#define CONFIG_PATH_MAX		PATH_MAX
#define CONFIG_LISTEN_MAX	128
#define CONFIG_STORE_MAX	1024	/* a libpq URI: several hosts and their options fit */
#define CONFIG_DEFAULT_STATE_DIR	"/var/lib/jitgate"
#define CONFIG_DEFAULT_LISTEN	"127.0.0.1:8443"
#define CONFIG_DEFAULT_SUBSCRIPTION	"00000000-0000-0000-0000-000000000000"
#define CONFIG_DEFAULT_RG	"default"
#define CONFIG_DEFAULT_LOCATION	"local"
#define CONFIG_USER_MAX		32	/* the unprivileged user's name, as useradd allows */
#define CONFIG_DEFAULT_USER	"jitgate"
#define CONFIG_RECONCILE_S	600	/* periodic kernel reconcile, default: a second line behind the netlink monitor */
#define CONFIG_RECONCILE_MIN_S	1
#define CONFIG_RECONCILE_MAX_S	3600

/* Retention and the activity log's chain (doc/operator.md, "Retention" and "Audit verification"). */
#define CONFIG_RETAIN_DAYS_DEFAULT	400	/* activity entries and ended requests are kept this long */
#define CONFIG_RETAIN_DAYS_MAX		36525	/* a century: beyond it, say never */
#define CONFIG_PRUNE_BATCH		500	/* rows one prune transaction deletes at most: a few ms of write lock */
#define CONFIG_PRUNE_INTERVAL_S		60	/* how often retention looks when nothing is left over */
#define CONFIG_AUDIT_HEAD_S		3600	/* how often the chain's head goes to the log (when it moved) */

struct config_retention {
	int64_t activity_ms, requests_ms;	/* how long to keep them; 0: for ever */
	int batch;
	int64_t interval_ms;
	int64_t head_interval_ms;		/* 0: the head is never logged */
	char export_path[CONFIG_PATH_MAX];	/* empty: what is pruned is not kept anywhere */
	char syslog_path[108];			/* a unix datagram socket (sun_path's size); empty: no copy */
};

struct config {
	char state_dir[CONFIG_PATH_MAX];
	char store[CONFIG_STORE_MAX];	/* empty: SQLite in state_dir; else a postgresql:// URI */
	char store_read[CONFIG_STORE_MAX];	/* PostgreSQL: a standby reads go to while the primary fails; empty: none */
	char listen[CONFIG_LISTEN_MAX];
	char metrics_listen[CONFIG_LISTEN_MAX];	/* plain-HTTP GET /metrics without authentication; empty: none */
	char resource_group[ARM_RESOURCE_GROUP_MAX + 1];
	char vm_name[ARM_VM_NAME_MAX + 1];
	char os_type[STORE_OS_MAX];
	char tls_cert[CONFIG_PATH_MAX];	/* empty: DIR/tls/cert.pem, generated */
	char tls_key[CONFIG_PATH_MAX];
	char unix_socket[CONFIG_PATH_MAX];	/* empty: none */
	char user[CONFIG_USER_MAX + 1];	/* empty: CONFIG_DEFAULT_USER */
	bool single_process;	/* root without privilege separation, asked for (--single-process) */
	/*
	 * PostgreSQL: this is the database's only jitgated, so it enforces local and gateway VMs in its own
	 * kernel as on SQLite (--single-replica). Without it a jitgated on PostgreSQL enforces through agents only.
	 */
	bool single_replica;
	char config_file[CONFIG_PATH_MAX];
	int reconcile_interval_s;	/* how often the kernel is compared with the store */
	struct api_settings api;	/* subscription, location, max duration, proxies, custom roles */
	struct config_retention retention;
	struct webhook_config webhooks;	/* [webhook NAME] sections (doc/operator.md "Notifications") */
};

/* Defaults: state dir, listen, subscription, resource group, location, VM name = host name, Linux, 24 h max. */
void config_defaults(struct config *cfg);

/* Read an ini file into cfg (keys as the long flags with '_' for '-'; [role NAME] sections for custom roles). */
int config_load_file(struct config *cfg, const char *path, struct core_error *err);
/* The same from n bytes of text (no NUL needed; "config" stands for the path in errors). */
int config_load_buffer(struct config *cfg, const char *text, size_t n, struct core_error *err);

/* Apply one setting by key ("state_dir", "listen", ...); used by the file and by flags. */
int config_set(struct config *cfg, const char *key, const char *value, struct core_error *err);

/* Check the whole configuration (names by ARM's rules, listen address form, ...). */
int config_validate(const struct config *cfg, struct core_error *err);

#endif
