/* The agent's transport: HTTP/1.1 on one kept-alive TLS connection over GnuTLS, driven from the caller's poll loop, capped answers. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "client/client-agent.h"
#include "client/client-http1.h"
#include "client/client-tls.h"

/* The client prints nothing: what goes wrong travels back in a struct client_error. */
#pragma GCC poison printf vprintf fprintf vfprintf dprintf puts fputs putchar fputc putc fwrite perror

#define READ_CHUNK		16384	/* bytes read from TLS at a time (one TLS record at most) */
#define AGENT_ERR_MAX		1024	/* what went wrong with the transfer, until client_agent_done hands it over */
#define USER_AGENT		"jitgate-agent"
#define STR_(x)			#x
#define STR(x)			STR_(x)	/* a limit's value, in a message */

enum phase { P_IDLE, P_RESOLVE, P_CONNECT, P_HANDSHAKE, P_SEND, P_RECV, P_DONE };

struct client_agent {
	char ca_file[CLIENT_PATH_MAX];	/* empty with a pin */
	bool has_fp;
	uint8_t fp[CLIENT_AGENT_FP_LEN];
	gnutls_datum_t pin;		/* the DER of the certificate that matched: the only trust anchor */
	char pinned_server[CLIENT_URL_MAX];	/* the server the pin was checked against (empty: none) */
	/* the connection, kept between calls to the same host and port */
	int fd;
	gnutls_session_t tls;
	gnutls_certificate_credentials_t cred;
	char conn_key[CLIENT_HOST_MAX + 8];	/* its authority; empty while it is not verified and idle */
	/* the transfer */
	enum phase phase;
	bool pinning;			/* the handshake that checks the pin, nothing sent */
	bool reused;			/* on a connection kept from an earlier call */
	bool got_bytes;			/* ... which answered something */
	struct client_target t;
	char url[CLIENT_URL_MAX];	/* t.target points into it */
	struct client_resolve *res;
	struct addrinfo *ai_next;	/* the next address to try (owned by res) */
	int64_t connect_deadline, deadline;	/* monotonic ms */
	long timeout_ms;		/* the whole call's */
	struct buf req;			/* the request, the token in it (wiped) */
	size_t req_sent;
	struct http1_answer ans;
	int result;			/* in P_DONE: 1 or -errno */
	char err[AGENT_ERR_MAX];
};

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int
client_cert_sha256(const char *pem, uint8_t out[CLIENT_AGENT_FP_LEN])
{
	gnutls_datum_t in = { (unsigned char *)(uintptr_t)pem, (unsigned)strlen(pem) }, der = { NULL, 0 };
	int r = 0;

	if (gnutls_pem_base64_decode2("CERTIFICATE", &in, &der) < 0)
		return -EINVAL;
	if (gnutls_hash_fast(GNUTLS_DIG_SHA256, der.data, der.size, out) < 0)
		r = -EIO;
	gnutls_free(der.data);
	return r;
}

int
client_agent_new(const char *ca_file, const uint8_t *fingerprint, struct client_agent **ret, struct client_error *err)
{
	struct client_agent *ca;

	if (!ca_file == !fingerprint || (ca_file && strlen(ca_file) >= CLIENT_PATH_MAX))
		return client_fail(err, CLIENT_ERR_USAGE, "give either a CA file or a certificate fingerprint");
	if (!(ca = calloc(1, sizeof(*ca))))
		return client_fail(err, CLIENT_ERR_UNREACHABLE, "out of memory");
	ca->fd = -1;
	if (ca_file)
		snprintf(ca->ca_file, sizeof(ca->ca_file), "%s", ca_file);
	else {
		ca->has_fp = true;
		memcpy(ca->fp, fingerprint, CLIENT_AGENT_FP_LEN);
	}
	*ret = ca;
	return 0;
}

/* Drop the connection (the server sees a close; no TLS alert: it may be the server that stopped answering). */
static void
conn_close(struct client_agent *ca)
{
	if (ca->tls)
		gnutls_deinit(ca->tls);
	if (ca->cred)
		gnutls_certificate_free_credentials(ca->cred);
	if (ca->fd >= 0)
		close(ca->fd);
	ca->tls = NULL;
	ca->cred = NULL;
	ca->fd = -1;
	ca->conn_key[0] = '\0';
}

static void
transfer_end(struct client_agent *ca)
{
	if (ca->phase != P_IDLE && ca->phase != P_DONE && ca->phase != P_RECV)
		conn_close(ca);
	/* an answer cut short leaves the connection mid-stream: never reuse it */
	if (ca->phase == P_RECV && !http1_done(&ca->ans))
		conn_close(ca);
	client_resolve_put(ca->res);
	ca->res = NULL;
	ca->ai_next = NULL;
	ca->phase = P_IDLE;
	ca->pinning = false;
	http1_answer_free(&ca->ans);
	if (ca->req.data)
		explicit_bzero(ca->req.data, ca->req.cap);
	buf_free(&ca->req);
	ca->req_sent = 0;
}

void
client_agent_free(struct client_agent *ca)
{
	if (!ca)
		return;
	transfer_end(ca);
	conn_close(ca);
	gnutls_free(ca->pin.data);
	free(ca);
}

bool
client_agent_is_pinned(const struct client_agent *ca, const char *server)
{
	return !ca->has_fp || (ca->pin.data && strcmp(ca->pinned_server, server) == 0);
}

void
client_agent_unpin(struct client_agent *ca)
{
	ca->pinned_server[0] = '\0';
}

bool
client_agent_busy(const struct client_agent *ca)
{
	return ca->phase != P_IDLE;
}

void
client_agent_cancel(struct client_agent *ca)
{
	transfer_end(ca);
	/* a request may be on its way: the connection's next bytes would be its answer */
	conn_close(ca);
}

/* The transfer failed: the outcome is r (with the message), the connection is dropped. */
static int fail(struct client_agent *ca, int r, const char *fmt, ...) __attribute__((format(__printf__, 3, 4)));

static int
fail(struct client_agent *ca, int r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(ca->err, sizeof(ca->err), fmt, ap);
	va_end(ap);
	conn_close(ca);
	ca->result = r;
	ca->phase = P_DONE;
	return r;
}

static void
succeed(struct client_agent *ca)
{
	ca->result = 1;
	ca->phase = P_DONE;
}

/* Why a resolution could not start (client_resolve_start's -errno). */
static const char *
resolve_refused(int r)
{
	if (r == -EAGAIN)
		return "the resolver is busy: " STR(CLIENT_RESOLVE_MAX) " other names are still being resolved "
		       "(CLIENT_RESOLVE_MAX), their DNS servers slow or silent";
	return strerror(-r);
}

/* A transfer's start: the URL, the deadlines, the connection kept if it is to the same server and still quiet. */
static int
transfer_begin(struct client_agent *ca, const char *url, long timeout_ms, size_t max_body, struct client_error *err)
{
	const char *why = NULL;
	int64_t now = now_ms();
	struct pollfd p;
	int r;

	if (ca->phase != P_IDLE)
		return client_fail(err, CLIENT_ERR_USAGE, "a transfer is already in flight");
	if (snprintf(ca->url, sizeof(ca->url), "%s", url) >= (int)sizeof(ca->url))
		return client_fail(err, CLIENT_ERR_USAGE, "the URL is too long");
	if (client_target_parse(ca->url, &ca->t, &why) < 0)
		return client_fail(err, CLIENT_ERR_USAGE, "%s: %s", url, why);
	ca->err[0] = '\0';
	ca->result = 0;
	ca->got_bytes = false;
	ca->connect_deadline = now + CLIENT_AGENT_CONNECT_MS;
	ca->deadline = now + timeout_ms;
	ca->timeout_ms = timeout_ms;
	http1_answer_init(&ca->ans, max_body);
	/* a kept connection that has something to say (the server's close, stray bytes) is not used again */
	p = (struct pollfd){ ca->fd, POLLIN, 0 };
	if (ca->fd >= 0 && (strcmp(ca->conn_key, ca->t.authority) || ca->pinning || poll(&p, 1, 0) != 0 ||
			    gnutls_record_check_pending(ca->tls) > 0))
		conn_close(ca);
	ca->reused = ca->fd >= 0;
	if (ca->reused) {
		ca->phase = P_SEND;
		return 0;
	}
	if ((r = client_resolve_start(&ca->t, &ca->res)) < 0)
		return client_fail(err, CLIENT_ERR_UNREACHABLE, "cannot resolve %s: %s", ca->t.host, resolve_refused(r));
	ca->phase = P_RESOLVE;
	return 0;
}

/* The request in one buffer: line, headers (the token among them), body. */
static int
request_build(struct client_agent *ca, const struct client_agent_call *c, struct client_error *err)
{
	int r;

	if (c->token && strpbrk(c->token, "\r\n"))
		return client_fail(err, CLIENT_ERR_USAGE, "the credential holds a line break");
	if (strcmp(c->method, "GET") && strcmp(c->method, "POST") && strcmp(c->method, "PUT") && strcmp(c->method, "DELETE"))
		return client_fail(err, CLIENT_ERR_USAGE, "unknown method %s", c->method);
	ca->req.max = CLIENT_TOKEN_MAX + CLIENT_URL_MAX + c->body_len + 1024;
	r = buf_printf(&ca->req, "%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: " USER_AGENT "\r\nAccept: application/json\r\n",
		       c->method, ca->t.target, ca->t.authority);
	if (r == 0 && c->token)
		r = buf_printf(&ca->req, "Authorization: Bearer %s\r\n", c->token);
	if (r == 0 && c->body)
		r = buf_printf(&ca->req, "Content-Type: application/json\r\n");
	if (r == 0 && (c->body || strcmp(c->method, "GET")))
		r = buf_printf(&ca->req, "Content-Length: %zu\r\n", c->body ? c->body_len : 0);
	if (r == 0)
		r = buf_append(&ca->req, "\r\n", 2);
	if (r == 0 && c->body && c->body_len)
		r = buf_append(&ca->req, c->body, c->body_len);
	if (r < 0)
		return client_fail(err, CLIENT_ERR_USAGE, "cannot build the request: %s", strerror(-r));
	return 0;
}

int
client_agent_start_pin(struct client_agent *ca, const char *server, struct client_error *err)
{
	int r;

	if (ca->phase != P_IDLE)
		return client_fail(err, CLIENT_ERR_USAGE, "a transfer is already in flight");
	ca->pinning = true;
	if ((r = transfer_begin(ca, server, CLIENT_AGENT_CONNECT_MS, 0, err)) < 0)
		ca->pinning = false;
	return r;
}

int
client_agent_start(struct client_agent *ca, const struct client_agent_call *c, struct client_error *err)
{
	int r;

	if ((r = transfer_begin(ca, c->url, c->timeout_ms, c->max_body, err)) < 0)
		return r;
	if ((r = request_build(ca, c, err)) < 0) {
		transfer_end(ca);
		return r;
	}
	return 0;
}

/* A non-blocking connect to the next address; past the last one, the transfer fails. */
static int
connect_next(struct client_agent *ca, int last_errno)
{
	while (ca->ai_next) {
		struct addrinfo *ai = ca->ai_next;

		ca->ai_next = ai->ai_next;
		ca->fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
		if (ca->fd < 0) {
			last_errno = errno;
			continue;
		}
		/* requests and answers are small and each waits for the other: no Nagle delay (curl set it too) */
		(void)setsockopt(ca->fd, IPPROTO_TCP, TCP_NODELAY, &(int){ 1 }, sizeof(int));
		if (connect(ca->fd, ai->ai_addr, ai->ai_addrlen) == 0 || errno == EINPROGRESS) {
			ca->phase = P_CONNECT;
			return 0;
		}
		last_errno = errno;
		close(ca->fd);
		ca->fd = -1;
	}
	return fail(ca, -EHOSTUNREACH, "cannot connect to %s port %s: %s", ca->t.host, ca->t.port, strerror(last_errno));
}

/* The trust of a call: the pinned certificate alone, or the CA file (read again at each connection, as it may change). */
static int
tls_begin(struct client_agent *ca)
{
	int r;

	if ((r = gnutls_certificate_allocate_credentials(&ca->cred)) < 0)
		return fail(ca, -EHOSTUNREACH, "TLS: %s", gnutls_strerror(r));
	if (!ca->pinning) {
		r = ca->has_fp ? gnutls_certificate_set_x509_trust_mem(ca->cred, &ca->pin, GNUTLS_X509_FMT_DER) :
				 gnutls_certificate_set_x509_trust_file(ca->cred, ca->ca_file, GNUTLS_X509_FMT_PEM);
		if (r <= 0)
			return fail(ca, -EHOSTUNREACH, "cannot read the CA certificates of %s: %s",
				    ca->has_fp ? "the pin" : ca->ca_file, r < 0 ? gnutls_strerror(r) : "none in it");
	}
	/* GNUTLS_NO_SIGNAL: a server gone mid-write is an error here, not a SIGPIPE */
	if ((r = gnutls_init(&ca->tls, GNUTLS_CLIENT | GNUTLS_NONBLOCK | GNUTLS_NO_SIGNAL)) < 0 ||
	    (r = gnutls_set_default_priority(ca->tls)) < 0 ||
	    (r = gnutls_credentials_set(ca->tls, GNUTLS_CRD_CERTIFICATE, ca->cred)) < 0 ||
	    (!ca->t.numeric && (r = gnutls_server_name_set(ca->tls, GNUTLS_NAME_DNS, ca->t.host, strlen(ca->t.host))) < 0))
		return fail(ca, -EHOSTUNREACH, "TLS: %s", gnutls_strerror(r));
	/* the chain to the anchor and the host's name (or address) in the certificate, as curl checked them */
	if (!ca->pinning)
		gnutls_session_set_verify_cert(ca->tls, ca->t.host, 0);
	gnutls_transport_set_int(ca->tls, ca->fd);
	gnutls_handshake_set_timeout(ca->tls, 0);
	ca->phase = P_HANDSHAKE;
	return 0;
}

/* The pin's handshake is over: find the pinned certificate among those the server showed. */
static int
pin_check(struct client_agent *ca)
{
	unsigned n = 0, i, k;
	const gnutls_datum_t *certs = gnutls_certificate_get_peers(ca->tls, &n);
	uint8_t got[CLIENT_AGENT_FP_LEN], first[CLIENT_AGENT_FP_LEN] = { 0 };
	char hex[3 * CLIENT_AGENT_FP_LEN + 1] = "";

	if (!certs || n == 0)
		return fail(ca, -EPERM, "%s showed no certificate", ca->url);
	for (i = 0; i < n; i++) {
		if (gnutls_hash_fast(GNUTLS_DIG_SHA256, certs[i].data, certs[i].size, got) < 0)
			continue;
		if (i == 0)
			memcpy(first, got, sizeof(got));
		if (memcmp(got, ca->fp, sizeof(got)))
			continue;
		gnutls_free(ca->pin.data);
		ca->pin.data = NULL;
		if (!(ca->pin.data = gnutls_malloc(certs[i].size)))
			return fail(ca, -EHOSTUNREACH, "out of memory");
		memcpy(ca->pin.data, certs[i].data, certs[i].size);
		ca->pin.size = certs[i].size;
		snprintf(ca->pinned_server, sizeof(ca->pinned_server), "%s", ca->url);
		/* nothing was sent on it: the calls connect again, with the pin as their only anchor */
		conn_close(ca);
		succeed(ca);
		return 1;
	}
	for (k = 0; k < CLIENT_AGENT_FP_LEN; k++)
		snprintf(hex + 3 * k, sizeof(hex) - 3 * (size_t)k, "%02X%s", first[k], k + 1 < CLIENT_AGENT_FP_LEN ? ":" : "");
	return fail(ca, -EPERM, "the certificate of %s does not match the pinned fingerprint (it shows SHA256 %s): "
		    "nothing was sent", ca->url, hex);
}

static int
handshake(struct client_agent *ca)
{
	int r = gnutls_handshake(ca->tls);

	if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED)
		return 0;
	if (r == GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR) {
		gnutls_datum_t why = { NULL, 0 };
		unsigned status = gnutls_session_get_verify_cert_status(ca->tls);

		gnutls_certificate_verification_status_print(status, GNUTLS_CRT_X509, &why, 0);
		fail(ca, -EHOSTUNREACH, "the certificate of %s is not trusted: %s", ca->t.host,
		     why.data ? (const char *)why.data : "verification failed");
		gnutls_free(why.data);
		return -1;
	}
	if (r < 0)
		return fail(ca, -EHOSTUNREACH, "TLS handshake with %s: %s", ca->t.host, gnutls_strerror(r));
	if (ca->pinning)
		return pin_check(ca) < 0 ? -1 : 1;
	snprintf(ca->conn_key, sizeof(ca->conn_key), "%s", ca->t.authority);
	ca->phase = P_SEND;
	return 1;
}

/* A kept connection the server had closed meanwhile: once, on a fresh one (curl did the same). */
static int
retry_fresh(struct client_agent *ca, const char *what)
{
	int r;

	if (!ca->reused || ca->got_bytes)
		return fail(ca, -EHOSTUNREACH, "%s %s: %s", what, ca->t.host, ca->err[0] ? ca->err : "connection lost");
	conn_close(ca);
	ca->reused = false;
	ca->req_sent = 0;
	if ((r = client_resolve_start(&ca->t, &ca->res)) < 0)
		return fail(ca, -EHOSTUNREACH, "cannot resolve %s: %s", ca->t.host, resolve_refused(r));
	ca->phase = P_RESOLVE;
	return 1;
}

static int
send_some(struct client_agent *ca)
{
	ssize_t k;

	/* GnuTLS asks for the same arguments again after EAGAIN, which the unsent rest is */
	k = gnutls_record_send(ca->tls, ca->req.data + ca->req_sent, ca->req.len - ca->req_sent);
	if (k == GNUTLS_E_AGAIN || k == GNUTLS_E_INTERRUPTED)
		return 0;
	if (k < 0) {
		snprintf(ca->err, sizeof(ca->err), "%s", gnutls_strerror((int)k));
		return retry_fresh(ca, "cannot send to");
	}
	ca->req_sent += (size_t)k;
	if (ca->req_sent == ca->req.len) {
		explicit_bzero(ca->req.data, ca->req.cap);
		ca->phase = P_RECV;
	}
	return 1;
}

static int
answer_failed(struct client_agent *ca, long r)
{
	if (r == -EFBIG && ca->ans.too_big)
		return fail(ca, -EFBIG, "the answer is larger than %zu bytes", ca->ans.max_body);
	if (r == -EFBIG)
		return fail(ca, -EHOSTUNREACH, "%s sent an answer whose head passes our limits (HTTP1_HEAD_MAX %d bytes, "
			    "HTTP1_LINE_MAX %d a line, HTTP1_INFO_MAX %d interim answers)", ca->t.host, HTTP1_HEAD_MAX,
			    HTTP1_LINE_MAX, HTTP1_INFO_MAX);
	if (r == -ENOMEM)
		return fail(ca, -EHOSTUNREACH, "out of memory");
	return fail(ca, -EHOSTUNREACH, "%s sent a malformed HTTP answer", ca->t.host);
}

static int
recv_some(struct client_agent *ca)
{
	char b[READ_CHUNK];
	ssize_t k = gnutls_record_recv(ca->tls, b, sizeof(b));
	long used;

	if (k == GNUTLS_E_AGAIN || k == GNUTLS_E_INTERRUPTED)
		return 0;
	if (k == 0 || k == GNUTLS_E_PREMATURE_TERMINATION) {
		if (http1_eof(&ca->ans) == 0) {
			conn_close(ca);
			succeed(ca);
			return -1;
		}
		return retry_fresh(ca, "the connection was closed by");
	}
	if (k < 0) {
		snprintf(ca->err, sizeof(ca->err), "%s", gnutls_strerror((int)k));
		return retry_fresh(ca, "cannot read from");
	}
	ca->got_bytes = true;
	if ((used = http1_feed(&ca->ans, b, (size_t)k)) < 0)
		return answer_failed(ca, used);
	if (!http1_done(&ca->ans))
		return 1;
	/* bytes after the answer (we never pipeline) or a server closing: the connection ends with the answer */
	if ((size_t)used < (size_t)k || ca->ans.close || gnutls_record_check_pending(ca->tls) > 0)
		conn_close(ca);
	succeed(ca);
	return -1;
}

static int
connect_check(struct client_agent *ca)
{
	struct pollfd p = { ca->fd, POLLOUT, 0 };
	int e = 0;
	socklen_t n = sizeof(e);

	if (poll(&p, 1, 0) == 0)
		return 0;
	if (getsockopt(ca->fd, SOL_SOCKET, SO_ERROR, &e, &n) < 0)
		e = errno;
	if (e) {
		close(ca->fd);
		ca->fd = -1;
		return connect_next(ca, e) < 0 ? -1 : 1;
	}
	return tls_begin(ca) < 0 ? -1 : 1;
}

static int
resolve_check(struct client_agent *ca)
{
	struct addrinfo *ai = NULL;
	const char *why = NULL;
	int r = client_resolve_result(ca->res, &ai, &why);

	if (r == 0)
		return 0;
	if (r < 0)
		return fail(ca, -EHOSTUNREACH, "cannot resolve %s: %s", ca->t.host, why);
	ca->ai_next = ai;
	return connect_next(ca, ECONNREFUSED) < 0 ? -1 : 1;
}

/* Move the transfer on as far as it goes without waiting; the deadlines first. */
static void
drive(struct client_agent *ca)
{
	int r = 1;

	while (r > 0 && ca->phase != P_DONE && ca->phase != P_IDLE) {
		int64_t now = now_ms();

		if (ca->phase == P_RESOLVE && now >= ca->connect_deadline) {
			fail(ca, -EHOSTUNREACH, "no address for %s within %d ms; its resolution goes on, and the next "
			     "attempt waits for it rather than starting another", ca->t.host, CLIENT_AGENT_CONNECT_MS);
			return;
		}
		if (ca->phase < P_SEND && now >= ca->connect_deadline) {
			fail(ca, -EHOSTUNREACH, "connecting to %s port %s timed out after %d ms", ca->t.host, ca->t.port,
			     CLIENT_AGENT_CONNECT_MS);
			return;
		}
		if (now >= ca->deadline) {
			fail(ca, -EHOSTUNREACH, "no whole answer from %s within %ld ms", ca->t.host, ca->timeout_ms);
			return;
		}
		switch (ca->phase) {
		case P_RESOLVE:
			r = resolve_check(ca);
			break;
		case P_CONNECT:
			r = connect_check(ca);
			break;
		case P_HANDSHAKE:
			r = handshake(ca);
			break;
		case P_SEND:
			r = send_some(ca);
			break;
		default:
			r = recv_some(ca);
			break;
		}
	}
}

/* What the transfer waits for, as poll events on its fd (-1: nothing); *now set when it can go on at once. */
static int
transfer_events(const struct client_agent *ca, short *events, bool *now)
{
	*now = false;
	switch (ca->phase) {
	case P_RESOLVE:
		*events = POLLIN;
		return client_resolve_fd(ca->res);
	case P_CONNECT:
		*events = POLLOUT;
		return ca->fd;
	case P_HANDSHAKE:
	case P_SEND:
	case P_RECV:
		*events = gnutls_record_get_direction(ca->tls) ? POLLOUT : POLLIN;
		*now = ca->phase == P_RECV && gnutls_record_check_pending(ca->tls) > 0;
		return ca->fd;
	case P_DONE:
		*now = true;
		return -1;
	default:
		return -1;
	}
}

int
client_agent_wait(struct client_agent *ca, struct pollfd *extra, unsigned n_extra, int timeout_ms)
{
	struct pollfd p[9];
	unsigned i;
	bool at_once;
	int64_t left;

	if (n_extra + 1 > sizeof(p) / sizeof(p[0]))
		return -E2BIG;
	/* an answer may be complete already (read along with the request's send): look without sleeping */
	drive(ca);
	for (i = 0; i < n_extra; i++)
		p[i] = (struct pollfd){ extra[i].fd, (short)(extra[i].events & (POLLIN | POLLPRI | POLLOUT)), 0 };
	p[n_extra].revents = 0;
	p[n_extra].fd = transfer_events(ca, &p[n_extra].events, &at_once);
	if (at_once)
		timeout_ms = 0;
	if (ca->phase != P_IDLE && ca->phase != P_DONE) {
		left = (ca->phase < P_SEND && ca->connect_deadline < ca->deadline ? ca->connect_deadline : ca->deadline) -
		       now_ms();
		if (left < timeout_ms)
			timeout_ms = left < 0 ? 0 : (int)left;
	}
	if (poll(p, n_extra + 1, timeout_ms) < 0 && errno != EINTR)
		return -errno;
	for (i = 0; i < n_extra; i++)
		extra[i].revents = p[i].revents;
	drive(ca);
	return 0;
}

/* The finished call's answer into *ret: the body moves there. */
static int
reply_take(struct client_agent *ca, struct client_reply *ret)
{
	memset(ret, 0, sizeof(*ret));
	ret->status = ca->ans.status;
	ret->body = ca->ans.body.data ? ca->ans.body.data : strdup("");
	ret->body_len = ca->ans.body.len;
	ca->ans.body.data = NULL;
	ca->ans.body.len = ca->ans.body.cap = 0;
	return ret->body ? 1 : -ENOMEM;
}

int
client_agent_done(struct client_agent *ca, struct client_reply *ret, struct client_error *err)
{
	int r;

	if (ca->phase != P_DONE)
		return 0;
	if (ca->result < 0)
		r = client_fail(err, CLIENT_ERR_UNREACHABLE, "%s", ca->err), r = ca->result;
	else if (ca->pinning)
		r = 1;
	else
		r = reply_take(ca, ret);
	transfer_end(ca);
	return r;
}

/* Drive the transfer in flight to its end, polling nothing else. */
static int
finish(struct client_agent *ca, struct client_reply *ret, struct client_error *err)
{
	int r;

	while ((r = client_agent_done(ca, ret, err)) == 0)
		if ((r = client_agent_wait(ca, NULL, 0, 1000)) < 0) {
			transfer_end(ca);
			return client_fail(err, CLIENT_ERR_UNREACHABLE, "poll: %s", strerror(-r)), r;
		}
	return r;
}

int
client_agent_call(struct client_agent *ca, const char *server, const struct client_agent_call *c,
		  struct client_reply *ret, struct client_error *err)
{
	struct client_reply none;
	int r;

	memset(&none, 0, sizeof(none));
	if (!client_agent_is_pinned(ca, server)) {
		if ((r = client_agent_start_pin(ca, server, err)) < 0 || (r = finish(ca, &none, err)) < 0)
			return r;
	}
	if ((r = client_agent_start(ca, c, err)) < 0)
		return r;
	return finish(ca, ret, err);
}

void
client_reply_error(const struct client_reply *r, char *code, size_t code_size, char *message, size_t msg_size)
{
	json_t *v = r->body_len ? json_loadb(r->body, r->body_len, 0, NULL) : NULL;
	json_t *e = json_object_get(v, "error");
	const char *c = json_string_value(json_object_get(e, "code"));
	const char *m = json_string_value(json_object_get(e, "message"));

	snprintf(code, code_size, "%s", c ? c : "");
	snprintf(message, msg_size, "%s", m ? m : "");
	json_decref(v);
}
