/* The revision floor (state.floor): what voids an older state.json after a newer state could not be saved. */
#ifndef JITGATE_AGENT_FLOOR_H
#define JITGATE_AGENT_FLOOR_H

#include "codec/codec-agent.h"
#include "core/error.h"

#define AGENT_FLOOR_FILE	"state.floor"

/*
 * state.floor is AGENT_FLOOR_FILE_SIZE bytes, written whole (zeroes) once by
 * agent_floor_prepare() while the disk has room, and from then on only
 * overwritten in place, so that setting it needs no new block when the disk is
 * full (on ext4, XFS and tmpfs; not on copy-on-write file systems such as
 * btrfs or ZFS). Its header (magic, length, checksum) tells a torn write.
 * When set it holds the newest applied state without its grants: its VM,
 * revision and protected ports. All zeroes, or a length of 0: not set.
 */

/* Create state.floor (zeroes) when there is none; -EINVAL when one is there but not of its size. */
int agent_floor_prepare(int dirfd);

/* Set it to s without its grants, in place: -ENOENT without a prepared file, -EFBIG when it is not of its size. */
int agent_floor_set(int dirfd, const struct agent_state *s);

/* Unset it (a state.json newer than it was saved); writes only when it is set. */
int agent_floor_clear(int dirfd);

/*
 * Read it: 0 with *ret NULL when there is none or it is not set, 1 with the
 * state (no grants; the caller's to free), or -EINVAL (err set) when it is
 * torn, corrupt or holds grants. decode is the pure half (fuzzed).
 */
int agent_floor_read(int dirfd, struct agent_state **ret, struct core_error *err);
int agent_floor_decode(const char *text, size_t n, struct agent_state **ret, struct core_error *err);

#endif
