/*
 * check_seekcompact.c — reads that keep searching a table in vain get it
 * compacted: point reads (a table read without finding the key, the search
 * going on to the next) and iterators (sampled keys held by two tables).
 */
#include "lsm.h"
#include "testutil.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NKEYS 2000

static void put_range(lsm_db *db, int step, char fill)
{
	char val[100];
	memset(val, fill, sizeof(val));
	for (int i = 0; i < NKEYS; i += step) {
		char key[16];
		snprintf(key, sizeof(key), "k%06d", i);
		ck_assert_int_eq(lsm_put(db, NULL, key, strlen(key), val, sizeof(val)), 0);
	}
	ck_assert_int_eq(lsm_flush(db), 0);
}

/* Two tables on two levels: every key in the lower one, the even keys again above it. */
static lsm_db *two_levels(char *dir, int bloom_bits)
{
	lsm_options o;
	lsm_options_init(&o);
	o.bloom_bits_per_key = bloom_bits;
	lsm_db *db;
	ck_assert_int_eq(lsm_open(&db, dir, &o), 0);
	put_range(db, 1, 'a');
	put_range(db, 2, 'b');
	lsm_stats st;
	lsm_stats_get(db, &st);
	int levels = 0;
	for (int l = 0; l < LSM_MAX_LEVELS; l++)
		levels += st.level_files[l] > 0;
	ck_assert_int_eq(levels, 2);
	return db;
}

/* How many levels hold tables now. */
static int levels_now(lsm_db *db)
{
	lsm_stats st;
	lsm_stats_get(db, &st);
	int levels = 0;
	for (int l = 0; l < LSM_MAX_LEVELS; l++)
		levels += st.level_files[l] > 0;
	return levels;
}

/* Waits (up to 10 s) until the tables are on one level; returns how many levels hold tables. */
static int wait_one_level(lsm_db *db)
{
	for (int t = 0; t < 100 && levels_now(db) != 1; t++)
		usleep(100 * 1000);
	return levels_now(db);
}

START_TEST(test_point_reads_that_miss_a_table_get_it_compacted)
{
	char *dir = tu_mkdtemp("seek");
	lsm_db *db = two_levels(dir, 0); /* no bloom filter: every miss reads the table */
	for (int r = 0; r < 20 && levels_now(db) != 1; r++) {
		for (int i = 1; i < NKEYS; i += 2) { /* odd keys: only in the lower table */
			char key[16];
			void *v;
			size_t vl;
			snprintf(key, sizeof(key), "k%06d", i);
			ck_assert_int_eq(lsm_get(db, NULL, key, strlen(key), &v, &vl), 0);
			ck_assert_uint_eq(vl, 100);
			ck_assert_int_eq(((char *)v)[0], 'a');
			free(v);
		}
	}
	ck_assert_int_eq(wait_one_level(db), 1);
	ck_assert_int_eq(lsm_close(db), 0);
	tu_rmtree(dir);
}
END_TEST

START_TEST(test_point_reads_a_bloom_filter_answers_cost_nothing)
{
	char *dir = tu_mkdtemp("seek");
	lsm_db *db = two_levels(dir, 10);
	/* Keys absent from the upper table: its filter rules almost all of them out. */
	for (int r = 0; r < 3; r++)
		for (int i = 1; i < NKEYS; i += 2) {
			char key[16];
			void *v;
			size_t vl;
			snprintf(key, sizeof(key), "k%06d", i);
			ck_assert_int_eq(lsm_get(db, NULL, key, strlen(key), &v, &vl), 0);
			free(v);
		}
	usleep(300 * 1000);
	lsm_stats st;
	lsm_stats_get(db, &st);
	ck_assert_uint_eq(st.compactions, 0);
	ck_assert_int_eq(lsm_close(db), 0);
	tu_rmtree(dir);
}
END_TEST

START_TEST(test_scans_over_two_tables_get_them_compacted)
{
	char *dir = tu_mkdtemp("seek");
	lsm_db *db = two_levels(dir, 10);
	for (int pass = 0; pass < 3000 && levels_now(db) != 1; pass += 50) {
		for (int p = 0; p < 50; p++) {
			lsm_iter *it = lsm_iter_new(db, NULL);
			int n = 0;
			for (lsm_iter_seek_first(it); lsm_iter_valid(it); lsm_iter_next(it))
				n++;
			ck_assert_int_eq(lsm_iter_status(it), 0);
			ck_assert_int_eq(n, NKEYS);
			lsm_iter_free(it);
		}
	}
	ck_assert_int_eq(wait_one_level(db), 1);
	ck_assert_int_eq(lsm_close(db), 0);
	tu_rmtree(dir);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("seekcompact");
	TCase *tc = tcase_create("reads");
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, test_point_reads_that_miss_a_table_get_it_compacted);
	tcase_add_test(tc, test_point_reads_a_bloom_filter_answers_cost_nothing);
	tcase_add_test(tc, test_scans_over_two_tables_get_them_compacted);
	suite_add_tcase(s, tc);
	return tu_run_suite(s);
}
