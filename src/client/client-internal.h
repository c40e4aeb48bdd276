/* What the files of src/client share among themselves: client-call.c connects and calls through client-config.c's settings and client-http.c's transport. */
#ifndef JITGATE_CLIENT_CLIENT_INTERNAL_H
#define JITGATE_CLIENT_CLIENT_INTERNAL_H

#include "client/client.h"

/* Hand the user a warning through cl->warn, when the caller set one (client-error.c). */
void client_warning(struct client *cl, const char *fmt, ...) __attribute__((format(__printf__, 2, 3)));

/*
 * Fill what the flags left empty: from the environment, then the config file (only for
 * the config's own server), then the local socket (root, nothing else named) (client-config.c).
 */
int client_settle(struct client *cl, struct client_error *err);

/* Open the HTTP handle for the settled settings (client_connect's last step; client-http.c). */
int client_http_open(struct client *cl, struct client_error *err);
/*
 * One request to the handle's base + target ("/path?query"), unconnected: the caller
 * connected. Returns as client_call does (client-http.c).
 */
int client_http_request(struct client *cl, const char *method, const char *target, const char *body, size_t body_len,
			const char *if_match, const char *if_none_match, struct client_reply *ret,
			struct client_error *err);

#endif
