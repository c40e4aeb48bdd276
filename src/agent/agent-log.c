/* jitgate-agent's one way to say something: a line on stderr, which systemd's journal keeps. */
#include <stdarg.h>
#include <stdio.h>

#include "agent/agent.h"

void
agent_log(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("jitgate-agent: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}
