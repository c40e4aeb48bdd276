/* The client's settings: the config file (~/.config/jitgate/config) that jitgate login writes, and flags > environment > config file > socket. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client/client.h"
#include "client/client-internal.h"

/* The client prints nothing (fopen/fgets read the file): what goes wrong travels back in a struct client_error. */
#pragma GCC poison printf vprintf fprintf vfprintf dprintf puts fputs putchar fputc putc fwrite json_dumpf json_dumpfd perror

int
client_config_dir(char *buf, size_t size)
{
	const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
	int n;

	if (xdg && xdg[0] == '/')
		n = snprintf(buf, size, "%s/jitgate", xdg);
	else if (home && home[0])
		n = snprintf(buf, size, "%s/.config/jitgate", home);
	else
		return -ENOENT;
	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

static int
config_path(char *buf, size_t size)
{
	char dir[CLIENT_PATH_MAX];
	int n, r;

	if ((r = client_config_dir(dir, sizeof(dir))) < 0)
		return r;
	n = snprintf(buf, size, "%s/config", dir);
	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

/* Trim spaces and tabs around s[0..*n); returns the new start. */
static const char *
trim(const char *s, size_t *n)
{
	while (*n && (*s == ' ' || *s == '\t'))
		s++, (*n)--;
	while (*n && (s[*n - 1] == ' ' || s[*n - 1] == '\t' || s[*n - 1] == '\r'))
		(*n)--;
	return s;
}

static bool
key_is(const char *k, size_t n, const char *name)
{
	return strlen(name) == n && !memcmp(k, name, n);
}

/* One line "key = value" (pointer, length, no NUL needed); comments and blank lines are skipped. */
static int
config_line(struct client_error *err, const char *path, unsigned lineno, const char *s, size_t n, struct client_config *cfg)
{
	const char *eq, *k, *v;
	size_t kn, vn;
	char *dst;
	size_t size;

	s = trim(s, &n);
	if (n == 0 || s[0] == '#' || s[0] == ';')
		return 0;
	eq = memchr(s, '=', n);
	if (!eq)
		return client_fail(err, CLIENT_ERR_USAGE, "%s:%u: expected 'key = value'", path, lineno);
	kn = (size_t)(eq - s);
	k = trim(s, &kn);
	vn = n - (size_t)(eq - s) - 1;
	v = trim(eq + 1, &vn);
	if (key_is(k, kn, "server"))
		dst = cfg->server, size = sizeof(cfg->server);
	else if (key_is(k, kn, "token"))
		dst = cfg->token, size = sizeof(cfg->token);
	else if (key_is(k, kn, "ca"))
		dst = cfg->ca, size = sizeof(cfg->ca);
	else if (key_is(k, kn, "subscription"))
		dst = cfg->subscription, size = sizeof(cfg->subscription);
	else
		return client_fail(err, CLIENT_ERR_USAGE, "%s:%u: unknown key '%.*s' (server, token, ca, subscription)", path,
				lineno, (int)(kn > 40 ? 40 : kn), k);
	if (vn >= size)
		return client_fail(err, CLIENT_ERR_USAGE, "%s:%u: the value of '%.*s' is too long", path, lineno, (int)kn, k);
	memcpy(dst, v, vn);
	dst[vn] = '\0';
	return 0;
}

int
client_config_read(struct client *c, struct client_config *ret, struct client_error *err)
{
	char path[CLIENT_PATH_MAX], line[CLIENT_CONFIG_LINE_MAX + 2], iobuf[BUFSIZ];
	struct client_config cfg;
	unsigned lineno = 0;
	FILE *f;
	int r = 0;

	memset(&cfg, 0, sizeof(cfg));
	if ((r = config_path(path, sizeof(path))) < 0)
		return -ENOENT;
	f = fopen(path, "re");
	if (!f)
		return errno == ENOENT ? -ENOENT : client_fail(err, CLIENT_ERR_USAGE, "cannot read %s: %s", path, strerror(errno));
	/* our own stdio buffer, so that the token it held can be wiped */
	setvbuf(f, iobuf, _IOFBF, sizeof(iobuf));
	{
		struct stat st;

		if (fstat(fileno(f), &st) == 0 && (st.st_mode & 077))
			client_warning(c, "warning: %s holds a token and is readable by others (chmod 600 it)", path);
	}
	while (fgets(line, sizeof(line), f)) {
		size_t n = strlen(line);

		lineno++;
		if (n && line[n - 1] == '\n')
			n--;
		else if (!feof(f)) {
			r = client_fail(err, CLIENT_ERR_USAGE, "%s:%u: the line is longer than %d bytes", path, lineno,
				     CLIENT_CONFIG_LINE_MAX);
			break;
		}
		if ((r = config_line(err, path, lineno, line, n, &cfg)) < 0)
			break;
	}
	explicit_bzero(line, sizeof(line));
	fclose(f);
	explicit_bzero(iobuf, sizeof(iobuf));
	if (r == 0)
		*ret = cfg;
	client_config_clear(&cfg);
	return r;
}

/* All of s[0..n) to fd. */
static int
write_all(int fd, const char *s, size_t n)
{
	while (n) {
		ssize_t w = write(fd, s, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -errno ?: -EIO;
		s += w;
		n -= (size_t)w;
	}
	return 0;
}

int
client_config_make_dir(const char *dir, struct client_error *err)
{
	char parent[CLIENT_PATH_MAX], *slash;

	snprintf(parent, sizeof(parent), "%s", dir);
	slash = strrchr(parent, '/');
	if (slash && slash != parent) {
		*slash = '\0';
		if (mkdir(parent, 0700) < 0 && errno != EEXIST)
			return client_fail(err, CLIENT_ERR_USAGE, "cannot create %s: %s", parent, strerror(errno));
	}
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return client_fail(err, CLIENT_ERR_USAGE, "cannot create %s: %s", dir, strerror(errno));
	return 0;
}

int
client_config_write(const struct client_config *cfg, struct client_error *err)
{
	char dir[CLIENT_PATH_MAX], path[CLIENT_PATH_MAX + 16], tmp[CLIENT_PATH_MAX + 16];
	char text[CLIENT_URL_MAX + CLIENT_TOKEN_MAX + CLIENT_PATH_MAX + ARM_SUBSCRIPTION_MAX + 256];
	int fd = -1, n, r;

	if ((r = client_config_dir(dir, sizeof(dir))) < 0)
		return client_fail(err, CLIENT_ERR_USAGE, "no HOME or XDG_CONFIG_HOME to put the config in");
	if ((r = client_config_make_dir(dir, err)) < 0)
		return r;
	snprintf(path, sizeof(path), "%s/config", dir);
	snprintf(tmp, sizeof(tmp), "%s/.config.tmp", dir);
	/* every field is bounded, so the file fits on the stack, where it is wiped after */
	n = snprintf(text, sizeof(text),
		     "# jitgate client config, written by jitgate login (keep it private: it holds a token)\n"
		     "server = %s\n%s%s%s%s%s%s%s%s%s",
		     cfg->server, cfg->token[0] ? "token = " : "", cfg->token, cfg->token[0] ? "\n" : "",
		     cfg->ca[0] ? "ca = " : "", cfg->ca, cfg->ca[0] ? "\n" : "", cfg->subscription[0] ? "subscription = " : "",
		     cfg->subscription, cfg->subscription[0] ? "\n" : "");
	if (n < 0 || (size_t)n >= sizeof(text)) {
		r = client_fail(err, CLIENT_ERR_USAGE, "the config is too long");
		goto out;
	}
	unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 || write_all(fd, text, (size_t)n) < 0 || fsync(fd) < 0) {
		r = client_fail(err, CLIENT_ERR_USAGE, "cannot write %s: %s", tmp, strerror(errno));
		goto out;
	}
	if (close(fd) < 0) {
		fd = -1;
		r = client_fail(err, CLIENT_ERR_USAGE, "cannot write %s: %s", tmp, strerror(errno));
		goto out;
	}
	fd = -1;
	if (rename(tmp, path) < 0) {
		r = client_fail(err, CLIENT_ERR_USAGE, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
		goto out;
	}
	r = 0;
out:
	if (fd >= 0)
		close(fd);
	if (r < 0)
		unlink(tmp);
	explicit_bzero(text, sizeof(text));
	return r;
}

void
client_config_clear(struct client_config *cfg)
{
	explicit_bzero(cfg->token, sizeof(cfg->token));
}

static int
copy_setting(struct client_error *err, char *dst, size_t size, const char *what, const char *v)
{
	if (strlen(v) >= size)
		return client_fail(err, CLIENT_ERR_USAGE, "%s: too long (at most %zu bytes)", what, size - 1);
	memcpy(dst, v, strlen(v) + 1);
	return 0;
}

/*
 * Fill what the flags left empty: from the environment, then the config file (only for
 * the config's own server), then the local socket (root, nothing else named).
 */
int
client_settle(struct client *c, struct client_error *err)
{
	struct client_config cfg;
	const char *env;
	bool have_cfg, cfg_matches;
	int r;

	memset(&cfg, 0, sizeof(cfg));
	r = client_config_read(c, &cfg, err);
	if (r < 0 && r != -ENOENT)
		goto out;
	have_cfg = r == 0;
	r = 0;

	if (!c->subscription[0] && (env = getenv("JITGATE_SUBSCRIPTION")) && *env) {
		if (arm_subscription_validate(env, strlen(env), NULL) < 0) {
			r = client_fail(err, CLIENT_ERR_USAGE, "JITGATE_SUBSCRIPTION: '%s' is not a subscription id", env);
			goto out;
		}
		snprintf(c->subscription, sizeof(c->subscription), "%s", env);
	}
	if (!c->socket_path[0] && (env = getenv("JITGATE_SOCKET")) && *env &&
	    (r = copy_setting(err, c->socket_path, sizeof(c->socket_path), "JITGATE_SOCKET", env)) < 0)
		goto out;
	if (!c->server[0] && !c->socket_path[0] && (env = getenv("JITGATE_SERVER")) && *env &&
	    (r = copy_setting(err, c->server, sizeof(c->server), "JITGATE_SERVER", env)) < 0)
		goto out;
	/* the config's token and CA belong to the config's server: never send them elsewhere */
	cfg_matches = have_cfg && cfg.server[0] && !c->socket_path[0] && (!c->server[0] || !strcmp(c->server, cfg.server));
	if (!c->server[0] && cfg_matches)
		snprintf(c->server, sizeof(c->server), "%s", cfg.server);
	if (!c->token && (env = getenv("JITGATE_TOKEN")) && *env) {
		if (strlen(env) > CLIENT_TOKEN_MAX) {
			r = client_fail(err, CLIENT_ERR_USAGE, "JITGATE_TOKEN: too long");
			goto out;
		}
		c->token = strdup(env);
	}
	if (!c->token && cfg_matches && cfg.token[0])
		c->token = strdup(cfg.token);
	if (!c->ca[0] && (env = getenv("JITGATE_CA")) && *env &&
	    (r = copy_setting(err, c->ca, sizeof(c->ca), "JITGATE_CA", env)) < 0)
		goto out;
	if (!c->ca[0] && cfg_matches && cfg.ca[0])
		snprintf(c->ca, sizeof(c->ca), "%s", cfg.ca);
	if (!c->subscription[0] && cfg_matches && cfg.subscription[0])
		snprintf(c->subscription, sizeof(c->subscription), "%s", cfg.subscription);
	if (!c->server[0] && !c->socket_path[0] && geteuid() == 0) {
		/* JITGATE_DEFAULT_SOCKET moves where root's fallback is looked for (tests: a socket of their own) */
		const char *def = (env = getenv("JITGATE_DEFAULT_SOCKET")) && *env ? env : CLIENT_UNIX_SOCKET_DEFAULT;

		if (access(def, F_OK) == 0 &&
		    (r = copy_setting(err, c->socket_path, sizeof(c->socket_path), "JITGATE_DEFAULT_SOCKET", def)) < 0)
			goto out;
	}
out:
	client_config_clear(&cfg);
	return r;
}
