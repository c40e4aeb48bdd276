/* The error record: what went wrong with a user's input, in words a user can act on. */
#ifndef JITGATE_CORE_ERROR_H
#define JITGATE_CORE_ERROR_H

#include <stddef.h>

#include "limits.h"

/*
 * A domain error travels as this record and becomes the API's JSON error body
 * {"error":{"code":…,"message":…,"target":…}} or a CLI message naming the field.
 * Functions that take a `struct core_error *err` fill it only when they fail,
 * and accept NULL when the caller does not want the words.
 */
struct core_error {
	char code[ERROR_CODE_MAX];		/* stable, machine-readable, e.g. "InvalidPort" */
	char target[ERROR_TARGET_MAX];	/* the field at fault, e.g. "properties.virtualMachines[0].ports[1].number"; may be empty */
	char message[ERROR_MESSAGE_MAX];	/* one sentence for a person */
};

/* Fill err (if not NULL); text longer than a field is cut. Always returns -EINVAL for `return core_error_set(...)`. */
int core_error_set(struct core_error *err, const char *code, const char *target, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Put `prefix` (e.g. "properties.virtualMachines[2]") in front of err->target, joined with '.' or nothing before '['. */
void core_error_prefix_target(struct core_error *err, const char *prefix);

/*
 * Make untrusted bytes safe to repeat in a message: at most ERROR_QUOTE_MAX bytes
 * of s[0..n), anything not printable ASCII as '?', "..." when cut. buf must hold
 * ERROR_QUOTE_SIZE bytes; it is always NUL-terminated. Returns buf, for use as a "%s" argument.
 */
const char *core_error_quote(const char *s, size_t n, char *buf, size_t size);

#endif
