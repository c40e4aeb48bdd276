/* Unit tests for fw's contexts without a kernel: what fw_grant_update(), fw_reconcile() and fw_set_state() send to an in-memory table. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "fw/fw-internal.h"
#include "fw-testutil.h"

/*
 * A kernel without netlink, for the contexts (the model alone, fw-model.o, needs
 * none: test-fw-model.c). test-fw links the static libjitgate-fw.a, and
 * these definitions of fw-nft.h's four functions keep the archive's fw-nft.o and
 * fw-nft-list.o (and libnftables) out of the program, so fw_new() contexts run their real
 * code against this in-memory table. It applies batches as the kernel would
 * (all or nothing, deletes of absent keys allowed), refuses the next
 * `refuse` batches on request, and keeps the last batch it took.
 */
struct fw_nft {
	int unused;
};

static struct {
	bool table;
	struct fw_elem *elems;	/* sorted by key */
	size_t n;
	size_t refuse;		/* refuse this many batches from now */
	int torn;		/* set+1 whose listing comes out torn: its last element missed, its first twice */
	size_t applied;		/* batches taken */
	struct fw_op *last;	/* the last batch taken */
	size_t n_last;
} kernel;

static void
kernel_reset(void)
{
	free(kernel.elems);
	free(kernel.last);
	memset(&kernel, 0, sizeof(kernel));
}

int
fw_nft_open(struct fw_nft **ret, struct core_error *err)
{
	*ret = calloc(1, sizeof(**ret));
	return *ret ? 0 : -ENOMEM;
}

void
fw_nft_close(struct fw_nft *nft)
{
	free(nft);
}

int64_t
fw_nft_rest(struct fw_nft *nft, int64_t now_ms, int64_t idle_ms)
{
	return INT64_MAX;
}

int
fw_nft_list(struct fw_nft *nft, int64_t now_ms, struct fw_elem **ret, size_t *ret_n, bool *ret_ours,
	    struct core_error *err)
{
	if (!kernel.table)
		return -ENOENT;
	*ret = calloc(kernel.n + 1, sizeof(**ret));
	if (!*ret)
		return -ENOMEM;
	if (kernel.n)
		memcpy(*ret, kernel.elems, kernel.n * sizeof(**ret));
	*ret_n = kernel.n;
	*ret_ours = true;
	if (kernel.torn) {
		size_t first = SIZE_MAX, last = SIZE_MAX, i;

		for (i = 0; i < kernel.n; i++)
			if ((int)kernel.elems[i].set == kernel.torn - 1) {
				first = first == SIZE_MAX ? i : first;
				last = i;
			}
		if (first != SIZE_MAX && first != last)
			(*ret)[last] = (*ret)[first];	/* as a dump during a resize: one seen twice, one missed */
		qsort(*ret, kernel.n, sizeof(**ret), fw_elem_cmp_key);
	}
	return 0;
}

static size_t
kernel_find(const struct fw_elem *e)
{
	size_t i;

	for (i = 0; i < kernel.n; i++)
		if (!fw_elem_cmp_key(&kernel.elems[i], e))
			return i;
	return SIZE_MAX;
}

int
fw_nft_apply(struct fw_nft *nft, const struct fw_batch *batch, int64_t now_ms, struct core_error *err)
{
	size_t i, k;

	if (kernel.refuse) {
		kernel.refuse--;
		if (err)
			core_error_set(err, FW_ERR_REJECTED, "", "the test kernel refused the change");
		return -EIO;
	}
	if (batch->ensure)
		kernel.table = true;
	if (batch->rebuild)
		kernel.n = 0;
	assert_true(kernel.table);
	for (i = 0, k = 0; i < kernel.n; i++)
		if (!batch->flush[kernel.elems[i].set])
			kernel.elems[k++] = kernel.elems[i];
	kernel.n = k;
	kernel.elems = reallocarray(kernel.elems, kernel.n + batch->n_ops + 1, sizeof(*kernel.elems));
	assert_non_null(kernel.elems);
	for (i = 0; i < batch->n_ops; i++) {
		const struct fw_op *op = &batch->ops[i];

		k = kernel_find(&op->elem);
		if (op->kind == FW_OP_DELETE) {
			if (k != SIZE_MAX)
				kernel.elems[k] = kernel.elems[--kernel.n];
		} else if (k != SIZE_MAX) {
			kernel.elems[k] = op->elem;
		} else {
			kernel.elems[kernel.n++] = op->elem;
		}
	}
	if (kernel.n)
		qsort(kernel.elems, kernel.n, sizeof(*kernel.elems), fw_elem_cmp_key);
	free(kernel.last);
	kernel.last = calloc(batch->n_ops + 1, sizeof(*kernel.last));
	assert_non_null(kernel.last);
	if (batch->n_ops)
		memcpy(kernel.last, batch->ops, batch->n_ops * sizeof(*kernel.last));
	kernel.n_last = batch->n_ops;
	kernel.applied++;
	return 0;
}

static bool
elem_equal(const struct fw_elem *a, const struct fw_elem *b)
{
	return !fw_elem_cmp_key(a, b) && a->end_ms == b->end_ms && !strcmp(a->comment, b->comment);
}

/* What the test believes the desired state is: VMs, ports and a flat list of grants, kept the simple way. */
struct model {
	const struct fw_vm *vms;
	size_t n_vms;
	const struct fw_port *ports;
	size_t n_ports;
	struct fw_grant *g;
	size_t n;
};

static bool
same_identity(const struct fw_grant *a, const struct fw_grant *b)
{
	return a->vm == b->vm && a->proto == b->proto && a->port == b->port && !strcmp(a->request_id, b->request_id);
}

/* fw_grant_update()'s meaning, spelled out: drop every grant an added or removed one names, then add. */
static void
model_update(struct model *m, const struct fw_grant *add, size_t n_add, const struct fw_grant *rm, size_t n_rm)
{
	size_t i, k, n = 0;

	for (i = 0; i < m->n; i++) {
		bool drop = false;

		for (k = 0; k < n_add; k++)
			drop |= same_identity(&m->g[i], &add[k]);
		for (k = 0; k < n_rm; k++)
			drop |= same_identity(&m->g[i], &rm[k]);
		if (!drop)
			m->g[n++] = m->g[i];
	}
	m->g = reallocarray(m->g, n + n_add + 1, sizeof(*m->g));
	assert_non_null(m->g);
	if (n_add)
		memcpy(m->g + n, add, n_add * sizeof(*add));
	m->n = n + n_add;
}

static struct fw_state
model_state(const struct model *m)
{
	return (struct fw_state){ m->vms, m->n_vms, m->ports, m->n_ports, m->g, m->n };
}

/* The elements of the model's whole state, by the same fw_state_elems() a full reconcile uses. */
static void
model_elems(const struct model *m, int64_t now, struct fw_elem **ret, size_t *ret_n)
{
	struct fw_state st = model_state(m);
	struct core_error err = { 0 };

	assert_int_equal(fw_state_elems(&st, now, ret, ret_n, &err), 0);
}

/* The kernel holds exactly what the model's whole state implies (elements past their end are the kernel's to drop). */
static void
assert_kernel_is_model(const struct model *m)
{
	int64_t now = time_now_ms();
	struct fw_elem *want;
	size_t n_want, i, k = 0;

	model_elems(m, now, &want, &n_want);
	for (i = 0; i < kernel.n; i++) {
		const struct fw_elem *e = &kernel.elems[i];

		if (fw_set_is_grant(e->set) && e->end_ms - now < FW_TIMEOUT_MIN_MS)
			continue;
		assert_true(k < n_want);
		assert_true(elem_equal(e, &want[k]));
		k++;
	}
	assert_int_equal(k, n_want);
	free(want);
}

/*
 * One fw_grant_update(), checked against the whole-state way: the batch must
 * be exactly the diff between the elements of the model's whole state before
 * and after (the same batch the kernel got before grants were indexed), and
 * the kernel must then hold the whole state's elements.
 */
static void
update_and_check(struct fw *fw, struct model *m, const struct fw_grant *add, size_t n_add, const struct fw_grant *rm,
		 size_t n_rm)
{
	struct fw_elem *before, *after;
	size_t n_before, n_after, applied = kernel.applied, i;
	struct fw_batch want = { 0 };
	struct fw_changes want_ch = { 0 }, ch = { 0 };
	struct core_error err = { 0 };
	int64_t now = time_now_ms();

	model_elems(m, now, &before, &n_before);
	model_update(m, add, n_add, rm, n_rm);
	model_elems(m, now, &after, &n_after);
	assert_int_equal(fw_diff(before, n_before, after, n_after, false, &want, &want_ch), 0);

	assert_int_equal(fw_grant_update(fw, add, n_add, rm, n_rm, &ch, &err), 0);
	assert_int_equal(ch.added, want_ch.added);
	assert_int_equal(ch.removed, want_ch.removed);
	assert_int_equal(ch.updated, want_ch.updated);
	assert_int_equal(ch.kept, 0);
	if (want.n_ops == 0) {
		assert_int_equal(kernel.applied, applied);	/* nothing to send, nothing sent */
	} else {
		assert_int_equal(kernel.applied, applied + 1);
		assert_int_equal(kernel.n_last, want.n_ops);
		for (i = 0; i < want.n_ops; i++) {
			assert_int_equal(kernel.last[i].kind, want.ops[i].kind);
			assert_true(elem_equal(&kernel.last[i].elem, &want.ops[i].elem));
		}
	}
	assert_kernel_is_model(m);
	fw_batch_free(&want);
	free(before);
	free(after);
}

/* A context synced to the model's state through a full reconcile, over an empty test kernel. */
static struct fw *
fw_synced(struct model *m)
{
	struct fw_state st = model_state(m);
	struct core_error err = { 0 };
	struct fw *fw = NULL;

	kernel_reset();
	assert_int_equal(fw_new(&fw, &err), 0);
	assert_int_equal(fw_reconcile(fw, &st, NULL, &err), 0);
	assert_kernel_is_model(m);
	return fw;
}

static void
sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0)
		;
}

static const struct fw_port local_ports[] = { { .vm = 1, .proto = NET_PROTO_TCP, .port = 22 } };

static void
test_update_replace_by_identity_other_source(void **state)
{
	struct fw_vm vm = vm_local(1);
	struct model m = { &vm, 1, local_ports, 1, NULL, 0 };
	int64_t end = time_now_ms() + 600000;
	struct fw_grant g[] = {
		grant("r1", 1, "10.0.0.5", NET_PROTO_TCP, 22, end),
		grant("r1", 1, "10.0.0.6", NET_PROTO_TCP, 22, end),	/* the same identity, another address */
		grant("r1", 1, "10.0.0.0/24", NET_PROTO_TCP, 22, end),	/* ... a range */
		grant("r1", 1, "*", NET_PROTO_TCP, 22, end),		/* ... everyone */
		grant("r1", 1, "fd00::7", NET_PROTO_TCP, 22, end + 1000),
		grant("r2", 1, "10.0.0.6", NET_PROTO_ANY, 22, end),
		grant("r1", 1, "10.1.0.0/16", NET_PROTO_TCP, 22, end),	/* a remove names it by identity only */
	};
	struct fw *fw = fw_synced(&m);
	size_t i;

	update_and_check(fw, &m, &g[0], 1, NULL, 0);
	assert_int_equal(kernel.n_last, 1);
	for (i = 1; i < 5; i++) {
		update_and_check(fw, &m, &g[i], 1, NULL, 0);
		assert_int_equal(fw_grants_held(fw), 1);
	}
	update_and_check(fw, &m, &g[5], 1, NULL, 0);
	/* remove r1 with a source it never had: its elements (fd00::7) go all the same */
	update_and_check(fw, &m, NULL, 0, &g[6], 1);
	assert_int_equal(fw_grants_held(fw), 1);
	/* replace r2 and add r1 back in one batch, where r1's new source is r2's old one */
	{
		struct fw_grant add[] = { grant("r1", 1, "10.0.0.6", NET_PROTO_TCP, 22, end + 5000),
					  grant("r2", 1, "10.0.0.9", NET_PROTO_ANY, 22, end) };

		update_and_check(fw, &m, add, 2, NULL, 0);
		assert_int_equal(fw_grants_held(fw), 2);
	}
	fw_free(fw);
	free(m.g);
	kernel_reset();
}

/* fw_reconcile_take() of heap copies of one local VM, its protected ports and grants g[0..n). */
static int
reconcile_take_copies(struct fw *fw, const struct fw_vm *vm, const struct fw_grant *g, size_t n, struct core_error *err)
{
	struct fw_vm *vms = malloc(sizeof(*vm));
	struct fw_port *ports = malloc(sizeof(local_ports));
	struct fw_grant *grants = malloc((n ? n : 1) * sizeof(*g));

	assert_true(vms && ports && grants);
	memcpy(vms, vm, sizeof(*vm));
	memcpy(ports, local_ports, sizeof(local_ports));
	if (n)
		memcpy(grants, g, n * sizeof(*g));
	return fw_reconcile_take(fw, vms, 1, ports, sizeof(local_ports) / sizeof(local_ports[0]), grants, n, NULL, err);
}

/* fw_reconcile_take(): the context keeps the caller's arrays, refused or not, and works from them as from a copy. */
static void
test_reconcile_take(void **state)
{
	struct fw_vm vm = vm_local(1);
	int64_t end = time_now_ms() + 600000;
	struct fw_grant g[] = {
		grant("r1", 1, "10.0.0.5", NET_PROTO_TCP, 22, end),
		grant("r2", 1, "10.0.0.0/24", NET_PROTO_TCP, 22, end + 1000),
		grant("r3", 1, "fd00::7", NET_PROTO_TCP, 22, end),
	};
	struct model m = { &vm, 1, local_ports, sizeof(local_ports) / sizeof(local_ports[0]), NULL, 0 };
	struct core_error err = { 0 };
	struct fw *fw = NULL;

	kernel_reset();
	assert_int_equal(fw_new(&fw, &err), 0);
	model_update(&m, g, 2, NULL, 0);

	/* refused: nothing reaches the kernel, and the arrays are still the context's to free (ASan: no leak) */
	kernel.refuse = 1;
	assert_int_equal(reconcile_take_copies(fw, &vm, g, 2, &err), -EIO);
	assert_false(kernel.table);

	/* taken: the kernel holds the state, and updates build on it */
	assert_int_equal(reconcile_take_copies(fw, &vm, g, 2, &err), 0);
	assert_kernel_is_model(&m);
	update_and_check(fw, &m, &g[2], 1, &g[0], 1);
	assert_int_equal(fw_grants_held(fw), 2);

	/* nothing at all (NULL arrays): the context empties */
	assert_int_equal(fw_reconcile_take(fw, NULL, 0, NULL, 0, NULL, 0, NULL, &err), 0);
	assert_int_equal(kernel.n, 0);
	assert_int_equal(fw_grants_held(fw), 0);
	fw_free(fw);
	free(m.g);
	kernel_reset();
}

/*
 * A reconcile to the state the context already holds (the periodic one) keeps
 * the context's own copy: the kernel is checked and kept, ended grants the
 * context still held are forgotten, and a state that differs in anything still
 * takes the whole path.
 */
static void
test_reconcile_current_state(void **state)
{
	struct fw_vm vm = vm_local(1);
	int64_t end = time_now_ms() + 600000;
	struct fw_grant g[] = {
		grant("r1", 1, "10.0.0.5", NET_PROTO_TCP, 22, end),
		grant("r2", 1, "10.0.0.0/24", NET_PROTO_TCP, 22, end + 1000),
		grant("r3", 1, "fd00::7", NET_PROTO_TCP, 22, time_now_ms() + 50),	/* ends during the test */
	};
	struct model m = { &vm, 1, local_ports, 1, NULL, 0 };
	struct fw_changes ch = { 0 };
	struct core_error err = { 0 };
	struct fw_state st;
	struct fw *fw;
	size_t applied, n_elems;

	model_update(&m, g, 3, NULL, 0);
	fw = fw_synced(&m);
	n_elems = kernel.n;
	assert_int_equal(fw_grants_held(fw), 3);
	sleep_ms(100);
	model_update(&m, NULL, 0, &g[2], 1);	/* the store no longer lists r3: it has ended */

	/* the same live state: everything kept, r3 forgotten */
	st = model_state(&m);
	applied = kernel.applied;
	assert_int_equal(fw_reconcile(fw, &st, &ch, &err), 0);
	assert_int_equal(kernel.applied, applied + 1);	/* the table is declared again all the same */
	assert_int_equal(ch.added + ch.updated, 0);
	assert_int_equal(ch.removed, 1);	/* r3's element: the test kernel, unlike Linux, never expires one */
	assert_int_equal(ch.kept, n_elems - 1);
	assert_int_equal(fw_grants_held(fw), 2);
	assert_kernel_is_model(&m);
	update_and_check(fw, &m, &g[0], 1, NULL, 0);

	/* one end time differs: the whole path, and the kernel follows */
	m.g[1].end_ms += 60000;
	st = model_state(&m);
	assert_int_equal(fw_reconcile(fw, &st, &ch, &err), 0);
	assert_int_equal(ch.updated, 1);
	assert_kernel_is_model(&m);
	assert_int_equal(fw_grants_held(fw), 2);
	fw_free(fw);
	free(m.g);
	kernel_reset();
}

static void
test_update_remove_unknown(void **state)
{
	struct fw_vm vm = vm_local(1);
	struct model m = { &vm, 1, local_ports, 1, NULL, 0 };
	int64_t end = time_now_ms() + 600000;
	struct fw_grant live = grant("r1", 1, "10.0.0.5", NET_PROTO_TCP, 22, end);
	struct fw_grant unknown[] = {
		grant("r9", 1, "10.0.0.5", NET_PROTO_TCP, 22, end),	/* another id, the same source */
		grant("r1", 1, "10.0.0.5", NET_PROTO_TCP, 23, end),	/* r1, another port */
		grant("r1", 1, "10.0.0.5", NET_PROTO_UDP, 22, end),	/* r1, another protocol */
		grant("r1", 2, "10.0.0.5", NET_PROTO_TCP, 22, end),	/* r1, a VM there is not */
	};
	struct fw *fw = fw_synced(&m);
	size_t applied;

	update_and_check(fw, &m, &live, 1, NULL, 0);
	applied = kernel.applied;
	update_and_check(fw, &m, NULL, 0, unknown, 4);
	assert_int_equal(kernel.applied, applied);
	assert_int_equal(fw_grants_held(fw), 1);
	fw_free(fw);
	free(m.g);
	kernel_reset();
}

static void
test_update_prunes_ended_grants_of_touched_keys(void **state)
{
	struct fw_vm vm = vm_local(1);
	struct fw_port ports[] = { { .vm = 1, .proto = NET_PROTO_TCP, .port = 22 }, { .vm = 1, .proto = NET_PROTO_TCP, .port = 23 } };
	struct model m = { &vm, 1, ports, 2, NULL, 0 };
	int64_t now = time_now_ms(), soon = now + 150, end = now + 600000;
	struct fw_grant first[] = {
		grant("a", 1, "10.0.0.5", NET_PROTO_TCP, 22, soon),
		grant("b", 1, "10.0.0.0/24", NET_PROTO_TCP, 22, soon),
		grant("s", 1, "*", NET_PROTO_TCP, 22, soon),		/* on both interval groups' "any" home */
		grant("c", 1, "10.0.0.7", NET_PROTO_TCP, 23, soon),	/* another port: not touched below */
		grant("d", 1, "10.0.0.9", NET_PROTO_TCP, 22, end),
	};
	struct fw_grant second[] = {
		grant("e", 1, "10.0.0.0/25", NET_PROTO_TCP, 22, end),	/* b's and s's group */
		grant("f", 1, "10.0.0.5", NET_PROTO_TCP, 22, end),	/* a's key */
		grant("g", 1, "10.0.0.8", NET_PROTO_TCP, 22, now - 1),	/* over already: not kept */
	};
	struct fw_state st;
	struct core_error err = { 0 };
	struct fw_changes ch;
	struct fw *fw = fw_synced(&m);

	update_and_check(fw, &m, first, 5, NULL, 0);
	assert_int_equal(fw_grants_held(fw), 5);
	sleep_ms(300);
	/* a, b and s have ended: they imply nothing, so the batch only adds; they are forgotten, c lingers */
	update_and_check(fw, &m, second, 3, NULL, 0);
	assert_int_equal(kernel.n_last, 2);
	assert_int_equal(kernel.last[0].kind, FW_OP_ADD);
	assert_int_equal(fw_grants_held(fw), 4);	/* c, d, e, f */
	/* ended grants still answer to their identity: removing c sends nothing and forgets it */
	update_and_check(fw, &m, &first[3], 1, NULL, 0);	/* re-adding c, ended, replaces it by nothing */
	assert_int_equal(fw_grants_held(fw), 3);
	/* a whole-state call prunes everything that has ended */
	update_and_check(fw, &m, &second[0], 0, NULL, 0);
	st = model_state(&m);
	assert_int_equal(fw_set_state(fw, &st, &ch, &err), 0);
	assert_int_equal(ch.added + ch.removed + ch.updated, 0);
	assert_int_equal(fw_grants_held(fw), 3);
	fw_free(fw);
	free(m.g);
	kernel_reset();
}

static void
test_update_failure_changes_nothing(void **state)
{
	struct fw_vm vm = vm_local(1);
	struct model m = { &vm, 1, local_ports, 1, NULL, 0 };
	int64_t end = time_now_ms() + 600000;
	struct fw_grant g[] = {
		grant("r1", 1, "10.0.0.5", NET_PROTO_TCP, 22, end),
		grant("r2", 1, "10.0.0.6", NET_PROTO_TCP, 22, end),
		grant("r3", 7, "10.0.0.7", NET_PROTO_TCP, 22, end),	/* no such VM */
		grant("r1", 1, "10.0.0.8", NET_PROTO_TCP, 22, end),
	};
	struct core_error err = { 0 };
	struct fw_changes ch;
	struct fw *fw = fw_synced(&m);
	size_t applied;

	update_and_check(fw, &m, g, 2, NULL, 0);
	/* an invalid grant: refused by name before the kernel is asked */
	applied = kernel.applied;
	assert_int_equal(fw_grant_update(fw, &g[2], 1, &g[0], 1, &ch, &err), -EINVAL);
	assert_non_null(strstr(err.message, "no such VM"));
	assert_int_equal(kernel.applied, applied);
	assert_int_equal(fw_grants_held(fw), 2);
	/* the kernel refuses the update and the reconcile after it: nothing changes anywhere */
	kernel.refuse = 2;
	assert_int_equal(fw_grant_update(fw, &g[3], 1, &g[1], 1, &ch, &err), -EIO);
	assert_string_equal(err.code, FW_ERR_REJECTED);
	assert_int_equal(kernel.applied, applied);
	assert_int_equal(fw_grants_held(fw), 2);
	assert_kernel_is_model(&m);
	/* the next update is still diffed against the state before the failures */
	update_and_check(fw, &m, &g[3], 1, &g[1], 1);
	/* refused once: the fallback reconcile (which reads the kernel back) gets it right */
	kernel.refuse = 1;
	memset(&ch, 0, sizeof(ch));
	model_update(&m, &g[1], 1, &g[3], 1);
	assert_int_equal(fw_grant_update(fw, &g[1], 1, &g[3], 1, &ch, &err), 0);
	assert_int_equal(ch.added, 1);
	assert_int_equal(ch.removed, 1);
	assert_int_equal(ch.kept, 1);	/* a reconcile says what it found right */
	assert_kernel_is_model(&m);
	assert_int_equal(fw_grants_held(fw), 1);
	fw_free(fw);
	free(m.g);
	kernel_reset();
}

/* A small deterministic generator, so that a failure repeats. */
static uint32_t
rnd(uint64_t *s, uint32_t n)
{
	*s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
	return (uint32_t)(*s >> 33) % n;
}

static struct fw_grant
random_grant_of(uint64_t *s, int64_t now, uint32_t n_vms)
{
	static const char *const sources[] = {
		"10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.1.1", "fd00::1", "fd00::2",
		"10.0.0.0/24", "10.0.0.0/25", "10.0.0.128/26", "10.0.0.0/16", "fd00::/64", "fd00::/120", "*",
	};
	static const uint16_t port_of[] = { 22, 3389, 5000, 8080 };
	static const enum net_proto protos[] = { NET_PROTO_TCP, NET_PROTO_UDP, NET_PROTO_ANY };
	const char *src;
	char id[16];
	int64_t end;
	uint32_t h = rnd(s, 1000);

	/* mostly a /32 of its own (many small keys), else one from the shared list */
	if (h < 600) {
		static char addr[32];

		snprintf(addr, sizeof(addr), "10.%u.%u.%u", 100 + rnd(s, 4), rnd(s, 256), rnd(s, 256));
		src = addr;
	} else {
		src = sources[rnd(s, sizeof(sources) / sizeof(sources[0]))];
	}
	end = rnd(s, 20) ? now + 60000 + rnd(s, 3600000) : now - 1;	/* now and then over already */
	snprintf(id, sizeof(id), "r%u", rnd(s, 400));	/* few ids: replacing by identity is common */
	return grant(id, 1 + rnd(s, n_vms), src, protos[rnd(s, 3)], port_of[rnd(s, 4)], end);
}

static struct fw_grant
random_grant(uint64_t *s, int64_t now)
{
	return random_grant_of(s, now, 3);
}

static void
test_update_many_keys_matches_whole_state(void **state)
{
	struct fw_vm vms[] = { vm_local(1), vm_gateway(2, "10.9.0.2", "fd00:9::2"), vm_gateway(3, "10.9.0.3", NULL) };
	struct fw_port ports[] = { { .vm = 1, .proto = NET_PROTO_TCP, .port = 22 }, { .vm = 2, .proto = NET_PROTO_ANY, .port = 3389 }, { .vm = 3, .proto = NET_PROTO_UDP, .port = 5000 } };
	struct model m = { vms, 3, ports, 3, NULL, 0 };
	struct fw_grant add[8], rm[4];
	struct fw_state st;
	struct core_error err = { 0 };
	struct fw_changes ch;
	uint64_t seed = 42;
	int64_t now = time_now_ms();
	size_t i, k, n_add, n_rm, live = 0;
	struct fw *fw;

	/* a few thousand grants to start with, on many (vm, port, source) keys */
	m.g = calloc(3000, sizeof(*m.g));
	assert_non_null(m.g);
	for (i = 0; i < 3000; i++) {
		m.g[i] = random_grant(&seed, now);
		snprintf(m.g[i].request_id, sizeof(m.g[i].request_id), "base%zu", i);
	}
	m.n = 3000;
	fw = fw_synced(&m);
	for (i = 0; i < 400; i++) {
		n_add = rnd(&seed, 9);
		n_rm = rnd(&seed, 4);
		for (k = 0; k < n_add; k++)
			add[k] = random_grant(&seed, now);
		for (k = 0; k < n_rm; k++) {
			/* a live grant, by identity and perhaps another source, or one that is not there */
			rm[k] = rnd(&seed, 3) ? m.g[rnd(&seed, (uint32_t)m.n)] : random_grant(&seed, now);
			if (rnd(&seed, 2))
				rm[k].source = random_grant(&seed, now).source;
		}
		update_and_check(fw, &m, add, n_add, rm, n_rm);
	}
	/* the context agrees with the model about the whole state: nothing to change */
	for (i = 0; i < m.n; i++)
		live += m.g[i].end_ms - time_now_ms() >= FW_TIMEOUT_MIN_MS;
	assert_true(fw_grants_held(fw) >= live && fw_grants_held(fw) <= m.n);
	st = model_state(&m);
	assert_int_equal(fw_set_state(fw, &st, &ch, &err), 0);
	assert_int_equal(ch.added + ch.removed + ch.updated, 0);
	assert_int_equal(fw_grants_held(fw), live);
	fw_free(fw);
	free(m.g);
	kernel_reset();
}

/* The element of `key`'s kernel key in the test kernel, or NULL. */
static const struct fw_elem *
kernel_elem(const struct fw_elem *key)
{
	size_t k = kernel_find(key);

	return k == SIZE_MAX ? NULL : &kernel.elems[k];
}

/*
 * Grants of different VMs on one kernel key (issue 11, items 7 and 8): two
 * local VMs (after a vm_name change) share every key, two gateway VMs share
 * the keys of an address they both have. Revoking one grant leaves the
 * element for the other, ending at the other's end; the element always ends
 * at the latest end of the grants that live on its key.
 */
static void
test_update_shared_key_across_vms(void **state)
{
	struct fw_vm vms[] = { vm_local(1), vm_local(2), vm_gateway(3, "10.9.0.3", NULL),
			       vm_gateway(4, "10.9.0.4", "10.9.0.3") };
	struct fw_port ports[] = { { .vm = 1, .proto = NET_PROTO_TCP, .port = 22 }, { .vm = 2, .proto = NET_PROTO_TCP, .port = 22 }, { .vm = 3, .proto = NET_PROTO_TCP, .port = 22 },
				   { .vm = 4, .proto = NET_PROTO_TCP, .port = 22 } };
	struct model m = { vms, 4, ports, 4, NULL, 0 };
	int64_t now = time_now_ms();
	struct fw_grant g[] = {
		grant("old", 1, "10.0.0.5", NET_PROTO_TCP, 22, now + 60000),
		grant("new", 2, "10.0.0.5", NET_PROTO_TCP, 22, now + 120000),
		grant("gw3", 3, "10.1.1.1", NET_PROTO_TCP, 22, now + 120000),
		grant("gw4", 4, "10.1.1.1", NET_PROTO_TCP, 22, now + 60000),
		grant("net3", 3, "10.2.0.0/16", NET_PROTO_TCP, 22, now + 90000),
		grant("net4", 4, "10.2.0.0/24", NET_PROTO_TCP, 22, now + 30000),
	};
	struct fw_elem local = { .set = FW_SET_LOCAL_GRANT4, .proto = NET_PROTO_TCP, .port = 22 };
	struct fw_elem gw = { .set = FW_SET_GW_GRANT4, .proto = NET_PROTO_TCP, .port = 22 };
	const struct fw_elem *e;
	struct fw *fw = fw_synced(&m);

	local.src = g[0].source.prefix;
	gw.src = g[2].source.prefix;
	assert_int_equal(net_addr_parse("10.9.0.3", 8, &gw.dst, NULL), 0);

	/* two local VMs: the later end wins whichever came first, and the element outlives either revoke */
	update_and_check(fw, &m, &g[0], 1, NULL, 0);
	update_and_check(fw, &m, &g[1], 1, NULL, 0);
	assert_non_null(e = kernel_elem(&local));
	assert_int_equal(e->end_ms, g[1].end_ms);
	assert_string_equal(e->comment, "new");
	update_and_check(fw, &m, NULL, 0, &g[1], 1);
	assert_non_null(e = kernel_elem(&local));
	assert_int_equal(e->end_ms, g[0].end_ms);	/* shortened to the latest remaining end */
	assert_string_equal(e->comment, "old");
	update_and_check(fw, &m, &g[1], 1, NULL, 0);
	update_and_check(fw, &m, NULL, 0, &g[0], 1);
	assert_non_null(e = kernel_elem(&local));
	assert_int_equal(e->end_ms, g[1].end_ms);
	update_and_check(fw, &m, NULL, 0, &g[1], 1);
	assert_null(kernel_elem(&local));	/* no live grant needs it: gone */

	/* two gateway VMs sharing 10.9.0.3 */
	update_and_check(fw, &m, &g[2], 2, NULL, 0);
	assert_non_null(e = kernel_elem(&gw));
	assert_int_equal(e->end_ms, g[2].end_ms);
	update_and_check(fw, &m, NULL, 0, &g[2], 1);
	assert_non_null(e = kernel_elem(&gw));
	assert_int_equal(e->end_ms, g[3].end_ms);
	assert_string_equal(e->comment, "gw4");

	/* and their ranges, in one interval group: revoking the wider one leaves the narrower */
	update_and_check(fw, &m, &g[4], 2, NULL, 0);
	update_and_check(fw, &m, NULL, 0, &g[4], 1);
	gw.set = FW_SET_GW_GRANT4_NET;
	gw.src = g[5].source.prefix;
	assert_non_null(e = kernel_elem(&gw));
	assert_string_equal(e->comment, "net4");
	update_and_check(fw, &m, NULL, 0, &g[3], 1);
	update_and_check(fw, &m, NULL, 0, &g[5], 1);
	assert_int_equal(fw_grants_held(fw), 0);
	fw_free(fw);
	free(m.g);
	kernel_reset();
}

/*
 * A listing torn by a resize (an element twice, another missed) must neither
 * make the batch delete one key twice (the kernel refuses such a batch whole)
 * nor leave the missed element, a stray grant, in place: the set is flushed
 * and refilled with what it should hold, in the one batch.
 */
static void
test_reconcile_torn_listing(void **state)
{
	struct fw_vm vm = vm_local(1);
	int64_t end = time_now_ms() + 600000;
	struct fw_grant g[] = {
		grant("a", 1, "10.0.0.1", NET_PROTO_TCP, 22, end), grant("b", 1, "10.0.0.2", NET_PROTO_TCP, 22, end),
		grant("c", 1, "10.0.0.3", NET_PROTO_TCP, 22, end), grant("d", 1, "fd00::4", NET_PROTO_TCP, 22, end),
	};
	struct model m = { &vm, 1, local_ports, 1, NULL, 0 };
	struct fw_state st;
	struct core_error err = { 0 };
	struct fw_changes ch;
	struct fw *fw;
	size_t i, k;

	m.g = calloc(4, sizeof(*m.g));
	assert_non_null(m.g);
	memcpy(m.g, g, sizeof(g));
	m.n = 4;
	fw_free(fw_synced(&m));
	/* a fresh context (a restart) told that only "a" and "d" live: b and c must go; the listing misses c */
	m.g[1] = g[3];
	m.n = 2;
	kernel.torn = FW_SET_LOCAL_GRANT4 + 1;
	assert_int_equal(fw_new(&fw, &err), 0);
	st = model_state(&m);
	assert_int_equal(fw_reconcile(fw, &st, &ch, &err), 0);
	for (i = 0; i < kernel.n_last; i++)
		for (k = i + 1; k < kernel.n_last; k++)
			assert_false(kernel.last[i].kind == kernel.last[k].kind &&
				     !fw_elem_cmp_key(&kernel.last[i].elem, &kernel.last[k].elem));
	kernel.torn = 0;
	assert_kernel_is_model(&m);	/* c, which the listing missed, is gone too */
	fw_free(fw);
	free(m.g);
	kernel_reset();
}

/* Random updates where VMs share keys (two local VMs, two gateway VMs with a common address) match the whole state. */
static void
test_update_shared_keys_random(void **state)
{
	struct fw_vm vms[] = { vm_local(1), vm_local(2), vm_gateway(3, "10.9.0.3", "fd00:9::3"),
			       vm_gateway(4, "10.9.0.3", "10.9.0.4") };
	struct fw_port ports[] = { { .vm = 1, .proto = NET_PROTO_TCP, .port = 22 }, { .vm = 2, .proto = NET_PROTO_ANY, .port = 22 }, { .vm = 3, .proto = NET_PROTO_TCP, .port = 22 },
				   { .vm = 4, .proto = NET_PROTO_ANY, .port = 3389 } };
	struct model m = { vms, 4, ports, 4, NULL, 0 };
	struct fw_grant add[8], rm[4];
	uint64_t seed = 7;
	int64_t now = time_now_ms();
	size_t i, k, n_add, n_rm;
	struct fw *fw;

	m.g = calloc(1000, sizeof(*m.g));
	assert_non_null(m.g);
	for (i = 0; i < 1000; i++) {
		m.g[i] = random_grant_of(&seed, now, 4);
		snprintf(m.g[i].request_id, sizeof(m.g[i].request_id), "base%zu", i);
	}
	m.n = 1000;
	fw = fw_synced(&m);
	for (i = 0; i < 400; i++) {
		n_add = rnd(&seed, 9);
		n_rm = rnd(&seed, 4);
		for (k = 0; k < n_add; k++)
			add[k] = random_grant_of(&seed, now, 4);
		for (k = 0; k < n_rm; k++)
			rm[k] = rnd(&seed, 4) ? m.g[rnd(&seed, (uint32_t)m.n)] : random_grant_of(&seed, now, 4);
		update_and_check(fw, &m, add, n_add, rm, n_rm);
	}
	fw_free(fw);
	free(m.g);
	kernel_reset();
}

static void
test_reconcile_never_extends_kernel_timeout(void **state)
{
	struct fw_vm vm = vm_local(1);
	int64_t now = time_now_ms();
	struct fw_grant g = grant("r1", 1, "10.0.0.5", NET_PROTO_TCP, 22, now + 60000);
	struct fw_grant other = grant("r2", 1, "10.0.0.6", NET_PROTO_TCP, 22, now + 3660000);
	struct model m = { &vm, 1, local_ports, 1, NULL, 0 };
	struct fw_elem key = { .set = FW_SET_LOCAL_GRANT4, .proto = NET_PROTO_TCP, .port = 22 };
	const struct fw_elem *e;
	struct fw_state st;
	struct core_error err = { 0 };
	struct fw_changes ch;
	struct fw *fw;

	m.g = calloc(2, sizeof(*m.g));
	assert_non_null(m.g);
	m.g[0] = g;
	m.n = 1;
	fw_free(fw_synced(&m));	/* the kernel: r1's element, a minute left */
	m.g[0].end_ms = now + 3660000;	/* the store: an hour and a minute, by the stepped-back clock */
	m.g[1] = other;			/* and a grant the kernel never had */
	m.n = 2;
	assert_int_equal(fw_new(&fw, &err), 0);
	st = model_state(&m);
	assert_int_equal(fw_reconcile(fw, &st, &ch, &err), 0);
	assert_int_equal(ch.updated, 0);
	assert_int_equal(ch.added, 1);
	key.src = g.source.prefix;
	assert_non_null(e = kernel_elem(&key));
	assert_true(e->end_ms <= now + 60000);
	/* and later calls keep to it: a whole-state change, and an update on the same key */
	assert_int_equal(fw_set_state(fw, &st, &ch, &err), 0);
	assert_int_equal(ch.added + ch.updated + ch.removed, 0);
	{
		struct fw_grant more = grant("r3", 1, "10.0.0.5", NET_PROTO_UDP, 22, now + 30000);

		assert_int_equal(fw_grant_add(fw, &more, 1, &ch, &err), 0);
	}
	assert_non_null(e = kernel_elem(&key));
	assert_true(e->end_ms <= now + 60000);
	assert_int_equal(fw_reconcile(fw, &st, &ch, &err), 0);
	assert_non_null(e = kernel_elem(&key));
	assert_true(e->end_ms <= now + 60000);
	fw_free(fw);
	free(m.g);
	kernel_reset();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_update_replace_by_identity_other_source),
		cmocka_unit_test(test_reconcile_take),
		cmocka_unit_test(test_reconcile_current_state),
		cmocka_unit_test(test_update_remove_unknown),
		cmocka_unit_test(test_update_prunes_ended_grants_of_touched_keys),
		cmocka_unit_test(test_update_failure_changes_nothing),
		cmocka_unit_test(test_update_many_keys_matches_whole_state),
		cmocka_unit_test(test_update_shared_key_across_vms),
		cmocka_unit_test(test_update_shared_keys_random),
		cmocka_unit_test(test_reconcile_torn_listing),
		cmocka_unit_test(test_reconcile_never_extends_kernel_timeout),
	};

	return cmocka_run_group_tests_name("fw", tests, NULL, NULL);
}
