/*
 * bloom.h — the bloom filter of a table, over its user keys.
 *
 * One filter covers the whole table. Keys enter as 64-bit hashes
 * (lsm_hash64 of the user key); probe positions come from double hashing of
 * the two 32-bit halves. Layout (written by bloom.c):
 *
 *   [bit array: nbytes][k: 1 byte]
 *
 * Bit i lives in byte i / 8, bit i % 8. k is the number of probes; a filter
 * whose k is outside 1..30 (a future encoding) matches everything, so old
 * readers stay correct, only slower.
 */
#ifndef LSM_BLOOM_H
#define LSM_BLOOM_H

#include "buf.h"
#include "checksum.h"
#include "dbformat.h"

#include <stddef.h>
#include <stdint.h>

typedef struct lsm_bloom_builder {
	uint64_t *hashes; /* one per distinct consecutive key */
	size_t n, cap;
	int bits_per_key;
} lsm_bloom_builder;

void lsm_bloom_builder_init(lsm_bloom_builder *b, int bits_per_key);
void lsm_bloom_builder_free(lsm_bloom_builder *b);
/* Adds one key hash (a repeat of the previous hash is dropped). 0 or -ENOMEM. */
int lsm_bloom_builder_add(lsm_bloom_builder *b, uint64_t hash);
/* Number of hashes held. */
static inline size_t lsm_bloom_builder_count(const lsm_bloom_builder *b)
{
	return b->n;
}
/*
 * Appends the filter for every hash added to out (not cleared) and empties
 * the builder. 0 or -ENOMEM.
 */
int lsm_bloom_builder_finish(lsm_bloom_builder *b, lsm_buf *out);

/* Probes per key for bits_per_key: bits_per_key * ln 2, rounded, clamped to 1..30. */
int lsm_bloom_k(int bits_per_key);

/* The hash a key enters the filter with. */
static inline uint64_t lsm_bloom_hash(lsm_slice key)
{
	return lsm_hash64(key.data, key.len);
}

/*
 * 0 if key was certainly not added to the filter, 1 if it may have been.
 * Malformed filters (empty, unknown k) answer 1: never a false negative.
 */
int lsm_bloom_may_match_hash(const uint8_t *filter, size_t len, uint64_t hash);
int lsm_bloom_may_match(const uint8_t *filter, size_t len, lsm_slice key);

#endif
