/* The client's one sanitiser for text a server sent, before any of it reaches a terminal. */
#ifndef JITGATE_CLI_TEXT_H
#define JITGATE_CLI_TEXT_H

#include <stddef.h>

#include "core/buf.h"

/* Keep '\n', '\t' and a "\r\n" pair: for whole documents (indented JSON, CSV), never for one field. */
#define CLI_TEXT_MULTILINE	1u

/* "\u00XX": what one control character becomes. */
#define CLI_TEXT_ESCAPE_LEN	6

/*
 * Append s[0..n) (a pointer and a length; NULs inside are text too) to out, made
 * inert for a terminal: every C0 control (0x00-0x1f, newline and tab included
 * unless CLI_TEXT_MULTILINE), DEL (0x7f) and C1 control (U+0080-U+009F, which
 * UTF-8 writes as C2 80..C2 9F) becomes the six visible characters "\u00XX"
 * (lower-case hex, as JSON writes them, so that JSON stays valid JSON with the
 * same value); every byte sequence that is not well-formed UTF-8 (RFC 3629: no
 * overlong forms, no surrogates, nothing past U+10FFFF, no truncated character)
 * becomes U+FFFD, one for each maximal ill-formed subpart. Everything else
 * passes unchanged. The result is well-formed UTF-8, holds none of those bytes,
 * and sanitising it again changes nothing. 0, or -E2BIG / -ENOMEM from out
 * (which is then as it was before the call).
 */
int cli_text_escape(struct buf *out, const char *s, size_t n, unsigned flags);

#endif
