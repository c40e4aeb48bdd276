/* The close journal: grants closed in the kernel while the store refused to record it, kept across a restart. */
#ifndef JITGATE_STORE_JOURNAL_H
#define JITGATE_STORE_JOURNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

/*
 * Closing access must not wait on the disk: a revoke, a token revoke or a policy
 * change that ends grants closes them in the kernel even when SQLite refuses the
 * write (a full disk, ENOSPC; an I/O error). What was closed must then survive a
 * restart until the store has recorded it, or the first reconcile after the
 * restart would open it again.
 *
 * Why a journal file and not room reserved in SQLite: every SQLite write goes
 * through the WAL, which may have to grow, and a full file system refuses that
 * whatever the database keeps free inside itself. This file is written once at
 * full size when it is created (real zeros, not a sparse file) and afterwards
 * only overwritten in place, one fixed slot at a time (pwrite + fdatasync), so a
 * write never allocates a block: it works on a file system with no byte left.
 * (A file system gone read-only refuses it too; then the kernel is still closed,
 * but only until jitgated restarts: the answer says the record is pending.)
 *
 * Layout: a header slot, then STORE_JOURNAL_SLOTS slots of STORE_JOURNAL_SLOT_SIZE
 * bytes, each free (all zero) or holding one entry with its own checksum; a slot
 * never crosses a 4 KiB page. A torn slot write fails its checksum and reads as
 * free: it can only be one whose answer was not sent yet (the answer waits for
 * the sync), or a clear of one the store already holds.
 *
 * Nothing here is thread-safe; one thread owns a journal.
 */

#define STORE_JOURNAL_NAME	"closed.journal"	/* in the state directory */
#define STORE_JOURNAL_SLOTS	4096			/* closes waiting for the store at once */
#define STORE_JOURNAL_SLOT_SIZE	256
#define STORE_JOURNAL_SIZE	((size_t)(STORE_JOURNAL_SLOTS + 1) * STORE_JOURNAL_SLOT_SIZE)	/* 1 MiB + a slot */

enum store_journal_kind {
	STORE_JOURNAL_END = 1,		/* the grant became Revoked (reason) at at_ns */
	STORE_JOURNAL_TRUNCATE = 2,	/* the grant's end moved earlier, to at_ns */
};

struct store_journal_entry {
	enum store_journal_kind kind;
	enum store_grant_reason reason;	/* END only */
	bool terminate;			/* END only: a revoke with terminateSessions (its agent ends the sessions) */
	char request_id[STORE_ID_MAX + 1];
	int64_t vm_id;
	uint16_t port;
	int64_t at_ns;
	char caller[STORE_REQUESTOR_MAX + 1];	/* who closed it, for the activity entry written with the record */
};

struct store_journal;

/*
 * Open the journal at path, creating it at full size (and syncing it and its
 * directory) if it does not exist. *ret_entries gets the entries it holds (the
 * caller's, free()), each with its slot in ret_slots order. -EIO with a message
 * in err if the file is not a journal of this layout.
 */
int store_journal_open(const char *path, struct store_journal **ret, struct store_journal_entry **ret_entries,
		       size_t **ret_slots, size_t *ret_n, struct core_error *err);
void store_journal_close(struct store_journal *j);
/* Write e into a free slot and sync it; *ret_slot gets the slot. -ENOSPC when every slot is taken, -EIO. */
int store_journal_add(struct store_journal *j, const struct store_journal_entry *e, size_t *ret_slot);
/* Free a slot (the store has recorded its entry) and sync. */
int store_journal_clear(struct store_journal *j, size_t slot);

/* One slot's bytes to an entry: 1 and *ret filled, 0 for a free (or torn) slot, -EINVAL for a malformed one. */
int store_journal_slot_parse(const uint8_t *buf, size_t len, struct store_journal_entry *ret);
/* An entry to one slot's bytes (len >= STORE_JOURNAL_SLOT_SIZE). -EINVAL if e is not a valid entry. */
int store_journal_slot_format(const struct store_journal_entry *e, uint8_t *buf, size_t len);

#endif
