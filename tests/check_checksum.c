/* check_checksum.c — the block/record checksum and the 64-bit hash. */
#include "checksum.h"
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

START_TEST(test_checksum_is_stable_across_builds)
{
	/* Pinned values: a change here silently invalidates every data dir. */
	ck_assert_uint_eq(lsm_checksum("", 0), lsm_checksum("", 0));
	uint32_t a = lsm_checksum("hello", 5);
	ck_assert_uint_eq(a, lsm_checksum2("he", 2, "llo", 3));
	ck_assert_uint_ne(a, lsm_checksum("hellp", 5));
	ck_assert_uint_eq(lsm_checksum("lsmfs", 5), 0xaf9d56fcu);
}
END_TEST

START_TEST(test_checksum_detects_every_single_bit_flip)
{
	tu_rng r;
	tu_rng_init(&r, tu_seed());
	uint8_t buf[4096];
	tu_fill(&r, buf, sizeof(buf));
	uint32_t good = lsm_checksum(buf, sizeof(buf));
	for (size_t bit = 0; bit < sizeof(buf) * 8; bit++) {
		buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		ck_assert_uint_ne(lsm_checksum(buf, sizeof(buf)), good);
		buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
	}
	ck_assert_uint_eq(lsm_checksum(buf, sizeof(buf)), good);
}
END_TEST

START_TEST(test_checksum2_equals_checksum_of_concatenation)
{
	tu_rng r;
	tu_rng_init(&r, tu_seed() + 1);
	uint8_t buf[1000];
	tu_fill(&r, buf, sizeof(buf));
	for (size_t cut = 0; cut <= sizeof(buf); cut += 37)
		ck_assert_uint_eq(lsm_checksum2(buf, cut, buf + cut, sizeof(buf) - cut),
				  lsm_checksum(buf, sizeof(buf)));
}
END_TEST

START_TEST(test_hash64_spreads_sequential_keys)
{
	/* Bloom filters and cache shards need the low bits well mixed. */
	int buckets[16] = {0};
	for (uint32_t i = 0; i < 16000; i++)
		buckets[lsm_hash64(&i, sizeof(i)) & 15]++;
	for (int i = 0; i < 16; i++) {
		ck_assert_int_gt(buckets[i], 800);
		ck_assert_int_lt(buckets[i], 1200);
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("checksum");
	TCase *tc = tcase_create("checksum");
	tcase_add_test(tc, test_checksum_is_stable_across_builds);
	tcase_add_test(tc, test_checksum_detects_every_single_bit_flip);
	tcase_add_test(tc, test_checksum2_equals_checksum_of_concatenation);
	tcase_add_test(tc, test_hash64_spreads_sequential_keys);
	suite_add_tcase(s, tc);
	return tu_run_suite(s);
}
