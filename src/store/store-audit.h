/* The activity log's hash chain (store-chain.c) and retention (store-prune.c): what verification and pruning need of the store. */
#ifndef JITGATE_STORE_AUDIT_H
#define JITGATE_STORE_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

#define STORE_AUDIT_HASH_LEN	32	/* SHA-256 */
/*
 * The canonical forms. Each starts with its version, so that one form can never hash like another: an
 * entry's hash matches only the form it was written in, and verification tries the current form, then
 * the older. Version 1 leaves out caller_subject; version 2 (new entries) ends with it.
 */
#define STORE_AUDIT_FORM_V1	1
#define STORE_AUDIT_FORM_V2	2
#define STORE_AUDIT_FORM	STORE_AUDIT_FORM_V2	/* the form new entries are hashed in */
#define STORE_AUDIT_TAG_V1	"jitgate-audit-v1\n"
#define STORE_AUDIT_TAG_V2	"jitgate-audit-v2\n"
#define STORE_AUDIT_TAG_LEN	(sizeof(STORE_AUDIT_TAG_V1) - 1)	/* both tags */
/* The largest canonical form: tag, previous hash, two integers, nine strings with their 4-byte lengths. */
#define STORE_AUDIT_CANONICAL_MAX	(STORE_AUDIT_TAG_LEN + STORE_AUDIT_HASH_LEN + 16 + 9 * 4 + \
					 sizeof(struct store_activity))
#define STORE_AUDIT_PAGE	1000	/* entries read per statement by verification's walk */
#define STORE_PRUNE_BATCH_MAX	10000	/* the largest batch retention deletes in one transaction */

/* An activity entry with its place in the chain. */
struct store_audit_entry {
	struct store_activity a;
	bool chained;			/* false: written before the chain began (no seq, no hash) */
	int form;			/* STORE_AUDIT_FORM_V*: the form its hash matched (verification); 0 not known */
	int64_t seq;			/* 1, 2, …: its place in the chain */
	uint8_t hash[STORE_AUDIT_HASH_LEN];
};

/* The chain's ends: the anchor (the last entry outside it: pruned, or older than the chain) and the head. */
struct store_audit_chain {
	int64_t anchor_id, anchor_seq;
	uint8_t anchor_hash[STORE_AUDIT_HASH_LEN];
	int64_t head_seq;
	uint8_t head_hash[STORE_AUDIT_HASH_LEN];
};

/*
 * The canonical form `form` (STORE_AUDIT_FORM_V1 or _V2) of entry a at place seq after an entry with hash
 * prev (doc/operator.md, "Audit verification"): the form's tag, prev, seq and time_ns as 8-byte
 * big-endian, then caller, caller_addr, operation, resource_id, status, detail, justification,
 * correlation_id and (version 2 only) caller_subject, each as its byte length (4-byte big-endian) and its
 * bytes. Written into buf; returns its length, or 0 if size is too small or form is unknown.
 */
size_t store_audit_canonical(int form, const uint8_t prev[STORE_AUDIT_HASH_LEN], int64_t seq,
			     const struct store_activity *a, uint8_t *buf, size_t size);
/* SHA-256 of the canonical form `form` into ret; -errno. */
int store_audit_hash(int form, const uint8_t prev[STORE_AUDIT_HASH_LEN], int64_t seq, const struct store_activity *a,
		     uint8_t ret[STORE_AUDIT_HASH_LEN]);

/* A hash as lower-case hex, as the log's "audit head SEQ:HASH" and the export write it. */
#define STORE_AUDIT_HEX_SIZE	(2 * STORE_AUDIT_HASH_LEN + 1)
void store_audit_hex(const uint8_t h[STORE_AUDIT_HASH_LEN], char out[STORE_AUDIT_HEX_SIZE]);

int store_audit_chain_get(struct store *st, struct store_audit_chain *ret);

/* Up to `limit` entries after id `after`, oldest first (*ret: free()); for the syslog copy and pruning. */
int store_audit_entries_after(struct store *st, int64_t after, size_t limit, struct store_audit_entry **ret,
			      size_t *ret_n);

enum store_audit_fault {
	STORE_AUDIT_INTACT = 0,
	STORE_AUDIT_CHANGED,	/* an entry's fields (or hash) are not what was written */
	STORE_AUDIT_REMOVED,	/* entries are missing: before `id`, or (id 0) after the last one */
	STORE_AUDIT_INSERTED,	/* an entry that the chain never held */
	STORE_AUDIT_HEAD,	/* the head record disagrees with the newest entry */
};

struct store_audit_result {
	enum store_audit_fault fault;
	int64_t checked;	/* entries found good */
	int64_t forms[2];	/* of them, in form 1 and in form 2 */
	int64_t id;		/* the entry named: changed, inserted, or the first after a removal (0: at the end) */
	int64_t seq;		/* its place; for a removal the first place missing */
	int64_t missing;	/* for a removal: how many places */
	int64_t good_id;	/* the last good entry (the anchor's id if none) */
	struct store_audit_chain chain;
	bool at_found;		/* the entry at place at_seq (store_audit_verify) was walked, good: */
	uint8_t at_hash[STORE_AUDIT_HASH_LEN];	/* its hash */
};

/*
 * Walk the chain from the anchor to the head in one read snapshot and stop at the first fault; note the
 * hash of the entry at place at_seq (0: none) on the way, to compare with a head exported before.
 * Returns 0 with *ret filled (fault STORE_AUDIT_INTACT or the fault), or -errno if it could not read.
 */
int store_audit_verify(struct store *st, int64_t at_seq, struct store_audit_result *ret);

/*
 * Retention (store-prune.c). Each call deletes at most `batch` (1..STORE_PRUNE_BATCH_MAX) of the oldest
 * rows older than before_ns in one short transaction, after export (NULL: none) has taken them: export's
 * negative return deletes nothing and is returned. Returns how many it deleted.
 *
 * Activity: the oldest entries by id up to the first that is not older than before_ns; the chain's anchor
 * moves to the last one deleted, in the same transaction.
 */
int store_activity_prune(struct store *st, int64_t before_ns, size_t batch,
			 int (*export)(void *ctx, const struct store_audit_entry *v, size_t n), void *ctx);
/* Requests that started before before_ns and whose every grant ended before it, with their grants. */
int store_requests_prune(struct store *st, int64_t before_ns, size_t batch,
			 int (*export)(void *ctx, const struct store_request *v, size_t n), void *ctx);

#endif
