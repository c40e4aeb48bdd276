/*
 * Fuzz target for jitgate-agent's own files (agent-conf.h, agent-state.h). The first byte picks the parser:
 * agent.conf, the credential, state.json or state.floor. What parses must format and parse again to the same thing (agent.conf),
 * stay within its limits, and a refusal writes nothing and leaves a printable error record.
 */
#include <errno.h>

#include "agent/agent-conf.h"
#include "agent/agent-floor.h"
#include "agent/agent-state.h"
#include "fuzz-common.h"

static void
check_refusal(int r, const struct core_error *err)
{
	size_t i;

	fuzz_check(r == -EINVAL);
	fuzz_check(err->code[0] != '\0');
	fuzz_check_error(err, err->code);
	for (i = 0; err->target[i] != '\0'; i++)
		fuzz_check(err->target[i] >= 0x20 && err->target[i] < 0x7f);
}

static void
conf(const char *body, size_t size)
{
	static struct agent_conf c, d, before;
	struct core_error err;
	struct buf b = { 0 };
	int r;

	memset(&c, 0xa5, sizeof(c));
	before = c;
	r = agent_conf_parse(body, size, &c, &err);
	if (r < 0) {
		check_refusal(r, &err);
		fuzz_check(memcmp(&c, &before, sizeof(c)) == 0);
		return;
	}
	fuzz_check(c.n_servers >= 1 && c.n_servers <= AGENT_SERVERS_MAX && c.vm[0] != '\0');
	fuzz_check(agent_conf_format(&c, &b) == 0);
	fuzz_check(agent_conf_parse(b.data, b.len, &d, &err) == 0);
	fuzz_check(memcmp(&c, &d, sizeof(c)) == 0);
	buf_free(&b);
}

static void
credential(const char *body, size_t size)
{
	char buf[AGENT_CREDENTIAL_MAX + 1];
	struct core_error err;
	int r;

	r = agent_credential_parse(body, size, buf, sizeof(buf), &err);
	if (r < 0) {
		check_refusal(r, &err);
		return;
	}
	fuzz_check(strlen(buf) >= 1 && strlen(buf) <= AGENT_CREDENTIAL_MAX);
	fuzz_check(strspn(buf, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-") == strlen(buf));
}

static void
state_file(const char *body, size_t size)
{
	struct agent_state *s = (struct agent_state *)1;
	struct agent_fw f = { 0 };
	struct core_error err;
	int64_t received = 42;
	int r;

	r = agent_state_file_decode(body, size, &s, &received, &err);
	if (r < 0) {
		check_refusal(r, &err);
		fuzz_check(s == (struct agent_state *)1 && received == 42);
		return;
	}
	/* whatever decodes is converted or refused whole, never half */
	r = agent_state_to_fw(s, s->vm, received, received, &f, &err);
	if (r == 0)
		fuzz_check(f.n_vms == 1 && f.n_ports == s->n_ports && f.n_grants == s->n_grants);
	else
		fuzz_check(r == -EINVAL && f.vms == NULL);
	agent_fw_free(&f);
	codec_agent_state_free(s);
}

/* state.floor: unset, a state with no grants, or refused whole */
static void
floor_file(const char *body, size_t size)
{
	struct agent_state *s = (struct agent_state *)1;
	struct core_error err;
	int r;

	r = agent_floor_decode(body, size, &s, &err);
	if (r < 0) {
		check_refusal(r, &err);
		fuzz_check(s == (struct agent_state *)1);
		return;
	}
	fuzz_check(r == 0 ? s == NULL : r == 1 && s->n_grants == 0);
	codec_agent_state_free(s);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *body;

	if (size < 1)
		return 0;
	body = fuzz_copy(data + 1, size - 1);
	switch (data[0] % 4) {
	case 0:
		conf(body, size - 1);
		break;
	case 1:
		credential(body, size - 1);
		break;
	case 2:
		state_file(body, size - 1);
		break;
	default:
		floor_file(body, size - 1);
		break;
	}
	free(body);
	return 0;
}
