/* What every fuzz target shares: the libFuzzer entry point's prototype and invariant checks. */
#ifndef JITGATE_FUZZ_COMMON_H
#define JITGATE_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* abort() with a note when an invariant fails; libFuzzer saves the input. */
#define fuzz_check(cond) do { \
	if (!(cond)) { \
		fprintf(stderr, "invariant failed: %s (%s:%d)\n", #cond, __FILE__, __LINE__); \
		abort(); \
	} \
} while (0)

/* A failed parse leaves a record with a code and a message of printable ASCII only. */
static inline void
fuzz_check_error(const struct core_error *err, const char *code)
{
	size_t i, n;

	fuzz_check(strcmp(err->code, code) == 0);
	n = strnlen(err->message, sizeof(err->message));
	fuzz_check(n > 0 && n < sizeof(err->message));
	for (i = 0; i < n; i++)
		fuzz_check(err->message[i] >= 0x20 && err->message[i] < 0x7f);
}

/* The input copied to an exactly-sized heap block, so that ASan sees any read past n. */
static inline char *
fuzz_copy(const uint8_t *data, size_t size)
{
	char *s = malloc(size ? size : 1);

	fuzz_check(s != NULL);
	if (size)
		memcpy(s, data, size);
	return s;
}

#endif
