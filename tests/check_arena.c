/* check_arena.c — the memtable's bump allocator. */
#include "arena.h"
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

START_TEST(test_arena_allocations_are_aligned_and_disjoint)
{
	lsm_arena a;
	lsm_arena_init(&a);
	tu_rng r;
	tu_rng_init(&r, tu_seed());
	enum { N = 20000 };
	uint8_t **ptrs = calloc(N, sizeof(*ptrs));
	size_t *lens = calloc(N, sizeof(*lens));
	size_t total = 0;
	for (int i = 0; i < N; i++) {
		/* mostly small, sometimes a block-sized or larger request */
		lens[i] = tu_below(&r, 10) == 0 ? tu_below(&r, 100000) + 1 : tu_below(&r, 200) + 1;
		ptrs[i] = lsm_arena_alloc(&a, lens[i]);
		ck_assert_ptr_nonnull(ptrs[i]);
		ck_assert_uint_eq((uintptr_t)ptrs[i] % 8, 0);
		memset(ptrs[i], i & 0xff, lens[i]);
		total += lens[i];
	}
	for (int i = 0; i < N; i++)
		for (size_t k = 0; k < lens[i]; k += 97)
			ck_assert_uint_eq(ptrs[i][k], (uint8_t)(i & 0xff));
	ck_assert_uint_ge(lsm_arena_usage(&a), total);
	/* waste stays bounded: large requests get their own blocks */
	ck_assert_uint_lt(lsm_arena_usage(&a), total * 2 + 65536);
	lsm_arena_destroy(&a);
	ck_assert_uint_eq(lsm_arena_usage(&a), 0);
	free(ptrs);
	free(lens);
}
END_TEST

START_TEST(test_arena_large_request_keeps_current_block_tail)
{
	lsm_arena a;
	lsm_arena_init(&a);
	char *small1 = lsm_arena_alloc(&a, 16);
	size_t after_first = lsm_arena_usage(&a);
	char *big = lsm_arena_alloc(&a, 70000);
	char *small2 = lsm_arena_alloc(&a, 16);
	ck_assert_ptr_nonnull(big);
	/* small2 comes from the same block as small1, right after it */
	ck_assert_ptr_eq(small2, small1 + 16);
	ck_assert_uint_ge(lsm_arena_usage(&a), after_first + 70000);
	lsm_arena_destroy(&a);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("arena");
	TCase *tc = tcase_create("arena");
	tcase_add_test(tc, test_arena_allocations_are_aligned_and_disjoint);
	tcase_add_test(tc, test_arena_large_request_keeps_current_block_tail);
	suite_add_tcase(s, tc);
	return tu_run_suite(s);
}
