/* The CLI's single sign-on (jitgate login --sso): the device authorization grant (RFC 8628), brokered by jitgated. */
#include <errno.h>
#include <string.h>

#include "api/api-oidc-internal.h"

bool
api_oidc_device_handle(struct api *api, struct api_oidc *o, struct api_caller *c, const struct http_request *req,
		       struct http_response *resp)
{
	(void)api, (void)o, (void)c, (void)req, (void)resp;
	return false;
}
