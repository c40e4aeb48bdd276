/* Dropping privileges in jitgated's processes: the unprivileged user, capabilities, no_new_privs, seccomp. */
#ifndef JITGATE_DAEMON_SANDBOX_H
#define JITGATE_DAEMON_SANDBOX_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/error.h"

/* Sanitizer builds (-Db_sanitize=...): their runtime needs more calls and files (sandbox.c, server.c's Landlock paths). */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_UNDEFINED__)
#define SANDBOX_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(undefined_behavior_sanitizer)
#define SANDBOX_SANITIZER 1
#endif
#endif

#define SANDBOX_USER_MAX	32	/* a user name, as useradd allows */

struct sandbox_user {
	char name[SANDBOX_USER_MAX + 1];
	uid_t uid;
	gid_t gid;
};

/* The processes, each with its own seccomp allow-list (see sandbox.c). */
enum sandbox_role {
	SANDBOX_MAIN,		/* HTTP, JSON, store, timers: no capability at all */
	SANDBOX_MAIN_PG,	/* the same, its store on a PostgreSQL server: also a client of that server */
	SANDBOX_FW_SUPERVISOR,	/* starts firewall helpers and hands their sockets to the main process */
	SANDBOX_FW_HELPER,	/* applies firewall changes: CAP_NET_ADMIN only */
	SANDBOX_AGENT,		/* jitgate-agent: the helper's list, its state directory, /proc/net, HTTPS out */
};

/* Look `name` up in the user database (at start, as root). -ENOENT if there is no such user. */
int sandbox_user_lookup(const char *name, struct sandbox_user *ret, struct core_error *err);

/*
 * Become `user` for good (real, effective and saved ids; no supplementary
 * groups), keeping only the capabilities in `keep` (a mask of 1 << CAP_*,
 * 0 for none) in the permitted and effective sets; the inheritable, ambient
 * and bounding sets are emptied of everything else. Then no_new_privs, and not
 * dumpable. Must run as root. Checks the result and fails rather than run half-dropped.
 */
int sandbox_drop(const struct sandbox_user *user, uint64_t keep, struct core_error *err);

/* Load `role`'s seccomp allow-list (the process must have no_new_privs). Filters stack: a child adds its own. */
int sandbox_seccomp(enum sandbox_role role, struct core_error *err);
/*
 * The main process's list: with PostgreSQL's client calls (pg), with outbound HTTP(S) client calls
 * (https_out: webhooks, or single sign-on's calls to its provider). Without them it connects nowhere.
 */
int sandbox_seccomp_main(bool pg, bool https_out, struct core_error *err);

#endif
