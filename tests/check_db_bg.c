/*
 * check_db_bg.c — the database when the background goes wrong or is busy:
 * a failed background write turns it read-only, a full disk and a power
 * cut keep every acknowledged (or synced) write, concurrent sync writers
 * share fsyncs (group commit), readers and writers run through flushes and
 * compactions, and L0 growth slows then stops writes.
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

/* ---- faults ---- */

START_TEST(test_background_write_error_turns_db_readonly_and_reopen_keeps_acked_data)
{
	lsm_env *env = lsm_env_fault_new(lsm_env_posix());
	lsm_options o;
	td_small_options(&o);
	o.env = env;
	lsm_db *db = td_open(td_dir, &o);
	td_fill(db, 300, 1);
	/* The flush's table write is the next write: it fails in the background. */
	lsm_fault_fail_write(env, 1);
	int rc = lsm_flush(db);
	ck_assert_msg(rc == -LSM_EREADONLY, "flush gave %d: %s", rc, lsm_errmsg());
	rc = lsm_put(db, NULL, "k", 1, "v", 1);
	ck_assert_int_eq(rc, -LSM_EREADONLY);
	ck_assert_msg(strstr(lsm_errmsg(), lsm_strerror(-EIO)),
		      "message does not name the cause: %s", lsm_errmsg());
	ck_assert_int_eq(lsm_compact_range(db, NULL, 0, NULL, 0), -LSM_EREADONLY);
	lsm_stats st;
	lsm_stats_get(db, &st);
	ck_assert_int_eq(st.background_error, -EIO);
	/* Reads keep working. */
	td_check_fill(db, NULL, 300, 1);
	ck_assert_int_eq(lsm_close(db), -EIO);

	lsm_fault_clear(env);
	db = td_open(td_dir, &o);
	td_check_fill(db, NULL, 300, 1);
	td_check_get(db, NULL, "k", NULL);
	td_put(db, "k", "v");
	ck_assert_int_eq(lsm_close(db), 0);
	env->destroy(env);
}
END_TEST

START_TEST(test_disk_full_keeps_every_acknowledged_write)
{
	lsm_env *env = lsm_env_fault_new(lsm_env_posix());
	lsm_options o;
	td_small_options(&o);
	o.env = env;
	lsm_db *db = td_open(td_dir, &o);
	lsm_fault_enospc_after(env, 200 * 1024);
	char k[32], v[96];
	int acked = 0, rc = 0;
	for (int i = 0; i < 20000; i++) {
		td_key(k, sizeof(k), i);
		td_val(v, sizeof(v), i, 1);
		rc = lsm_put(db, NULL, k, strlen(k), v, strlen(v));
		if (rc)
			break;
		acked++;
	}
	ck_assert_msg(rc != 0, "the disk never filled");
	ck_assert_int_gt(acked, 100);
	/* Whatever failed first, the db is read-only now. */
	ck_assert_int_eq(lsm_put(db, NULL, "x", 1, "y", 1), -LSM_EREADONLY);
	lsm_close(db);

	lsm_fault_clear(env);
	db = td_open(td_dir, &o);
	td_check_fill(db, NULL, acked, 1);
	ck_assert_int_eq(lsm_verify(db, NULL, NULL), 0);
	ck_assert_int_eq(lsm_close(db), 0);
	env->destroy(env);
}
END_TEST

START_TEST(test_power_cut_keeps_a_prefix_including_every_synced_write)
{
	lsm_env *env = lsm_env_fault_new(lsm_env_posix());
	lsm_options o;
	td_small_options(&o);
	o.env = env;
	lsm_db *db = td_open(td_dir, &o);
	char k[32], v[96];
	int last_synced = -1;
	for (int i = 0; i < 2000; i++) {
		lsm_write_options wo = {.sync = i % 97 == 0};
		td_key(k, sizeof(k), i);
		td_val(v, sizeof(v), i, 1);
		ck_assert_int_eq(lsm_put(db, &wo, k, strlen(k), v, strlen(v)), 0);
		if (wo.sync)
			last_synced = i;
	}
	ck_assert_int_eq(lsm_fault_power_cut(env), 0);
	lsm_close(db); /* its handles are dead; errors are expected */

	db = td_open(td_dir, &o);
	int present = 0;
	for (int i = 0; i < 2000; i++) {
		td_key(k, sizeof(k), i);
		void *val;
		size_t vlen;
		int rc = lsm_get(db, NULL, k, strlen(k), &val, &vlen);
		ck_assert_int_ge(rc, 0);
		if (rc == 0) {
			ck_assert_msg(present == i, "key %d present after a gap at %d", i, present);
			present++;
			free(val);
		}
	}
	ck_assert_int_gt(present, last_synced);
	ck_assert_int_eq(lsm_close(db), 0);
	env->destroy(env);
}
END_TEST

/* ---- concurrency ---- */

/* An env whose WAL syncs take a while, as on a real disk, so writers pile up. */
static lsm_env slow_env;

static int slow_datasync(lsm_env *env, lsm_file *f)
{
	(void)env;
	usleep(1000);
	return lsm_env_posix()->datasync(lsm_env_posix(), f);
}

typedef struct writer_arg {
	lsm_db *db;
	int id, n;
	int sync;
} writer_arg;

static void *writer_main(void *p)
{
	writer_arg *a = p;
	lsm_write_options wo = {.sync = a->sync};
	char k[32], v[64];
	for (int i = 0; i < a->n; i++) {
		snprintf(k, sizeof(k), "t%d-%05d", a->id, i);
		snprintf(v, sizeof(v), "value %d %d", a->id, i);
		if (lsm_put(a->db, &wo, k, strlen(k), v, strlen(v)))
			return (void *)1;
	}
	return NULL;
}

static void check_writers(lsm_db *db, int nthreads, int n)
{
	char k[32], v[64];
	for (int t = 0; t < nthreads; t++)
		for (int i = 0; i < n; i++) {
			snprintf(k, sizeof(k), "t%d-%05d", t, i);
			snprintf(v, sizeof(v), "value %d %d", t, i);
			td_check_get(db, NULL, k, v);
		}
}

START_TEST(test_concurrent_sync_writers_share_fsyncs)
{
	slow_env = *lsm_env_posix();
	slow_env.datasync = slow_datasync;
	lsm_options o;
	lsm_options_init(&o);
	o.env = &slow_env;
	lsm_db *db = td_open(td_dir, &o);
	enum { THREADS = 8, PER = 100 };
	pthread_t th[THREADS];
	writer_arg args[THREADS];
	for (int t = 0; t < THREADS; t++) {
		args[t] = (writer_arg){db, t, PER, 1};
		ck_assert_int_eq(pthread_create(&th[t], NULL, writer_main, &args[t]), 0);
	}
	for (int t = 0; t < THREADS; t++) {
		void *ret;
		pthread_join(th[t], &ret);
		ck_assert_ptr_null(ret);
	}
	check_writers(db, THREADS, PER);
	lsm_stats st;
	lsm_stats_get(db, &st);
	ck_assert_uint_eq(st.batches, THREADS * PER);
	ck_assert_msg(st.syncs < st.batches, "%llu syncs for %llu writes: no group commit",
		      (unsigned long long)st.syncs, (unsigned long long)st.batches);
	ck_assert_int_eq(lsm_close(db), 0);
	db = td_open(td_dir, &o);
	check_writers(db, THREADS, PER);
	ck_assert_int_eq(lsm_close(db), 0);
}
END_TEST

typedef struct reader_arg {
	lsm_db *db;
	int stop; /* atomic */
	int errors;
	uint64_t max_imm;
} reader_arg;

static void *reader_main(void *p)
{
	reader_arg *a = p;
	while (!__atomic_load_n(&a->stop, __ATOMIC_ACQUIRE)) {
		lsm_iter *it = lsm_iter_new(a->db, NULL);
		char prev[32] = "";
		int n = 0;
		for (lsm_iter_seek_first(it); lsm_iter_valid(it) && n < 2000; lsm_iter_next(it)) {
			size_t kl;
			const char *k = lsm_iter_key(it, &kl);
			char cur[32];
			snprintf(cur, sizeof(cur), "%.*s", (int)kl, k);
			if (strcmp(prev, cur) >= 0)
				a->errors++;
			memcpy(prev, cur, sizeof(cur));
			n++;
		}
		if (lsm_iter_status(it))
			a->errors++;
		lsm_iter_free(it);
		void *val;
		size_t vlen;
		if (lsm_get(a->db, NULL, "t0-00000", 8, &val, &vlen) == 0) {
			if (strcmp(val, "value 0 0"))
				a->errors++;
			free(val);
		}
		lsm_stats st;
		lsm_stats_get(a->db, &st);
		if (st.immutable_memtables > a->max_imm)
			a->max_imm = st.immutable_memtables;
	}
	return NULL;
}

START_TEST(test_concurrent_writers_and_readers_through_flushes_and_compactions)
{
	lsm_options o;
	lsm_db *db = td_open_small(&o);
	enum { THREADS = 4, PER = 1500 };
	pthread_t th[THREADS], rd;
	writer_arg args[THREADS];
	reader_arg ra = {.db = db};
	ck_assert_int_eq(pthread_create(&rd, NULL, reader_main, &ra), 0);
	for (int t = 0; t < THREADS; t++) {
		args[t] = (writer_arg){db, t, PER, 0};
		ck_assert_int_eq(pthread_create(&th[t], NULL, writer_main, &args[t]), 0);
	}
	for (int t = 0; t < THREADS; t++) {
		void *ret;
		pthread_join(th[t], &ret);
		ck_assert_ptr_null(ret);
	}
	__atomic_store_n(&ra.stop, 1, __ATOMIC_RELEASE);
	pthread_join(rd, NULL);
	ck_assert_int_eq(ra.errors, 0);
	/* Memory stays bounded: never more immutable memtables than allowed. */
	ck_assert_uint_le(ra.max_imm, (uint64_t)o.max_immutable_memtables);
	check_writers(db, THREADS, PER);
	lsm_stats st;
	lsm_stats_get(db, &st);
	ck_assert_uint_gt(st.flushes, 3);
	ck_assert_uint_gt(st.compactions, 0);
	ck_assert_int_eq(lsm_verify(db, NULL, NULL), 0);
	ck_assert_int_eq(lsm_close(db), 0);
}
END_TEST

START_TEST(test_l0_growth_slows_then_stops_writes)
{
	lsm_options o;
	td_small_options(&o);
	o.l0_compaction_trigger = 1;
	o.l0_slowdown_trigger = 1;
	o.l0_stop_trigger = 2;
	lsm_db *db = td_open(td_dir, &o);
	/* Scattered keys, so each flush overlaps L0 and lands there. */
	char k[32], v[96];
	for (int j = 0; j < 3000; j++) {
		int i = (int)((uint64_t)j * 7919 % 3000);
		td_key(k, sizeof(k), i);
		td_val(v, sizeof(v), i, 1);
		td_put(db, k, v);
	}
	lsm_stats st;
	lsm_stats_get(db, &st);
	ck_assert_uint_gt(st.stall_slowdowns + st.stall_stops, 0);
	ck_assert_uint_gt(st.stall_micros, 0);
	td_check_fill(db, NULL, 3000, 1);
	ck_assert_int_eq(lsm_close(db), 0);
}
END_TEST

static Suite *db_bg_suite(void)
{
	Suite *s = suite_create("db_bg");
	TCase *tc = td_tcase(s, "faults", 60);
	tcase_add_test(tc,
		       test_background_write_error_turns_db_readonly_and_reopen_keeps_acked_data);
	tcase_add_test(tc, test_disk_full_keeps_every_acknowledged_write);
	tcase_add_test(tc, test_power_cut_keeps_a_prefix_including_every_synced_write);

	tc = td_tcase(s, "concurrency", 60);
	tcase_add_test(tc, test_concurrent_sync_writers_share_fsyncs);
	tcase_add_test(tc, test_concurrent_writers_and_readers_through_flushes_and_compactions);
	tcase_add_test(tc, test_l0_growth_slows_then_stops_writes);
	return s;
}

int main(void)
{
	tu_seed();
	return tu_run_suite(db_bg_suite());
}
