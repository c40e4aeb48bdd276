/* The pure parts of the agent's network half: retry schedule, server rotation, the disconnected deadline, URLs, bodies. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent-net.h"
#include "codec/codec.h"

int64_t
agent_backoff_next_ms(unsigned *attempt, agent_rand_fn rnd, void *arg)
{
	int64_t cap = AGENT_BACKOFF_MIN_MS;
	unsigned i;

	for (i = 0; i < *attempt && cap < AGENT_BACKOFF_MAX_MS; i++)
		cap *= 2;
	if (cap > AGENT_BACKOFF_MAX_MS)
		cap = AGENT_BACKOFF_MAX_MS;
	if (*attempt < 64)
		(*attempt)++;
	return AGENT_BACKOFF_MIN_MS + (int64_t)(rnd(arg) % (uint64_t)(cap - AGENT_BACKOFF_MIN_MS + 1));
}

size_t
agent_server_next(size_t cur, size_t n)
{
	return n == 0 ? 0 : (cur + 1) % n;
}

int64_t
agent_contact_ms(int64_t last_ok_ms, bool polling, int64_t poll_started_ms, int64_t now_ms)
{
	if (polling && now_ms - poll_started_ms < AGENT_SERVER_HOLD_MS + AGENT_HOLD_SLACK_MS)
		return now_ms;
	return last_ok_ms;
}

int64_t
agent_disconnected_deadline(int64_t last_ok_ms, int64_t max_ms)
{
	if (max_ms <= 0 || last_ok_ms > INT64_MAX - max_ms)
		return INT64_MAX;
	return last_ok_ms + max_ms;
}

bool
agent_disconnected_expired(int64_t last_ok_ms, int64_t max_ms, int64_t now_ms)
{
	return now_ms >= agent_disconnected_deadline(last_ok_ms, max_ms);
}

/* server (without its trailing '/'s) then tail. */
static int
url_make(char *buf, size_t size, const char *server, const char *tail)
{
	size_t n = strlen(server);
	int k;

	while (n > 0 && server[n - 1] == '/')
		n--;
	k = snprintf(buf, size, "%.*s%s", (int)n, server, tail);
	return k < 0 || (size_t)k >= size ? -ENAMETOOLONG : 0;
}

int
agent_url_join(const char *server, char *buf, size_t size)
{
	return url_make(buf, size, server, "/agent/v1/join");
}

int
agent_url_state(const char *server, const char *vm, int64_t since, char *buf, size_t size)
{
	char tail[ARM_ID_MAX + 64];
	int k = snprintf(tail, sizeof(tail), "/agent/v1%s/state?since=%lld", vm, (long long)(since < -1 ? -1 : since));

	return k < 0 || (size_t)k >= sizeof(tail) ? -ENAMETOOLONG : url_make(buf, size, server, tail);
}

int
agent_url_status(const char *server, const char *vm, char *buf, size_t size)
{
	char tail[ARM_ID_MAX + 64];
	int k = snprintf(tail, sizeof(tail), "/agent/v1%s/status", vm);

	return k < 0 || (size_t)k >= sizeof(tail) ? -ENAMETOOLONG : url_make(buf, size, server, tail);
}

int
agent_url_rotate(const char *server, const char *vm, char *buf, size_t size)
{
	char tail[ARM_ID_MAX + 64];
	int k = snprintf(tail, sizeof(tail), "/agent/v1%s/rotate", vm);

	return k < 0 || (size_t)k >= sizeof(tail) ? -ENAMETOOLONG : url_make(buf, size, server, tail);
}

enum agent_answer
agent_answer_kind(long status)
{
	if (status == 200)
		return AGENT_ANSWER_STATE;
	if (status == 401)
		return AGENT_ANSWER_REVOKED;
	return AGENT_ANSWER_RETRY;
}

int
agent_state_without_grants(const struct agent_state *s, struct agent_state **ret)
{
	struct agent_state *c = calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	memcpy(c->vm, s->vm, sizeof(c->vm));
	c->revision = s->revision;
	c->server_ns = s->server_ns;
	c->n_ports = s->n_ports;
	if (s->n_ports) {
		c->ports = calloc(s->n_ports, sizeof(*c->ports));
		if (!c->ports) {
			free(c);
			return -ENOMEM;
		}
		memcpy(c->ports, s->ports, s->n_ports * sizeof(*c->ports));
	}
	*ret = c;
	return 0;
}

int
agent_status_body(const struct agent_status *st, struct buf *out)
{
	json_t *v = codec_agent_status_encode(st);
	char *text;
	size_t n;
	int r;

	if (!v)
		return -ENOMEM;
	text = codec_dump(v, &n);
	json_decref(v);
	if (!text)
		return -ENOMEM;
	r = buf_append(out, text, n);
	free(text);
	return r;
}
