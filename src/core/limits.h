/* Every limit jitgate keeps, named in one place so that a reader can find and audit them. */
#ifndef JITGATE_CORE_LIMITS_H
#define JITGATE_CORE_LIMITS_H

/* Text forms accepted by the parsers (bytes, excluding any NUL). */
#define TIME_TEXT_MAX		64	/* RFC 3339 timestamp */
#define TIME_FRACTION_DIGITS_MAX 9	/* digits after the seconds' decimal point */
#define TIME_YEAR_MIN		1970
#define TIME_YEAR_MAX		2261	/* nanoseconds since 1970 fit in int64 until 2262 */
#define DURATION_TEXT_MAX	64	/* ISO 8601 duration */
#define DURATION_MS_MAX		(366LL * 24 * 3600 * 1000)	/* no single duration beyond a year */
#define NET_ADDR_TEXT_MAX	46	/* INET6_ADDRSTRLEN incl. NUL */
#define NET_PREFIX_TEXT_MAX	50	/* address + "/128" + NUL */

/* Buffers that the formatters fill (bytes, including the NUL). */
#define TIME_FORMAT_SIZE	32	/* "YYYY-MM-DDThh:mm:ss.nnnnnnnnnZ" */
#define DURATION_FORMAT_SIZE	40	/* "PT" + hours + "H" + "59M" + "59.999S" */

/* ARM names and ids (https://learn.microsoft.com/azure/azure-resource-manager/management/resource-name-rules). */
#define ARM_SUBSCRIPTION_MAX	36	/* a GUID */
#define ARM_RESOURCE_GROUP_MAX	90
#define ARM_VM_NAME_MAX		64
#define ARM_LOCATION_MAX	64
#define ARM_POLICY_NAME_MAX	64
#define ARM_ID_MAX		512	/* a whole resource id, as text */
#define ARM_ID_SEGMENTS_MAX	16	/* '/'-separated segments looked at in one id */

/* Policy model. */
#define POLICY_VMS_MAX		1000	/* virtual machines in one policy */
#define POLICY_PORTS_MAX	64	/* port rules for one VM */
#define POLICY_SOURCES_MAX	64	/* allowedSourceAddressPrefixes entries of one rule */
#define POLICY_DURATION_MIN_MS	(5LL * 60 * 1000)		/* 5 minutes */
#define POLICY_DURATION_MAX_MS_DEFAULT (24LL * 3600 * 1000)	/* 24 hours, as Azure */
#define POLICY_APPROVALS_MAX	10	/* approvals one rule may require */
#define POLICY_APPROVER_ROLE_MAX 64	/* a role's name, as RBAC_ROLE_NAME_MAX */

/* Error records. */
#define ERROR_CODE_MAX		64
#define ERROR_TARGET_MAX	160
#define ERROR_MESSAGE_MAX	1024	/* one error message: room for a person's several role assignments named in a refusal */
#define ERROR_QUOTE_MAX		40	/* bytes of a user's bad input repeated in a message */
#define ERROR_QUOTE_SIZE	(ERROR_QUOTE_MAX + 4)	/* quoted text + "..." + NUL */

/* Request bodies (src/http reads them, src/codec decodes them). */
#define API_BODY_MAX		(1024 * 1024)	/* request body: more is 413 */

/* Firewall (src/fw). */
#define FW_VM_ADDRS_MAX		16	/* addresses of one gateway VM */
#define FW_REQUEST_ID_MAX	64	/* request id carried in a kernel element comment */
#define FW_TIMEOUT_MAX_MS	(DURATION_MS_MAX)	/* longest kernel element timeout we set */
#define FW_BATCH_ELEMS_MAX	4096	/* elements per libnftables command line */

/* Join tokens (doc/agent-protocol.md): what an Owner may ask for, shared by the API, the CLI and jitgated's offline tool. */
#define JOIN_USES_DEFAULT	1				/* hosts one token may join */
#define JOIN_USES_MAX		1000
#define JOIN_EXPIRES_DEFAULT_MS	(24LL * 3600 * 1000)		/* PT24H */
#define JOIN_EXPIRES_MIN_MS	(60LL * 1000)			/* PT1M: less is a typo, not a plan */
#define JOIN_EXPIRES_MAX_MS	(30LL * 24 * 3600 * 1000)	/* P30D: a join token is a bootstrap secret, not a credential */
#define JOIN_ID_HEX		12				/* hex digits after "jt-" in a join token's public id */
#define JOIN_ID_MAX		(3 + JOIN_ID_HEX)		/* "jt-" + the hex */
#define JOIN_CREATED_BY_MAX	128				/* who created it, as the API shows it */

#endif
