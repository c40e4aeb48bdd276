/* `jitgated audit verify`: check the activity log's hash chain in the store and name the first entry that breaks it. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/daemon.h"
#include "daemon/log.h"
#include "store/store-audit.h"
#include "store/store.h"

/* Exit codes beyond DAEMON_EXIT_* (jitgated(8)). */
#define AUDIT_EXIT_BROKEN	3	/* the chain is broken, or disagrees with --head */

#define AUDIT_HEX_LEN	(2 * STORE_AUDIT_HASH_LEN)

/* "SEQ:HEX" as the journal's "audit head" line gives it; -EINVAL if it is not that. */
static int
head_parse(const char *text, int64_t *ret_seq, uint8_t ret_hash[STORE_AUDIT_HASH_LEN])
{
	const char *colon = strchr(text, ':');
	uint8_t h[STORE_AUDIT_HASH_LEN];
	int64_t seq = 0;
	const char *p;
	size_t i;

	if (!colon || colon == text || colon - text > 18 || strlen(colon + 1) != AUDIT_HEX_LEN)
		return -EINVAL;
	for (p = text; p < colon; p++) {
		if (*p < '0' || *p > '9')
			return -EINVAL;
		seq = seq * 10 + (*p - '0');
	}
	for (i = 0; i < AUDIT_HEX_LEN; i++) {
		char c = colon[1 + i];
		int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 :
			c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;

		if (v < 0)
			return -EINVAL;
		if (i % 2 == 0)
			h[i / 2] = (uint8_t)(v << 4);
		else
			h[i / 2] |= (uint8_t)v;
	}
	if (seq == 0)
		return -EINVAL;
	*ret_seq = seq;
	memcpy(ret_hash, h, sizeof(h));
	return 0;
}

/* The first fault, in words that name the entry. */
static void
audit_say_fault(const struct store_audit_result *res)
{
	switch (res->fault) {
	case STORE_AUDIT_CHANGED:
		printf("audit verify: BROKEN: entry id %" PRId64 " (sequence %" PRId64 ") was changed: its fields or "
		       "hash are not what was written\n", res->id, res->seq);
		break;
	case STORE_AUDIT_INSERTED:
		printf("audit verify: BROKEN: entry id %" PRId64 " was inserted: the chain never held it (after "
		       "entry id %" PRId64 ")\n", res->id, res->good_id);
		break;
	case STORE_AUDIT_REMOVED:
		if (res->id)
			printf("audit verify: BROKEN: %" PRId64 " entr%s removed between entry id %" PRId64 " and entry "
			       "id %" PRId64 " (sequence %" PRId64 "%s)\n", res->missing, res->missing == 1 ? "y was" :
			       "ies were", res->good_id, res->id, res->seq, res->missing == 1 ? "" : " on");
		else
			printf("audit verify: BROKEN: the newest %" PRId64 " entr%s removed after entry id %" PRId64
			       " (sequence %" PRId64 "%s)\n", res->missing, res->missing == 1 ? "y was" : "ies were",
			       res->good_id, res->seq, res->missing == 1 ? "" : " on");
		break;
	case STORE_AUDIT_HEAD:
		printf("audit verify: BROKEN: the chain's head record (sequence %" PRId64 ") does not match its newest "
		       "entry (id %" PRId64 ")\n", res->seq, res->good_id);
		break;
	case STORE_AUDIT_INTACT:
		break;
	}
}

/* An intact chain against a head the journal kept: 0 when they agree (or it was pruned since), else said and -1. */
static int
audit_check_head(const struct store_audit_result *res, int64_t seq, const uint8_t hash[STORE_AUDIT_HASH_LEN])
{
	const uint8_t *have = NULL;

	if (seq > res->chain.head_seq) {
		printf("audit verify: BROKEN: the exported head %" PRId64 " is beyond the chain's head %" PRId64 ": "
		       "entries were removed at the end, or the log was written again\n", seq, res->chain.head_seq);
		return -1;
	}
	if (seq < res->chain.anchor_seq) {
		printf("audit verify: the exported head %" PRId64 " was pruned since (the chain now starts after "
		       "sequence %" PRId64 "): not compared\n", seq, res->chain.anchor_seq);
		return 0;
	}
	have = seq == res->chain.anchor_seq ? res->chain.anchor_hash : res->at_found ? res->at_hash : NULL;
	if (!have || memcmp(have, hash, STORE_AUDIT_HASH_LEN)) {
		printf("audit verify: BROKEN: the entry at sequence %" PRId64 " does not have the exported hash: the log "
		       "was written again up to there\n", seq);
		return -1;
	}
	printf("audit verify: the exported head %" PRId64 " matches\n", seq);
	return 0;
}

static int
audit_verify(struct store *st, const struct cmdline *cl)
{
	uint8_t want[STORE_AUDIT_HASH_LEN];
	struct store_audit_result res;
	char hex[STORE_AUDIT_HEX_SIZE];
	int64_t want_seq = 0;

	if (cl->head && head_parse(cl->head, &want_seq, want) < 0) {
		fprintf(stderr, "jitgated audit verify: --head is SEQ:HASH (the sequence and 64 hex digits of an "
			"\"audit head\" log line)\n");
		return DAEMON_EXIT_USAGE;
	}
	if (store_audit_verify(st, want_seq, &res) < 0) {
		fprintf(stderr, "jitgated audit verify: cannot read the activity log: %s\n", store_last_error(st));
		return DAEMON_EXIT_FAILURE;
	}
	if (res.fault != STORE_AUDIT_INTACT) {
		audit_say_fault(&res);
		return AUDIT_EXIT_BROKEN;
	}
	store_audit_hex(res.chain.head_hash, hex);
	printf("audit verify: intact: %" PRId64 " entries from sequence %" PRId64 " to %" PRId64 " (anchor: entry id %"
	       PRId64 "); head %" PRId64 ":%s\n", res.checked, res.chain.anchor_seq + (res.checked ? 1 : 0),
	       res.chain.head_seq, res.chain.anchor_id, res.chain.head_seq, hex);
	if (res.forms[0])	/* an older jitgated's entries: their caller_subject is not covered */
		printf("audit verify: %" PRId64 " of them in canonical form 1 (written before version 2: single sign-on "
		       "subject not covered), %" PRId64 " in form 2\n", res.forms[0], res.forms[1]);
	if (cl->head && audit_check_head(&res, want_seq, want) < 0)
		return AUDIT_EXIT_BROKEN;
	return DAEMON_EXIT_OK;
}

int
audit_run(int argc, char **argv, struct config *cfg)
{
	struct core_error err = { 0 };
	struct cmdline cl = { 0 };
	struct store *st = NULL;
	char path[CONFIG_PATH_MAX + 32];
	int r;

	if (argc < 3 || strcmp(argv[2], "verify")) {
		daemon_usage(stderr);
		return DAEMON_EXIT_USAGE;
	}
	if (parse_args(argc - 2, argv + 2, cfg, &cl))
		return DAEMON_EXIT_USAGE;
	if (cl.name || cl.role || cl.scope || cl.keep_grants || cl.join || cl.uses || cl.expires) {
		fputs("jitgated audit verify: only --state-dir, --store, --config and --head\n", stderr);
		return DAEMON_EXIT_USAGE;
	}
	if (optind + 2 < argc) {
		fprintf(stderr, "jitgated audit verify: unexpected argument '%s'\n", argv[optind + 2]);
		return DAEMON_EXIT_USAGE;
	}
	if (token_drop_to_owner(cfg) < 0)
		return DAEMON_EXIT_FAILURE;
	snprintf(path, sizeof(path), "%s/%s", cfg->state_dir, DB_NAME);
	/* read-only: verifying never writes, and works beside a running jitgated */
	if (store_open_readonly(cfg->store[0] ? cfg->store : path, &st, &err) < 0) {
		fail_err("cannot open the store", &err);
		return DAEMON_EXIT_FAILURE;
	}
	r = audit_verify(st, &cl);
	store_close(st);
	return r;
}
