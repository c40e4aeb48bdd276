/* Landlock for jitgated's unprivileged main process: it may write only in its state directory and read little else. */
#include <errno.h>
#include <fcntl.h>
#include <linux/landlock.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "daemon/landlock.h"

/*
 * Debian 12's kernel headers (6.1) stop at ABI 2; the rights and fields of
 * later ABIs are the kernel's fixed UAPI values, named here so that a newer
 * kernel confines what it can. A right this code does not know (a later ABI)
 * is simply not handled, which Landlock treats as allowed: never a refusal of
 * something we did not think about, and the user, seccomp and the unit still hold.
 */
#define LL_FS_TRUNCATE		(1ULL << 14)	/* ABI 3 */
#define LL_FS_IOCTL_DEV		(1ULL << 15)	/* ABI 5 */
#define LL_NET_BIND_TCP		(1ULL << 0)	/* ABI 4 */
#define LL_ABI_TRUNCATE		3
#define LL_ABI_NET		4
#define LL_ABI_IOCTL_DEV	5

/* struct landlock_ruleset_attr up to ABI 4 (handled_access_net); the size given tells the kernel which fields. */
struct ll_ruleset_attr {
	uint64_t handled_access_fs;
	uint64_t handled_access_net;
};

#define LL_FS_READ	(LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR)
/* the store, its WAL and shared-memory index, the close journal, the boot list (temp file renamed over it) */
#define LL_FS_STATE	(LL_FS_READ | LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_REMOVE_FILE | \
			 LANDLOCK_ACCESS_FS_REMOVE_DIR | LANDLOCK_ACCESS_FS_MAKE_REG | LANDLOCK_ACCESS_FS_MAKE_DIR | \
			 LANDLOCK_ACCESS_FS_REFER | LL_FS_TRUNCATE)
/* ABI 1's rights: everything on files and directories but linking/renaming across directories */
#define LL_FS_ABI1	(LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_READ_FILE | \
			 LANDLOCK_ACCESS_FS_READ_DIR | LANDLOCK_ACCESS_FS_REMOVE_DIR | LANDLOCK_ACCESS_FS_REMOVE_FILE | \
			 LANDLOCK_ACCESS_FS_MAKE_CHAR | LANDLOCK_ACCESS_FS_MAKE_DIR | LANDLOCK_ACCESS_FS_MAKE_REG | \
			 LANDLOCK_ACCESS_FS_MAKE_SOCK | LANDLOCK_ACCESS_FS_MAKE_FIFO | LANDLOCK_ACCESS_FS_MAKE_BLOCK | \
			 LANDLOCK_ACCESS_FS_MAKE_SYM)

int
landlock_abi(void)
{
	long abi = syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);

	return abi < 0 ? -errno : (int)abi;
}

/* The rights of this kernel's ABI among `want`. */
static uint64_t
fs_rights(int abi, uint64_t want)
{
	uint64_t known = LL_FS_ABI1;

	if (abi >= 2)
		known |= LANDLOCK_ACCESS_FS_REFER;
	if (abi >= LL_ABI_TRUNCATE)
		known |= LL_FS_TRUNCATE;
	if (abi >= LL_ABI_IOCTL_DEV)
		known |= LL_FS_IOCTL_DEV;
	return want & known;
}

/* Allow `access` beneath `path` (a directory) or on it (a file). A path that does not exist is skipped. */
static int
allow(int ruleset, int abi, const char *path, uint64_t access, struct core_error *err)
{
	struct landlock_path_beneath_attr pb = { 0 };
	struct stat sb;
	int fd = open(path, O_PATH | O_CLOEXEC), r = 0;

	if (fd < 0 && errno == ENOENT)
		return 0;
	if (fd < 0 || fstat(fd, &sb) < 0) {
		r = -errno;
		goto out;
	}
	pb.parent_fd = fd;
	pb.allowed_access = fs_rights(abi, access);
	/* on a file, only the rights that apply to a file (the kernel refuses the others) */
	if (!S_ISDIR(sb.st_mode))
		pb.allowed_access &= LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_WRITE_FILE | LL_FS_TRUNCATE |
				     LANDLOCK_ACCESS_FS_EXECUTE;
	if (syscall(SYS_landlock_add_rule, ruleset, LANDLOCK_RULE_PATH_BENEATH, &pb, 0) < 0)
		r = -errno;
out:
	if (r < 0)
		core_error_set(err, "PrivilegeDrop", "", "Landlock: cannot allow %s: %s", path, strerror(-r));
	if (fd >= 0)
		close(fd);
	return r;
}

int
landlock_confine(const struct landlock_paths *p, struct core_error *err)
{
	struct ll_ruleset_attr attr = { 0 };
	size_t size = sizeof(attr.handled_access_fs);
	int abi = landlock_abi(), ruleset = -1, r;
	size_t i;

	if (abi <= 0)
		return 0;
	attr.handled_access_fs = fs_rights(abi, ~0ULL);
	if (abi >= LL_ABI_NET) {
		/* the listeners were bound as root: the main process binds no TCP port of its own */
		attr.handled_access_net = LL_NET_BIND_TCP;
		size = sizeof(attr);
	}
	ruleset = (int)syscall(SYS_landlock_create_ruleset, &attr, size, 0);
	if (ruleset < 0) {
		r = -errno;
		core_error_set(err, "PrivilegeDrop", "", "Landlock: cannot make a ruleset: %s", strerror(-r));
		goto out;
	}
	if ((r = allow(ruleset, abi, p->state_dir, LL_FS_STATE, err)) < 0)
		goto out;
	for (i = 0; i < LANDLOCK_READ_MAX && p->read[i]; i++)
		if ((r = allow(ruleset, abi, p->read[i], LL_FS_READ, err)) < 0)
			goto out;
	for (i = 0; i < LANDLOCK_READ_MAX && p->read_exec[i]; i++)
		if ((r = allow(ruleset, abi, p->read_exec[i], LL_FS_READ | LANDLOCK_ACCESS_FS_EXECUTE, err)) < 0)
			goto out;
	/* landlock_restrict_self needs no_new_privs, which sandbox_drop() set */
	if (syscall(SYS_landlock_restrict_self, ruleset, 0) < 0) {
		r = -errno;
		core_error_set(err, "PrivilegeDrop", "", "Landlock: cannot restrict this process: %s", strerror(-r));
		goto out;
	}
	r = abi;
out:
	if (ruleset >= 0)
		close(ruleset);
	return r;
}
