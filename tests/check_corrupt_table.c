/*
 * check_corrupt_table.c — a damaged table is reported naming it, never read
 * back as a wrong or older value (the harness: corrupt_util.c).
 *
 * With a flipped byte, a truncation or the file deleted, the db opens
 * (tables are read lazily) or fails naming the table; reads that need the
 * damaged table fail, none returns a wrong or older value; lsm_verify and a
 * paranoid open name it, and so does `lsmctl verify`, exiting nonzero.
 */
#include "corrupt_util.h"
#include "env.h"
#include "error.h"
#include "lsm.h"
#include "testutil.h"
#include "version.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void table_case(const image *img, const table_info *t, int how, uint64_t off, uint8_t mask)
{
	damage d = {KIND_TABLE, how, t->name, off, mask};
	/* Tables are read when needed, but an open that checks them may refuse. */
	rules r = {.open = OPEN_EITHER, .fail_rc = -LSM_ECORRUPT, .name = t->name};
	char detail[128];
	r.a = (allowed){
		.st = {img->full}, .name = {"everything"}, .n = 1, .nkeys = NKEYS, .errors_ok = 1};
	r.verify_ro = r.verify_rw = 1;
	r.paranoid_rc = -LSM_ECORRUPT;
	/* A table the MANIFEST lists is missing: corruption, or the env's -ENOENT naming it. */
	if (how == DMG_DELETE)
		r.paranoid_alt = -ENOENT;
	if (how == DMG_FLIP)
		snprintf(detail, sizeof(detail), "L%d, byte %llu of %llu ^= 0x%02x", t->level,
			 (unsigned long long)off, (unsigned long long)t->size, mask);
	else if (how == DMG_TRUNCATE)
		snprintf(detail, sizeof(detail), "L%d, to %llu of %llu bytes", t->level,
			 (unsigned long long)off, (unsigned long long)t->size);
	else
		snprintf(detail, sizeof(detail), "L%d", t->level);
	run_case(img, &d, &r, detail);
}

START_TEST(test_table_flipped_byte_never_yields_a_wrong_value)
{
	double t0 = now_secs();
	image *img = build_image(5);
	tu_rng r;
	tu_rng_init(&r, g_seed ^ 105);
	for (int i = 0; i < 40 * tu_scale(); i++) {
		const table_info *t = &img->tables[tu_below(&r, (uint64_t)img->ntables)];
		table_case(img, t, DMG_FLIP, tu_below(&r, t->size), random_mask(&r));
	}
	/* The footer and meta blocks of a few tables: the end of the file. */
	for (int i = 0; i < 10; i++) {
		const table_info *t = &img->tables[tu_below(&r, (uint64_t)img->ntables)];
		table_case(img, t, DMG_FLIP, t->size - 1 - tu_below(&r, 64), random_mask(&r));
	}
	free_image(img);
	print_counts("table flips", now_secs() - t0);
}
END_TEST

START_TEST(test_table_truncated_never_yields_a_wrong_value)
{
	double t0 = now_secs();
	image *img = build_image(6);
	tu_rng r;
	tu_rng_init(&r, g_seed ^ 106);
	for (int i = 0; i < 3; i++) {
		const table_info *t = &img->tables[tu_below(&r, (uint64_t)img->ntables)];
		uint64_t lens[] = {0, 1, t->size / 2, t->size - 1, tu_below(&r, t->size)};
		for (size_t j = 0; j < sizeof(lens) / sizeof(lens[0]); j++)
			table_case(img, t, DMG_TRUNCATE, lens[j], 0);
	}
	free_image(img);
	print_counts("table truncations", now_secs() - t0);
}
END_TEST

START_TEST(test_table_deleted_fails_reads_never_returns_older_values)
{
	double t0 = now_secs();
	image *img = build_image(7);
	/* An L0 table shadows older versions below; a bottom table has the only copy. */
	int done0 = 0, donen = 0;
	for (int i = 0; i < img->ntables; i++) {
		const table_info *t = &img->tables[i];
		if (t->level == 0 && !done0++)
			table_case(img, t, DMG_DELETE, 0, 0);
		if (t->level == img->deepest && !donen++)
			table_case(img, t, DMG_DELETE, 0, 0);
	}
	free_image(img);
	print_counts("table deletions", now_secs() - t0);
}
END_TEST

static void put_raw(lsm_db *db, const char *k, const void *v, size_t vlen)
{
	EXPECT(lsm_put(db, NULL, k, strlen(k), v, vlen) == 0, "put %s: %s", k, lsm_errmsg());
}

static void reverse_regression(const char *dir)
{
	lsm_options o;
	lsm_db *db;
	lsm_iter *it;
	size_t kl, vl;
	base_opts(&o);
	o.read_only = 1;
	EXPECT(lsm_open(&db, dir, &o) == 0, "%s", lsm_errmsg());
	it = lsm_iter_new(db, NULL);
	lsm_iter_seek_last(it);
	while (lsm_iter_valid(it)) {
		const char *k = lsm_iter_key(it, &kl), *v = lsm_iter_value(it, &vl);
		EXPECT(!(kl == 1 && k[0] == 'b') || (vl == 3 && !memcmp(v, "new", 3)),
		       "backward iteration gives b = %.14s, its older value (status: %s)", v,
		       lsm_strerror(lsm_iter_status(it)));
		lsm_iter_prev(it);
	}
	EXPECT(lsm_iter_status(it) == -LSM_ECORRUPT, "backward iteration ends with %s",
	       lsm_strerror(lsm_iter_status(it)));
	lsm_iter_free(it);
	lsm_close(db);
}

/*
 * Backward iteration must not take an error for the end of a key's run of
 * versions. The smallest case: b's old value is the last entry of
 * an older L0 table, alone in its block, whose previous block is damaged; b's
 * new value is in a newer table. Walking backward meets the old b first
 * (older versions sort after newer ones), then the damaged block.
 */
START_TEST(test_reverse_iteration_past_a_damaged_block_never_yields_an_older_version)
{
	char *dir = tu_mkdtemp("corrupt-reverse");
	lsm_options o;
	lsm_db *db;
	char v[300], *p;
	snprintf(g_case, sizeof(g_case), "backward past a damaged block");
	base_opts(&o);
	o.create_if_missing = 1;
	o.block_bytes = 256; /* each 300-byte value fills a block of its own */
	o.l0_compaction_trigger = o.l0_slowdown_trigger = 20;
	o.l0_stop_trigger = 24;
	EXPECT(lsm_open(&db, dir, &o) == 0, "%s", lsm_errmsg());
	memset(v, 'x', sizeof(v));
	for (int i = 0; i < 20; i++) {
		char k[8];
		snprintf(k, sizeof(k), "a%03d", i);
		put_raw(db, k, v, sizeof(v));
	}
	memcpy(v, "OLD-VALUE-OF-B", 14);
	put_raw(db, "b", v, sizeof(v));
	EXPECT(lsm_flush(db) == 0, "%s", lsm_errmsg());
	put_raw(db, "b", "new", 3);
	EXPECT(lsm_flush(db) == 0, "%s", lsm_errmsg());
	EXPECT(lsm_close(db) == 0, "%s", lsm_errmsg());

	/* The older table is the one holding the old value. */
	DIR *d = opendir(dir);
	struct dirent *e;
	int flipped = 0;
	while ((e = readdir(d)) != NULL) {
		uint64_t num;
		if (lsm_parse_filename(e->d_name, &num) != LSM_FILE_TABLE)
			continue;
		char *path = tu_path(dir, e->d_name);
		uint8_t *data;
		size_t len;
		EXPECT(lsm_env_read_all(lsm_env_posix(), path, &data, &len) == 0, "%s",
		       lsm_errmsg());
		p = memmem(data, len, "OLD-VALUE-OF-B", 14);
		if (p) {
			/* 40 bytes before the value: in the block before b's, a049's. */
			damage dm = {KIND_TABLE, DMG_FLIP, e->d_name,
				     (uint64_t)(p - (char *)data) - 40, 0x55};
			apply_damage(dir, &dm);
			flipped = 1;
		}
		free(data);
		free(path);
	}
	closedir(d);
	EXPECT(flipped, "the old value of b is in no table");
	reverse_regression(dir);
	tu_rmtree(dir);
}
END_TEST

/* ---- lsmctl ---- */

START_TEST(test_lsmctl_verify_exits_nonzero_on_a_damaged_table)
{
	const char *top = getenv("top_builddir");
	char *lsmctl;
	char out[8192];
	if (!top || !*top) {
		printf("top_builddir is not set (not run by make check): lsmctl not tested\n");
		return;
	}
	lsmctl = tu_path(top, "lsm/lsmctl");
	if (access(lsmctl, X_OK)) {
		printf("%s is not built: not tested\n", lsmctl);
		free(lsmctl);
		return;
	}
	image *img = build_image(13);
	snprintf(g_case, sizeof(g_case), "lsmctl verify");
	char *good = copy_db(img->dir), *bad = copy_db(img->dir);
	int st = tu_lsmctl_verify(lsmctl, good, out, sizeof(out));
	EXPECT(st == 0, "lsmctl verify of an intact db exited %d:\n%s", st, out);
	/* A data block in the middle of a table: found by reading every block. */
	const table_info *t = &img->tables[0];
	damage d = {KIND_TABLE, DMG_FLIP, t->name, t->size / 3, 0x40};
	apply_damage(bad, &d);
	st = tu_lsmctl_verify(lsmctl, bad, out, sizeof(out));
	EXPECT(st != 0, "lsmctl verify of a damaged table exited 0:\n%s", out);
	EXPECT(strstr(out, t->name) != NULL, "lsmctl verify does not name %s:\n%s", t->name, out);
	printf("lsmctl verify: exit 0 on the intact db, %d on the damaged one\n", st);
	tu_rmtree(good);
	tu_rmtree(bad);
	free(lsmctl);
	free_image(img);
}
END_TEST

int main(void)
{
	g_seed = tu_seed();
	Suite *s = suite_create("corrupt_table");
	TCase *tt = tcase_create("table");
	tcase_set_timeout(tt, 600);
	tcase_add_test(tt, test_table_flipped_byte_never_yields_a_wrong_value);
	tcase_add_test(tt, test_table_truncated_never_yields_a_wrong_value);
	tcase_add_test(tt, test_table_deleted_fails_reads_never_returns_older_values);
	tcase_add_test(tt,
		       test_reverse_iteration_past_a_damaged_block_never_yields_an_older_version);
	tcase_add_test(tt, test_lsmctl_verify_exits_nonzero_on_a_damaged_table);
	suite_add_tcase(s, tt);
	return tu_run_suite(s);
}
