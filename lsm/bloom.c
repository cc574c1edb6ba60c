/*
 * bloom.c — building and probing the table's bloom filter (layout in bloom.h).
 *
 * Probe positions use Kirsch-Mitzenmacher double hashing: position i is
 * h1 + i * h2 over the two 32-bit halves of the key's 64-bit hash, which
 * keeps the false-positive rate of k independent hashes with one hash call.
 * A position is mapped onto the bit array by a multiply-shift instead of a
 * modulo (Lemire's fast range reduction): one multiply per probe.
 */
#include "bloom.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Small filters have a high variance in false-positive rate: never fewer bits than this. */
#define BLOOM_MIN_BITS 64

void lsm_bloom_builder_init(lsm_bloom_builder *b, int bits_per_key)
{
	b->hashes = NULL;
	b->n = b->cap = 0;
	b->bits_per_key = bits_per_key > 0 ? bits_per_key : 1;
}

void lsm_bloom_builder_free(lsm_bloom_builder *b)
{
	free(b->hashes);
	b->hashes = NULL;
	b->n = b->cap = 0;
}

int lsm_bloom_builder_add(lsm_bloom_builder *b, uint64_t hash)
{
	/* Versions of one user key arrive together: count the key once. */
	if (b->n && b->hashes[b->n - 1] == hash)
		return 0;
	if (b->n == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 256;
		uint64_t *h = realloc(b->hashes, cap * sizeof(*h));
		if (!h)
			return -ENOMEM;
		b->hashes = h;
		b->cap = cap;
	}
	b->hashes[b->n++] = hash;
	return 0;
}

int lsm_bloom_k(int bits_per_key)
{
	int k = (int)(bits_per_key * 0.69314718055994531 + 0.5); /* ln 2: optimal k */
	return k < 1 ? 1 : k > 30 ? 30 : k;
}

static inline uint32_t bloom_pos(uint32_t h, uint64_t nbits)
{
	return (uint32_t)(((uint64_t)h * nbits) >> 32);
}

int lsm_bloom_builder_finish(lsm_bloom_builder *b, lsm_buf *out)
{
	uint64_t nbits = (uint64_t)b->n * (uint64_t)b->bits_per_key;
	if (nbits < BLOOM_MIN_BITS)
		nbits = BLOOM_MIN_BITS;
	/* Positions are 32-bit: past 4 Gbit the filter would just lose precision. */
	if (nbits > (UINT32_MAX & ~7u))
		nbits = UINT32_MAX & ~7u;
	size_t nbytes = (size_t)((nbits + 7) / 8);
	nbits = (uint64_t)nbytes * 8;
	int k = lsm_bloom_k(b->bits_per_key);
	int rc = lsm_buf_reserve(out, nbytes + 1);
	if (rc)
		return rc;
	uint8_t *bits = out->data + out->len;
	memset(bits, 0, nbytes);
	for (size_t i = 0; i < b->n; i++) {
		uint32_t h1 = (uint32_t)b->hashes[i], h2 = (uint32_t)(b->hashes[i] >> 32);
		for (int j = 0; j < k; j++) {
			uint32_t pos = bloom_pos(h1, nbits);
			bits[pos / 8] |= (uint8_t)(1u << (pos % 8));
			h1 += h2;
		}
	}
	bits[nbytes] = (uint8_t)k;
	out->len += nbytes + 1;
	b->n = 0;
	return 0;
}

int lsm_bloom_may_match_hash(const uint8_t *filter, size_t len, uint64_t hash)
{
	if (len < 2)
		return 1;
	int k = filter[len - 1];
	if (k < 1 || k > 30)
		return 1;
	uint64_t nbits = (uint64_t)(len - 1) * 8;
	if (nbits > UINT32_MAX)
		return 1; /* not a filter we write */
	uint32_t h1 = (uint32_t)hash, h2 = (uint32_t)(hash >> 32);
	for (int j = 0; j < k; j++) {
		uint32_t pos = bloom_pos(h1, nbits);
		assert(pos < nbits);
		if (!(filter[pos / 8] & (1u << (pos % 8))))
			return 0;
		h1 += h2;
	}
	return 1;
}

int lsm_bloom_may_match(const uint8_t *filter, size_t len, lsm_slice key)
{
	return lsm_bloom_may_match_hash(filter, len, lsm_bloom_hash(key));
}
