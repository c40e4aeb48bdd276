/* How the client hands back what went wrong: failures as a struct client_error, warnings through the caller's hook, replies cleared. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/client.h"
#include "client/client-internal.h"

/* The client prints nothing: what goes wrong travels back in a struct client_error. */
#pragma GCC poison printf vprintf fprintf vfprintf dprintf puts fputs putchar fputc putc fwrite json_dumpf json_dumpfd perror

void
client_warning(struct client *c, const char *fmt, ...)
{
	char msg[CLIENT_ERROR_MAX];
	va_list ap;

	if (!c->warn)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	c->warn(c->warn_arg, msg);
}

int
client_fail(struct client_error *err, enum client_error_kind kind, const char *fmt, ...)
{
	va_list ap;

	err->kind = kind;
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

void
client_error_clear(struct client_error *err)
{
	client_reply_clear(&err->refusal);
	err->refused = false;
	err->message[0] = '\0';
}

void
client_reply_clear(struct client_reply *r)
{
	json_decref(r->json);
	free(r->body);
	memset(r, 0, sizeof(*r));
}
