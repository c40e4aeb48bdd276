/* Fuzz target for single sign-on's parsers: an ID token against a fixed JWKS, a discovery document, a JWKS. */
#include <errno.h>

#include "api/api-oidc.h"
#include "fuzz-common.h"

/* A JWKS of one RSA and one EC public key (kids r1 and e1): a token naming either reaches the signature check. */
static const char jwks_text[] =
	"{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"r1\",\"use\":\"sig\",\"e\":\"AQAB\",\"n\":\"sXchDaQebHnPiGvyDOAT4saGEUetSyo9MKLOoWFsueri23bOdgWp4Dy1WlUzewbgBHod5pcM9H95GQRV3JDXboIRROSBigeC5yjU1hGzHHyXss8UDprecbAYxknTcQkhslANGRUZmdTOQ5qTRsLAt6BTYuyvVRdhS8exSZEy_c4gs_7svlJJQ4H9_NxsiIoLwAEk7-Q3UXERGYw_75IDrGA84-lA_-Ct4eTlXHBIY2EaV7t7LjJaynVJCpkv4LKjTTAumiGUIuQhrNhZLuF_RJLqHpM2kgWFLU7-VTdL1VbC2tejvcI2BlMkEpk1BzBZI0KQB0GaDWFLN-aEAw3vRw\"},"
	"{\"kty\":\"EC\",\"kid\":\"e1\",\"use\":\"sig\",\"crv\":\"P-256\",\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU\",\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0\"}]}";

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static json_t *jwks;
	struct oidc_expect x = { "https://idp.example", "jitgate", "nonce", "email", "groups", 1800000000 };
	struct oidc_discovery d;
	struct oidc_claims c;
	struct core_error err;
	char *s = fuzz_copy(data, size);
	json_t *j = NULL;
	int r;

	if (!jwks)
		fuzz_check(oidc_jwks_parse(jwks_text, sizeof(jwks_text) - 1, &jwks, NULL) == 0);
	r = oidc_id_token_verify(s, size, jwks, &x, &c, &err);
	fuzz_check(r == -EBADMSG || r == -ENOKEY);	/* nobody can sign for these keys */
	if (oidc_discovery_parse(s, size, "https://idp.example", &d, &err) == 0)
		fuzz_check(!strncmp(d.token_endpoint, "https://", 8) && !strncmp(d.jwks_uri, "https://", 8));
	if (oidc_jwks_parse(s, size, &j, &err) == 0)
		fuzz_check(json_array_size(json_object_get(j, "keys")) <= OIDC_JWKS_KEYS_MAX);
	json_decref(j);
	free(s);
	return 0;
}
