/*
 * check_version_crash.c — a failed write or sync of log_and_apply installs
 * nothing, a failed MANIFEST switch stays recoverable, and after a power cut
 * at any write or sync of log_and_apply (with and without a rollover) the
 * version set recovers the old or the new state.
 */
#include "env.h"
#include "error.h"
#include "testutil.h"
#include "version.h"
#include "version_util.h"
#include "wal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

START_TEST(test_write_or_sync_failure_installs_nothing)
{
	lsm_env *fenv = lsm_env_fault_new(lsm_env_posix());
	lsm_version_set vs;
	lsm_version_edit e;
	create(&vs, fenv);
	populate(&vs);
	const lsm_version *cur = vs.current;

	lsm_fault_fail_write(fenv, 1);
	lsm_edit_init(&e);
	edit_add(&e, 5, vs.next_file++, 5, "x", "y");
	ck_assert_int_eq(lsm_vset_log_and_apply(&vs, &e), -EIO);
	ck_assert_ptr_eq(vs.current, cur);
	lsm_edit_free(&e);

	lsm_fault_fail_sync(fenv, 1);
	lsm_edit_init(&e);
	edit_add(&e, 5, vs.next_file++, 5, "x", "y");
	ck_assert_int_eq(lsm_vset_log_and_apply(&vs, &e), -EIO);
	ck_assert_ptr_eq(vs.current, cur);
	lsm_edit_free(&e);
	ck_assert_uint_eq(vs.last_seq, 80);
	ck_assert_uint_eq(vs.log_number, 7);
	ck_assert_int_eq(vs.current->nfiles[5], 0);
	char *after;

	/* A later edit goes to a fresh MANIFEST and works. */
	lsm_fault_clear(fenv);
	lsm_edit_init(&e);
	edit_add(&e, 5, vs.next_file++, 5, "x", "y");
	apply(&vs, &e);
	ck_assert_uint_ne(vs.manifest_number, 1);
	after = dump(&vs);
	lsm_vset_destroy(&vs);
	expect_recovered(after, lsm_env_posix());
	free(after);
	fenv->destroy(fenv);
}
END_TEST

/*
 * Without a power cut the disk keeps everything that happened before the
 * failure: when CURRENT was renamed but its directory sync failed, the new
 * MANIFEST must still be there for it to name.
 */
START_TEST(test_failed_manifest_switch_without_power_cut_stays_recoverable)
{
	for (uint64_t nth = 1; nth <= 4; nth++) {
		lsm_env *fenv = lsm_env_fault_new(lsm_env_posix());
		lsm_version_set vs;
		lsm_version_edit e;
		char *sub, *saved = dir;
		ck_assert_int_ge(asprintf(&sub, "%s/%llu", dir, (unsigned long long)nth), 0);
		ck_assert_int_eq(fenv->mkdir(fenv, sub, 0755), 0);
		dir = sub;
		create(&vs, fenv);
		populate(&vs);
		lsm_vset_destroy(&vs);
		recover(&vs, fenv); /* the next edit starts a new MANIFEST */
		char *old_state = dump(&vs);
		lsm_fault_fail_sync(fenv, nth);
		lsm_edit_init(&e);
		edit_add(&e, 5, vs.next_file++, 1, "a", "b");
		ck_assert_int_eq(lsm_vset_log_and_apply(&vs, &e), -EIO);
		lsm_edit_free(&e);
		lsm_vset_destroy(&vs);

		int rc = lsm_vset_recover(&vs, lsm_env_posix(), dir, &opts);
		ck_assert_msg(rc == 0, "sync %llu failed: recover: %s", (unsigned long long)nth,
			      lsm_errmsg());
		char *got = dump(&vs);
		ck_assert_msg(!strcmp(got, old_state) || vs.current->nfiles[5] == 1,
			      "sync %llu failed: recovered\n%s", (unsigned long long)nth, got);
		lsm_vset_destroy(&vs);
		free(got);
		free(old_state);
		fenv->destroy(fenv);
		dir = saved;
		tu_rmtree(sub);
	}
}
END_TEST

enum fault_kind { FAULT_NONE, FAULT_WRITE, FAULT_SHORT_WRITE, FAULT_SYNC };

typedef struct crash_ref {
	char *old_state, *new_state;
	uint64_t writes, syncs; /* made by the log_and_apply under test */
} crash_ref;

/* The edit whose logging we interrupt: touches files, levels and counters. */
static void crash_edit(lsm_version_set *vs, lsm_version_edit *e)
{
	lsm_edit_init(e);
	ck_assert_int_eq(lsm_edit_delete_file(e, 1, 4), 0);
	edit_add(e, 4, vs->next_file++, 9000, "b", "c");
	e->has_last_seq = 1;
	e->last_seq = 500;
}

/*
 * Builds the pre-crash state: populated, and with roll set, reopened so the
 * next log_and_apply has to start a new MANIFEST and switch CURRENT.
 */
static void crash_setup(lsm_version_set *vs, lsm_env *fenv, int roll)
{
	create(vs, fenv);
	populate(vs);
	if (roll) {
		lsm_vset_destroy(vs);
		recover(vs, fenv);
	}
}

static void crash_reference(int roll, crash_ref *ref)
{
	lsm_env *fenv = lsm_env_fault_new(lsm_env_posix());
	lsm_version_set vs;
	lsm_version_edit e;
	lsm_fault_counters c0, c1;
	crash_setup(&vs, fenv, roll);
	ref->old_state = dump(&vs);
	crash_edit(&vs, &e);
	lsm_fault_counters_get(fenv, &c0);
	apply(&vs, &e);
	lsm_fault_counters_get(fenv, &c1);
	ref->new_state = dump(&vs);
	ref->writes = c1.writes - c0.writes;
	ref->syncs = (c1.syncs + c1.dir_syncs) - (c0.syncs + c0.dir_syncs);
	ck_assert_uint_ge(ref->writes, 1);
	ck_assert_uint_ge(ref->syncs, 1);
	lsm_vset_destroy(&vs);
	fenv->destroy(fenv);
}

/*
 * One crash: arm the fault, log the edit, cut the power, recover. The state
 * must be the old or the new one (the new one if log_and_apply succeeded),
 * and the database must take further edits and recover them.
 */
static void crash_once(int roll, enum fault_kind kind, uint64_t nth, const crash_ref *ref)
{
	char *sub = tu_path(dir, "db");
	char *saved = dir;
	lsm_env *fenv = lsm_env_fault_new(lsm_env_posix());
	lsm_version_set vs;
	lsm_version_edit e;
	ck_assert_int_eq(fenv->mkdir(fenv, sub, 0755), 0);
	dir = sub;
	crash_setup(&vs, fenv, roll);
	/* A fresh directory's entries are durable only once synced. */
	ck_assert_int_eq(fenv->sync_dir(fenv, dir), 0);
	crash_edit(&vs, &e);
	if (kind == FAULT_WRITE)
		lsm_fault_fail_write(fenv, nth);
	else if (kind == FAULT_SHORT_WRITE)
		lsm_fault_short_write(fenv, nth);
	else if (kind == FAULT_SYNC)
		lsm_fault_fail_sync(fenv, nth);
	int rc = lsm_vset_log_and_apply(&vs, &e);
	lsm_edit_free(&e);
	ck_assert_msg(kind == FAULT_NONE ? rc == 0 : rc < 0,
		      "roll %d fault %d nth %llu: log_and_apply gave %d", roll, kind,
		      (unsigned long long)nth, rc);
	lsm_fault_clear(fenv);
	ck_assert_int_eq(lsm_fault_power_cut(fenv), 0);
	lsm_vset_destroy(&vs);

	rc = lsm_vset_recover(&vs, fenv, dir, &opts);
	ck_assert_msg(rc == 0, "roll %d fault %d nth %llu: recover: %s", roll, kind,
		      (unsigned long long)nth, lsm_errmsg());
	char *got = dump(&vs);
	int is_old = !strcmp(got, ref->old_state), is_new = !strcmp(got, ref->new_state);
	ck_assert_msg(is_new || (is_old && kind != FAULT_NONE),
		      "roll %d fault %d nth %llu: recovered\n%s\nold\n%s\nnew\n%s", roll, kind,
		      (unsigned long long)nth, got, ref->old_state, ref->new_state);

	/* Not broken: another edit is logged and survives the next power cut. */
	lsm_edit_init(&e);
	edit_add(&e, 6, vs.next_file++, 1, "q", "r");
	apply(&vs, &e);
	char *more = dump(&vs);
	ck_assert_int_eq(lsm_fault_power_cut(fenv), 0);
	lsm_vset_destroy(&vs);
	expect_recovered(more, fenv);
	free(more);
	free(got);
	fenv->destroy(fenv);
	dir = saved;
	tu_rmtree(sub);
}

START_TEST(test_power_cut_during_log_and_apply_recovers_old_or_new_state)
{
	int roll = _i; /* 0: appending to the live MANIFEST; 1: starting a new one */
	crash_ref ref;
	char *sub = tu_path(dir, "ref");
	char *saved = dir;
	ck_assert_int_eq(lsm_env_posix()->mkdir(lsm_env_posix(), sub, 0755), 0);
	dir = sub;
	crash_reference(roll, &ref);
	dir = saved;
	tu_rmtree(sub);

	crash_once(roll, FAULT_NONE, 0, &ref); /* power cut right after success */
	for (uint64_t nth = 1; nth <= ref.writes; nth++) {
		crash_once(roll, FAULT_WRITE, nth, &ref);
		crash_once(roll, FAULT_SHORT_WRITE, nth, &ref);
	}
	for (uint64_t nth = 1; nth <= ref.syncs; nth++)
		crash_once(roll, FAULT_SYNC, nth, &ref);
	free(ref.old_state);
	free(ref.new_state);
}
END_TEST

int main(void)
{
	tu_seed();
	Suite *s = suite_create("version_crash");
	TCase *tc = tcase_create("crash");
	tcase_add_checked_fixture(tc, vu_setup, vu_teardown);
	tcase_add_test(tc, test_write_or_sync_failure_installs_nothing);
	tcase_add_test(tc, test_failed_manifest_switch_without_power_cut_stays_recoverable);
	tcase_add_loop_test(tc, test_power_cut_during_log_and_apply_recovers_old_or_new_state, 0,
			    2);
	suite_add_tcase(s, tc);
	return tu_run_suite(s);
}
