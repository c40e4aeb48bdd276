/* The fw API's facade: fw_new() and fw_connect() pick a context's struct fw_ops (fw-local.c or fw-remote.c), and every other call goes through them. */
#include "fw-internal.h"

int
fw_new(struct fw **ret, struct core_error *err)
{
	return fw_local_new(ret, err);
}

int
fw_connect(int fd, struct fw **ret, struct core_error *err)
{
	return fw_remote_open(fd, ret, err);
}

int
fw_events_fd(const struct fw *fw)
{
	return fw->ops->events_fd(fw);
}

int
fw_events_read(struct fw *fw, struct fw_tamper *ret)
{
	return fw->ops->events_read(fw, ret);
}

int64_t
fw_rest(struct fw *fw, int64_t now_ms, int64_t idle_ms)
{
	return fw && fw->ops->rest ? fw->ops->rest(fw, now_ms, idle_ms) : INT64_MAX;
}

void
fw_free(struct fw *fw)
{
	if (!fw)
		return;
	fw->ops->free(fw);
}

int
fw_reconcile_take(struct fw *fw, struct fw_vm *vms, size_t n_vms, struct fw_port *ports, size_t n_ports,
		  struct fw_grant *grants, size_t n_grants, struct fw_changes *ret_changes, struct core_error *err)
{
	return fw->ops->reconcile_take(fw, vms, n_vms, ports, n_ports, grants, n_grants, ret_changes, err);
}

int
fw_reconcile(struct fw *fw, const struct fw_state *desired, struct fw_changes *ret_changes, struct core_error *err)
{
	return fw->ops->reconcile(fw, desired, ret_changes, err);
}

int
fw_set_state(struct fw *fw, const struct fw_state *desired, struct fw_changes *ret_changes, struct core_error *err)
{
	return fw->ops->set_state(fw, desired, ret_changes, err);
}

int
fw_protect_set(struct fw *fw, const struct fw_vm *vms, size_t n_vms, const struct fw_port *ports, size_t n_ports,
	       struct fw_changes *ret_changes, struct core_error *err)
{
	return fw->ops->protect_set(fw, vms, n_vms, ports, n_ports, ret_changes, err);
}

int
fw_grant_update(struct fw *fw, const struct fw_grant *add, size_t n_add, const struct fw_grant *remove,
		size_t n_remove, struct fw_changes *ret_changes, struct core_error *err)
{
	return fw->ops->grant_update(fw, add, n_add, remove, n_remove, ret_changes, err);
}

int
fw_grant_add(struct fw *fw, const struct fw_grant *grants, size_t n, struct fw_changes *ret_changes,
	     struct core_error *err)
{
	return fw_grant_update(fw, grants, n, NULL, 0, ret_changes, err);
}

int
fw_grant_remove(struct fw *fw, const struct fw_grant *grants, size_t n, struct fw_changes *ret_changes,
		struct core_error *err)
{
	return fw_grant_update(fw, NULL, 0, grants, n, ret_changes, err);
}

int
fw_sessions_kill(struct fw *fw, const struct fw_grant *grants, size_t n, size_t *ret_killed, struct core_error *err)
{
	return fw->ops->sessions_kill(fw, grants, n, ret_killed, err);
}

int
fw_list(struct fw *fw, struct fw_elem **ret, size_t *ret_n, struct core_error *err)
{
	return fw->ops->list(fw, ret, ret_n, err);
}
