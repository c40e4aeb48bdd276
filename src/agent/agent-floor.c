/* The revision floor: a preallocated file, rewritten in place, that voids an older state.json when a newer state could not be saved. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "agent/agent-file.h"
#include "agent/agent-floor.h"
#include "agent/agent-limits.h"
#include "agent/agent-net.h"
#include "agent/agent-state.h"
#include "codec/codec.h"

#define FLOOR_MODE	0600
#define FLOOR_MAGIC	"JGFLOOR1"	/* 8 bytes, no NUL kept */
#define FLOOR_MAGIC_LEN	8
#define FLOOR_HEAD	16		/* magic, payload length (u32 LE), payload checksum (u32 LE) */

_Static_assert(FLOOR_HEAD < AGENT_FLOOR_FILE_SIZE, "the floor's header must fit");

static void
put_u32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
	p[2] = (unsigned char)(v >> 16);
	p[3] = (unsigned char)(v >> 24);
}

static uint32_t
get_u32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* FNV-1a: finds a torn write; the file is the agent's own (0600 in a 0700 directory), no adversary writes it */
static uint32_t
floor_sum(const unsigned char *p, size_t n)
{
	uint32_t h = 2166136261u;
	size_t i;

	for (i = 0; i < n; i++)
		h = (h ^ p[i]) * 16777619u;
	return h;
}

int
agent_floor_decode(const char *text, size_t n, struct agent_state **ret, struct core_error *err)
{
	const unsigned char *p = (const unsigned char *)text;
	struct agent_state *s = NULL;
	uint32_t len;
	int r;

	if (n < FLOOR_HEAD || memcmp(p, FLOOR_MAGIC, FLOOR_MAGIC_LEN)) {
		/* all zeroes: preallocated, never set */
		for (len = 0; len < n && p[len] == 0; len++)
			;
		if (n == AGENT_FLOOR_FILE_SIZE && len == n)
			return *ret = NULL, 0;
		return core_error_set(err, AGENT_ERR_STATE, AGENT_FLOOR_FILE, "%s is not a revision floor",
				      AGENT_FLOOR_FILE);
	}
	len = get_u32(p + FLOOR_MAGIC_LEN);
	if (len == 0)
		return *ret = NULL, 0;
	if (len > n - FLOOR_HEAD || floor_sum(p + FLOOR_HEAD, len) != get_u32(p + FLOOR_MAGIC_LEN + 4))
		return core_error_set(err, AGENT_ERR_STATE, AGENT_FLOOR_FILE, "%s is torn (its checksum does not "
				      "match)", AGENT_FLOOR_FILE);
	if ((r = codec_agent_state_decode(text + FLOOR_HEAD, len, &s, err)) < 0) {
		core_error_prefix_target(err, AGENT_FLOOR_FILE);
		return r;
	}
	if (s->n_grants) {
		codec_agent_state_free(s);
		return core_error_set(err, AGENT_ERR_STATE, AGENT_FLOOR_FILE, "%s holds grants", AGENT_FLOOR_FILE);
	}
	*ret = s;
	return 1;
}

int
agent_floor_read(int dirfd, struct agent_state **ret, struct core_error *err)
{
	char *text = NULL;
	size_t n;
	int r;

	r = agent_file_read(dirfd, AGENT_FLOOR_FILE, AGENT_FLOOR_FILE_SIZE, &text, &n);
	if (r == -ENOENT)
		return *ret = NULL, 0;
	if (r < 0)
		return core_error_set(err, AGENT_ERR_STATE, AGENT_FLOOR_FILE, "cannot read %s: %s", AGENT_FLOOR_FILE,
				      r == -EFBIG ? "larger than the agent takes" : strerror(-r)), r;
	r = agent_floor_decode(text, n, ret, err);
	free(text);
	return r;
}

int
agent_floor_prepare(int dirfd)
{
	char *zero;
	struct stat st;
	int r;

	if (fstatat(dirfd, AGENT_FLOOR_FILE, &st, AT_SYMLINK_NOFOLLOW) == 0)
		return S_ISREG(st.st_mode) && st.st_size == AGENT_FLOOR_FILE_SIZE ? 0 : -EINVAL;
	if (errno != ENOENT)
		return -errno;
	/* written, not fallocate()d: overwriting written blocks allocates nothing on ext4, XFS or tmpfs */
	if (!(zero = calloc(1, AGENT_FLOOR_FILE_SIZE)))
		return -ENOMEM;
	r = agent_file_write(dirfd, AGENT_FLOOR_FILE, zero, AGENT_FLOOR_FILE_SIZE, FLOOR_MODE);
	free(zero);
	return r;
}

static int
pwrite_all(int fd, const unsigned char *p, size_t n, off_t at)
{
	while (n > 0) {
		ssize_t w = pwrite(fd, p, n, at);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return w < 0 ? -errno : -EIO;
		p += w;
		n -= (size_t)w;
		at += w;
	}
	return 0;
}

/* In place, never growing the file: the payload (if any) and fsync, then the header and fsync. */
static int
floor_put(int dirfd, const unsigned char *payload, uint32_t len)
{
	unsigned char head[FLOOR_HEAD];
	struct stat st;
	int fd, r;

	fd = openat(dirfd, AGENT_FLOOR_FILE, O_WRONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		r = -errno;
		goto out;
	}
	if (!S_ISREG(st.st_mode) || st.st_size != AGENT_FLOOR_FILE_SIZE || len > AGENT_FLOOR_FILE_SIZE - FLOOR_HEAD) {
		r = -EFBIG;	/* not the preallocated file: writing could need room the disk may not have */
		goto out;
	}
	memcpy(head, FLOOR_MAGIC, FLOOR_MAGIC_LEN);
	put_u32(head + FLOOR_MAGIC_LEN, len);
	put_u32(head + FLOOR_MAGIC_LEN + 4, floor_sum(payload, len));
	/* a crash between the two leaves a header whose checksum fails: read as torn, which voids the grants */
	if (len && ((r = pwrite_all(fd, payload, len, FLOOR_HEAD)) < 0 || (r = fsync(fd) < 0 ? -errno : 0) < 0))
		goto out;
	if ((r = pwrite_all(fd, head, sizeof(head), 0)) < 0)
		goto out;
	r = fsync(fd) < 0 ? -errno : 0;
out:
	close(fd);
	return r;
}

int
agent_floor_set(int dirfd, const struct agent_state *s)
{
	struct agent_state *bare = NULL;
	json_t *v = NULL;
	char *text = NULL;
	size_t n = 0;
	int r;

	if ((r = agent_state_without_grants(s, &bare)) < 0)
		return r;
	if (!(v = codec_agent_state_encode(bare)) || !(text = codec_dump(v, &n))) {
		r = -ENOMEM;
		goto out;
	}
	r = n > AGENT_FLOOR_FILE_SIZE - FLOOR_HEAD ? -EFBIG : floor_put(dirfd, (const unsigned char *)text, (uint32_t)n);
out:
	free(text);
	json_decref(v);
	codec_agent_state_free(bare);
	return r;
}

int
agent_floor_clear(int dirfd)
{
	unsigned char head[FLOOR_HEAD];
	ssize_t got;
	int fd;

	/* read first: the usual case (nothing set) costs no write and no fsync */
	fd = openat(dirfd, AGENT_FLOOR_FILE, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	got = read(fd, head, sizeof(head));
	close(fd);
	if (got == (ssize_t)sizeof(head) && !memcmp(head, FLOOR_MAGIC, FLOOR_MAGIC_LEN) &&
	    get_u32(head + FLOOR_MAGIC_LEN) == 0)
		return 0;
	if (got == (ssize_t)sizeof(head) && memcmp(head, FLOOR_MAGIC, FLOOR_MAGIC_LEN) &&
	    !memcmp(head, (const unsigned char[FLOOR_HEAD]){ 0 }, FLOOR_HEAD))
		return 0;	/* preallocated, never set */
	return floor_put(dirfd, NULL, 0);
}
