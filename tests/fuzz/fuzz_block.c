/*
 * fuzz_block.c — the block reader (lsm/block.h) on arbitrary bytes: a block
 * that lsm_block_init accepts is walked forward and backward and sought with
 * keys taken from it; every key and value must lie inside the block (or the
 * iterator's own key buffer) and every damage must end as -LSM_ECORRUPT.
 */
#include "fuzz.h"

#include "block.h"
#include "error.h"

static void check_entry(const lsm_block *blk, const lsm_block_iter *it)
{
	lsm_slice k = lsm_block_iter_key(it), v = lsm_block_iter_value(it);
	volatile uint8_t sum = 0;

	FUZZ_ASSERT(v.len == 0 || (v.data >= blk->data && v.data + v.len <= blk->data + blk->size));
	for (size_t i = 0; i < k.len; i++)
		sum ^= k.data[i];
	for (size_t i = 0; i < v.len; i++)
		sum ^= v.data[i];
	(void)sum;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	lsm_block blk;
	lsm_block_iter it;
	lsm_buf keys[4];
	unsigned long fwd = 0, back = 0;
	int rc;

	rc = lsm_block_init(&blk, data, size, "fuzz", 0);
	if (rc) {
		FUZZ_ASSERT(rc == -LSM_ECORRUPT);
		return 0;
	}
	for (int i = 0; i < 4; i++)
		lsm_buf_init(&keys[i]);
	lsm_block_iter_init(&it, &blk, "fuzz", 0);

	/* Forward: remember a few keys to seek to later. */
	for (lsm_block_iter_seek_first(&it); lsm_block_iter_valid(&it); lsm_block_iter_next(&it)) {
		check_entry(&blk, &it);
		if (fwd < 4) {
			lsm_slice k = lsm_block_iter_key(&it);
			lsm_buf_append(&keys[fwd], k.data, k.len);
		}
		fwd++;
		FUZZ_ASSERT(fwd <= size);
	}
	FUZZ_ASSERT(lsm_block_iter_status(&it) == 0 || lsm_block_iter_status(&it) == -LSM_ECORRUPT);

	/* Backward. */
	for (lsm_block_iter_seek_last(&it); lsm_block_iter_valid(&it); lsm_block_iter_prev(&it)) {
		check_entry(&blk, &it);
		back++;
		FUZZ_ASSERT(back <= size);
	}
	FUZZ_ASSERT(lsm_block_iter_status(&it) == 0 || lsm_block_iter_status(&it) == -LSM_ECORRUPT);

	/* Seeks: keys seen, and one made from the input's first bytes. */
	for (unsigned long i = 0; i < fwd && i < 4; i++) {
		if (keys[i].len < LSM_TRAILER)
			continue;
		lsm_block_iter_reset(&it, &blk, 0);
		lsm_block_iter_seek(&it, lsm_slice_of(keys[i].data, keys[i].len));
		if (lsm_block_iter_valid(&it)) {
			check_entry(&blk, &it);
			lsm_block_iter_next(&it);
			if (lsm_block_iter_valid(&it)) {
				check_entry(&blk, &it);
				lsm_block_iter_prev(&it);
			}
		}
	}
	if (size >= LSM_TRAILER) {
		lsm_block_iter_reset(&it, &blk, 0);
		lsm_block_iter_seek(&it, lsm_slice_of(data, size < 24 ? size : 24));
		if (lsm_block_iter_valid(&it))
			check_entry(&blk, &it);
	}

	/* The generic iterator over the same block. */
	lsm_it *g = lsm_block_iter_new(&blk, "fuzz", 0);
	if (g) {
		unsigned long n = 0;
		for (lsm_it_seek_first(g); lsm_it_valid(g) && n <= size; lsm_it_next(g))
			n++;
		lsm_it_destroy(g);
	}

	lsm_block_iter_free(&it);
	for (int i = 0; i < 4; i++)
		lsm_buf_free(&keys[i]);
	return 0;
}
