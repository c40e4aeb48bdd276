/* The agent protocol's bodies (codec-agent.h): a VM's desired state, an agent's status, a join and its answer. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/codec-agent.h"
#include "codec/codec-internal.h"
#include "core/armid.h"
#include "core/timeutil.h"

/* The characters a request id may carry into a kernel element's comment (the firewall checks the same). */
static bool
request_id_is_valid(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || n > FW_REQUEST_ID_MAX)
		return false;
	for (i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
		      c == '_' || c == ':' || c == '-'))
			return false;
	}
	return true;
}

/* obj[key] as an integer in [min, max]; absent: MissingField when required, else *ret is left alone. */
static int
get_int(json_t *obj, const char *base, const char *key, int64_t min, int64_t max, bool required, int64_t *ret,
	struct core_error *err)
{
	char target[ERROR_TARGET_MAX];
	json_t *v;
	int r;

	r = get_member(obj, base, key, JSON_INTEGER, required, &v, err);
	if (r != 0)
		return r < 0 ? r : 0;
	path_key(target, sizeof(target), base, key);
	if (json_integer_value(v) < min || json_integer_value(v) > max)
		return core_error_set(err, "InvalidValue", target, "%s must be between %lld and %lld.", target,
		    (long long)min, (long long)max);
	*ret = json_integer_value(v);
	return 0;
}

/* obj[key] as a string copied into buf; absent and optional: buf is left alone. */
static int
get_string(json_t *obj, const char *base, const char *key, char *buf, size_t size, bool required,
	   struct core_error *err)
{
	char target[ERROR_TARGET_MAX];
	json_t *v;
	int r;

	r = get_member(obj, base, key, JSON_STRING, required, &v, err);
	if (r != 0)
		return r < 0 ? r : 0;
	path_key(target, sizeof(target), base, key);
	return string_copy(v, buf, size, "InvalidValue", target, err);
}

/*
 * obj[key] as a time, cut down to Azure's 100 ns tick: that is all the wire carries (time_format_azure), so a
 * finer time a peer wrote decodes to what encoding it again would give.
 */
static int
get_time(json_t *obj, const char *base, const char *key, int64_t *ret, struct core_error *err)
{
	char target[ERROR_TARGET_MAX];
	int64_t ns;
	json_t *v;
	int r;

	r = get_member(obj, base, key, JSON_STRING, true, &v, err);
	if (r < 0)
		return r;
	path_key(target, sizeof(target), base, key);
	if (time_parse_rfc3339(json_string_value(v), json_string_length(v), &ns, err) < 0)
		return error_at(err, target);
	*ret = time_cut_to_tick(ns);
	return 0;
}

/* {"number", "protocol"} at target. */
static int
port_decode(json_t *v, const char *target, struct agent_port *ret, struct core_error *err)
{
	json_t *proto;
	int r;

	if (!json_is_object(v))
		return error_type(err, target, "an object");
	r = get_port(v, target, "number", &ret->number, err);
	if (r < 0)
		return r;
	r = get_member(v, target, "protocol", JSON_STRING, true, &proto, err);
	if (r < 0)
		return r;
	if (net_proto_parse(json_string_value(proto), json_string_length(proto), &ret->proto, err) < 0) {
		char t[ERROR_TARGET_MAX];

		path_key(t, sizeof(t), target, "protocol");
		return error_at(err, t);
	}
	return 0;
}

/*
 * A list of ports at obj[key], at most max, none overlapping another (same number, overlapping protocols).
 * A state must list its ports (an empty list is fine): a state without the member would unprotect them all.
 */
static int
ports_decode(json_t *obj, const char *key, bool required, struct agent_port *out, size_t max, size_t *ret_n,
	     struct core_error *err)
{
	char target[ERROR_TARGET_MAX];
	json_t *list, *v;
	size_t i, j;
	int r;

	r = get_member(obj, "", key, JSON_ARRAY, required, &list, err);
	if (r != 0) {
		if (r > 0)
			*ret_n = 0;
		return r < 0 ? r : 0;
	}
	if (json_array_size(list) > max)
		return core_error_set(err, "TooManyPorts", key, "%s lists %zu ports; at most %zu are allowed.", key,
		    json_array_size(list), max);
	json_array_foreach(list, i, v) {
		path_index(target, sizeof(target), key, i);
		r = port_decode(v, target, &out[i], err);
		if (r < 0)
			return r;
		for (j = 0; j < i; j++)
			if (out[j].number == out[i].number && net_proto_overlaps(out[j].proto, out[i].proto))
				return core_error_set(err, "DuplicatePort", target, "port %u/%s is listed twice.",
				    out[i].number, net_proto_name(out[i].proto));
	}
	*ret_n = json_array_size(list);
	return 0;
}

/* What a grant and a termination share: {"number", "protocol", "requestId", "source"} at target. */
static int
granted_decode(json_t *v, const char *target, char *request_id, struct net_source *source, struct agent_port *p,
	       struct core_error *err)
{
	char t[ERROR_TARGET_MAX];
	json_t *id, *src;
	int r;

	r = port_decode(v, target, p, err);
	if (r < 0)
		return r;
	r = get_member(v, target, "requestId", JSON_STRING, true, &id, err);
	if (r < 0)
		return r;
	if (!request_id_is_valid(json_string_value(id), json_string_length(id))) {
		path_key(t, sizeof(t), target, "requestId");
		return core_error_set(err, "InvalidRequestId", t,
		    "%s must be 1 to %d of the characters A-Z a-z 0-9 . _ : -", t, FW_REQUEST_ID_MAX);
	}
	memcpy(request_id, json_string_value(id), json_string_length(id));
	request_id[json_string_length(id)] = '\0';
	r = get_member(v, target, "source", JSON_STRING, true, &src, err);
	if (r < 0)
		return r;
	path_key(t, sizeof(t), target, "source");
	return source_from_json(src, t, source, err);
}

static int
grant_decode(json_t *v, const char *target, struct agent_grant *g, struct core_error *err)
{
	struct agent_port p;
	int r;

	r = granted_decode(v, target, g->request_id, &g->source, &p, err);
	if (r < 0)
		return r;
	g->proto = p.proto;
	g->port = p.number;
	r = get_time(v, target, "endTimeUtc", &g->end_ns, err);
	if (r < 0)
		return r;
	return get_int(v, target, "remainingMs", 0, FW_TIMEOUT_MAX_MS, true, &g->left_ms, err);
}

/* A termination made after the state's own revision cannot be: the state is refused. */
static int
termination_decode(json_t *v, const char *target, int64_t state_revision, struct agent_termination *t,
		   struct core_error *err)
{
	struct agent_port p;
	int r;

	r = granted_decode(v, target, t->request_id, &t->source, &p, err);
	if (r < 0)
		return r;
	t->proto = p.proto;
	t->port = p.number;
	return get_int(v, target, "revision", 1, state_revision, true, &t->revision, err);
}

static int
terminations_decode(json_t *root, struct agent_state *s, struct core_error *err)
{
	char target[ERROR_TARGET_MAX];
	json_t *list, *v;
	size_t i;
	int r;

	r = get_member(root, "", "terminations", JSON_ARRAY, false, &list, err);
	if (r != 0)
		return r < 0 ? r : 0;
	if (json_array_size(list) > AGENT_TERMINATIONS_MAX)
		return core_error_set(err, "TooManyTerminations", "terminations",
		    "terminations lists %zu terminations; at most %d are allowed.", json_array_size(list),
		    AGENT_TERMINATIONS_MAX);
	if (json_array_size(list) == 0)
		return 0;
	s->terminations = calloc(json_array_size(list), sizeof(*s->terminations));
	if (s->terminations == NULL)
		return -ENOMEM;
	json_array_foreach(list, i, v) {
		path_index(target, sizeof(target), "terminations", i);
		r = termination_decode(v, target, s->revision, &s->terminations[i], err);
		if (r < 0)
			return r;
		s->n_terminations = i + 1;
	}
	return 0;
}

static int
grants_decode(json_t *root, struct agent_state *s, struct core_error *err)
{
	char target[ERROR_TARGET_MAX];
	json_t *list, *v;
	size_t i;
	int r;

	r = get_member(root, "", "grants", JSON_ARRAY, false, &list, err);
	if (r != 0)
		return r < 0 ? r : 0;
	if (json_array_size(list) > AGENT_GRANTS_MAX)
		return core_error_set(err, "TooManyGrants", "grants", "grants lists %zu grants; at most %d are allowed.",
		    json_array_size(list), AGENT_GRANTS_MAX);
	if (json_array_size(list) == 0)
		return 0;
	s->grants = calloc(json_array_size(list), sizeof(*s->grants));
	if (s->grants == NULL)
		return -ENOMEM;
	json_array_foreach(list, i, v) {
		path_index(target, sizeof(target), "grants", i);
		r = grant_decode(v, target, &s->grants[i], err);
		if (r < 0)
			return r;
		s->n_grants = i + 1;
	}
	return 0;
}

static int
vm_id_decode(json_t *root, char *buf, size_t size, struct core_error *err)
{
	struct arm_vm_id id;
	json_t *v;
	int r;

	r = get_member(root, "", "vm", JSON_STRING, true, &v, err);
	if (r < 0)
		return r;
	if (arm_vm_id_parse(json_string_value(v), json_string_length(v), &id, err) < 0)
		return error_at(err, "vm");
	return string_copy(v, buf, size, "InvalidValue", "vm", err);
}

int
codec_agent_state_decode(const char *body, size_t n, struct agent_state **ret, struct core_error *err)
{
	struct agent_state *s = NULL;
	json_t *root = NULL;
	int r;

	r = body_load_max(body, n, AGENT_STATE_BODY_MAX, &root, err);
	if (r < 0)
		goto out;
	s = calloc(1, sizeof(*s));
	r = -ENOMEM;
	if (s == NULL || (s->ports = calloc(AGENT_PORTS_MAX, sizeof(*s->ports))) == NULL)
		goto out;
	if ((r = vm_id_decode(root, s->vm, sizeof(s->vm), err)) < 0 ||
	    (r = get_int(root, "", "revision", 0, INT64_MAX, true, &s->revision, err)) < 0 ||
	    (r = get_time(root, "", "serverTimeUtc", &s->server_ns, err)) < 0 ||
	    (r = ports_decode(root, "ports", true, s->ports, AGENT_PORTS_MAX, &s->n_ports, err)) < 0 ||
	    (r = grants_decode(root, s, err)) < 0 || (r = terminations_decode(root, s, err)) < 0)
		goto out;
	*ret = s;
	s = NULL;
out:
	codec_agent_state_free(s);
	json_decref(root);
	return r;
}

void
codec_agent_state_free(struct agent_state *s)
{
	if (s == NULL)
		return;
	free(s->ports);
	free(s->grants);
	free(s->terminations);
	free(s);
}

static json_t *
time_to_json(int64_t ns)
{
	char buf[TIME_FORMAT_SIZE];

	if (time_format_azure(ns, buf, sizeof(buf)) < 0)
		return NULL;
	return json_string(buf);
}

static json_t *
port_to_json(enum net_proto proto, uint16_t number)
{
	return json_pack("{s:I, s:s}", "number", (json_int_t)number, "protocol", net_proto_name(proto));
}

/* What a grant and a termination share: {"number", "protocol", "requestId", "source"}. */
static json_t *
granted_to_json(const char *request_id, const struct net_source *source, enum net_proto proto, uint16_t port)
{
	json_t *o = port_to_json(proto, port);

	if (o == NULL || put(o, "requestId", json_string(request_id)) < 0 || put(o, "source", source_to_json(source)) < 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static json_t *
grant_to_json(const struct agent_grant *g)
{
	json_t *o = granted_to_json(g->request_id, &g->source, g->proto, g->port);

	if (o == NULL || put(o, "endTimeUtc", time_to_json(g->end_ns)) < 0 ||
	    put(o, "remainingMs", json_integer(g->left_ms)) < 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static json_t *
termination_to_json(const struct agent_termination *t)
{
	json_t *o = granted_to_json(t->request_id, &t->source, t->proto, t->port);

	if (o == NULL || put(o, "revision", json_integer(t->revision)) < 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static json_t *
ports_to_json(const struct agent_port *p, size_t n)
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; a != NULL && i < n; i++)
		if (push(a, port_to_json(p[i].proto, p[i].number)) < 0) {
			json_decref(a);
			return NULL;
		}
	return a;
}

/* Only a state with terminations has the member: a state without is as it was before they existed. */
static json_t *
terminations_to_json(const struct agent_termination *t, size_t n)
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; a != NULL && i < n; i++)
		if (push(a, termination_to_json(&t[i])) < 0) {
			json_decref(a);
			return NULL;
		}
	return a;
}

json_t *
codec_agent_state_encode(const struct agent_state *s)
{
	json_t *o = json_object(), *grants = json_array();
	size_t i;

	if (o == NULL || grants == NULL || put(o, "vm", json_string(s->vm)) < 0 ||
	    put(o, "revision", json_integer(s->revision)) < 0 ||
	    put(o, "serverTimeUtc", time_to_json(s->server_ns)) < 0 ||
	    put(o, "ports", ports_to_json(s->ports, s->n_ports)) < 0)
		goto fail;
	for (i = 0; i < s->n_grants; i++)
		if (push(grants, grant_to_json(&s->grants[i])) < 0)
			goto fail;
	if (put(o, "grants", grants) < 0) {
		grants = NULL;
		goto fail;
	}
	grants = NULL;
	if (s->n_terminations && put(o, "terminations", terminations_to_json(s->terminations, s->n_terminations)) < 0)
		goto fail;
	return o;
fail:
	json_decref(grants);
	json_decref(o);
	return NULL;
}

static int
addresses_decode(json_t *root, struct agent_status *s, struct core_error *err)
{
	char target[ERROR_TARGET_MAX];
	json_t *list, *v;
	size_t i;
	int r;

	r = get_member(root, "", "addresses", JSON_ARRAY, false, &list, err);
	if (r != 0)
		return r < 0 ? r : 0;
	if (json_array_size(list) > API_ADDRS_MAX)
		return core_error_set(err, "TooManyAddresses", "addresses",
		    "addresses lists %zu addresses; at most %d are allowed.", json_array_size(list), API_ADDRS_MAX);
	json_array_foreach(list, i, v) {
		path_index(target, sizeof(target), "addresses", i);
		if (!json_is_string(v))
			return error_type(err, target, "a string");
		if (net_addr_parse(json_string_value(v), json_string_length(v), &s->addrs[i], err) < 0)
			return error_at(err, target);
	}
	s->n_addrs = json_array_size(list);
	return 0;
}

static int
kernel_decode(json_t *root, struct agent_status *s, struct core_error *err)
{
	json_t *k, *sup;
	int r;

	r = get_member(root, "", "kernel", JSON_OBJECT, true, &k, err);
	if (r < 0)
		return r;
	r = get_member(k, "kernel", "supported", JSON_TRUE, true, &sup, err);
	if (r < 0)
		return r;
	s->supported = json_is_true(sup);
	return get_string(k, "kernel", "reason", s->reason, sizeof(s->reason), false, err);
}

/* The status fields of obj into a zeroed s (revision -1 until an agent has applied a state). */
static int
status_fields_decode(json_t *root, struct agent_status *s, struct core_error *err)
{
	int r;

	s->revision = -1;
	if ((r = get_int(root, "", "revision", -1, INT64_MAX, true, &s->revision, err)) < 0 ||
	    (r = get_string(root, "", "version", s->version, sizeof(s->version), true, err)) < 0 ||
	    (r = kernel_decode(root, s, err)) < 0 || (r = addresses_decode(root, s, err)) < 0 ||
	    (r = ports_decode(root, "listening", false, s->listening, AGENT_LISTENING_MAX, &s->n_listening, err)) < 0 ||
	    (r = get_int(root, "", "tamperUndone", 0, INT64_MAX, false, &s->tamper_undone, err)) < 0 ||
	    (r = get_string(root, "", "error", s->error, sizeof(s->error), false, err)) < 0)
		return r;
	return 0;
}

int
codec_agent_status_decode(const char *body, size_t n, struct agent_status *ret, struct core_error *err)
{
	struct agent_status s = {0};
	json_t *root = NULL;
	int r;

	r = body_load(body, n, &root, err);
	if (r >= 0)
		r = status_fields_decode(root, &s, err);
	if (r >= 0)
		*ret = s;
	json_decref(root);
	return r < 0 ? r : 0;
}

/* The status fields into o (shared by a status and a join). */
static int
status_fields_encode(json_t *o, const struct agent_status *s)
{
	char buf[NET_ADDR_TEXT_MAX];
	json_t *addrs = json_array();
	size_t i;

	if (put(o, "revision", json_integer(s->revision)) < 0 || put(o, "version", json_string(s->version)) < 0 ||
	    put(o, "kernel", json_pack("{s:b, s:s}", "supported", s->supported, "reason", s->reason)) < 0)
		goto fail;
	for (i = 0; addrs != NULL && i < s->n_addrs; i++)
		if (net_addr_format(&s->addrs[i], buf, sizeof(buf)) < 0 || push(addrs, json_string(buf)) < 0)
			goto fail;
	if (put(o, "addresses", addrs) < 0)
		return -ENOMEM;
	if (put(o, "listening", ports_to_json(s->listening, s->n_listening)) < 0 ||
	    put(o, "tamperUndone", json_integer(s->tamper_undone)) < 0 || put(o, "error", json_string(s->error)) < 0)
		return -ENOMEM;
	return 0;
fail:
	json_decref(addrs);
	return -ENOMEM;
}

json_t *
codec_agent_status_encode(const struct agent_status *s)
{
	json_t *o = json_object();

	if (o == NULL || status_fields_encode(o, s) < 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}

int
codec_agent_join_decode(const char *body, size_t n, struct agent_join *ret, struct core_error *err)
{
	struct agent_join j = {0};
	json_t *root = NULL, *os;
	int r;

	r = body_load(body, n, &root, err);
	if (r < 0)
		goto out;
	r = get_string(root, "", "name", j.name, sizeof(j.name), true, err);
	if (r < 0)
		goto out;
	r = arm_vm_name_validate(j.name, strlen(j.name), err);
	if (r < 0) {
		error_at(err, "name");
		goto out;
	}
	r = get_member(root, "", "osType", JSON_STRING, false, &os, err);
	if (r < 0)
		goto out;
	if (os != NULL) {
		if (strcmp(json_string_value(os), "Linux") != 0 && strcmp(json_string_value(os), "Windows") != 0) {
			r = core_error_set(err, "InvalidOsType", "osType", "osType must be \"Linux\" or \"Windows\".");
			goto out;
		}
		snprintf(j.os_type, sizeof(j.os_type), "%s", json_string_value(os));
	}
	r = status_fields_decode(root, &j.status, err);
	if (r >= 0)
		*ret = j;
out:
	json_decref(root);
	return r < 0 ? r : 0;
}

json_t *
codec_agent_join_encode(const struct agent_join *j)
{
	json_t *o = json_object();

	if (o == NULL || put(o, "name", json_string(j->name)) < 0 ||
	    (j->os_type[0] != '\0' && put(o, "osType", json_string(j->os_type)) < 0) ||
	    status_fields_encode(o, &j->status) < 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}

int
codec_agent_joined_decode(const char *body, size_t n, struct agent_joined *ret, struct core_error *err)
{
	struct agent_joined j = {0};
	json_t *root = NULL;
	int r;

	r = body_load(body, n, &root, err);
	if (r >= 0 && (r = vm_id_decode(root, j.vm, sizeof(j.vm), err)) >= 0 &&
	    (r = get_string(root, "", "credential", j.credential, sizeof(j.credential), true, err)) >= 0 &&
	    (r = get_int(root, "", "revision", 0, INT64_MAX, true, &j.revision, err)) >= 0)
		*ret = j;
	json_decref(root);
	return r < 0 ? r : 0;
}

json_t *
codec_agent_joined_encode(const struct agent_joined *j)
{
	return json_pack("{s:s, s:s, s:I}", "vm", j->vm, "credential", j->credential, "revision",
	    (json_int_t)j->revision);
}
