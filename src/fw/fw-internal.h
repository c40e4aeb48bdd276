/* What fw.c shares with the rest of src/fw beyond the model: the ops a context is made of, and its two makers (fw-local.c, fw-remote.c). */
#ifndef JITGATE_FW_INTERNAL_H
#define JITGATE_FW_INTERNAL_H

#include "fw.h"
#include "fw-deadline.h"
#include "fw-model.h"
#include "fw-nft.h"
#include "fw-wire.h"

/*
 * One way to run a context: fw-local.c's speaks to the kernel itself,
 * fw-remote.c's forwards every call to a firewall helper. Each op is the fw.h
 * call of the same name (fw_free() handles NULL before free is reached). fw.c
 * is the only file that knows there are two.
 */
struct fw_ops {
	int (*reconcile)(struct fw *fw, const struct fw_state *desired, struct fw_changes *ret_changes,
			 struct core_error *err);
	int (*reconcile_take)(struct fw *fw, struct fw_vm *vms, size_t n_vms, struct fw_port *ports, size_t n_ports,
			      struct fw_grant *grants, size_t n_grants, struct fw_changes *ret_changes,
			      struct core_error *err);
	int (*set_state)(struct fw *fw, const struct fw_state *desired, struct fw_changes *ret_changes,
			 struct core_error *err);
	int (*protect_set)(struct fw *fw, const struct fw_vm *vms, size_t n_vms, const struct fw_port *ports,
			   size_t n_ports, struct fw_changes *ret_changes, struct core_error *err);
	int (*grant_update)(struct fw *fw, const struct fw_grant *add, size_t n_add, const struct fw_grant *remove,
			    size_t n_remove, struct fw_changes *ret_changes, struct core_error *err);
	int (*sessions_kill)(struct fw *fw, const struct fw_grant *grants, size_t n, size_t *ret_killed,
			     struct core_error *err);
	int (*list)(struct fw *fw, struct fw_elem **ret, size_t *ret_n, struct core_error *err);
	int (*events_fd)(const struct fw *fw);
	int (*events_read)(struct fw *fw, struct fw_tamper *ret);
	int64_t (*rest)(struct fw *fw, int64_t now_ms, int64_t idle_ms);	/* NULL: nothing held to let go */
	void (*free)(struct fw *fw);
};

/* The head of each implementation's context (the first member of struct fw_local and struct fw_remote). */
struct fw {
	const struct fw_ops *ops;
};

/* fw_new()'s context (fw-local.c). */
int fw_local_new(struct fw **ret, struct core_error *err);

/*
 * How many grants an fw_new() context holds, ended ones not yet pruned
 * included (fw_grant_update prunes only the keys it touches). For tests.
 */
size_t fw_grants_held(const struct fw *fw);

/*
 * fw_connect()'s context, the client of a firewall helper (fw-remote.c).
 * fw_remote_open owns fd from the start (closes it on failure). A call fails
 * with -EPIPE and FW_ERR_UNAVAILABLE once the helper is gone; nothing is
 * retried, the caller's next context is a new helper.
 */
int fw_remote_open(int fd, struct fw **ret, struct core_error *err);

#endif
