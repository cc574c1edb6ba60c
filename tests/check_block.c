/* check_block.c — the block builder, the restart-array check and the block iterator. */
#include "block.h"
#include "error.h"
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One entry of the sorted reference a block is checked against. */
struct ent {
	uint8_t *key; /* internal key */
	size_t klen;
	uint8_t *val;
	size_t vlen;
};

static int ent_cmp(const void *a, const void *b)
{
	const struct ent *x = a, *y = b;
	return lsm_ikey_compare(lsm_slice_of(x->key, x->klen), lsm_slice_of(y->key, y->klen));
}

static lsm_slice ent_key(const struct ent *e)
{
	return lsm_slice_of(e->key, e->klen);
}

/*
 * n sorted, distinct internal keys drawn from a few common prefixes (so
 * delta encoding has shared bytes to find), some user keys with several
 * versions, values of 0..vmax bytes.
 */
static struct ent *make_entries(tu_rng *r, size_t n, size_t vmax, size_t *count)
{
	static const char *prefixes[] = {"", "a", "abc", "abcdefgh", "user/000123/", "zz"};
	struct ent *e = calloc(n, sizeof(*e));
	ck_assert_ptr_nonnull(e);
	for (size_t i = 0; i < n; i++) {
		const char *pre = prefixes[tu_below(r, 6)];
		size_t plen = strlen(pre), slen = tu_below(r, 12);
		if (i > 0 && tu_below(r, 4) == 0) {
			/* another version of the previous user key */
			plen = e[i - 1].klen - LSM_TRAILER;
			slen = 0;
			pre = (const char *)e[i - 1].key;
		}
		e[i].klen = plen + slen + LSM_TRAILER;
		e[i].key = malloc(e[i].klen);
		memcpy(e[i].key, pre, plen);
		for (size_t j = 0; j < slen; j++)
			e[i].key[plen + j] = (uint8_t)('a' + tu_below(r, 4));
		lsm_put_le64(e[i].key + plen + slen,
			     lsm_pack_trailer(1 + tu_below(r, 1000000), (int)tu_below(r, 2)));
		e[i].vlen = tu_below(r, vmax + 1);
		e[i].val = malloc(e[i].vlen + 1);
		tu_fill(r, e[i].val, e[i].vlen);
	}
	qsort(e, n, sizeof(*e), ent_cmp);
	/* drop duplicates so keys are strictly increasing */
	size_t m = 0;
	for (size_t i = 0; i < n; i++) {
		if (m && ent_cmp(&e[m - 1], &e[i]) == 0) {
			free(e[i].key);
			free(e[i].val);
			continue;
		}
		e[m++] = e[i];
	}
	*count = m;
	return e;
}

static void free_entries(struct ent *e, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(e[i].key);
		free(e[i].val);
	}
	free(e);
}

static void build(lsm_block_builder *b, const struct ent *e, size_t n, lsm_slice *out)
{
	lsm_block_builder_reset(b);
	for (size_t i = 0; i < n; i++)
		ck_assert_int_eq(
			lsm_block_builder_add(b, ent_key(&e[i]), lsm_slice_of(e[i].val, e[i].vlen)),
			0);
	size_t est = lsm_block_builder_estimate(b);
	ck_assert_int_eq(lsm_block_builder_finish(b, out), 0);
	ck_assert_uint_eq(out->len, est);
}

static void assert_at(lsm_block_iter *it, const struct ent *e)
{
	ck_assert_msg(lsm_block_iter_valid(it), "iterator not valid, status %d",
		      lsm_block_iter_status(it));
	lsm_slice k = lsm_block_iter_key(it), v = lsm_block_iter_value(it);
	ck_assert_uint_eq(k.len, e->klen);
	ck_assert(memcmp(k.data, e->key, k.len) == 0);
	ck_assert_uint_eq(v.len, e->vlen);
	ck_assert(v.len == 0 || memcmp(v.data, e->val, v.len) == 0);
}

/* First reference index with key >= target. */
static size_t lower_bound(const struct ent *e, size_t n, lsm_slice target)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (lsm_ikey_compare(ent_key(&e[mid]), target) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static void check_block_against(const lsm_block *blk, const struct ent *e, size_t n, tu_rng *r)
{
	lsm_block_iter it;
	lsm_block_iter_init(&it, blk, "test-block", 0);
	size_t i = 0;
	for (lsm_block_iter_seek_first(&it); lsm_block_iter_valid(&it); lsm_block_iter_next(&it))
		assert_at(&it, &e[i++]);
	ck_assert_int_eq(lsm_block_iter_status(&it), 0);
	ck_assert_uint_eq(i, n);
	for (lsm_block_iter_seek_last(&it); lsm_block_iter_valid(&it); lsm_block_iter_prev(&it))
		assert_at(&it, &e[--i]);
	ck_assert_int_eq(lsm_block_iter_status(&it), 0);
	ck_assert_uint_eq(i, 0);

	/* Exact seeks, then seeks to keys between entries, then mixed directions. */
	for (size_t j = 0; j < n; j++) {
		lsm_block_iter_seek(&it, ent_key(&e[j]));
		assert_at(&it, &e[j]);
	}
	uint8_t tk[512]; /* the long-key test has keys of up to 399 bytes */
	for (int round = 0; round < 2000; round++) {
		size_t ulen = tu_below(r, 20);
		for (size_t j = 0; j < ulen; j++)
			tk[j] = (uint8_t)(round % 3 ? 'a' + tu_below(r, 5) : tu_rand(r));
		if (round % 2 && n) {
			/* a user key from the block with a random sequence */
			const struct ent *x = &e[tu_below(r, n)];
			ulen = x->klen - LSM_TRAILER;
			memcpy(tk, x->key, ulen);
		}
		lsm_put_le64(tk + ulen, lsm_pack_trailer(tu_below(r, 1000002), LSM_TYPE_FOR_SEEK));
		lsm_slice t = lsm_slice_of(tk, ulen + LSM_TRAILER);
		size_t want = lower_bound(e, n, t);
		lsm_block_iter_seek(&it, t);
		if (want == n) {
			ck_assert(!lsm_block_iter_valid(&it));
			continue;
		}
		assert_at(&it, &e[want]);
		if (tu_below(r, 2)) {
			lsm_block_iter_prev(&it);
			if (want == 0)
				ck_assert(!lsm_block_iter_valid(&it));
			else
				assert_at(&it, &e[want - 1]);
		} else {
			lsm_block_iter_next(&it);
			if (want + 1 == n)
				ck_assert(!lsm_block_iter_valid(&it));
			else
				assert_at(&it, &e[want + 1]);
		}
	}
	/* Random walks: steps back reuse what an earlier step back decoded, steps forward do not.
	 */
	for (int walk = 0; walk < 50 && n; walk++) {
		size_t at = tu_below(r, n);
		lsm_block_iter_seek(&it, ent_key(&e[at]));
		for (int step = 0; step < 40; step++) {
			assert_at(&it, &e[at]);
			if (tu_below(r, 3)) {
				lsm_block_iter_prev(&it);
				if (at-- == 0)
					break;
			} else {
				lsm_block_iter_next(&it);
				if (++at == n)
					break;
			}
		}
		ck_assert(at < n || !lsm_block_iter_valid(&it));
		if (at >= n)
			ck_assert_int_eq(lsm_block_iter_status(&it), 0);
	}
	ck_assert_int_eq(lsm_block_iter_status(&it), 0);
	lsm_block_iter_free(&it);
}

START_TEST(test_block_round_trip_with_shared_prefixes_at_any_restart_interval)
{
	static const int intervals[] = {1, 2, 16, 1000};
	tu_rng r;
	tu_rng_init(&r, tu_seed() + (uint64_t)_i);
	size_t n;
	struct ent *e = make_entries(&r, 1500, 40, &n);
	lsm_block_builder b;
	lsm_block_builder_init(&b, intervals[_i]);
	lsm_slice raw;
	build(&b, e, n, &raw);
	lsm_block blk;
	ck_assert_int_eq(lsm_block_init(&blk, raw.data, raw.len, "test-block", 0), 0);
	ck_assert_uint_eq(blk.nrestarts, (n + (size_t)intervals[_i] - 1) / (size_t)intervals[_i]);
	check_block_against(&blk, e, n, &r);
	lsm_block_builder_free(&b);
	free_entries(e, n);
}
END_TEST

/*
 * Keys up to 400 bytes and values up to 1,000: entry headers whose varints
 * take two bytes (past the one-byte fast path), and reassembled keys longer
 * than the iterator's inline buffer. _i: restart interval 1 or 16.
 */
START_TEST(test_block_long_keys_and_values_take_the_multibyte_paths)
{
	tu_rng r;
	tu_rng_init(&r, tu_seed() + 7 + (uint64_t)_i);
	size_t n = 400;
	struct ent *e = calloc(n, sizeof(*e));
	ck_assert_ptr_nonnull(e);
	uint8_t common[400];
	memset(common, 'p', sizeof(common));
	for (size_t i = 0; i < n; i++) {
		/* a long shared prefix of varying length, then a distinct tail */
		size_t plen = tu_below(&r, 4) ? tu_below(&r, 380) : tu_below(&r, 40);
		e[i].klen = plen + 12 + LSM_TRAILER;
		e[i].key = malloc(e[i].klen);
		memcpy(e[i].key, common, plen);
		snprintf((char *)e[i].key + plen, 13, "%012zu", i);
		lsm_put_le64(e[i].key + plen + 12, lsm_pack_trailer(1 + i, LSM_TYPE_VALUE));
		e[i].vlen = tu_below(&r, 3) ? tu_below(&r, 1001) : tu_below(&r, 100);
		e[i].val = malloc(e[i].vlen + 1);
		tu_fill(&r, e[i].val, e[i].vlen);
	}
	qsort(e, n, sizeof(*e), ent_cmp);
	lsm_block_builder b;
	lsm_block_builder_init(&b, _i ? 16 : 1);
	lsm_slice raw;
	build(&b, e, n, &raw);
	lsm_block blk;
	ck_assert_int_eq(lsm_block_init(&blk, raw.data, raw.len, "long", 0), 0);
	check_block_against(&blk, e, n, &r);
	lsm_block_builder_free(&b);
	free_entries(e, n);
}
END_TEST

/*
 * A restart region whose keys add up to more than prev keeps (40 keys of
 * 60 KB sharing all but their last bytes): stepping back rescans instead,
 * with the same results.
 */
START_TEST(test_block_huge_restart_region_is_stepped_back_by_rescanning)
{
	size_t n = 40, klen = 60000;
	struct ent *e = calloc(n, sizeof(*e));
	ck_assert_ptr_nonnull(e);
	for (size_t i = 0; i < n; i++) {
		e[i].klen = klen + LSM_TRAILER;
		e[i].key = malloc(e[i].klen);
		memset(e[i].key, 'k', klen);
		snprintf((char *)e[i].key + klen - 4, 5, "%04zu", i);
		lsm_put_le64(e[i].key + klen, lsm_pack_trailer(7, LSM_TYPE_VALUE));
		e[i].vlen = i % 3;
		e[i].val = malloc(4);
		memcpy(e[i].val, "abc", 3);
	}
	lsm_block_builder b;
	lsm_block_builder_init(&b, 1000);
	lsm_slice raw;
	build(&b, e, n, &raw);
	lsm_block blk;
	ck_assert_int_eq(lsm_block_init(&blk, raw.data, raw.len, "huge", 0), 0);
	ck_assert_uint_eq(blk.nrestarts, 1);
	lsm_block_iter it;
	lsm_block_iter_init(&it, &blk, "huge", 0);
	size_t i = n;
	for (lsm_block_iter_seek_last(&it); lsm_block_iter_valid(&it); lsm_block_iter_prev(&it))
		assert_at(&it, &e[--i]);
	ck_assert_int_eq(lsm_block_iter_status(&it), 0);
	ck_assert_uint_eq(i, 0);
	lsm_block_iter_seek(&it, ent_key(&e[20]));
	lsm_block_iter_prev(&it);
	assert_at(&it, &e[19]);
	lsm_block_iter_next(&it);
	assert_at(&it, &e[20]);
	lsm_block_iter_free(&it);
	lsm_block_builder_free(&b);
	free_entries(e, n);
}
END_TEST

START_TEST(test_block_prefix_compression_saves_space)
{
	tu_rng r;
	tu_rng_init(&r, tu_seed());
	size_t n, full = 0;
	struct ent *e = make_entries(&r, 1000, 0, &n);
	for (size_t i = 0; i < n; i++)
		full += e[i].klen;
	lsm_block_builder b;
	lsm_block_builder_init(&b, 16);
	lsm_slice raw;
	build(&b, e, n, &raw);
	/* Keys share long prefixes: the block must be well below the sum of full keys. */
	ck_assert_uint_lt(raw.len, full);
	lsm_block_builder_free(&b);
	free_entries(e, n);
}
END_TEST

START_TEST(test_block_empty_has_no_entries)
{
	lsm_block_builder b;
	lsm_block_builder_init(&b, 16);
	ck_assert(lsm_block_builder_empty(&b));
	lsm_slice raw;
	ck_assert_int_eq(lsm_block_builder_finish(&b, &raw), 0);
	ck_assert_uint_eq(raw.len, 4);
	lsm_block blk;
	ck_assert_int_eq(lsm_block_init(&blk, raw.data, raw.len, "x", 0), 0);
	lsm_block_iter it;
	lsm_block_iter_init(&it, &blk, "x", 0);
	lsm_block_iter_seek_first(&it);
	ck_assert(!lsm_block_iter_valid(&it));
	lsm_block_iter_seek_last(&it);
	ck_assert(!lsm_block_iter_valid(&it));
	uint8_t k[9];
	lsm_ikey_make(k, "a", 1, 5, 1);
	lsm_block_iter_seek(&it, lsm_slice_of(k, 9));
	ck_assert(!lsm_block_iter_valid(&it));
	ck_assert_int_eq(lsm_block_iter_status(&it), 0);
	lsm_block_iter_free(&it);
	lsm_block_builder_free(&b);
}
END_TEST

START_TEST(test_block_single_entry_seeks_and_steps)
{
	lsm_block_builder b;
	lsm_block_builder_init(&b, 16);
	uint8_t k[9], lo[9], hi[9];
	lsm_ikey_make(k, "m", 1, 7, LSM_TYPE_VALUE);
	lsm_ikey_make(lo, "a", 1, 7, LSM_TYPE_VALUE);
	lsm_ikey_make(hi, "z", 1, 7, LSM_TYPE_VALUE);
	ck_assert_int_eq(lsm_block_builder_add(&b, lsm_slice_of(k, 9), lsm_slice_of("val", 3)), 0);
	lsm_slice raw;
	ck_assert_int_eq(lsm_block_builder_finish(&b, &raw), 0);
	lsm_block blk;
	ck_assert_int_eq(lsm_block_init(&blk, raw.data, raw.len, "x", 0), 0);
	ck_assert_uint_eq(blk.nrestarts, 1);
	struct ent want = {k, 9, (uint8_t *)"val", 3};
	lsm_block_iter it;
	lsm_block_iter_init(&it, &blk, "x", 0);
	lsm_block_iter_seek_first(&it);
	assert_at(&it, &want);
	lsm_block_iter_next(&it);
	ck_assert(!lsm_block_iter_valid(&it));
	lsm_block_iter_seek_last(&it);
	assert_at(&it, &want);
	lsm_block_iter_prev(&it);
	ck_assert(!lsm_block_iter_valid(&it));
	lsm_block_iter_seek(&it, lsm_slice_of(lo, 9));
	assert_at(&it, &want);
	lsm_block_iter_seek(&it, lsm_slice_of(hi, 9));
	ck_assert(!lsm_block_iter_valid(&it));
	ck_assert_int_eq(lsm_block_iter_status(&it), 0);
	lsm_block_iter_free(&it);
	lsm_block_builder_free(&b);
}
END_TEST

/* A valid block of a few restart regions, copied into buf. */
static size_t small_block(uint8_t *buf, size_t cap)
{
	lsm_block_builder b;
	lsm_block_builder_init(&b, 2);
	for (int i = 0; i < 7; i++) {
		uint8_t k[12];
		char u[5];
		snprintf(u, sizeof(u), "k%03d", i);
		lsm_ikey_make(k, u, 4, 100, LSM_TYPE_VALUE);
		ck_assert_int_eq(lsm_block_builder_add(&b, lsm_slice_of(k, 12), lsm_slice_of(u, 4)),
				 0);
	}
	lsm_slice raw;
	ck_assert_int_eq(lsm_block_builder_finish(&b, &raw), 0);
	ck_assert_uint_le(raw.len, cap);
	memcpy(buf, raw.data, raw.len);
	size_t n = raw.len;
	lsm_block_builder_free(&b);
	return n;
}

START_TEST(test_block_corrupt_restart_array_is_rejected)
{
	uint8_t buf[512], bad[512];
	size_t n = small_block(buf, sizeof(buf));
	lsm_block blk;
	ck_assert_int_eq(lsm_block_init(&blk, buf, n, "f", 0), 0);
	uint32_t nr = lsm_get_le32(buf + n - 4);
	ck_assert_uint_eq(nr, 4);
	size_t roff = n - 4 - 4 * nr;

	/* shorter than the count itself */
	ck_assert_int_eq(lsm_block_init(&blk, buf, 3, "f", 0), -LSM_ECORRUPT);
	ck_assert_ptr_nonnull(strstr(lsm_errmsg(), "f"));
	/* a count that does not fit */
	memcpy(bad, buf, n);
	lsm_put_le32(bad + n - 4, 1000);
	ck_assert_int_eq(lsm_block_init(&blk, bad, n, "f", 0), -LSM_ECORRUPT);
	/* first restart not at 0 */
	memcpy(bad, buf, n);
	lsm_put_le32(bad + roff, 1);
	ck_assert_int_eq(lsm_block_init(&blk, bad, n, "f", 0), -LSM_ECORRUPT);
	/* restarts out of order */
	memcpy(bad, buf, n);
	lsm_put_le32(bad + roff + 8, lsm_get_le32(bad + roff + 4));
	ck_assert_int_eq(lsm_block_init(&blk, bad, n, "f", 0), -LSM_ECORRUPT);
	/* a restart past the entries */
	memcpy(bad, buf, n);
	lsm_put_le32(bad + roff + 12, (uint32_t)roff);
	ck_assert_int_eq(lsm_block_init(&blk, bad, n, "f", 0), -LSM_ECORRUPT);
	/* no restart point but entry bytes */
	memcpy(bad, buf, n);
	lsm_put_le32(bad + n - 4, 0);
	ck_assert_int_eq(lsm_block_init(&blk, bad, n, "f", 77), -LSM_ECORRUPT);
	ck_assert_ptr_nonnull(strstr(lsm_errmsg(), "offset 77"));
}
END_TEST

/* Walks every way through a block; with ASan this proves no read leaves it. */
static void exercise(const uint8_t *data, size_t n)
{
	lsm_block blk;
	if (lsm_block_init(&blk, data, n, "fuzz", 0))
		return;
	lsm_block_iter it;
	lsm_block_iter_init(&it, &blk, "fuzz", 0);
	int steps = 0;
	for (lsm_block_iter_seek_first(&it); lsm_block_iter_valid(&it) && steps < 100; steps++)
		lsm_block_iter_next(&it);
	lsm_block_iter_reset(&it, &blk, 0);
	for (lsm_block_iter_seek_last(&it); lsm_block_iter_valid(&it) && steps < 200; steps++)
		lsm_block_iter_prev(&it);
	const char *targets[] = {"k000", "k003", "k0035", "k006", "zzzz", ""};
	for (int i = 0; i < 6; i++) {
		uint8_t k[16];
		size_t l = strlen(targets[i]);
		lsm_ikey_make(k, targets[i], l, 100, LSM_TYPE_FOR_SEEK);
		lsm_block_iter_reset(&it, &blk, 0);
		lsm_block_iter_seek(&it, lsm_slice_of(k, l + 8));
		if (lsm_block_iter_valid(&it)) {
			lsm_slice key = lsm_block_iter_key(&it);
			ck_assert_uint_ge(key.len, LSM_TRAILER);
			lsm_block_iter_prev(&it);
		}
	}
	lsm_block_iter_free(&it);
}

START_TEST(test_block_damaged_bytes_never_read_out_of_bounds)
{
	tu_rng r;
	tu_rng_init(&r, tu_seed());
	uint8_t buf[512];
	size_t n = small_block(buf, sizeof(buf));
	/* Each damaged copy lives in its own exact-size allocation so ASan sees any overrun. */
	for (size_t off = 0; off < n; off++) {
		for (int v = 0; v < 8; v++) {
			uint8_t *bad = malloc(n);
			memcpy(bad, buf, n);
			bad[off] = v < 4 ? (uint8_t)(buf[off] ^ (1u << tu_below(&r, 8)))
					 : (uint8_t)tu_rand(&r);
			if (v == 7)
				bad[off] = 0xff;
			exercise(bad, n);
			free(bad);
		}
	}
	/* and every truncation */
	for (size_t len = 0; len < n; len++) {
		uint8_t *bad = malloc(len ? len : 1);
		memcpy(bad, buf, len);
		exercise(bad, len);
		free(bad);
	}
}
END_TEST

START_TEST(test_block_damaged_entry_gives_corruption_status)
{
	uint8_t buf[512];
	size_t n = small_block(buf, sizeof(buf));
	/* Entry 1 (not a restart): make its shared prefix longer than entry 0's key. */
	lsm_block blk;
	ck_assert_int_eq(lsm_block_init(&blk, buf, n, "f", 4096), 0);
	lsm_block_iter it;
	lsm_block_iter_init(&it, &blk, "f", 4096);
	lsm_block_iter_seek_first(&it);
	ck_assert(lsm_block_iter_valid(&it));
	uint32_t second = it.next;
	buf[second] = 100; /* shared = 100 > 12 */
	lsm_block_iter_next(&it);
	ck_assert(!lsm_block_iter_valid(&it));
	ck_assert_int_eq(lsm_block_iter_status(&it), -LSM_ECORRUPT);
	ck_assert_ptr_nonnull(strstr(lsm_errmsg(), "f at offset 4096"));
	lsm_block_iter_free(&it);
}
END_TEST

START_TEST(test_block_generic_iterator_wraps_block_iter)
{
	tu_rng r;
	tu_rng_init(&r, tu_seed() + 99);
	size_t n;
	struct ent *e = make_entries(&r, 300, 10, &n);
	lsm_block_builder b;
	lsm_block_builder_init(&b, 16);
	lsm_slice raw;
	build(&b, e, n, &raw);
	lsm_block blk;
	ck_assert_int_eq(lsm_block_init(&blk, raw.data, raw.len, "g", 0), 0);
	lsm_it *it = lsm_block_iter_new(&blk, "g", 0);
	ck_assert_ptr_nonnull(it);
	size_t i = 0;
	for (lsm_it_seek_first(it); lsm_it_valid(it); lsm_it_next(it), i++) {
		lsm_slice k = lsm_it_key(it);
		ck_assert_int_eq(lsm_ikey_compare(k, ent_key(&e[i])), 0);
	}
	ck_assert_uint_eq(i, n);
	ck_assert_int_eq(lsm_it_status(it), 0);
	lsm_it_destroy(it);
	lsm_block_builder_free(&b);
	free_entries(e, n);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("block");
	TCase *tc = tcase_create("block");
	tcase_add_loop_test(tc, test_block_round_trip_with_shared_prefixes_at_any_restart_interval,
			    0, 4);
	tcase_add_loop_test(tc, test_block_long_keys_and_values_take_the_multibyte_paths, 0, 2);
	tcase_add_test(tc, test_block_huge_restart_region_is_stepped_back_by_rescanning);
	tcase_add_test(tc, test_block_prefix_compression_saves_space);
	tcase_add_test(tc, test_block_empty_has_no_entries);
	tcase_add_test(tc, test_block_single_entry_seeks_and_steps);
	tcase_add_test(tc, test_block_corrupt_restart_array_is_rejected);
	tcase_add_test(tc, test_block_damaged_bytes_never_read_out_of_bounds);
	tcase_add_test(tc, test_block_damaged_entry_gives_corruption_status);
	tcase_add_test(tc, test_block_generic_iterator_wraps_block_iter);
	suite_add_tcase(s, tc);
	return tu_run_suite(s);
}
