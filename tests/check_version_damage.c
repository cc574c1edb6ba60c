/*
 * check_version_damage.c — a missing or damaged CURRENT or MANIFEST is
 * refused naming the file; a torn last record gives back the state before
 * it; impossible edits and a newer format are refused. (The version set's
 * own suite is check_version.)
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

static void write_text(const char *name, const void *data, size_t len)
{
	char *p = tu_path(dir, name);
	lsm_env *env = lsm_env_posix();
	lsm_file *f;
	ck_assert_int_eq(env->open_file(env, p, LSM_O_WRITE | LSM_O_CREATE | LSM_O_TRUNC, &f), 0);
	if (len)
		ck_assert_int_eq(env->append(env, f, data, len), 0);
	ck_assert_int_eq(env->close(env, f), 0);
	free(p);
}

static void expect_recover_error(int code, const char *needle)
{
	lsm_version_set vs;
	int rc = lsm_vset_recover(&vs, lsm_env_posix(), dir, &opts);
	ck_assert_msg(rc == code, "recover gave %d (%s), expected %d", rc, lsm_errmsg(), code);
	if (needle)
		ck_assert_msg(strstr(lsm_errmsg(), needle), "message \"%s\" lacks \"%s\"",
			      lsm_errmsg(), needle);
}

START_TEST(test_missing_current_is_not_a_database)
{
	expect_recover_error(-LSM_ENOTDB, dir);
}
END_TEST

START_TEST(test_damaged_current_is_corruption_naming_it)
{
	static const char *bad[] = {
		"",
		"MANIFEST-000001",		      /* no newline */
		"MANIFEST-\n",			      /* no number */
		"MANIFEST-00x001\n",		      /* not digits */
		"MANIFEST-000001\n\n",		      /* trailing junk */
		"manifest-000001\n",		      /* wrong name */
		"MANIFEST-99999999999999999999999\n", /* overflows */
		"\xff\xfe garbage",
	};
	lsm_version_set vs;
	create(&vs, lsm_env_posix());
	lsm_vset_destroy(&vs);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		write_text("CURRENT", bad[i], strlen(bad[i]));
		expect_recover_error(-LSM_ECORRUPT, "CURRENT");
	}
	write_text("CURRENT", "MANIFEST-000001\n", 16);
	recover(&vs, lsm_env_posix());
	lsm_vset_destroy(&vs);
}
END_TEST

START_TEST(test_missing_manifest_is_corruption_naming_it)
{
	lsm_version_set vs;
	create(&vs, lsm_env_posix());
	populate(&vs);
	lsm_vset_destroy(&vs);
	char *p = tu_path(dir, "MANIFEST-000001");
	ck_assert_int_eq(unlink(p), 0);
	expect_recover_error(-LSM_ECORRUPT, "MANIFEST-000001");
	/* CURRENT naming a MANIFEST that never existed. */
	write_text("CURRENT", "MANIFEST-000042\n", 16);
	expect_recover_error(-LSM_ECORRUPT, "MANIFEST-000042");
	free(p);
}
END_TEST

/* Offsets of every record of the MANIFEST at name. */
static int record_offsets(const char *name, uint64_t *offs, int max)
{
	char *p = tu_path(dir, name);
	lsm_wal_reader *r;
	lsm_slice rec;
	uint64_t off;
	int n = 0, rc;
	ck_assert_int_eq(lsm_wal_reader_open(lsm_env_posix(), p, 1, &r), 0);
	while ((rc = lsm_wal_read(r, &rec, &off)) == 1) {
		ck_assert_int_lt(n, max);
		offs[n++] = off;
	}
	ck_assert_int_eq(rc, 0);
	lsm_wal_reader_close(r);
	free(p);
	return n;
}

static void flip_byte(const char *name, uint64_t off)
{
	char *p = tu_path(dir, name);
	lsm_env *env = lsm_env_posix();
	lsm_file *f;
	uint8_t b;
	size_t n;
	ck_assert_int_eq(env->open_file(env, p, LSM_O_READ | LSM_O_WRITE, &f), 0);
	ck_assert_int_eq(env->pread(env, f, &b, 1, off, &n), 0);
	ck_assert_uint_eq(n, 1);
	b ^= 0x40;
	ck_assert_int_eq(env->pwrite(env, f, &b, 1, off), 0);
	ck_assert_int_eq(env->close(env, f), 0);
	free(p);
}

START_TEST(test_flipped_byte_mid_manifest_is_corruption_naming_it)
{
	lsm_version_set vs;
	lsm_version_edit e;
	create(&vs, lsm_env_posix());
	populate(&vs);
	for (int i = 0; i < 30; i++) {
		lsm_edit_init(&e);
		edit_add(&e, 0, vs.next_file++, 10, "k", "m");
		apply(&vs, &e);
	}
	lsm_vset_destroy(&vs);
	uint64_t offs[64];
	int n = record_offsets("MANIFEST-000001", offs, 64);
	ck_assert_int_ge(n, 20);
	/* A payload byte of a record in the middle: later records are intact. */
	flip_byte("MANIFEST-000001", offs[n / 2] + LSM_WAL_HEADER + 1);
	expect_recover_error(-LSM_ECORRUPT, "MANIFEST-000001");
}
END_TEST

START_TEST(test_torn_last_record_recovers_previous_state)
{
	lsm_version_set vs;
	lsm_version_edit e;
	create(&vs, lsm_env_posix());
	populate(&vs);
	char *before = dump(&vs);
	lsm_edit_init(&e);
	edit_add(&e, 5, vs.next_file++, 5, "x", "y");
	apply(&vs, &e);
	lsm_vset_destroy(&vs);

	/* Cut the last record short, as a crash in the middle of its write would. */
	char *p = tu_path(dir, "MANIFEST-000001");
	lsm_env *env = lsm_env_posix();
	lsm_file *f;
	uint64_t size = file_size("MANIFEST-000001");
	ck_assert_int_eq(env->open_file(env, p, LSM_O_WRITE, &f), 0);
	ck_assert_int_eq(env->truncate(env, f, size - 5), 0);
	ck_assert_int_eq(env->close(env, f), 0);

	recover(&vs, lsm_env_posix());
	char *after = dump(&vs);
	ck_assert_str_eq(before, after);
	lsm_vset_destroy(&vs);

	/* paranoid_checks refuses even a torn tail. */
	opts.paranoid_checks = 1;
	expect_recover_error(-LSM_ECORRUPT, "MANIFEST-000001");
	free(p);
	free(before);
	free(after);
}
END_TEST

/* Writes a MANIFEST-000001 of the given encoded edits and points CURRENT at it. */
static void write_manifest(const lsm_version_edit *edits, int n, const uint8_t *raw, size_t rawlen)
{
	char *p = tu_path(dir, "MANIFEST-000001");
	lsm_wal_writer *w;
	ck_assert_int_eq(lsm_wal_writer_open(lsm_env_posix(), p, &w), 0);
	for (int i = 0; i < n; i++) {
		lsm_buf b;
		lsm_buf_init(&b);
		ck_assert_int_eq(lsm_edit_encode(&edits[i], &b), 0);
		ck_assert_int_eq(lsm_wal_add_record(w, b.data, b.len), 0);
		lsm_buf_free(&b);
	}
	if (raw)
		ck_assert_int_eq(lsm_wal_add_record(w, raw, rawlen), 0);
	ck_assert_int_eq(lsm_wal_sync(w), 0);
	ck_assert_int_eq(lsm_wal_writer_close(w), 0);
	write_text("CURRENT", "MANIFEST-000001\n", 16);
	free(p);
}

START_TEST(test_manifest_with_impossible_edits_is_corruption)
{
	lsm_version_edit e[2];
	lsm_edit_init(&e[0]);
	e[0].has_log_number = e[0].has_next_file = e[0].has_last_seq = 1;
	e[0].next_file = 10;
	edit_add(&e[0], 1, 5, 1, "a", "b");

	/* Deleting a file that is not there. */
	lsm_edit_init(&e[1]);
	ck_assert_int_eq(lsm_edit_delete_file(&e[1], 1, 6), 0);
	write_manifest(e, 2, NULL, 0);
	expect_recover_error(-LSM_ECORRUPT, "MANIFEST-000001");
	lsm_edit_free(&e[1]);

	/* Adding a file that is already live. */
	lsm_edit_init(&e[1]);
	edit_add(&e[1], 2, 5, 1, "c", "d");
	write_manifest(e, 2, NULL, 0);
	expect_recover_error(-LSM_ECORRUPT, "MANIFEST-000001");
	lsm_edit_free(&e[1]);

	/* A record that is not an edit at all. */
	static const uint8_t junk[] = {0x42, 0x42, 0x42};
	write_manifest(e, 1, junk, sizeof(junk));
	expect_recover_error(-LSM_ECORRUPT, "MANIFEST-000001");

	/* A snapshot lacking the counters. */
	lsm_edit_init(&e[1]);
	write_manifest(&e[1], 1, NULL, 0);
	expect_recover_error(-LSM_ECORRUPT, "MANIFEST-000001");

	/* An empty MANIFEST. */
	write_manifest(e, 0, NULL, 0);
	expect_recover_error(-LSM_ECORRUPT, "MANIFEST-000001");

	/* And the consistent one recovers. */
	write_manifest(e, 1, NULL, 0);
	lsm_version_set vs;
	recover(&vs, lsm_env_posix());
	ck_assert_int_eq(vs.current->nfiles[1], 1);
	ck_assert_uint_eq(vs.next_file, 10);
	lsm_vset_destroy(&vs);
	lsm_edit_free(&e[0]);
}
END_TEST

START_TEST(test_manifest_of_a_newer_format_is_eversion)
{
	static const uint8_t newer[] = {0x01, 0x03, 0x00}; /* 2 is ours (blob uses) */
	write_manifest(NULL, 0, newer, sizeof(newer));
	expect_recover_error(-LSM_EVERSION, "MANIFEST-000001");
}
END_TEST

int main(void)
{
	tu_seed();
	Suite *s = suite_create("version_damage");
	TCase *tc = tcase_create("damage");
	tcase_add_checked_fixture(tc, vu_setup, vu_teardown);
	tcase_add_test(tc, test_missing_current_is_not_a_database);
	tcase_add_test(tc, test_damaged_current_is_corruption_naming_it);
	tcase_add_test(tc, test_missing_manifest_is_corruption_naming_it);
	tcase_add_test(tc, test_flipped_byte_mid_manifest_is_corruption_naming_it);
	tcase_add_test(tc, test_torn_last_record_recovers_previous_state);
	tcase_add_test(tc, test_manifest_with_impossible_edits_is_corruption);
	tcase_add_test(tc, test_manifest_of_a_newer_format_is_eversion);
	suite_add_tcase(s, tc);
	return tu_run_suite(s);
}
