/* jitgated's log lines (log.h). */
#include <stdarg.h>
#include <stdio.h>

#include "core/error.h"
#include "daemon/log.h"

void
logmsg(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("jitgated: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

void
fail_err(const char *what, const struct core_error *err)
{
	logmsg("%s: %s%s%s: %s", what, err->code, err->target[0] ? " at " : "", err->target, err->message);
}
