/*
 * check_corrupt_manifest.c — a damaged MANIFEST or CURRENT fails open naming
 * it, or loses nothing (the harness: corrupt_util.c).
 *
 *   MANIFEST  open fails with -LSM_ECORRUPT naming it, or the db opens with
 *             nothing lost (reads may fail, none may be wrong or missing).
 *             A damaged last record or a cut is no crash's torn tail here:
 *             those edits were synced and the files they retired are gone,
 *             so the older version they leave must not open.
 *   CURRENT   open fails with -LSM_ECORRUPT naming CURRENT. A deleted
 *             CURRENT is -LSM_ENOTDB without create_if_missing, and with it
 *             -LSM_ECORRUPT: a new db is never created over the old files.
 */
#include "corrupt_util.h"
#include "error.h"
#include "lsm.h"
#include "testutil.h"
#include "wal.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

static void manifest_case(const image *img, int how, uint64_t off, uint8_t mask)
{
	damage d = {KIND_MANIFEST, how, img->manifest, off, mask};
	rules r = {.open = OPEN_EITHER, .fail_rc = -LSM_ECORRUPT, .name = img->manifest};
	const logmap *ml = &img->ml;
	char detail[160];
	int ri = how == DMG_FLIP ? record_at(ml, off) : -1;
	r.a = (allowed){
		.st = {img->full}, .name = {"everything"}, .n = 1, .nkeys = NKEYS, .errors_ok = 1};
	if (how == DMG_DELETE) {
		r.open = OPEN_FAILS;
		snprintf(detail, sizeof(detail), "the MANIFEST named by CURRENT");
	} else {
		snprintf(detail, sizeof(detail),
			 "%s %llu of %llu bytes (record %d of %d, the last at %llu)",
			 how == DMG_FLIP ? "byte" : "to", (unsigned long long)off,
			 (unsigned long long)ml->size, ri, ml->n,
			 (unsigned long long)ml->off[ml->n - 1]);
	}
	run_case(img, &d, &r, detail);
}

START_TEST(test_manifest_flipped_byte_fails_open_or_loses_nothing)
{
	double t0 = now_secs();
	image *img = build_image(8);
	const logmap *ml = &img->ml;
	tu_rng r;
	tu_rng_init(&r, g_seed ^ 108);
	for (int i = 0; i < 20 * tu_scale(); i++)
		manifest_case(img, DMG_FLIP, tu_below(&r, ml->size), random_mask(&r));
	/* Every header byte of the first, a middle and the last record. */
	int recs[] = {0, ml->n / 2, ml->n - 1};
	for (int i = 0; i < 3; i++)
		for (int h = 0; h < LSM_WAL_HEADER; h++)
			manifest_case(img, DMG_FLIP, ml->off[recs[i]] + (uint64_t)h,
				      random_mask(&r));
	free_image(img);
	print_counts("MANIFEST flips", now_secs() - t0);
}
END_TEST

START_TEST(test_manifest_truncated_fails_open_or_loses_nothing)
{
	double t0 = now_secs();
	image *img = build_image(9);
	const logmap *ml = &img->ml;
	tu_rng r;
	tu_rng_init(&r, g_seed ^ 109);
	uint64_t lens[] = {0,
			   1,
			   LSM_WAL_HEADER,
			   ml->end[0],
			   ml->size / 2,
			   ml->off[ml->n - 1],
			   ml->off[ml->n - 1] + LSM_WAL_HEADER,
			   ml->size - 1,
			   tu_below(&r, ml->size)};
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++)
		manifest_case(img, DMG_TRUNCATE, lens[i], 0);
	/*
	 * Every cut inside the first records, written while the database was
	 * created: a cut that leaves only them names no WAL at all, which once
	 * opened as an empty database (and a read-write open deleted the tables).
	 */
	int early = ml->n < 4 ? ml->n : 4;
	for (uint64_t len = ml->end[0]; len < ml->end[early - 1]; len++)
		manifest_case(img, DMG_TRUNCATE, len, 0);
	free_image(img);
	print_counts("MANIFEST truncations", now_secs() - t0);
}
END_TEST

START_TEST(test_manifest_deleted_fails_open_naming_it)
{
	double t0 = now_secs();
	image *img = build_image(10);
	manifest_case(img, DMG_DELETE, 0, 0);
	free_image(img);
	print_counts("MANIFEST deletion", now_secs() - t0);
}
END_TEST

static void current_case(const image *img, int how, uint64_t off, uint8_t mask, int create,
			 int fail_rc)
{
	damage d = {KIND_CURRENT, how, "CURRENT", off, mask};
	rules r = {.open = OPEN_FAILS, .fail_rc = fail_rc, .name = "CURRENT", .create = create};
	char detail[128];
	/* A read-only open never creates: no CURRENT is no database, whatever else is there. */
	if (how == DMG_DELETE)
		r.ro_fail_rc = -LSM_ENOTDB;
	snprintf(detail, sizeof(detail), "%s %llu%s", how == DMG_FLIP ? "byte" : "to",
		 (unsigned long long)off, create ? ", create_if_missing" : "");
	run_case(img, &d, &r, detail);
}

START_TEST(test_current_damaged_fails_open_naming_current)
{
	double t0 = now_secs();
	image *img = build_image(11);
	tu_rng r;
	char *p = tu_path(img->dir, "CURRENT");
	struct stat sb;
	tu_rng_init(&r, g_seed ^ 111);
	EXPECT(stat(p, &sb) == 0, "stat CURRENT");
	uint64_t size = (uint64_t)sb.st_size;
	/* Every byte: no flip of "MANIFEST-<number>\n" names the live MANIFEST. */
	for (uint64_t off = 0; off < size; off++)
		current_case(img, DMG_FLIP, off, random_mask(&r), 0, -LSM_ECORRUPT);
	uint64_t lens[] = {0, 1, size - 1};
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++)
		current_case(img, DMG_TRUNCATE, lens[i], 0, 0, -LSM_ECORRUPT);
	free(p);
	free_image(img);
	print_counts("CURRENT flips and truncations", now_secs() - t0);
}
END_TEST

START_TEST(test_current_deleted_is_not_a_db_and_nothing_is_created_over_it)
{
	double t0 = now_secs();
	image *img = build_image(12);
	/* Without create_if_missing: no database here. */
	current_case(img, DMG_DELETE, 0, 0, 0, -LSM_ENOTDB);
	/* With it: the leftover files say the db is damaged; nothing may be created over them. */
	current_case(img, DMG_DELETE, 0, 0, 1, -LSM_ECORRUPT);
	free_image(img);
	print_counts("CURRENT deletions", now_secs() - t0);
}
END_TEST

int main(void)
{
	g_seed = tu_seed();
	Suite *s = suite_create("corrupt_manifest");
	TCase *tm = tcase_create("manifest");
	tcase_set_timeout(tm, 600);
	tcase_add_test(tm, test_manifest_flipped_byte_fails_open_or_loses_nothing);
	tcase_add_test(tm, test_manifest_truncated_fails_open_or_loses_nothing);
	tcase_add_test(tm, test_manifest_deleted_fails_open_naming_it);
	tcase_add_test(tm, test_current_damaged_fails_open_naming_current);
	tcase_add_test(tm, test_current_deleted_is_not_a_db_and_nothing_is_created_over_it);
	suite_add_tcase(s, tm);
	return tu_run_suite(s);
}
