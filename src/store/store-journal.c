/* The close journal (store-journal.h): a fixed-size file of fixed slots, written in place, never grown. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/store-journal.h"

#define HEADER_MAGIC	"jitgate close journal 1\n"	/* 24 bytes, then slot count and slot size */
#define SLOT_MAGIC	0x314c434aU			/* "JCL1" little-endian: the slot holds an entry */

/* Slot layout (little-endian); the rest of the slot is zero. */
#define OFF_MAGIC	0
#define OFF_SUM		4	/* FNV-1a over bytes OFF_KIND..end of slot */
#define OFF_KIND	8
#define OFF_REASON	9
#define OFF_PORT	10
#define OFF_FLAGS	12	/* JOURNAL_FLAG_*; 0 in journals written before the flag existed */
#define OFF_VM		16
#define JOURNAL_FLAG_TERMINATE	0x01	/* entry.terminate */
#define OFF_AT		24
#define OFF_ID		32	/* STORE_ID_MAX + 1 bytes, NUL-padded */
#define OFF_CALLER	(OFF_ID + STORE_ID_MAX + 1)	/* STORE_REQUESTOR_MAX + 1 bytes, NUL-padded */
#define SLOT_USED_END	(OFF_CALLER + STORE_REQUESTOR_MAX + 1)

_Static_assert(SLOT_USED_END <= STORE_JOURNAL_SLOT_SIZE, "a journal entry must fit its slot");
_Static_assert(4096 % STORE_JOURNAL_SLOT_SIZE == 0, "a slot must never cross a page");

struct store_journal {
	int fd;
	bool used[STORE_JOURNAL_SLOTS];
};

static uint32_t
fnv1a(const uint8_t *p, size_t n)
{
	uint32_t h = 2166136261U;
	size_t i;

	for (i = 0; i < n; i++) {
		h ^= p[i];
		h *= 16777619U;
	}
	return h;
}

static void
put_u32(uint8_t *p, uint32_t v)
{
	size_t i;

	for (i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t
get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void
put_u64(uint8_t *p, uint64_t v)
{
	size_t i;

	for (i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t
get_u64(const uint8_t *p)
{
	uint64_t v = 0;
	size_t i;

	for (i = 0; i < 8; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

/* A NUL-terminated field of printable ASCII within its n bytes, empty allowed or not. */
static bool
text_ok(const uint8_t *p, size_t n, bool may_be_empty)
{
	size_t i;

	for (i = 0; i < n && p[i]; i++)
		if (p[i] < 0x20 || p[i] > 0x7e)
			return false;
	return i < n && (may_be_empty || i > 0);
}

static bool
entry_ok(const struct store_journal_entry *e)
{
	return (e->kind == STORE_JOURNAL_END ? e->reason > STORE_REASON_NONE && e->reason <= STORE_REASON_LAST
					     : e->kind == STORE_JOURNAL_TRUNCATE && e->reason == STORE_REASON_NONE &&
					       !e->terminate) &&
	       e->port != 0 && e->vm_id > 0 && e->at_ns > 0 &&
	       text_ok((const uint8_t *)e->request_id, sizeof(e->request_id), false) &&
	       text_ok((const uint8_t *)e->caller, sizeof(e->caller), true);
}

int
store_journal_slot_format(const struct store_journal_entry *e, uint8_t *buf, size_t len)
{
	if (len < STORE_JOURNAL_SLOT_SIZE || !entry_ok(e))
		return -EINVAL;
	memset(buf, 0, STORE_JOURNAL_SLOT_SIZE);
	put_u32(buf + OFF_MAGIC, SLOT_MAGIC);
	buf[OFF_KIND] = (uint8_t)e->kind;
	buf[OFF_REASON] = e->kind == STORE_JOURNAL_END ? (uint8_t)e->reason : 0;
	buf[OFF_PORT] = (uint8_t)(e->port & 0xff);
	buf[OFF_PORT + 1] = (uint8_t)(e->port >> 8);
	buf[OFF_FLAGS] = e->terminate ? JOURNAL_FLAG_TERMINATE : 0;
	put_u64(buf + OFF_VM, (uint64_t)e->vm_id);
	put_u64(buf + OFF_AT, (uint64_t)e->at_ns);
	memcpy(buf + OFF_ID, e->request_id, strlen(e->request_id));
	memcpy(buf + OFF_CALLER, e->caller, strlen(e->caller));
	put_u32(buf + OFF_SUM, fnv1a(buf + OFF_KIND, STORE_JOURNAL_SLOT_SIZE - OFF_KIND));
	return 0;
}

int
store_journal_slot_parse(const uint8_t *buf, size_t len, struct store_journal_entry *ret)
{
	struct store_journal_entry e;

	if (len < STORE_JOURNAL_SLOT_SIZE || get_u32(buf + OFF_MAGIC) != SLOT_MAGIC ||
	    get_u32(buf + OFF_SUM) != fnv1a(buf + OFF_KIND, STORE_JOURNAL_SLOT_SIZE - OFF_KIND))
		return 0;	/* free, or a write torn before its answer was sent */
	memset(&e, 0, sizeof(e));
	e.kind = (enum store_journal_kind)buf[OFF_KIND];
	e.reason = (enum store_grant_reason)buf[OFF_REASON];
	e.port = (uint16_t)(buf[OFF_PORT] | buf[OFF_PORT + 1] << 8);
	if (buf[OFF_FLAGS] & ~JOURNAL_FLAG_TERMINATE)
		return -EINVAL;
	e.terminate = buf[OFF_FLAGS] & JOURNAL_FLAG_TERMINATE;
	e.vm_id = (int64_t)get_u64(buf + OFF_VM);
	e.at_ns = (int64_t)get_u64(buf + OFF_AT);
	if (!text_ok(buf + OFF_ID, sizeof(e.request_id), false) ||
	    !text_ok(buf + OFF_CALLER, sizeof(e.caller), true))
		return -EINVAL;
	memcpy(e.request_id, buf + OFF_ID, sizeof(e.request_id));
	memcpy(e.caller, buf + OFF_CALLER, sizeof(e.caller));
	if (!entry_ok(&e))
		return -EINVAL;
	*ret = e;
	return 1;
}

static void
header_format(uint8_t *buf)
{
	memset(buf, 0, STORE_JOURNAL_SLOT_SIZE);
	memcpy(buf, HEADER_MAGIC, sizeof(HEADER_MAGIC) - 1);
	put_u32(buf + 24, STORE_JOURNAL_SLOTS);
	put_u32(buf + 28, STORE_JOURNAL_SLOT_SIZE);
}

static int
write_all_at(int fd, const uint8_t *buf, size_t n, off_t off)
{
	while (n > 0) {
		ssize_t w = pwrite(fd, buf, n, off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return w < 0 ? -errno : -EIO;
		buf += w;
		n -= (size_t)w;
		off += w;
	}
	return 0;
}

/* Sync the directory holding path, so that a new file's name survives a crash. */
static int
sync_dir_of(const char *path)
{
	char copy[4096];
	int fd, r = 0;

	if (snprintf(copy, sizeof(copy), "%s", path) >= (int)sizeof(copy))
		return -ENAMETOOLONG;
	fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0)
		r = -errno;
	close(fd);
	return r;
}

/*
 * Make the file at full size: every slot zeroed and synced first, the header last. A creation cut
 * short leaves a file without its header, which is found and made again (it can hold no entry:
 * entries are written only into a journal that was opened).
 */
static int
journal_create(int fd, const char *path, struct core_error *err)
{
	uint8_t buf[4096];
	size_t off;
	int r = 0;

	/* real zeros (no sparse holes, no unwritten extents): later writes into them allocate nothing */
	memset(buf, 0, sizeof(buf));
	for (off = STORE_JOURNAL_SLOT_SIZE; off < STORE_JOURNAL_SIZE && r == 0; off += sizeof(buf)) {
		size_t n = STORE_JOURNAL_SIZE - off < sizeof(buf) ? STORE_JOURNAL_SIZE - off : sizeof(buf);

		r = write_all_at(fd, buf, n, (off_t)off);
	}
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	header_format(buf);
	if (r == 0)
		r = write_all_at(fd, buf, STORE_JOURNAL_SLOT_SIZE, 0);
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	if (r == 0)
		r = sync_dir_of(path);
	if (r < 0)
		core_error_set(err, "JournalError", "", "cannot make the close journal %s (%zu bytes): %s", path,
			       STORE_JOURNAL_SIZE, strerror(-r));
	return r;
}

static bool
all_zero(const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

int
store_journal_open(const char *path, struct store_journal **ret, struct store_journal_entry **ret_entries,
		   size_t **ret_slots, size_t *ret_n, struct core_error *err)
{
	struct store_journal *j = NULL;
	struct store_journal_entry *v = NULL;
	size_t *slots = NULL, n = 0, i;
	uint8_t *file = NULL, head[STORE_JOURNAL_SLOT_SIZE];
	struct stat st;
	int fd = -1, r;

	fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		r = -errno;
		core_error_set(err, "JournalError", "", "cannot open the close journal %s: %s", path, strerror(errno));
		goto out;
	}
	header_format(head);
	file = calloc(1, STORE_JOURNAL_SIZE);
	j = calloc(1, sizeof(*j));
	v = calloc(STORE_JOURNAL_SLOTS, sizeof(*v));
	slots = calloc(STORE_JOURNAL_SLOTS, sizeof(*slots));
	if (!file || !j || !v || !slots) {
		r = -ENOMEM;
		core_error_set(err, "JournalError", "", "out of memory");
		goto out;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (size_t)st.st_size > STORE_JOURNAL_SIZE ||
	    pread(fd, file, STORE_JOURNAL_SIZE, 0) < 0) {
		r = -EIO;
		core_error_set(err, "JournalError", "", "%s is not a plain file of at most %zu bytes", path,
			       STORE_JOURNAL_SIZE);
		goto out;
	}
	/* new, or made by a creation cut short: (re)make it */
	if (all_zero(file, STORE_JOURNAL_SLOT_SIZE) && (r = journal_create(fd, path, err)) < 0)
		goto out;
	if (all_zero(file, STORE_JOURNAL_SLOT_SIZE))
		memcpy(file, head, sizeof(head));
	else if ((size_t)st.st_size != STORE_JOURNAL_SIZE || memcmp(file, head, sizeof(head))) {
		r = -EIO;
		core_error_set(err, "JournalError", "",
			       "%s is not a close journal of this version; it lists grants closed while the disk "
			       "refused writes: move it away only once the store is known to hold them", path);
		goto out;
	}
	for (i = 0; i < STORE_JOURNAL_SLOTS; i++) {
		/* a malformed slot with a good checksum cannot come from this code: read it as free */
		if (store_journal_slot_parse(file + (i + 1) * STORE_JOURNAL_SLOT_SIZE, STORE_JOURNAL_SLOT_SIZE, &v[n]) != 1)
			continue;
		j->used[i] = true;
		slots[n++] = i;
	}
	j->fd = fd;
	fd = -1;
	*ret = j;
	j = NULL;
	*ret_entries = v;
	*ret_slots = slots;
	*ret_n = n;
	v = NULL;
	slots = NULL;
	r = 0;
out:
	if (fd >= 0)
		close(fd);
	free(file);
	free(j);
	free(v);
	free(slots);
	return r;
}

void
store_journal_close(struct store_journal *j)
{
	if (!j)
		return;
	close(j->fd);
	free(j);
}

int
store_journal_add(struct store_journal *j, const struct store_journal_entry *e, size_t *ret_slot)
{
	uint8_t buf[STORE_JOURNAL_SLOT_SIZE];
	size_t i;
	int r;

	for (i = 0; i < STORE_JOURNAL_SLOTS && j->used[i]; i++)
		;
	if (i == STORE_JOURNAL_SLOTS)
		return -ENOSPC;
	if ((r = store_journal_slot_format(e, buf, sizeof(buf))) < 0)
		return r;
	if ((r = write_all_at(j->fd, buf, sizeof(buf), (off_t)((i + 1) * STORE_JOURNAL_SLOT_SIZE))) < 0)
		return r;
	if (fdatasync(j->fd) < 0)
		return -errno;
	j->used[i] = true;
	*ret_slot = i;
	return 0;
}

int
store_journal_clear(struct store_journal *j, size_t slot)
{
	uint8_t buf[STORE_JOURNAL_SLOT_SIZE];
	int r;

	if (slot >= STORE_JOURNAL_SLOTS)
		return -EINVAL;
	memset(buf, 0, sizeof(buf));
	if ((r = write_all_at(j->fd, buf, sizeof(buf), (off_t)((slot + 1) * STORE_JOURNAL_SLOT_SIZE))) < 0)
		return r;
	if (fdatasync(j->fd) < 0)
		return -errno;
	j->used[slot] = false;
	return 0;
}
