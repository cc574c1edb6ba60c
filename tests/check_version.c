/*
 * check_version.c — the version set rebuilds exactly the state it logged:
 * files, keys, sizes and counters; level 0 newest first, the other levels
 * sorted; inconsistent edits refused; old versions keep their files while
 * referenced; recovery starts a new MANIFEST and the MANIFEST rolls over.
 * Queries (overlapping files, find_file, compaction scores) match brute force.
 *
 * The other version suites: check_version_edit (encoding), _damage (damaged
 * CURRENT and MANIFEST), _crash (failed writes and power cuts).
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

static char *read_text(const char *name)
{
	char *p = tu_path(dir, name);
	uint8_t *data;
	size_t len;
	ck_assert_int_eq(lsm_env_read_all(lsm_env_posix(), p, &data, &len), 0);
	free(p);
	return (char *)data; /* lsm_env_read_all NUL-terminates */
}

static char *manifest_name(uint64_t number)
{
	char *s;
	ck_assert_int_ge(asprintf(&s, "MANIFEST-%06llu", (unsigned long long)number), 0);
	return s;
}

/* ---- the version set ---- */

START_TEST(test_create_writes_manifest_1_and_current)
{
	lsm_version_set vs;
	create(&vs, lsm_env_posix());
	ck_assert_uint_eq(vs.manifest_number, 1);
	ck_assert_uint_eq(vs.next_file, 2);
	ck_assert_uint_eq(vs.last_seq, 0);
	ck_assert_uint_eq(vs.log_number, 0);
	for (int level = 0; level < LSM_MAX_LEVELS; level++)
		ck_assert_int_eq(vs.current->nfiles[level], 0);
	char *cur = read_text("CURRENT");
	ck_assert_str_eq(cur, "MANIFEST-000001\n");
	free(cur);
	lsm_vset_destroy(&vs);

	recover(&vs, lsm_env_posix());
	ck_assert_uint_eq(vs.next_file, 2);
	ck_assert_uint_eq(vs.manifest_number, 1);
	lsm_vset_destroy(&vs);
}
END_TEST

START_TEST(test_recover_rebuilds_files_keys_sizes_and_counters)
{
	lsm_version_set vs;
	create(&vs, lsm_env_posix());
	populate(&vs);
	char *before = dump(&vs);
	/* The state populate() built: files 2..7, of which 4, 5, 6, 7 are live. */
	ck_assert_int_eq(vs.current->nfiles[0], 0);
	ck_assert_int_eq(vs.current->nfiles[1], 2);
	ck_assert_int_eq(vs.current->nfiles[2], 1);
	ck_assert_int_eq(vs.current->nfiles[3], 1);
	ck_assert_uint_eq(vs.last_seq, 80);
	ck_assert_uint_eq(vs.log_number, 7);
	ck_assert_int_eq(lsm_vset_is_live(&vs, 2), 0); /* deleted from L0 */
	ck_assert_int_eq(lsm_vset_is_live(&vs, 4), 1);
	ck_assert_int_eq(lsm_vset_is_live(&vs, 7), 1); /* moved to L3 */
	lsm_vset_destroy(&vs);

	recover(&vs, lsm_env_posix());
	char *after = dump(&vs);
	ck_assert_str_eq(before, after);
	ck_assert_int_eq(lsm_vset_is_live(&vs, 7), 1);
	ck_assert_int_eq(lsm_vset_is_live(&vs, 3), 0);
	lsm_vset_destroy(&vs);
	free(before);
	free(after);
}
END_TEST

START_TEST(test_level0_is_newest_first_and_levels_sorted_by_key)
{
	lsm_version_set vs;
	lsm_version_edit e;
	create(&vs, lsm_env_posix());
	lsm_edit_init(&e);
	edit_add(&e, 0, 5, 1, "a", "z");
	edit_add(&e, 0, 9, 1, "a", "z");
	edit_add(&e, 0, 7, 1, "a", "z");
	edit_add(&e, 1, 11, 1, "m", "n");
	edit_add(&e, 1, 10, 1, "x", "y");
	edit_add(&e, 1, 12, 1, "a", "b");
	apply(&vs, &e);
	const lsm_version *v = vs.current;
	ck_assert_uint_eq(v->files[0][0]->number, 9);
	ck_assert_uint_eq(v->files[0][1]->number, 7);
	ck_assert_uint_eq(v->files[0][2]->number, 5);
	ck_assert_uint_eq(v->files[1][0]->number, 12);
	ck_assert_uint_eq(v->files[1][1]->number, 11);
	ck_assert_uint_eq(v->files[1][2]->number, 10);
	/* log_and_apply keeps next_file past every number it has seen added. */
	ck_assert_uint_ge(vs.next_file, 13);
	lsm_vset_destroy(&vs);
}
END_TEST

START_TEST(test_counters_default_from_the_set_and_next_file_never_goes_back)
{
	lsm_version_set vs;
	lsm_version_edit e;
	create(&vs, lsm_env_posix());
	populate(&vs);
	uint64_t next = vs.next_file;

	lsm_edit_init(&e); /* an edit without counters keeps the set's */
	edit_add(&e, 5, vs.next_file++, 1, "a", "b");
	apply(&vs, &e);
	ck_assert_uint_eq(vs.log_number, 7);
	ck_assert_uint_eq(vs.last_seq, 80);
	ck_assert_uint_eq(vs.next_file, next + 1);

	/*
	 * Numbers handed out for files no edit names yet (a new WAL, a table
	 * being written): a stale next_file in the MANIFEST would let recovery
	 * hand them out again and clobber those files.
	 */
	vs.next_file += 5;
	lsm_edit_init(&e);
	e.has_next_file = 1;
	e.next_file = 3;
	e.has_last_seq = 1;
	e.last_seq = 90;
	apply(&vs, &e);
	ck_assert_uint_eq(vs.next_file, next + 6);
	ck_assert_uint_eq(vs.last_seq, 90);
	char *state = dump(&vs);
	lsm_vset_destroy(&vs);

	expect_recovered(state, lsm_env_posix());
	free(state);
}
END_TEST

/*
 * Recovery takes a file numbered at or past the logged NEXT_FILE as proof
 * that the MANIFEST lost edits, so a file may only be made under a logged
 * limit: every edit logs one past the numbers handed out, with room to
 * spare, and never a lower one than before; after recovery nothing below
 * it is handed out, since any of those numbers may name a file.
 */
START_TEST(test_next_file_is_logged_ahead_of_the_numbers_handed_out)
{
	lsm_version_set vs;
	lsm_version_edit e;
	create(&vs, lsm_env_posix());
	ck_assert_uint_eq(vs.file_limit, 2);
	/* An edit of counters only: it hands nothing out, it makes room. */
	lsm_edit_init(&e);
	apply(&vs, &e);
	ck_assert_uint_eq(vs.next_file, 2);
	ck_assert_uint_ge(vs.file_limit, vs.next_file + 8);

	/* Numbers below the limit need no edit; the next edit moves the limit on. */
	uint64_t limit = vs.file_limit, a = vs.next_file++, b = vs.next_file++;
	ck_assert_uint_lt(b, limit);
	lsm_edit_init(&e);
	edit_add(&e, 0, a, 1, "a", "b");
	apply(&vs, &e);
	ck_assert_uint_eq(vs.next_file, b + 1);
	ck_assert_uint_gt(vs.file_limit, limit);

	/* A lower next_file in an edit lowers nothing. */
	limit = vs.file_limit;
	lsm_edit_init(&e);
	e.has_next_file = 1;
	e.next_file = 3;
	apply(&vs, &e);
	ck_assert_uint_eq(vs.file_limit, limit);
	ck_assert_uint_eq(vs.next_file, b + 1);
	lsm_vset_destroy(&vs);

	recover(&vs, lsm_env_posix());
	ck_assert_uint_eq(vs.file_limit, limit);
	ck_assert_uint_eq(vs.next_file, limit);
	lsm_vset_destroy(&vs);
}
END_TEST

START_TEST(test_inconsistent_edits_are_rejected_and_install_nothing)
{
	lsm_version_set vs;
	lsm_version_edit e;
	create(&vs, lsm_env_posix());
	populate(&vs);
	char *before = dump(&vs);
	const lsm_version *cur = vs.current;
	uint64_t mbytes = vs.manifest_bytes;

	lsm_edit_init(&e); /* delete a file that is not there */
	ck_assert_int_eq(lsm_edit_delete_file(&e, 1, 999), 0);
	ck_assert_int_eq(lsm_vset_log_and_apply(&vs, &e), -LSM_ECORRUPT);
	ck_assert_ptr_nonnull(strstr(lsm_errmsg(), "999"));
	lsm_edit_free(&e);

	lsm_edit_init(&e); /* file 4 lives in L1, not L2 */
	ck_assert_int_eq(lsm_edit_delete_file(&e, 2, 4), 0);
	ck_assert_int_eq(lsm_vset_log_and_apply(&vs, &e), -LSM_ECORRUPT);
	lsm_edit_free(&e);

	lsm_edit_init(&e); /* add a number that is live */
	edit_add(&e, 4, 4, 1, "a", "b");
	ck_assert_int_eq(lsm_vset_log_and_apply(&vs, &e), -LSM_ECORRUPT);
	lsm_edit_free(&e);

	lsm_edit_init(&e); /* add the same number twice */
	edit_add(&e, 5, 100, 1, "a", "b");
	edit_add(&e, 6, 100, 1, "a", "b");
	ck_assert_int_eq(lsm_vset_log_and_apply(&vs, &e), -LSM_ECORRUPT);
	lsm_edit_free(&e);

	lsm_edit_init(&e); /* overlap in a sorted level: L1 holds a..f and g..p */
	edit_add(&e, 1, 101, 1, "e", "h");
	ck_assert_int_eq(lsm_vset_log_and_apply(&vs, &e), -LSM_ECORRUPT);
	ck_assert_ptr_nonnull(strstr(lsm_errmsg(), "overlap"));
	lsm_edit_free(&e);

	ck_assert_ptr_eq(vs.current, cur);
	ck_assert_uint_eq(vs.manifest_bytes, mbytes); /* nothing was logged */
	char *after = dump(&vs);
	ck_assert_str_eq(before, after);
	free(after);
	lsm_vset_destroy(&vs);

	recover(&vs, lsm_env_posix());
	after = dump(&vs);
	ck_assert_str_eq(before, after);
	lsm_vset_destroy(&vs);
	free(before);
	free(after);
}
END_TEST

START_TEST(test_old_version_keeps_its_files_while_referenced)
{
	lsm_version_set vs;
	lsm_version_edit e;
	create(&vs, lsm_env_posix());
	populate(&vs);
	lsm_version *old = vs.current;
	lsm_version_ref(old);
	lsm_file_meta *m = old->files[1][0];
	uint64_t number = m->number;

	lsm_edit_init(&e);
	ck_assert_int_eq(lsm_edit_delete_file(&e, 1, number), 0);
	apply(&vs, &e);
	ck_assert_ptr_ne(vs.current, old);
	ck_assert_int_eq(lsm_vset_is_live(&vs, number), 0);
	/* The old version and its meta stay intact (ASan would flag a use after free). */
	ck_assert_uint_eq(m->number, number);
	ck_assert_int_eq(m->refs, 1);
	ck_assert_int_eq(old->refs, 1);
	/* A file in both versions is shared, not copied. */
	ck_assert_ptr_eq(old->files[2][0], vs.current->files[2][0]);
	ck_assert_int_eq(old->files[2][0]->refs, 2);
	lsm_version_unref(old);
	ck_assert_int_eq(vs.current->files[2][0]->refs, 1);
	lsm_vset_destroy(&vs);
}
END_TEST

START_TEST(test_recover_starts_new_manifest_and_switches_current)
{
	lsm_version_set vs;
	lsm_version_edit e;
	create(&vs, lsm_env_posix());
	populate(&vs);
	lsm_vset_destroy(&vs);

	recover(&vs, lsm_env_posix());
	uint64_t old = vs.manifest_number;
	ck_assert_uint_eq(old, 1);
	uint64_t fnum = vs.next_file++;
	lsm_edit_init(&e);
	edit_add(&e, 4, fnum, 77, "k", "l");
	apply(&vs, &e);
	/* The new MANIFEST takes the next free number, and next_file moves past it. */
	uint64_t expect_new = fnum + 1;
	ck_assert_uint_eq(vs.manifest_number, expect_new);
	ck_assert_uint_gt(vs.next_file, expect_new);
	char *want = manifest_name(vs.manifest_number);
	char *cur = read_text("CURRENT");
	ck_assert_int_eq(strlen(cur), strlen(want) + 1);
	ck_assert_int_eq(memcmp(cur, want, strlen(want)), 0);
	ck_assert_int_eq(lsm_parse_filename(want, NULL), LSM_FILE_MANIFEST);
	char *state = dump(&vs);
	/* One more edit goes to the same new MANIFEST. */
	lsm_edit_init(&e);
	ck_assert_int_eq(lsm_edit_delete_file(&e, 4, fnum), 0);
	apply(&vs, &e);
	ck_assert_uint_eq(vs.manifest_number, expect_new);
	free(state);
	state = dump(&vs);
	lsm_vset_destroy(&vs);

	/* The old MANIFEST is obsolete: without it the state is intact. */
	char *oldname = manifest_name(old);
	char *oldpath = tu_path(dir, oldname);
	ck_assert_int_eq(unlink(oldpath), 0);
	expect_recovered(state, lsm_env_posix());
	free(state);
	free(oldpath);
	free(oldname);
	free(cur);
	free(want);
}
END_TEST

/* Adds 8 L0 files with 64 KiB keys: about 1 MiB of MANIFEST. Returns the first number. */
static uint64_t big_add(lsm_version_set *vs, uint8_t *key, size_t klen)
{
	lsm_version_edit e;
	uint64_t first = vs->next_file;
	lsm_edit_init(&e);
	for (int i = 0; i < 8; i++) {
		uint64_t n = vs->next_file++;
		lsm_put_be64(key, n);
		lsm_ikey_make(key + klen, "", 0, 1, LSM_TYPE_VALUE); /* trailer after the key */
		lsm_slice k = lsm_slice_of(key, klen + 8);
		ck_assert_int_eq(lsm_edit_add_file(&e, 0, n, 1, k, k, 1, 1), 0);
	}
	apply(vs, &e);
	return first;
}

static void big_delete(lsm_version_set *vs, uint64_t first)
{
	lsm_version_edit e;
	lsm_edit_init(&e);
	for (int i = 0; i < 8; i++)
		ck_assert_int_eq(lsm_edit_delete_file(&e, 0, first + (uint64_t)i), 0);
	apply(vs, &e);
}

START_TEST(test_manifest_rolls_over_past_4mib)
{
	lsm_version_set vs;
	size_t klen = LSM_MAX_KEY;
	uint8_t *key = calloc(1, klen + 8);
	ck_assert_ptr_nonnull(key);
	create(&vs, lsm_env_posix());
	populate(&vs);
	int rolls = 0;
	uint64_t first = 0;
	/* 12 steps of ~1 MiB and ~0: one rollover, past the 4th MiB, not two. */
	for (int step = 0; step < 12; step++) {
		uint64_t before = vs.manifest_number;
		uint64_t bytes = vs.manifest_bytes;
		if (step % 2 == 0)
			first = big_add(&vs, key, klen);
		else
			big_delete(&vs, first);
		if (vs.manifest_number != before) {
			ck_assert_uint_gt(bytes, UINT64_C(4) << 20);
			rolls++;
		} else {
			ck_assert_uint_le(bytes, UINT64_C(4) << 20);
		}
	}
	ck_assert_int_eq(rolls, 1);
	char *name = manifest_name(vs.manifest_number);
	ck_assert_uint_eq(file_size(name), vs.manifest_bytes);
	ck_assert_uint_lt(vs.manifest_bytes, UINT64_C(4) << 20);
	char *cur = read_text("CURRENT");
	ck_assert_int_eq(memcmp(cur, name, strlen(name)), 0);
	char *state = dump(&vs);
	lsm_vset_destroy(&vs);
	expect_recovered(state, lsm_env_posix());
	free(state);
	free(cur);
	free(name);
	free(key);
}
END_TEST

START_TEST(test_large_live_state_does_not_roll_at_every_edit)
{
	lsm_version_set vs;
	size_t klen = LSM_MAX_KEY;
	uint8_t *key = calloc(1, klen + 8);
	ck_assert_ptr_nonnull(key);
	create(&vs, lsm_env_posix());
	/* 40 live files with 64 KiB keys: the snapshot alone is about 5 MiB. */
	for (int i = 0; i < 5; i++)
		big_add(&vs, key, klen);
	ck_assert_uint_gt(vs.manifest_bytes, UINT64_C(4) << 20);
	ck_assert_uint_eq(vs.manifest_number, 1); /* the rule held while it grew, too */
	lsm_vset_destroy(&vs);
	recover(&vs, lsm_env_posix());
	lsm_version_edit e;
	uint64_t numbers[6];
	for (int i = 0; i < 6; i++) {
		uint64_t n = vs.next_file++;
		lsm_edit_init(&e);
		edit_add(&e, 5, n, 1, "a", "b");
		apply(&vs, &e);
		numbers[i] = vs.manifest_number;
		lsm_edit_init(&e);
		ck_assert_int_eq(lsm_edit_delete_file(&e, 5, n), 0);
		apply(&vs, &e);
	}
	ck_assert_uint_gt(vs.manifest_bytes, UINT64_C(4) << 20);
	for (int i = 1; i < 6; i++)
		ck_assert_uint_eq(numbers[i], numbers[0]); /* one new MANIFEST after recovery */
	lsm_vset_destroy(&vs);
	free(key);
}
END_TEST

/* ---- queries ---- */

static lsm_file_meta *fake_meta(uint64_t number, uint32_t lo, uint32_t hi, uint64_t lo_seq,
				uint64_t hi_seq)
{
	lsm_file_meta *m = calloc(1, sizeof(*m));
	uint8_t u[4], k[12];
	ck_assert_ptr_nonnull(m);
	m->refs = 1;
	m->number = number;
	lsm_put_be32(u, lo);
	lsm_ikey_make(k, u, 4, lo_seq, LSM_TYPE_VALUE);
	ck_assert_int_eq(lsm_buf_append(&m->smallest, k, 12), 0);
	lsm_put_be32(u, hi);
	lsm_ikey_make(k, u, 4, hi_seq, LSM_TYPE_VALUE);
	ck_assert_int_eq(lsm_buf_append(&m->largest, k, 12), 0);
	return m;
}

static void free_fake_version(lsm_version *v)
{
	for (int level = 0; level < LSM_MAX_LEVELS; level++) {
		for (int i = 0; i < v->nfiles[level]; i++) {
			lsm_buf_free(&v->files[level][i]->smallest);
			lsm_buf_free(&v->files[level][i]->largest);
			free(v->files[level][i]);
		}
		free(v->files[level]);
		v->files[level] = NULL;
		v->nfiles[level] = 0;
	}
}

/* Random L0 (overlapping) and L1 (sorted, disjoint, a user key may span two files). */
static void fake_version(tu_rng *r, lsm_version *v)
{
	memset(v, 0, sizeof(*v));
	v->refs = 1;
	int n0 = (int)tu_below(r, 8);
	v->files[0] = calloc((size_t)n0 + 1, sizeof(lsm_file_meta *));
	for (int i = 0; i < n0; i++) {
		uint32_t a = (uint32_t)tu_below(r, 1000), b = a + (uint32_t)tu_below(r, 300);
		v->files[0][i] = fake_meta((uint64_t)(100 - i), a, b, 5, 1);
	}
	v->nfiles[0] = n0;
	int n1 = (int)tu_below(r, 30);
	v->files[1] = calloc((size_t)n1 + 1, sizeof(lsm_file_meta *));
	uint32_t at = (uint32_t)tu_below(r, 50);
	for (int i = 0; i < n1; i++) {
		uint32_t lo = at, hi = lo + (uint32_t)tu_below(r, 40);
		/* The next file either starts above hi or shares hi with an older seq. */
		int span = tu_below(r, 4) == 0;
		v->files[1][i] = fake_meta((uint64_t)i, lo, hi, 50, span ? 20 : 10);
		at = span ? hi : hi + 1 + (uint32_t)tu_below(r, 30);
		if (span) {
			/* Next file's smallest is (hi, seq 19): after (hi, seq 20). */
			i++;
			if (i >= n1)
				break;
			uint32_t hi2 = at + (uint32_t)tu_below(r, 40);
			v->files[1][i] = fake_meta((uint64_t)i, at, hi2, 19, 10);
			at = hi2 + 1 + (uint32_t)tu_below(r, 30);
		}
	}
	v->nfiles[1] = n1;
	for (int i = 1; i < n1; i++) {
		lsm_slice a = lsm_slice_of(v->files[1][i - 1]->largest.data, 12);
		lsm_slice b = lsm_slice_of(v->files[1][i]->smallest.data, 12);
		ck_assert_int_lt(lsm_ikey_compare(a, b), 0);
	}
}

static int brute_overlaps(const lsm_file_meta *f, const lsm_slice *begin, const lsm_slice *end)
{
	lsm_slice lo = lsm_slice_of(f->smallest.data, 4), hi = lsm_slice_of(f->largest.data, 4);
	if (begin && lsm_user_compare(*begin, hi) > 0)
		return 0;
	if (end && lsm_user_compare(*end, lo) < 0)
		return 0;
	return 1;
}

START_TEST(test_overlapping_and_find_file_match_brute_force)
{
	tu_rng r;
	tu_rng_init(&r, tu_seed() ^ 3);
	for (int iter = 0; iter < 300; iter++) {
		lsm_version v;
		fake_version(&r, &v);
		for (int q = 0; q < 50; q++) {
			uint8_t bk[4], ek[4];
			lsm_put_be32(bk, (uint32_t)tu_below(&r, 1500));
			lsm_put_be32(ek, (uint32_t)tu_below(&r, 1500));
			lsm_slice bs = lsm_slice_of(bk, 4), es = lsm_slice_of(ek, 4);
			const lsm_slice *b = tu_below(&r, 5) ? &bs : NULL;
			const lsm_slice *e = tu_below(&r, 5) ? &es : NULL;
			for (int level = 0; level < 2; level++) {
				int first = -7, last = -7, count = 0, bf = -1, bl = -2;
				for (int i = 0; i < v.nfiles[level]; i++) {
					if (!brute_overlaps(v.files[level][i], b, e))
						continue;
					if (!count)
						bf = i;
					bl = i;
					count++;
				}
				int got = lsm_version_overlapping(&v, level, b, e, &first, &last);
				ck_assert_int_eq(got, count);
				if (count) {
					ck_assert_int_eq(first, bf);
					ck_assert_int_eq(last, bl);
				}
				if (level)
					ck_assert_int_eq(last - first + 1, got);
			}
			/* find_file: first file whose largest >= an internal key. */
			uint8_t ik[12];
			lsm_ikey_make(ik, bk, 4, tu_below(&r, 60), LSM_TYPE_VALUE);
			lsm_slice iks = lsm_slice_of(ik, 12);
			int want = v.nfiles[1];
			for (int i = 0; i < v.nfiles[1]; i++) {
				lsm_slice lg = lsm_slice_of(v.files[1][i]->largest.data, 12);
				if (lsm_ikey_compare(lg, iks) >= 0) {
					want = i;
					break;
				}
			}
			ck_assert_int_eq(lsm_version_find_file(&v, 1, iks), want);
		}
		free_fake_version(&v);
	}
}
END_TEST

START_TEST(test_compaction_score_picks_the_most_urgent_level)
{
	lsm_version_set vs;
	lsm_version_edit e;
	opts.l0_compaction_trigger = 4;
	opts.level_base_bytes = 1000; /* L1 1000, L2 10000, L3 100000 ... */
	opts.level_multiplier = 10;
	create(&vs, lsm_env_posix());
	ck_assert_double_eq(vs.current->compaction_score, 0);

	lsm_edit_init(&e);
	edit_add(&e, 0, vs.next_file++, 10, "a", "b");
	edit_add(&e, 0, vs.next_file++, 10, "a", "b");
	apply(&vs, &e);
	ck_assert_int_eq(vs.current->compaction_level, 0);
	ck_assert_double_eq_tol(vs.current->compaction_score, 0.5, 1e-9);

	lsm_edit_init(&e); /* L2 at 1.5 beats L0 at 0.5 */
	edit_add(&e, 2, vs.next_file++, 15000, "a", "b");
	apply(&vs, &e);
	ck_assert_int_eq(vs.current->compaction_level, 2);
	ck_assert_double_eq_tol(vs.current->compaction_score, 1.5, 1e-9);

	lsm_edit_init(&e); /* L1 at 2.5 (two files) beats L2 */
	edit_add(&e, 1, vs.next_file++, 1000, "a", "b");
	edit_add(&e, 1, vs.next_file++, 1500, "c", "d");
	apply(&vs, &e);
	ck_assert_int_eq(vs.current->compaction_level, 1);
	ck_assert_double_eq_tol(vs.current->compaction_score, 2.5, 1e-9);

	lsm_edit_init(&e); /* 12 L0 files: 3.0 */
	for (int i = 0; i < 10; i++)
		edit_add(&e, 0, vs.next_file++, 1, "a", "b");
	apply(&vs, &e);
	ck_assert_int_eq(vs.current->compaction_level, 0);
	ck_assert_double_eq_tol(vs.current->compaction_score, 3.0, 1e-9);

	lsm_edit_init(&e); /* the last level never scores: it has nowhere to go */
	edit_add(&e, LSM_MAX_LEVELS - 1, vs.next_file++, UINT64_C(1) << 60, "a", "b");
	apply(&vs, &e);
	ck_assert_int_eq(vs.current->compaction_level, 0);
	ck_assert_uint_eq(lsm_version_level_bytes(vs.current, 1), 2500);
	lsm_vset_destroy(&vs);

	/* Recovery computes the same score. */
	recover(&vs, lsm_env_posix());
	ck_assert_int_eq(vs.current->compaction_level, 0);
	ck_assert_double_eq_tol(vs.current->compaction_score, 3.0, 1e-9);
	lsm_vset_destroy(&vs);
}
END_TEST

int main(void)
{
	tu_seed();
	Suite *s = suite_create("version");
	TCase *tc = tcase_create("vset");
	tcase_add_checked_fixture(tc, vu_setup, vu_teardown);
	tcase_add_test(tc, test_create_writes_manifest_1_and_current);
	tcase_add_test(tc, test_recover_rebuilds_files_keys_sizes_and_counters);
	tcase_add_test(tc, test_level0_is_newest_first_and_levels_sorted_by_key);
	tcase_add_test(tc, test_counters_default_from_the_set_and_next_file_never_goes_back);
	tcase_add_test(tc, test_next_file_is_logged_ahead_of_the_numbers_handed_out);
	tcase_add_test(tc, test_inconsistent_edits_are_rejected_and_install_nothing);
	tcase_add_test(tc, test_old_version_keeps_its_files_while_referenced);
	tcase_add_test(tc, test_recover_starts_new_manifest_and_switches_current);
	tcase_add_test(tc, test_manifest_rolls_over_past_4mib);
	tcase_add_test(tc, test_large_live_state_does_not_roll_at_every_edit);
	tcase_add_test(tc, test_compaction_score_picks_the_most_urgent_level);
	suite_add_tcase(s, tc);

	tc = tcase_create("query");
	tcase_add_test(tc, test_overlapping_and_find_file_match_brute_force);
	suite_add_tcase(s, tc);
	return tu_run_suite(s);
}
