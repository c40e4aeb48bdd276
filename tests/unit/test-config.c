/* Unit tests for jitgated's settings: defaults, each key, the ini file with [role NAME] sections, validation. */
#include <errno.h>
#include <stdio.h>
#include <unistd.h>

#include "codec/codec-limits.h"
#include "daemon/config.h"
#include "testutil.h"

static struct config cfg;	/* large (paths, roles): not on the stack */
static struct core_error err;

static int
setup(void **state)
{
	config_defaults(&cfg);
	memset(&err, 0, sizeof(err));
	return 0;
}

/* Write text to a new temporary file; its path goes to path (PATH_MAX bytes). */
static void
write_file(char *path, const char *text)
{
	FILE *f;
	int fd;

	snprintf(path, PATH_MAX, "/tmp/test-config-XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

/* Load text as a config file into cfg; the return of config_load_file(). */
static int
load(const char *text)
{
	char path[PATH_MAX];
	int r;

	write_file(path, text);
	r = config_load_file(&cfg, path, &err);
	unlink(path);
	return r;
}

static void
test_defaults(void **state)
{
	size_t i;

	assert_string_equal(cfg.state_dir, "/var/lib/jitgate");
	assert_string_equal(cfg.listen, "127.0.0.1:8443");
	assert_string_equal(cfg.api.subscription, "00000000-0000-0000-0000-000000000000");
	assert_string_equal(cfg.resource_group, "default");
	assert_string_equal(cfg.api.location, "local");
	assert_string_equal(cfg.os_type, "Linux");
	assert_int_equal(cfg.api.max_duration_ms, 24LL * 3600 * 1000);
	assert_string_equal(cfg.tls_cert, "");
	assert_string_equal(cfg.tls_key, "");
	assert_string_equal(cfg.unix_socket, "");
	assert_string_equal(cfg.config_file, "");
	assert_int_equal(cfg.api.n_trusted_proxies, 0);
	assert_int_equal(cfg.api.n_custom_roles, 0);
	/* the VM name comes from the host name, made fit for ARM */
	assert_true(cfg.vm_name[0] != '\0');
	for (i = 0; cfg.vm_name[i]; i++)
		assert_non_null(strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_", cfg.vm_name[i]));
	/* and the defaults are a valid configuration */
	assert_int_equal(config_validate(&cfg, &err), 0);
}

static void
test_set_strings(void **state)
{
	static const struct {
		const char *key;
		const char *value;
		const char *field;
	} keys[] = {
		{ "state_dir", "/srv/jit", cfg.state_dir },
		{ "listen", "[::1]:9443", cfg.listen },
		{ "subscription", "11111111-2222-3333-4444-555555555555", cfg.api.subscription },
		{ "resource_group", "Prod-RG", cfg.resource_group },
		{ "location", "westeurope", cfg.api.location },
		{ "vm_name", "gw-1", cfg.vm_name },
		{ "tls_cert", "/etc/jit/cert.pem", cfg.tls_cert },
		{ "tls_key", "/etc/jit/key.pem", cfg.tls_key },
		{ "unix_socket", "/run/jitgate.sock", cfg.unix_socket },
		{ "config", "/etc/jitgate.conf", cfg.config_file },
	};
	size_t i;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		assert_int_equal(config_set(&cfg, keys[i].key, keys[i].value, &err), 0);
		assert_string_equal(keys[i].field, keys[i].value);
	}
	assert_int_equal(config_validate(&cfg, &err), 0);
	/* empty values are taken (validation judges them) */
	assert_int_equal(config_set(&cfg, "unix_socket", "", &err), 0);
	assert_string_equal(cfg.unix_socket, "");
}

/* Retention's keys: days beyond an ISO 8601 year, never, small durations; a bad value names its key and changes nothing. */
static void
test_set_retention(void **state)
{
	static const struct {
		const char *key, *value;
	} bad[] = {
		{ "retain_activity", "P0D" }, { "retain_activity", "P36526D" }, { "retain_activity", "P123456D" },
		{ "retain_activity", "PT0.5S" }, { "retain_activity", "forever" }, { "retain_requests", "400" },
		{ "retain_requests", "P4O0D" }, { "prune_batch", "0" }, { "prune_batch", "10001" },
		{ "prune_batch", "5x" }, { "prune_batch", "" }, { "prune_interval", "never" },
		{ "prune_interval", "PT0S" }, { "prune_interval", "P2D" }, { "audit_head_interval", "PT0.1S" },
		/* longer than a unix socket's path */
		{ "audit_syslog", "/run/a-very-long-directory-name-for-a-socket/that-goes-on-and-on/and-on-and-on/"
				  "beyond-108-bytes-which-is-what-sun-path-holds/dev-log" },
	};
	size_t i;

	(void)state;
	assert_int_equal(cfg.retention.activity_ms, 400 * 86400000LL);	/* the default: 400 days */
	assert_int_equal(cfg.retention.requests_ms, 400 * 86400000LL);
	assert_int_equal(cfg.retention.batch, 500);
	assert_string_equal(cfg.retention.export_path, "");
	assert_int_equal(config_set(&cfg, "retain_activity", "P36525D", &err), 0);
	assert_int_equal(cfg.retention.activity_ms, 36525 * 86400000LL);
	assert_int_equal(config_set(&cfg, "retain_requests", "PT2S", &err), 0);
	assert_int_equal(cfg.retention.requests_ms, 2000);
	assert_int_equal(config_set(&cfg, "retain_requests", "never", &err), 0);
	assert_int_equal(cfg.retention.requests_ms, 0);
	assert_int_equal(config_set(&cfg, "prune_batch", "10000", &err), 0);
	assert_int_equal(cfg.retention.batch, 10000);
	assert_int_equal(config_set(&cfg, "prune_interval", "PT5S", &err), 0);
	assert_int_equal(cfg.retention.interval_ms, 5000);
	assert_int_equal(config_set(&cfg, "audit_head_interval", "never", &err), 0);
	assert_int_equal(cfg.retention.head_interval_ms, 0);
	assert_int_equal(config_set(&cfg, "prune_export", "/var/lib/jitgate/pruned.jsonl", &err), 0);
	assert_string_equal(cfg.retention.export_path, "/var/lib/jitgate/pruned.jsonl");
	assert_int_equal(config_set(&cfg, "audit_syslog", "/dev/log", &err), 0);
	assert_string_equal(cfg.retention.syslog_path, "/dev/log");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct config_retention before = cfg.retention;

		memset(&err, 0, sizeof(err));
		assert_int_equal(config_set(&cfg, bad[i].key, bad[i].value, &err), -EINVAL);
		assert_string_equal(err.target, bad[i].key);
		assert_memory_equal(&before, &cfg.retention, sizeof(before));
	}
}

/* store: a PostgreSQL URI, or empty for SQLite in state_dir; anything else is refused without being repeated. */
static void
test_set_store(void **state)
{
	(void)state;
	assert_string_equal(cfg.store, "");
	assert_int_equal(config_set(&cfg, "store", "postgresql://db1,db2/jitgate?target_session_attrs=read-write",
				    &err), 0);
	assert_string_equal(cfg.store, "postgresql://db1,db2/jitgate?target_session_attrs=read-write");
	assert_int_equal(config_set(&cfg, "store", "postgres:///jitgate?host=/run/postgresql", &err), 0);
	assert_int_equal(config_set(&cfg, "store", "mysql://u:secret@db/jitgate", &err), -EINVAL);
	assert_string_equal(err.code, "InvalidConfig");
	assert_string_equal(err.target, "store");
	assert_null(strstr(err.message, "secret"));
	assert_string_equal(cfg.store, "postgres:///jitgate?host=/run/postgresql");	/* nothing half-applied */
	assert_int_equal(config_set(&cfg, "store", "", &err), 0);
	assert_string_equal(cfg.store, "");
}

/* store_read: a PostgreSQL URI of a standby, only beside a PostgreSQL store; a wrong one is named, never repeated. */
static void
test_store_read(void **state)
{
	(void)state;
	assert_string_equal(cfg.store_read, "");
	assert_int_equal(config_set(&cfg, "vm_name", "vm1", &err), 0);
	assert_int_equal(load("store_read = postgresql://db1,db2/jitgate?target_session_attrs=standby\n"), 0);
	assert_string_equal(cfg.store_read, "postgresql://db1,db2/jitgate?target_session_attrs=standby");
	assert_int_equal(config_validate(&cfg, &err), -EINVAL);	/* SQLite: nothing to read from a standby of */
	assert_error(&err, "InvalidConfig", "store_read");
	assert_non_null(strstr(err.message, "store = postgresql://"));
	assert_int_equal(config_set(&cfg, "store", "postgresql://db1,db2/jitgate?target_session_attrs=read-write", &err), 0);
	assert_int_equal(config_validate(&cfg, &err), 0);
	assert_int_equal(config_set(&cfg, "store_read", "mysql://u:secret@db/jitgate", &err), -EINVAL);
	assert_error(&err, "InvalidConfig", "store_read");
	assert_null(strstr(err.message, "secret"));
	assert_string_equal(cfg.store_read, "postgresql://db1,db2/jitgate?target_session_attrs=standby");	/* nothing half-applied */
	assert_int_equal(config_set(&cfg, "store_read", "", &err), 0);
	assert_string_equal(cfg.store_read, "");
	assert_string_equal(cfg.store, "postgresql://db1,db2/jitgate?target_session_attrs=read-write");
}

/* metrics_listen: empty by default; ADDRESS:PORT and never the API's own address (the API is never plain HTTP). */
static void
test_metrics_listen(void **state)
{
	(void)state;
	assert_string_equal(cfg.metrics_listen, "");
	assert_int_equal(config_set(&cfg, "metrics_listen", "127.0.0.1:9469", &err), 0);
	assert_int_equal(config_validate(&cfg, &err), 0);
	assert_int_equal(config_set(&cfg, "metrics_listen", "localhost", &err), 0);
	assert_int_equal(config_validate(&cfg, &err), -EINVAL);
	assert_error(&err, "InvalidConfig", "metrics_listen");
	assert_string_equal(err.message, "metrics_listen is ADDRESS:PORT, not 'localhost'");
	assert_int_equal(config_set(&cfg, "metrics_listen", cfg.listen, &err), 0);
	assert_int_equal(config_validate(&cfg, &err), -EINVAL);
	assert_error(&err, "InvalidConfig", "metrics_listen");
	assert_string_equal(err.message, "metrics_listen must differ from listen: the API is never served without TLS");
}

static void
test_set_too_long(void **state)
{
	char value[CONFIG_PATH_MAX + 2];

	memset(value, 'x', CONFIG_LISTEN_MAX - 1);
	value[CONFIG_LISTEN_MAX - 1] = '\0';
	assert_int_equal(config_set(&cfg, "listen", value, &err), 0);
	value[CONFIG_LISTEN_MAX - 1] = 'x';
	value[CONFIG_LISTEN_MAX] = '\0';
	assert_int_equal(config_set(&cfg, "listen", value, &err), -EINVAL);
	assert_error(&err, "InvalidConfig", "listen");
	assert_int_equal(strlen(cfg.listen), CONFIG_LISTEN_MAX - 1);	/* the old value stays */

	assert_int_equal(config_set(&cfg, "subscription", "11111111-2222-3333-4444-5555555555556", &err), -EINVAL);
	assert_error(&err, "InvalidConfig", "subscription");
	assert_string_equal(cfg.api.subscription, "00000000-0000-0000-0000-000000000000");

	memset(value, 'r', ARM_RESOURCE_GROUP_MAX + 1);
	value[ARM_RESOURCE_GROUP_MAX + 1] = '\0';
	assert_int_equal(config_set(&cfg, "resource_group", value, &err), -EINVAL);
	assert_error(&err, "InvalidConfig", "resource_group");
	memset(value, 'v', ARM_VM_NAME_MAX + 1);
	value[ARM_VM_NAME_MAX + 1] = '\0';
	assert_int_equal(config_set(&cfg, "vm_name", value, &err), -EINVAL);
	assert_error(&err, "InvalidConfig", "vm_name");
	memset(value, 'l', ARM_LOCATION_MAX + 1);
	value[ARM_LOCATION_MAX + 1] = '\0';
	assert_int_equal(config_set(&cfg, "location", value, &err), -EINVAL);
	assert_error(&err, "InvalidConfig", "location");

	memset(value, '/', CONFIG_PATH_MAX);
	value[CONFIG_PATH_MAX] = '\0';
	assert_int_equal(config_set(&cfg, "state_dir", value, &err), -EINVAL);
	assert_error(&err, "InvalidConfig", "state_dir");
	assert_int_equal(config_set(&cfg, "tls_key", value, &err), -EINVAL);
	assert_error(&err, "InvalidConfig", "tls_key");
	value[CONFIG_PATH_MAX - 1] = '\0';
	assert_int_equal(config_set(&cfg, "tls_key", value, &err), 0);
}

static void
test_set_os_type(void **state)
{
	assert_int_equal(config_set(&cfg, "os_type", "windows", &err), 0);
	assert_string_equal(cfg.os_type, "Windows");
	assert_int_equal(config_set(&cfg, "os_type", "LINUX", &err), 0);
	assert_string_equal(cfg.os_type, "Linux");
	assert_int_equal(config_set(&cfg, "os_type", "Windows", &err), 0);
	assert_string_equal(cfg.os_type, "Windows");
	assert_int_equal(config_set(&cfg, "os_type", "FreeBSD", &err), -EINVAL);
	assert_error(&err, "InvalidConfig", "os_type");
	assert_int_equal(config_set(&cfg, "os_type", "", &err), -EINVAL);
	assert_error(&err, "InvalidConfig", "os_type");
	assert_int_equal(config_set(&cfg, "os_type", "Linux ", &err), -EINVAL);
	assert_error(&err, "InvalidConfig", "os_type");
	assert_string_equal(cfg.os_type, "Windows");
}

static void
test_set_max_duration(void **state)
{
	assert_int_equal(config_set(&cfg, "max_duration", "PT5M", &err), 0);
	assert_int_equal(cfg.api.max_duration_ms, 5LL * 60 * 1000);
	assert_int_equal(config_set(&cfg, "max_duration", "P366D", &err), 0);
	assert_int_equal(cfg.api.max_duration_ms, 366LL * 24 * 3600 * 1000);
	assert_int_equal(config_set(&cfg, "max_duration", "PT3H", &err), 0);
	assert_int_equal(cfg.api.max_duration_ms, 3LL * 3600 * 1000);

	/* in form but out of bounds */
	assert_int_equal(config_set(&cfg, "max_duration", "PT4M59S", &err), -EINVAL);
	assert_error(&err, "InvalidConfig", "max_duration");
	assert_int_equal(config_set(&cfg, "max_duration", "PT1S", &err), -EINVAL);
	assert_error(&err, "InvalidConfig", "max_duration");
	/* beyond what a duration may say at all: the parser's code, our target */
	assert_int_equal(config_set(&cfg, "max_duration", "P367D", &err), -EINVAL);
	assert_error(&err, "InvalidDuration", "max_duration");
	assert_int_equal(config_set(&cfg, "max_duration", "3h", &err), -EINVAL);
	assert_error(&err, "InvalidDuration", "max_duration");
	assert_int_equal(config_set(&cfg, "max_duration", "", &err), -EINVAL);
	assert_error(&err, "InvalidDuration", "max_duration");
	assert_int_equal(cfg.api.max_duration_ms, 3LL * 3600 * 1000);	/* unchanged */
	/* no error record wanted: still a clean failure */
	assert_int_equal(config_set(&cfg, "max_duration", "nonsense", NULL), -EINVAL);
	assert_int_equal(config_set(&cfg, "max_duration", "PT1M", NULL), -EINVAL);
}

static void
test_set_agent_watch_wait(void **state)
{
	assert_int_equal(cfg.api.agent_watch_wait_ms, 0);	/* not set: AGENT_WATCH_WAIT_MS */
	assert_int_equal(config_set(&cfg, "agent_watch_wait", "PT3S", &err), 0);
	assert_int_equal(cfg.api.agent_watch_wait_ms, 3000);
	assert_int_equal(config_set(&cfg, "agent_watch_wait", "PT30S", &err), 0);
	assert_int_equal(cfg.api.agent_watch_wait_ms, AGENT_WATCH_WAIT_MS);
	assert_int_equal(config_set(&cfg, "agent_watch_wait", "PT0.5S", &err), -EINVAL);
	assert_error(&err, "InvalidConfig", "agent_watch_wait");
	assert_int_equal(config_set(&cfg, "agent_watch_wait", "PT31S", &err), -EINVAL);
	assert_error(&err, "InvalidConfig", "agent_watch_wait");
	assert_int_equal(config_set(&cfg, "agent_watch_wait", "30s", &err), -EINVAL);
	assert_error(&err, "InvalidDuration", "agent_watch_wait");
	assert_int_equal(cfg.api.agent_watch_wait_ms, AGENT_WATCH_WAIT_MS);	/* unchanged */
}

static void
test_set_trusted_proxies(void **state)
{
	char list[API_TRUSTED_PROXIES_MAX * 16 + 16];
	size_t i, o = 0;

	assert_int_equal(config_set(&cfg, "trusted_proxies", " 10.0.0.0/8, 192.168.1.1 ,,2001:db8::/32 127.0.0.1", &err), 0);
	assert_int_equal(cfg.api.n_trusted_proxies, 4);
	assert_int_equal(cfg.api.trusted_proxies[0].len, 8);
	assert_int_equal(cfg.api.trusted_proxies[1].len, 32);
	assert_int_equal(cfg.api.trusted_proxies[2].len, 32);
	assert_int_equal(cfg.api.trusted_proxies[3].len, 32);

	/* a bad prefix: the parser's code, our target; the list stays as it was */
	assert_int_equal(config_set(&cfg, "trusted_proxies", "10.1.0.0/16, 10.0.0.0/33", &err), -EINVAL);
	assert_error(&err, "InvalidPrefix", "trusted_proxies");
	assert_int_equal(cfg.api.n_trusted_proxies, 4);
	assert_int_equal(config_set(&cfg, "trusted_proxies", "proxy.example", &err), -EINVAL);
	assert_error(&err, "InvalidPrefix", "trusted_proxies");
	assert_int_equal(config_set(&cfg, "trusted_proxies", "10.0.0.1;10.0.0.2", NULL), -EINVAL);
	assert_int_equal(cfg.api.n_trusted_proxies, 4);

	/* exactly the limit, then one more */
	for (i = 0; i < API_TRUSTED_PROXIES_MAX; i++)
		o += (size_t)snprintf(list + o, sizeof(list) - o, "10.0.%zu.0/24,", i);
	assert_int_equal(config_set(&cfg, "trusted_proxies", list, &err), 0);
	assert_int_equal(cfg.api.n_trusted_proxies, API_TRUSTED_PROXIES_MAX);
	snprintf(list + o, sizeof(list) - o, "10.9.9.9");
	assert_int_equal(config_set(&cfg, "trusted_proxies", list, &err), -EINVAL);
	assert_error(&err, "InvalidConfig", "trusted_proxies");
	assert_int_equal(cfg.api.n_trusted_proxies, API_TRUSTED_PROXIES_MAX);

	/* a new value replaces the list; an empty one clears it */
	assert_int_equal(config_set(&cfg, "trusted_proxies", "::1", &err), 0);
	assert_int_equal(cfg.api.n_trusted_proxies, 1);
	assert_int_equal(cfg.api.trusted_proxies[0].len, 128);
	assert_int_equal(config_set(&cfg, "trusted_proxies", " , ", &err), 0);
	assert_int_equal(cfg.api.n_trusted_proxies, 0);
}

static void
test_set_unknown(void **state)
{
	assert_int_equal(config_set(&cfg, "listen_address", "x", &err), -EINVAL);
	assert_error(&err, "InvalidConfig", "listen_address");
	assert_int_equal(config_set(&cfg, "state-dir", "/x", &err), -EINVAL);	/* files use '_' */
	assert_error(&err, "InvalidConfig", "state-dir");
	assert_int_equal(config_set(&cfg, "LISTEN", "x:1", &err), -EINVAL);
	assert_error(&err, "InvalidConfig", "LISTEN");
	assert_int_equal(config_set(&cfg, "", "x", &err), -EINVAL);
	assert_error(&err, "InvalidConfig", "");
	assert_int_equal(config_set(&cfg, "bogus", "x", NULL), -EINVAL);
	assert_string_equal(cfg.listen, "127.0.0.1:8443");
}

static void
test_load_keys(void **state)
{
	assert_int_equal(load("; jitgated.conf\n"
			      "# comments of both kinds\n"
			      "state_dir = /srv/jit\n"
			      "listen=0.0.0.0:443\n"
			      "resource_group   =   Prod  \n"
			      "os_type = windows ; inline comment\n"
			      "max_duration = PT8H\n"
			      "trusted_proxies = 10.0.0.0/8, 192.168.0.0/16\n"
			      "\n"
			      "tls_cert = /etc/c.pem\n"
			      "tls_key: /etc/k.pem\n"), 0);
	assert_string_equal(cfg.state_dir, "/srv/jit");
	assert_string_equal(cfg.listen, "0.0.0.0:443");
	assert_string_equal(cfg.resource_group, "Prod");
	assert_string_equal(cfg.os_type, "Windows");
	assert_int_equal(cfg.api.max_duration_ms, 8LL * 3600 * 1000);
	assert_int_equal(cfg.api.n_trusted_proxies, 2);
	assert_string_equal(cfg.tls_cert, "/etc/c.pem");
	assert_string_equal(cfg.tls_key, "/etc/k.pem");
	assert_int_equal(cfg.api.n_custom_roles, 0);
	assert_int_equal(config_validate(&cfg, &err), 0);

	/* an empty file changes nothing */
	assert_int_equal(load(""), 0);
	assert_string_equal(cfg.listen, "0.0.0.0:443");
}

/* A long list of proxies spans continuation lines, which add to it rather than replace it. */
static void
test_load_proxies_continued(void **state)
{
	assert_int_equal(config_set(&cfg, "trusted_proxies", "172.16.0.0/12", &err), 0);
	assert_int_equal(load("trusted_proxies = 10.0.0.0/8,\n"
			      "    192.168.0.0/16\n"
			      "    ::1\n"
			      "listen = 127.0.0.1:1\n"), 0);
	assert_int_equal(cfg.api.n_trusted_proxies, 3);	/* the file's list replaced the earlier one */
	assert_int_equal(cfg.api.trusted_proxies[0].len, 8);
	assert_int_equal(cfg.api.trusted_proxies[1].len, 16);
	assert_int_equal(cfg.api.trusted_proxies[2].len, 128);
}

static void
test_load_roles(void **state)
{
	const struct rbac_role *r;

	assert_int_equal(load("listen = 127.0.0.1:9\n"
			      "[role Operators]\n"
			      "actions = Microsoft.Security/*, Microsoft.Compute/virtualMachines/read\n"
			      "not_actions = */delete\n"
			      "[role Auditor]\n"
			      "actions = */read\n"), 0);
	assert_string_equal(cfg.listen, "127.0.0.1:9");
	assert_int_equal(cfg.api.n_custom_roles, 2);
	r = &cfg.api.custom_roles[0];
	assert_string_equal(r->name, "Operators");
	assert_int_equal(r->n_actions, 2);
	assert_string_equal(r->actions[0], "Microsoft.Security/*");
	assert_string_equal(r->actions[1], "Microsoft.Compute/virtualMachines/read");
	assert_int_equal(r->n_not_actions, 1);
	assert_string_equal(r->not_actions[0], "*/delete");
	assert_true(rbac_role_allows(r, RBAC_POLICY_WRITE));
	assert_false(rbac_role_allows(r, RBAC_POLICY_DELETE));
	r = &cfg.api.custom_roles[1];
	assert_string_equal(r->name, "Auditor");
	assert_int_equal(r->n_actions, 1);
	assert_int_equal(r->n_not_actions, 0);
}

/* ini lines are short (200 bytes): a role's actions span continuation lines and repeated keys, all kept. */
static void
test_load_role_continued(void **state)
{
	const struct rbac_role *r;

	assert_int_equal(load("[role Ops]\n"
			      "actions = Microsoft.Security/locations/jitNetworkAccessPolicies/read,\n"
			      "    Microsoft.Security/locations/jitNetworkAccessPolicies/initiate/action,\n"
			      "    Microsoft.Compute/virtualMachines/read\n"
			      "actions = Microsoft.Insights/eventtypes/values/read\n"
			      "not_actions = Jitgate/*\n"
			      "  */delete\n"), 0);
	assert_int_equal(cfg.api.n_custom_roles, 1);
	r = &cfg.api.custom_roles[0];
	assert_int_equal(r->n_actions, 4);
	assert_string_equal(r->actions[0], RBAC_POLICY_READ);
	assert_string_equal(r->actions[1], RBAC_POLICY_INITIATE);
	assert_string_equal(r->actions[2], RBAC_VM_READ);
	assert_string_equal(r->actions[3], RBAC_ACTIVITY_READ);
	assert_int_equal(r->n_not_actions, 2);
	assert_string_equal(r->not_actions[1], "*/delete");
}

static void
test_load_role_errors(void **state)
{
	char text[64 * 40];
	size_t i, o = 0;

	assert_int_equal(load("[role Ops]\nactions = */read\npermissions = *\n"), -EINVAL);
	assert_error(&err, "InvalidConfig", "permissions");
	assert_int_equal(load("[role Ops]\nnot_actions = */delete\n"), -EINVAL);
	assert_error(&err, "InvalidAction", "actions");
	assert_int_equal(load("[role Ops]\nactions = */read, bad action\n"), -EINVAL);
	assert_error(&err, "InvalidAction", "actions");
	assert_int_equal(load("[role Ops]\nactions = *\nnot_actions = a;b\n"), -EINVAL);
	assert_error(&err, "InvalidAction", "not_actions");
	/* an action jitgate does not have is refused at load, naming it (a misspelt notAction would grant more) */
	assert_int_equal(load("[role Ops]\nactions = Microsoft.Security/locations/jitNetworkAccessPolicy/read\n"), -EINVAL);
	assert_error(&err, "UnknownAction", "actions");
	assert_non_null(strstr(err.message, "action 'Microsoft.Security/locations"));
	assert_int_equal(load("[role Ops]\nactions = *\nnot_actions = Jitgate/token/write\n"), -EINVAL);
	assert_error(&err, "UnknownAction", "not_actions");
	assert_int_equal(load("[role Owner]\nactions = *\n"), -EINVAL);
	assert_error(&err, "InvalidRoleName", "role");
	assert_int_equal(load("[role reader]\nactions = *\n"), -EINVAL);
	assert_error(&err, "InvalidRoleName", "role");
	assert_int_equal(load("[role Ops.Team]\nactions = *\n"), -EINVAL);
	assert_error(&err, "InvalidRoleName", "role");
	/* an empty name is refused, not dropped */
	assert_int_equal(load("[role ]\nactions = *\n"), -EINVAL);
	assert_error(&err, "InvalidRoleName", "role");
	/*
	 * A long name is refused, not cut to a shorter one: libinih cuts section names
	 * at 49 bytes, so a file's role names stop at 43 characters.
	 */
	assert_int_equal(load("[role AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB]\nactions = *\n"
			      "not_actions = */delete\n"), -EINVAL);
	assert_error(&err, "InvalidRoleName", "role");
	assert_int_equal(load("[role A2345678901234567890123456789012345678901234]\nactions = *\n"), -EINVAL);
	assert_error(&err, "InvalidRoleName", "role");
	config_defaults(&cfg);
	assert_int_equal(load("[role A234567890123456789012345678901234567890123]\nactions = *\n"), 0);
	assert_string_equal(cfg.api.custom_roles[0].name, "A234567890123456789012345678901234567890123");
	config_defaults(&cfg);
	/* a role defined twice, in any case */
	assert_int_equal(load("[role Ops]\nactions = *\n[role Audit]\nactions = */read\n[role OPS]\nactions = */read\n"),
			 -EINVAL);
	assert_error(&err, "InvalidConfig", "role");
	config_defaults(&cfg);
	assert_int_equal(load("[role Ops]\nactions = *\n[role Audit]\nactions = */read\n[role Ops]\nnot_actions = x\n"),
			 -EINVAL);
	assert_error(&err, "InvalidConfig", "role");

	/* RBAC_CUSTOM_ROLES_MAX roles, then one more */
	for (i = 0; i < RBAC_CUSTOM_ROLES_MAX; i++)
		o += (size_t)snprintf(text + o, sizeof(text) - o, "[role R%zu]\nactions = */read\n", i);
	config_defaults(&cfg);
	assert_int_equal(load(text), 0);
	assert_int_equal(cfg.api.n_custom_roles, RBAC_CUSTOM_ROLES_MAX);
	snprintf(text + o, sizeof(text) - o, "[role Extra]\nactions = */read\n");
	config_defaults(&cfg);
	assert_int_equal(load(text), -EINVAL);
	assert_error(&err, "InvalidConfig", "role");
}

static void
test_load_errors(void **state)
{
	char path[PATH_MAX];

	/* a bad value names its key */
	assert_int_equal(load("listen = 127.0.0.1:1\nos_type = Plan9\n"), -EINVAL);
	assert_error(&err, "InvalidConfig", "os_type");
	assert_int_equal(load("max_duration = P2Y\n"), -EINVAL);
	assert_error(&err, "InvalidDuration", "max_duration");
	assert_int_equal(load("statedir = /x\n"), -EINVAL);
	assert_error(&err, "InvalidConfig", "statedir");
	/* an unknown section names itself */
	assert_int_equal(load("[server]\nlisten = 127.0.0.1:1\n"), -EINVAL);
	assert_error(&err, "InvalidConfig", "server");
	assert_int_equal(load("[Role Ops]\nactions = *\n"), -EINVAL);
	assert_error(&err, "InvalidConfig", "Role Ops");

	/* a line that is not key = value: the file and the line number */
	write_file(path, "listen = 127.0.0.1:1\n# fine\nthis is not a setting\nstate_dir = /x\n");
	assert_int_equal(config_load_file(&cfg, path, &err), -EINVAL);
	assert_error(&err, "InvalidConfig", path);
	assert_non_null(strstr(err.message, "line 3"));
	assert_non_null(strstr(err.message, path));
	unlink(path);

	/* a file that is not there */
	assert_true(config_load_file(&cfg, "/nonexistent/jitgate.conf", &err) < 0);
	assert_error(&err, "InvalidConfig", "/nonexistent/jitgate.conf");
	assert_non_null(strstr(err.message, "/nonexistent/jitgate.conf"));
	assert_true(config_load_file(&cfg, "/nonexistent/jitgate.conf", NULL) < 0);
	/* a directory is not an empty config */
	assert_true(config_load_file(&cfg, "/tmp", &err) < 0);
	assert_error(&err, "InvalidConfig", "/tmp");
}

/* single_process: yes/no words; it and a user contradict each other. */
static void
test_single_process(void **state)
{
	assert_false(cfg.single_process);
	assert_int_equal(config_set(&cfg, "vm_name", "vm1", &err), 0);
	assert_int_equal(config_set(&cfg, "single_process", "yes", &err), 0);
	assert_true(cfg.single_process);
	assert_int_equal(config_validate(&cfg, &err), 0);
	assert_int_equal(config_set(&cfg, "single_process", "no", &err), 0);
	assert_false(cfg.single_process);
	assert_int_equal(config_set(&cfg, "single_process", "maybe", &err), -EINVAL);
	assert_error(&err, "InvalidConfig", "single_process");
	assert_false(cfg.single_process);
	assert_int_equal(load("single_process = true\nuser = jitgate\n"), 0);
	assert_true(cfg.single_process);
	assert_int_equal(config_validate(&cfg, &err), -EINVAL);
	assert_error(&err, "InvalidConfig", "single_process");
}

/* single_replica: yes/no words; only with a PostgreSQL store (SQLite has one jitgated anyway). */
static void
test_single_replica(void **state)
{
	assert_false(cfg.single_replica);
	assert_int_equal(config_set(&cfg, "vm_name", "vm1", &err), 0);
	assert_int_equal(config_set(&cfg, "single_replica", "maybe", &err), -EINVAL);
	assert_error(&err, "InvalidConfig", "single_replica");
	assert_string_equal(err.message, "single_replica is yes or no, not 'maybe'");
	assert_false(cfg.single_replica);
	assert_int_equal(config_set(&cfg, "single_replica", "yes", &err), 0);
	assert_true(cfg.single_replica);
	assert_int_equal(config_validate(&cfg, &err), -EINVAL);
	assert_error(&err, "InvalidConfig", "single_replica");
	assert_int_equal(config_set(&cfg, "store", "postgresql:///jitgate", &err), 0);
	assert_int_equal(config_validate(&cfg, &err), 0);
	assert_int_equal(load("single_replica = no\n"), 0);
	assert_false(cfg.single_replica);
}

static void
test_validate(void **state)
{
	struct config good;

	assert_int_equal(config_set(&cfg, "vm_name", "vm1", &err), 0);
	assert_int_equal(config_validate(&cfg, &err), 0);
	good = cfg;

	assert_int_equal(config_set(&cfg, "subscription", "not-a-guid", &err), 0);
	assert_int_equal(config_validate(&cfg, &err), -EINVAL);
	assert_error(&err, "InvalidSubscriptionId", "subscription");
	cfg = good;
	assert_int_equal(config_set(&cfg, "subscription", "0000000000000000000000000000000000000", &err), -EINVAL);
	cfg = good;
	assert_int_equal(config_set(&cfg, "subscription", "g0000000-0000-0000-0000-000000000000", &err), 0);
	assert_int_equal(config_validate(&cfg, &err), -EINVAL);
	assert_error(&err, "InvalidSubscriptionId", "subscription");

	cfg = good;
	assert_int_equal(config_set(&cfg, "resource_group", "rg.", &err), 0);
	assert_int_equal(config_validate(&cfg, &err), -EINVAL);
	assert_error(&err, "InvalidResourceGroupName", "resource_group");
	cfg = good;
	assert_int_equal(config_set(&cfg, "resource_group", "", &err), 0);
	assert_int_equal(config_validate(&cfg, &err), -EINVAL);
	assert_error(&err, "InvalidResourceGroupName", "resource_group");
	cfg = good;
	assert_int_equal(config_set(&cfg, "resource_group", "my rg", &err), 0);
	assert_int_equal(config_validate(&cfg, &err), -EINVAL);
	assert_error(&err, "InvalidResourceGroupName", "resource_group");

	cfg = good;
	assert_int_equal(config_set(&cfg, "location", "west europe", &err), 0);
	assert_int_equal(config_validate(&cfg, &err), -EINVAL);
	assert_error(&err, "InvalidLocation", "location");

	cfg = good;
	assert_int_equal(config_set(&cfg, "vm_name", "-vm", &err), 0);
	assert_int_equal(config_validate(&cfg, &err), -EINVAL);
	assert_error(&err, "InvalidVirtualMachineName", "vm_name");
	cfg = good;
	assert_int_equal(config_set(&cfg, "vm_name", "vm-", &err), 0);
	assert_int_equal(config_validate(&cfg, &err), -EINVAL);
	assert_error(&err, "InvalidVirtualMachineName", "vm_name");
	cfg = good;
	assert_int_equal(config_set(&cfg, "vm_name", "", &err), 0);
	assert_int_equal(config_validate(&cfg, &err), -EINVAL);
	assert_error(&err, "InvalidVirtualMachineName", "vm_name");

	cfg = good;
	assert_int_equal(config_set(&cfg, "state_dir", "", &err), 0);
	assert_int_equal(config_validate(&cfg, &err), -EINVAL);
	assert_error(&err, "InvalidConfig", "state_dir");

	cfg = good;
	assert_int_equal(config_set(&cfg, "listen", "8443", &err), 0);
	assert_int_equal(config_validate(&cfg, &err), -EINVAL);
	assert_error(&err, "InvalidConfig", "listen");
	cfg = good;
	assert_int_equal(config_set(&cfg, "listen", "[::]:8443", &err), 0);
	assert_int_equal(config_validate(&cfg, &err), 0);

	cfg = good;
	assert_int_equal(config_set(&cfg, "tls_cert", "/etc/c.pem", &err), 0);
	assert_int_equal(config_validate(&cfg, &err), -EINVAL);
	assert_error(&err, "InvalidConfig", "tls_key");
	cfg = good;
	assert_int_equal(config_set(&cfg, "tls_key", "/etc/k.pem", &err), 0);
	assert_int_equal(config_validate(&cfg, &err), -EINVAL);
	assert_error(&err, "InvalidConfig", "tls_cert");
	assert_int_equal(config_set(&cfg, "tls_cert", "/etc/c.pem", &err), 0);
	assert_int_equal(config_validate(&cfg, &err), 0);
	/* no error record wanted */
	assert_int_equal(config_set(&cfg, "vm_name", "-", &err), 0);
	assert_int_equal(config_validate(&cfg, NULL), -EINVAL);
}

/* [sso]: a provider with maps to a built-in and a custom role; a map naming no role, or no map, is refused. */
static void
test_load_sso(void **state)
{
	(void)state;
	assert_int_equal(load("[role Viewer]\n"
			      "actions = */read\n"
			      "[sso]\n"
			      "name = Keycloak\n"
			      "issuer = https://kc.example.com/realms/corp\n"
			      "client_id = jitgate\n"
			      "client_secret = s3cret\n"
			      "redirect_url = https://jg.example.com/oidc/callback\n"
			      "map = group:admins SecurityAdmin /\n"
			      "map = domain:example.com Viewer /subscriptions/x\n"), 0);
	assert_string_equal(cfg.api.oidc.issuer, "https://kc.example.com/realms/corp");
	assert_int_equal(cfg.api.oidc.n_maps, 2);
	assert_string_equal(cfg.api.oidc.maps[1].role, "Viewer");
	assert_string_equal(cfg.api.oidc.person_claim, "email");
	config_defaults(&cfg);
	assert_int_equal(load("[sso]\n"
			      "issuer = https://kc.example.com\n"
			      "client_id = jitgate\n"
			      "redirect_url = https://jg.example.com/oidc/callback\n"
			      "map = group:admins NoSuchRole /\n"), -EINVAL);
	assert_string_equal(err.target, "map");
	config_defaults(&cfg);
	assert_int_equal(load("[sso]\n"
			      "issuer = http://kc.example.com\n"
			      "client_id = jitgate\n"), -EINVAL);
	assert_string_equal(err.target, "issuer");
	config_defaults(&cfg);
	assert_int_equal(load("[sso]\nsecret = x\n"), -EINVAL);
	assert_string_equal(err.target, "secret");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_defaults, setup),
		cmocka_unit_test_setup(test_metrics_listen, setup),
		cmocka_unit_test_setup(test_set_store, setup),
		cmocka_unit_test_setup(test_store_read, setup),
		cmocka_unit_test_setup(test_set_strings, setup),
		cmocka_unit_test_setup(test_set_too_long, setup),
		cmocka_unit_test_setup(test_set_os_type, setup),
		cmocka_unit_test_setup(test_set_max_duration, setup),
		cmocka_unit_test_setup(test_set_agent_watch_wait, setup),
		cmocka_unit_test_setup(test_set_trusted_proxies, setup),
		cmocka_unit_test_setup(test_set_unknown, setup),
		cmocka_unit_test_setup(test_set_retention, setup),
		cmocka_unit_test_setup(test_load_keys, setup),
		cmocka_unit_test_setup(test_load_proxies_continued, setup),
		cmocka_unit_test_setup(test_load_roles, setup),
		cmocka_unit_test_setup(test_load_role_continued, setup),
		cmocka_unit_test_setup(test_load_role_errors, setup),
		cmocka_unit_test_setup(test_load_sso, setup),
		cmocka_unit_test_setup(test_load_errors, setup),
		cmocka_unit_test_setup(test_validate, setup),
		cmocka_unit_test_setup(test_single_process, setup),
		cmocka_unit_test_setup(test_single_replica, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
