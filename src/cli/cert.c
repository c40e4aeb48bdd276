/* The server's certificate as people compare it: the SHA-256 fingerprint that jitgated logs at start (login, agent tokens). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include "cli/cli.h"

/* "AB:CD:..." of the SHA-256 of the certificate's DER, as jitgated prints it. */
int
cli_cert_fingerprint(const char *pem, char *buf, size_t size)
{
	static const char hex[] = "0123456789ABCDEF";
	gnutls_datum_t in = { (unsigned char *)(uintptr_t)pem, (unsigned)strlen(pem) }, der = { NULL, 0 };
	unsigned char digest[32];
	size_t i, len = 0;

	if (size < CLI_FP_TEXT_SIZE || gnutls_pem_base64_decode2("CERTIFICATE", &in, &der) < 0)
		return -EINVAL;
	if (gnutls_hash_fast(GNUTLS_DIG_SHA256, der.data, der.size, digest) < 0) {
		gnutls_free(der.data);
		return -EIO;
	}
	gnutls_free(der.data);
	for (i = 0; i < sizeof(digest); i++) {
		if (i)
			buf[len++] = ':';
		buf[len++] = hex[digest[i] >> 4];
		buf[len++] = hex[digest[i] & 15];
	}
	buf[len] = '\0';
	return 0;
}

int
cli_cert_fingerprint_file(const char *path, char *buf, size_t size)
{
	char pem[CLI_PEM_MAX + 1];
	size_t n;
	FILE *f = fopen(path, "re");
	int r;

	if (!f)
		return -errno;
	n = fread(pem, 1, CLI_PEM_MAX, f);
	r = ferror(f) ? -EIO : n == CLI_PEM_MAX ? -EFBIG : 0;
	fclose(f);
	if (r < 0)
		return r;
	pem[n] = '\0';
	/* a CA bundle's first certificate is the one login pinned (a file of its own) */
	return cli_cert_fingerprint(pem, buf, size);
}
