/* A copy of each committed activity entry to syslog as an RFC 5424 message with structured data (audit_syslog). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "core/timeutil.h"
#include "daemon/audit-syslog.h"
#include "daemon/log.h"
#include "daemon/server.h"
#include "store/store-audit.h"
#include "store/store.h"

#define AUDIT_SYSLOG_PERIOD_NS	(200 * TIME_NS_PER_MS)	/* how often new entries are looked for */
#define AUDIT_SYSLOG_BATCH	100	/* entries sent per look at most; the rest at the next */
#define AUDIT_SYSLOG_MSG_MAX	8192	/* one message: every field at its largest, escaped, fits */
#define AUDIT_SYSLOG_PRI	85	/* facility authpriv (10) * 8 + severity notice (5) */
/* RFC 5424's SD-ID: "jitgate" under the private enterprise number RFC 5612 sets aside for examples */
#define AUDIT_SYSLOG_SD_ID	"jitgate@32473"

/* One SD-PARAM: name="value" with '"', '\' and ']' escaped (RFC 5424, 6.3.3). -ENOSPC if it does not fit. */
static int
put_param(char *buf, size_t size, size_t *pos, const char *name, const char *value)
{
	size_t p = *pos;
	int n = snprintf(buf + p, size - p, " %s=\"", name);

	if (n < 0 || (size_t)n >= size - p)
		return -ENOSPC;
	p += (size_t)n;
	for (; *value; value++) {
		if (p + 3 >= size)
			return -ENOSPC;
		if (*value == '"' || *value == '\\' || *value == ']')
			buf[p++] = '\\';
		buf[p++] = *value;
	}
	buf[p++] = '"';
	buf[p] = '\0';
	*pos = p;
	return 0;
}

/* The RFC 5424 timestamp (at most 6 fraction digits) of t. */
static void
stamp(int64_t t, char out[40])
{
	time_t sec = (time_t)(t / TIME_NS_PER_SEC);
	struct tm tm;
	size_t n;

	gmtime_r(&sec, &tm);
	n = strftime(out, 40, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out + n, 40 - n, ".%06dZ", (int)(t % TIME_NS_PER_SEC / 1000));
}

/* The message for entry e: -ENOSPC if it would not fit (never with the store's limits). */
static int
audit_syslog_format(const struct store_audit_entry *e, const char *host, char *buf, size_t size)
{
	const struct store_activity *a = &e->a;
	char when[40], hash[STORE_AUDIT_HEX_SIZE], seq[24];
	size_t pos;
	int n, r;

	stamp(a->time_ns, when);
	store_audit_hex(e->hash, hash);
	snprintf(seq, sizeof(seq), "%" PRId64, e->seq);
	n = snprintf(buf, size, "<%d>1 %s %s jitgated %d activity [" AUDIT_SYSLOG_SD_ID, AUDIT_SYSLOG_PRI, when,
		     host, (int)getpid());
	if (n < 0 || (size_t)n >= size)
		return -ENOSPC;
	pos = (size_t)n;
	if ((r = put_param(buf, size, &pos, "seq", seq)) < 0 || (r = put_param(buf, size, &pos, "hash", hash)) < 0 ||
	    (r = put_param(buf, size, &pos, "caller", a->caller)) < 0 ||
	    (r = put_param(buf, size, &pos, "callerAddr", a->caller_addr)) < 0 ||
	    (r = put_param(buf, size, &pos, "operation", a->operation)) < 0 ||
	    (r = put_param(buf, size, &pos, "resourceId", a->resource_id)) < 0 ||
	    (r = put_param(buf, size, &pos, "status", a->status)) < 0 ||
	    (r = put_param(buf, size, &pos, "detail", a->detail)) < 0 ||
	    (r = put_param(buf, size, &pos, "justification", a->justification)) < 0 ||
	    (r = put_param(buf, size, &pos, "correlationId", a->correlation_id)) < 0 ||
	    (r = put_param(buf, size, &pos, "callerSubject", a->caller_subject)) < 0)
		return r;
	n = snprintf(buf + pos, size - pos, "] %s %s %s: %s", a->caller, a->operation, a->resource_id, a->status);
	return n < 0 || (size_t)n >= size - pos ? -ENOSPC : (int)(pos + (size_t)n);
}

/* Send the entries written since the last look; the first failure stops, and the next look starts there again. */
static void
audit_syslog_send(struct server *s, const struct sockaddr_un *to)
{
	struct store_audit_entry *v = NULL;
	char buf[AUDIT_SYSLOG_MSG_MAX], host[256] = "-";
	size_t n = 0, i;
	int len;

	if (store_audit_entries_after(s->store, s->syslog_after, AUDIT_SYSLOG_BATCH, &v, &n) < 0)
		return;	/* a store that cannot be read now is read at the next look */
	if (n && gethostname(host, sizeof(host) - 1) < 0)
		snprintf(host, sizeof(host), "-");
	for (i = 0; i < n; i++) {
		len = v[i].chained ? audit_syslog_format(&v[i], host, buf, sizeof(buf)) : 0;
		if (len > 0 && sendto(s->syslog_fd, buf, (size_t)len, MSG_NOSIGNAL, (const struct sockaddr *)to,
				      sizeof(*to)) < 0) {
			if (!s->syslog_failing)
				logmsg("audit_syslog: cannot send to %s: %s (sent again when it takes them)", to->sun_path,
				       strerror(errno));
			s->syslog_failing = true;
			break;
		}
		s->syslog_failing = false;
		s->syslog_after = v[i].a.id;
	}
	free(v);
}

void
audit_syslog_tick(struct server *s)
{
	const char *path = s->cfg->retention.syslog_path;
	struct sockaddr_un to = { .sun_family = AF_UNIX };
	int64_t mono = time_mono_ns();

	if (!path[0] || !s->store || mono < s->next_syslog)
		return;
	s->next_syslog = mono + AUDIT_SYSLOG_PERIOD_NS;
	if (s->syslog_fd < 0) {
		struct store_activity_filter f = { .limit = 1, .until_ns = s->started_ns };
		struct store_activity *newest = NULL;
		size_t n = 0;

		/* what this jitgated wrote, from its start on: older entries were sent by the one that wrote them */
		if (store_activity_query(s->store, &f, &newest, &n) < 0)
			return;
		s->syslog_after = n ? newest[0].id : 0;
		free(newest);
		s->syslog_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (s->syslog_fd < 0) {
			logmsg("audit_syslog: no socket: %s", strerror(errno));
			return;
		}
	}
	snprintf(to.sun_path, sizeof(to.sun_path), "%s", path);
	audit_syslog_send(s, &to);
}
