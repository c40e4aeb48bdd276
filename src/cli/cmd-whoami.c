/* jitgate whoami: the caller's identity, role, scope and address as the server sees them. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/commands.h"

const char cli_help_whoami[] =
	"usage: jitgate whoami\n"
	"\n"
	"Who the server thinks you are: name, role, scope, and your address as it sees it (what a request\n"
	"without --from opens to), and the server's subscription. -q prints the address. A person signed in\n"
	"by single sign-on whom several map lines give roles sees one Role line per role, at its scope.\n"
	"\n"
	"Example:\n"
	"  jitgate whoami\n";

int
cmd_whoami(struct cli *c, int argc, char **argv)
{
	json_t *me = NULL, *as;
	bool help;
	int argi, r;
	size_t i;

	r = cli_options(c, argc, argv, "", NULL, NULL, NULL, cli_help_whoami, &argi, &help);
	if (r < 0 || help)
		return cli_exit(c, r);
	if (argc - argi)
		return cli_exit(c, cli_fail(c, CLI_EXIT_USAGE, "no arguments expected (see --help)"));
	if ((r = cli_connect(c)) < 0)
		return cli_exit(c, r);
	if ((r = cli_whoami(c, &me)) < 0)
		return cli_exit(c, r);
	if (c->output == CLI_OUT_JSON) {
		cli_print_json(me);
	} else if (c->output == CLI_OUT_QUIET) {
		cli_printf("%s\n", cli_json_str(me, "address", ""));
	} else {
		cli_printf("Name:         %s\n", cli_json_str(me, "name", "-"));
		as = json_object_get(me, "assignments");
		for (i = 0; json_array_size(as) > 1 && i < json_array_size(as); i++)
			cli_printf("Role:         %s at %s\n", cli_json_str(json_array_get(as, i), "role", "-"),
				   cli_json_str(json_array_get(as, i), "scope", "-"));
		if (json_array_size(as) <= 1) {
			cli_printf("Role:         %s\n", cli_json_str(me, "role", "-"));
			cli_printf("Scope:        %s\n", cli_json_str(me, "scope", "-"));
		}
		cli_printf("Address:      %s\n", cli_json_str(me, "address", "-"));
		cli_printf("Subscription: %s\n", cli_json_str(me, "subscriptionId", "-"));
		cli_printf("Server:       %s\n", c->client.via_socket ? c->client.socket_path : c->client.server);
	}
	return 0;
}
