/* The state directory: opening the store in it, and handing it to the unprivileged user before the split (privilege separation). */
#ifndef JITGATE_DAEMON_STATEDIR_H
#define JITGATE_DAEMON_STATEDIR_H

#include <stdbool.h>

#include "core/error.h"
#include "daemon/config.h"
#include "daemon/sandbox.h"
#include "store/store.h"

/*
 * Give the state directory, tls/ and its files, the store's files (db_name and
 * its -wal, -shm, -journal) and the boot list to `u`: never through a symlink,
 * never a file with other names, never anything but plain files and
 * directories. give false: only check them, before root reads any of them.
 * Contents first, each directory last (its mode before its owner): under the
 * systemd unit's capability set (no CAP_DAC_OVERRIDE, no CAP_FOWNER) root can
 * no longer search a directory once it is the user's 0700 one. 0, or a
 * negative errno with err saying which file and why.
 */
int statedir_give(const char *dir, const char *db_name, const struct sandbox_user *u, bool give,
		  struct core_error *err);

/* Open (creating the state directory if need be) the store in cfg's state directory; logs why not. */
int statedir_open_store(const struct config *cfg, struct store **ret);

#endif
