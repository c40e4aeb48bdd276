/* Golden corpus of the codec: every committed fuzz seed through its decoder and encoder, compared with committed output. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/codec.h"
#include "testutil.h"

/*
 * For each decoder, tests/unit/codec-golden/NAME.expected holds one line per seed of
 * fuzz/corpus/fuzz-NAME-json: "SEED<TAB>RESULT", where RESULT is "ok " and the compact
 * encoding of what was decoded, or "err " and the compact error body (code, message,
 * target), or "rc N" for any other return. The expected file is the list of seeds, so a
 * finding the fuzzer leaves in the corpus directory changes nothing here.
 * CODEC_GOLDEN_WRITE=1 rewrites the expected files from the corpus directories instead
 * (only for a deliberate change of the wire format; review the diff).
 */

#define POLICY_ID "/subscriptions/20ff7fc3-e762-44dd-bd96-b71116dcdc23/resourceGroups/myRg1/providers/Microsoft.Security/locations/westeurope/jitNetworkAccessPolicies/default"

static const char *golden_dir, *corpus_dir;

struct out {
	char *s;
	size_t len, size;
};

static void
out_add(struct out *o, const char *s, size_t n)
{
	while (o->len + n + 1 > o->size) {
		o->size = o->size ? o->size * 2 : 4096;
		o->s = realloc(o->s, o->size);
		assert_non_null(o->s);
	}
	memcpy(o->s + o->len, s, n);
	o->len += n;
	o->s[o->len] = '\0';
}

static void
out_str(struct out *o, const char *s)
{
	out_add(o, s, strlen(s));
}

/* "ok " + the compact encoding of v (taken), or "encode failed". */
static void
out_json(struct out *o, json_t *v)
{
	char *s;

	if (v == NULL) {
		out_str(o, "encode failed");
		return;
	}
	s = codec_dump(v, NULL);
	assert_non_null(s);
	out_str(o, "ok ");
	out_str(o, s);
	free(s);
	json_decref(v);
}

static void
out_result(struct out *o, int r, const struct core_error *err)
{
	char buf[32];
	json_t *e;
	char *s;

	if (r == -EINVAL) {
		e = codec_error_encode(err);
		assert_non_null(e);
		s = codec_dump(e, NULL);
		assert_non_null(s);
		out_str(o, "err ");
		out_str(o, s);
		free(s);
		json_decref(e);
		return;
	}
	snprintf(buf, sizeof(buf), "rc %d", r);
	out_str(o, buf);
}

static void
run_policy(const char *body, size_t n, struct out *o)
{
	struct arm_policy_id id;
	struct core_error err;
	struct policy *p = NULL;
	int r;

	assert_int_equal(arm_policy_id_parse(S(POLICY_ID), &id, &err), 0);
	memset(&err, 0, sizeof(err));
	r = codec_policy_decode(body, n, &id, &p, &err);
	if (r == 0) {
		out_json(o, codec_policy_encode(p));
		policy_free(p);
	} else {
		out_result(o, r, &err);
	}
}

static void
run_initiate(const char *body, size_t n, struct out *o)
{
	struct initiate_body *b = NULL;
	struct core_error err;
	int r;

	memset(&err, 0, sizeof(err));
	r = codec_initiate_decode(body, n, &b, &err);
	if (r == 0) {
		out_json(o, codec_initiate_encode(b));
		codec_initiate_free(b);
	} else {
		out_result(o, r, &err);
	}
}

static void
run_revoke(const char *body, size_t n, struct out *o)
{
	struct revoke_body *b = NULL;
	struct core_error err;
	int r;

	memset(&err, 0, sizeof(err));
	r = codec_revoke_decode(body, n, &b, &err);
	if (r == 0) {
		out_json(o, codec_revoke_encode(b));
		codec_revoke_free(b);
	} else {
		out_result(o, r, &err);
	}
}

/* Onto a new VM, then onto a stored gateway VM (absent fields keep their values): "FRESH | STORED". */
static void
run_vm(const char *body, size_t n, struct out *o)
{
	struct codec_vm vm;
	struct core_error err;
	int r, pass;

	for (pass = 0; pass < 2; pass++) {
		memset(&vm, 0, sizeof(vm));
		if (pass == 1) {
			out_str(o, " | ");
			snprintf(vm.location, sizeof(vm.location), "westeurope");
			snprintf(vm.os_type, sizeof(vm.os_type), "Linux");
			vm.point = CODEC_POINT_GATEWAY;
			vm.n_addrs = 1;
			assert_int_equal(net_addr_parse("10.0.0.4", 8, &vm.addrs[0], NULL), 0);
		}
		memset(&err, 0, sizeof(err));
		r = codec_vm_decode(body, n, &vm, &err);
		if (r == 0)
			out_json(o, codec_vm_body_encode(&vm));
		else
			out_result(o, r, &err);
	}
}

struct decoder {
	const char *name;
	void (*run)(const char *body, size_t n, struct out *o);
};

static char *
read_file(const char *path, size_t *ret_len)
{
	struct out o = {0};
	char buf[4096];
	size_t k;
	FILE *f = fopen(path, "rb");

	if (f == NULL)
		fail_msg("cannot open %s: %s", path, strerror(errno));
	while ((k = fread(buf, 1, sizeof(buf), f)) > 0)
		out_add(&o, buf, k);
	fclose(f);
	if (o.s == NULL)
		out_add(&o, "", 0);
	*ret_len = o.len;
	return o.s;
}

/* The line of one seed: "SEED\tRESULT\n". */
static void
seed_line(const struct decoder *d, const char *seed, struct out *o)
{
	char path[4096];
	size_t n;
	char *body;

	snprintf(path, sizeof(path), "%s/fuzz-%s-json/%s", corpus_dir, d->name, seed);
	body = read_file(path, &n);
	out_str(o, seed);
	out_str(o, "\t");
	d->run(body, n, o);
	out_str(o, "\n");
	free(body);
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The committed seeds of the corpus directory, sorted; the fuzzer's findings (crash-*, ...) are not seeds. */
static void
write_expected(const struct decoder *d, const char *expected)
{
	char path[4096];
	struct out o = {0};
	struct dirent *e;
	char **names = NULL;
	size_t n = 0, i;
	DIR *dir;
	FILE *f;

	snprintf(path, sizeof(path), "%s/fuzz-%s-json", corpus_dir, d->name);
	dir = opendir(path);
	assert_non_null(dir);
	while ((e = readdir(dir)) != NULL) {
		if (e->d_name[0] == '.' || (strchr(e->d_name, '-') != NULL && strncmp(e->d_name, "seed-", 5) != 0))
			continue;
		names = realloc(names, (n + 1) * sizeof(*names));
		assert_non_null(names);
		names[n++] = strdup(e->d_name);
	}
	closedir(dir);
	qsort(names, n, sizeof(*names), name_cmp);
	for (i = 0; i < n; i++) {
		seed_line(d, names[i], &o);
		free(names[i]);
	}
	free(names);
	f = fopen(expected, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(o.s, 1, o.len, f), o.len);
	assert_int_equal(fclose(f), 0);
	free(o.s);
}

static void
check(const struct decoder *d)
{
	char expected[4096], seed[256];
	size_t n, at = 0, lines = 0, failed = 0;
	char *want, *line, *end, *tab;

	snprintf(expected, sizeof(expected), "%s/%s.expected", golden_dir, d->name);
	if (getenv("CODEC_GOLDEN_WRITE") != NULL)
		write_expected(d, expected);
	want = read_file(expected, &n);
	while (at < n) {
		struct out got = {0};

		line = want + at;
		end = memchr(line, '\n', n - at);
		assert_non_null(end);
		tab = memchr(line, '\t', (size_t)(end - line));
		assert_non_null(tab);
		assert_true((size_t)(tab - line) < sizeof(seed));
		memcpy(seed, line, (size_t)(tab - line));
		seed[tab - line] = '\0';
		seed_line(d, seed, &got);
		if (got.len != (size_t)(end - line) + 1 || memcmp(got.s, line, got.len) != 0) {
			fprintf(stderr, "%s %s:\n  want %.*s\n  got  %s", d->name, seed, (int)(end - line - (tab - line) - 1),
			    tab + 1, got.s + (tab - line) + 1);
			failed++;
		}
		free(got.s);
		lines++;
		at = (size_t)(end - want) + 1;
	}
	free(want);
	fprintf(stderr, "%s: %zu seeds, %zu differ\n", d->name, lines, failed);
	assert_true(lines > 0);
	assert_int_equal(failed, 0);
}

static void
test_policy(void **state)
{
	static const struct decoder d = {"policy", run_policy};

	(void)state;
	check(&d);
}

static void
test_initiate(void **state)
{
	static const struct decoder d = {"initiate", run_initiate};

	(void)state;
	check(&d);
}

static void
test_revoke(void **state)
{
	static const struct decoder d = {"revoke", run_revoke};

	(void)state;
	check(&d);
}

static void
test_vm(void **state)
{
	static const struct decoder d = {"vm", run_vm};

	(void)state;
	check(&d);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_policy),
		cmocka_unit_test(test_initiate),
		cmocka_unit_test(test_revoke),
		cmocka_unit_test(test_vm),
	};

	if (argc != 3) {
		fprintf(stderr, "usage: test-codec-golden GOLDEN_DIR CORPUS_DIR\n");
		return 2;
	}
	golden_dir = argv[1];
	corpus_dir = argv[2];
	return cmocka_run_group_tests(tests, NULL, NULL);
}
