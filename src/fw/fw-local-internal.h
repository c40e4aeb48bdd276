/* What the in-process context's files share: the context and its state; fw-local.c uses fw-local-state.c and fw-update.c, and fw-update.c uses fw-local-state.c, never the other way. */
#ifndef JITGATE_FW_LOCAL_INTERNAL_H
#define JITGATE_FW_LOCAL_INTERNAL_H

#include "fw-index.h"
#include "fw-internal.h"

struct fw_local {
	struct fw base;		/* first: the struct fw * that fw.c hands back is this context */
	struct fw_nft *nft;
	bool synced;		/* the kernel held exactly the state below after our last batch */
	struct fw_vm *vms;
	size_t n_vms;
	struct fw_port *ports;
	size_t n_ports;
	struct grant_index grants;
	struct fw_deadlines deadlines;	/* every grant's monotonic end (fw-deadline.c) */
};

/* A state the context owns: copies of the caller's arrays. */
struct owned_state {
	struct fw_vm *vms;
	size_t n_vms;
	struct fw_port *ports;
	size_t n_ports;
	struct fw_grant *grants;
	size_t n_grants;
};

static inline struct fw_local *
to_local(struct fw *fw)
{
	return (struct fw_local *)fw;
}

/* fw-local-state.c */
void owned_state_free(struct owned_state *s);
int owned_state_copy(struct owned_state *dst, const struct fw_state *src);
struct fw_state state_view(const struct fw_vm *vms, size_t n_vms, const struct fw_port *ports, size_t n_ports,
			   const struct fw_grant *grants, size_t n_grants);
struct fw_state fw_current(const struct fw_local *fw);
int fw_note(struct fw_local *fw, const struct fw_state *st, const struct fw_elem *have, size_t n_have, int64_t now_ms,
	    int64_t mono_ms);
int reconcile_owned(struct fw_local *fw, struct owned_state *s, struct fw_changes *ret_changes, struct core_error *err);
int states_diff(const struct fw_local *fw, const struct fw_state *cur, const struct fw_state *next, int64_t now_ms,
		int64_t mono_ms, struct fw_batch *batch, struct fw_changes *changes, struct core_error *err);
int apply_owned(struct fw_local *fw, struct owned_state *s, struct fw_changes *ret_changes, struct core_error *err);

/* fw-update.c: the grant_update op */
int fw_local_grant_update(struct fw *base, const struct fw_grant *add, size_t n_add, const struct fw_grant *remove,
			  size_t n_remove, struct fw_changes *ret_changes, struct core_error *err);

#endif
