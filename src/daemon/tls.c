/* TLS material for jitgated: a self-signed ECDSA certificate made once into the state directory, and its fingerprint. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/gnutls.h>
#include <gnutls/crypto.h>
#include <gnutls/x509.h>

#include "tls.h"

#define TLS_SERIAL_BYTES	16
#define TLS_CN_MAX		64	/* X.520 ub-common-name */
#define TLS_SAN_MAX		32	/* subjectAltName entries we write: 5 fixed ones, the rest this host's addresses */

struct tls_paths {
	char dir[PATH_MAX];
	char cert[PATH_MAX];
	char key[PATH_MAX];
};

struct tls_san {
	unsigned type;			/* gnutls_x509_subject_alt_name_t */
	uint8_t data[256];
	size_t len;
};

/* Fill err with a TlsError for a GnuTLS failure and return the errno that stands for it. */
static int
tls_fail(struct core_error *err, int gnutls_rc, const char *doing)
{
	core_error_set(err, "TlsError", "", "%s: %s", doing, gnutls_strerror(gnutls_rc));
	return gnutls_rc == GNUTLS_E_MEMORY_ERROR ? -ENOMEM : -EIO;
}

/* Fill err with a TlsError for a system call failure on `path`; returns -errnum. */
static int
tls_fail_errno(struct core_error *err, int errnum, const char *doing, const char *path)
{
	core_error_set(err, "TlsError", "", "%s %s: %s", doing, path, strerror(errnum));
	return -errnum;
}

static int
tls_paths_make(const char *state_dir, struct tls_paths *p, struct core_error *err)
{
	int n;

	n = snprintf(p->dir, sizeof(p->dir), "%s/tls", state_dir);
	if (n < 0 || (size_t)n >= sizeof(p->dir))
		goto too_long;
	n = snprintf(p->cert, sizeof(p->cert), "%s/cert.pem", p->dir);
	if (n < 0 || (size_t)n >= sizeof(p->cert))
		goto too_long;
	n = snprintf(p->key, sizeof(p->key), "%s/key.pem", p->dir);
	if (n < 0 || (size_t)n >= sizeof(p->key))
		goto too_long;
	return 0;
too_long:
	core_error_set(err, "TlsError", "", "the state directory path is too long");
	return -ENAMETOOLONG;
}

/* 1 if path exists, 0 if not, negative errno if it cannot be told. */
static int
tls_file_exists(const char *path)
{
	struct stat st;

	if (lstat(path, &st) == 0)
		return 1;
	return errno == ENOENT ? 0 : -errno;
}

/* Write data to path atomically: a 0600 temp file beside it, fsync, rename. */
static int
tls_write_atomic(const char *path, const unsigned char *data, size_t len, struct core_error *err)
{
	char tmp[PATH_MAX];
	size_t off = 0;
	int fd = -1;
	int r;
	int n;

	n = snprintf(tmp, sizeof(tmp), "%s.tmp.XXXXXX", path);
	if (n < 0 || (size_t)n >= sizeof(tmp)) {
		core_error_set(err, "TlsError", "", "the state directory path is too long");
		return -ENAMETOOLONG;
	}
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return tls_fail_errno(err, errno, "cannot create", tmp);
	/* mkostemp makes 0600 already; say so in case of an unusual libc. */
	if (fchmod(fd, 0600) < 0) {
		r = tls_fail_errno(err, errno, "cannot chmod", tmp);
		goto out;
	}
	while (off < len) {
		ssize_t w = write(fd, data + off, len - off);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			r = tls_fail_errno(err, errno, "cannot write", tmp);
			goto out;
		}
		off += (size_t)w;
	}
	if (fsync(fd) < 0) {
		r = tls_fail_errno(err, errno, "cannot fsync", tmp);
		goto out;
	}
	if (close(fd) < 0) {
		fd = -1;
		r = tls_fail_errno(err, errno, "cannot close", tmp);
		goto out;
	}
	fd = -1;
	if (rename(tmp, path) < 0) {
		r = tls_fail_errno(err, errno, "cannot rename into", path);
		goto out;
	}
	return 0;
out:
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	return r;
}

/* Make the renames durable. */
static int
tls_fsync_dir(const char *dir, struct core_error *err)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int r = 0;

	if (fd < 0)
		return tls_fail_errno(err, errno, "cannot open", dir);
	if (fsync(fd) < 0)
		r = tls_fail_errno(err, errno, "cannot fsync", dir);
	close(fd);
	return r;
}

/* Add a SAN entry unless the same one is there already. */
static void
tls_san_add(struct tls_san *sans, size_t *n, unsigned type, const void *data, size_t len)
{
	size_t i;

	if (len == 0 || len > sizeof(sans[0].data) || *n >= TLS_SAN_MAX)
		return;
	for (i = 0; i < *n; i++) {
		if (sans[i].type != type || sans[i].len != len)
			continue;
		/* DNS names compare case-insensitively. */
		if (type == GNUTLS_SAN_DNSNAME ? strncasecmp((const char *)sans[i].data, data, len) == 0
					       : memcmp(sans[i].data, data, len) == 0)
			return;
	}
	sans[*n].type = type;
	memcpy(sans[*n].data, data, len);
	sans[*n].len = len;
	(*n)++;
}

/* An IP address (v4 or v6, brackets allowed) as raw bytes, or a DNS name; wildcard listen addresses name nothing. */
static void
tls_san_add_host(struct tls_san *sans, size_t *n, const char *host)
{
	char buf[256];
	uint8_t raw[16];
	size_t len;

	if (host == NULL)
		return;
	len = strlen(host);
	if (len >= 2 && host[0] == '[' && host[len - 1] == ']') {
		host++;
		len -= 2;
	}
	if (len == 0 || len >= sizeof(buf))
		return;
	memcpy(buf, host, len);
	buf[len] = '\0';
	if (strcmp(buf, "*") == 0)
		return;
	if (inet_pton(AF_INET, buf, raw) == 1) {
		if (memcmp(raw, "\0\0\0\0", 4) != 0)
			tls_san_add(sans, n, GNUTLS_SAN_IPADDRESS, raw, 4);
		return;
	}
	if (inet_pton(AF_INET6, buf, raw) == 1) {
		static const uint8_t any6[16];

		if (memcmp(raw, any6, 16) != 0)
			tls_san_add(sans, n, GNUTLS_SAN_IPADDRESS, raw, 16);
		return;
	}
	tls_san_add(sans, n, GNUTLS_SAN_DNSNAME, buf, len);
}

/* A wildcard listen address ("0.0.0.0", "::", "*", empty) names no host a client could reach. */
static bool
tls_host_is_wildcard(const char *host)
{
	uint8_t raw[16];
	static const uint8_t zero[16];
	char buf[64];
	size_t len = host ? strlen(host) : 0;

	if (len >= 2 && host[0] == '[' && host[len - 1] == ']') {
		host++;
		len -= 2;
	}
	if (len == 0 || (len == 1 && host[0] == '*'))
		return true;
	if (len >= sizeof(buf))
		return false;
	memcpy(buf, host, len);
	buf[len] = '\0';
	return (inet_pton(AF_INET, buf, raw) == 1 && !memcmp(raw, zero, 4)) ||
	       (inet_pton(AF_INET6, buf, raw) == 1 && !memcmp(raw, zero, 16));
}

/* Is this an address a client elsewhere could use: not loopback, not link-local, not unspecified? */
static bool
tls_addr_is_routable(unsigned type, const uint8_t *a, size_t len)
{
	static const uint8_t zero[16];

	if (type != GNUTLS_SAN_IPADDRESS)
		return false;
	if (len == 4)
		return a[0] != 127 && a[0] != 0 && !(a[0] == 169 && a[1] == 254);
	if (len == 16)
		return memcmp(a, zero, 15) != 0 && !(a[0] == 0xfe && (a[1] & 0xc0) == 0x80) &&
		       !(memcmp(a, zero, 10) == 0 && a[10] == 0xff && a[11] == 0xff && a[12] == 127);
	return false;
}

/* Listening on every address: name every address this host has now (up to TLS_SAN_MAX in all). */
static void
tls_san_add_host_addrs(struct tls_san *sans, size_t *n)
{
	struct ifaddrs *ifa = NULL, *i;

	if (getifaddrs(&ifa) < 0)
		return;
	for (i = ifa; i; i = i->ifa_next) {
		const uint8_t *a;
		size_t len;

		if (!i->ifa_addr || (i->ifa_flags & IFF_LOOPBACK))
			continue;
		if (i->ifa_addr->sa_family == AF_INET) {
			a = (const uint8_t *)&((struct sockaddr_in *)i->ifa_addr)->sin_addr;
			len = 4;
		} else if (i->ifa_addr->sa_family == AF_INET6) {
			a = ((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr.s6_addr;
			len = 16;
		} else {
			continue;
		}
		if (tls_addr_is_routable(GNUTLS_SAN_IPADDRESS, a, len))
			tls_san_add(sans, n, GNUTLS_SAN_IPADDRESS, a, len);
	}
	freeifaddrs(ifa);
}

/* A v3 certificate with a fresh random serial, valid from an hour ago for TLS_CERT_DAYS. */
static int
tls_crt_serial_validity(gnutls_x509_crt_t crt, struct core_error *err)
{
	uint8_t serial[TLS_SERIAL_BYTES];
	time_t now = time(NULL);
	int rc;

	rc = gnutls_x509_crt_set_version(crt, 3);
	if (rc < 0)
		return tls_fail(err, rc, "cannot set the certificate version");
	rc = gnutls_rnd(GNUTLS_RND_NONCE, serial, sizeof(serial));
	if (rc < 0)
		return tls_fail(err, rc, "cannot draw a serial number");
	/* A positive DER INTEGER of exactly 16 bytes: top bit clear, first byte non-zero. */
	serial[0] = (uint8_t)((serial[0] & 0x7f) | 0x40);
	rc = gnutls_x509_crt_set_serial(crt, serial, sizeof(serial));
	if (rc < 0)
		return tls_fail(err, rc, "cannot set the serial number");
	/* An hour's slack for clients whose clocks run a little behind. */
	rc = gnutls_x509_crt_set_activation_time(crt, now - 3600);
	if (rc >= 0)
		rc = gnutls_x509_crt_set_expiration_time(crt, now + (time_t)TLS_CERT_DAYS * 24 * 3600);
	if (rc < 0)
		return tls_fail(err, rc, "cannot set the validity period");
	return 0;
}

/* The subject ("jitgate HOSTNAME") and the public key of key. */
static int
tls_crt_subject(gnutls_x509_crt_t crt, gnutls_x509_privkey_t key, const char *hostname, struct core_error *err)
{
	char cn[TLS_CN_MAX + 1];
	int cn_len, rc;

	if (hostname != NULL && hostname[0] != '\0')
		cn_len = snprintf(cn, sizeof(cn), "jitgate %s", hostname);
	else
		cn_len = snprintf(cn, sizeof(cn), "jitgate");
	if (cn_len < 0)
		return core_error_set(err, "TlsError", "", "cannot format the certificate's name");
	if ((size_t)cn_len > TLS_CN_MAX)
		cn_len = TLS_CN_MAX;	/* the name is informational; the SAN carries the full hostname */
	rc = gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, cn, (unsigned)cn_len);
	if (rc < 0)
		return tls_fail(err, rc, "cannot set the certificate's subject");
	rc = gnutls_x509_crt_set_key(crt, key);
	if (rc < 0)
		return tls_fail(err, rc, "cannot put the public key into the certificate");
	return 0;
}

/* The subjectAltNames: the listen host, the hostname, loopback, and this host's addresses when on every one. */
static int
tls_crt_sans(gnutls_x509_crt_t crt, const char *listen_host, const char *hostname, struct core_error *err)
{
	struct tls_san sans[TLS_SAN_MAX];
	const uint8_t lo4[4] = { 127, 0, 0, 1 };
	uint8_t lo6[16] = { 0 };
	size_t n_sans = 0, i;
	int rc;

	tls_san_add_host(sans, &n_sans, listen_host);
	if (hostname != NULL)
		tls_san_add(sans, &n_sans, GNUTLS_SAN_DNSNAME, hostname, strlen(hostname));
	tls_san_add(sans, &n_sans, GNUTLS_SAN_IPADDRESS, lo4, sizeof(lo4));
	lo6[15] = 1;
	tls_san_add(sans, &n_sans, GNUTLS_SAN_IPADDRESS, lo6, sizeof(lo6));
	tls_san_add(sans, &n_sans, GNUTLS_SAN_DNSNAME, "localhost", strlen("localhost"));
	if (tls_host_is_wildcard(listen_host))
		tls_san_add_host_addrs(sans, &n_sans);
	for (i = 0; i < n_sans; i++) {
		rc = gnutls_x509_crt_set_subject_alt_name(crt, (gnutls_x509_subject_alt_name_t)sans[i].type,
							  sans[i].data, (unsigned)sans[i].len, GNUTLS_FSAN_APPEND);
		if (rc < 0)
			return tls_fail(err, rc, "cannot add a subjectAltName");
	}
	return 0;
}

/* basicConstraints, keyUsage, extKeyUsage (a TLS server) and the key identifiers. */
static int
tls_crt_extensions(gnutls_x509_crt_t crt, struct core_error *err)
{
	uint8_t key_id[64];
	size_t key_id_len = sizeof(key_id);
	int rc;

	rc = gnutls_x509_crt_set_basic_constraints(crt, 1, -1);
	if (rc < 0)
		return tls_fail(err, rc, "cannot set basicConstraints");
	rc = gnutls_x509_crt_set_key_usage(crt, GNUTLS_KEY_DIGITAL_SIGNATURE | GNUTLS_KEY_KEY_CERT_SIGN);
	if (rc < 0)
		return tls_fail(err, rc, "cannot set keyUsage");
	rc = gnutls_x509_crt_set_key_purpose_oid(crt, GNUTLS_KP_TLS_WWW_SERVER, 0);
	if (rc < 0)
		return tls_fail(err, rc, "cannot set extKeyUsage");
	/* Key identifiers help clients that build chains by them. */
	rc = gnutls_x509_crt_get_key_id(crt, 0, key_id, &key_id_len);
	if (rc >= 0)
		rc = gnutls_x509_crt_set_subject_key_id(crt, key_id, key_id_len);
	if (rc >= 0)
		rc = gnutls_x509_crt_set_authority_key_id(crt, key_id, key_id_len);
	if (rc < 0)
		return tls_fail(err, rc, "cannot set the key identifiers");
	return 0;
}

/* Build, sign and export a new key and certificate; the key PEM is the caller's to wipe and free. */
static int
tls_generate(const char *listen_host, const char *hostname, gnutls_datum_t *ret_cert, gnutls_datum_t *ret_key,
	     struct core_error *err)
{
	gnutls_x509_privkey_t key = NULL;
	gnutls_x509_crt_t crt = NULL;
	gnutls_datum_t cert_pem = { NULL, 0 }, key_pem = { NULL, 0 };
	int rc;
	int r;

	rc = gnutls_x509_privkey_init(&key);
	if (rc < 0) {
		r = tls_fail(err, rc, "cannot make a private key");
		goto out;
	}
	rc = gnutls_x509_privkey_generate2(key, GNUTLS_PK_ECDSA, GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0,
					   NULL, 0);
	if (rc < 0) {
		r = tls_fail(err, rc, "cannot generate an ECDSA P-256 key");
		goto out;
	}
	rc = gnutls_x509_crt_init(&crt);
	if (rc < 0) {
		r = tls_fail(err, rc, "cannot make a certificate");
		goto out;
	}
	if ((r = tls_crt_serial_validity(crt, err)) < 0 || (r = tls_crt_subject(crt, key, hostname, err)) < 0 ||
	    (r = tls_crt_sans(crt, listen_host, hostname, err)) < 0 || (r = tls_crt_extensions(crt, err)) < 0)
		goto out;
	rc = gnutls_x509_crt_sign2(crt, crt, key, GNUTLS_DIG_SHA256, 0);
	if (rc < 0) {
		r = tls_fail(err, rc, "cannot sign the certificate");
		goto out;
	}
	rc = gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM, &cert_pem);
	if (rc < 0) {
		r = tls_fail(err, rc, "cannot encode the certificate");
		goto out;
	}
	rc = gnutls_x509_privkey_export2_pkcs8(key, GNUTLS_X509_FMT_PEM, NULL, GNUTLS_PKCS_PLAIN, &key_pem);
	if (rc < 0) {
		r = tls_fail(err, rc, "cannot encode the private key");
		goto out;
	}
	*ret_cert = cert_pem;
	*ret_key = key_pem;
	cert_pem = (gnutls_datum_t){ NULL, 0 };
	key_pem = (gnutls_datum_t){ NULL, 0 };
	r = 0;
out:
	gnutls_free(cert_pem.data);
	if (key_pem.data != NULL) {
		gnutls_memset(key_pem.data, 0, key_pem.size);
		gnutls_free(key_pem.data);
	}
	if (crt != NULL)
		gnutls_x509_crt_deinit(crt);
	if (key != NULL)
		gnutls_x509_privkey_deinit(key);
	return r;
}

int
tls_ensure_self_signed(const char *state_dir, const char *listen_host, const char *hostname,
		       struct core_error *err)
{
	gnutls_datum_t cert_pem = { NULL, 0 }, key_pem = { NULL, 0 };
	struct tls_paths p;
	int have_cert, have_key;
	int r;

	if (state_dir == NULL || state_dir[0] == '\0')
		return core_error_set(err, "TlsError", "", "no state directory given for the TLS material");
	r = tls_paths_make(state_dir, &p, err);
	if (r < 0)
		return r;
	if (mkdir(p.dir, 0700) < 0 && errno != EEXIST)
		return tls_fail_errno(err, errno, "cannot create", p.dir);

	have_cert = tls_file_exists(p.cert);
	if (have_cert < 0)
		return tls_fail_errno(err, -have_cert, "cannot look at", p.cert);
	have_key = tls_file_exists(p.key);
	if (have_key < 0)
		return tls_fail_errno(err, -have_key, "cannot look at", p.key);
	if (have_cert && have_key)
		return 0;
	if (have_cert || have_key) {
		core_error_set(err, "TlsMaterialIncomplete", "",
			       "%s exists but %s does not; supply both, or remove the one to have a new pair made",
			       have_cert ? p.cert : p.key, have_cert ? p.key : p.cert);
		return -ENOENT;
	}

	r = tls_generate(listen_host, hostname, &cert_pem, &key_pem, err);
	if (r < 0)
		goto out;
	/* The key goes first: a crash between the renames leaves a key without a certificate, which we refuse loudly. */
	r = tls_write_atomic(p.key, key_pem.data, key_pem.size, err);
	if (r < 0)
		goto out;
	r = tls_write_atomic(p.cert, cert_pem.data, cert_pem.size, err);
	if (r < 0) {
		unlink(p.key);
		goto out;
	}
	r = tls_fsync_dir(p.dir, err);
out:
	gnutls_free(cert_pem.data);
	if (key_pem.data != NULL) {
		gnutls_memset(key_pem.data, 0, key_pem.size);
		gnutls_free(key_pem.data);
	}
	return r;
}

int
tls_cert_fingerprint(const char *cert_path, char *buf, size_t size, struct core_error *err)
{
	static const char hex[] = "0123456789ABCDEF";
	gnutls_x509_crt_t crt = NULL;
	gnutls_datum_t pem = { NULL, 0 };
	uint8_t digest[32];
	size_t digest_len = sizeof(digest);
	char text[TLS_FINGERPRINT_TEXT_MAX];
	size_t i, len = 0;
	int rc;
	int r;

	rc = gnutls_load_file(cert_path, &pem);
	if (rc < 0) {
		core_error_set(err, "TlsError", "", "cannot read %s: %s", cert_path, gnutls_strerror(rc));
		r = rc == GNUTLS_E_MEMORY_ERROR ? -ENOMEM : -EIO;
		goto out;
	}
	rc = gnutls_x509_crt_init(&crt);
	if (rc < 0) {
		r = tls_fail(err, rc, "cannot make a certificate");
		goto out;
	}
	/* Takes the first certificate of the file. */
	rc = gnutls_x509_crt_import(crt, &pem, GNUTLS_X509_FMT_PEM);
	if (rc < 0) {
		core_error_set(err, "TlsError", "", "cannot parse the certificate in %s: %s", cert_path,
			       gnutls_strerror(rc));
		r = -EINVAL;
		goto out;
	}
	rc = gnutls_x509_crt_get_fingerprint(crt, GNUTLS_DIG_SHA256, digest, &digest_len);
	if (rc < 0 || digest_len != sizeof(digest)) {
		r = tls_fail(err, rc < 0 ? rc : GNUTLS_E_INTERNAL_ERROR, "cannot compute the certificate's fingerprint");
		goto out;
	}
	for (i = 0; i < digest_len; i++) {
		if (i > 0)
			text[len++] = ':';
		text[len++] = hex[digest[i] >> 4];
		text[len++] = hex[digest[i] & 0x0f];
	}
	text[len] = '\0';
	if (size < len + 1) {
		core_error_set(err, "TlsError", "", "the fingerprint buffer is too small");
		r = -ENOSPC;
		goto out;
	}
	memcpy(buf, text, len + 1);
	r = 0;
out:
	if (crt != NULL)
		gnutls_x509_crt_deinit(crt);
	gnutls_free(pem.data);
	return r;
}

int
tls_cert_names_routable_address(const char *cert_path, struct core_error *err)
{
	gnutls_datum_t pem = { NULL, 0 };
	gnutls_x509_crt_t crt = NULL;
	unsigned idx;
	int rc, r = 0;

	rc = gnutls_load_file(cert_path, &pem);
	if (rc < 0)
		return tls_fail(err, rc, "cannot read the certificate");
	rc = gnutls_x509_crt_init(&crt);
	if (rc >= 0)
		rc = gnutls_x509_crt_import(crt, &pem, GNUTLS_X509_FMT_PEM);
	if (rc < 0) {
		r = tls_fail(err, rc, "cannot parse the certificate");
		goto out;
	}
	for (idx = 0;; idx++) {
		uint8_t data[256];
		size_t len = sizeof(data);
		unsigned critical = 0;

		rc = gnutls_x509_crt_get_subject_alt_name(crt, idx, data, &len, &critical);
		if (rc == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
			break;
		if (rc == GNUTLS_E_SHORT_MEMORY_BUFFER)
			continue;	/* a long name, and not an address */
		if (rc < 0) {
			r = tls_fail(err, rc, "cannot read the certificate's subjectAltName");
			goto out;
		}
		if (tls_addr_is_routable((unsigned)rc, data, len)) {
			r = 1;
			break;
		}
	}
out:
	if (crt)
		gnutls_x509_crt_deinit(crt);
	gnutls_free(pem.data);
	return r;
}
