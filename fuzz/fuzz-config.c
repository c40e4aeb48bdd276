/* Fuzz target for jitgated's config file: the buffer and the file parse alike, and what loads is well formed. */
#include <errno.h>
#include <strings.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/rbac.h"
#include "core/webhook.h"
#include "daemon/config.h"
#include "fuzz-common.h"

#define ROLE_NAME_FILE_MAX	43	/* config.c's CONFIG_FILE_ROLE_NAME_MAX: libinih's 50-byte section less "role " */

static bool
is_printable(const char *s, size_t size)
{
	size_t i, n = strnlen(s, size);

	if (n == size)
		return false;
	for (i = 0; i < n; i++)
		if (s[i] < 0x20 || s[i] >= 0x7f)
			return false;
	return true;
}

/* Every string field ends inside its array. */
static void
check_terminated(const struct config *cfg)
{
	fuzz_check(strnlen(cfg->state_dir, sizeof(cfg->state_dir)) < sizeof(cfg->state_dir));
	fuzz_check(strnlen(cfg->listen, sizeof(cfg->listen)) < sizeof(cfg->listen));
	fuzz_check(strnlen(cfg->resource_group, sizeof(cfg->resource_group)) < sizeof(cfg->resource_group));
	fuzz_check(strnlen(cfg->vm_name, sizeof(cfg->vm_name)) < sizeof(cfg->vm_name));
	fuzz_check(strnlen(cfg->tls_cert, sizeof(cfg->tls_cert)) < sizeof(cfg->tls_cert));
	fuzz_check(strnlen(cfg->tls_key, sizeof(cfg->tls_key)) < sizeof(cfg->tls_key));
	fuzz_check(strnlen(cfg->unix_socket, sizeof(cfg->unix_socket)) < sizeof(cfg->unix_socket));
	fuzz_check(strnlen(cfg->config_file, sizeof(cfg->config_file)) < sizeof(cfg->config_file));
	fuzz_check(strnlen(cfg->api.subscription, sizeof(cfg->api.subscription)) < sizeof(cfg->api.subscription));
	fuzz_check(strnlen(cfg->api.location, sizeof(cfg->api.location)) < sizeof(cfg->api.location));
}

static void
check_role(const struct config *cfg, size_t k)
{
	const struct rbac_role *r = &cfg->api.custom_roles[k];
	size_t i, n = strnlen(r->name, sizeof(r->name));

	fuzz_check(n >= 1 && n <= ROLE_NAME_FILE_MAX);
	fuzz_check(strspn(r->name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") == n);
	fuzz_check(rbac_role_builtin(r->name) == NULL);
	for (i = 0; i < k; i++)
		fuzz_check(strcasecmp(cfg->api.custom_roles[i].name, r->name) != 0);
	fuzz_check(r->n_actions >= 1 && r->n_actions <= RBAC_ACTIONS_MAX && r->n_not_actions <= RBAC_ACTIONS_MAX);
	for (i = 0; i < r->n_actions + r->n_not_actions; i++) {
		const char *a = i < r->n_actions ? r->actions[i] : r->not_actions[i - r->n_actions];
		size_t len = strnlen(a, RBAC_ACTION_MAX + 1);

		fuzz_check(len >= 1 && len <= RBAC_ACTION_MAX);
		fuzz_check(strspn(a, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789*/._-") == len);
		/* a role's own actions pass its own check, unless a notAction takes them away */
		(void)rbac_role_allows(r, a);
	}
}

/* A webhook as loaded: a valid name, once; its strings end in their arrays; a url is http(s) without blanks. */
static void
check_webhook(const struct config *cfg, size_t k)
{
	const struct webhook_hook *h = &cfg->webhooks.hooks[k];
	size_t i;

	fuzz_check(webhook_name_is_valid(h->name));
	for (i = 0; i < k; i++)
		fuzz_check(strcmp(cfg->webhooks.hooks[i].name, h->name) != 0);
	fuzz_check(strnlen(h->url, sizeof(h->url)) < sizeof(h->url));
	fuzz_check(strnlen(h->secret, sizeof(h->secret)) < sizeof(h->secret));
	fuzz_check(strnlen(h->ca_file, sizeof(h->ca_file)) < sizeof(h->ca_file));
	fuzz_check((h->events & ~(uint32_t)WEBHOOK_EVENTS_ALL) == 0);
	if (h->url[0]) {
		fuzz_check(!strncasecmp(h->url, "http://", 7) || !strncasecmp(h->url, "https://", 8));
		fuzz_check(is_printable(h->url, sizeof(h->url)) && !strchr(h->url, ' '));
	}
	fuzz_check(!h->secret[0] || (strlen(h->secret) >= WEBHOOK_SECRET_MIN && strlen(h->secret) <= WEBHOOK_SECRET_MAX));
}

static void
check_loaded(const struct config *cfg)
{
	struct core_error err;
	size_t i;

	check_terminated(cfg);
	fuzz_check(!strcmp(cfg->os_type, "Linux") || !strcmp(cfg->os_type, "Windows"));
	fuzz_check(cfg->reconcile_interval_s >= CONFIG_RECONCILE_MIN_S && cfg->reconcile_interval_s <= CONFIG_RECONCILE_MAX_S);
	fuzz_check(cfg->api.max_duration_ms >= POLICY_DURATION_MIN_MS && cfg->api.max_duration_ms <= FW_TIMEOUT_MAX_MS);
	fuzz_check(cfg->api.n_trusted_proxies <= API_TRUSTED_PROXIES_MAX);
	for (i = 0; i < cfg->api.n_trusted_proxies; i++)
		fuzz_check(net_prefix_is_valid(&cfg->api.trusted_proxies[i]));
	fuzz_check(cfg->api.n_custom_roles <= RBAC_CUSTOM_ROLES_MAX);
	for (i = 0; i < cfg->api.n_custom_roles; i++)
		check_role(cfg, i);
	fuzz_check(cfg->webhooks.n <= WEBHOOK_HOOKS_MAX);
	for (i = 0; i < cfg->webhooks.n; i++)
		check_webhook(cfg, i);
	memset(&err, 0, sizeof(err));
	if (config_validate(cfg, &err) < 0) {
		fuzz_check(err.code[0] != '\0');
		fuzz_check(is_printable(err.message, sizeof(err.message)));
	}
}

/* Field by field: a prefix's padding is not part of it. */
static bool
config_equal(const struct config *a, const struct config *b)
{
	size_t i, j;

	if (strcmp(a->state_dir, b->state_dir) || strcmp(a->listen, b->listen) ||
	    strcmp(a->resource_group, b->resource_group) || strcmp(a->vm_name, b->vm_name) ||
	    strcmp(a->os_type, b->os_type) || strcmp(a->tls_cert, b->tls_cert) || strcmp(a->tls_key, b->tls_key) ||
	    strcmp(a->unix_socket, b->unix_socket) || strcmp(a->config_file, b->config_file) ||
	    a->reconcile_interval_s != b->reconcile_interval_s || strcmp(a->api.subscription, b->api.subscription) ||
	    strcmp(a->api.location, b->api.location) || a->api.max_duration_ms != b->api.max_duration_ms ||
	    a->api.n_trusted_proxies != b->api.n_trusted_proxies || a->api.n_custom_roles != b->api.n_custom_roles ||
	    a->webhooks.n != b->webhooks.n || a->webhooks.backoff_max_ms != b->webhooks.backoff_max_ms)
		return false;
	for (i = 0; i < a->webhooks.n; i++) {
		const struct webhook_hook *ha = &a->webhooks.hooks[i], *hb = &b->webhooks.hooks[i];

		if (strcmp(ha->name, hb->name) || strcmp(ha->url, hb->url) || strcmp(ha->secret, hb->secret) ||
		    strcmp(ha->ca_file, hb->ca_file) || ha->events != hb->events || ha->format != hb->format)
			return false;
	}
	for (i = 0; i < a->api.n_trusted_proxies; i++)
		if (!net_prefix_equal(&a->api.trusted_proxies[i], &b->api.trusted_proxies[i]))
			return false;
	for (i = 0; i < a->api.n_custom_roles; i++) {
		const struct rbac_role *ra = &a->api.custom_roles[i], *rb = &b->api.custom_roles[i];

		if (strcmp(ra->name, rb->name) || ra->n_actions != rb->n_actions || ra->n_not_actions != rb->n_not_actions)
			return false;
		for (j = 0; j < ra->n_actions; j++)
			if (strcmp(ra->actions[j], rb->actions[j]))
				return false;
		for (j = 0; j < ra->n_not_actions; j++)
			if (strcmp(ra->not_actions[j], rb->not_actions[j]))
				return false;
	}
	return true;
}

/* The same bytes through config_load_file, from a memfd: the outcome must be the buffer's. */
static int
load_as_file(const uint8_t *data, size_t size, struct config *cfg, struct core_error *err)
{
	static int fd = -1;
	char path[64];

	if (fd < 0)
		fuzz_check((fd = memfd_create("fuzz-config", MFD_CLOEXEC)) >= 0);
	fuzz_check(ftruncate(fd, 0) == 0);
	fuzz_check(pwrite(fd, data, size, 0) == (ssize_t)size);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	return config_load_file(cfg, path, err);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct config cfg, again;
	struct core_error err, err2;
	char *text = fuzz_copy(data, size);
	int r, r2;

	config_defaults(&cfg);
	memset(&err, 0, sizeof(err));
	r = config_load_buffer(&cfg, text, size, &err);
	free(text);
	if (r < 0) {
		fuzz_check(r == -EINVAL);
		fuzz_check(err.code[0] != '\0');
		fuzz_check(is_printable(err.message, sizeof(err.message)));
		fuzz_check(is_printable(err.target, sizeof(err.target)));
	}
	check_loaded(&cfg);

	config_defaults(&again);
	memset(&err2, 0, sizeof(err2));
	r2 = load_as_file(data, size, &again, &err2);
	fuzz_check(r == r2 && config_equal(&cfg, &again));
	if (r < 0)
		fuzz_check(!strcmp(err.code, err2.code));
	return 0;
}
