/* Retention in the event loop: small prune batches (each exported to a JSON-lines file first) and the chain's head to the log. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "core/net.h"
#include "core/timeutil.h"
#include "daemon/log.h"
#include "daemon/retention.h"
#include "daemon/server.h"
#include "store/store-audit.h"
#include "store/store.h"

#define RETENTION_BACKLOG_PAUSE_NS	(50LL * TIME_NS_PER_MS)	/* between full batches: the API runs meanwhile */

void
retention_export_open(struct server *s)
{
	const char *path = s->cfg->retention.export_path;

	if (!path[0] || s->export_fd >= 0)
		return;
	s->export_fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (s->export_fd < 0) {
		s->export_err = -errno;
		logmsg("retention: cannot open prune_export %s: %s; nothing is pruned until jitgated is restarted and "
		       "can open it", path, strerror(errno));
	}
}

/*
 * Is fd still the file at path? A file renamed or removed since the start would take what is pruned out
 * of sight (or into nothing): -ESTALE then, and nothing is pruned.
 */
static int
export_still_there(int fd, const char *path)
{
	struct stat a, b;

	if (fstat(fd, &a) < 0)
		return -errno;
	if (stat(path, &b) < 0)
		return errno == ENOENT ? -ESTALE : -errno;
	return a.st_dev == b.st_dev && a.st_ino == b.st_ino && a.st_nlink > 0 ? 0 : -ESTALE;
}

/* One JSON object per line, appended to the export opened at start, then fsync'd: on disk before the rows are deleted. */
static int
export_lines(const struct server *s, json_t *const *lines, size_t n)
{
	int fd = s->export_fd, r;
	size_t i;

	if (fd < 0)
		return s->export_err ? s->export_err : -EBADF;
	if ((r = export_still_there(fd, s->cfg->retention.export_path)) < 0)
		return r;
	for (i = 0; i < n && r == 0; i++) {
		char *text = json_dumps(lines[i], JSON_COMPACT | JSON_ENSURE_ASCII);
		size_t len, off = 0;

		if (!text) {
			r = -ENOMEM;
			break;
		}
		len = strlen(text);
		while (off < len && r == 0) {
			ssize_t w = write(fd, text + off, len - off);

			if (w < 0 && errno != EINTR)
				r = -errno;
			else if (w > 0)
				off += (size_t)w;
		}
		if (r == 0 && write(fd, "\n", 1) != 1)
			r = errno ? -errno : -EIO;
		free(text);
	}
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	return r;
}

static void
lines_free(json_t **lines, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		json_decref(lines[i]);
	free(lines);
}

/* Where the export goes, and why it last failed (0: it did not), to tell that from the store's failures. */
struct export_ctx {
	const struct server *s;
	const char *path;
	int err;
};

static int
export_activity(void *ctx, const struct store_audit_entry *v, size_t n)
{
	struct export_ctx *x = ctx;
	char hex[STORE_AUDIT_HEX_SIZE];
	json_t **lines = calloc(n, sizeof(*lines));
	size_t i;
	int r = 0;

	if (!lines)
		return -ENOMEM;
	for (i = 0; i < n && r == 0; i++) {
		const struct store_activity *a = &v[i].a;

		store_audit_hex(v[i].hash, hex);
		lines[i] = json_pack("{s:s, s:I, s:o, s:o, s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}",
				     "kind", "activity", "id", (json_int_t)a->id,
				     "seq", v[i].chained ? json_integer(v[i].seq) : json_null(),
				     "hash", v[i].chained ? json_string(hex) : json_null(), "timeNs", (json_int_t)a->time_ns,
				     "caller", a->caller, "callerAddr", a->caller_addr, "operation", a->operation,
				     "resourceId", a->resource_id, "status", a->status, "detail", a->detail,
				     "justification", a->justification, "correlationId", a->correlation_id,
				     "callerSubject", a->caller_subject);
		if (!lines[i])
			r = -ENOMEM;
	}
	if (r == 0)
		r = export_lines(x->s, lines, n);
	lines_free(lines, n);
	return x->err = r;
}

static json_t *
request_json(const struct store_request *q)
{
	json_t *grants = json_array(), *o;
	char src[NET_PREFIX_TEXT_MAX];
	size_t i;

	if (!grants)
		return NULL;
	for (i = 0; i < q->n_grants; i++) {
		const struct store_grant *g = &q->grants[i];

		if (net_source_format(&g->source, src, sizeof(src)) < 0)
			snprintf(src, sizeof(src), "?");
		if (json_array_append_new(grants, json_pack("{s:I, s:i, s:s, s:s, s:I, s:i, s:i, s:I}", "vmId",
		    (json_int_t)g->vm_id, "port", (int)g->port, "protocol", net_proto_name(g->proto), "source", src,
		    "endNs", (json_int_t)g->end_ns, "status", (int)g->status, "reason", (int)g->reason, "endedNs",
		    (json_int_t)g->ended_ns)) < 0) {
			json_decref(grants);
			return NULL;
		}
	}
	o = json_pack("{s:s, s:s, s:I, s:s, s:s, s:I, s:s, s:o}", "kind", "request", "id", q->id, "policyId",
		      (json_int_t)q->policy_id, "requestor", q->requestor, "requestorAddr", q->requestor_addr, "startNs",
		      (json_int_t)q->start_ns, "justification", q->justification, "grants", grants);
	return o;
}

static int
export_requests(void *ctx, const struct store_request *v, size_t n)
{
	struct export_ctx *x = ctx;
	json_t **lines = calloc(n, sizeof(*lines));
	size_t i;
	int r = 0;

	if (!lines)
		return -ENOMEM;
	for (i = 0; i < n && r == 0; i++)
		if (!(lines[i] = request_json(&v[i])))
			r = -ENOMEM;
	if (r == 0)
		r = export_lines(x->s, lines, n);
	lines_free(lines, n);
	return x->err = r;
}

/* The chain's head in the log, when it moved: a copy outside the store, for `jitgated audit verify --head`. */
static void
retention_head(struct server *s)
{
	struct store_audit_chain c;
	char hex[STORE_AUDIT_HEX_SIZE];

	if (store_audit_chain_get(s->store, &c) < 0) {
		logmsg("audit head: cannot read it: %s", store_last_error(s->store));
		return;
	}
	if (c.head_seq == s->audit_head_logged)	/* not moved (or still empty): nothing new to keep */
		return;
	store_audit_hex(c.head_hash, hex);
	logmsg("audit head %" PRId64 ":%s (anchor: entry id %" PRId64 ")", c.head_seq, hex, c.anchor_id);
	s->audit_head_logged = c.head_seq;
}

/* A failed batch, in words: the export's own failure, or the store's. */
static void
prune_failed(struct server *s, const char *what, const struct export_ctx *x)
{
	if (x->err == -ESTALE)
		logmsg("retention: %s not pruned: %s is no longer the file jitgated opened at start (renamed or "
		       "removed); restart jitgated to write a new one (rotate with copytruncate)", what, x->path);
	else if (x->err && s->export_fd < 0)
		logmsg("retention: %s not pruned: cannot write %s: %s (opened at start only: restart jitgated once "
		       "it can be)", what, x->path, strerror(-x->err));
	else if (x->err)
		logmsg("retention: %s not pruned (tried again later): cannot write %s: %s", what, x->path,
		       strerror(-x->err));
	else
		logmsg("retention: %s not pruned (tried again later): %s", what, store_last_error(s->store));
}

/* One prune batch of each kind; true when a batch came back full (more is waiting). */
static bool
retention_prune(struct server *s)
{
	const struct config_retention *rt = &s->cfg->retention;
	struct export_ctx x = { .s = s, .path = rt->export_path };
	int64_t now = time_now_ns();
	bool more = false;
	int n;

	if (rt->activity_ms) {
		n = store_activity_prune(s->store, now - rt->activity_ms * TIME_NS_PER_MS, (size_t)rt->batch,
					 x.path[0] ? export_activity : NULL, &x);
		if (n < 0)
			prune_failed(s, "activity entries", &x);
		more |= n == rt->batch;
	}
	x.err = 0;
	if (rt->requests_ms) {
		n = store_requests_prune(s->store, now - rt->requests_ms * TIME_NS_PER_MS, (size_t)rt->batch,
					 x.path[0] ? export_requests : NULL, &x);
		if (n < 0)
			prune_failed(s, "ended requests", &x);
		more |= n == rt->batch;
	}
	return more;
}

void
retention_tick(struct server *s)
{
	const struct config_retention *rt = &s->cfg->retention;
	int64_t mono = time_mono_ns();

	if (!s->store) {
		s->next_prune = mono + rt->interval_ms * TIME_NS_PER_MS;	/* the loop's timeout reads it */
		return;
	}
	if (rt->head_interval_ms && mono >= s->next_audit_head) {
		retention_head(s);
		s->next_audit_head = mono + rt->head_interval_ms * TIME_NS_PER_MS;
	}
	if (mono < s->next_prune)
		return;
	s->next_prune = time_mono_ns() + (retention_prune(s) ? RETENTION_BACKLOG_PAUSE_NS :
					  rt->interval_ms * TIME_NS_PER_MS);
}
