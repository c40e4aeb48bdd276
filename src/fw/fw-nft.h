/* The kernel backend (fw-nft.c): table inet jitgate, read back and changed in atomic batches. */
#ifndef JITGATE_FW_NFT_H
#define JITGATE_FW_NFT_H

#include "fw-model.h"

struct fw_nft;

int fw_nft_open(struct fw_nft **ret, struct core_error *err);
void fw_nft_close(struct fw_nft *nft);

/*
 * Read table inet jitgate. -ENOENT when there is no table. *ret_ours is false
 * when the table exists but its sets or chains are not the ones we create (then
 * only a rebuild makes it right). Elements are returned sorted (fw_elem_cmp_key).
 */
int fw_nft_list(struct fw_nft *nft, int64_t now_ms, struct fw_elem **ret, size_t *ret_n, bool *ret_ours,
		struct core_error *err);

/*
 * Let libnftables' context go when no batch used it for idle_ms (now_ms: time_mono_ms()); the next
 * batch makes a new one. Returns when it will be due (monotonic ms), INT64_MAX when none is held.
 */
int64_t fw_nft_rest(struct fw_nft *nft, int64_t now_ms, int64_t idle_ms);

/* Send one batch; all or nothing. */
int fw_nft_apply(struct fw_nft *nft, const struct fw_batch *batch, int64_t now_ms, struct core_error *err);

#endif
