/*
 * check_db.c — the database through its public API: writes and reads,
 * recovery from the WAL, the LOCK, flushes, iterators, snapshots, the
 * directory checked against the MANIFEST on open, stats, verify and
 * destroy. Compaction is check_db_compact's; background errors, stalls and
 * group commit are check_db_bg's.
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

/* ---- basic operations ---- */

START_TEST(test_put_get_delete_overwrite)
{
	lsm_db *db = td_open(td_dir, NULL);
	td_check_get(db, NULL, "a", NULL);
	td_put(db, "a", "1");
	td_put(db, "b", "2");
	td_check_get(db, NULL, "a", "1");
	td_check_get(db, NULL, "b", "2");
	td_put(db, "a", "one");
	td_check_get(db, NULL, "a", "one");
	td_del(db, "a");
	td_check_get(db, NULL, "a", NULL);
	td_del(db, "never-there");
	td_check_get(db, NULL, "never-there", NULL);
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

/* lsm_get_into: from the memtable, from a table and from a value file; too small a buffer. */
START_TEST(test_get_into_reads_into_the_callers_buffer)
{
	lsm_options o;
	lsm_options_init(&o);
	o.blob_threshold = 1000;
	lsm_db *db = td_open(td_dir, &o);
	char big[3000], buf[4000];
	size_t vlen = 0;
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (char)('a' + i % 26);
	ck_assert_int_eq(lsm_put(db, NULL, "small", 5, "12345", 5), 0);
	ck_assert_int_eq(lsm_put(db, NULL, "big", 3, big, sizeof(big)), 0);
	for (int round = 0; round < 2; round++) { /* memtable, then tables */
		memset(buf, 0, sizeof(buf));
		ck_assert_int_eq(lsm_get_into(db, NULL, "small", 5, buf, sizeof(buf), &vlen), 0);
		ck_assert_uint_eq(vlen, 5);
		ck_assert_mem_eq(buf, "12345", 5);
		ck_assert_int_eq(lsm_get_into(db, NULL, "big", 3, buf, sizeof(buf), &vlen), 0);
		ck_assert_uint_eq(vlen, sizeof(big));
		ck_assert_mem_eq(buf, big, sizeof(big));
		/* Too small: -ERANGE and the length needed. */
		ck_assert_int_eq(lsm_get_into(db, NULL, "big", 3, buf, 100, &vlen), -ERANGE);
		ck_assert_uint_eq(vlen, sizeof(big));
		ck_assert_int_eq(lsm_get_into(db, NULL, "small", 5, buf, 4, &vlen), -ERANGE);
		ck_assert_uint_eq(vlen, 5);
		ck_assert_int_eq(lsm_get_into(db, NULL, "none", 4, buf, sizeof(buf), &vlen),
				 LSM_NOTFOUND);
		ck_assert_int_eq(lsm_flush(db), 0);
	}
	ck_assert_int_eq(lsm_close(db), 0);
}
END_TEST

/*
 * lsm_get_part reads any range of a value, also of a separated value that
 * crosses the WAL's 32 KiB blocks (a fragment header between its pieces),
 * from the memtable and from tables, and clips at the value's end.
 */
START_TEST(test_get_part_reads_any_range_of_a_value)
{
	lsm_options o;
	lsm_options_init(&o);
	o.blob_threshold = 1000;
	lsm_db *db = td_open(td_dir, &o);
	size_t n = 100000, got, vlen;
	uint8_t *big = malloc(n), *buf = malloc(n);
	tu_rng r;
	tu_rng_init(&r, tu_seed());
	tu_fill(&r, big, n);
	ck_assert_int_eq(lsm_put(db, NULL, "pad", 3, big, 5000), 0); /* big starts mid-block */
	ck_assert_int_eq(lsm_put(db, NULL, "big", 3, big, n), 0);
	ck_assert_int_eq(lsm_put(db, NULL, "small", 5, "0123456789", 10), 0);
	for (int round = 0; round < 2; round++) { /* memtable, then tables */
		for (int i = 0; i < 300; i++) {
			uint64_t from = tu_below(&r, n + 10);
			size_t len = (size_t)tu_below(&r, 40000);
			size_t want = from >= n ? 0 : (n - from < len ? (size_t)(n - from) : len);
			ck_assert_int_eq(
				lsm_get_part(db, NULL, "big", 3, from, buf, len, &got, &vlen), 0);
			ck_assert_uint_eq(vlen, n);
			ck_assert_uint_eq(got, want);
			if (want)
				ck_assert_int_eq(memcmp(buf, big + from, want), 0);
		}
		/* Every block boundary, exactly. */
		for (uint64_t from = 0; from < n; from += 4096) {
			ck_assert_int_eq(
				lsm_get_part(db, NULL, "big", 3, from, buf, 4096, &got, &vlen), 0);
			ck_assert_int_eq(memcmp(buf, big + from, got), 0);
		}
		ck_assert_int_eq(lsm_get_part(db, NULL, "small", 5, 3, buf, 4, &got, &vlen), 0);
		ck_assert_uint_eq(got, 4);
		ck_assert_uint_eq(vlen, 10);
		ck_assert_mem_eq(buf, "3456", 4);
		ck_assert_int_eq(lsm_get_part(db, NULL, "none", 4, 0, buf, 4, &got, &vlen),
				 LSM_NOTFOUND);
		ck_assert_uint_eq(got, 0);
		ck_assert_int_eq(lsm_flush(db), 0);
	}
	free(big);
	free(buf);
	ck_assert_int_eq(lsm_close(db), 0);
}
END_TEST

START_TEST(test_batch_applies_all_entries_in_order)
{
	lsm_db *db = td_open(td_dir, NULL);
	lsm_batch *b = lsm_batch_new();
	ck_assert_ptr_nonnull(b);
	ck_assert_int_eq(lsm_batch_put(b, "x", 1, "1", 1), 0);
	ck_assert_int_eq(lsm_batch_put(b, "y", 1, "2", 1), 0);
	ck_assert_int_eq(lsm_batch_delete(b, "x", 1), 0);
	ck_assert_int_eq(lsm_batch_put(b, "y", 1, "3", 1), 0);
	lsm_write_options wo = {.sync = 1};
	ck_assert_int_eq(lsm_write(db, &wo, b), 0);
	td_check_get(db, NULL, "x", NULL);
	td_check_get(db, NULL, "y", "3");
	/* An empty batch is a no-op. */
	lsm_batch_clear(b);
	ck_assert_int_eq(lsm_write(db, NULL, b), 0);
	lsm_batch_free(b);
	ck_assert_int_eq(lsm_close(db), 0);
}
END_TEST

START_TEST(test_reopen_replays_unflushed_writes_from_wal)
{
	lsm_db *db = td_open(td_dir, NULL);
	td_fill(db, 500, 1);
	td_del(db, "key000007");
	ck_assert_int_eq(lsm_close(db), 0);

	db = td_open(td_dir, NULL);
	char k[32], v[96];
	for (int i = 0; i < 500; i++) {
		td_key(k, sizeof(k), i);
		td_val(v, sizeof(v), i, 1);
		td_check_get(db, NULL, k, i == 7 ? NULL : v);
	}
	/* New writes after recovery get higher sequence numbers than replayed ones. */
	td_put(db, "key000007", "back");
	ck_assert_int_eq(lsm_close(db), 0);
	db = td_open(td_dir, NULL);
	td_check_get(db, NULL, "key000007", "back");
	td_check_get(db, NULL, "key000008", "value-8-1-0000000000000000000000000000000000000008");
	ck_assert_int_eq(lsm_close(db), 0);
}
END_TEST

START_TEST(test_second_open_is_busy_and_names_the_pid)
{
	lsm_db *db = td_open(td_dir, NULL), *db2 = NULL;
	ck_assert_int_eq(lsm_open(&db2, td_dir, NULL), -LSM_EBUSY);
	ck_assert_ptr_null(db2);
	char pid[32];
	snprintf(pid, sizeof(pid), "%ld", (long)getpid());
	ck_assert_msg(strstr(lsm_errmsg(), pid), "message lacks pid %s: %s", pid, lsm_errmsg());
	ck_assert_int_eq(lsm_destroy(td_dir, NULL), -LSM_EBUSY);
	ck_assert_int_eq(lsm_close(db), 0);
	/* Released at close. */
	db = td_open(td_dir, NULL);
	ck_assert_int_eq(lsm_close(db), 0);
}
END_TEST

START_TEST(test_open_flags_create_and_exists)
{
	lsm_options o;
	lsm_options_init(&o);
	o.create_if_missing = 0;
	lsm_db *db = NULL;
	char *sub = tu_path(td_dir, "sub");
	ck_assert_int_eq(lsm_open(&db, sub, &o), -LSM_ENOTDB);
	/* An existing empty directory is refused and left empty. */
	ck_assert_int_eq(mkdir(sub, 0755), 0);
	ck_assert_int_eq(lsm_open(&db, sub, &o), -LSM_ENOTDB);
	ck_assert_int_eq(rmdir(sub), 0);
	o.create_if_missing = 1;
	ck_assert_int_eq(lsm_open(&db, sub, &o), 0);
	td_put(db, "k", "v");
	ck_assert_int_eq(lsm_close(db), 0);
	o.error_if_exists = 1;
	ck_assert_int_eq(lsm_open(&db, sub, &o), -LSM_EEXIST);
	o.error_if_exists = 0;
	o.read_only = 1;
	ck_assert_int_eq(lsm_open(&db, sub, &o), 0);
	td_check_get(db, NULL, "k", "v");
	ck_assert_int_eq(lsm_put(db, NULL, "k", 1, "w", 1), -LSM_EREADONLY);
	ck_assert_int_eq(lsm_close(db), 0);
	free(sub);
}
END_TEST

/* ---- flushes and tables ---- */

START_TEST(test_flush_then_reads_come_from_tables_and_survive_reopen)
{
	lsm_options o;
	lsm_db *db = td_open_small(&o);
	td_fill(db, 300, 1);
	ck_assert_int_eq(lsm_flush(db), 0);
	lsm_stats st;
	lsm_stats_get(db, &st);
	ck_assert_int_ge(st.flushes, 1);
	int files = 0;
	for (int l = 0; l < LSM_MAX_LEVELS; l++)
		files += st.level_files[l];
	ck_assert_int_ge(files, 1);
	td_check_fill(db, NULL, 300, 1);
	td_del(db, "key000003");
	ck_assert_int_eq(lsm_flush(db), 0);
	td_check_get(db, NULL, "key000003", NULL);
	ck_assert_int_eq(lsm_close(db), 0);

	db = td_open(td_dir, &o);
	td_check_get(db, NULL, "key000003", NULL);
	td_check_get(db, NULL, "key000004", "value-4-1-0000000000000000000000000000000000000004");
	ck_assert_int_eq(lsm_close(db), 0);
}
END_TEST

START_TEST(test_many_writes_switch_memtables_and_keep_everything)
{
	lsm_options o;
	lsm_db *db = td_open_small(&o);
	td_fill(db, 3000, 1);
	td_fill(db, 3000, 2);
	td_check_fill(db, NULL, 3000, 2);
	lsm_stats st;
	lsm_stats_get(db, &st);
	ck_assert_int_ge(st.flushes, 2);
	ck_assert_int_eq(lsm_close(db), 0);
	db = td_open(td_dir, &o);
	td_check_fill(db, NULL, 3000, 2);
	ck_assert_int_eq(lsm_close(db), 0);
}
END_TEST

/* ---- iterators ---- */

static void expect_at(lsm_iter *it, const td_model *m, int i)
{
	char k[32];
	size_t kl, vl;
	td_key(k, sizeof(k), i);
	ck_assert_msg(lsm_iter_valid(it), "iterator ended before %s (status %d)", k,
		      lsm_iter_status(it));
	const char *ik = lsm_iter_key(it, &kl);
	const char *iv = lsm_iter_value(it, &vl);
	ck_assert_msg(kl == strlen(k) && !memcmp(ik, k, kl), "expected %s, at %.*s", k, (int)kl,
		      ik);
	ck_assert_msg(vl == strlen(m->val[i]) && !memcmp(iv, m->val[i], vl),
		      "%s: expected %s, got %.*s", k, m->val[i], (int)vl, iv);
}

/* Index of the first live key >= i (TD_MODEL_KEYS if none). */
static int next_live(const td_model *m, int i)
{
	while (i < TD_MODEL_KEYS && !m->val[i])
		i++;
	return i;
}

static int prev_live(const td_model *m, int i)
{
	while (i >= 0 && !m->val[i])
		i--;
	return i;
}

static void check_iteration(lsm_db *db, const lsm_read_options *ro, const td_model *m, tu_rng *r)
{
	lsm_iter *it = lsm_iter_new(db, ro);
	ck_assert_ptr_nonnull(it);
	ck_assert(!lsm_iter_valid(it));

	/* Forward over everything. */
	int i = next_live(m, 0);
	for (lsm_iter_seek_first(it); i < TD_MODEL_KEYS; i = next_live(m, i + 1)) {
		expect_at(it, m, i);
		lsm_iter_next(it);
	}
	ck_assert(!lsm_iter_valid(it));
	ck_assert_int_eq(lsm_iter_status(it), 0);

	/* Backward over everything. */
	i = prev_live(m, TD_MODEL_KEYS - 1);
	for (lsm_iter_seek_last(it); i >= 0; i = prev_live(m, i - 1)) {
		expect_at(it, m, i);
		lsm_iter_prev(it);
	}
	ck_assert(!lsm_iter_valid(it));

	/* Seeks and random walks that change direction. */
	for (int round = 0; round < 200; round++) {
		int t = (int)tu_below(r, TD_MODEL_KEYS + 1);
		char k[32];
		td_key(k, sizeof(k), t);
		int pos;
		if (tu_below(r, 2)) {
			lsm_iter_seek(it, k, strlen(k));
			pos = next_live(m, t);
		} else {
			lsm_iter_seek_for_prev(it, k, strlen(k));
			pos = prev_live(m, t < TD_MODEL_KEYS ? t : TD_MODEL_KEYS - 1);
		}
		for (int step = 0; step < 8; step++) {
			if (pos < 0 || pos >= TD_MODEL_KEYS) {
				ck_assert(!lsm_iter_valid(it));
				break;
			}
			expect_at(it, m, pos);
			if (tu_below(r, 2)) {
				lsm_iter_next(it);
				pos = next_live(m, pos + 1);
			} else {
				lsm_iter_prev(it);
				pos = prev_live(m, pos - 1);
			}
		}
	}
	/* A seek between keys lands on the next one. */
	lsm_iter_seek(it, "key000010x", 10);
	i = next_live(m, 11);
	if (i < TD_MODEL_KEYS)
		expect_at(it, m, i);
	lsm_iter_free(it);
}

START_TEST(test_iterate_both_ways_over_memtables_and_tables_with_deletions)
{
	lsm_options o;
	lsm_db *db = td_open_small(&o);
	tu_rng r;
	tu_rng_init(&r, tu_seed());
	td_model m = {{0}};
	td_random_ops(db, &m, &r, 4000);
	check_iteration(db, NULL, &m, &r);
	/* Same answers from tables alone, then after a full compaction. */
	ck_assert_int_eq(lsm_flush(db), 0);
	check_iteration(db, NULL, &m, &r);
	ck_assert_int_eq(lsm_compact_range(db, NULL, 0, NULL, 0), 0);
	check_iteration(db, NULL, &m, &r);
	td_random_ops(db, &m, &r, 1000);
	check_iteration(db, NULL, &m, &r);
	ck_assert_int_eq(lsm_close(db), 0);
	td_model_free(&m);
}
END_TEST

START_TEST(test_iterator_over_empty_db_is_never_valid)
{
	lsm_db *db = td_open(td_dir, NULL);
	lsm_iter *it = lsm_iter_new(db, NULL);
	lsm_iter_seek_first(it);
	ck_assert(!lsm_iter_valid(it));
	lsm_iter_seek_last(it);
	ck_assert(!lsm_iter_valid(it));
	lsm_iter_seek(it, "a", 1);
	ck_assert(!lsm_iter_valid(it));
	lsm_iter_seek_for_prev(it, "a", 1);
	ck_assert(!lsm_iter_valid(it));
	ck_assert_int_eq(lsm_iter_status(it), 0);
	lsm_iter_free(it);
	/* Only deletions: still nothing. */
	td_del(db, "a");
	td_put(db, "b", "1");
	td_del(db, "b");
	it = lsm_iter_new(db, NULL);
	lsm_iter_seek_first(it);
	ck_assert(!lsm_iter_valid(it));
	lsm_iter_seek_last(it);
	ck_assert(!lsm_iter_valid(it));
	lsm_iter_free(it);
	ck_assert_int_eq(lsm_close(db), 0);
}
END_TEST

START_TEST(test_iterator_keeps_its_view_while_the_db_changes)
{
	lsm_options o;
	lsm_db *db = td_open_small(&o);
	td_fill(db, 1000, 1);
	lsm_iter *it = lsm_iter_new(db, NULL);
	ck_assert_ptr_nonnull(it);
	td_fill(db, 1000, 2);
	for (int i = 0; i < 1000; i += 2) {
		char k[32];
		td_key(k, sizeof(k), i);
		td_del(db, k);
	}
	ck_assert_int_eq(lsm_compact_range(db, NULL, 0, NULL, 0), 0);
	int n = 0;
	for (lsm_iter_seek_first(it); lsm_iter_valid(it); lsm_iter_next(it)) {
		char k[32], v[96];
		size_t kl, vl;
		td_key(k, sizeof(k), n);
		td_val(v, sizeof(v), n, 1);
		const char *ik = lsm_iter_key(it, &kl);
		const char *iv = lsm_iter_value(it, &vl);
		ck_assert(kl == strlen(k) && !memcmp(ik, k, kl));
		ck_assert(vl == strlen(v) && !memcmp(iv, v, vl));
		n++;
	}
	ck_assert_int_eq(n, 1000);
	ck_assert_int_eq(lsm_iter_status(it), 0);
	lsm_iter_free(it);
	ck_assert_int_eq(lsm_close(db), 0);
}
END_TEST

/* ---- snapshots ---- */

START_TEST(test_snapshot_keeps_old_values_across_flush_and_compaction)
{
	lsm_options o;
	lsm_db *db = td_open_small(&o);
	td_fill(db, 1000, 1);
	td_put(db, "gone", "here");
	const lsm_snapshot *snap = lsm_snapshot_new(db);
	ck_assert_ptr_nonnull(snap);
	lsm_read_options ro = {.snapshot = snap, .fill_cache = 1};

	td_fill(db, 1000, 2);
	td_del(db, "gone");
	td_put(db, "new", "x");
	td_check_fill(db, &ro, 1000, 1);
	td_check_get(db, &ro, "gone", "here");
	td_check_get(db, &ro, "new", NULL);

	ck_assert_int_eq(lsm_flush(db), 0);
	td_check_fill(db, &ro, 1000, 1);
	ck_assert_int_eq(lsm_compact_range(db, NULL, 0, NULL, 0), 0);
	td_check_fill(db, &ro, 1000, 1);
	td_check_get(db, &ro, "gone", "here");
	td_check_get(db, &ro, "new", NULL);
	td_check_fill(db, NULL, 1000, 2);
	td_check_get(db, NULL, "gone", NULL);

	/* The snapshot's iterator sees the old state too. */
	lsm_iter *it = lsm_iter_new(db, &ro);
	int n = 0;
	for (lsm_iter_seek_first(it); lsm_iter_valid(it); lsm_iter_next(it))
		n++;
	ck_assert_int_eq(n, 1001);
	lsm_iter_free(it);

	lsm_snapshot_release(db, snap);
	/* With the snapshot gone, compaction may drop the old versions. */
	ck_assert_int_eq(lsm_compact_range(db, NULL, 0, NULL, 0), 0);
	td_check_fill(db, NULL, 1000, 2);
	ck_assert_int_eq(lsm_close(db), 0);
}
END_TEST

/* ---- maintenance ---- */

START_TEST(test_stats_text_names_levels_and_write_amplification)
{
	lsm_options o;
	lsm_db *db = td_open_small(&o);
	td_fill(db, 2000, 1);
	ck_assert_int_eq(lsm_flush(db), 0);
	td_check_get(db, NULL, "key000001", "value-1-1-0000000000000000000000000000000000000001");
	td_check_get(db, NULL, "nope", NULL);
	lsm_stats st;
	lsm_stats_get(db, &st);
	ck_assert_uint_eq(st.puts, 2000);
	ck_assert_uint_eq(st.gets, 2);
	ck_assert_uint_eq(st.last_sequence, 2000);
	ck_assert_uint_gt(st.user_bytes_written, 0);
	ck_assert_uint_gt(st.wal_bytes_written, st.user_bytes_written);
	ck_assert_uint_gt(st.live_bytes, 0);
	char buf[4096];
	size_t n = lsm_stats_text(db, buf, sizeof(buf));
	ck_assert_uint_eq(n, strlen(buf));
	ck_assert_ptr_nonnull(strstr(buf, "L0"));
	ck_assert_ptr_nonnull(strstr(buf, "write amplification"));
	/* A small buffer is truncated, still terminated. */
	char tiny[16];
	n = lsm_stats_text(db, tiny, sizeof(tiny));
	ck_assert_uint_lt(n, sizeof(tiny));
	ck_assert_uint_eq(strlen(tiny), n);
	ck_assert_int_eq(lsm_close(db), 0);
}
END_TEST

typedef struct report_log {
	int count;
	char file[256];
} report_log;

static void record_report(void *arg, const char *file, uint64_t off, const char *msg)
{
	report_log *r = arg;
	(void)off;
	(void)msg;
	if (!r->count++)
		snprintf(r->file, sizeof(r->file), "%s", file);
}

/* Flips a byte in the middle of the largest .sst in td_dir. */
static void damage_largest_table(void)
{
	char cmd[512];
	snprintf(cmd, sizeof(cmd),
		 "f=$(ls -S %s/*.sst | head -1) && printf '\\377\\377\\377\\377' | "
		 "dd of=\"$f\" bs=1 seek=100 conv=notrunc status=none",
		 td_dir);
	ck_assert_int_eq(system(cmd), 0);
}

START_TEST(test_verify_passes_clean_db_and_reports_damaged_table)
{
	lsm_options o;
	td_small_options(&o);
	o.block_cache_bytes = 0;
	lsm_db *db = td_open(td_dir, &o);
	td_fill(db, 2000, 1);
	td_put(db, "in-the-wal", "yes");
	report_log log = {0};
	ck_assert_int_eq(lsm_verify(db, record_report, &log), 0);
	ck_assert_int_eq(log.count, 0);
	ck_assert_int_eq(lsm_close(db), 0);

	damage_largest_table();
	db = td_open(td_dir, &o);
	ck_assert_int_eq(lsm_verify(db, record_report, &log), -LSM_ECORRUPT);
	ck_assert_int_gt(log.count, 0);
	ck_assert_msg(strstr(log.file, ".sst"), "report names %s", log.file);
	/* Reads of the damaged block fail loudly instead of returning garbage. */
	int corrupt = 0;
	char k[32], v[96];
	for (int i = 0; i < 2000; i++) {
		void *val;
		size_t vlen;
		td_key(k, sizeof(k), i);
		td_val(v, sizeof(v), i, 1);
		int rc = lsm_get(db, NULL, k, strlen(k), &val, &vlen);
		if (rc == -LSM_ECORRUPT) {
			corrupt++;
			continue;
		}
		ck_assert_int_eq(rc, 0);
		ck_assert(vlen == strlen(v) && !memcmp(val, v, vlen));
		free(val);
	}
	ck_assert_int_gt(corrupt, 0);
	lsm_close(db);

	/* paranoid_checks refuses to open it at all. */
	o.paranoid_checks = 1;
	lsm_db *db2 = NULL;
	ck_assert_int_eq(lsm_open(&db2, td_dir, &o), -LSM_ECORRUPT);
}
END_TEST

START_TEST(test_destroy_removes_the_database_and_its_directory)
{
	char *sub = tu_path(td_dir, "victim");
	lsm_options o;
	td_small_options(&o);
	lsm_db *db = NULL;
	ck_assert_int_eq(lsm_open(&db, sub, &o), 0);
	td_fill(db, 1000, 1);
	ck_assert_int_eq(lsm_close(db), 0);
	ck_assert_int_eq(lsm_destroy(sub, NULL), 0);
	ck_assert_int_ne(access(sub, F_OK), 0);
	/* Destroying nothing is fine. */
	ck_assert_int_eq(lsm_destroy(sub, NULL), 0);
	free(sub);
}
END_TEST

/* ls -l of every file in td_dir but LOCK (which gets the opener's pid), sorted. */
static char *dir_listing(void)
{
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "cd %s && ls -l --time-style=+%%s.%%N | grep -v LOCK | sort",
		 td_dir);
	FILE *p = popen(cmd, "r");
	ck_assert_ptr_nonnull(p);
	static char buf[16384];
	size_t n = fread(buf, 1, sizeof(buf) - 1, p);
	buf[n] = 0;
	pclose(p);
	return strdup(buf);
}

START_TEST(test_read_only_open_changes_no_file)
{
	lsm_options o;
	lsm_db *db = td_open_small(&o);
	td_fill(db, 1500, 1);
	ck_assert_int_eq(lsm_close(db), 0);
	db = td_open(td_dir, &o);
	td_fill(db, 10, 2);
	td_del(db, "key000001"); /* some of the state only in the WAL */
	ck_assert_int_eq(lsm_close(db), 0);

	char *before = dir_listing();
	o.read_only = 1;
	db = td_open(td_dir, &o);
	td_check_get(db, NULL, "key000001", NULL);
	td_check_get(db, NULL, "key000009", "value-9-2-0000000000000000000000000000000000000009");
	td_check_get(db, NULL, "key001011",
		     "value-1011-1-0000000000000000000000000000000000001011");
	lsm_iter *it = lsm_iter_new(db, NULL);
	int n = 0;
	for (lsm_iter_seek_first(it); lsm_iter_valid(it); lsm_iter_next(it))
		n++;
	ck_assert_int_eq(n, 1499);
	lsm_iter_free(it);
	ck_assert_int_eq(lsm_flush(db), -LSM_EREADONLY);
	ck_assert_int_eq(lsm_delete(db, NULL, "a", 1), -LSM_EREADONLY);
	ck_assert_int_eq(lsm_verify(db, NULL, NULL), 0);
	ck_assert_int_eq(lsm_close(db), 0);
	char *after = dir_listing();
	ck_assert_str_eq(before, after);
	free(before);
	free(after);
}
END_TEST

/* The LOCK file's bytes and modification time, as text. */
static char *lock_state(void)
{
	char *p = tu_path(td_dir, "LOCK"), *out = NULL;
	struct stat sb;
	uint8_t *data = NULL;
	size_t len = 0;
	ck_assert_int_eq(stat(p, &sb), 0);
	ck_assert_int_eq(lsm_env_read_all(lsm_env_posix(), p, &data, &len), 0);
	ck_assert_int_ge(asprintf(&out, "%lld.%09ld [%.*s]", (long long)sb.st_mtim.tv_sec,
				  sb.st_mtim.tv_nsec, (int)len, (char *)data),
			 0);
	free(data);
	free(p);
	return out;
}

START_TEST(test_read_only_open_leaves_the_lock_file_alone)
{
	lsm_options o;
	td_small_options(&o);
	lsm_db *db = td_open(td_dir, &o), *ro = NULL;
	char pid[32];
	snprintf(pid, sizeof(pid), "%ld", (long)getpid());
	/* A read-write holder is named by its pid. */
	o.read_only = 1;
	ck_assert_int_eq(lsm_open(&ro, td_dir, &o), -LSM_EBUSY);
	ck_assert_msg(strstr(lsm_errmsg(), pid), "message lacks pid %s: %s", pid, lsm_errmsg());
	ck_assert_int_eq(lsm_close(db), 0);

	char *before = lock_state();
	usleep(20000); /* a rewrite would show in the modification time */
	ro = td_open(td_dir, &o);
	char *during = lock_state();
	ck_assert_str_eq(before, during);
	/* It still excludes a writer, which cannot name it (no pid was written). */
	o.read_only = 0;
	ck_assert_int_eq(lsm_open(&db, td_dir, &o), -LSM_EBUSY);
	ck_assert_msg(!strstr(lsm_errmsg(), pid) && strstr(lsm_errmsg(), "in use"),
		      "a stale or wrong pid: %s", lsm_errmsg());
	ck_assert_int_eq(lsm_close(ro), 0);
	char *after = lock_state();
	ck_assert_str_eq(before, after);
	free(before);
	free(during);
	free(after);
}
END_TEST

/* ---- recovery checks the directory against the MANIFEST ---- */

/* The base name of the first file of kind in td_dir (and its number), or NULL. */
static char *first_file(enum lsm_file_kind kind, uint64_t *number)
{
	char **names = NULL;
	size_t count = 0;
	char *found = NULL;
	lsm_env *env = lsm_env_posix();
	ck_assert_int_eq(env->list_dir(env, td_dir, &names, &count), 0);
	for (size_t i = 0; i < count && !found; i++)
		if (lsm_parse_filename(names[i], number) == kind)
			found = strdup(names[i]);
	lsm_env_free_names(names, count);
	return found;
}

/* Both kinds of open fail with -LSM_ECORRUPT naming every one of names; nothing changes. */
static void expect_open_refused(const char *const *names, int n)
{
	char *before = dir_listing();
	for (int ro = 1; ro >= 0; ro--) {
		lsm_options o;
		lsm_db *db = NULL;
		td_small_options(&o);
		o.read_only = ro;
		int rc = lsm_open(&db, td_dir, &o);
		ck_assert_msg(rc == -LSM_ECORRUPT, "%s open gave %s: %s", ro ? "read-only" : "an",
			      lsm_strerror(rc), lsm_errmsg());
		for (int i = 0; i < n; i++)
			ck_assert_msg(strstr(lsm_errmsg(), names[i]), "the message lacks %s: %s",
				      names[i], lsm_errmsg());
		char *after = dir_listing();
		ck_assert_str_eq(before, after);
		free(after);
	}
	free(before);
}

START_TEST(test_open_refuses_a_table_numbered_past_the_manifest_and_keeps_it)
{
	lsm_options o;
	lsm_db *db = td_open_small(&o);
	td_fill(db, 1000, 1);
	ck_assert_int_eq(lsm_flush(db), 0);
	ck_assert_int_eq(lsm_close(db), 0);
	/*
	 * Only lost MANIFEST edits can explain such a file: every number is
	 * logged before its file is made. Opening would delete it as obsolete.
	 */
	uint64_t num;
	char *table = first_file(LSM_FILE_TABLE, &num);
	ck_assert_ptr_nonnull(table);
	char *from = tu_path(td_dir, table), *to = tu_path(td_dir, "999999.sst");
	ck_assert_int_eq(link(from, to), 0);
	const char *names[] = {"999999.sst", "MANIFEST-"};
	expect_open_refused(names, 2);
	/* A WAL is as telling. */
	ck_assert_int_eq(unlink(to), 0);
	free(to);
	to = tu_path(td_dir, "999998.log");
	FILE *f = fopen(to, "w");
	ck_assert_ptr_nonnull(f);
	fclose(f);
	names[0] = "999998.log";
	expect_open_refused(names, 2);
	ck_assert_int_eq(unlink(to), 0);
	db = td_open(td_dir, &o);
	td_check_fill(db, NULL, 1000, 1);
	ck_assert_int_eq(lsm_close(db), 0);
	free(table);
	free(from);
	free(to);
}
END_TEST

START_TEST(test_open_refuses_a_missing_live_table_or_wal_naming_it)
{
	lsm_options o;
	lsm_db *db = td_open_small(&o);
	td_fill(db, 1000, 1);
	ck_assert_int_eq(lsm_flush(db), 0);
	ck_assert_int_eq(lsm_close(db), 0);
	uint64_t num;
	char *table = first_file(LSM_FILE_TABLE, &num), *wal = first_file(LSM_FILE_LOG, &num);
	ck_assert_ptr_nonnull(table);
	ck_assert_ptr_nonnull(wal);
	char *tp = tu_path(td_dir, table), *wp = tu_path(td_dir, wal),
	     *aside = tu_path(td_dir, "aside");
	ck_assert_int_eq(rename(tp, aside), 0);
	const char *names[] = {table, "MANIFEST-"};
	expect_open_refused(names, 2);
	ck_assert_int_eq(rename(aside, tp), 0);
	ck_assert_int_eq(rename(wp, aside), 0);
	names[0] = wal;
	expect_open_refused(names, 2);
	ck_assert_int_eq(rename(aside, wp), 0);
	db = td_open(td_dir, &o);
	td_check_fill(db, NULL, 1000, 1);
	ck_assert_int_eq(lsm_close(db), 0);
	free(table);
	free(wal);
	free(tp);
	free(wp);
	free(aside);
}
END_TEST

/*
 * The MANIFEST loses its last records from the last one that deleted a file
 * on: edits that were synced and acted on (a flush deleted its WAL, a
 * compaction its inputs). The older version left must not open, and a
 * read-write open must not delete the newer tables as obsolete.
 */
START_TEST(test_manifest_that_lost_its_last_edit_fails_open_and_deletes_nothing)
{
	lsm_options o;
	lsm_db *db = td_open_small(&o);
	td_fill(db, 3000, 1);
	ck_assert_int_eq(lsm_compact_range(db, NULL, 0, NULL, 0), 0);
	ck_assert_int_eq(lsm_close(db), 0);
	uint64_t num;
	char *manifest = first_file(LSM_FILE_MANIFEST, &num);
	ck_assert_ptr_nonnull(manifest);
	char *mp = tu_path(td_dir, manifest);
	lsm_wal_reader *r;
	lsm_slice rec;
	uint64_t off, last = 0;
	int rc;
	ck_assert_int_eq(lsm_wal_reader_open(lsm_env_posix(), mp, 1, &r), 0);
	while ((rc = lsm_wal_read(r, &rec, &off)) == 1) {
		lsm_version_edit e;
		lsm_edit_init(&e);
		ck_assert_int_eq(lsm_edit_decode(&e, rec), 0);
		if (e.ndeleted || (e.has_log_number && e.log_number))
			last = off;
		lsm_edit_free(&e);
	}
	ck_assert_int_eq(rc, 0);
	lsm_wal_reader_close(r);
	ck_assert_uint_gt(last, 0);
	ck_assert_int_eq(truncate(mp, (off_t)last), 0);
	const char *names[] = {manifest};
	expect_open_refused(names, 1);
	free(manifest);
	free(mp);
}
END_TEST

/*
 * While the db runs, every table and WAL in the directory is numbered
 * below the MANIFEST's NEXT_FILE: recovery relies on it to tell a crash's
 * leftovers from files that only lost edits can explain.
 */
START_TEST(test_every_file_is_numbered_below_the_logged_next_file)
{
	lsm_options o;
	lsm_db *db = td_open_small(&o);
	char k[32], v[96];
	for (int round = 0; round < 40; round++) {
		for (int i = 0; i < 300; i++) {
			td_key(k, sizeof(k), (round * 7919 + i * 13) % 5000);
			td_val(v, sizeof(v), i, round);
			td_put(db, k, v);
		}
		/* List first: a file made after the MANIFEST is read may lie past it. */
		char **names = NULL;
		size_t count = 0;
		lsm_env *env = lsm_env_posix();
		ck_assert_int_eq(env->list_dir(env, td_dir, &names, &count), 0);
		lsm_version_set vs;
		lsm_options vo;
		lsm_options_init(&vo);
		ck_assert_msg(lsm_vset_recover(&vs, env, td_dir, &vo) == 0, "%s", lsm_errmsg());
		for (size_t i = 0; i < count; i++) {
			uint64_t num;
			enum lsm_file_kind kind = lsm_parse_filename(names[i], &num);
			if (kind == LSM_FILE_TABLE || kind == LSM_FILE_LOG)
				ck_assert_msg(num < vs.file_limit, "round %d: %s, NEXT_FILE %llu",
					      round, names[i], (unsigned long long)vs.file_limit);
		}
		lsm_vset_destroy(&vs);
		lsm_env_free_names(names, count);
	}
	lsm_stats st;
	lsm_stats_get(db, &st);
	ck_assert_uint_gt(st.flushes, 10);
	ck_assert_int_eq(lsm_close(db), 0);
}
END_TEST

static Suite *db_suite(void)
{
	Suite *s = suite_create("db");
	TCase *tc = td_tcase(s, "basic", 60);
	tcase_add_test(tc, test_put_get_delete_overwrite);
	tcase_add_test(tc, test_get_into_reads_into_the_callers_buffer);
	tcase_add_test(tc, test_get_part_reads_any_range_of_a_value);
	tcase_add_test(tc, test_batch_applies_all_entries_in_order);
	tcase_add_test(tc, test_reopen_replays_unflushed_writes_from_wal);
	tcase_add_test(tc, test_second_open_is_busy_and_names_the_pid);
	tcase_add_test(tc, test_open_flags_create_and_exists);
	tcase_add_test(tc, test_open_refuses_a_table_numbered_past_the_manifest_and_keeps_it);
	tcase_add_test(tc, test_open_refuses_a_missing_live_table_or_wal_naming_it);
	tcase_add_test(tc, test_manifest_that_lost_its_last_edit_fails_open_and_deletes_nothing);
	tcase_add_test(tc, test_every_file_is_numbered_below_the_logged_next_file);

	tc = td_tcase(s, "tables", 60);
	tcase_add_test(tc, test_flush_then_reads_come_from_tables_and_survive_reopen);
	tcase_add_test(tc, test_many_writes_switch_memtables_and_keep_everything);

	tc = td_tcase(s, "iterators", 60);
	tcase_add_test(tc, test_iterate_both_ways_over_memtables_and_tables_with_deletions);
	tcase_add_test(tc, test_iterator_over_empty_db_is_never_valid);
	tcase_add_test(tc, test_iterator_keeps_its_view_while_the_db_changes);
	tcase_add_test(tc, test_snapshot_keeps_old_values_across_flush_and_compaction);

	tc = td_tcase(s, "maintenance", 60);
	tcase_add_test(tc, test_stats_text_names_levels_and_write_amplification);
	tcase_add_test(tc, test_verify_passes_clean_db_and_reports_damaged_table);
	tcase_add_test(tc, test_destroy_removes_the_database_and_its_directory);
	tcase_add_test(tc, test_read_only_open_changes_no_file);
	tcase_add_test(tc, test_read_only_open_leaves_the_lock_file_alone);
	return s;
}

int main(void)
{
	tu_seed();
	return tu_run_suite(db_suite());
}
