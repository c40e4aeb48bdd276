/* What fw-nft.c (changes, libnftables) and fw-nft-list.c (reading back, libnftnl) agree on: the table, its chains. */
#ifndef JITGATE_FW_NFT_INTERNAL_H
#define JITGATE_FW_NFT_INTERNAL_H

#include "fw-nft.h"

#define FW_TABLE_NAME	"jitgate"
#define FW_TABLE	"inet " FW_TABLE_NAME
#define FW_PRIORITY	-10	/* before the usual filter priority (0), so our drop is seen first */

#define FW_NAT_PRIORITY	-110	/* dstnat - 10: our DNAT before the usual dstnat chains */
#define FW_NFT_CHAINS	3	/* input, forward, prerouting (nat) */
#define FW_NET_FAMILIES	2	/* IPv4, IPv6 */

/* Our base chains and their hooks (fw-nft.c defines them; fw-nft-list.c checks the kernel's against them). */
struct fw_nft_chain {
	const char *name, *hook, *type;
	int priority;
};

extern const struct fw_nft_chain fw_nft_chains[FW_NFT_CHAINS];

#endif
