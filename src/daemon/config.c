/* jitgated's settings (see config.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <ini.h>

#include "core/armid.h"
#include "core/duration.h"
#include "daemon/config.h"

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
}

static int
set_string(char *dst, size_t size, const char *key, const char *value, struct core_error *err)
{
	if (strlen(value) >= size)
		return core_error_set(err, "InvalidConfig", key, "%s is longer than %zu characters", key, size - 1);
	memcpy(dst, value, strlen(value) + 1);
	return 0;
}

static int
set_proxies(struct config *cfg, const char *value, struct core_error *err)
{
	const char *p = value;

	cfg->api.n_trusted_proxies = 0;
	while (*p) {
		size_t len = strcspn(p, ", ");

		if (len) {
			if (cfg->api.n_trusted_proxies == API_TRUSTED_PROXIES_MAX)
				return core_error_set(err, "InvalidConfig", "trusted_proxies", "at most %d trusted proxies",
						      API_TRUSTED_PROXIES_MAX);
			if (net_prefix_parse(p, len, &cfg->api.trusted_proxies[cfg->api.n_trusted_proxies], err) < 0) {
				snprintf(err->target, sizeof(err->target), "trusted_proxies");
				return -EINVAL;
			}
			cfg->api.n_trusted_proxies++;
		}
		p += len;
		while (*p == ',' || *p == ' ')
			p++;
	}
	return 0;
}

int
config_set(struct config *cfg, const char *key, const char *value, struct core_error *err)
{
	int64_t ms;

	if (!strcmp(key, "state_dir"))
		return set_string(cfg->state_dir, sizeof(cfg->state_dir), key, value, err);
	if (!strcmp(key, "listen"))
		return set_string(cfg->listen, sizeof(cfg->listen), key, value, err);
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
			return core_error_set(err, "InvalidConfig", key, "os_type is Linux or Windows, not '%.32s'", value);
		return set_string(cfg->os_type, sizeof(cfg->os_type), key, !strcasecmp(value, "Linux") ? "Linux" : "Windows",
				  err);
	}
	if (!strcmp(key, "tls_cert"))
		return set_string(cfg->tls_cert, sizeof(cfg->tls_cert), key, value, err);
	if (!strcmp(key, "tls_key"))
		return set_string(cfg->tls_key, sizeof(cfg->tls_key), key, value, err);
	if (!strcmp(key, "unix_socket"))
		return set_string(cfg->unix_socket, sizeof(cfg->unix_socket), key, value, err);
	if (!strcmp(key, "config"))
		return set_string(cfg->config_file, sizeof(cfg->config_file), key, value, err);
	if (!strcmp(key, "trusted_proxies"))
		return set_proxies(cfg, value, err);
	if (!strcmp(key, "max_duration")) {
		if (duration_parse_iso8601(value, strlen(value), &ms, err) < 0) {
			snprintf(err->target, sizeof(err->target), "max_duration");
			return -EINVAL;
		}
		if (ms < POLICY_DURATION_MIN_MS || ms > FW_TIMEOUT_MAX_MS)
			return core_error_set(err, "InvalidConfig", key, "max_duration must be between PT5M and P366D");
		cfg->api.max_duration_ms = ms;
		return 0;
	}
	return core_error_set(err, "InvalidConfig", key, "unknown setting '%.64s'", key);
}

struct ini_ctx {
	struct config *cfg;
	struct core_error *err;
	int r;
	/* the custom role being read */
	char role[RBAC_ROLE_NAME_MAX + 1];
	char actions[RBAC_ACTIONS_MAX * (RBAC_ACTION_MAX + 2)];
	char not_actions[RBAC_ACTIONS_MAX * (RBAC_ACTION_MAX + 2)];
};

static int
flush_role(struct ini_ctx *c)
{
	struct api_settings *s = &c->cfg->api;

	if (!c->role[0])
		return 0;
	if (s->n_custom_roles == RBAC_CUSTOM_ROLES_MAX)
		return core_error_set(c->err, "InvalidConfig", "role", "at most %d custom roles", RBAC_CUSTOM_ROLES_MAX);
	if (rbac_role_custom(c->role, c->actions, c->not_actions, &s->custom_roles[s->n_custom_roles], c->err) < 0)
		return -EINVAL;
	s->n_custom_roles++;
	c->role[0] = c->actions[0] = c->not_actions[0] = '\0';
	return 0;
}

static int
on_ini(void *user, const char *section, const char *name, const char *value)
{
	struct ini_ctx *c = user;

	if (c->r < 0)
		return 0;
	if (!section[0]) {
		c->r = config_set(c->cfg, name, value, c->err);
		return c->r == 0;
	}
	if (strncmp(section, "role ", 5)) {
		c->r = core_error_set(c->err, "InvalidConfig", section, "unknown section [%.64s]", section);
		return 0;
	}
	if (strcmp(c->role, section + 5)) {
		if ((c->r = flush_role(c)) < 0)
			return 0;
		snprintf(c->role, sizeof(c->role), "%s", section + 5);
	}
	if (!strcmp(name, "actions"))
		snprintf(c->actions, sizeof(c->actions), "%s", value);
	else if (!strcmp(name, "not_actions"))
		snprintf(c->not_actions, sizeof(c->not_actions), "%s", value);
	else
		c->r = core_error_set(c->err, "InvalidConfig", name, "unknown key '%.64s' in [%.64s]", name, section);
	return c->r == 0;
}

int
config_load_file(struct config *cfg, const char *path, struct core_error *err)
{
	struct ini_ctx c;
	int line;

	memset(&c, 0, sizeof(c));
	c.cfg = cfg;
	c.err = err;
	line = ini_parse(path, on_ini, &c);
	if (c.r < 0)
		return c.r;
	if (line == -1)
		return core_error_set(err, "InvalidConfig", path, "cannot open the config file %s: %s", path,
				      strerror(errno));
	if (line != 0)
		return core_error_set(err, "InvalidConfig", path, "%s: line %d is not 'key = value'", path, line);
	return flush_role(&c);
}

int
config_validate(const struct config *cfg, struct core_error *err)
{
	const struct api_settings *s = &cfg->api;

	if (arm_subscription_validate(s->subscription, strlen(s->subscription), err) < 0 ||
	    arm_resource_group_validate(cfg->resource_group, strlen(cfg->resource_group), err) < 0 ||
	    arm_location_validate(s->location, strlen(s->location), err) < 0 ||
	    arm_vm_name_validate(cfg->vm_name, strlen(cfg->vm_name), err) < 0)
		return -EINVAL;
	if (!cfg->state_dir[0])
		return core_error_set(err, "InvalidConfig", "state_dir", "state_dir is empty");
	if (!strrchr(cfg->listen, ':'))
		return core_error_set(err, "InvalidConfig", "listen", "listen is ADDRESS:PORT, not '%s'", cfg->listen);
	if (!cfg->tls_cert[0] != !cfg->tls_key[0])
		return core_error_set(err, "InvalidConfig", "tls_cert", "give both tls_cert and tls_key, or neither");
	return 0;
}
