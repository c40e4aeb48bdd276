/* agent-net.sh's body maker: a state or a join's answer read on stdin, decoded and encoded again by the codec (what jitgated sends). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/codec.h"
#include "codec/codec-agent.h"

#define BODY_MAX	(1024 * 1024)

int
main(int argc, char **argv)
{
	static char in[BODY_MAX];
	struct core_error err = { 0 };
	struct agent_state *s = NULL;
	struct agent_joined j;
	json_t *v = NULL;
	char *out;
	size_t n = fread(in, 1, sizeof(in), stdin), len;

	if (argc != 2 || (strcmp(argv[1], "state") && strcmp(argv[1], "joined"))) {
		fprintf(stderr, "usage: agentbody state|joined <JSON\n");
		return 2;
	}
	if (!strcmp(argv[1], "state") && codec_agent_state_decode(in, n, &s, &err) == 0)
		v = codec_agent_state_encode(s);
	else if (!strcmp(argv[1], "joined") && codec_agent_joined_decode(in, n, &j, &err) == 0)
		v = codec_agent_joined_encode(&j);
	codec_agent_state_free(s);
	if (!v || !(out = codec_dump(v, &len))) {
		fprintf(stderr, "agentbody: %s: %s\n", err.target, err.message);
		json_decref(v);
		return 1;
	}
	fwrite(out, 1, len, stdout);
	free(out);
	json_decref(v);
	return 0;
}
