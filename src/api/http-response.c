/*
 * Response headers, the one part of the HTTP layer without libmicrohttpd: http.c's server and the API
 * fuzzer's fake (fuzz/http-fake.c) both link this, so the fuzzer checks the handlers' headers exactly as
 * the server does.
 */
#include <errno.h>
#include <string.h>

#include "http.h"

int
http_response_header(struct http_response *resp, const char *name, const char *value)
{
	size_t nl = strlen(name), vl = strlen(value);

	if (resp->n_headers >= HTTP_HEADERS_OUT_MAX || nl == 0 || nl >= sizeof(resp->headers[0].name) ||
	    vl >= sizeof(resp->headers[0].value))
		return -E2BIG;
	/* A CR or LF would let a value smuggle in headers of its own. */
	if (strpbrk(name, "\r\n:") != NULL || strpbrk(value, "\r\n") != NULL)
		return -EINVAL;
	memcpy(resp->headers[resp->n_headers].name, name, nl + 1);
	memcpy(resp->headers[resp->n_headers].value, value, vl + 1);
	resp->n_headers++;
	return 0;
}
