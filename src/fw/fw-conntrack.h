/* The conntrack backend (fw-conntrack.c): ends the open sessions that grants let in. */
#ifndef JITGATE_FW_CONNTRACK_H
#define JITGATE_FW_CONNTRACK_H

#include "fw-model.h"

/* fw_sessions_kill() for a context whose VMs are vms[0..n_vms) (a grant's destinations are its VM's addresses). */
int fw_conntrack_kill(const struct fw_vm *vms, size_t n_vms, const struct fw_grant *grants, size_t n,
		      size_t *ret_killed, struct core_error *err);

#endif
