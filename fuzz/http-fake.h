/* A stand-in for http-server.c in the API fuzzer: a request decoded from fuzz bytes, no libmicrohttpd, no sockets. */
#ifndef JITGATE_FUZZ_HTTP_FAKE_H
#define JITGATE_FUZZ_HTTP_FAKE_H

#include <stddef.h>
#include <stdint.h>

#include "http/http.h"

/*
 * The input, as http_fake_parse reads it:
 *
 *   byte 0        flags: bits 0-2 the method (GET PUT POST DELETE PATCH HEAD OPTIONS, or "get");
 *                 bit 3 the unix socket (bit 4: peer uid 0, else 1000), else TCP from
 *                 bits 4-5: 10.1.2.3 and ::1 (trusted proxies), 192.0.2.7, 2001:db8::5
 *   request-target  up to the first NUL: path, then '?' and the query string, both
 *                 percent-decoded as libmicrohttpd does ('+' is a space in the query only)
 *   headers       up to the next NUL: "Name: value" lines split on LF (a CR before it dropped);
 *                 a line without ':' is skipped; the value's surrounding blanks are trimmed
 *   body          the rest, byte for byte
 *
 * Missing parts are empty. req->impl points to the parsed structure; everything
 * req points to is owned by it until http_fake_free.
 */
int http_fake_parse(const uint8_t *data, size_t size, struct http_request *req);
void http_fake_free(struct http_request *req);

#endif
