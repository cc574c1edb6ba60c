/*
 * check_db_compact.c — compaction through the public API: L0 shrinks and
 * every key stays, tombstones go once no snapshot can see them, deleted
 * space comes back by itself when idle or while writes go on, and obsolete
 * tables are removed as soon as nothing reads them.
 */
#include "dbutil.h"
#include "env.h"
#include "lsm.h"
#include "testutil.h"
#include "version.h"
#include "wal.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- compaction ---- */

START_TEST(test_compaction_reduces_l0_and_keeps_every_key)
{
	lsm_options o;
	td_small_options(&o);
	o.l0_compaction_trigger = 2;
	lsm_db *db = td_open(td_dir, &o);
	tu_rng r;
	tu_rng_init(&r, tu_seed() ^ 1);
	td_model m = {{0}};
	for (int round = 0; round < 6; round++) {
		td_random_ops(db, &m, &r, 600);
		ck_assert_int_eq(lsm_flush(db), 0);
	}
	/* The background thread compacts as soon as L0 reaches the trigger. */
	lsm_stats st;
	for (int tries = 0; tries < 500; tries++) {
		lsm_stats_get(db, &st);
		if (st.compactions > 0 && st.level_files[0] < 2)
			break;
		usleep(10000);
	}
	ck_assert_int_ge(st.compactions, 1);
	ck_assert_int_lt(st.level_files[0], 2);
	ck_assert_int_gt(st.compaction_bytes_written, 0);
	char k[32];
	for (int i = 0; i < TD_MODEL_KEYS; i++) {
		td_key(k, sizeof(k), i);
		td_check_get(db, NULL, k, m.val[i]);
	}
	ck_assert_int_eq(lsm_close(db), 0);
	db = td_open(td_dir, &o);
	for (int i = 0; i < TD_MODEL_KEYS; i++) {
		td_key(k, sizeof(k), i);
		td_check_get(db, NULL, k, m.val[i]);
	}
	ck_assert_int_eq(lsm_close(db), 0);
	td_model_free(&m);
}
END_TEST

START_TEST(test_tombstones_disappear_after_full_compact_range)
{
	lsm_options o;
	lsm_db *db = td_open_small(&o);
	td_fill(db, 2000, 1);
	ck_assert_int_eq(lsm_flush(db), 0);
	char k[32];
	for (int i = 0; i < 2000; i++) {
		td_key(k, sizeof(k), i);
		td_del(db, k);
	}
	ck_assert_int_eq(lsm_compact_range(db, NULL, 0, NULL, 0), 0);
	lsm_stats st;
	lsm_stats_get(db, &st);
	for (int l = 0; l < LSM_MAX_LEVELS; l++)
		ck_assert_msg(st.level_files[l] == 0, "level %d still has %d files", l,
			      st.level_files[l]);
	ck_assert_uint_eq(st.live_bytes, 0);
	td_check_get(db, NULL, "key000005", NULL);
	ck_assert_int_eq(lsm_close(db), 0);
}
END_TEST

START_TEST(test_tombstone_kept_while_a_snapshot_can_see_the_key)
{
	lsm_options o;
	lsm_db *db = td_open_small(&o);
	td_put(db, "k", "old");
	ck_assert_int_eq(lsm_flush(db), 0);
	const lsm_snapshot *snap = lsm_snapshot_new(db);
	td_del(db, "k");
	ck_assert_int_eq(lsm_compact_range(db, NULL, 0, NULL, 0), 0);
	lsm_read_options ro = {.snapshot = snap, .fill_cache = 1};
	td_check_get(db, &ro, "k", "old");
	td_check_get(db, NULL, "k", NULL);
	lsm_snapshot_release(db, snap);
	ck_assert_int_eq(lsm_compact_range(db, NULL, 0, NULL, 0), 0);
	td_check_get(db, NULL, "k", NULL);
	lsm_stats st;
	lsm_stats_get(db, &st);
	ck_assert_uint_eq(st.live_bytes, 0);
	ck_assert_int_eq(lsm_close(db), 0);
}
END_TEST

START_TEST(test_compact_range_pushes_data_down_and_keeps_it)
{
	lsm_options o;
	td_small_options(&o);
	/* Levels that never need automatic compaction, so the result stays put. */
	o.level_base_bytes = 64 << 20;
	lsm_db *db = td_open(td_dir, &o);
	td_fill(db, 3000, 1);
	ck_assert_int_eq(lsm_compact_range(db, NULL, 0, NULL, 0), 0);
	lsm_stats st;
	lsm_stats_get(db, &st);
	/* Everything merged into one level, cut into files at target_file_bytes. */
	int nonempty = 0;
	for (int l = 0; l < LSM_MAX_LEVELS; l++) {
		if (st.level_files[l]) {
			nonempty++;
			ck_assert_int_gt(l, 0);
			ck_assert_int_gt(st.level_files[l], 1);
		}
	}
	ck_assert_int_eq(nonempty, 1);
	/* A partial range leaves the rest where it is and still finds everything. */
	td_fill(db, 3000, 2);
	ck_assert_int_eq(lsm_compact_range(db, "key001000", 9, "key002000", 9), 0);
	td_check_fill(db, NULL, 3000, 2);
	ck_assert_int_eq(lsm_close(db), 0);
}
END_TEST

/* ---- space comes back by itself ---- */

#define CHUNK (64 * 1024)

/* Options for the chunk tests: levels far under their size targets throughout. */
static void chunk_options(lsm_options *o)
{
	lsm_options_init(o);
	o->memtable_bytes = 1 << 20;
	o->target_file_bytes = 1 << 20;
}

/* Opens td_dir with chunk_options (left in o for reopening). */
static lsm_db *open_chunk_db(lsm_options *o)
{
	chunk_options(o);
	return td_open(td_dir, o);
}

static void chunk_key(char *k, size_t n, int i)
{
	snprintf(k, n, "C%06d", i);
}

/* Writes n 64 KiB values (as lsmfs writes file chunks) and flushes them. */
static uint64_t put_chunks(lsm_db *db, int n)
{
	char k[16];
	char *v = malloc(CHUNK);
	tu_rng r;
	tu_rng_init(&r, tu_seed());
	for (int i = 0; i < n; i++) {
		chunk_key(k, sizeof(k), i);
		tu_fill(&r, v, CHUNK);
		ck_assert_int_eq(lsm_put(db, NULL, k, strlen(k), v, CHUNK), 0);
	}
	free(v);
	ck_assert_int_eq(lsm_flush(db), 0);
	lsm_stats st;
	lsm_stats_get(db, &st);
	ck_assert_uint_ge(st.live_bytes, (uint64_t)n * CHUNK);
	return st.live_bytes;
}

static void delete_chunks(lsm_db *db, int n)
{
	char k[16];
	for (int i = 0; i < n; i++) {
		chunk_key(k, sizeof(k), i);
		td_del(db, k);
	}
}

/*
 * Polls live_bytes for up to secs seconds until it is under limit; with
 * writer, a small put every 50 ms keeps the db from ever being idle.
 * Returns the seconds it took (or fails).
 */
static double wait_live_bytes_under(lsm_db *db, uint64_t limit, double secs, int writer)
{
	lsm_stats st;
	int i;
	for (i = 0; i < secs * 20; i++) {
		lsm_stats_get(db, &st);
		ck_assert_int_eq(st.background_error, 0);
		if (st.live_bytes < limit)
			return i / 20.0;
		if (writer) {
			char k[16];
			snprintf(k, sizeof(k), "a%06d", i);
			td_put(db, k, "small");
		}
		usleep(50000);
	}
	lsm_stats_get(db, &st);
	ck_abort_msg("live bytes still %llu after %.0f s (want under %llu)",
		     (unsigned long long)st.live_bytes, secs, (unsigned long long)limit);
	return secs;
}

static void expect_chunks_gone(lsm_db *db, int n)
{
	char k[16];
	for (int i = 0; i < n; i++) {
		chunk_key(k, sizeof(k), i);
		td_check_get(db, NULL, k, NULL);
	}
}

/*
 * Deleting chunks only writes small deletions: the memtable holding them
 * never fills, and the levels stay under their targets. Once the db is
 * idle, the deletions are flushed and carried down onto the values, and
 * both are dropped.
 */
START_TEST(test_deleted_space_comes_back_when_idle_without_manual_compaction)
{
	lsm_options o;
	lsm_db *db = open_chunk_db(&o);
	const int n = 64;
	uint64_t full = put_chunks(db, n);
	delete_chunks(db, n);
	double t = wait_live_bytes_under(db, full / 20, 10, 0);
	expect_chunks_gone(db, n);
	lsm_stats st;
	lsm_stats_get(db, &st);
	printf("idle: %llu of %llu live bytes left after %.1f s\n",
	       (unsigned long long)st.live_bytes, (unsigned long long)full, t);
	ck_assert_int_eq(lsm_close(db), 0);
}
END_TEST

/*
 * A table that is mostly deletions is compacted down at once, even while
 * writes go on and the levels are far under their targets.
 */
START_TEST(test_a_table_of_mostly_deletions_is_compacted_down_while_writes_go_on)
{
	lsm_options o;
	lsm_db *db = open_chunk_db(&o);
	const int n = 64;
	uint64_t full = put_chunks(db, n);
	delete_chunks(db, n);
	ck_assert_int_eq(lsm_flush(db), 0);
	wait_live_bytes_under(db, full / 20, 10, 1);
	expect_chunks_gone(db, n);
	ck_assert_int_eq(lsm_close(db), 0);
}
END_TEST

/* Writes chunks, then deletes and flushes them while a snapshot can still see them. */
static uint64_t delete_chunks_under_snapshot(lsm_db *db, int n, const lsm_snapshot **snap)
{
	uint64_t full = put_chunks(db, n);
	*snap = lsm_snapshot_new(db);
	delete_chunks(db, n);
	ck_assert_int_eq(lsm_flush(db), 0);
	/* Not while the snapshot can see the values (nor a busy loop trying). */
	lsm_stats st;
	usleep(300000);
	lsm_stats_get(db, &st);
	ck_assert_uint_ge(st.live_bytes, full);
	uint64_t compactions = st.compactions;
	usleep(200000);
	lsm_stats_get(db, &st);
	ck_assert_uint_eq(st.compactions, compactions);
	return full;
}

START_TEST(test_deletions_a_snapshot_kept_are_compacted_once_it_is_released)
{
	lsm_options o;
	lsm_db *db = open_chunk_db(&o);
	const int n = 64;
	const lsm_snapshot *snap;
	uint64_t full = delete_chunks_under_snapshot(db, n, &snap);
	lsm_snapshot_release(db, snap);
	wait_live_bytes_under(db, full / 20, 10, 1);
	expect_chunks_gone(db, n);
	ck_assert_int_eq(lsm_close(db), 0);
}
END_TEST

/*
 * The MANIFEST does not record how many deletions a table holds: after a
 * reopen they are read from the tables' properties.
 */
START_TEST(test_deletions_left_in_tables_are_compacted_after_reopen)
{
	lsm_options o;
	lsm_db *db = open_chunk_db(&o);
	const int n = 64;
	const lsm_snapshot *snap;
	uint64_t full = delete_chunks_under_snapshot(db, n, &snap);
	ck_assert_int_eq(lsm_close(db), 0); /* the snapshot goes with the db */

	db = td_open(td_dir, &o);
	lsm_stats st;
	lsm_stats_get(db, &st);
	ck_assert_uint_ge(st.live_bytes, full);
	wait_live_bytes_under(db, full / 20, 10, 1);
	expect_chunks_gone(db, n);
	ck_assert_int_eq(lsm_close(db), 0);
}
END_TEST

/* ---- obsolete files go as soon as nothing reads them ---- */

/* Table files in td_dir. */
static int count_tables(void)
{
	char **names = NULL;
	size_t count = 0;
	int n = 0;
	lsm_env *env = lsm_env_posix();
	ck_assert_int_eq(env->list_dir(env, td_dir, &names, &count), 0);
	for (size_t i = 0; i < count; i++)
		n += lsm_parse_filename(names[i], NULL) == LSM_FILE_TABLE;
	lsm_env_free_names(names, count);
	return n;
}

static int live_tables(lsm_db *db)
{
	lsm_stats st;
	int n = 0;
	lsm_stats_get(db, &st);
	for (int l = 0; l < LSM_MAX_LEVELS; l++)
		n += st.level_files[l];
	return n;
}

START_TEST(test_compact_range_leaves_no_obsolete_table_behind)
{
	lsm_options o;
	td_small_options(&o);
	o.l0_compaction_trigger = o.l0_slowdown_trigger = 20;
	o.l0_stop_trigger = 24;
	lsm_db *db = td_open(td_dir, &o);
	for (int gen = 1; gen <= 4; gen++) {
		td_fill(db, 800, gen);
		ck_assert_int_eq(lsm_flush(db), 0);
	}
	ck_assert_int_gt(count_tables(), 2);
	ck_assert_int_eq(lsm_compact_range(db, NULL, 0, NULL, 0), 0);
	/* Nothing else will run: the files must be gone when it returns. */
	ck_assert_int_eq(count_tables(), live_tables(db));
	td_check_fill(db, NULL, 800, 4);
	ck_assert_int_eq(lsm_close(db), 0);
}
END_TEST

START_TEST(test_tables_an_iterator_pinned_go_when_it_is_freed)
{
	lsm_options o;
	td_small_options(&o);
	o.l0_compaction_trigger = o.l0_slowdown_trigger = 20;
	o.l0_stop_trigger = 24;
	lsm_db *db = td_open(td_dir, &o);
	for (int gen = 1; gen <= 3; gen++) {
		td_fill(db, 800, gen);
		ck_assert_int_eq(lsm_flush(db), 0);
	}
	int before = count_tables();
	lsm_iter *it = lsm_iter_new(db, NULL);
	ck_assert_ptr_nonnull(it);
	lsm_iter_seek_first(it);
	ck_assert_int_eq(lsm_compact_range(db, NULL, 0, NULL, 0), 0);
	/* The iterator still reads the old tables: they stay. */
	ck_assert_int_ge(count_tables(), before);
	int n = 0;
	for (; lsm_iter_valid(it); lsm_iter_next(it))
		n++;
	ck_assert_int_eq(lsm_iter_status(it), 0);
	ck_assert_int_eq(n, 800);
	lsm_iter_free(it);
	/* No write, flush or compaction follows: freeing the iterator is what deletes them. */
	int i;
	for (i = 0; i < 100 && count_tables() != live_tables(db); i++)
		usleep(20000);
	ck_assert_msg(count_tables() == live_tables(db), "%d table files, %d live", count_tables(),
		      live_tables(db));
	td_check_fill(db, NULL, 800, 3);
	ck_assert_int_eq(lsm_close(db), 0);
}
END_TEST

static Suite *db_compact_suite(void)
{
	Suite *s = suite_create("db_compact");
	TCase *tc = td_tcase(s, "compaction", 60);
	tcase_add_test(tc, test_compaction_reduces_l0_and_keeps_every_key);
	tcase_add_test(tc, test_tombstones_disappear_after_full_compact_range);
	tcase_add_test(tc, test_tombstone_kept_while_a_snapshot_can_see_the_key);
	tcase_add_test(tc, test_compact_range_pushes_data_down_and_keeps_it);
	tcase_add_test(tc, test_deleted_space_comes_back_when_idle_without_manual_compaction);
	tcase_add_test(tc, test_a_table_of_mostly_deletions_is_compacted_down_while_writes_go_on);
	tcase_add_test(tc, test_deletions_a_snapshot_kept_are_compacted_once_it_is_released);
	tcase_add_test(tc, test_deletions_left_in_tables_are_compacted_after_reopen);
	tcase_add_test(tc, test_compact_range_leaves_no_obsolete_table_behind);
	tcase_add_test(tc, test_tables_an_iterator_pinned_go_when_it_is_freed);
	return s;
}

int main(void)
{
	tu_seed();
	return tu_run_suite(db_compact_suite());
}
