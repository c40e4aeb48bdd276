/* Everything the command-line client prints: sanitised printers, tables, JSON and times (output.c). */
#ifndef JITGATE_CLI_OUTPUT_H
#define JITGATE_CLI_OUTPUT_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

/*
 * Everything the client writes to stdout or stderr goes through output.c (the other files
 * cannot call stdio's printing functions: see the end of this header), so no server text
 * reaches a terminal unsanitised. cli_printf/cli_fprintf: the format's own text is the
 * client's and prints as it is; the output of every conversion (%s: server text as often as
 * not) goes through cli_text_escape() (cli/text.h), so one field cannot hold a newline, an
 * escape sequence, a C1 control or broken UTF-8: they print as \u00XX and U+FFFD.
 * 0, or a negative errno (nothing printed).
 */
int cli_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int cli_fprintf(FILE *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int cli_vfprintf(FILE *f, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
/* A whole document from the server (CSV, JSON text): sanitised the same way, keeping its lines and tabs. */
int cli_write_document(FILE *f, const char *s, size_t n);
/* The client's own constant text (help) as it is: never server text. */
void cli_print_static(FILE *f, const char *text);

struct table;

struct table *table_new(size_t ncols, const char *const *headers);
/* Add a row of ncols cells (NULL prints as "-"); the strings are copied. */
int table_add(struct table *t, const char *const *cells);
void table_print(const struct table *t, FILE *f);
void table_free(struct table *t);

/* Print JSON as the API sent it, indented; DEL and C1 controls inside strings as \u00XX escapes (same values). */
void cli_print_json(const json_t *v);
/* A list as the API sends one, {"value": [...]}, for -o json. */
void cli_print_list_json(json_t *items);
/* An RFC 3339 UTC time as local time ("2025-03-01 14:05:00 CET"); the input itself when it does not parse. */
void cli_time_local(const char *rfc3339, char *buf, size_t size);
void cli_time_local_ns(int64_t ns, char *buf, size_t size);
/* Object member as a string, or `dflt`. */
const char *cli_json_str(const json_t *o, const char *key, const char *dflt);
/* The last '/'-segment of an id. */
const char *cli_id_name(const char *id);

/*
 * Only output.c may print with stdio (src/client prints nothing at all); everywhere else
 * a call is a compile error, so that no path bypasses the sanitiser.
 */
#ifndef CLI_OUTPUT_SELF
#pragma GCC poison printf vprintf fprintf vfprintf dprintf puts fputs putchar fputc putc fwrite json_dumpf json_dumpfd perror
#endif
#endif
