/* checksum.c — XXH3 wrappers; see checksum.h for why XXH3. */
#include "checksum.h"

#define XXH_STATIC_LINKING_ONLY /* XXH3_state_t on the stack */
#include <xxhash.h>

#define LSM_CHECKSUM_SEED 0x6c736d66735f3031ull /* "lsmfs_01" */

uint32_t lsm_checksum(const void *data, size_t len)
{
	return (uint32_t)XXH3_64bits_withSeed(data, len, LSM_CHECKSUM_SEED);
}

uint32_t lsm_checksum2(const void *a, size_t alen, const void *b, size_t blen)
{
	XXH3_state_t st;
	/* A stack state must be initialised, or reset may reuse stale secret bytes. */
	XXH3_INITSTATE(&st);
	XXH3_64bits_reset_withSeed(&st, LSM_CHECKSUM_SEED);
	XXH3_64bits_update(&st, a, alen);
	XXH3_64bits_update(&st, b, blen);
	return (uint32_t)XXH3_64bits_digest(&st);
}

uint64_t lsm_hash64(const void *data, size_t len)
{
	return XXH3_64bits(data, len);
}
