/* jitgate-agent's file I/O: bounded reads and atomic writes of the small files in its state directory. */
#ifndef JITGATE_AGENT_FILE_H
#define JITGATE_AGENT_FILE_H

#include <stddef.h>
#include <sys/types.h>

/*
 * Read the whole of `name` (relative to dirfd, or AT_FDCWD) into a NUL-terminated
 * malloc'd buffer, never following a symlink in its last component. -EFBIG past
 * `max` bytes, -errno otherwise. *ret is the caller's to free().
 */
int agent_file_read(int dirfd, const char *name, size_t max, char **ret, size_t *ret_n);

/*
 * Replace `name` in dirfd with `data` atomically: a temporary file beside it
 * with `mode`, written, fsync'd, renamed over the old one, then the directory
 * fsync'd. A crash leaves the old file or the new one, never a torn one.
 */
int agent_file_write(int dirfd, const char *name, const char *data, size_t n, mode_t mode);

#endif
