/* A test driver for src/fw: runs a list of firewall operations in one process, in the current network namespace. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fw/fw.h"

#define OPS_WORDS_MAX 8
#define STATE_MAX 200000

static const char usage[] =
	"usage: fwtool OP...   (each OP is one argument; they run in order in one process)\n"
	"  'vm ID local' | 'vm ID gateway ADDR[,ADDR...]'   declare a VM\n"
	"  'port VMID PROTO PORT'                          declare a protected port (PROTO: TCP|UDP|*)\n"
	"  'grant ID VMID SOURCE PROTO PORT +MS|@UNIXMS'   declare a grant ending MS from now, or at UNIXMS\n"
	"  'sync'              fw_reconcile to everything declared\n"
	"  'protect'           fw_protect_set with the declared VMs and ports\n"
	"  'add ID VMID SOURCE PROTO PORT +MS|@UNIXMS'     fw_grant_add\n"
	"  'remove ID VMID PROTO PORT'                     fw_grant_remove\n"
	"  'kill ID VMID SOURCE PROTO PORT +MS'            fw_sessions_kill (end open sessions)\n"
	"  'list'              print what the kernel holds\n"
	"  'rest MS'           fw_rest: let libnftables' context go if no batch used it for MS\n"
	"  'sleep MS'\n";

static struct fw_vm vms[64];
static size_t n_vms;
static struct fw_port ports[256];
static size_t n_ports;
static struct fw_grant *grants;
static size_t n_grants;

static void
die(const char *op, const char *what)
{
	fprintf(stderr, "fwtool: '%s': %s\n", op, what);
	exit(2);
}

static uint64_t
parse_u64(const char *op, const char *s)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || end == s)
		die(op, "bad number");
	return v;
}

static enum net_proto
parse_proto(const char *op, const char *s)
{
	enum net_proto p;

	if (net_proto_parse(s, strlen(s), &p, NULL) < 0)
		die(op, "bad protocol");
	return p;
}

static uint16_t
parse_port(const char *op, const char *s)
{
	uint16_t p;

	if (net_port_parse(s, strlen(s), &p, NULL) < 0)
		die(op, "bad port");
	return p;
}

static struct fw_grant
parse_grant(const char *op, char **w, int n)
{
	struct fw_grant g = { 0 };

	if (n != 7 || (w[6][0] != '+' && w[6][0] != '@') || strlen(w[1]) > FW_REQUEST_ID_MAX)
		die(op, "want: ID VMID SOURCE PROTO PORT +MS|@UNIXMS");
	memcpy(g.request_id, w[1], strlen(w[1]) + 1);
	g.vm = parse_u64(op, w[2]);
	if (net_source_parse(w[3], strlen(w[3]), &g.source, NULL) < 0)
		die(op, "bad source");
	g.proto = parse_proto(op, w[4]);
	g.port = parse_port(op, w[5]);
	g.end_ms = (w[6][0] == '+' ? time_now_ms() : 0) + (int64_t)parse_u64(op, w[6] + 1);
	return g;
}

static void
print_changes(const char *op, const struct fw_changes *c)
{
	printf("%s: added=%zu removed=%zu updated=%zu kept=%zu rebuilt=%d\n", op, c->added, c->removed, c->updated,
	       c->kept, c->rebuilt);
}

static int
print_list(struct fw *fw)
{
	struct core_error err = { 0 };
	struct fw_elem *v = NULL;
	size_t n = 0, i;
	int64_t now = time_now_ms();
	int r = fw_list(fw, &v, &n, &err);

	if (r == -ENOENT) {
		printf("no table\n");
		return 0;
	}
	if (r < 0) {
		fprintf(stderr, "fwtool: list: %s: %s\n", err.code, err.message);
		return r;
	}
	for (i = 0; i < n; i++) {
		char dst[NET_ADDR_TEXT_MAX] = "-", src[NET_PREFIX_TEXT_MAX] = "-";

		if (fw_set_has_dst(v[i].set))
			net_addr_format(&v[i].dst, dst, sizeof(dst));
		if (fw_set_is_grant(v[i].set))
			net_prefix_format(&v[i].src, src, sizeof(src));
		printf("%s %s %s %s %u", fw_set_name(v[i].set), dst, src, v[i].proto == NET_PROTO_UDP ? "udp" : "tcp",
		       v[i].port);
		if (fw_set_is_grant(v[i].set))
			printf(" %" PRId64 "s %s", v[i].end_ms == INT64_MAX ? -1 : (v[i].end_ms - now + 500) / 1000,
			       v[i].comment[0] ? v[i].comment : "-");
		printf("\n");
	}
	free(v);
	return 0;
}

int
main(int argc, char **argv)
{
	struct core_error err = { 0 };
	struct fw *fw = NULL;
	int i, r = 0;

	if (argc < 2) {
		fputs(usage, stderr);
		return 2;
	}
	grants = calloc(STATE_MAX, sizeof(*grants));
	if (!grants)
		return 1;
	r = fw_new(&fw, &err);
	if (r < 0) {
		fprintf(stderr, "fwtool: %s: %s\n", err.code, err.message);
		return 1;
	}
	for (i = 1; i < argc && r >= 0; i++) {
		char copy[1024], *w[OPS_WORDS_MAX], *save = NULL, *t;
		const char *op = argv[i];
		struct fw_changes ch = { 0 };
		int n = 0;

		if (strlen(op) >= sizeof(copy))
			die(op, "too long");
		memcpy(copy, op, strlen(op) + 1);
		for (t = strtok_r(copy, " ", &save); t && n < OPS_WORDS_MAX; t = strtok_r(NULL, " ", &save))
			w[n++] = t;
		if (n == 0)
			die(op, "empty");
		if (!strcmp(w[0], "vm") && n == 3 && !strcmp(w[2], "local") && n_vms < 64) {
			vms[n_vms++] = (struct fw_vm){ .id = parse_u64(op, w[1]), .point = FW_POINT_LOCAL };
		} else if (!strcmp(w[0], "vm") && n == 4 && !strcmp(w[2], "gateway") && n_vms < 64) {
			struct fw_vm *vm = &vms[n_vms++];
			char *a, *s2 = NULL;

			*vm = (struct fw_vm){ .id = parse_u64(op, w[1]), .point = FW_POINT_GATEWAY };
			for (a = strtok_r(w[3], ",", &s2); a && vm->n_addrs < FW_VM_ADDRS_MAX; a = strtok_r(NULL, ",", &s2))
				if (net_addr_parse(a, strlen(a), &vm->addrs[vm->n_addrs++], NULL) < 0)
					die(op, "bad address");
		} else if (!strcmp(w[0], "port") && n == 4 && n_ports < 256) {
			ports[n_ports++] = (struct fw_port){ .vm = parse_u64(op, w[1]), .proto = parse_proto(op, w[2]),
							     .port = parse_port(op, w[3]) };
		} else if (!strcmp(w[0], "grant") && n_grants < STATE_MAX) {
			grants[n_grants++] = parse_grant(op, w, n);
		} else if (!strcmp(w[0], "sync") && n == 1) {
			struct fw_state st = { vms, n_vms, ports, n_ports, grants, n_grants };

			r = fw_reconcile(fw, &st, &ch, &err);
			if (r >= 0)
				print_changes("sync", &ch);
		} else if (!strcmp(w[0], "protect") && n == 1) {
			r = fw_protect_set(fw, vms, n_vms, ports, n_ports, &ch, &err);
			if (r >= 0)
				print_changes("protect", &ch);
		} else if (!strcmp(w[0], "add")) {
			struct fw_grant g = parse_grant(op, w, n);

			r = fw_grant_add(fw, &g, 1, &ch, &err);
			if (r >= 0)
				print_changes("add", &ch);
		} else if (!strcmp(w[0], "remove") && n == 5) {
			struct fw_grant g = { .vm = parse_u64(op, w[2]), .proto = parse_proto(op, w[3]),
					      .port = parse_port(op, w[4]) };

			if (strlen(w[1]) > FW_REQUEST_ID_MAX)
				die(op, "id too long");
			memcpy(g.request_id, w[1], strlen(w[1]) + 1);
			r = fw_grant_remove(fw, &g, 1, &ch, &err);
			if (r >= 0)
				print_changes("remove", &ch);
		} else if (!strcmp(w[0], "kill")) {
			struct fw_grant g = parse_grant(op, w, n);
			size_t killed = 0;

			r = fw_sessions_kill(fw, &g, 1, &killed, &err);
			if (r >= 0)
				printf("kill: %zu sessions\n", killed);
		} else if (!strcmp(w[0], "list") && n == 1) {
			r = print_list(fw);
			err.code[0] = '\0';
		} else if (!strcmp(w[0], "rest") && n == 2) {
			int64_t now = time_mono_ms(), due = fw_rest(fw, now, (int64_t)parse_u64(op, w[1]));

			if (due == INT64_MAX)
				printf("rest: nothing held\n");
			else
				printf("rest: held, %" PRId64 " ms to go\n", due - now);
		} else if (!strcmp(w[0], "sleep") && n == 2) {
			usleep((useconds_t)parse_u64(op, w[1]) * 1000);
		} else {
			fputs(usage, stderr);
			die(op, "unknown operation");
		}
		if (r < 0 && err.code[0])
			fprintf(stderr, "fwtool: '%s': %s: %s\n", op, err.code, err.message);
		fflush(stdout);
	}
	fw_free(fw);
	free(grants);
	return r < 0 ? 1 : 0;
}
