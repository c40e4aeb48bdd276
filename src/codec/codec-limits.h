/* Limits the wire format keeps on a decoded body, named in one place (see also core/limits.h). */
#ifndef JITGATE_CODEC_LIMITS_H
#define JITGATE_CODEC_LIMITS_H

#include "core/limits.h"

#define API_JSON_DEPTH_MAX	32		/* nesting of arrays and objects in a request body */
#define API_STRING_MAX		4096		/* any one JSON string in a request body */
#define API_INITIATE_VMS_MAX	POLICY_VMS_MAX	/* VMs in one initiate or revoke body */
#define API_INITIATE_PORTS_MAX	POLICY_PORTS_MAX	/* ports per VM in one initiate or revoke body */
#define API_ADDRS_MAX		FW_VM_ADDRS_MAX	/* addresses of one VM in an inventory PUT */
#define API_JUSTIFICATION_MAX	1024		/* an initiate body's justification (src/api asserts it fits the store's) */
#define API_OS_TYPE_MAX		16		/* "Linux" or "Windows" with its NUL, in struct codec_vm */

#endif
