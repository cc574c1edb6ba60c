/*
 * check_merge.c — the merging iterator against the sorted union of its
 * children, in both directions and across direction switches; error
 * propagation from a failing child; the empty iterator.
 */
#include "iter.h"
#include "lsm.h"
#include "memtable.h"
#include "testutil.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- test entries and a child iterator over a sorted array of them ---- */

typedef struct ent {
	uint8_t ikey[16]; /* user key (up to 8 bytes) + trailer */
	size_t len;
	uint8_t val[8]; /* le64 of the entry's sequence, to check value() follows key() */
} ent;

static lsm_slice ent_key(const ent *e)
{
	return lsm_slice_of(e->ikey, e->len);
}

static int ent_cmp(const void *a, const void *b)
{
	return lsm_ikey_compare(ent_key(*(const ent *const *)a), ent_key(*(const ent *const *)b));
}

typedef struct vec_it {
	lsm_it base;
	ent **e; /* sorted; owned */
	int n;
	int pos;	/* -1 or n: invalid */
	int fail_after; /* fail on this many-th positioning call; -1 never */
	int calls;
	int rc;
	int *destroyed; /* counts destroy calls */
} vec_it;

/* Counts a positioning call; past fail_after the iterator turns invalid with -EIO. */
static int vec_step(vec_it *v)
{
	if (v->rc)
		return 0;
	if (v->fail_after >= 0 && v->calls++ >= v->fail_after) {
		v->rc = -EIO;
		v->pos = -1;
		return 0;
	}
	return 1;
}

static int vec_valid(lsm_it *it)
{
	vec_it *v = (vec_it *)it;
	return v->pos >= 0 && v->pos < v->n;
}

static void vec_seek_first(lsm_it *it)
{
	vec_it *v = (vec_it *)it;
	if (vec_step(v))
		v->pos = 0;
}

static void vec_seek_last(lsm_it *it)
{
	vec_it *v = (vec_it *)it;
	if (vec_step(v))
		v->pos = v->n - 1;
}

static void vec_seek(lsm_it *it, lsm_slice t)
{
	vec_it *v = (vec_it *)it;
	if (!vec_step(v))
		return;
	int lo = 0, hi = v->n;
	while (lo < hi) {
		int mid = lo + (hi - lo) / 2;
		if (lsm_ikey_compare(ent_key(v->e[mid]), t) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	v->pos = lo;
}

static void vec_next(lsm_it *it)
{
	vec_it *v = (vec_it *)it;
	ck_assert(vec_valid(it));
	if (vec_step(v))
		v->pos++;
}

static void vec_prev(lsm_it *it)
{
	vec_it *v = (vec_it *)it;
	ck_assert(vec_valid(it));
	if (vec_step(v))
		v->pos--;
}

static lsm_slice vec_key(lsm_it *it)
{
	vec_it *v = (vec_it *)it;
	ck_assert(vec_valid(it));
	return ent_key(v->e[v->pos]);
}

static lsm_slice vec_value(lsm_it *it)
{
	vec_it *v = (vec_it *)it;
	ck_assert(vec_valid(it));
	return lsm_slice_of(v->e[v->pos]->val, 8);
}

static int vec_status(lsm_it *it)
{
	return ((vec_it *)it)->rc;
}

static void vec_destroy(lsm_it *it)
{
	vec_it *v = (vec_it *)it;
	if (v->destroyed)
		(*v->destroyed)++;
	free(v->e);
	free(v);
}

static const lsm_it_ops vec_ops = {
	.valid = vec_valid,
	.seek_first = vec_seek_first,
	.seek_last = vec_seek_last,
	.seek = vec_seek,
	.next = vec_next,
	.prev = vec_prev,
	.key = vec_key,
	.value = vec_value,
	.status = vec_status,
	.destroy = vec_destroy,
};

/* A child over copies of the pointers e[0..n) (sorted here). */
static lsm_it *vec_new(ent **e, int n, int *destroyed)
{
	vec_it *v = calloc(1, sizeof(*v));
	v->base.ops = &vec_ops;
	v->e = malloc(((size_t)n + 1) * sizeof(*v->e));
	if (n)
		memcpy(v->e, e, (size_t)n * sizeof(*e));
	qsort(v->e, (size_t)n, sizeof(*v->e), ent_cmp);
	v->n = n;
	v->pos = -1;
	v->fail_after = -1;
	v->destroyed = destroyed;
	return &v->base;
}

/*
 * A random set of m distinct internal keys from a small user-key space (so
 * user keys repeat with different sequences), sorted into *sorted.
 */
static ent *make_entries(tu_rng *r, int m, ent ***sorted)
{
	ent *es = calloc((size_t)m + 1, sizeof(*es));
	*sorted = malloc(((size_t)m + 1) * sizeof(**sorted));
	for (int i = 0; i < m; i++) {
		ent *e = &es[i];
		size_t kl = tu_below(r, 4);
		for (size_t k = 0; k < kl; k++)
			e->ikey[k] = (uint8_t)('a' + tu_below(r, 3));
		uint64_t seq = (uint64_t)i + 1; /* distinct, so no two keys are equal */
		lsm_put_le64(e->ikey + kl, lsm_pack_trailer(seq, (int)tu_below(r, 2)));
		e->len = kl + LSM_TRAILER;
		lsm_put_le64(e->val, seq);
		(*sorted)[i] = e;
	}
	qsort(*sorted, (size_t)m, sizeof(**sorted), ent_cmp);
	return es;
}

/* Deals the entries to n children at random; some children stay empty. */
static lsm_it *make_merge(tu_rng *r, ent *es, int m, int n, int *destroyed)
{
	ent ***parts = calloc((size_t)n + 1, sizeof(*parts));
	int *cnt = calloc((size_t)n + 1, sizeof(*cnt));
	int *empty = calloc((size_t)n + 1, sizeof(*empty));
	for (int c = 0; c < n; c++) {
		parts[c] = malloc(((size_t)m + 1) * sizeof(**parts));
		empty[c] = n > 1 && tu_below(r, 4) == 0;
	}
	empty[0] = 0; /* someone must take the entries */
	for (int i = 0; i < m; i++) {
		int c;
		do
			c = (int)tu_below(r, (uint64_t)n);
		while (empty[c]);
		parts[c][cnt[c]++] = &es[i];
	}
	lsm_it **kids = calloc((size_t)n + 1, sizeof(*kids));
	for (int c = 0; c < n; c++)
		kids[c] = vec_new(parts[c], cnt[c], destroyed);
	lsm_it *it = lsm_it_merging(kids, n);
	ck_assert_ptr_nonnull(it);
	for (int c = 0; c < n; c++)
		free(parts[c]);
	free(parts);
	free(cnt);
	free(empty);
	free(kids);
	return it;
}

static void assert_at(lsm_it *it, ent **sorted, int i)
{
	ck_assert(lsm_it_valid(it));
	lsm_slice k = lsm_it_key(it);
	ck_assert_int_eq(lsm_ikey_compare(k, ent_key(sorted[i])), 0);
	lsm_slice v = lsm_it_value(it);
	ck_assert_uint_eq(v.len, 8);
	ck_assert_uint_eq(lsm_get_le64(v.data), lsm_ikey_seq(k));
}

static int pick_n(tu_rng *r, int round)
{
	/* the edge cases first, then a spread across the linear and heap ranges */
	if (round < 3)
		return round;
	return (int)tu_below(r, 21);
}

START_TEST(test_merge_scans_equal_sorted_union_both_ways)
{
	tu_rng r;
	tu_rng_init(&r, tu_seed());
	for (int round = 0; round < 300; round++) {
		int n = pick_n(&r, round);
		int m = n ? (int)tu_below(&r, 400) : 0;
		ent **sorted;
		ent *es = make_entries(&r, m, &sorted);
		int destroyed = 0;
		lsm_it *it = make_merge(&r, es, m, n, &destroyed);

		int i = 0;
		for (lsm_it_seek_first(it); lsm_it_valid(it); lsm_it_next(it))
			assert_at(it, sorted, i++);
		ck_assert_int_eq(i, m);
		i = m;
		for (lsm_it_seek_last(it); lsm_it_valid(it); lsm_it_prev(it))
			assert_at(it, sorted, --i);
		ck_assert_int_eq(i, 0);
		ck_assert_int_eq(lsm_it_status(it), 0);

		lsm_it_destroy(it);
		ck_assert_int_eq(destroyed, n);
		free(sorted);
		free(es);
	}
}
END_TEST

/* Index of the first sorted entry >= t. */
static int lower_bound(ent **sorted, int m, lsm_slice t)
{
	int lo = 0, hi = m;
	while (lo < hi) {
		int mid = lo + (hi - lo) / 2;
		if (lsm_ikey_compare(ent_key(sorted[mid]), t) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

START_TEST(test_merge_random_walk_switches_direction_correctly)
{
	tu_rng r;
	tu_rng_init(&r, tu_seed() + 1);
	for (int round = 0; round < 200; round++) {
		int n = pick_n(&r, round);
		int m = n ? (int)tu_below(&r, 300) : 0;
		ent **sorted;
		ent *es = make_entries(&r, m, &sorted);
		lsm_it *it = make_merge(&r, es, m, n, NULL);

		for (int s = 0; s < 20; s++) {
			int i;
			uint64_t how = tu_below(&r, 4);
			if (how == 0) {
				lsm_it_seek_first(it);
				i = 0;
			} else if (how == 1) {
				lsm_it_seek_last(it);
				i = m - 1;
			} else {
				/* a target that may or may not exist */
				uint8_t t[16];
				size_t kl = tu_below(&r, 4);
				for (size_t k = 0; k < kl; k++)
					t[k] = (uint8_t)('a' + tu_below(&r, 3));
				lsm_put_le64(t + kl, lsm_pack_trailer(tu_below(&r, (uint64_t)m + 2),
								      (int)tu_below(&r, 2)));
				lsm_slice ts = lsm_slice_of(t, kl + LSM_TRAILER);
				lsm_it_seek(it, ts);
				i = lower_bound(sorted, m, ts);
			}
			for (int step = 0; step < 40; step++) {
				if (i < 0 || i >= m) {
					ck_assert(!lsm_it_valid(it));
					break;
				}
				assert_at(it, sorted, i);
				/* runs of one direction, with frequent switches */
				if (tu_below(&r, 2)) {
					lsm_it_next(it);
					i++;
				} else {
					lsm_it_prev(it);
					i--;
				}
			}
		}
		ck_assert_int_eq(lsm_it_status(it), 0);
		lsm_it_destroy(it);
		free(sorted);
		free(es);
	}
}
END_TEST

START_TEST(test_merge_failing_child_makes_merge_invalid_with_its_error)
{
	tu_rng r;
	tu_rng_init(&r, tu_seed() + 2);
	for (int round = 0; round < 100; round++) {
		int n = 1 + (int)tu_below(&r, 12);
		int m = 50 + (int)tu_below(&r, 200);
		ent **sorted;
		ent *es = make_entries(&r, m, &sorted);
		/* every child gets entries, so the failing one is always visited */
		lsm_it **kids = calloc((size_t)n, sizeof(*kids));
		int per = m / n;
		for (int c = 0; c < n; c++)
			kids[c] = vec_new(sorted + c * per, c == n - 1 ? m - c * per : per, NULL);
		int bad = (int)tu_below(&r, (uint64_t)n);
		/* fails while it still has keys to give */
		int fail_after = (int)tu_below(&r, (uint64_t)per);
		((vec_it *)kids[bad])->fail_after = fail_after;
		lsm_it *it = lsm_it_merging(kids, n);
		ck_assert_ptr_nonnull(it);

		int reverse = (int)tu_below(&r, 2);
		int steps = 0;
		if (reverse)
			for (lsm_it_seek_last(it); lsm_it_valid(it); lsm_it_prev(it))
				steps++;
		else
			for (lsm_it_seek_first(it); lsm_it_valid(it); lsm_it_next(it))
				steps++;
		/* the scan stopped early instead of skipping the failed child's keys */
		ck_assert_int_lt(steps, m);
		ck_assert_int_eq(lsm_it_status(it), -EIO);
		lsm_it_destroy(it);
		free(kids);
		free(sorted);
		free(es);
	}
}
END_TEST

START_TEST(test_merge_status_reports_error_of_child_failing_at_seek)
{
	ent **sorted;
	tu_rng r;
	tu_rng_init(&r, tu_seed() + 3);
	ent *es = make_entries(&r, 30, &sorted);
	lsm_it *kids[3];
	kids[0] = vec_new(sorted, 10, NULL);
	kids[1] = lsm_it_empty(-LSM_ECORRUPT);
	kids[2] = vec_new(sorted + 10, 20, NULL);
	lsm_it *it = lsm_it_merging(kids, 3);
	lsm_it_seek_first(it);
	ck_assert(!lsm_it_valid(it));
	ck_assert_int_eq(lsm_it_status(it), -LSM_ECORRUPT);
	lsm_it_destroy(it);
	free(sorted);
	free(es);
}
END_TEST

START_TEST(test_empty_iterator_is_never_valid_and_reports_its_status)
{
	lsm_it *e = lsm_it_empty(0);
	lsm_it_seek_first(e);
	ck_assert(!lsm_it_valid(e));
	lsm_it_seek_last(e);
	ck_assert(!lsm_it_valid(e));
	lsm_it_seek(e, lsm_slice_of("12345678", 8));
	ck_assert(!lsm_it_valid(e));
	ck_assert_int_eq(lsm_it_status(e), 0);
	lsm_it_destroy(e);
	e = lsm_it_empty(-EIO);
	lsm_it_seek_first(e);
	ck_assert(!lsm_it_valid(e));
	ck_assert_int_eq(lsm_it_status(e), -EIO);
	lsm_it_destroy(e);
}
END_TEST

START_TEST(test_merge_of_memtables_yields_every_version_in_order)
{
	tu_rng r;
	tu_rng_init(&r, tu_seed() + 4);
	enum { NM = 4, PER = 2000 };
	lsm_it *kids[NM];
	uint64_t seq = 1;
	for (int c = 0; c < NM; c++) {
		lsm_memtable *mt = lsm_memtable_new();
		for (int i = 0; i < PER; i++, seq++) {
			char k[16];
			int kl = snprintf(k, sizeof(k), "%03d", (int)tu_below(&r, 500));
			ck_assert_int_eq(lsm_memtable_add(mt, seq, LSM_TYPE_VALUE,
							  lsm_slice_of(k, (size_t)kl),
							  lsm_slice_of(k, (size_t)kl)),
					 0);
		}
		kids[c] = lsm_memtable_iter(mt);
		lsm_memtable_unref(mt);
	}
	lsm_it *it = lsm_it_merging(kids, NM);
	int n = 0;
	uint8_t prev[16 + LSM_TRAILER];
	size_t prev_len = 0;
	for (lsm_it_seek_first(it); lsm_it_valid(it); lsm_it_next(it), n++) {
		lsm_slice k = lsm_it_key(it);
		if (prev_len)
			ck_assert_int_lt(lsm_ikey_compare(lsm_slice_of(prev, prev_len), k), 0);
		memcpy(prev, k.data, k.len);
		prev_len = k.len;
		lsm_slice v = lsm_it_value(it);
		ck_assert(v.len == k.len - LSM_TRAILER && memcmp(v.data, k.data, v.len) == 0);
	}
	ck_assert_int_eq(n, NM * PER);
	lsm_it_destroy(it);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("merge");
	TCase *tc = tcase_create("merge");
	tcase_add_test(tc, test_merge_scans_equal_sorted_union_both_ways);
	tcase_add_test(tc, test_merge_random_walk_switches_direction_correctly);
	tcase_add_test(tc, test_merge_failing_child_makes_merge_invalid_with_its_error);
	tcase_add_test(tc, test_merge_status_reports_error_of_child_failing_at_seek);
	tcase_add_test(tc, test_empty_iterator_is_never_valid_and_reports_its_status);
	tcase_add_test(tc, test_merge_of_memtables_yields_every_version_in_order);
	suite_add_tcase(s, tc);
	return tu_run_suite(s);
}
