/* jitgate login: check a server and token, pin the server's certificate after the user compares its fingerprint, and save the config. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include "cli/cli.h"

const char cli_help_login[] =
	"usage: jitgate login --server URL --token TOKEN [--ca FILE | --fingerprint SHA256] [--subscription ID]\n"
	"\n"
	"Checks that the server accepts the token (GET /whoami) and writes ~/.config/jitgate/config (mode\n"
	"0600) with server, token, CA and subscription, so later commands need no flags. With --ca the\n"
	"certificate is verified against FILE. Without it, like ssh on first contact, jitgate shows the\n"
	"SHA-256 fingerprint of the server's certificate (jitgated logs it at start) and asks whether to\n"
	"trust it; a yes saves the certificate as server.pem next to the config and uses it as the CA from\n"
	"then on. --fingerprint answers that question in advance (a mismatch is refused).\n"
	"The token may also come from JITGATE_TOKEN, which keeps it out of the process list.\n"
	"\n"
	"Example:\n"
	"  JITGATE_TOKEN=jg_... jitgate login --server https://gw.example.net:8443\n";

#define OPT_FINGERPRINT	11000
#define FP_TEXT_SIZE	(32 * 3)

static const struct option login_options[] = {
	{ "fingerprint", required_argument, NULL, OPT_FINGERPRINT },
	{ NULL, 0, NULL, 0 },
};

static int
login_option(struct cli *c, int opt, const char *arg, void *state)
{
	const char **fp = state;

	(void)c;
	if (opt != OPT_FINGERPRINT)
		return -EINVAL;
	*fp = arg;
	return 0;
}

/* "AB:CD:..." of the SHA-256 of the certificate's DER, as jitgated prints it. */
static int
fingerprint(const char *pem, char *buf, size_t size)
{
	static const char hex[] = "0123456789ABCDEF";
	gnutls_datum_t in = { (unsigned char *)(uintptr_t)pem, (unsigned)strlen(pem) }, der = { NULL, 0 };
	unsigned char digest[32];
	size_t i, len = 0;

	if (size < FP_TEXT_SIZE || gnutls_pem_base64_decode2("CERTIFICATE", &in, &der) < 0)
		return -EINVAL;
	if (gnutls_hash_fast(GNUTLS_DIG_SHA256, der.data, der.size, digest) < 0) {
		gnutls_free(der.data);
		return -EIO;
	}
	gnutls_free(der.data);
	for (i = 0; i < sizeof(digest); i++) {
		if (i)
			buf[len++] = ':';
		buf[len++] = hex[digest[i] >> 4];
		buf[len++] = hex[digest[i] & 15];
	}
	buf[len] = '\0';
	return 0;
}

/* Ignore case and separators: "ab:cd" == "ABCD". */
static bool
fingerprint_equal(const char *a, const char *b)
{
	for (;;) {
		while (*a == ':' || *a == ' ')
			a++;
		while (*b == ':' || *b == ' ')
			b++;
		if (!*a || !*b)
			return !*a && !*b;
		if ((*a | 0x20) != (*b | 0x20))
			return false;
		a++, b++;
	}
}

static int
write_pem(struct cli *c, const char *path, const char *pem)
{
	char tmp[CLI_PATH_MAX + 16];
	size_t n = strlen(pem);
	int fd, r = 0;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0)
		return cli_fail(c, CLI_EXIT_USAGE, "cannot write %s: %s", tmp, strerror(errno));
	if (write(fd, pem, n) != (ssize_t)n || (n && pem[n - 1] != '\n' && write(fd, "\n", 1) != 1) || fsync(fd) < 0)
		r = cli_fail(c, CLI_EXIT_USAGE, "cannot write %s: %s", tmp, strerror(errno));
	close(fd);
	if (r == 0 && rename(tmp, path) < 0)
		r = cli_fail(c, CLI_EXIT_USAGE, "cannot rename %s: %s", tmp, strerror(errno));
	if (r < 0)
		unlink(tmp);
	return r;
}

/* Trust on first use: show the fingerprint, ask (or compare with --fingerprint), save the PEM as the CA. */
static int
pin_certificate(struct cli *c, const char *want_fp, char *ret_ca, size_t size)
{
	char fp[FP_TEXT_SIZE], dir[CLI_PATH_MAX], answer[16];
	char *pem = NULL;
	int r;

	if ((r = cli_http_fetch_cert(c, c->server, &pem)) < 0)
		return r;
	if (fingerprint(pem, fp, sizeof(fp)) < 0) {
		r = cli_fail(c, CLI_EXIT_UNREACHABLE, "cannot read the server's certificate");
		goto out;
	}
	if (want_fp) {
		if (!fingerprint_equal(fp, want_fp)) {
			r = cli_fail(c, CLI_EXIT_UNREACHABLE,
				     "the server's certificate has the fingerprint %s, not the one given with --fingerprint; "
				     "not trusting it", fp);
			goto out;
		}
	} else {
		cli_fprintf(stderr, "The server %s presented a certificate that is not verified yet.\n"
				"Its SHA-256 fingerprint is\n  %s\n"
				"(jitgated logs its fingerprint when it starts: compare them.)\n"
				"Trust this certificate for %s? (yes/no) ",
			c->server, fp, c->server);
		fflush(stderr);
		if (!fgets(answer, sizeof(answer), stdin) ||
		    (strcasecmp(answer, "yes\n") && strcasecmp(answer, "y\n") && strcasecmp(answer, "yes"))) {
			r = cli_fail(c, CLI_EXIT_UNREACHABLE, "not trusted; nothing saved (or give --ca FILE)");
			goto out;
		}
	}
	if ((r = cli_config_dir(dir, sizeof(dir))) < 0) {
		r = cli_fail(c, CLI_EXIT_USAGE, "no HOME or XDG_CONFIG_HOME to put the config in");
		goto out;
	}
	{
		/* the directory as cli_config_write makes it: parent first, both 0700 */
		char parent[CLI_PATH_MAX], *slash;

		snprintf(parent, sizeof(parent), "%s", dir);
		slash = strrchr(parent, '/');
		if (slash && slash != parent) {
			*slash = '\0';
			mkdir(parent, 0700);
		}
		if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
			r = cli_fail(c, CLI_EXIT_USAGE, "cannot create %s: %s", dir, strerror(errno));
			goto out;
		}
	}
	if (snprintf(ret_ca, size, "%s/server.pem", dir) >= (int)size) {
		r = cli_fail(c, CLI_EXIT_USAGE, "the config path is too long");
		goto out;
	}
	r = write_pem(c, ret_ca, pem);
out:
	free(pem);
	return r;
}

int
cmd_login(struct cli *c, int argc, char **argv)
{
	struct cli_config cfg;
	const char *want_fp = NULL, *env;
	char ca[CLI_PATH_MAX];
	json_t *me = NULL;
	bool help;
	int argi, r;

	memset(&cfg, 0, sizeof(cfg));
	r = cli_options(c, argc, argv, "", login_options, login_option, &want_fp, cli_help_login, &argi, &help);
	if (r < 0 || help)
		return cli_exit(c, r);
	if (argc - argi)
		return cli_exit(c, cli_fail(c, CLI_EXIT_USAGE, "no arguments expected (see --help)"));
	if (!c->server[0] && (env = getenv("JITGATE_SERVER")) && *env)
		snprintf(c->server, sizeof(c->server), "%s", env);
	if (!c->server[0])
		return cli_exit(c, cli_fail(c, CLI_EXIT_USAGE, "--server URL is required"));
	if (strncasecmp(c->server, "https://", 8))
		return cli_exit(c, cli_fail(c, CLI_EXIT_USAGE, "--server: '%s' is not an https:// URL", c->server));
	if (!c->token && (env = getenv("JITGATE_TOKEN")) && *env)
		c->token = strdup(env);
	if (!c->token)
		return cli_exit(c, cli_fail(c, CLI_EXIT_USAGE, "--token TOKEN (or JITGATE_TOKEN) is required"));
	if (c->insecure)
		return cli_exit(c, cli_fail(c, CLI_EXIT_USAGE, "--insecure: login pins the certificate instead; see --help"));
	if (want_fp && c->ca[0])
		return cli_exit(c, cli_fail(c, CLI_EXIT_USAGE, "--ca and --fingerprint: give one of them"));
	while (strlen(c->server) > 8 && c->server[strlen(c->server) - 1] == '/')
		c->server[strlen(c->server) - 1] = '\0';
	if (c->ca[0]) {
		if (!realpath(c->ca, ca))
			return cli_exit(c, cli_fail(c, CLI_EXIT_USAGE, "--ca: cannot read %s: %s", c->ca, strerror(errno)));
	} else if ((r = pin_certificate(c, want_fp, ca, sizeof(ca))) < 0) {
		goto out;
	}
	snprintf(c->ca, sizeof(c->ca), "%s", ca);
	if ((r = cli_get(c, "/whoami", NULL, &me)) < 0)
		goto out;
	snprintf(cfg.server, sizeof(cfg.server), "%s", c->server);
	snprintf(cfg.ca, sizeof(cfg.ca), "%s", ca);
	if (c->subscription[0] && strcmp(c->subscription, CLI_SUBSCRIPTION_DEFAULT))
		snprintf(cfg.subscription, sizeof(cfg.subscription), "%s", c->subscription);
	snprintf(cfg.token, sizeof(cfg.token), "%s", c->token);
	if ((r = cli_config_write(c, &cfg)) < 0)
		goto out;
	if (c->output == CLI_OUT_JSON)
		cli_print_json(me);
	else if (c->output == CLI_OUT_TABLE)
		cli_printf("Logged in to %s as %s (%s); your address: %s. Saved in %s/config\n", c->server,
		       cli_json_str(me, "name", "?"), cli_json_str(me, "role", "?"), cli_json_str(me, "address", "?"),
		       ca[0] && strrchr(ca, '/') ? "the config directory" : "~/.config/jitgate");
out:
	cli_config_clear(&cfg);
	json_decref(me);
	return cli_exit(c, r);
}
