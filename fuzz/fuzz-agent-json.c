/*
 * Fuzz target for the agent protocol's bodies (codec-agent.h). The first byte picks the decoder
 * (the state an agent receives, the status and join a server receives, the join's answer);
 * what decodes must encode and decode again to the same thing; a refusal writes nothing.
 */
#include <errno.h>

#include "codec/codec.h"
#include "codec/codec-agent.h"
#include "fuzz-common.h"

static void
check_refusal(int r, const struct core_error *err)
{
	size_t i;

	fuzz_check(r == -EINVAL);
	fuzz_check_error(err, err->code);
	for (i = 0; err->target[i] != '\0'; i++)
		fuzz_check(err->target[i] >= 0x20 && err->target[i] < 0x7f);
}

static char *
dump(json_t *v, size_t *n)
{
	char *s;

	fuzz_check(v != NULL);
	s = codec_dump(v, n);
	fuzz_check(s != NULL);
	json_decref(v);
	return s;
}

static void
state(const char *body, size_t size)
{
	struct agent_state *s = (struct agent_state *)1, *t = NULL;
	struct core_error err;
	size_t i, n;
	char *text;
	int r;

	r = codec_agent_state_decode(body, size, &s, &err);
	if (r < 0) {
		check_refusal(r, &err);
		fuzz_check(s == (struct agent_state *)1);
		return;
	}
	fuzz_check(s->n_ports <= AGENT_PORTS_MAX && s->n_grants <= AGENT_GRANTS_MAX && s->revision >= 0);
	for (i = 0; i < s->n_grants; i++)
		fuzz_check(s->grants[i].left_ms >= 0 && s->grants[i].left_ms <= FW_TIMEOUT_MAX_MS &&
		    s->grants[i].port != 0 && s->grants[i].request_id[0] != '\0');
	fuzz_check(s->n_terminations <= AGENT_TERMINATIONS_MAX);
	for (i = 0; i < s->n_terminations; i++)
		fuzz_check(s->terminations[i].revision >= 1 && s->terminations[i].revision <= s->revision &&
		    s->terminations[i].port != 0 && s->terminations[i].request_id[0] != '\0');
	text = dump(codec_agent_state_encode(s), &n);
	fuzz_check(codec_agent_state_decode(text, n, &t, &err) == 0);
	fuzz_check(t->n_ports == s->n_ports && t->n_grants == s->n_grants && t->revision == s->revision);
	fuzz_check(memcmp(t->ports, s->ports, s->n_ports * sizeof(*s->ports)) == 0);
	fuzz_check(s->n_grants == 0 || memcmp(t->grants, s->grants, s->n_grants * sizeof(*s->grants)) == 0);
	fuzz_check(t->n_terminations == s->n_terminations && (s->n_terminations == 0 ||
	    memcmp(t->terminations, s->terminations, s->n_terminations * sizeof(*s->terminations)) == 0));
	free(text);
	codec_agent_state_free(s);
	codec_agent_state_free(t);
}

static void
status(const char *body, size_t size)
{
	struct agent_status s, t, before;
	struct core_error err;
	size_t n;
	char *text;
	int r;

	memset(&s, 0xa5, sizeof(s));
	before = s;
	r = codec_agent_status_decode(body, size, &s, &err);
	if (r < 0) {
		check_refusal(r, &err);
		fuzz_check(memcmp(&s, &before, sizeof(s)) == 0);
		return;
	}
	fuzz_check(s.revision >= -1 && s.n_addrs <= API_ADDRS_MAX && s.n_listening <= AGENT_LISTENING_MAX);
	text = dump(codec_agent_status_encode(&s), &n);
	fuzz_check(codec_agent_status_decode(text, n, &t, &err) == 0);
	fuzz_check(memcmp(&s, &t, sizeof(s)) == 0);
	free(text);
}

static void
join(const char *body, size_t size)
{
	struct agent_join j, k;
	struct agent_joined a, b;
	struct core_error err;
	size_t n;
	char *text;
	int r;

	r = codec_agent_join_decode(body, size, &j, &err);
	if (r < 0) {
		check_refusal(r, &err);
	} else {
		text = dump(codec_agent_join_encode(&j), &n);
		fuzz_check(codec_agent_join_decode(text, n, &k, &err) == 0);
		fuzz_check(memcmp(&j, &k, sizeof(j)) == 0);
		free(text);
	}
	r = codec_agent_joined_decode(body, size, &a, &err);
	if (r < 0) {
		check_refusal(r, &err);
	} else {
		text = dump(codec_agent_joined_encode(&a), &n);
		fuzz_check(codec_agent_joined_decode(text, n, &b, &err) == 0);
		fuzz_check(memcmp(&a, &b, sizeof(a)) == 0);
		free(text);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *body;

	if (size < 1)
		return 0;
	body = fuzz_copy(data + 1, size - 1);
	switch (data[0] % 3) {
	case 0:
		state(body, size - 1);
		break;
	case 1:
		status(body, size - 1);
		break;
	default:
		join(body, size - 1);
		break;
	}
	free(body);
	return 0;
}
