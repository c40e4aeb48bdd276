/* Unit tests for the close journal (store-journal.c): layout, reopening, torn and foreign slots, a full journal. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "store/store-journal.h"

static char dir[] = "/tmp/jitgate-test-journal-XXXXXX";
static char path[256];

static struct store_journal_entry
entry(const char *id, uint16_t port, enum store_journal_kind kind)
{
	struct store_journal_entry e;

	memset(&e, 0, sizeof(e));
	e.kind = kind;
	e.reason = kind == STORE_JOURNAL_END ? STORE_REASON_USER_REQUESTED : STORE_REASON_NONE;
	snprintf(e.request_id, sizeof(e.request_id), "%s", id);
	e.vm_id = 7;
	e.port = port;
	e.at_ns = 1700000000000000000LL;
	snprintf(e.caller, sizeof(e.caller), "token:admin");
	return e;
}

static int
setup(void **state)
{
	(void)state;
	snprintf(path, sizeof(path), "%s/%s", dir, STORE_JOURNAL_NAME);
	unlink(path);
	return 0;
}

static void
open_ok(struct store_journal **j, struct store_journal_entry **v, size_t **slots, size_t *n)
{
	struct core_error err = { 0 };

	assert_int_equal(store_journal_open(path, j, v, slots, n, &err), 0);
}

/* A new journal is made at full size, holds nothing, and keeps what is added across a reopen until cleared. */
static void
test_add_reopen_clear(void **state)
{
	struct store_journal *j = NULL;
	struct store_journal_entry *v = NULL, a = entry("req-a", 22, STORE_JOURNAL_END),
				   b = entry("req-b", 3389, STORE_JOURNAL_TRUNCATE);
	size_t *slots = NULL, n = 99, sa, sb;
	struct stat st;

	(void)state;
	open_ok(&j, &v, &slots, &n);
	assert_int_equal(n, 0);
	free(v);
	free(slots);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal((size_t)st.st_size, STORE_JOURNAL_SIZE);
	/* written, not sparse: no write into it ever needs a new block */
	assert_true((size_t)st.st_blocks * 512 >= STORE_JOURNAL_SIZE);
	assert_int_equal(store_journal_add(j, &a, &sa), 0);
	assert_int_equal(store_journal_add(j, &b, &sb), 0);
	assert_int_not_equal(sa, sb);
	store_journal_close(j);

	open_ok(&j, &v, &slots, &n);
	assert_int_equal(n, 2);
	assert_int_equal(slots[0], sa);
	assert_string_equal(v[0].request_id, "req-a");
	assert_int_equal(v[0].kind, STORE_JOURNAL_END);
	assert_int_equal(v[0].reason, STORE_REASON_USER_REQUESTED);
	assert_int_equal(v[0].port, 22);
	assert_int_equal(v[0].vm_id, 7);
	assert_true(v[0].at_ns == a.at_ns);
	assert_string_equal(v[0].caller, "token:admin");
	assert_string_equal(v[1].request_id, "req-b");
	assert_int_equal(v[1].kind, STORE_JOURNAL_TRUNCATE);
	free(v);
	free(slots);
	assert_int_equal(store_journal_clear(j, sa), 0);
	store_journal_close(j);

	open_ok(&j, &v, &slots, &n);
	assert_int_equal(n, 1);
	assert_string_equal(v[0].request_id, "req-b");
	free(v);
	free(slots);
	/* the freed slot is used again */
	assert_int_equal(store_journal_add(j, &a, &sa), 0);
	assert_int_equal(sa, 0);
	store_journal_close(j);
}

/* A torn slot (bad checksum) reads as free; a file that is not a journal is refused, not overwritten. */
static void
test_torn_and_foreign(void **state)
{
	struct store_journal *j = NULL;
	struct store_journal_entry *v = NULL, a = entry("req-a", 22, STORE_JOURNAL_END);
	struct core_error err = { 0 };
	size_t *slots = NULL, n = 0, sa;
	uint8_t byte = 0x55;
	int fd;

	(void)state;
	open_ok(&j, &v, &slots, &n);
	free(v);
	free(slots);
	assert_int_equal(store_journal_add(j, &a, &sa), 0);
	store_journal_close(j);
	fd = open(path, O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, &byte, 1, (off_t)((sa + 1) * STORE_JOURNAL_SLOT_SIZE + 40)), 1);
	close(fd);
	open_ok(&j, &v, &slots, &n);
	assert_int_equal(n, 0);
	free(v);
	free(slots);
	store_journal_close(j);

	fd = open(path, O_WRONLY);
	assert_int_equal(pwrite(fd, "not a journal", 13, 0), 13);
	close(fd);
	assert_int_equal(store_journal_open(path, &j, &v, &slots, &n, &err), -EIO);
	assert_non_null(strstr(err.message, "not a close journal"));
}

/* A creation cut short (no header yet) is made again; entries are checked before they are written. */
static void
test_interrupted_create_and_bad_entries(void **state)
{
	struct store_journal *j = NULL;
	struct store_journal_entry *v = NULL, bad;
	uint8_t buf[STORE_JOURNAL_SLOT_SIZE];
	size_t *slots = NULL, n = 0, s;
	int fd;

	(void)state;
	fd = open(path, O_WRONLY | O_CREAT, 0600);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 4096), 0);
	close(fd);
	open_ok(&j, &v, &slots, &n);
	assert_int_equal(n, 0);
	free(v);
	free(slots);

	bad = entry("", 22, STORE_JOURNAL_END);
	assert_int_equal(store_journal_add(j, &bad, &s), -EINVAL);
	bad = entry("req\n", 22, STORE_JOURNAL_END);
	assert_int_equal(store_journal_add(j, &bad, &s), -EINVAL);
	bad = entry("req", 0, STORE_JOURNAL_END);
	assert_int_equal(store_journal_add(j, &bad, &s), -EINVAL);
	bad = entry("req", 22, STORE_JOURNAL_END);
	bad.reason = STORE_REASON_NONE;
	assert_int_equal(store_journal_add(j, &bad, &s), -EINVAL);
	bad = entry("req", 22, (enum store_journal_kind)3);
	assert_int_equal(store_journal_slot_format(&bad, buf, sizeof(buf)), -EINVAL);
	store_journal_close(j);

	/* all-zero bytes are a free slot */
	memset(buf, 0, sizeof(buf));
	assert_int_equal(store_journal_slot_parse(buf, sizeof(buf), &bad), 0);
	/* a short buffer is never read past */
	bad = entry("req", 22, STORE_JOURNAL_END);
	assert_int_equal(store_journal_slot_format(&bad, buf, sizeof(buf)), 0);
	assert_int_equal(store_journal_slot_parse(buf, sizeof(buf) - 1, &bad), 0);
	assert_int_equal(store_journal_slot_parse(buf, sizeof(buf), &bad), 1);
}

/* Every slot taken: -ENOSPC, and what is there stays. */
/*
 * A revoke's terminateSessions rides in byte 12 (zero in journals written before it, which read as
 * no termination) and comes back on parse; a truncation cannot carry it.
 */
static void
test_terminate_flag(void **state)
{
	struct store_journal_entry e = entry("req-t", 22, STORE_JOURNAL_END), back;
	uint8_t buf[STORE_JOURNAL_SLOT_SIZE];

	(void)state;
	assert_int_equal(store_journal_slot_format(&e, buf, sizeof(buf)), 0);
	assert_int_equal(buf[12], 0);
	assert_int_equal(store_journal_slot_parse(buf, sizeof(buf), &back), 1);
	assert_false(back.terminate);
	e.terminate = true;
	assert_int_equal(store_journal_slot_format(&e, buf, sizeof(buf)), 0);
	assert_int_equal(buf[12], 1);
	assert_int_equal(store_journal_slot_parse(buf, sizeof(buf), &back), 1);
	assert_true(back.terminate);
	assert_memory_equal(&back, &e, sizeof(e));
	e = entry("req-t", 22, STORE_JOURNAL_TRUNCATE);
	e.terminate = true;
	assert_int_equal(store_journal_slot_format(&e, buf, sizeof(buf)), -EINVAL);
}

static void
test_full(void **state)
{
	struct store_journal *j = NULL;
	struct store_journal_entry *v = NULL, e;
	size_t *slots = NULL, n = 0, i, s;
	char id[32];

	(void)state;
	open_ok(&j, &v, &slots, &n);
	free(v);
	free(slots);
	for (i = 0; i < STORE_JOURNAL_SLOTS; i++) {
		snprintf(id, sizeof(id), "req-%zu", i);
		e = entry(id, 22, STORE_JOURNAL_END);
		assert_int_equal(store_journal_add(j, &e, &s), 0);
	}
	e = entry("one-more", 22, STORE_JOURNAL_END);
	assert_int_equal(store_journal_add(j, &e, &s), -ENOSPC);
	/* a cleared slot is taken again: the journal drains and refills, it does not wear out */
	assert_int_equal(store_journal_clear(j, 17), 0);
	assert_int_equal(store_journal_add(j, &e, &s), 0);
	assert_int_equal(s, 17);
	assert_int_equal(store_journal_add(j, &e, &s), -ENOSPC);
	store_journal_close(j);
	open_ok(&j, &v, &slots, &n);
	assert_int_equal(n, STORE_JOURNAL_SLOTS);
	assert_string_equal(v[STORE_JOURNAL_SLOTS - 1].request_id, "req-4095");
	assert_string_equal(v[17].request_id, "one-more");
	free(v);
	free(slots);
	store_journal_close(j);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_add_reopen_clear, setup),
		cmocka_unit_test_setup(test_torn_and_foreign, setup),
		cmocka_unit_test_setup(test_interrupted_create_and_bad_entries, setup),
		cmocka_unit_test_setup(test_terminate_flag, setup),
		cmocka_unit_test_setup(test_full, setup),
	};
	int r;

	if (!mkdtemp(dir))
		return 1;
	r = cmocka_run_group_tests(tests, NULL, NULL);
	unlink(path);
	rmdir(dir);
	return r;
}
