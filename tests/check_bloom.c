/* check_bloom.c — the table's bloom filter: no false negatives, the promised false-positive rate.
 */
#include "bloom.h"
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Key i of a set: distinct sets use distinct tags so present and absent keys never collide. */
static size_t key_of(char *buf, char tag, uint64_t i)
{
	return (size_t)snprintf(buf, 32, "%c/%llu", tag, (unsigned long long)i);
}

static void build_filter(size_t n, int bits_per_key, lsm_buf *out)
{
	lsm_bloom_builder b;
	char k[32];
	lsm_bloom_builder_init(&b, bits_per_key);
	for (size_t i = 0; i < n; i++) {
		size_t l = key_of(k, 'p', i);
		ck_assert_int_eq(lsm_bloom_builder_add(&b, lsm_bloom_hash(lsm_slice_of(k, l))), 0);
	}
	ck_assert_uint_eq(lsm_bloom_builder_count(&b), n);
	lsm_buf_init(out);
	ck_assert_int_eq(lsm_bloom_builder_finish(&b, out), 0);
	lsm_bloom_builder_free(&b);
}

START_TEST(test_bloom_k_is_bits_per_key_times_ln2_clamped)
{
	ck_assert_int_eq(lsm_bloom_k(10), 7);
	ck_assert_int_eq(lsm_bloom_k(1), 1);
	ck_assert_int_eq(lsm_bloom_k(0), 1);
	ck_assert_int_eq(lsm_bloom_k(3), 2);
	ck_assert_int_eq(lsm_bloom_k(20), 14);
	ck_assert_int_eq(lsm_bloom_k(100), 30);
}
END_TEST

START_TEST(test_bloom_has_no_false_negatives)
{
	static const size_t sizes[] = {1, 10, 100, 1000, 25000};
	for (int s = 0; s < 5; s++) {
		lsm_buf f;
		char k[32];
		build_filter(sizes[s], 10, &f);
		ck_assert_uint_eq(f.data[f.len - 1], 7);
		for (size_t i = 0; i < sizes[s]; i++) {
			size_t l = key_of(k, 'p', i);
			ck_assert(lsm_bloom_may_match(f.data, f.len, lsm_slice_of(k, l)));
		}
		lsm_buf_free(&f);
	}
}
END_TEST

/* Measured rate over 100k absent keys, for n keys at bits_per_key. */
static double measured_fp(size_t n, int bits_per_key, double *theory)
{
	lsm_buf f;
	char k[32];
	build_filter(n, bits_per_key, &f);
	double m = (double)(f.len - 1) * 8, kk = lsm_bloom_k(bits_per_key);
	*theory = pow(1 - exp(-kk * (double)n / m), kk);
	size_t hits = 0, probes = 100000;
	for (size_t i = 0; i < probes; i++) {
		size_t l = key_of(k, 'a', i);
		hits += (size_t)lsm_bloom_may_match(f.data, f.len, lsm_slice_of(k, l));
	}
	lsm_buf_free(&f);
	return (double)hits / (double)probes;
}

START_TEST(test_bloom_false_positive_rate_within_2x_of_theory_at_10_bits)
{
	double theory, fp = measured_fp(10000, 10, &theory);
	printf("bloom 10 bits/key: measured %.4f%%, theory %.4f%%\n", fp * 100, theory * 100);
	ck_assert(theory > 0.0075 && theory < 0.0090); /* ~0.82% */
	ck_assert_msg(fp <= 2 * theory && fp >= theory / 2, "fp %.5f vs theory %.5f", fp, theory);
}
END_TEST

START_TEST(test_bloom_more_bits_per_key_means_fewer_false_positives)
{
	double t5, t20;
	double fp5 = measured_fp(5000, 5, &t5), fp20 = measured_fp(5000, 20, &t20);
	printf("bloom 5 bits/key: %.4f%% (theory %.4f%%); 20: %.5f%% (theory %.5f%%)\n", fp5 * 100,
	       t5 * 100, fp20 * 100, t20 * 100);
	ck_assert(fp5 <= 2 * t5 && fp5 >= t5 / 2);
	ck_assert(fp20 <= 2 * t20 + 0.0001);
	ck_assert(fp20 < fp5);
}
END_TEST

START_TEST(test_bloom_repeated_hash_counts_once)
{
	lsm_bloom_builder b;
	lsm_bloom_builder_init(&b, 10);
	for (int i = 0; i < 5; i++)
		ck_assert_int_eq(lsm_bloom_builder_add(&b, 42), 0);
	ck_assert_int_eq(lsm_bloom_builder_add(&b, 43), 0);
	ck_assert_uint_eq(lsm_bloom_builder_count(&b), 2);
	lsm_bloom_builder_free(&b);
}
END_TEST

START_TEST(test_bloom_empty_filter_matches_nothing_malformed_matches_all)
{
	lsm_buf f;
	char k[32];
	build_filter(0, 10, &f);
	ck_assert_uint_eq(f.len, 64 / 8 + 1);
	int hits = 0;
	for (int i = 0; i < 1000; i++) {
		size_t l = key_of(k, 'a', (uint64_t)i);
		hits += lsm_bloom_may_match(f.data, f.len, lsm_slice_of(k, l));
	}
	ck_assert_int_eq(hits, 0);
	/* Unknown k (a future encoding) or no bits: must not give false negatives. */
	f.data[f.len - 1] = 0;
	ck_assert(lsm_bloom_may_match(f.data, f.len, lsm_slice_of("x", 1)));
	f.data[f.len - 1] = 31;
	ck_assert(lsm_bloom_may_match(f.data, f.len, lsm_slice_of("x", 1)));
	ck_assert(lsm_bloom_may_match(f.data, 1, lsm_slice_of("x", 1)));
	ck_assert(lsm_bloom_may_match(f.data, 0, lsm_slice_of("x", 1)));
	lsm_buf_free(&f);
}
END_TEST

START_TEST(test_bloom_filter_size_follows_bits_per_key)
{
	lsm_buf f;
	build_filter(1000, 10, &f);
	ck_assert_uint_eq(f.len, 1000 * 10 / 8 + 1);
	lsm_buf_free(&f);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("bloom");
	TCase *tc = tcase_create("bloom");
	tcase_add_test(tc, test_bloom_k_is_bits_per_key_times_ln2_clamped);
	tcase_add_test(tc, test_bloom_has_no_false_negatives);
	tcase_add_test(tc, test_bloom_false_positive_rate_within_2x_of_theory_at_10_bits);
	tcase_add_test(tc, test_bloom_more_bits_per_key_means_fewer_false_positives);
	tcase_add_test(tc, test_bloom_repeated_hash_counts_once);
	tcase_add_test(tc, test_bloom_empty_filter_matches_nothing_malformed_matches_all);
	tcase_add_test(tc, test_bloom_filter_size_follows_bits_per_key);
	suite_add_tcase(s, tc);
	return tu_run_suite(s);
}
