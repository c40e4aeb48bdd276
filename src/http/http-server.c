/* The HTTPS server under the API: libmicrohttpd daemons driven from the caller's loop, one handler call per request. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <microhttpd.h>

#include "core/limits.h"
#include "core/timeutil.h"
#include "http/http-conns.h"
#include "http/http-limits.h"
#include "http/http.h"
#include "http/http-internal.h"

/*
 * TLS 1.3 and 1.2 only; in 1.2 only forward-secret (ECDHE) key exchange and AEAD ciphers: no CBC with SHA-1 or
 * SHA-2 HMAC (Lucky13-class padding oracles), no static-RSA key exchange. 1.3 suites are all AEAD already.
 * ChaCha20-Poly1305 first, and the server's order wins: a session keeps about 0.9 KB less with it than with
 * AES-GCM (measured per parked watch; GnuTLS's AES-GCM state has a key schedule and a GHASH table each way), and
 * every agent's watch holds a session (issue 13: at most 16 KB a connected agent). AES-GCM stays for clients that
 * do not offer ChaCha20.
 * X25519 is the first group, since the server's order now picks the group too: it is the one key share browsers,
 * OpenSSL and GnuTLS clients send at once, so none is asked for another (a HelloRetryRequest, one more round trip).
 */
/* passes of the daemons at stop, to send the 503s of held and parked requests before the sockets close */
#define HTTP_STOP_RUNS		3
/* libmicrohttpd's strictest client discipline: malformed requests are a 400, not guessed at */
#define HTTP_CLIENT_STRICT	1

#define HTTP_TLS_PRIORITIES	"NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:-CIPHER-ALL:+CHACHA20-POLY1305:+AES-256-GCM:" \
				"+AES-128-GCM:-MAC-ALL:+AEAD:-KX-ALL:+ECDHE-ECDSA:+ECDHE-RSA:-GROUP-ALL:+GROUP-X25519:" \
				"+GROUP-SECP256R1:+GROUP-SECP384R1:+GROUP-SECP521R1:%SERVER_PRECEDENCE"

/* libmicrohttpd's messages are kept, never printed: a start failure quotes the last one. */
static void __attribute__((format(printf, 2, 0)))
http_log(void *cls, const char *fmt, va_list ap)
{
	struct http_server *srv = cls;
	size_t n;

	vsnprintf(srv->last_log, sizeof(srv->last_log), fmt, ap);
	n = strlen(srv->last_log);
	while (n > 0 && (srv->last_log[n - 1] == '\n' || srv->last_log[n - 1] == '\r'))
		srv->last_log[--n] = '\0';
}

/* A socket address as a net_addr (zero family for other families or a short address). */
static void
http_addr_of(const struct sockaddr *sa, socklen_t len, struct net_addr *ret)
{
	memset(ret, 0, sizeof(*ret));
	if (sa == NULL)
		return;
	if (sa->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
		ret->family = NET_INET;
		memcpy(ret->bytes, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, 4);
	} else if (sa->sa_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6)) {
		ret->family = NET_INET6;
		memcpy(ret->bytes, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, 16);
	}
}

/* libmicrohttpd's accept policy for the HTTPS daemon: the table's (per source, and the authenticated share). */
static enum MHD_Result
http_accept_policy(void *cls, const struct sockaddr *addr, socklen_t addrlen)
{
	struct http_server *srv = cls;
	struct net_addr peer;

	http_addr_of(addr, addrlen, &peer);
	return peer.family && http_conns_admit(&srv->conns, &peer) ? MHD_YES : MHD_NO;
}

/* Connections of the HTTPS daemon come and go (libmicrohttpd tells only of admitted ones): keep their slots. */
static void
http_notify_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
		       enum MHD_ConnectionNotificationCode toe)
{
	struct http_server *srv = cls;
	const union MHD_ConnectionInfo *ci;
	struct net_addr peer;

	if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
		http_conns_close(&srv->conns, *socket_context);
		*socket_context = NULL;
		return;
	}
	if (toe != MHD_CONNECTION_NOTIFY_STARTED)
		return;
	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (ci == NULL || ci->client_addr == NULL)
		return;
	/* libmicrohttpd keeps a whole sockaddr of the peer's family */
	http_addr_of(ci->client_addr,
		     ci->client_addr->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in),
		     &peer);
	/* never NULL in practice: libmicrohttpd admits at most conn_max connections, and there are as many slots */
	*socket_context = http_conns_open(&srv->conns, &peer);
}

/* Read a whole PEM file (at most HTTP_PEM_MAX bytes) into a NUL-terminated heap block. */
static int
http_read_pem(const char *path, char **ret, size_t *ret_len, struct core_error *err)
{
	struct stat st;
	char *buf = NULL;
	size_t len = 0;
	int fd;
	int r;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		r = -errno;
		core_error_set(err, "HttpStartFailed", "", "cannot open %s: %s", path, strerror(-r));
		return r;
	}
	if (fstat(fd, &st) < 0) {
		r = -errno;
		core_error_set(err, "HttpStartFailed", "", "cannot stat %s: %s", path, strerror(-r));
		goto out;
	}
	if (!S_ISREG(st.st_mode) || st.st_size <= 0 || st.st_size > HTTP_PEM_MAX) {
		r = -EINVAL;
		core_error_set(err, "HttpStartFailed", "", "%s is not a PEM file of at most %d bytes", path,
			       HTTP_PEM_MAX);
		goto out;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (buf == NULL) {
		r = -ENOMEM;
		goto out;
	}
	while (len < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + len, (size_t)st.st_size - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			core_error_set(err, "HttpStartFailed", "", "cannot read %s: %s", path, strerror(-r));
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	*ret = buf;
	*ret_len = len;
	buf = NULL;
	r = 0;
out:
	if (buf != NULL) {
		explicit_bzero(buf, (size_t)st.st_size + 1);
		free(buf);
	}
	close(fd);
	return r;
}

/* "IPv4:PORT", "[IPv6]:PORT", "*:PORT"; port 0 lets the kernel choose. */
static int
http_listen_parse(const char *s, struct sockaddr_storage *ret, socklen_t *ret_len, struct core_error *err)
{
	struct sockaddr_storage ss = { 0 };
	struct net_addr a = { 0 };
	const char *colon, *host, *port;
	size_t host_len, port_len, i;
	unsigned long p = 0;

	if (s == NULL)
		goto bad;
	colon = strrchr(s, ':');
	if (colon == NULL)
		goto bad;
	host = s;
	host_len = (size_t)(colon - s);
	port = colon + 1;
	port_len = strlen(port);
	if (port_len == 0 || port_len > 5)
		goto bad;
	for (i = 0; i < port_len; i++) {
		if (port[i] < '0' || port[i] > '9')
			goto bad;
		p = p * 10 + (unsigned long)(port[i] - '0');
	}
	if (p > 65535)
		goto bad;

	if (host_len >= 2 && host[0] == '[' && host[host_len - 1] == ']') {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

		if (net_addr_parse(host + 1, host_len - 2, &a, NULL) < 0 || a.family != NET_INET6)
			goto bad;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)p);
		memcpy(&sin6->sin6_addr, a.bytes, 16);
		*ret_len = sizeof(*sin6);
	} else {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)p);
		if (!(host_len == 1 && host[0] == '*')) {
			if (net_addr_parse(host, host_len, &a, NULL) < 0 || a.family != NET_INET)
				goto bad;
			memcpy(&sin->sin_addr, a.bytes, 4);
		}
		*ret_len = sizeof(*sin);
	}
	*ret = ss;
	return 0;
bad:
	core_error_set(err, "InvalidListenAddress", "listen",
		       "the listen address must be IPv4:PORT, [IPv6]:PORT or *:PORT, with a port from 0 to 65535");
	return -EINVAL;
}

/* The unix socket for root on the host: a stale socket is replaced, anything else at the path is left alone. */
static int
http_unix_listen(const char *path, int *ret_fd, struct core_error *err)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	size_t len = strlen(path);
	struct stat st;
	int fd = -1;
	int r;

	if (len == 0 || len >= sizeof(sun.sun_path)) {
		core_error_set(err, "HttpStartFailed", "unix_path", "the unix socket path must be 1 to %zu bytes",
			       sizeof(sun.sun_path) - 1);
		return -ENAMETOOLONG;
	}
	memcpy(sun.sun_path, path, len + 1);
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			core_error_set(err, "HttpStartFailed", "unix_path", "%s exists and is not a socket", path);
			return -EEXIST;
		}
		if (unlink(path) < 0) {
			r = -errno;
			core_error_set(err, "HttpStartFailed", "unix_path", "cannot remove the stale socket %s: %s",
				       path, strerror(-r));
			return r;
		}
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		r = -errno;
		core_error_set(err, "HttpStartFailed", "unix_path", "cannot make a unix socket: %s", strerror(-r));
		return r;
	}
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		r = -errno;
		core_error_set(err, "HttpStartFailed", "unix_path", "cannot bind %s: %s", path, strerror(-r));
		goto fail;
	}
	/* Before listen() nobody can connect, so the mode is right before anyone could use it. */
	if (chmod(path, 0600) < 0) {
		r = -errno;
		core_error_set(err, "HttpStartFailed", "unix_path", "cannot chmod %s: %s", path, strerror(-r));
		goto fail_unlink;
	}
	if (listen(fd, SOMAXCONN) < 0) {
		r = -errno;
		core_error_set(err, "HttpStartFailed", "unix_path", "cannot listen on %s: %s", path, strerror(-r));
		goto fail_unlink;
	}
	*ret_fd = fd;
	return 0;
fail_unlink:
	unlink(path);
fail:
	close(fd);
	return r;
}

/* An errno for a daemon that would not start: the bind errors a person can act on, else EIO. */
static int
http_start_errno(int e)
{
	switch (e) {
	case EADDRINUSE:
	case EADDRNOTAVAIL:
	case EACCES:
	case ENOMEM:
	case EMFILE:
	case ENFILE:
		return -e;
	default:
		return -EIO;
	}
}

static int
http_epoll_add(int epfd, int fd)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };

	return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

/* The connection limits of a server, cfg's or (zero in cfg) the defaults. */
struct http_limits {
	unsigned int conn_timeout_s, unauth_timeout_s, conn_max;
	size_t header_memory;
};

static void
http_limits_of(const struct http_config *cfg, struct http_limits *ret)
{
	/* Zero in cfg means the limit from http-limits.h (body_max: core/limits.h). */
	ret->conn_timeout_s = cfg->conn_timeout_s ? cfg->conn_timeout_s : API_CONN_TIMEOUT_S;
	ret->conn_max = cfg->conn_max ? cfg->conn_max : API_CONN_MAX;
	ret->unauth_timeout_s = ret->conn_timeout_s < API_CONN_UNAUTH_TIMEOUT_S ? ret->conn_timeout_s
										: API_CONN_UNAUTH_TIMEOUT_S;
	ret->header_memory = cfg->header_memory ? cfg->header_memory : API_HEADER_MEMORY;
}

/* A server with its handler and connection table, serving nothing yet. */
static int
http_server_new(const struct http_config *cfg, const struct http_limits *lim, struct http_server **ret)
{
	struct http_server *srv = calloc(1, sizeof(*srv));

	if (srv == NULL)
		return -ENOMEM;
	srv->epoll_fd = -1;
	srv->handler = cfg->handler;
	srv->ctx = cfg->ctx;
	srv->body_max = cfg->body_max ? cfg->body_max : API_BODY_MAX;
	/* what the pool keeps for the answer's head; a pool smaller than twice that (tests) keeps half for each */
	srv->head_max = lim->header_memory > 2 * HTTP_RESPONSE_HEAD_ROOM ? lim->header_memory - HTTP_RESPONSE_HEAD_ROOM
									 : lim->header_memory / 2;
	srv->conn_timeout_s = lim->conn_timeout_s;
	srv->parked_max = cfg->parked_max ? cfg->parked_max : HTTP_PARKED_MAX;
	if (http_conns_init(&srv->conns, lim->conn_max) < 0) {
		free(srv);
		return -ENOMEM;
	}
	srv->tls_l = (struct http_listener){ srv, false };
	srv->unix_l = (struct http_listener){ srv, true };
	*ret = srv;
	return 0;
}

/* The HTTPS daemon on sa, with the certificate and key already in srv. */
static int
http_tls_start(struct http_server *srv, const struct http_config *cfg, const struct sockaddr_storage *sa,
	       const struct http_limits *lim, struct core_error *err)
{
	unsigned int flags = MHD_USE_EPOLL | MHD_USE_ERROR_LOG | MHD_ALLOW_SUSPEND_RESUME | (cfg->plain ? 0 : MHD_USE_TLS);
	struct MHD_OptionItem tls[] = {
		{ MHD_OPTION_HTTPS_MEM_CERT, 0, srv->cert_pem },
		{ MHD_OPTION_HTTPS_MEM_KEY, 0, srv->key_pem },
		{ MHD_OPTION_HTTPS_PRIORITIES, 0, (void *)HTTP_TLS_PRIORITIES },
		/* no ALPN: it would only confirm HTTP/1.1, and its list costs each TLS session 312 bytes */
		{ MHD_OPTION_TLS_NO_ALPN, 1, NULL },
		{ MHD_OPTION_END, 0, NULL },
	};
	const union MHD_DaemonInfo *di;
	int r;

	if (sa->ss_family == AF_INET6) {
		static const struct in6_addr any6 = IN6ADDR_ANY_INIT;

		flags |= MHD_USE_IPv6;
		/* "[::]" means every address, IPv4 ones too (their peers are unmapped in http_peer). */
		if (memcmp(&((const struct sockaddr_in6 *)sa)->sin6_addr, &any6, sizeof(any6)) == 0)
			flags |= MHD_USE_DUAL_STACK;
	}
	errno = 0;
	/* every connection starts unauthenticated, on the short timeout; per-source caps are ours (IPv6 by /64) */
	srv->tls_d = MHD_start_daemon(flags, 0, http_accept_policy, srv, http_access, &srv->tls_l,
				      MHD_OPTION_SOCK_ADDR, (const struct sockaddr *)sa,
				      MHD_OPTION_ARRAY, cfg->plain ? &tls[4] : tls,
				      MHD_OPTION_CONNECTION_TIMEOUT, lim->unauth_timeout_s,
				      MHD_OPTION_CONNECTION_LIMIT, lim->conn_max,
				      MHD_OPTION_CONNECTION_MEMORY_LIMIT, lim->header_memory,
				      MHD_OPTION_NOTIFY_COMPLETED, http_completed, &srv->tls_l,
				      MHD_OPTION_NOTIFY_CONNECTION, http_notify_connection, srv,
				      MHD_OPTION_URI_LOG_CALLBACK, http_uri_seen, srv,
				      MHD_OPTION_EXTERNAL_LOGGER, http_log, srv,
				      MHD_OPTION_STRICT_FOR_CLIENT, (int)HTTP_CLIENT_STRICT,
				      MHD_OPTION_END);
	if (srv->tls_d == NULL) {
		r = http_start_errno(errno);
		core_error_set(err, "HttpStartFailed", "listen", "cannot serve %s on %s: %s", cfg->plain ? "HTTP" : "HTTPS",
			       cfg->listen, srv->last_log[0] ? srv->last_log : strerror(-r));
		return r;
	}
	di = MHD_get_daemon_info(srv->tls_d, MHD_DAEMON_INFO_BIND_PORT);
	srv->port = di ? di->port : 0;
	return 0;
}

/* The plain-HTTP daemon on the unix socket at cfg->unix_path. */
static int
http_unix_start(struct http_server *srv, const struct http_config *cfg, const struct http_limits *lim,
		struct core_error *err)
{
	int unix_fd = -1;
	int r;

	srv->unix_path = strdup(cfg->unix_path);
	if (srv->unix_path == NULL)
		return -ENOMEM;
	r = http_unix_listen(cfg->unix_path, &unix_fd, err);
	if (r < 0) {
		free(srv->unix_path);
		srv->unix_path = NULL;
		return r;
	}
	srv->last_log[0] = '\0';
	errno = 0;
	/* From here the socket is libmicrohttpd's: it closes it at stop, and also when the start fails. */
	srv->unix_d = MHD_start_daemon(MHD_USE_EPOLL | MHD_USE_ERROR_LOG | MHD_ALLOW_SUSPEND_RESUME, 0, NULL, NULL,
				       http_access, &srv->unix_l,
				       MHD_OPTION_LISTEN_SOCKET, unix_fd,
				       MHD_OPTION_CONNECTION_TIMEOUT, lim->conn_timeout_s,
				       MHD_OPTION_CONNECTION_LIMIT, lim->conn_max,
				       MHD_OPTION_CONNECTION_MEMORY_LIMIT, lim->header_memory,
				       MHD_OPTION_NOTIFY_COMPLETED, http_completed, &srv->unix_l,
				       MHD_OPTION_URI_LOG_CALLBACK, http_uri_seen, srv,
				       MHD_OPTION_EXTERNAL_LOGGER, http_log, srv,
				       MHD_OPTION_STRICT_FOR_CLIENT, (int)HTTP_CLIENT_STRICT,
				       MHD_OPTION_END);
	if (srv->unix_d == NULL) {
		r = http_start_errno(errno);
		core_error_set(err, "HttpStartFailed", "unix_path", "cannot serve HTTP on %s: %s",
			       cfg->unix_path, srv->last_log[0] ? srv->last_log : strerror(-r));
		return r;
	}
	return 0;
}

/* With two daemons, one epoll fd that watches both, for the caller's poll(). */
static int
http_epoll_join(struct http_server *srv, struct core_error *err)
{
	const union MHD_DaemonInfo *di;
	int tls_ep, unix_ep, r;

	di = MHD_get_daemon_info(srv->tls_d, MHD_DAEMON_INFO_EPOLL_FD);
	tls_ep = di ? di->epoll_fd : -1;
	di = MHD_get_daemon_info(srv->unix_d, MHD_DAEMON_INFO_EPOLL_FD);
	unix_ep = di ? di->epoll_fd : -1;
	srv->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	if (srv->epoll_fd < 0) {
		r = -errno;
		core_error_set(err, "HttpStartFailed", "", "cannot make an epoll fd: %s", strerror(-r));
		return r;
	}
	r = http_epoll_add(srv->epoll_fd, tls_ep);
	if (r == 0)
		r = http_epoll_add(srv->epoll_fd, unix_ep);
	if (r < 0) {
		core_error_set(err, "HttpStartFailed", "", "cannot watch the daemons' epoll fds: %s",
			       strerror(-r));
		return r;
	}
	return 0;
}

int
http_server_start(const struct http_config *cfg, struct http_server **ret, struct core_error *err)
{
	struct http_server *srv = NULL;
	struct sockaddr_storage sa;
	socklen_t sa_len = 0;
	struct http_limits lim;
	size_t cert_len = 0;
	int r;

	if (cfg == NULL || cfg->handler == NULL || (!cfg->plain && (cfg->cert_path == NULL || cfg->key_path == NULL)))
		return core_error_set(err, "HttpStartFailed", "", "the HTTP server needs a handler, a certificate and a key");
	if (!MHD_is_feature_supported(MHD_FEATURE_TLS) || !MHD_is_feature_supported(MHD_FEATURE_EPOLL)) {
		core_error_set(err, "HttpStartFailed", "", "this libmicrohttpd lacks TLS or epoll support");
		return -EOPNOTSUPP;
	}
	r = http_listen_parse(cfg->listen, &sa, &sa_len, err);
	if (r < 0)
		return r;
	http_limits_of(cfg, &lim);
	r = http_server_new(cfg, &lim, &srv);
	if (r < 0)
		return r;

	if (!cfg->plain) {
		r = http_read_pem(cfg->cert_path, &srv->cert_pem, &cert_len, err);
		if (r == 0)
			r = http_read_pem(cfg->key_path, &srv->key_pem, &srv->key_pem_len, err);
		if (r < 0)
			goto fail;
	}
	r = http_tls_start(srv, cfg, &sa, &lim, err);
	if (r < 0)
		goto fail;
	if (cfg->unix_path != NULL) {
		r = http_unix_start(srv, cfg, &lim, err);
		if (r == 0)
			r = http_epoll_join(srv, err);
		if (r < 0)
			goto fail;
	}
	srv->last_log[0] = '\0';
	*ret = srv;
	return 0;
fail:
	http_server_stop(srv);
	return r;
}

int
http_server_port(struct http_server *srv)
{
	return srv->port;
}

int
http_server_poll_fd(struct http_server *srv)
{
	const union MHD_DaemonInfo *di;

	if (srv->epoll_fd >= 0)
		return srv->epoll_fd;
	di = MHD_get_daemon_info(srv->tls_d, MHD_DAEMON_INFO_EPOLL_FD);
	return di ? di->epoll_fd : -EBADF;
}

int
http_server_timeout_ms(struct http_server *srv)
{
	struct MHD_Daemon *ds[2] = { srv->tls_d, srv->unix_d };
	MHD_UNSIGNED_LONG_LONG t, best = 0;
	bool any = false;
	size_t i;
	int park;

	for (i = 0; i < 2; i++) {
		if (ds[i] == NULL || MHD_get_timeout(ds[i], &t) != MHD_YES)
			continue;
		if (!any || t < best)
			best = t;
		any = true;
	}
	if (srv->resumed)
		return 0;
	park = http_park_timeout_ms(srv, time_mono_ms());
	if (park >= 0 && (!any || (MHD_UNSIGNED_LONG_LONG)park < best)) {
		best = (MHD_UNSIGNED_LONG_LONG)park;
		any = true;
	}
	if (!any)
		return -1;
	return best > INT_MAX ? INT_MAX : (int)best;
}

int
http_server_run(struct http_server *srv)
{
	int r = 0;

	if (srv->parked)
		http_park_expire(srv, time_mono_ms());
	srv->resumed = false;
	if (MHD_run(srv->tls_d) != MHD_YES)
		r = -EIO;
	if (srv->unix_d != NULL && MHD_run(srv->unix_d) != MHD_YES)
		r = -EIO;
	return r;
}

void
http_server_stop(struct http_server *srv)
{
	if (srv == NULL)
		return;
	if (srv->held || srv->parked) {
		/* libmicrohttpd must not stop with suspended connections: answer them 503 and let them go */
		struct http_response gone = { .status = 503 };
		int i;

		http_server_release(srv, &gone);
		http_park_stop(srv);
		for (i = 0; i < HTTP_STOP_RUNS; i++)
			http_server_run(srv);
	}
	if (srv->unix_d != NULL)
		MHD_stop_daemon(srv->unix_d);
	if (srv->tls_d != NULL)
		MHD_stop_daemon(srv->tls_d);
	if (srv->epoll_fd >= 0)
		close(srv->epoll_fd);
	if (srv->unix_path != NULL) {
		unlink(srv->unix_path);
		free(srv->unix_path);
	}
	http_conns_free(&srv->conns);
	free(srv->cert_pem);
	if (srv->key_pem != NULL) {
		explicit_bzero(srv->key_pem, srv->key_pem_len);
		free(srv->key_pem);
	}
	free(srv);
}

const char *
http_library_unmeasured(void)
{
	const char *v = MHD_get_version();

	return v && !strcmp(v, HTTP_POOL_MEASURED_MHD) ? NULL : v ? v : "(unknown)";
}
