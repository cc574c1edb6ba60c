/* check_batch.c — write batches: encoding, sequence numbers, validation of reps read from disk. */
#include "batch_internal.h"
#include "coding.h"
#include "testutil.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

typedef struct seen {
	int n;
	uint64_t seq[16];
	int type[16];
	char key[16][32];
	char val[16][32];
} seen;

static int collect(void *arg, uint64_t seq, int type, lsm_slice key, lsm_slice val)
{
	seen *s = arg;
	ck_assert_int_lt(s->n, 16);
	s->seq[s->n] = seq;
	s->type[s->n] = type;
	if (key.len) /* an empty slice may have a NULL pointer */
		memcpy(s->key[s->n], key.data, key.len);
	s->key[s->n][key.len] = 0;
	if (val.len)
		memcpy(s->val[s->n], val.data, val.len);
	s->val[s->n][val.len] = 0;
	s->n++;
	return 0;
}

START_TEST(test_batch_put_delete_iterate_in_order_with_sequences)
{
	lsm_batch *b = lsm_batch_new();
	ck_assert_ptr_nonnull(b);
	ck_assert_uint_eq(lsm_batch_count(b), 0);
	ck_assert_int_eq(lsm_batch_put(b, "k1", 2, "v1", 2), 0);
	ck_assert_int_eq(lsm_batch_delete(b, "k2", 2), 0);
	ck_assert_int_eq(lsm_batch_put(b, "", 0, "", 0), 0); /* empty key and value are legal */
	ck_assert_uint_eq(lsm_batch_count(b), 3);
	ck_assert_uint_eq(b->user_bytes, 2 + 2 + 2);
	lsm_batch_set_seq(b, 100);
	ck_assert_uint_eq(lsm_batch_seq(b), 100);
	seen s = {0};
	ck_assert_int_eq(lsm_batch_iterate(lsm_batch_rep(b), collect, &s), 0);
	ck_assert_int_eq(s.n, 3);
	ck_assert_uint_eq(s.seq[0], 100);
	ck_assert_uint_eq(s.seq[2], 102);
	ck_assert_int_eq(s.type[0], LSM_TYPE_VALUE);
	ck_assert_int_eq(s.type[1], LSM_TYPE_DELETE);
	ck_assert_str_eq(s.key[0], "k1");
	ck_assert_str_eq(s.val[0], "v1");
	ck_assert_str_eq(s.key[1], "k2");
	ck_assert_str_eq(s.key[2], "");
	ck_assert_uint_eq(lsm_batch_bytes(b), lsm_batch_rep(b).len);
	lsm_batch_clear(b);
	ck_assert_uint_eq(lsm_batch_count(b), 0);
	ck_assert_uint_eq(lsm_batch_rep(b).len, LSM_BATCH_HEADER);
	lsm_batch_free(b);
}
END_TEST

START_TEST(test_batch_append_merges_entries_and_keeps_dst_seq)
{
	lsm_batch *a = lsm_batch_new(), *b = lsm_batch_new();
	lsm_batch_put(a, "a", 1, "1", 1);
	lsm_batch_put(b, "b", 1, "2", 1);
	lsm_batch_delete(b, "c", 1);
	lsm_batch_set_seq(a, 7);
	ck_assert_int_eq(lsm_batch_append(a, b), 0);
	ck_assert_uint_eq(lsm_batch_count(a), 3);
	ck_assert_uint_eq(lsm_batch_seq(a), 7);
	seen s = {0};
	ck_assert_int_eq(lsm_batch_iterate(lsm_batch_rep(a), collect, &s), 0);
	ck_assert_int_eq(s.n, 3);
	ck_assert_str_eq(s.key[1], "b");
	ck_assert_uint_eq(s.seq[2], 9);
	ck_assert_int_eq(lsm_batch_append(a, a), 0); /* self-append doubles it */
	ck_assert_uint_eq(lsm_batch_count(a), 6);
	lsm_batch_free(a);
	lsm_batch_free(b);
}
END_TEST

START_TEST(test_batch_rejects_oversized_keys)
{
	lsm_batch *b = lsm_batch_new();
	char *big = calloc(1, LSM_MAX_KEY + 1);
	ck_assert_int_eq(lsm_batch_put(b, big, LSM_MAX_KEY + 1, "v", 1), -EINVAL);
	ck_assert_int_eq(lsm_batch_delete(b, big, LSM_MAX_KEY + 1), -EINVAL);
	ck_assert_uint_eq(lsm_batch_count(b), 0);
	free(big);
	lsm_batch_free(b);
}
END_TEST

/* Every malformed rep must be refused before any entry is handed out. */
START_TEST(test_batch_malformed_reps_are_corruption_and_apply_nothing)
{
	lsm_batch *b = lsm_batch_new();
	lsm_batch_put(b, "key", 3, "value", 5);
	lsm_batch_delete(b, "gone", 4);
	lsm_slice good = lsm_batch_rep(b);
	uint8_t buf[256];
	ck_assert_uint_lt(good.len, sizeof(buf) - 8);
	seen s;

	/* every truncation */
	for (size_t cut = 0; cut < good.len; cut++) {
		memset(&s, 0, sizeof(s));
		ck_assert_int_eq(lsm_batch_iterate(lsm_slice_of(good.data, cut), collect, &s),
				 -LSM_ECORRUPT);
		ck_assert_int_eq(s.n, 0);
	}
	/* trailing garbage */
	memcpy(buf, good.data, good.len);
	buf[good.len] = 1;
	memset(&s, 0, sizeof(s));
	ck_assert_int_eq(lsm_batch_iterate(lsm_slice_of(buf, good.len + 1), collect, &s),
			 -LSM_ECORRUPT);
	ck_assert_int_eq(s.n, 0);
	/* count says more than there is, and less */
	memcpy(buf, good.data, good.len);
	lsm_put_le32(buf + 8, 3);
	ck_assert_int_eq(lsm_batch_iterate(lsm_slice_of(buf, good.len), collect, &s),
			 -LSM_ECORRUPT);
	lsm_put_le32(buf + 8, 1);
	ck_assert_int_eq(lsm_batch_iterate(lsm_slice_of(buf, good.len), collect, &s),
			 -LSM_ECORRUPT);
	/* unknown type */
	memcpy(buf, good.data, good.len);
	buf[LSM_BATCH_HEADER] = 7;
	memset(&s, 0, sizeof(s));
	ck_assert_int_eq(lsm_batch_iterate(lsm_slice_of(buf, good.len), collect, &s),
			 -LSM_ECORRUPT);
	ck_assert_int_eq(s.n, 0);
	/* set_rep validates too and leaves the batch unchanged */
	lsm_batch *c = lsm_batch_new();
	lsm_batch_put(c, "x", 1, "y", 1);
	ck_assert_int_eq(lsm_batch_set_rep(c, lsm_slice_of(buf, good.len)), -LSM_ECORRUPT);
	ck_assert_uint_eq(lsm_batch_count(c), 1);
	ck_assert_int_eq(lsm_batch_set_rep(c, good), 0);
	ck_assert_uint_eq(lsm_batch_count(c), 2);
	ck_assert_uint_eq(c->user_bytes, 3 + 5 + 4);
	lsm_batch_free(c);
	lsm_batch_free(b);
}
END_TEST

static int stop_at_second(void *arg, uint64_t seq, int type, lsm_slice key, lsm_slice val)
{
	int *n = arg;
	return ++*n == 2 ? 42 : 0;
}

START_TEST(test_batch_iterate_stops_when_callback_says_so)
{
	lsm_batch *b = lsm_batch_new();
	for (int i = 0; i < 5; i++)
		lsm_batch_put(b, "k", 1, "v", 1);
	int n = 0;
	ck_assert_int_eq(lsm_batch_iterate(lsm_batch_rep(b), stop_at_second, &n), 42);
	ck_assert_int_eq(n, 2);
	lsm_batch_free(b);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("batch");
	TCase *tc = tcase_create("batch");
	tcase_add_test(tc, test_batch_put_delete_iterate_in_order_with_sequences);
	tcase_add_test(tc, test_batch_append_merges_entries_and_keeps_dst_seq);
	tcase_add_test(tc, test_batch_rejects_oversized_keys);
	tcase_add_test(tc, test_batch_malformed_reps_are_corruption_and_apply_nothing);
	tcase_add_test(tc, test_batch_iterate_stops_when_callback_says_so);
	suite_add_tcase(s, tc);
	return tu_run_suite(s);
}
