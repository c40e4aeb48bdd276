/* agent.conf's parser and writer, and the credential file (0600), in the agent's state directory. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/agent-conf.h"
#include "agent/agent-file.h"
#include "core/armid.h"
#include "core/duration.h"
#include "core/hex.h"

#define CONF_FILE_MODE		0600
#define CREDENTIAL_FILE_MODE	0600
#define URL_SCHEME		"https://"
#define FINGERPRINT_HEX		(2 * AGENT_FINGERPRINT_LEN)

static bool
is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

/* Printable ASCII without spaces: what a URL or a path may hold here. */
static bool
is_plain_text(const char *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (v[i] <= 0x20 || v[i] >= 0x7f)
			return false;
	return n > 0;
}

static int
fingerprint_parse(const char *v, size_t n, uint8_t *out)
{
	size_t i, digits = 0;
	uint8_t fp[AGENT_FINGERPRINT_LEN];

	for (i = 0; i < n; i++) {
		int h = hex_value(v[i]);

		/* "AB:CD:..." as openssl prints it, or the bare hex */
		if (v[i] == ':' && digits % 2 == 0 && digits > 0 && v[i - 1] != ':' && i + 1 < n)
			continue;
		if (h < 0 || digits >= FINGERPRINT_HEX)
			return -EINVAL;
		fp[digits / 2] = (uint8_t)(digits % 2 ? (fp[digits / 2] | h) : h << 4);
		digits++;
	}
	if (digits != FINGERPRINT_HEX)
		return -EINVAL;
	memcpy(out, fp, sizeof(fp));
	return 0;
}

/* "agent.conf:N" as the target; the offending text quoted safely after the words. */
static int
line_error(struct core_error *err, unsigned line, const char *words, const char *v, size_t n)
{
	char target[ERROR_TARGET_MAX], quoted[ERROR_QUOTE_SIZE];

	snprintf(target, sizeof(target), AGENT_CONF_FILE ":%u", line);
	core_error_quote(v, n, quoted, sizeof(quoted));
	return core_error_set(err, AGENT_ERR_CONF, target, "%s ('%s')", words, quoted);
}

/* One key = value; seen[] marks the keys met once already. */
static int
conf_entry(struct agent_conf *c, const char *k, size_t kn, const char *v, size_t vn, unsigned line, bool seen[4],
	   struct core_error *err)
{
	static const char *const once[4] = { "ca", "ca_fingerprint", "vm", "max_disconnected" };
	struct arm_vm_id id;
	size_t i;

	for (i = 0; i < 4; i++)
		if (kn == strlen(once[i]) && memcmp(k, once[i], kn) == 0) {
			if (seen[i])
				return line_error(err, line, "this key is given twice", k, kn);
			seen[i] = true;
		}
	if (kn == 6 && memcmp(k, "server", 6) == 0) {
		if (c->n_servers >= AGENT_SERVERS_MAX)
			return line_error(err, line, "more servers than an agent tries", v, vn);
		if (vn <= strlen(URL_SCHEME) || vn > AGENT_URL_MAX || strncmp(v, URL_SCHEME, strlen(URL_SCHEME)) != 0 ||
		    !is_plain_text(v, vn))
			return line_error(err, line, "server must be an https:// URL without spaces", v, vn);
		memcpy(c->servers[c->n_servers], v, vn);
		c->servers[c->n_servers++][vn] = '\0';
	} else if (kn == 2 && memcmp(k, "ca", 2) == 0) {
		if (vn > AGENT_PATH_MAX || v[0] != '/' || !is_plain_text(v, vn))
			return line_error(err, line, "ca must be an absolute path without spaces", v, vn);
		memcpy(c->ca_file, v, vn);
		c->ca_file[vn] = '\0';
	} else if (kn == 14 && memcmp(k, "ca_fingerprint", 14) == 0) {
		if (fingerprint_parse(v, vn, c->fingerprint) < 0)
			return line_error(err, line, "ca_fingerprint must be a SHA-256 fingerprint: 64 hex digits, "
					  "':' between pairs allowed", v, vn);
		c->has_fingerprint = true;
	} else if (kn == 2 && memcmp(k, "vm", 2) == 0) {
		if (arm_vm_id_parse(v, vn, &id, NULL) < 0 || vn > ARM_ID_MAX)
			return line_error(err, line, "vm must be a virtual machine's ARM id", v, vn);
		memcpy(c->vm, v, vn);
		c->vm[vn] = '\0';
	} else if (kn == 16 && memcmp(k, "max_disconnected", 16) == 0) {
		if (duration_parse_iso8601(v, vn, &c->max_disconnected_ms, NULL) < 0 || c->max_disconnected_ms <= 0)
			return line_error(err, line, "max_disconnected must be an ISO 8601 duration such as PT4H",
					  v, vn);
	} else {
		return line_error(err, line, "unknown key", k, kn);
	}
	return 0;
}

int
agent_conf_parse(const char *s, size_t n, struct agent_conf *ret, struct core_error *err)
{
	struct agent_conf *c;
	bool seen[4] = { false };
	size_t pos = 0;
	unsigned line = 0;
	int r = 0;

	if (n > AGENT_CONF_MAX)
		return core_error_set(err, AGENT_ERR_CONF, AGENT_CONF_FILE, "agent.conf is larger than %d bytes",
				      AGENT_CONF_MAX);
	if (!(c = calloc(1, sizeof(*c))))
		return -ENOMEM;
	while (pos < n) {
		const char *l = s + pos, *nl = memchr(l, '\n', n - pos), *eq;
		size_t len = nl ? (size_t)(nl - l) : n - pos, kn, vstart;

		pos += len + (nl ? 1 : 0);
		line++;
		if (len > AGENT_CONF_LINE_MAX) {
			r = line_error(err, line, "the line is too long", l, len);
			goto out;
		}
		while (len > 0 && is_blank(*l))
			l++, len--;
		while (len > 0 && is_blank(l[len - 1]))
			len--;
		if (len == 0 || l[0] == '#')
			continue;
		if (!(eq = memchr(l, '=', len))) {
			r = line_error(err, line, "expected key = value", l, len);
			goto out;
		}
		for (kn = (size_t)(eq - l); kn > 0 && is_blank(l[kn - 1]); kn--)
			;
		for (vstart = (size_t)(eq - l) + 1; vstart < len && is_blank(l[vstart]); vstart++)
			;
		if (kn == 0 || vstart >= len) {
			r = line_error(err, line, "expected key = value", l, len);
			goto out;
		}
		if ((r = conf_entry(c, l, kn, l + vstart, len - vstart, line, seen, err)) < 0)
			goto out;
	}
	if (c->vm[0] == '\0' || c->n_servers == 0 || (c->ca_file[0] == '\0') == !c->has_fingerprint) {
		r = core_error_set(err, AGENT_ERR_CONF, AGENT_CONF_FILE, "agent.conf needs vm, at least one server, and "
				   "exactly one of ca and ca_fingerprint (jitgate-agent join writes them)");
		goto out;
	}
	*ret = *c;
	r = 0;
out:
	free(c);
	return r;
}

int
agent_conf_format(const struct agent_conf *c, struct buf *out)
{
	size_t i;
	int r = 0;

	r = buf_printf(out, "# jitgate-agent's settings, written by `jitgate-agent join` (see jitgate-agent(8)).\n"
		       "vm = %s\n", c->vm);
	for (i = 0; r == 0 && i < c->n_servers; i++)
		r = buf_printf(out, "server = %s\n", c->servers[i]);
	if (r == 0 && c->has_fingerprint) {
		r = buf_append(out, "ca_fingerprint = ", 17);
		for (i = 0; r == 0 && i < AGENT_FINGERPRINT_LEN; i++)
			r = buf_printf(out, "%02X%s", c->fingerprint[i], i + 1 < AGENT_FINGERPRINT_LEN ? ":" : "\n");
	} else if (r == 0) {
		r = buf_printf(out, "ca = %s\n", c->ca_file);
	}
	if (r == 0 && c->max_disconnected_ms > 0) {
		char d[DURATION_FORMAT_SIZE];

		r = duration_format_iso8601(c->max_disconnected_ms, d, sizeof(d));
		if (r >= 0)
			r = buf_printf(out, "max_disconnected = %s\n", d);
	}
	return r < 0 ? r : 0;
}

int
agent_conf_load(int dirfd, struct agent_conf *ret, struct core_error *err)
{
	char *text = NULL;
	size_t n;
	int r;

	r = agent_file_read(dirfd, AGENT_CONF_FILE, AGENT_CONF_MAX, &text, &n);
	if (r == -ENOENT)
		return core_error_set(err, AGENT_ERR_CONF, AGENT_CONF_FILE, "no agent.conf in the state directory: "
				      "this host has not joined (jitgate-agent join)"),
		       -ENOENT;
	if (r < 0)
		return core_error_set(err, AGENT_ERR_CONF, AGENT_CONF_FILE, "cannot read agent.conf: %s",
				      r == -EFBIG ? "larger than the agent takes" : strerror(-r)),
		       r;
	r = agent_conf_parse(text, n, ret, err);
	free(text);
	return r;
}

int
agent_conf_save(int dirfd, const struct agent_conf *c, struct core_error *err)
{
	struct buf b = { .max = AGENT_CONF_MAX };
	int r;

	if ((r = agent_conf_format(c, &b)) == 0 && (r = agent_file_write(dirfd, AGENT_CONF_FILE, b.data, b.len,
									   CONF_FILE_MODE)) < 0)
		core_error_set(err, AGENT_ERR_CONF, AGENT_CONF_FILE, "cannot write agent.conf: %s", strerror(-r));
	buf_free(&b);
	return r;
}

/* ---- the credential ---- */

static bool
is_credential_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

int
agent_credential_parse(const char *s, size_t n, char *buf, size_t size, struct core_error *err)
{
	size_t i;

	if (n > 0 && s[n - 1] == '\n')
		n--;
	if (n == 0 || n > AGENT_CREDENTIAL_MAX || n >= size)
		return core_error_set(err, AGENT_ERR_CONF, AGENT_CREDENTIAL_FILE, "the credential file must hold one "
				      "credential of 1 to %d characters", AGENT_CREDENTIAL_MAX);
	for (i = 0; i < n; i++)
		if (!is_credential_char(s[i]))
			return core_error_set(err, AGENT_ERR_CONF, AGENT_CREDENTIAL_FILE, "the credential file holds "
					      "a character a credential cannot have (at byte %zu)", i);
	memcpy(buf, s, n);
	buf[n] = '\0';
	return 0;
}

int
agent_credential_load(int dirfd, char *buf, size_t size, struct core_error *err)
{
	char text[AGENT_CREDENTIAL_FILE_MAX + 1];
	struct stat st;
	ssize_t got;
	int fd, r;

	fd = openat(dirfd, AGENT_CREDENTIAL_FILE, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
	if (fd < 0) {
		r = -errno;
		core_error_set(err, AGENT_ERR_CONF, AGENT_CREDENTIAL_FILE, "cannot read the credential: %s", strerror(-r));
		return r;
	}
	/* a secret others can read may already be someone else's: refuse rather than use it */
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (st.st_mode & 077)) {
		core_error_set(err, AGENT_ERR_CONF, AGENT_CREDENTIAL_FILE, "the credential must be a plain file "
			       "only its owner can read (chmod 600)");
		r = -EPERM;
		goto out;
	}
	got = read(fd, text, sizeof(text));
	if (got < 0) {
		r = -errno;
		core_error_set(err, AGENT_ERR_CONF, AGENT_CREDENTIAL_FILE, "cannot read the credential: %s",
			       strerror(-r));
		goto out;
	}
	r = agent_credential_parse(text, (size_t)got, buf, size, err);
out:
	explicit_bzero(text, sizeof(text));
	close(fd);
	return r;
}

int
agent_credential_save(int dirfd, const char *credential, struct core_error *err)
{
	char text[AGENT_CREDENTIAL_FILE_MAX + 1];
	size_t n = strlen(credential);
	int r;

	if ((r = agent_credential_parse(credential, n, text, sizeof(text), err)) < 0)
		return r;
	text[n] = '\n';
	if ((r = agent_file_write(dirfd, AGENT_CREDENTIAL_FILE, text, n + 1, CREDENTIAL_FILE_MODE)) < 0)
		core_error_set(err, AGENT_ERR_CONF, AGENT_CREDENTIAL_FILE, "cannot write the credential: %s",
			       strerror(-r));
	explicit_bzero(text, sizeof(text));
	return r;
}
