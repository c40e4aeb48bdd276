/* jitgated's settings (see config.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <ini.h>

#include "api/api-limits.h"
#include "codec/codec-limits.h"
#include "core/armid.h"
#include "core/dnat.h"
#include "core/duration.h"
#include "daemon/config.h"
#include "store/store-audit.h"
#include "daemon/webhook-config.h"

/*
 * libinih hands a section name over in a 50-byte buffer (its MAX_SECTION), cut
 * without a word; "role " takes 5, so a longer role name could arrive as a shorter one.
 */
#define CONFIG_INI_SECTION_MAX	50
#define CONFIG_FILE_ROLE_NAME_MAX	(CONFIG_INI_SECTION_MAX - 1 - 5 - 1)	/* 43: one less than could be a cut */

void
config_defaults(struct config *cfg)
{
	char host[256] = "localhost";
	size_t i;

	memset(cfg, 0, sizeof(*cfg));
	snprintf(cfg->state_dir, sizeof(cfg->state_dir), "%s", CONFIG_DEFAULT_STATE_DIR);
	snprintf(cfg->listen, sizeof(cfg->listen), "%s", CONFIG_DEFAULT_LISTEN);
	snprintf(cfg->api.subscription, sizeof(cfg->api.subscription), "%s", CONFIG_DEFAULT_SUBSCRIPTION);
	snprintf(cfg->resource_group, sizeof(cfg->resource_group), "%s", CONFIG_DEFAULT_RG);
	snprintf(cfg->api.location, sizeof(cfg->api.location), "%s", CONFIG_DEFAULT_LOCATION);
	gethostname(host, sizeof(host) - 1);
	/* a host name with a domain: the VM name is its first label, as ARM names cannot hold every host name */
	host[strcspn(host, ".")] = '\0';
	for (i = 0; host[i]; i++)
		if (!((host[i] >= 'a' && host[i] <= 'z') || (host[i] >= 'A' && host[i] <= 'Z') ||
		      (host[i] >= '0' && host[i] <= '9') || host[i] == '-' || host[i] == '_'))
			host[i] = '-';
	snprintf(cfg->vm_name, sizeof(cfg->vm_name), "%s", host[0] ? host : "localhost");
	snprintf(cfg->os_type, sizeof(cfg->os_type), "Linux");
	cfg->api.max_duration_ms = POLICY_DURATION_MAX_MS_DEFAULT;
	cfg->api.dnat_port_min = DNAT_PORTS_DEFAULT_MIN;
	cfg->api.dnat_port_max = DNAT_PORTS_DEFAULT_MAX;
	cfg->reconcile_interval_s = CONFIG_RECONCILE_S;
	cfg->retention.activity_ms = cfg->retention.requests_ms = CONFIG_RETAIN_DAYS_DEFAULT * 86400000LL;
	cfg->retention.batch = CONFIG_PRUNE_BATCH;
	cfg->retention.interval_ms = CONFIG_PRUNE_INTERVAL_S * 1000LL;
	cfg->retention.head_interval_ms = CONFIG_AUDIT_HEAD_S * 1000LL;
}

static int
set_string(char *dst, size_t size, const char *key, const char *value, struct core_error *err)
{
	if (strlen(value) >= size)
		return core_error_set(err, "InvalidConfig", key, "%s is longer than %zu characters", key, size - 1);
	memcpy(dst, value, strlen(value) + 1);
	return 0;
}

/* Name the setting at fault in an error record that a core parser filled without a target. */
static int
retarget(struct core_error *err, const char *key)
{
	if (err)
		snprintf(err->target, sizeof(err->target), "%s", key);
	return -EINVAL;
}

/*
 * How long to keep: "never" (keep for ever), "PnD" up to a century (beyond an ISO 8601 duration's
 * year), or any ISO 8601 duration of at least PT1S ("PT10S" for tests).
 */
static int
set_retain(int64_t *dst, const char *key, const char *value, struct core_error *err)
{
	size_t n = strlen(value), digits = n > 2 ? strspn(value + 1, "0123456789") : 0;
	int64_t ms = 0;
	size_t i;

	if (!strcmp(value, "never")) {
		*dst = 0;
		return 0;
	}
	if (digits && digits <= 5 && value[0] == 'P' && value[1 + digits] == 'D' && n == digits + 2) {
		for (i = 1; i <= digits; i++)
			ms = ms * 10 + (value[i] - '0');
		if (ms > CONFIG_RETAIN_DAYS_MAX)
			return core_error_set(err, "InvalidConfig", key, "%s is at most P%dD (or never)", key,
					      CONFIG_RETAIN_DAYS_MAX);
		ms *= 86400000LL;
	} else if (duration_parse_iso8601(value, n, &ms, err) < 0) {
		return retarget(err, key);
	}
	if (ms < 1000)
		return core_error_set(err, "InvalidConfig", key, "%s is at least PT1S (or never)", key);
	*dst = ms;
	return 0;
}

/* Retention's and the activity log's keys (config.h); 1 if key is none of them. */
static int
set_retention(struct config_retention *rt, const char *key, const char *value, struct core_error *err)
{
	int64_t ms;

	if (!strcmp(key, "retain_activity"))
		return set_retain(&rt->activity_ms, key, value, err);
	if (!strcmp(key, "retain_requests"))
		return set_retain(&rt->requests_ms, key, value, err);
	if (!strcmp(key, "prune_export"))
		return set_string(rt->export_path, sizeof(rt->export_path), key, value, err);
	if (!strcmp(key, "audit_syslog"))
		return set_string(rt->syslog_path, sizeof(rt->syslog_path), key, value, err);
	if (!strcmp(key, "prune_batch")) {
		size_t n = strlen(value);
		int v = 0;

		if (n == 0 || n > 5 || strspn(value, "0123456789") != n ||
		    (v = (int)strtol(value, NULL, 10)) < 1 || v > STORE_PRUNE_BATCH_MAX)
			return core_error_set(err, "InvalidConfig", key, "prune_batch is 1 to %d", STORE_PRUNE_BATCH_MAX);
		rt->batch = v;
		return 0;
	}
	if (strcmp(key, "prune_interval") && strcmp(key, "audit_head_interval"))
		return 1;
	if (!strcmp(value, "never") && !strcmp(key, "audit_head_interval")) {
		rt->head_interval_ms = 0;
		return 0;
	}
	if (duration_parse_iso8601(value, strlen(value), &ms, err) < 0)
		return retarget(err, key);
	if (ms < 1000 || ms > 86400000LL)
		return core_error_set(err, "InvalidConfig", key, "%s must be between PT1S and PT24H", key);
	*(key[0] == 'p' ? &rt->interval_ms : &rt->head_interval_ms) = ms;
	return 0;
}

static int
set_reconcile_interval(struct config *cfg, const char *key, const char *value, struct core_error *err)
{
	int64_t ms;

	if (duration_parse_iso8601(value, strlen(value), &ms, err) < 0) {
		if (err)
			snprintf(err->target, sizeof(err->target), "reconcile_interval");
		return -EINVAL;
	}
	if (ms < CONFIG_RECONCILE_MIN_S * 1000LL || ms > CONFIG_RECONCILE_MAX_S * 1000LL)
		return core_error_set(err, "InvalidConfig", key, "reconcile_interval must be between PT1S and PT1H");
	cfg->reconcile_interval_s = (int)(ms / 1000);
	return 0;
}

/*
 * The API's waits: how long an agent's watch is held when nothing changes (agent_watch_wait: PT1S to PT30S,
 * shorter in tests), and how long a port waits for approval (approval_timeout: PT1S to P7D).
 */
static int
set_api_wait(struct config *cfg, const char *key, const char *value, struct core_error *err)
{
	bool agent = !strcmp(key, "agent_watch_wait");
	int64_t ms;

	if (duration_parse_iso8601(value, strlen(value), &ms, err) < 0)
		return retarget(err, key);
	if (agent && (ms < API_AGENT_WAIT_MIN_MS || ms > AGENT_WATCH_WAIT_MS))
		return core_error_set(err, "InvalidConfig", key, "agent_watch_wait must be between PT1S and PT30S");
	if (!agent && (ms < API_APPROVAL_TIMEOUT_MIN_MS || ms > API_APPROVAL_TIMEOUT_MAX_MS))
		return core_error_set(err, "InvalidConfig", key, "approval_timeout must be between PT1S and P7D");
	*(agent ? &cfg->api.agent_watch_wait_ms : &cfg->api.approval_timeout_ms) = ms;
	return 0;
}

/*
 * A list of prefixes separated by commas and blanks. `append` adds to the list
 * (a continuation line in the file); cfg changes only on success.
 */
static int
set_proxies(struct config *cfg, const char *value, bool append, struct core_error *err)
{
	struct net_prefix list[API_TRUSTED_PROXIES_MAX];
	size_t n = append ? cfg->api.n_trusted_proxies : 0;
	const char *p = value;

	memcpy(list, cfg->api.trusted_proxies, n * sizeof(list[0]));
	while (*p) {
		size_t len = strcspn(p, ", \t");

		if (len) {
			if (n == API_TRUSTED_PROXIES_MAX)
				return core_error_set(err, "InvalidConfig", "trusted_proxies", "at most %d trusted proxies",
						      API_TRUSTED_PROXIES_MAX);
			if (net_prefix_parse(p, len, &list[n], err) < 0)
				return retarget(err, "trusted_proxies");
			n++;
		}
		p += len;
		while (*p == ',' || *p == ' ' || *p == '\t')
			p++;
	}
	memcpy(cfg->api.trusted_proxies, list, n * sizeof(list[0]));
	cfg->api.n_trusted_proxies = n;
	return 0;
}

/*
 * store: the SQLite file is always state_dir's; this names the other engine (doc/store-backends.md).
 * A wrong value is not repeated in the error: a URI may hold a password.
 */
static int
set_store(struct config *cfg, const char *key, const char *value, struct core_error *err)
{
	bool read = !strcmp(key, "store_read");

	if (*value && strncmp(value, "postgresql://", 13) && strncmp(value, "postgres://", 11))
		return core_error_set(err, "InvalidConfig", key, read ? "store_read is a postgresql:// URI (or empty: no "
				      "standby)" : "store is a postgresql:// URI (or empty: SQLite in state_dir)");
	return set_string(read ? cfg->store_read : cfg->store, CONFIG_STORE_MAX, key, value, err);
}

static int
set_max_duration(struct config *cfg, const char *key, const char *value, struct core_error *err)
{
	int64_t ms;

	if (duration_parse_iso8601(value, strlen(value), &ms, err) < 0)
		return retarget(err, key);
	if (ms < POLICY_DURATION_MIN_MS || ms > FW_TIMEOUT_MAX_MS)
		return core_error_set(err, "InvalidConfig", key, "max_duration must be between PT5M and P366D");
	cfg->api.max_duration_ms = ms;
	return 0;
}

int
config_set(struct config *cfg, const char *key, const char *value, struct core_error *err)
{
	char q[ERROR_QUOTE_SIZE];
	int r;

	if (!strcmp(key, "state_dir"))
		return set_string(cfg->state_dir, sizeof(cfg->state_dir), key, value, err);
	if (!strcmp(key, "store") || !strcmp(key, "store_read"))
		return set_store(cfg, key, value, err);
	if (!strcmp(key, "listen") || !strcmp(key, "metrics_listen"))	/* both CONFIG_LISTEN_MAX */
		return set_string(key[0] == 'l' ? cfg->listen : cfg->metrics_listen, CONFIG_LISTEN_MAX, key, value, err);
	if (!strcmp(key, "subscription"))
		return set_string(cfg->api.subscription, sizeof(cfg->api.subscription), key, value, err);
	if (!strcmp(key, "resource_group"))
		return set_string(cfg->resource_group, sizeof(cfg->resource_group), key, value, err);
	if (!strcmp(key, "location"))
		return set_string(cfg->api.location, sizeof(cfg->api.location), key, value, err);
	if (!strcmp(key, "vm_name"))
		return set_string(cfg->vm_name, sizeof(cfg->vm_name), key, value, err);
	if (!strcmp(key, "os_type")) {
		if (strcasecmp(value, "Linux") && strcasecmp(value, "Windows"))
			return core_error_set(err, "InvalidConfig", key, "os_type is Linux or Windows, not '%s'",
					      core_error_quote(value, strlen(value), q, sizeof(q)));
		return set_string(cfg->os_type, sizeof(cfg->os_type), key, !strcasecmp(value, "Linux") ? "Linux" : "Windows",
				  err);
	}
	if (!strcmp(key, "tls_cert"))
		return set_string(cfg->tls_cert, sizeof(cfg->tls_cert), key, value, err);
	if (!strcmp(key, "tls_key"))
		return set_string(cfg->tls_key, sizeof(cfg->tls_key), key, value, err);
	if (!strcmp(key, "unix_socket"))
		return set_string(cfg->unix_socket, sizeof(cfg->unix_socket), key, value, err);
	if (!strcmp(key, "user")) {
		/* what useradd accepts; the user database decides the rest at start */
		if (!value[0] || strlen(value) > CONFIG_USER_MAX || value[0] == '-' ||
		    strspn(value, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") != strlen(value))
			return core_error_set(err, "InvalidConfig", key,
					      "user is 1 to %d letters, digits, '.', '_' or '-', not starting with '-'",
					      CONFIG_USER_MAX);
		return set_string(cfg->user, sizeof(cfg->user), key, value, err);
	}
	if (!strcmp(key, "single_process") || !strcmp(key, "single_replica")) {
		bool *flag = !strcmp(key, "single_process") ? &cfg->single_process : &cfg->single_replica;

		if (!strcasecmp(value, "yes") || !strcasecmp(value, "true") || !strcmp(value, "1"))
			*flag = true;
		else if (!strcasecmp(value, "no") || !strcasecmp(value, "false") || !strcmp(value, "0"))
			*flag = false;
		else
			return core_error_set(err, "InvalidConfig", key, "%s is yes or no, not '%s'", key,
					      core_error_quote(value, strlen(value), q, sizeof(q)));
		return 0;
	}
	if (!strcmp(key, "config"))
		return set_string(cfg->config_file, sizeof(cfg->config_file), key, value, err);
	if (!strcmp(key, "trusted_proxies"))
		return set_proxies(cfg, value, false, err);
	if (!strcmp(key, "reconcile_interval"))
		return set_reconcile_interval(cfg, key, value, err);
	if ((r = set_retention(&cfg->retention, key, value, err)) <= 0)
		return r;
	if (!strcmp(key, "agent_watch_wait") || !strcmp(key, "approval_timeout"))
		return set_api_wait(cfg, key, value, err);
	if (!strcmp(key, "dnat_ports"))
		return dnat_range_parse(value, strlen(value), &cfg->api.dnat_port_min, &cfg->api.dnat_port_max, err);
	if (!strcmp(key, "max_duration"))
		return set_max_duration(cfg, key, value, err);
	/* the target is logged too: quoted like the message, as it is the file's bytes */
	core_error_quote(key, strlen(key), q, sizeof(q));
	return core_error_set(err, "InvalidConfig", q, "unknown setting '%s'", q);
}

struct ini_ctx {
	struct config *cfg;
	struct core_error *err;
	int r;
	bool proxies_seen;	/* later trusted_proxies lines (continuations) add to the list */
	/* the custom role being read; actions and not_actions lines add to their list */
	char role[RBAC_ROLE_NAME_MAX + 1];
	char actions[RBAC_ACTIONS_MAX * (RBAC_ACTION_MAX + 2)];
	char not_actions[RBAC_ACTIONS_MAX * (RBAC_ACTION_MAX + 2)];
};

/* Add value to a comma-separated list: a long list spans continuation lines, as ini lines are short. */
static int
list_append(char *list, size_t size, const char *key, const char *value, struct core_error *err)
{
	size_t len = strlen(list), add = strlen(value);

	if (len + (len ? 1 : 0) + add >= size)
		return core_error_set(err, "InvalidConfig", key, "%s is longer than %zu characters", key, size - 1);
	if (len)
		list[len++] = ',';
	memcpy(list + len, value, add + 1);
	return 0;
}

static int
flush_role(struct ini_ctx *c)
{
	struct api_settings *s = &c->cfg->api;

	char q[ERROR_QUOTE_SIZE];
	size_t i;

	if (!c->role[0])
		return 0;
	if (s->n_custom_roles == RBAC_CUSTOM_ROLES_MAX)
		return core_error_set(c->err, "InvalidConfig", "role", "at most %d custom roles", RBAC_CUSTOM_ROLES_MAX);
	/* a second definition would never be found: the look-ups take the first */
	for (i = 0; i < s->n_custom_roles; i++)
		if (!strcasecmp(s->custom_roles[i].name, c->role))
			return core_error_set(c->err, "InvalidConfig", "role", "role '%s' is defined twice",
					      core_error_quote(c->role, strlen(c->role), q, sizeof(q)));
	if (rbac_role_custom(c->role, c->actions, c->not_actions, &s->custom_roles[s->n_custom_roles], c->err) < 0)
		return -EINVAL;
	s->n_custom_roles++;
	c->role[0] = c->actions[0] = c->not_actions[0] = '\0';
	return 0;
}

/* [sso]: complete, and every mapping names a role that exists (a built-in or a [role] section). */
static int
config_sso_check(struct config *cfg, struct core_error *err)
{
	struct oidc_settings *o = &cfg->api.oidc;
	const struct rbac_role *role;
	size_t i, k;

	if (oidc_settings_check(o, err) < 0)
		return -EINVAL;
	for (i = 0; i < o->n_maps; i++) {
		role = rbac_role_builtin(o->maps[i].role);
		for (k = 0; !role && k < cfg->api.n_custom_roles; k++)
			if (!strcasecmp(cfg->api.custom_roles[k].name, o->maps[i].role))
				role = &cfg->api.custom_roles[k];
		if (!role)
			return core_error_set(err, "InvalidConfig", "map", "sso map line %zu names role '%.64s', which is not defined",
					      i + 1, o->maps[i].role);
	}
	return 0;
}

static int
on_ini(void *user, const char *section, const char *name, const char *value)
{
	struct ini_ctx *c = user;
	char q[ERROR_QUOTE_SIZE], q2[ERROR_QUOTE_SIZE];
	const char *role = section + 5;

	if (c->r < 0)
		return 0;
	if (!section[0]) {
		if (!strcmp(name, "trusted_proxies")) {
			c->r = set_proxies(c->cfg, value, c->proxies_seen, c->err);
			c->proxies_seen = true;
		} else if (!strncmp(name, "webhook_", 8)) {
			c->r = webhook_config_set(&c->cfg->webhooks, name, value, c->err);	/* the file only, no flag */
		} else {
			c->r = config_set(c->cfg, name, value, c->err);
		}
		return c->r == 0;
	}
	if (!strncmp(section, "webhook ", 8)) {
		c->r = webhook_config_section(&c->cfg->webhooks, section + 8, name, value, c->err);
		return c->r == 0;
	}
	if (!strcmp(section, "sso")) {
		c->r = oidc_settings_set(&c->cfg->api.oidc, name, value, c->err);
		return c->r == 0;
	}
	if (strncmp(section, "role ", 5)) {
		core_error_quote(section, strlen(section), q, sizeof(q));
		c->r = core_error_set(c->err, "InvalidConfig", q, "unknown section [%s]", q);
		return 0;
	}
	/* checked here, not only by rbac_role_custom(): a long name may have been cut, and an empty one lost */
	if (!role[0] || strlen(role) > CONFIG_FILE_ROLE_NAME_MAX) {
		c->r = core_error_set(c->err, "InvalidRoleName", "role", "a role name in a config file has 1 to %d characters",
				      CONFIG_FILE_ROLE_NAME_MAX);
		return 0;
	}
	if (strcmp(c->role, role)) {
		if ((c->r = flush_role(c)) < 0)
			return 0;
		snprintf(c->role, sizeof(c->role), "%s", role);
	}
	if (!strcmp(name, "actions"))
		c->r = list_append(c->actions, sizeof(c->actions), name, value, c->err);
	else if (!strcmp(name, "not_actions"))
		c->r = list_append(c->not_actions, sizeof(c->not_actions), name, value, c->err);
	else
		c->r = core_error_set(c->err, "InvalidConfig", core_error_quote(name, strlen(name), q, sizeof(q)),
				      "unknown key '%s' in [role %s]", q, core_error_quote(role, strlen(role), q2, sizeof(q2)));
	return c->r == 0;
}

/* Where libinih reads lines from: a file, or n bytes of text (which need not end in a NUL). */
struct ini_source {
	FILE *f;
	const char *text;
	size_t n, off;
	int e;			/* a read error on f */
};

/* libinih's reader (fgets' contract): the next line, newline included, cut at size - 1 bytes; NULL at the end. */
static char *
ini_source_read(char *line, int size, void *stream)
{
	struct ini_source *s = stream;
	size_t k = 0;

	if (s->f) {
		errno = 0;
		if (fgets(line, size, s->f))
			return line;
		if (ferror(s->f))
			s->e = errno ? errno : EIO;
		return NULL;
	}
	if (s->off >= s->n || size < 2)
		return NULL;
	while (k < (size_t)size - 1 && s->off < s->n)
		if ((line[k++] = s->text[s->off++]) == '\n')
			break;
	line[k] = '\0';
	return line;
}

/* The file's and the text's common path; `name` names the source in errors. */
static int
config_load(struct config *cfg, struct ini_source *src, const char *name, struct core_error *err)
{
	struct ini_ctx c;
	int line, r;

	memset(&c, 0, sizeof(c));
	c.cfg = cfg;
	c.err = err;
	line = ini_parse_stream(ini_source_read, src, on_ini, &c);
	if (c.r < 0)
		return c.r;
	if (src->e)
		return core_error_set(err, "InvalidConfig", name, "cannot read the config file %s: %s", name,
				      strerror(src->e));
	if (line < 0)
		return core_error_set(err, "InvalidConfig", name, "%s: out of memory", name);
	if (line > 0)
		return core_error_set(err, "InvalidConfig", name, "%s: line %d is not 'key = value'", name, line);
	if ((r = flush_role(&c)) < 0)
		return r;
	return config_sso_check(cfg, err);
}

int
config_load_file(struct config *cfg, const char *path, struct core_error *err)
{
	struct ini_source src = { 0 };
	int e, r;

	/* opened here rather than by ini_parse() so that a read error (a directory, EIO) is not an empty file */
	if (!(src.f = fopen(path, "re"))) {
		e = errno;
		core_error_set(err, "InvalidConfig", path, "cannot open the config file %s: %s", path, strerror(e));
		return -e;
	}
	r = config_load(cfg, &src, path, err);
	fclose(src.f);
	return r;
}

int
config_load_buffer(struct config *cfg, const char *text, size_t n, struct core_error *err)
{
	struct ini_source src = { .text = text, .n = n };

	return config_load(cfg, &src, "config", err);
}

int
config_validate(const struct config *cfg, struct core_error *err)
{
	const struct api_settings *s = &cfg->api;
	char q[ERROR_QUOTE_SIZE];

	/* the ARM checks leave the target empty: name the setting */
	if (arm_subscription_validate(s->subscription, strlen(s->subscription), err) < 0)
		return retarget(err, "subscription");
	if (arm_resource_group_validate(cfg->resource_group, strlen(cfg->resource_group), err) < 0)
		return retarget(err, "resource_group");
	if (arm_location_validate(s->location, strlen(s->location), err) < 0)
		return retarget(err, "location");
	if (arm_vm_name_validate(cfg->vm_name, strlen(cfg->vm_name), err) < 0)
		return retarget(err, "vm_name");
	if (!cfg->state_dir[0])
		return core_error_set(err, "InvalidConfig", "state_dir", "state_dir is empty");
	if (!strrchr(cfg->listen, ':'))
		return core_error_set(err, "InvalidConfig", "listen", "listen is ADDRESS:PORT, not '%s'",
				      core_error_quote(cfg->listen, strlen(cfg->listen), q, sizeof(q)));
	if (cfg->metrics_listen[0] && !strrchr(cfg->metrics_listen, ':'))
		return core_error_set(err, "InvalidConfig", "metrics_listen", "metrics_listen is ADDRESS:PORT, not '%s'",
				      core_error_quote(cfg->metrics_listen, strlen(cfg->metrics_listen), q, sizeof(q)));
	if (cfg->metrics_listen[0] && !strcmp(cfg->metrics_listen, cfg->listen))
		return core_error_set(err, "InvalidConfig", "metrics_listen",
				      "metrics_listen must differ from listen: the API is never served without TLS");
	if (!cfg->tls_cert[0] != !cfg->tls_key[0])
		return core_error_set(err, "InvalidConfig", cfg->tls_cert[0] ? "tls_key" : "tls_cert",
				      "give both tls_cert and tls_key, or neither");
	if (webhook_config_validate(&cfg->webhooks, err) < 0)
		return -EINVAL;
	if (cfg->single_replica && !cfg->store[0])
		return core_error_set(err, "InvalidConfig", "single_replica",
				      "single_replica is for a store on PostgreSQL (store = postgresql://...); SQLite has one "
				      "jitgated anyway");
	if (cfg->store_read[0] && !cfg->store[0])
		return core_error_set(err, "InvalidConfig", "store_read",
				      "store_read names a PostgreSQL standby to read from while the primary is gone: it needs "
				      "store = postgresql://...");
	if (cfg->single_process && cfg->user[0])
		return core_error_set(err, "InvalidConfig", "single_process",
				      "single_process runs everything as one process: it takes no user");
	return 0;
}
