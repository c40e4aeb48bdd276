/* The running server: what start-up (server.c) sets up and the event loop (loop.c) works with. */
#ifndef JITGATE_DAEMON_SERVER_H
#define JITGATE_DAEMON_SERVER_H

#include <stdbool.h>
#include <stdint.h>

#include "daemon/config.h"
#include "daemon/privsep.h"
#include "daemon/sandbox.h"

struct api;
struct fw;
struct fw_monitor;
struct http_server;
struct store;
struct webhooks;

/*
 * Everything server_setup() opened, for the loop and then server_teardown(). The server owns
 * the store and fw; the API only uses them (api_set_store, api_set_fw).
 */
struct server {
	const struct config *cfg;
	struct api *api;
	struct store *store;
	struct webhooks *hooks;		/* NULL: no webhook configured */
	struct http_fetcher *fetcher;	/* outbound HTTPS (webhooks, single sign-on's provider); NULL: neither */
	struct fw *fw;			/* NULL: the kernel firewall is not usable */
	bool fw_down;			/* the firewall helper is gone; a new one is awaited */
	struct http_server *srv;
	struct http_server *metrics_srv;	/* metrics_listen's plain-HTTP server; NULL: none */
	struct fw_monitor *mon;		/* single process only: a helper watches the table itself */
	struct privsep ps;
	struct sandbox_user user;
	int split;			/* privilege separation (choose_split) */
	int sfd;			/* signalfd: SIGTERM, SIGINT, SIGHUP */
	int lock_fd, netns_fd;		/* the instance locks */
	char *boot_last;		/* the boot list as last written (bootrules.h) */
	bool stop;			/* SIGTERM or SIGINT */
	int64_t next_expiry;		/* wall clock; 0: no grant to end */
	int64_t next_reconcile;		/* monotonic clock */
	int64_t clock_offset;		/* wall minus monotonic at the last look, to notice jumps */
	int64_t next_prune, next_audit_head;	/* monotonic (retention.c); 0: at the first pass */
	int64_t audit_head_logged;	/* the head's seq last logged; 0: none yet */
	int64_t started_ns;		/* wall clock at start: audit_syslog sends the entries written since */
	int syslog_fd;			/* audit_syslog's datagram socket; -1 until the first look */
	int64_t syslog_after, next_syslog;	/* the last entry sent; when to look again (monotonic) */
	bool syslog_failing;		/* the last send failed (logged once) */
	int export_fd;			/* prune_export, opened once before Landlock (retention.c); -1: none */
	int export_err;			/* why it could not be opened (-errno); 0: it was, or none is set */
};

#define SERVER_METRICS_CONN_MAX	16	/* connections to metrics_listen at once: a few scrapers */

/* Run the server with cfg until a signal stops it; returns the exit code. */
int server_run(const struct config *cfg);

/* The ports protected now, in the boot list, when a kernel change may have changed them (loop.c). */
void server_boot_refresh(struct server *s);

/* The event loop (loop.c): returns 0 when asked to stop, negative when the server cannot go on. */
int server_loop(struct server *s);

#endif
