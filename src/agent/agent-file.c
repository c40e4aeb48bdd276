/* Bounded reads and atomic writes of the agent's small files (state.json, agent.conf, credential). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/agent-file.h"
#include "agent/agent-limits.h"
#include "core/buf.h"

#define AGENT_READ_CHUNK	65536	/* bytes asked of read() at once; /proc files report no size */
#define AGENT_TMP_SUFFIX	".tmp"

int
agent_file_read(int dirfd, const char *name, size_t max, char **ret, size_t *ret_n)
{
	struct buf b = { .max = max };
	char chunk[AGENT_READ_CHUNK];
	ssize_t got;
	int fd, r = 0;

	fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
	if (fd < 0)
		return -errno;
	for (;;) {
		got = read(fd, chunk, sizeof(chunk));
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			r = -errno;
			goto out;
		}
		if (got == 0)
			break;
		if ((r = buf_append(&b, chunk, (size_t)got)) < 0) {
			r = r == -E2BIG ? -EFBIG : r;
			goto out;
		}
	}
	/* an empty file still gives a NUL-terminated buffer */
	if (!b.data && (r = buf_append(&b, "", 0)) < 0)
		goto out;
	*ret = b.data;
	*ret_n = b.len;
	b.data = NULL;
out:
	close(fd);
	buf_free(&b);
	return r;
}

static int
write_all(int fd, const char *data, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, data, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		data += w;
		n -= (size_t)w;
	}
	return 0;
}

int
agent_file_write(int dirfd, const char *name, const char *data, size_t n, mode_t mode)
{
	char tmp[AGENT_PATH_MAX];
	int fd = -1, r, len;

	len = snprintf(tmp, sizeof(tmp), "%s%s", name, AGENT_TMP_SUFFIX);
	if (len < 0 || (size_t)len >= sizeof(tmp))
		return -ENAMETOOLONG;
	/* a leftover from a crash is ours to replace; a symlink there is not followed */
	if (unlinkat(dirfd, tmp, 0) < 0 && errno != ENOENT)
		return -errno;
	fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0)
		return -errno;
	/* the umask must not widen or narrow what the caller asked for */
	if (fchmod(fd, mode) < 0) {
		r = -errno;
		goto fail;
	}
	if ((r = write_all(fd, data, n)) < 0)
		goto fail;
	if (fsync(fd) < 0) {
		r = -errno;
		goto fail;
	}
	if (close(fd) < 0) {
		fd = -1;
		r = -errno;
		goto fail;
	}
	fd = -1;
	if (renameat(dirfd, tmp, dirfd, name) < 0) {
		r = -errno;
		goto fail;
	}
	/* the rename itself is durable only once the directory is */
	if (dirfd != AT_FDCWD && fsync(dirfd) < 0)
		return -errno;
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	unlinkat(dirfd, tmp, 0);
	return r ? r : -EIO;
}
