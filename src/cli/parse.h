/* The command line's own parsers: durations, times, ports (parse.c). */
#ifndef JITGATE_CLI_PARSE_H
#define JITGATE_CLI_PARSE_H

#include <stdint.h>

/* "90m", "1h30m", "3h", "2d", "45s" or ISO 8601 ("PT3H"); -EINVAL. */
int cli_duration_parse(const char *s, int64_t *ret_ms);
/* RFC 3339, or local "YYYY-MM-DD HH:MM[:SS]", "YYYY-MM-DDTHH:MM[:SS]", "HH:MM" (next such time). */
int cli_time_parse(const char *s, int64_t now_ns, int64_t *ret_ns);
/* --since: a duration back from now, or a time. */
int cli_when_parse(const char *s, int64_t now_ns, int64_t *ret_ns);
/* "22", "22/tcp", "53/udp", or a port, a slash and "*" (any); *ret_proto is "TCP", "UDP", "*", or NULL when not given. */
int cli_port_parse(const char *s, uint16_t *ret_port, const char **ret_proto);

#endif
