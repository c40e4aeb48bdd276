/* The boot protection list: what jitgated protects, kept on disk so that the gate is closed before it starts. */
#ifndef JITGATE_DAEMON_BOOTRULES_H
#define JITGATE_DAEMON_BOOTRULES_H

#include <stddef.h>

#include "core/buf.h"
#include "core/error.h"
#include "fw/fw.h"

/*
 * jitgated keeps BOOT_RULES_FILE in its state directory current: rewritten
 * (atomically) whenever the set of protected ports changes. At boot,
 * jitgate-boot.service runs `jitgated boot` as root before the network comes up;
 * it reads the file and puts table inet jitgate in place with those ports
 * protected and no grant, through the same fw code as jitgated, so that
 * jitgated adopts the table when it starts (and, if it cannot start, the
 * protected ports stay closed).
 *
 * The file is data, not nft commands: under privilege separation the
 * unprivileged main process writes it and root reads it, so what it can say is
 * only "protect this port" (of this host, or of a gateway VM's address). A
 * compromised writer can thus leave a port unprotected at boot, which it could
 * do through the firewall helper anyway, but cannot touch any other table.
 *
 * Live grants are not written: the kernel's timeouts are durations, so a grant
 * loaded at boot would run its full remaining time again from the boot, past its
 * end (and a grant revoked since the last write would come back). jitgated adds
 * the grants that are still live, with their true end times, when it starts.
 *
 * Lines (one space between fields, '#' starts a comment line):
 *   local PROTO PORT          this host (input hook): PROTO is tcp, udp or any
 *   gw ADDRESS PROTO PORT     a gateway VM's address (forward hook)
 */
#define BOOT_RULES_FILE		"boot-protect"
#define BOOT_RULES_LINES_MAX	65536	/* protected (address, port) pairs */
#define BOOT_RULES_LINE_MAX	96
#define BOOT_RULES_SIZE_MAX	((size_t)BOOT_RULES_LINES_MAX * BOOT_RULES_LINE_MAX)

/* What a list says, as a firewall state with no grants. Arrays owned; boot_rules_free() frees them. */
struct boot_rules {
	struct fw_vm *vms;	/* vms[0] is this host (id 1); one gateway VM per address after it */
	size_t n_vms;
	struct fw_port *ports;
	size_t n_ports;
};

/* The list for the protected ports of `st` (its grants are ignored), appended to out. */
int boot_rules_format(const struct fw_state *st, struct buf *out);

/* Parse a list (text, len; no NUL needed). 0 and *ret; -EINVAL with err naming the line. */
int boot_rules_parse(const char *text, size_t len, struct boot_rules *ret, struct core_error *err);
void boot_rules_free(struct boot_rules *r);

/*
 * Write DIR/BOOT_RULES_FILE for `st` unless it says what *last says (the text
 * last written, owned, replaced on success; NULL at first). Atomic: temp file,
 * fsync, rename, fsync of the directory.
 */
int boot_rules_write(const char *state_dir, const struct fw_state *st, char **last, struct core_error *err);

/*
 * Read DIR/BOOT_RULES_FILE and make the kernel hold exactly its protection and
 * no grant. 1 when the file does not exist (nothing was ever protected), 0 when
 * applied, negative errno with err set.
 */
int boot_rules_load(const char *state_dir, struct core_error *err);

#endif
