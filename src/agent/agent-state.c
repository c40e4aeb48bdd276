/* The agent's desired state: from the wire's struct agent_state to the fw's, and state.json on disk. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "agent/agent-file.h"
#include "agent/agent-floor.h"
#include "agent/agent-limits.h"
#include "agent/agent-net.h"
#include "agent/agent-state.h"
#include "codec/codec.h"
#include "core/armid.h"
#include "core/timeutil.h"
#include "fw/fw-model.h"

#define STATE_FILE_MODE	0600

void
agent_fw_free(struct agent_fw *f)
{
	if (!f)
		return;
	free(f->vms);
	free(f->ports);
	free(f->grants);
	memset(f, 0, sizeof(*f));
}

int64_t
agent_grant_end_ms(const struct agent_grant *g, int64_t received_ms)
{
	int64_t end = time_ns_to_ms(g->end_ns), left = g->left_ms;

	if (left < 0)
		left = 0;
	if (left > FW_TIMEOUT_MAX_MS)
		left = FW_TIMEOUT_MAX_MS;
	if (received_ms > INT64_MAX - left)
		return end;
	return received_ms + left < end ? received_ms + left : end;
}

static int
vm_check(const char *have, const char *want, struct core_error *err)
{
	struct arm_vm_id a, b;

	if (arm_vm_id_parse(want, strlen(want), &b, err) < 0) {
		core_error_prefix_target(err, "agent.conf");
		return -EINVAL;
	}
	if (arm_vm_id_parse(have, strlen(have), &a, err) < 0 || !arm_vm_id_equal(&a, &b))
		return core_error_set(err, AGENT_ERR_WRONG_VM, "vm", "the state is for another virtual machine "
				      "than this agent's (%.200s)", want);
	return 0;
}

int
agent_state_to_fw(const struct agent_state *s, const char *vm, int64_t received_ms, int64_t now_ms,
		  struct agent_fw *ret, struct core_error *err)
{
	struct agent_fw f = { 0 };
	struct fw_elem *elems = NULL;
	struct fw_state st;
	size_t i, n_elems = 0;
	int r;

	if ((r = vm_check(s->vm, vm, err)) < 0)
		return r;
	if (s->n_ports > AGENT_PORTS_MAX || s->n_grants > AGENT_GRANTS_MAX)
		return core_error_set(err, AGENT_ERR_STATE, "", "the state has more ports or grants than an agent takes");
	/* a wall clock stepped back since the state came must not lengthen what remainingMs allowed */
	if (received_ms > now_ms)
		received_ms = now_ms;
	f.vms = calloc(1, sizeof(*f.vms));
	f.ports = calloc(s->n_ports ? s->n_ports : 1, sizeof(*f.ports));
	f.grants = calloc(s->n_grants ? s->n_grants : 1, sizeof(*f.grants));
	if (!f.vms || !f.ports || !f.grants) {
		r = -ENOMEM;
		goto out;
	}
	f.n_vms = 1;
	f.vms[0].id = AGENT_FW_VM;
	f.vms[0].point = FW_POINT_LOCAL;
	for (i = 0; i < s->n_ports; i++)
		f.ports[i] = (struct fw_port){ .vm = AGENT_FW_VM, .proto = s->ports[i].proto, .port = s->ports[i].number };
	f.n_ports = s->n_ports;
	for (i = 0; i < s->n_grants; i++) {
		const struct agent_grant *g = &s->grants[i];
		struct fw_grant *o = &f.grants[i];

		if (!g->source.any && !net_prefix_is_valid(&g->source.prefix)) {
			r = core_error_set(err, AGENT_ERR_STATE, "grants", "grant %zu has a bad source", i);
			goto out;
		}
		o->vm = AGENT_FW_VM;
		o->source = g->source;
		o->proto = g->proto;
		o->port = g->port;
		o->end_ms = agent_grant_end_ms(g, received_ms);
		memcpy(o->request_id, g->request_id, sizeof(o->request_id));
		o->request_id[sizeof(o->request_id) - 1] = '\0';
	}
	f.n_grants = s->n_grants;
	/* the fw's own verdict, from its pure model: what it would refuse is refused here, before the kernel */
	st = (struct fw_state){ f.vms, f.n_vms, f.ports, f.n_ports, f.grants, f.n_grants };
	if ((r = fw_state_elems(&st, now_ms, &elems, &n_elems, err)) < 0) {
		if (r == -EINVAL && err)
			memcpy(err->code, AGENT_ERR_STATE, sizeof(AGENT_ERR_STATE));
		goto out;
	}
	*ret = f;
	memset(&f, 0, sizeof(f));
	r = 0;
out:
	free(elems);
	agent_fw_free(&f);
	return r;
}

int
agent_terminations_due(const struct agent_state *s, int64_t after, struct fw_grant **ret, size_t *ret_n)
{
	struct fw_grant *v = NULL;
	size_t i, n = 0;

	*ret = NULL;
	*ret_n = 0;
	for (i = 0; i < s->n_terminations; i++) {
		const struct agent_termination *t = &s->terminations[i];
		struct fw_grant *o;

		if (t->revision <= after || (!t->source.any && !net_prefix_is_valid(&t->source.prefix)))
			continue;
		if (!v && !(v = calloc(s->n_terminations, sizeof(*v))))
			return -ENOMEM;
		o = &v[n++];
		o->vm = AGENT_FW_VM;
		o->source = t->source;
		o->proto = t->proto;
		o->port = t->port;
		memcpy(o->request_id, t->request_id, sizeof(o->request_id));
		o->request_id[sizeof(o->request_id) - 1] = '\0';
	}
	*ret = v;
	*ret_n = n;
	return 0;
}

/* ---- state.json ---- */

int
agent_state_file_encode(const char *body, size_t n, int64_t received_ms, struct buf *out)
{
	char when[TIME_FORMAT_SIZE];
	int r;

	if ((r = time_format_rfc3339(time_ms_to_ns(received_ms), when, sizeof(when))) < 0)
		return r;
	if ((r = buf_printf(out, "{\"receivedTimeUtc\":\"%s\",\"state\":", when)) < 0 ||
	    (r = buf_append(out, body, n)) < 0 || (r = buf_append(out, "}\n", 2)) < 0)
		return r;
	return 0;
}

int
agent_state_file_decode(const char *text, size_t n, struct agent_state **ret, int64_t *ret_received_ms,
			struct core_error *err)
{
	json_t *root = NULL, *when, *state;
	json_error_t jerr;
	struct agent_state *s = NULL;
	char *body = NULL;
	size_t len;
	int64_t ns;
	int r;

	if (n > AGENT_STATE_FILE_MAX)
		return core_error_set(err, AGENT_ERR_STATE, "", "state.json is larger than %d bytes", AGENT_STATE_FILE_MAX);
	root = json_loadb(n ? text : "", n, JSON_REJECT_DUPLICATES, &jerr);
	if (!root || !json_is_object(root)) {
		r = core_error_set(err, AGENT_ERR_STATE, "", "state.json is not a JSON object");
		goto out;
	}
	when = json_object_get(root, "receivedTimeUtc");
	state = json_object_get(root, "state");
	if (!json_is_string(when) || !json_is_object(state)) {
		r = core_error_set(err, AGENT_ERR_STATE, "", "state.json needs \"receivedTimeUtc\" (a time) and "
				   "\"state\" (an object)");
		goto out;
	}
	if ((r = time_parse_rfc3339(json_string_value(when), json_string_length(when), &ns, err)) < 0) {
		core_error_prefix_target(err, "receivedTimeUtc");
		goto out;
	}
	if (!(body = codec_dump(state, &len))) {
		r = -ENOMEM;
		goto out;
	}
	if ((r = codec_agent_state_decode(body, len, &s, err)) < 0) {
		core_error_prefix_target(err, "state");
		goto out;
	}
	*ret = s;
	*ret_received_ms = time_ns_to_ms(ns);
	r = 0;
out:
	free(body);
	json_decref(root);
	return r;
}

/*
 * A state that could not be saved must never let an older, more permissive
 * state.json be enforced after a restart (a grant revoked since reopened until
 * a server answers). So: state.floor (preallocated, set in place, which needs
 * no room) holds the newest ports without grants, and outranks an older
 * state.json at load; failing that, state.json is renamed aside (which needs no
 * room either) and read back without its grants.
 */
int
agent_state_save(int dirfd, const struct agent_state *s, const char *body, size_t n, int64_t received_ms,
		 struct core_error *err)
{
	struct buf b = { .max = AGENT_STATE_FILE_MAX };
	const char *what;
	int r;

	if ((r = agent_state_file_encode(body, n, received_ms, &b)) >= 0 &&
	    (r = agent_file_write(dirfd, AGENT_STATE_FILE, b.data, b.len, STATE_FILE_MODE)) >= 0) {
		buf_free(&b);
		/*
		 * state.json is the newest now. A floor left set by a failure here is
		 * harmless: at load it counts only when its revision is the higher.
		 */
		agent_floor_clear(dirfd);
		unlinkat(dirfd, AGENT_STATE_VOID_FILE, 0);
		return 0;
	}
	buf_free(&b);
	if (agent_floor_set(dirfd, s) == 0)
		what = "a restart enforces this revision's ports with no grants until a server answers (" AGENT_FLOOR_FILE ")";
	else if ((renameat(dirfd, AGENT_STATE_FILE, dirfd, AGENT_STATE_VOID_FILE) == 0 || errno == ENOENT) &&
		 fsync(dirfd) == 0)
		what = "nor " AGENT_FLOOR_FILE "; the older state is set aside (" AGENT_STATE_VOID_FILE "): a restart "
		       "enforces its ports with no grants until a server answers";
	else
		what = "nor " AGENT_FLOOR_FILE ", nor could the older one be set aside: a restart would enforce it";
	return core_error_set(err, AGENT_ERR_STATE, AGENT_STATE_FILE, "cannot write %s (%s); %s", AGENT_STATE_FILE,
			      strerror(-r), what), r;
}

/* One saved state file: read and decoded. */
static int
state_read(int dirfd, const char *name, struct agent_state **ret, int64_t *ret_received_ms, struct core_error *err)
{
	char *text = NULL;
	size_t n;
	int r;

	r = agent_file_read(dirfd, name, AGENT_STATE_FILE_MAX, &text, &n);
	if (r < 0)
		return core_error_set(err, AGENT_ERR_STATE, name, "cannot read %s: %s", name,
				      r == -EFBIG ? "larger than the agent takes" : strerror(-r)),
		       r;
	r = agent_state_file_decode(text, n, ret, ret_received_ms, err);
	free(text);
	return r;
}

/* Which saved state counts: state.json (or the one set aside, voided), unless the floor is newer or torn. */
static int
state_pick(int dirfd, struct agent_state **s, int64_t *received, bool *voided, struct core_error *err)
{
	struct core_error ferr = { 0 };
	struct agent_state *f = NULL;
	int r, fr;

	*voided = false;
	r = state_read(dirfd, AGENT_STATE_FILE, s, received, err);
	if (r == -ENOENT && (r = state_read(dirfd, AGENT_STATE_VOID_FILE, s, received, err)) == 0)
		*voided = true;
	if (r < 0 && r != -ENOENT)
		return r;
	fr = agent_floor_read(dirfd, &f, &ferr);
	if (fr < 0) {
		/* torn: a newer state was being recorded, so what the saved one grants is void */
		*voided = true;
	} else if (fr == 1 && (!*s || f->revision > (*s)->revision)) {
		if (!*s)
			*received = time_now_ms();
		codec_agent_state_free(*s);
		*s = f;
		*voided = true;
		return 0;
	}
	codec_agent_state_free(f);
	return *s ? 0 : r;
}

int
agent_state_load(int dirfd, struct agent_state **ret, int64_t *ret_received_ms, bool *ret_voided,
		 struct core_error *err)
{
	struct agent_state *s = NULL, *bare = NULL;
	int64_t received = 0;
	bool voided;
	int r;

	if ((r = state_pick(dirfd, &s, &received, &voided, err)) < 0)
		return r;
	if (voided && s->n_grants) {
		if ((r = agent_state_without_grants(s, &bare)) < 0) {
			codec_agent_state_free(s);
			return core_error_set(err, AGENT_ERR_STATE, AGENT_STATE_FILE, "out of memory"), r;
		}
		codec_agent_state_free(s);
		s = bare;
	}
	*ret = s;
	*ret_received_ms = received;
	if (ret_voided)
		*ret_voided = voided;
	return 0;
}
