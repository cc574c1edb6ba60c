/*
 * check_db.c — the database through its public API: writes and reads,
 * recovery from the WAL, the LOCK, flushes, iterators, snapshots,
 * compaction, background errors, group commit, stats, verify and destroy.
 */
#include "env.h"
#include "lsm.h"
#include "testutil.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static char *dir;

static void setup(void)
{
	dir = tu_mkdtemp("db");
}

static void teardown(void)
{
	tu_rmtree(dir);
	dir = NULL;
}

/* Small sizes so a few thousand keys exercise flushes and compactions. */
static void small_options(lsm_options *o)
{
	lsm_options_init(o);
	o->memtable_bytes = 32 * 1024;
	o->block_bytes = 1024;
	o->target_file_bytes = 16 * 1024;
	o->level_base_bytes = 64 * 1024;
	o->level_multiplier = 4;
	o->block_cache_bytes = 64 * 1024;
}

static lsm_db *open_db(const lsm_options *o)
{
	lsm_db *db = NULL;
	int rc = lsm_open(&db, dir, o);
	ck_assert_msg(rc == 0, "lsm_open: %s: %s", lsm_strerror(rc), lsm_errmsg());
	return db;
}

static void put_str(lsm_db *db, const char *k, const char *v)
{
	int rc = lsm_put(db, NULL, k, strlen(k), v, strlen(v));
	ck_assert_msg(rc == 0, "put %s: %s", k, lsm_errmsg());
}

static void del_str(lsm_db *db, const char *k)
{
	int rc = lsm_delete(db, NULL, k, strlen(k));
	ck_assert_msg(rc == 0, "delete %s: %s", k, lsm_errmsg());
}

/* Asserts key k holds v (NULL: absent), as seen by ropts. */
static void check_get(lsm_db *db, const lsm_read_options *ro, const char *k, const char *v)
{
	void *val = NULL;
	size_t vlen = 0;
	int rc = lsm_get(db, ro, k, strlen(k), &val, &vlen);
	if (!v) {
		ck_assert_msg(rc == LSM_NOTFOUND, "get %s: expected absent, got rc %d (%.*s)", k,
			      rc, (int)vlen, val ? (char *)val : "");
	} else {
		ck_assert_msg(rc == 0, "get %s: rc %d %s", k, rc, lsm_errmsg());
		ck_assert_msg(vlen == strlen(v) && !memcmp(val, v, vlen),
			      "get %s: expected %s, got %.*s", k, v, (int)vlen, (char *)val);
		ck_assert_int_eq(((char *)val)[vlen], 0);
	}
	free(val);
}

static void key_of(char *buf, size_t n, int i)
{
	snprintf(buf, n, "key%06d", i);
}

static void val_of(char *buf, size_t n, int i, int gen)
{
	snprintf(buf, n, "value-%d-%d-%0*d", i, gen, 40, i);
}

static void fill(lsm_db *db, int n, int gen)
{
	char k[32], v[96];
	for (int i = 0; i < n; i++) {
		key_of(k, sizeof(k), i);
		val_of(v, sizeof(v), i, gen);
		put_str(db, k, v);
	}
}

static void check_fill(lsm_db *db, const lsm_read_options *ro, int n, int gen)
{
	char k[32], v[96];
	for (int i = 0; i < n; i++) {
		key_of(k, sizeof(k), i);
		val_of(v, sizeof(v), i, gen);
		check_get(db, ro, k, v);
	}
}

/* ---- basic operations ---- */

START_TEST(test_put_get_delete_overwrite)
{
	lsm_db *db = open_db(NULL);
	check_get(db, NULL, "a", NULL);
	put_str(db, "a", "1");
	put_str(db, "b", "2");
	check_get(db, NULL, "a", "1");
	check_get(db, NULL, "b", "2");
	put_str(db, "a", "one");
	check_get(db, NULL, "a", "one");
	del_str(db, "a");
	check_get(db, NULL, "a", NULL);
	del_str(db, "never-there");
	check_get(db, NULL, "never-there", NULL);
	/* Empty key and empty value are ordinary. */
	ck_assert_int_eq(lsm_put(db, NULL, "", 0, "", 0), 0);
	void *val;
	size_t vlen;
	ck_assert_int_eq(lsm_get(db, NULL, "", 0, &val, &vlen), 0);
	ck_assert_uint_eq(vlen, 0);
	free(val);
	ck_assert_int_eq(lsm_close(db), 0);
}
END_TEST

START_TEST(test_batch_applies_all_entries_in_order)
{
	lsm_db *db = open_db(NULL);
	lsm_batch *b = lsm_batch_new();
	ck_assert_ptr_nonnull(b);
	ck_assert_int_eq(lsm_batch_put(b, "x", 1, "1", 1), 0);
	ck_assert_int_eq(lsm_batch_put(b, "y", 1, "2", 1), 0);
	ck_assert_int_eq(lsm_batch_delete(b, "x", 1), 0);
	ck_assert_int_eq(lsm_batch_put(b, "y", 1, "3", 1), 0);
	lsm_write_options wo = {.sync = 1};
	ck_assert_int_eq(lsm_write(db, &wo, b), 0);
	check_get(db, NULL, "x", NULL);
	check_get(db, NULL, "y", "3");
	/* An empty batch is a no-op. */
	lsm_batch_clear(b);
	ck_assert_int_eq(lsm_write(db, NULL, b), 0);
	lsm_batch_free(b);
	ck_assert_int_eq(lsm_close(db), 0);
}
END_TEST

START_TEST(test_reopen_replays_unflushed_writes_from_wal)
{
	lsm_db *db = open_db(NULL);
	fill(db, 500, 1);
	del_str(db, "key000007");
	ck_assert_int_eq(lsm_close(db), 0);

	db = open_db(NULL);
	char k[32], v[96];
	for (int i = 0; i < 500; i++) {
		key_of(k, sizeof(k), i);
		val_of(v, sizeof(v), i, 1);
		check_get(db, NULL, k, i == 7 ? NULL : v);
	}
	/* New writes after recovery get higher sequence numbers than replayed ones. */
	put_str(db, "key000007", "back");
	ck_assert_int_eq(lsm_close(db), 0);
	db = open_db(NULL);
	check_get(db, NULL, "key000007", "back");
	check_get(db, NULL, "key000008", "value-8-1-0000000000000000000000000000000000000008");
	ck_assert_int_eq(lsm_close(db), 0);
}
END_TEST

START_TEST(test_second_open_is_busy_and_names_the_pid)
{
	lsm_db *db = open_db(NULL), *db2 = NULL;
	ck_assert_int_eq(lsm_open(&db2, dir, NULL), -LSM_EBUSY);
	ck_assert_ptr_null(db2);
	char pid[32];
	snprintf(pid, sizeof(pid), "%ld", (long)getpid());
	ck_assert_msg(strstr(lsm_errmsg(), pid), "message lacks pid %s: %s", pid, lsm_errmsg());
	ck_assert_int_eq(lsm_destroy(dir, NULL), -LSM_EBUSY);
	ck_assert_int_eq(lsm_close(db), 0);
	/* Released at close. */
	db = open_db(NULL);
	ck_assert_int_eq(lsm_close(db), 0);
}
END_TEST

START_TEST(test_open_flags_create_and_exists)
{
	lsm_options o;
	lsm_options_init(&o);
	o.create_if_missing = 0;
	lsm_db *db = NULL;
	char *sub = tu_path(dir, "sub");
	ck_assert_int_eq(lsm_open(&db, sub, &o), -LSM_ENOTDB);
	o.create_if_missing = 1;
	ck_assert_int_eq(lsm_open(&db, sub, &o), 0);
	put_str(db, "k", "v");
	ck_assert_int_eq(lsm_close(db), 0);
	o.error_if_exists = 1;
	ck_assert_int_eq(lsm_open(&db, sub, &o), -LSM_EEXIST);
	o.error_if_exists = 0;
	o.read_only = 1;
	ck_assert_int_eq(lsm_open(&db, sub, &o), 0);
	check_get(db, NULL, "k", "v");
	ck_assert_int_eq(lsm_put(db, NULL, "k", 1, "w", 1), -LSM_EREADONLY);
	ck_assert_int_eq(lsm_close(db), 0);
	free(sub);
}
END_TEST

/* ---- flushes and tables ---- */

START_TEST(test_flush_then_reads_come_from_tables_and_survive_reopen)
{
	lsm_options o;
	small_options(&o);
	lsm_db *db = open_db(&o);
	fill(db, 300, 1);
	ck_assert_int_eq(lsm_flush(db), 0);
	lsm_stats st;
	lsm_stats_get(db, &st);
	ck_assert_int_ge(st.flushes, 1);
	ck_assert_int_ge(st.level_files[0] + st.level_files[1], 1);
	check_fill(db, NULL, 300, 1);
	del_str(db, "key000003");
	ck_assert_int_eq(lsm_flush(db), 0);
	check_get(db, NULL, "key000003", NULL);
	ck_assert_int_eq(lsm_close(db), 0);

	db = open_db(&o);
	check_get(db, NULL, "key000003", NULL);
	check_get(db, NULL, "key000004", "value-4-1-0000000000000000000000000000000000000004");
	ck_assert_int_eq(lsm_close(db), 0);
}
END_TEST

START_TEST(test_many_writes_switch_memtables_and_keep_everything)
{
	lsm_options o;
	small_options(&o);
	lsm_db *db = open_db(&o);
	fill(db, 3000, 1);
	fill(db, 3000, 2);
	check_fill(db, NULL, 3000, 2);
	lsm_stats st;
	lsm_stats_get(db, &st);
	ck_assert_int_ge(st.flushes, 2);
	ck_assert_int_eq(lsm_close(db), 0);
	db = open_db(&o);
	check_fill(db, NULL, 3000, 2);
	ck_assert_int_eq(lsm_close(db), 0);
}
END_TEST

static Suite *db_suite(void)
{
	Suite *s = suite_create("db");
	TCase *tc = tcase_create("basic");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_put_get_delete_overwrite);
	tcase_add_test(tc, test_batch_applies_all_entries_in_order);
	tcase_add_test(tc, test_reopen_replays_unflushed_writes_from_wal);
	tcase_add_test(tc, test_second_open_is_busy_and_names_the_pid);
	tcase_add_test(tc, test_open_flags_create_and_exists);
	suite_add_tcase(s, tc);

	tc = tcase_create("tables");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_flush_then_reads_come_from_tables_and_survive_reopen);
	tcase_add_test(tc, test_many_writes_switch_memtables_and_keep_everything);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	tu_seed();
	return tu_run_suite(db_suite());
}
