/*
 * check_db_errors.c — what the engine says about failures: a background
 * error's message, kept with its code and readable from any thread and
 * after lsm_close; the kind lsm_verify_problems gives each problem.
 */
#include "env.h"
#include "lsm.h"
#include "testutil.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *dir;

static void setup(void)
{
	dir = tu_mkdtemp("dberr");
}

static void teardown(void)
{
	tu_rmtree(dir);
	dir = NULL;
}

/* Small sizes so a few hundred keys fill a memtable worth flushing. */
static void small_options(lsm_options *o)
{
	lsm_options_init(o);
	o->memtable_bytes = 32 * 1024;
	o->block_bytes = 1024;
	o->target_file_bytes = 16 * 1024;
}

static lsm_db *open_db(const lsm_options *o)
{
	lsm_db *db = NULL;
	int rc = lsm_open(&db, dir, o);
	ck_assert_msg(rc == 0, "lsm_open: %s: %s", lsm_strerror(rc), lsm_errmsg());
	return db;
}

static void fill(lsm_db *db, int n)
{
	char k[32], v[64];
	for (int i = 0; i < n; i++) {
		snprintf(k, sizeof(k), "key%06d", i);
		snprintf(v, sizeof(v), "value-%06d-%040d", i, i);
		int rc = lsm_put(db, NULL, k, strlen(k), v, strlen(v));
		ck_assert_msg(rc == 0, "put %s: %s", k, lsm_errmsg());
	}
}

/* ---- background errors ---- */

/* What a thread other than the one that met the error sees. */
typedef struct bg_view {
	lsm_db *db;
	int rc;
	char msg[1024];
} bg_view;

static void *read_background_error(void *arg)
{
	bg_view *bv = arg;
	bv->rc = lsm_background_error(bv->db, bv->msg, sizeof(bv->msg));
	return NULL;
}

static void *close_db(void *arg)
{
	bg_view *bv = arg;
	bv->rc = lsm_close(bv->db);
	snprintf(bv->msg, sizeof(bv->msg), "%s", lsm_errmsg());
	return NULL;
}

/* Whether msg names a file of the db: its directory, then a table or a MANIFEST. */
static int names_a_db_file(const char *msg)
{
	const char *p = strstr(msg, dir);
	return p && p[strlen(dir)] == '/' && (strstr(p, ".sst") || strstr(p, "MANIFEST-"));
}

static void run_in_thread(void *(*fn)(void *), bg_view *bv)
{
	pthread_t t;
	ck_assert_int_eq(pthread_create(&t, NULL, fn, bv), 0);
	ck_assert_int_eq(pthread_join(t, NULL), 0);
}

/*
 * A background flush fails writing its table (or the MANIFEST record that
 * numbers it): the message names that file.
 */
START_TEST(test_background_error_message_names_the_file_in_any_thread_and_after_close)
{
	lsm_env *env = lsm_env_fault_new(lsm_env_posix());
	lsm_options o;
	small_options(&o);
	o.env = env;
	lsm_db *db = open_db(&o);
	char msg[1024] = "unchanged";
	ck_assert_int_eq(lsm_background_error(db, msg, sizeof(msg)), 0);
	ck_assert_str_eq(msg, "");
	fill(db, 300);
	/* The flush's table write is the next write: it fails in the background. */
	lsm_fault_fail_write(env, 1);
	ck_assert_int_eq(lsm_flush(db), -LSM_EREADONLY);
	/* This thread fails again: its own message no longer speaks of the flush. */
	ck_assert_int_eq(lsm_put(db, NULL, "k", 1, "v", 1), -LSM_EREADONLY);
	char big[LSM_MAX_KEY + 1];
	memset(big, 'x', sizeof(big));
	ck_assert_int_eq(lsm_put(db, NULL, big, sizeof(big), "v", 1), -EINVAL);
	ck_assert_ptr_null(strstr(lsm_errmsg(), "injected"));

	bg_view bv = {.db = db};
	run_in_thread(read_background_error, &bv);
	ck_assert_int_eq(bv.rc, -EIO);
	ck_assert_msg(names_a_db_file(bv.msg) && strstr(bv.msg, "injected"),
		      "the message does not name the file that failed: '%s'", bv.msg);
	char first[1024];
	snprintf(first, sizeof(first), "%s", bv.msg);

	char text[4096];
	lsm_stats_text(db, text, sizeof(text));
	ck_assert_msg(strstr(text, first), "stats text lacks the message: %s", text);

	/* lsm_close in a thread of its own leaves the same message there. */
	bv = (bg_view){.db = db};
	run_in_thread(close_db, &bv);
	ck_assert_int_eq(bv.rc, -EIO);
	ck_assert_msg(strstr(bv.msg, first), "lsm_close's message '%s' lacks '%s'", bv.msg, first);
	env->destroy(env);
}
END_TEST

/* ---- verify's kinds ---- */

typedef struct problems {
	int n, torn, corrupt, other;
	char file[512], msg[1024];
	uint64_t offset;
	int code;
} problems;

static void collect(void *arg, const lsm_verify_problem *p)
{
	problems *ps = arg;
	ps->n++;
	ps->torn += p->kind == LSM_VERIFY_TORN_TAIL;
	ps->corrupt += p->kind == LSM_VERIFY_CORRUPT;
	ps->other += p->kind != LSM_VERIFY_TORN_TAIL && p->kind != LSM_VERIFY_CORRUPT;
	snprintf(ps->file, sizeof(ps->file), "%s", p->file);
	snprintf(ps->msg, sizeof(ps->msg), "%s", p->msg);
	ps->offset = p->offset;
	ps->code = p->code;
}

static void count_report(void *arg, const char *file, uint64_t off, const char *msg)
{
	(void)file;
	(void)off;
	(void)msg;
	(*(int *)arg)++;
}

/* Runs a shell command, with $D the db's directory, and asserts it succeeded. */
static void sh(const char *cmd)
{
	ck_assert_int_eq(setenv("D", dir, 1), 0);
	ck_assert_msg(system(cmd) == 0, "failed: %s", cmd);
}

START_TEST(test_verify_calls_a_cut_short_wal_record_a_torn_tail)
{
	lsm_options o;
	small_options(&o);
	lsm_db *db = open_db(&o);
	fill(db, 50); /* stays in the WAL: lsm_close writes no table */
	ck_assert_int_eq(lsm_close(db), 0);
	/* Cut the newest WAL's last record short, as a crash in its write would. */
	sh("f=$(ls \"$D\"/*.log | sort | tail -n 1) && truncate -s -5 \"$f\"");

	/* A read-only open drops the tail from its view but leaves the file. */
	o.read_only = 1;
	db = open_db(&o);
	problems ps = {0};
	ck_assert_int_eq(lsm_verify_problems(db, collect, &ps), -LSM_ECORRUPT);
	ck_assert_int_eq(ps.n, 1);
	ck_assert_msg(ps.torn == 1, "kind is not a torn tail: %s at %llu: %s", ps.file,
		      (unsigned long long)ps.offset, ps.msg);
	ck_assert_int_eq(ps.code, -LSM_ECORRUPT);
	ck_assert_msg(strstr(ps.file, ".log"), "the report names %s", ps.file);
	ck_assert_int_gt(ps.offset, 0);
	/* lsm_verify's callback without kinds still hears of it. */
	int n = 0;
	ck_assert_int_eq(lsm_verify(db, count_report, &n), -LSM_ECORRUPT);
	ck_assert_int_eq(n, 1);
	ck_assert_int_eq(lsm_close(db), 0);
}
END_TEST

START_TEST(test_verify_calls_a_damaged_table_corrupt_not_a_torn_tail)
{
	lsm_options o;
	small_options(&o);
	o.block_cache_bytes = 0;
	lsm_db *db = open_db(&o);
	fill(db, 500);
	ck_assert_int_eq(lsm_flush(db), 0);
	problems ps = {0};
	ck_assert_int_eq(lsm_verify_problems(db, collect, &ps), 0);
	ck_assert_int_eq(ps.n, 0);
	ck_assert_int_eq(lsm_close(db), 0);
	sh("f=$(ls -S \"$D\"/*.sst | head -n 1) && printf '\\377\\377\\377\\377' | "
	   "dd of=\"$f\" bs=1 seek=100 conv=notrunc status=none");

	db = open_db(&o);
	ck_assert_int_eq(lsm_verify_problems(db, collect, &ps), -LSM_ECORRUPT);
	ck_assert_int_gt(ps.n, 0);
	ck_assert_int_eq(ps.corrupt, ps.n);
	ck_assert_int_eq(ps.torn + ps.other, 0);
	ck_assert_int_eq(ps.code, -LSM_ECORRUPT);
	ck_assert_msg(strstr(ps.file, ".sst"), "the report names %s", ps.file);
	lsm_close(db);
}
END_TEST

static Suite *db_errors_suite(void)
{
	Suite *s = suite_create("db_errors");
	TCase *tc = tcase_create("background");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc,
		       test_background_error_message_names_the_file_in_any_thread_and_after_close);
	suite_add_tcase(s, tc);

	tc = tcase_create("verify");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_verify_calls_a_cut_short_wal_record_a_torn_tail);
	tcase_add_test(tc, test_verify_calls_a_damaged_table_corrupt_not_a_torn_tail);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	tu_seed();
	return tu_run_suite(db_errors_suite());
}
