/* The state directory: the store opened in it, and handed to the unprivileged user (statedir.h). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/bootrules.h"
#include "daemon/config.h"
#include "daemon/daemon.h"
#include "daemon/log.h"
#include "daemon/statedir.h"
#include "store/store-journal.h"
#include "store/store.h"

#define STATEDIR_ERR	"PrivilegeDrop"

/* One file of the directory open at dfd (named dir in messages); a missing one is fine. */
static int
give_at(int dfd, const char *dir, const char *name, bool is_dir, const struct sandbox_user *u, bool give,
	struct core_error *err)
{
	struct stat st;
	int fd, r = 0, e;

	fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC | (is_dir ? O_DIRECTORY : 0));
	if (fd < 0) {
		e = errno;
		if (e == ENOENT)
			return 0;
		core_error_set(err, STATEDIR_ERR, "state_dir", "%s/%s: %s%s", dir, name, strerror(e),
			       e == ELOOP ? " (a symlink; refusing to follow it as root)" : "");
		return -EPERM;
	}
	if (fstat(fd, &st) < 0 || (is_dir ? !S_ISDIR(st.st_mode) : !S_ISREG(st.st_mode) || st.st_nlink != 1)) {
		core_error_set(err, STATEDIR_ERR, "state_dir", "%s/%s: not a plain %s; refusing to give it to user %s",
			       dir, name, is_dir ? "directory" : "file", u->name);
		r = -EPERM;
	} else if (give && (st.st_uid != u->uid || st.st_gid != u->gid) && fchown(fd, u->uid, u->gid) < 0) {
		r = -errno;
		core_error_set(err, STATEDIR_ERR, "state_dir", "cannot give %s/%s to user %s: %s", dir, name, u->name,
			       strerror(-r));
	}
	close(fd);
	return r;
}

int
statedir_give(const char *dir, const char *db_name, const struct sandbox_user *u, bool give, struct core_error *err)
{
	static const char *const suffixes[] = { "", "-wal", "-shm", "-journal" };
	static const char *const others[] = { "jitgated.lock", BOOT_RULES_FILE, BOOT_RULES_FILE ".tmp", STORE_JOURNAL_NAME };
	static const char *const tls_files[] = { "cert.pem", "key.pem" };
	char tls_dir[PATH_MAX], name[NAME_MAX + 1];
	size_t i;
	int dfd, tfd, r = 0;

	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		r = -errno;
		core_error_set(err, STATEDIR_ERR, "state_dir", "cannot open the state directory %s: %s", dir,
			       strerror(-r));
		return r;
	}
	snprintf(tls_dir, sizeof(tls_dir), "%s/tls", dir);
	tfd = openat(dfd, "tls", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (tfd < 0 && errno != ENOENT) {
		r = give_at(dfd, dir, "tls", true, u, give, err);	/* says what is wrong with it */
		if (r == 0)
			r = core_error_set(err, STATEDIR_ERR, "state_dir", "cannot open %s", tls_dir);
	}
	for (i = 0; tfd >= 0 && i < sizeof(tls_files) / sizeof(tls_files[0]) && r == 0; i++)
		r = give_at(tfd, tls_dir, tls_files[i], false, u, give, err);
	if (tfd >= 0)
		close(tfd);
	if (r == 0)
		r = give_at(dfd, dir, "tls", true, u, give, err);
	for (i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]) && r == 0; i++) {
		snprintf(name, sizeof(name), "%s%s", db_name, suffixes[i]);
		r = give_at(dfd, dir, name, false, u, give, err);
	}
	for (i = 0; i < sizeof(others) / sizeof(others[0]) && r == 0; i++)
		r = give_at(dfd, dir, others[i], false, u, give, err);
	/* the mode before the owner, while root still owns it */
	if (r == 0 && give && (fchmod(dfd, 0700) < 0 || fchown(dfd, u->uid, u->gid) < 0)) {
		r = -errno;
		core_error_set(err, STATEDIR_ERR, "state_dir", "cannot give the state directory %s to user %s: %s", dir,
			       u->name, strerror(-r));
	}
	close(dfd);
	return r;
}

int
statedir_open_store(const struct config *cfg, struct store **ret)
{
	struct core_error err = { 0 };
	char path[CONFIG_PATH_MAX + 32];

	if (mkdir(cfg->state_dir, 0700) < 0 && errno != EEXIST) {
		logmsg("cannot create the state directory %s: %s", cfg->state_dir, strerror(errno));
		return -errno;
	}
	snprintf(path, sizeof(path), "%s/%s", cfg->state_dir, DB_NAME);
	/* the URI may hold a password: it is never logged, and the store's errors do not repeat it */
	if (store_open(cfg->store[0] ? cfg->store : path, ret, &err) < 0) {
		fail_err("cannot open the store", &err);
		return -EIO;
	}
	if (cfg->store_read[0] && store_read_standby(*ret, cfg->store_read, &err) < 0) {
		fail_err("cannot read from the standby", &err);
		store_close(*ret);
		*ret = NULL;
		return -EIO;
	}
	return 0;
}
