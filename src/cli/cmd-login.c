/* jitgate login: check a server and token, pin the server's certificate after the user compares its fingerprint, and save the config. */
#include <errno.h>
#include <dirent.h>
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
#include "cli/commands.h"

const char cli_help_login[] =
	"usage: jitgate login --server URL --token TOKEN [--ca FILE | --fingerprint SHA256] [--subscription ID]\n"
	"       jitgate login --server URL --sso [--ca FILE | --fingerprint SHA256] [--subscription ID]\n"
	"\n"
	"Checks that the server accepts the token (GET /whoami) and writes ~/.config/jitgate/config (mode\n"
	"0600) with server, token, CA and the server's subscription, so later commands need no flags. With\n"
	"--ca the certificate is verified against FILE. Without it, like ssh on first contact, jitgate shows\n"
	"the SHA-256 fingerprint of the server's certificate (jitgated logs it at start) and asks whether to\n"
	"trust it; a yes, once the token is accepted, saves the certificate as server-HEX.pem next to the\n"
	"config and uses it as the CA from then on. --fingerprint answers that question in advance (a\n"
	"mismatch is refused). A login that fails saves nothing and changes nothing.\n"
	"The token may also come from JITGATE_TOKEN, which keeps it out of the process list.\n"
	"With --sso you sign in with your organisation's identity provider instead (the server's [sso]):\n"
	"jitgate prints a URL and a code, you approve the code in a browser, and the config keeps a jitgate\n"
	"session credential that ends with the server's max_session (never the provider's tokens).\n"
	"jitgate logout ends it.\n"
	"\n"
	"Example:\n"
	"  JITGATE_TOKEN=jg_... jitgate login --server https://gw.example.net:8443\n";

#define OPT_FINGERPRINT	11000
#define OPT_SSO		11001

static const struct option login_options[] = {
	{ "fingerprint", required_argument, NULL, OPT_FINGERPRINT },
	{ "sso", no_argument, NULL, OPT_SSO },
	{ NULL, 0, NULL, 0 },
};

struct login_flags {
	const char *want_fp;
	bool sso;
};

static int
login_option(struct cli *c, int opt, const char *arg, void *state)
{
	struct login_flags *f = state;

	(void)c;
	if (opt == OPT_SSO) {
		f->sso = true;
		return 0;
	}
	if (opt != OPT_FINGERPRINT)
		return -EINVAL;
	f->want_fp = arg;
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
	char tmp[CLIENT_PATH_MAX + 16];
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

/*
 * Trust on first use: fetch the server's certificate, show its fingerprint and ask (or
 * compare with --fingerprint). Nothing is written: the PEM in *ret_pem (malloc'd), its
 * fingerprint in fp.
 */
static int
pin_certificate(struct cli *c, const char *want_fp, char **ret_pem, char *fp, size_t fp_size)
{
	struct client_error err = { 0 };
	char answer[16];
	char *pem = NULL;
	int r;

	if ((r = client_fetch_cert(c->client.server, &pem, &err)) < 0)
		return cli_client_fail(c, &err, r);
	if (cli_cert_fingerprint(pem, fp, fp_size) < 0) {
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
		cli_fprintf(stderr, "The server %s presented a certificate that is not verified yet.\n", c->client.server);
		cli_fprintf(stderr, "Its SHA-256 fingerprint is\n  %s\n", fp);
		cli_fprintf(stderr, "(jitgated logs its fingerprint when it starts: compare them.)\n");
		cli_fprintf(stderr, "Trust this certificate for %s? (yes/no) ", c->client.server);
		fflush(stderr);
		if (!fgets(answer, sizeof(answer), stdin) ||
		    (strcasecmp(answer, "yes\n") && strcasecmp(answer, "y\n") && strcasecmp(answer, "yes"))) {
			r = cli_fail(c, CLI_EXIT_UNREACHABLE, "not trusted; nothing saved (or give --ca FILE)");
			goto out;
		}
	}
	*ret_pem = pem;
	pem = NULL;
out:
	free(pem);
	return r;
}

/* The PEM in a private temporary file (ret_path), to verify the server with before anything is saved. */
static int
pin_stage(struct cli *c, const char *pem, char *ret_path, size_t size)
{
	const char *tmpdir = getenv("TMPDIR");
	size_t n = strlen(pem);
	int fd, r = 0;

	if (!tmpdir || tmpdir[0] != '/')
		tmpdir = "/tmp";
	if (snprintf(ret_path, size, "%s/jitgate-pin-XXXXXX", tmpdir) >= (int)size)
		return cli_fail(c, CLI_EXIT_USAGE, "TMPDIR is too long");
	fd = mkstemp(ret_path);
	if (fd < 0) {
		r = cli_fail(c, CLI_EXIT_USAGE, "cannot create a temporary file in %s: %s", tmpdir, strerror(errno));
		ret_path[0] = '\0';
		return r;
	}
	if (write(fd, pem, n) != (ssize_t)n || (n && pem[n - 1] != '\n' && write(fd, "\n", 1) != 1))
		r = cli_fail(c, CLI_EXIT_USAGE, "cannot write %s: %s", ret_path, strerror(errno));
	close(fd);
	return r;
}

/* DIR/server-<first 16 hex digits of the fingerprint>.pem: a new certificate gets a new file. */
#define PIN_PREFIX	"server-"
#define PIN_HEX		16
#define PIN_SUFFIX	".pem"

static int
pin_path(const char *dir, const char *fp, char *buf, size_t size)
{
	char hex[PIN_HEX + 1];
	size_t n = 0;

	for (; *fp && n < PIN_HEX; fp++)
		if (*fp != ':')
			hex[n++] = (char)(*fp | 0x20);
	hex[n] = '\0';
	return snprintf(buf, size, "%s/" PIN_PREFIX "%s" PIN_SUFFIX, dir, hex) >= (int)size ? -ENAMETOOLONG : 0;
}

static bool
name_is_pin(const char *name)
{
	size_t n = strlen(name), i;

	if (n != strlen(PIN_PREFIX) + PIN_HEX + strlen(PIN_SUFFIX) || strncmp(name, PIN_PREFIX, strlen(PIN_PREFIX)) ||
	    strcmp(name + n - strlen(PIN_SUFFIX), PIN_SUFFIX))
		return false;
	for (i = strlen(PIN_PREFIX); i < strlen(PIN_PREFIX) + PIN_HEX; i++)
		if (!strchr("0123456789abcdef", name[i]))
			return false;
	return true;
}

/* After the config is written: certificates login pinned before, that the config no longer names, go. */
static void
pins_prune(const char *dir, const char *keep)
{
	char path[CLIENT_PATH_MAX + 64];
	struct dirent *e;
	DIR *d = opendir(dir);

	if (!d)
		return;
	while ((e = readdir(d)))
		if (name_is_pin(e->d_name) && snprintf(path, sizeof(path), "%s/%s", dir, e->d_name) < (int)sizeof(path) &&
		    strcmp(path, keep))
			unlink(path);
	closedir(d);
}

/* What a login gathers on its way, step by step, for the config it writes at the end. */
struct login {
	const char *want_fp;		/* --fingerprint, or NULL */
	bool sso;			/* --sso: the credential comes from single sign-on (cmd-login-sso.c) */
	bool sub_given;			/* --subscription named one */
	char dir[CLIENT_PATH_MAX];	/* the config directory */
	char ca[CLIENT_PATH_MAX];	/* the CA the config will name */
	char staged[CLIENT_PATH_MAX];	/* the fetched certificate, until the token is checked */
	char fp[CLI_FP_TEXT_SIZE];
	char *pem;			/* the fetched certificate (owned), or NULL with --ca */
	json_t *me;			/* the server's whoami (borrowed from c) */
	const char *sub;		/* the server's subscription, or NULL */
};

/* Server and token from flags or environment, checked before anything goes on the wire. */
static int
login_settings(struct cli *c, struct login *l)
{
	const char *env;

	l->sub_given = c->client.subscription[0] != '\0';
	if (!c->client.server[0] && (env = getenv("JITGATE_SERVER")) && *env)
		snprintf(c->client.server, sizeof(c->client.server), "%s", env);
	if (!c->client.server[0])
		return cli_fail(c, CLI_EXIT_USAGE, "--server URL is required");
	if (strncasecmp(c->client.server, "https://", 8))
		return cli_fail(c, CLI_EXIT_USAGE, "--server: '%s' is not an https:// URL", c->client.server);
	if (!c->client.token && !l->sso && (env = getenv("JITGATE_TOKEN")) && *env)
		c->client.token = strdup(env);
	if (l->sso && c->client.token)
		return cli_fail(c, CLI_EXIT_USAGE, "--sso and --token: give one of them");
	if (!c->client.token && !l->sso)
		return cli_fail(c, CLI_EXIT_USAGE, "--token TOKEN (or JITGATE_TOKEN) is required");
	if (c->client.insecure)
		return cli_fail(c, CLI_EXIT_USAGE, "--insecure: login pins the certificate instead; see --help");
	if (l->want_fp && c->client.ca[0])
		return cli_fail(c, CLI_EXIT_USAGE, "--ca and --fingerprint: give one of them");
	if (client_config_dir(l->dir, sizeof(l->dir)) < 0)
		return cli_fail(c, CLI_EXIT_USAGE, "no HOME or XDG_CONFIG_HOME to put the config in");
	while (strlen(c->client.server) > 8 && c->client.server[strlen(c->client.server) - 1] == '/')
		c->client.server[strlen(c->client.server) - 1] = '\0';
	return 0;
}

/* The CA to verify the server with: --ca's file, or the fetched certificate the user trusts, staged. */
static int
login_trust(struct cli *c, struct login *l)
{
	int r;

	if (c->client.ca[0]) {
		if (!realpath(c->client.ca, l->ca))
			return cli_fail(c, CLI_EXIT_USAGE, "--ca: cannot read %s: %s", c->client.ca, strerror(errno));
		snprintf(c->client.ca, sizeof(c->client.ca), "%s", l->ca);
		return 0;
	}
	if ((r = pin_certificate(c, l->want_fp, &l->pem, l->fp, sizeof(l->fp))) < 0 ||
	    (r = pin_stage(c, l->pem, l->staged, sizeof(l->staged))) < 0)
		return r;
	snprintf(c->client.ca, sizeof(c->client.ca), "%s", l->staged);
	return 0;
}

/* The token is accepted (GET /whoami), and the server's subscription is the one asked for, if any. */
static int
login_check(struct cli *c, struct login *l)
{
	int r;

	if ((r = cli_whoami(c, &l->me)) < 0)
		return r;
	l->sub = cli_json_str(l->me, "subscriptionId", NULL);
	if (l->sub && arm_subscription_validate(l->sub, strlen(l->sub), NULL) < 0)
		return cli_fail(c, CLI_EXIT_UNREACHABLE, "the server's subscriptionId '%s' is not a subscription id", l->sub);
	if (l->sub_given && l->sub && strcasecmp(l->sub, c->client.subscription))
		return cli_fail(c, CLI_EXIT_USAGE, "--subscription %s: the server's subscription is %s; nothing saved",
				c->client.subscription, l->sub);
	return 0;
}

/*
 * The fetched certificate under its own name in the config directory, which becomes the CA,
 * then the config, whose rename commits the login; a pin this login wrote goes when it fails.
 */
static int
login_save(struct cli *c, struct login *l)
{
	struct client_config cfg;
	struct client_error err = { 0 };
	char pin[CLIENT_PATH_MAX + 64] = "";
	bool pin_existed = false;
	int r;

	memset(&cfg, 0, sizeof(cfg));
	if (l->pem) {
		struct stat st;

		if (pin_path(l->dir, l->fp, pin, sizeof(pin)) < 0) {
			r = cli_fail(c, CLI_EXIT_USAGE, "the config path is too long");
			goto out;
		}
		pin_existed = stat(pin, &st) == 0;
		if ((r = client_config_make_dir(l->dir, &err)) < 0) {
			cli_client_fail(c, &err, r);
			goto out;
		}
		if ((r = write_pem(c, pin, l->pem)) < 0)
			goto out;
		snprintf(l->ca, sizeof(l->ca), "%s", pin);
	}
	snprintf(cfg.server, sizeof(cfg.server), "%s", c->client.server);
	snprintf(cfg.ca, sizeof(cfg.ca), "%s", l->ca);
	snprintf(cfg.subscription, sizeof(cfg.subscription), "%s",
		 l->sub_given ? c->client.subscription : l->sub ? l->sub : "");
	snprintf(cfg.token, sizeof(cfg.token), "%s", c->client.token);
	if ((r = client_config_write(&cfg, &err)) < 0) {
		cli_client_fail(c, &err, r);
		if (pin[0] && !pin_existed)
			unlink(pin);
	}
out:
	client_config_clear(&cfg);
	return r;
}

/*
 * The token is checked first, against the certificate staged in a temporary file; only then
 * are the pinned certificate (under a name of its own, that no config names yet) and the
 * config written, and the config's rename commits both. A failed login leaves the config
 * directory as it was.
 */
int
cmd_login(struct cli *c, int argc, char **argv)
{
	struct login_flags f = { NULL, false };
	struct login l;
	bool help;
	int argi, r;

	memset(&l, 0, sizeof(l));
	r = cli_options(c, argc, argv, "", login_options, login_option, &f, cli_help_login, &argi, &help);
	l.want_fp = f.want_fp;
	l.sso = f.sso;
	if (r < 0 || help)
		return cli_exit(c, r);
	if (argc - argi)
		return cli_exit(c, cli_fail(c, CLI_EXIT_USAGE, "no arguments expected (see --help)"));
	if ((r = login_settings(c, &l)) < 0 || (r = login_trust(c, &l)) < 0 || (l.sso && (r = cli_login_sso(c)) < 0) ||
	    (r = login_check(c, &l)) < 0)
		goto out;
	if ((r = login_save(c, &l)) < 0)
		goto out;
	pins_prune(l.dir, l.ca);
	if (c->output == CLI_OUT_JSON)
		cli_print_json(l.me);
	else if (c->output == CLI_OUT_TABLE)
		cli_printf("Logged in to %s as %s (%s); your address: %s. Saved in %s/config\n", c->client.server,
			   cli_json_str(l.me, "name", "?"), cli_json_str(l.me, "role", "?"), cli_json_str(l.me, "address", "?"),
			   l.dir);
out:
	if (l.staged[0])
		unlink(l.staged);
	free(l.pem);
	return cli_exit(c, r);
}
