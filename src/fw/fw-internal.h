/* What fw.c shares with the rest of src/fw beyond the model: the context's lookups (fw-conntrack.c, tests) and the helper's client (fw-remote.c). */
#ifndef JITGATE_FW_INTERNAL_H
#define JITGATE_FW_INTERNAL_H

#include "fw.h"
#include "fw-deadline.h"
#include "fw-model.h"
#include "fw-nft.h"
#include "fw-wire.h"

const struct fw_vm *fw_vm_lookup(const struct fw *fw, uint64_t id);

/*
 * How many grants an fw_new() context holds, ended ones not yet pruned
 * included (fw_grant_update prunes only the keys it touches). For tests.
 */
size_t fw_grants_held(const struct fw *fw);

/*
 * The client of a firewall helper (fw-remote.c): fw_connect() contexts hold
 * one, and fw.c's public calls forward to it. fw_remote_open owns fd from the
 * start (closes it on failure). A call fails with -EPIPE and FW_ERR_UNAVAILABLE
 * once the helper is gone; nothing is retried, the caller's next context is a new helper.
 */
struct fw_remote;
int fw_remote_open(int fd, struct fw_remote **ret, struct core_error *err);
void fw_remote_close(struct fw_remote *r);
int fw_remote_call(struct fw_remote *r, enum fw_wire_op op, const struct fw_state *st, const struct fw_grant *refs,
		   size_t n_refs, struct fw_changes *ret_changes, size_t *ret_killed, struct core_error *err);
int fw_remote_events_fd(const struct fw_remote *r);
int fw_remote_events_read(struct fw_remote *r, struct fw_tamper *ret);
/* The helper a context forwards to, or NULL for one that speaks to the kernel itself. */
struct fw_remote *fw_remote_of(const struct fw *fw);

#endif
