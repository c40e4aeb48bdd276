/* The server's certificate as people compare it: the SHA-256 fingerprint that jitgated logs at start (login, agent tokens). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "client/client-agent.h"

/* "AB:CD:..." of the SHA-256 of the certificate's DER, as jitgated prints it (the hash is the agent's pin's). */
int
cli_cert_fingerprint(const char *pem, char *buf, size_t size)
{
	static const char hex[] = "0123456789ABCDEF";
	uint8_t digest[CLIENT_AGENT_FP_LEN];
	size_t i, len = 0;
	int r;

	if (size < CLI_FP_TEXT_SIZE)
		return -EINVAL;
	if ((r = client_cert_sha256(pem, digest)) < 0)
		return r;
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
