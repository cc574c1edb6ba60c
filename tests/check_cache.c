/* check_cache.c — the sharded LRU cache: references, eviction order, deleters, threads. */
#include "cache.h"
#include "checksum.h"
#include "testutil.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/*
 * Values in the single-threaded tests are slots of deleted[]: the deleter
 * bumps the slot, so a test sees exactly which values were deleted and how
 * often. Reset by every test (Check may run them in one process).
 */
enum { NVALS = 64 };
static int deleted[NVALS];
static int deleter_calls;

static void count_deleter(const void *key, size_t klen, void *value)
{
	(void)key;
	(void)klen;
	(*(int *)value)++;
	deleter_calls++;
}

static void reset_counts(void)
{
	memset(deleted, 0, sizeof(deleted));
	deleter_calls = 0;
}

static void insert_release(lsm_cache *c, const char *key, int slot, size_t charge)
{
	lsm_cache_handle *h =
		lsm_cache_insert(c, key, strlen(key), &deleted[slot], charge, count_deleter);
	ck_assert_ptr_nonnull(h);
	lsm_cache_release(c, h);
}

static int present(lsm_cache *c, const char *key)
{
	lsm_cache_handle *h = lsm_cache_lookup(c, key, strlen(key));
	if (h)
		lsm_cache_release(c, h);
	return h != NULL;
}

/*
 * Fills keys[0..n) with distinct keys of one shard. This mirrors cache.c's
 * rule for caches of capacity >= 16 (16 shards, top 4 bits of lsm_hash64);
 * if the rule changes the eviction tests fail rather than pass by luck,
 * since keys spread over shards would see no eviction at all.
 */
static void same_shard_keys(char keys[][16], int n)
{
	int found = 0;
	uint64_t shard = 0;
	for (int i = 0; found < n; i++) {
		char k[16];
		snprintf(k, sizeof(k), "key-%d", i);
		uint64_t s = lsm_hash64(k, strlen(k)) >> 60;
		if (found == 0)
			shard = s;
		if (s == shard)
			memcpy(keys[found++], k, sizeof(k));
	}
}

START_TEST(test_cache_lookup_finds_inserted_value_until_erased)
{
	reset_counts();
	lsm_cache *c = lsm_cache_new(1000);
	ck_assert_ptr_nonnull(c);
	lsm_cache_handle *h = lsm_cache_insert(c, "alpha", 5, &deleted[0], 7, count_deleter);
	ck_assert_ptr_nonnull(h);
	ck_assert_ptr_eq(lsm_cache_value(h), &deleted[0]);
	lsm_cache_release(c, h);
	ck_assert_uint_eq(lsm_cache_usage(c), 7);

	h = lsm_cache_lookup(c, "alpha", 5);
	ck_assert_ptr_nonnull(h);
	ck_assert_ptr_eq(lsm_cache_value(h), &deleted[0]);
	lsm_cache_release(c, h);
	/* a prefix or an extension of the key is another key */
	ck_assert_ptr_null(lsm_cache_lookup(c, "alph", 4));
	ck_assert_ptr_null(lsm_cache_lookup(c, "alphab", 6));
	/* the empty key is a key like any other */
	insert_release(c, "", 1, 1);
	ck_assert(present(c, ""));
	ck_assert_int_eq(deleter_calls, 0);

	lsm_cache_erase(c, "alpha", 5);
	ck_assert_ptr_null(lsm_cache_lookup(c, "alpha", 5));
	ck_assert_int_eq(deleted[0], 1);
	ck_assert_uint_eq(lsm_cache_usage(c), 1);
	lsm_cache_free(c);
	ck_assert_int_eq(deleted[1], 1);
	ck_assert_int_eq(deleter_calls, 2);
}
END_TEST

START_TEST(test_cache_many_keys_survive_table_growth)
{
	reset_counts();
	enum { N = 5000 };
	lsm_cache *c = lsm_cache_new(N * 2);
	int *vals = calloc(N, sizeof(*vals));
	char k[16];
	for (int i = 0; i < N; i++) {
		snprintf(k, sizeof(k), "k%d", i);
		lsm_cache_handle *h = lsm_cache_insert(c, k, strlen(k), &vals[i], 1, NULL);
		ck_assert_ptr_nonnull(h);
		lsm_cache_release(c, h);
	}
	ck_assert_uint_eq(lsm_cache_usage(c), N);
	for (int i = 0; i < N; i++) {
		snprintf(k, sizeof(k), "k%d", i);
		lsm_cache_handle *h = lsm_cache_lookup(c, k, strlen(k));
		ck_assert_ptr_nonnull(h);
		ck_assert_ptr_eq(lsm_cache_value(h), &vals[i]);
		lsm_cache_release(c, h);
	}
	lsm_cache_free(c);
	free(vals);
}
END_TEST

START_TEST(test_cache_evicts_least_recently_released_first)
{
	reset_counts();
	/* 16 shards of capacity 4; all keys in one shard, charge 1 each */
	lsm_cache *c = lsm_cache_new(64);
	char keys[8][16];
	same_shard_keys(keys, 8);
	for (int i = 0; i < 4; i++)
		insert_release(c, keys[i], i, 1);
	ck_assert_int_eq(deleter_calls, 0);

	/* touching key 0 makes key 1 the coldest */
	ck_assert(present(c, keys[0]));
	insert_release(c, keys[4], 4, 1);
	ck_assert_int_eq(deleted[1], 1);
	ck_assert_int_eq(deleter_calls, 1);

	insert_release(c, keys[5], 5, 1);
	ck_assert_int_eq(deleted[2], 1);
	insert_release(c, keys[6], 6, 1);
	ck_assert_int_eq(deleted[3], 1);
	insert_release(c, keys[7], 7, 1);
	ck_assert_int_eq(deleted[0], 1);
	ck_assert_int_eq(deleter_calls, 4);

	ck_assert(!present(c, keys[0]) && !present(c, keys[1]));
	for (int i = 4; i < 8; i++)
		ck_assert(present(c, keys[i]));
	ck_assert_uint_eq(lsm_cache_usage(c), 4);
	lsm_cache_free(c);
	ck_assert_int_eq(deleter_calls, 8);
}
END_TEST

START_TEST(test_cache_entries_in_use_are_never_evicted)
{
	reset_counts();
	lsm_cache *c = lsm_cache_new(64);
	char keys[12][16];
	same_shard_keys(keys, 12);
	lsm_cache_handle *pinned =
		lsm_cache_insert(c, keys[0], strlen(keys[0]), &deleted[0], 1, count_deleter);
	/* churn the shard well past its capacity of 4 */
	for (int i = 1; i < 12; i++)
		insert_release(c, keys[i], i, 1);
	ck_assert_int_eq(deleted[0], 0);
	ck_assert_int_eq(deleter_calls, 11 - 3);
	ck_assert_ptr_eq(lsm_cache_value(pinned), &deleted[0]);
	/* still cached, not merely alive */
	ck_assert(present(c, keys[0]));
	lsm_cache_release(c, pinned);
	/* released last, it is now the hottest: the next insert evicts another */
	insert_release(c, keys[1], 1, 1);
	ck_assert_int_eq(deleted[0], 0);
	ck_assert(present(c, keys[0]));
	lsm_cache_free(c);
	ck_assert_int_eq(deleted[0], 1);
}
END_TEST

START_TEST(test_cache_oversized_entry_lives_while_held_then_goes)
{
	reset_counts();
	lsm_cache *c = lsm_cache_new(64);
	lsm_cache_handle *h = lsm_cache_insert(c, "big", 3, &deleted[0], 1000, count_deleter);
	ck_assert_ptr_nonnull(h);
	ck_assert_int_eq(deleted[0], 0);
	ck_assert_ptr_eq(lsm_cache_value(h), &deleted[0]);
	lsm_cache_release(c, h);
	ck_assert_int_eq(deleted[0], 1);
	ck_assert_uint_eq(lsm_cache_usage(c), 0);
	lsm_cache_free(c);
	ck_assert_int_eq(deleter_calls, 1);
}
END_TEST

START_TEST(test_cache_replace_keeps_old_handle_and_deletes_it_once_after_release)
{
	reset_counts();
	lsm_cache *c = lsm_cache_new(1000);
	lsm_cache_handle *h1 = lsm_cache_insert(c, "k", 1, &deleted[1], 10, count_deleter);
	lsm_cache_handle *h2 = lsm_cache_insert(c, "k", 1, &deleted[2], 20, count_deleter);
	ck_assert_ptr_nonnull(h1);
	ck_assert_ptr_nonnull(h2);
	/* only the new entry is charged and found */
	ck_assert_uint_eq(lsm_cache_usage(c), 20);
	lsm_cache_handle *h3 = lsm_cache_lookup(c, "k", 1);
	ck_assert_ptr_eq(lsm_cache_value(h3), &deleted[2]);
	lsm_cache_release(c, h3);

	ck_assert_ptr_eq(lsm_cache_value(h1), &deleted[1]);
	ck_assert_int_eq(deleted[1], 0);
	lsm_cache_release(c, h1);
	ck_assert_int_eq(deleted[1], 1);

	/* replacing an unreferenced entry deletes it at once */
	lsm_cache_release(c, h2);
	insert_release(c, "k", 3, 30);
	ck_assert_int_eq(deleted[2], 1);
	ck_assert_uint_eq(lsm_cache_usage(c), 30);
	lsm_cache_free(c);
	ck_assert_int_eq(deleted[1], 1);
	ck_assert_int_eq(deleted[2], 1);
	ck_assert_int_eq(deleted[3], 1);
	ck_assert_int_eq(deleter_calls, 3);
}
END_TEST

START_TEST(test_cache_erase_keeps_live_handle_and_deletes_it_once_after_release)
{
	reset_counts();
	lsm_cache *c = lsm_cache_new(1000);
	lsm_cache_handle *h = lsm_cache_insert(c, "k", 1, &deleted[0], 10, count_deleter);
	lsm_cache_handle *h2 = lsm_cache_lookup(c, "k", 1);
	lsm_cache_erase(c, "k", 1);
	ck_assert_ptr_null(lsm_cache_lookup(c, "k", 1));
	ck_assert_uint_eq(lsm_cache_usage(c), 0);
	/* a second erase, or an insert of the same key, leaves the old entry alone */
	lsm_cache_erase(c, "k", 1);
	insert_release(c, "k", 1, 5);
	ck_assert_int_eq(deleted[0], 0);
	ck_assert_ptr_eq(lsm_cache_value(h), &deleted[0]);
	lsm_cache_release(c, h);
	ck_assert_int_eq(deleted[0], 0);
	lsm_cache_release(c, h2);
	ck_assert_int_eq(deleted[0], 1);

	/* erasing an unreferenced entry deletes it at once; erasing nothing is harmless */
	lsm_cache_erase(c, "k", 1);
	ck_assert_int_eq(deleted[1], 1);
	lsm_cache_erase(c, "absent", 6);
	ck_assert_int_eq(deleter_calls, 2);
	lsm_cache_free(c);
	ck_assert_int_eq(deleter_calls, 2);
}
END_TEST

START_TEST(test_cache_capacity_zero_keeps_nothing_after_release)
{
	reset_counts();
	lsm_cache *c = lsm_cache_new(0);
	ck_assert_ptr_nonnull(c);
	lsm_cache_handle *h = lsm_cache_insert(c, "k", 1, &deleted[0], 1, count_deleter);
	ck_assert_ptr_nonnull(h);
	ck_assert_ptr_eq(lsm_cache_value(h), &deleted[0]);
	lsm_cache_release(c, h);
	ck_assert_int_eq(deleted[0], 1);
	ck_assert_ptr_null(lsm_cache_lookup(c, "k", 1));
	ck_assert_uint_eq(lsm_cache_usage(c), 0);
	lsm_cache_free(c);
	ck_assert_int_eq(deleter_calls, 1);
}
END_TEST

START_TEST(test_cache_small_capacity_still_caches)
{
	/* fewer than 16 units: no shard may be left with capacity zero */
	reset_counts();
	for (size_t cap = 1; cap < 16; cap++) {
		lsm_cache *c = lsm_cache_new(cap);
		char k[16];
		for (int i = 0; i < 40; i++) {
			snprintf(k, sizeof(k), "t%d", i);
			insert_release(c, k, 0, 1);
			ck_assert(present(c, k));
			ck_assert_uint_le(lsm_cache_usage(c), cap);
		}
		lsm_cache_free(c);
	}
	ck_assert_int_eq(deleted[0], 15 * 40);
}
END_TEST

START_TEST(test_cache_usage_never_exceeds_capacity_once_released)
{
	reset_counts();
	tu_rng r;
	tu_rng_init(&r, tu_seed());
	enum { CAP = 1000, HELD = 8 };
	lsm_cache *c = lsm_cache_new(CAP);
	lsm_cache_handle *held[HELD] = {NULL};
	int inserted = 0;
	char k[16];
	for (int step = 0; step < 20000; step++) {
		int slot = (int)tu_below(&r, HELD);
		if (held[slot]) {
			lsm_cache_release(c, held[slot]);
			held[slot] = NULL;
		}
		snprintf(k, sizeof(k), "%d", (int)tu_below(&r, 400));
		switch (tu_below(&r, 4)) {
		case 0:
		case 1:
			/* some charges exceed a shard's share (62 or 63) */
			held[slot] = lsm_cache_insert(c, k, strlen(k), &deleted[0],
						      tu_below(&r, 80) + 1, count_deleter);
			inserted++;
			break;
		case 2:
			held[slot] = lsm_cache_lookup(c, k, strlen(k));
			break;
		default:
			lsm_cache_erase(c, k, strlen(k));
			break;
		}
		if (step % 1000 == 999) {
			for (int i = 0; i < HELD; i++) {
				if (held[i])
					lsm_cache_release(c, held[i]);
				held[i] = NULL;
			}
			ck_assert_uint_le(lsm_cache_usage(c), CAP);
		}
	}
	for (int i = 0; i < HELD; i++)
		if (held[i])
			lsm_cache_release(c, held[i]);
	ck_assert_uint_le(lsm_cache_usage(c), CAP);
	/* a workload this size fills the cache: eviction trims, never empties */
	ck_assert_uint_gt(lsm_cache_usage(c), CAP / 4);
	lsm_cache_free(c);
	ck_assert_int_eq(deleted[0], inserted);
}
END_TEST

START_TEST(test_cache_new_id_never_repeats)
{
	lsm_cache *c = lsm_cache_new(10);
	uint64_t prev = lsm_cache_new_id(c);
	for (int i = 0; i < 1000; i++) {
		uint64_t id = lsm_cache_new_id(c);
		ck_assert_uint_gt(id, prev);
		prev = id;
	}
	lsm_cache_free(c);
}
END_TEST

/* ---- threads ---- */

#define VAL_MAGIC 0x63616368u

/* A value of the threaded test: freed by its deleter, so a stale handle is a use-after-free. */
struct tval {
	uint32_t magic;
	int key;
};

static int t_deleted; /* atomic */

static void tval_deleter(const void *key, size_t klen, void *value)
{
	struct tval *v = value;
	char k[16];
	snprintf(k, sizeof(k), "%d", v->key);
	/* the deleter gets the entry's own key */
	ck_assert_uint_eq(klen, strlen(k));
	ck_assert(memcmp(key, k, klen) == 0);
	ck_assert_uint_eq(v->magic, VAL_MAGIC);
	v->magic = 0;
	free(v);
	__atomic_add_fetch(&t_deleted, 1, __ATOMIC_RELAXED);
}

struct worker {
	lsm_cache *c;
	uint64_t seed;
	double seconds;
	int inserted;
	uint64_t ids[256];
};

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void check_handle(lsm_cache_handle *h, int key)
{
	struct tval *v = lsm_cache_value(h);
	ck_assert_uint_eq(v->magic, VAL_MAGIC);
	ck_assert_int_eq(v->key, key);
}

static void *worker_run(void *arg)
{
	struct worker *w = arg;
	enum { HELD = 8 };
	lsm_cache_handle *held[HELD] = {NULL};
	int held_key[HELD];
	tu_rng r;
	tu_rng_init(&r, w->seed);
	double end = now_s() + w->seconds;
	int nid = 0;
	char k[16];
	for (int step = 0;; step++) {
		if ((step & 255) == 0 && now_s() > end)
			break;
		if (nid < 256 && (step & 1023) == 0)
			w->ids[nid++] = lsm_cache_new_id(w->c);
		int slot = (int)tu_below(&r, HELD);
		if (held[slot]) {
			check_handle(held[slot], held_key[slot]);
			lsm_cache_release(w->c, held[slot]);
			held[slot] = NULL;
		}
		int key = (int)tu_below(&r, 256);
		snprintf(k, sizeof(k), "%d", key);
		uint64_t op = tu_below(&r, 10);
		if (op < 3) {
			struct tval *v = malloc(sizeof(*v));
			ck_assert_ptr_nonnull(v);
			v->magic = VAL_MAGIC;
			v->key = key;
			held[slot] = lsm_cache_insert(w->c, k, strlen(k), v, tu_below(&r, 8) + 1,
						      tval_deleter);
			ck_assert_ptr_nonnull(held[slot]);
			w->inserted++;
		} else if (op < 9) {
			held[slot] = lsm_cache_lookup(w->c, k, strlen(k));
		} else {
			lsm_cache_erase(w->c, k, strlen(k));
		}
		if (held[slot]) {
			held_key[slot] = key;
			check_handle(held[slot], key);
		}
	}
	for (int i = 0; i < HELD; i++) {
		if (held[i]) {
			check_handle(held[i], held_key[i]);
			lsm_cache_release(w->c, held[i]);
		}
	}
	return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return (x > y) - (x < y);
}

START_TEST(test_cache_concurrent_use_deletes_every_value_exactly_once)
{
	enum { NT = 4 };
	t_deleted = 0;
	uint64_t seed = tu_seed();
	/* small enough that the threads evict all the time */
	lsm_cache *c = lsm_cache_new(256);
	struct worker w[NT];
	pthread_t th[NT];
	for (int i = 0; i < NT; i++) {
		memset(&w[i], 0, sizeof(w[i]));
		w[i].c = c;
		w[i].seed = seed + (uint64_t)i * 0x9e3779b97f4a7c15ull;
		w[i].seconds = 1.0 * tu_scale();
		ck_assert_int_eq(pthread_create(&th[i], NULL, worker_run, &w[i]), 0);
	}
	int inserted = 0;
	for (int i = 0; i < NT; i++) {
		ck_assert_int_eq(pthread_join(th[i], NULL), 0);
		inserted += w[i].inserted;
	}
	ck_assert_int_gt(inserted, 0);
	ck_assert_uint_le(lsm_cache_usage(c), 256);
	/* entries still cached are deleted by free, none before or twice */
	ck_assert_int_le(t_deleted, inserted);
	lsm_cache_free(c);
	ck_assert_int_eq(t_deleted, inserted);

	/* ids handed out concurrently are all distinct */
	uint64_t ids[NT * 256];
	size_t n = 0;
	for (int i = 0; i < NT; i++)
		for (int j = 0; j < 256 && w[i].ids[j]; j++)
			ids[n++] = w[i].ids[j];
	ck_assert_uint_gt(n, 0);
	qsort(ids, n, sizeof(ids[0]), cmp_u64);
	for (size_t i = 1; i < n; i++)
		ck_assert_uint_ne(ids[i], ids[i - 1]);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("cache");
	TCase *tc = tcase_create("cache");
	tcase_add_test(tc, test_cache_lookup_finds_inserted_value_until_erased);
	tcase_add_test(tc, test_cache_many_keys_survive_table_growth);
	tcase_add_test(tc, test_cache_evicts_least_recently_released_first);
	tcase_add_test(tc, test_cache_entries_in_use_are_never_evicted);
	tcase_add_test(tc, test_cache_oversized_entry_lives_while_held_then_goes);
	tcase_add_test(tc, test_cache_replace_keeps_old_handle_and_deletes_it_once_after_release);
	tcase_add_test(tc, test_cache_erase_keeps_live_handle_and_deletes_it_once_after_release);
	tcase_add_test(tc, test_cache_capacity_zero_keeps_nothing_after_release);
	tcase_add_test(tc, test_cache_small_capacity_still_caches);
	tcase_add_test(tc, test_cache_usage_never_exceeds_capacity_once_released);
	tcase_add_test(tc, test_cache_new_id_never_repeats);
	tcase_add_test(tc, test_cache_concurrent_use_deletes_every_value_exactly_once);
	suite_add_tcase(s, tc);
	return tu_run_suite(s);
}
