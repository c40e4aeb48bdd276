/* Landlock for jitgated's unprivileged main process (landlock.c): which paths it may still write and read. */
#ifndef JITGATE_DAEMON_LANDLOCK_H
#define JITGATE_DAEMON_LANDLOCK_H

#include "core/error.h"

#define LANDLOCK_READ_MAX	24	/* read paths: boot id, /etc, /usr, 16 webhooks' and [sso]'s CA files (NULL-terminated) */

struct landlock_paths {
	const char *state_dir;				/* read, write, create, remove, rename beneath */
	const char *read[LANDLOCK_READ_MAX + 1];	/* read only (files, or directories and all beneath) */
	const char *read_exec[LANDLOCK_READ_MAX + 1];	/* read and execute (sanitizer builds' symbolizer) */
};

/* The kernel's Landlock ABI version (> 0), or -errno: -ENOSYS (not built in), -EOPNOTSUPP (disabled at boot). */
int landlock_abi(void);

/*
 * Confine this process (it must have no_new_privs): from here it may write
 * only beneath p->state_dir and read only there and in p->read / p->read_exec;
 * on ABI 4 and later it may bind no TCP port. Returns the ABI in force (> 0),
 * 0 when the kernel has no Landlock (nothing done: the caller says so), or -errno with `err` set.
 */
int landlock_confine(const struct landlock_paths *p, struct core_error *err);

#endif
