/* The subcommands (one cmd-*.c each) and their help texts, for main.c's table. */
#ifndef JITGATE_CLI_COMMANDS_H
#define JITGATE_CLI_COMMANDS_H

#include "cli/cli.h"

int cmd_vm(struct cli *c, int argc, char **argv);
int cmd_enable(struct cli *c, int argc, char **argv);
int cmd_disable(struct cli *c, int argc, char **argv);
int cmd_edit(struct cli *c, int argc, char **argv);
int cmd_policy(struct cli *c, int argc, char **argv);
int cmd_request(struct cli *c, int argc, char **argv);
int cmd_ssh(struct cli *c, int argc, char **argv);
int cmd_revoke(struct cli *c, int argc, char **argv);
int cmd_requests(struct cli *c, int argc, char **argv);
int cmd_log(struct cli *c, int argc, char **argv);
int cmd_token(struct cli *c, int argc, char **argv);
int cmd_whoami(struct cli *c, int argc, char **argv);
int cmd_login(struct cli *c, int argc, char **argv);
int cmd_logout(struct cli *c, int argc, char **argv);
/* cmd-login-sso.c: the device grant through the server; on success c->client.token is the session's credential. */
int cli_login_sso(struct cli *c);
int cmd_agent(struct cli *c, int argc, char **argv);
int cmd_approvals(struct cli *c, int argc, char **argv);
int cmd_approve(struct cli *c, int argc, char **argv);
int cmd_deny(struct cli *c, int argc, char **argv);

/* Help texts, for `jitgate help COMMAND` and each command's --help. */
extern const char cli_help_vm[], cli_help_enable[], cli_help_disable[], cli_help_edit[], cli_help_policy[],
	cli_help_request[], cli_help_ssh[], cli_help_revoke[], cli_help_requests[], cli_help_log[], cli_help_token[],
	cli_help_whoami[], cli_help_login[], cli_help_logout[], cli_help_agent[], cli_help_approvals[], cli_help_approve[], cli_help_deny[];

#endif
