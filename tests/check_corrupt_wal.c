/*
 * check_corrupt_wal.c — a damaged WAL is reported naming it, or read back as
 * a crash's torn tail, never as wrong data (the harness: corrupt_util.c).
 *
 * A flipped byte in any record but the last is damage before the tail: open
 * fails with -LSM_ECORRUPT naming the log, never drops the later records
 * silently. A flipped byte in the last record, or a truncation, looks like a
 * crash's torn tail: the db opens holding exactly the whole records before it
 * (paranoid_checks and lsm_verify of a read-only open report it). A flipped
 * byte in a block's zero trailer is harmless. A deleted WAL loses the
 * unsynced tail, no more, or fails naming the log.
 */
#include "corrupt_util.h"
#include "error.h"
#include "lsm.h"
#include "testutil.h"
#include "wal.h"

#include <stdio.h>
#include <stdlib.h>

static void wal_flip(const image *img, uint64_t off, uint8_t mask, int *prefix_last)
{
	damage d = {KIND_WAL, DMG_FLIP, img->wal, off, mask};
	rules r = {.fail_rc = -LSM_ECORRUPT, .name = img->wal};
	char detail[160];
	int ri = record_at(&img->wl, off);
	r.a.nkeys = NKEYS;
	r.a.n = 1;
	if (ri < 0) {
		r.open = OPEN_OK;
		r.a.st[0] = img->full;
		r.a.name[0] = "all records";
	} else if (ri < NTAIL - 1) {
		/* A damaged length byte too: the records after it are still found. */
		r.open = OPEN_FAILS;
	} else {
		/* A damaged last record is a torn tail: dropped, and reported by verify. */
		r.open = OPEN_OK;
		r.a.st[0] = prefix_last;
		r.a.name[0] = "all records but the last";
		r.verify_ro = 1;
		r.paranoid_rc = -LSM_ECORRUPT;
	}
	snprintf(detail, sizeof(detail), "byte %llu ^= 0x%02x, %s %d of %d (at %llu, %zu bytes)",
		 (unsigned long long)off, mask, ri < 0 ? "trailer after record" : "record",
		 ri < 0 ? record_at(&img->wl, off - 1) : ri, NTAIL,
		 (unsigned long long)img->wl.off[ri < 0 ? 0 : ri], img->wl.len[ri < 0 ? 0 : ri]);
	run_case(img, &d, &r, detail);
}

START_TEST(test_wal_flipped_byte_before_the_last_record_fails_open_naming_the_log)
{
	double t0 = now_secs();
	image *img = build_image(1);
	const logmap *wl = &img->wl;
	int *last = malloc(sizeof(img->full));
	tu_rng r;
	tu_rng_init(&r, g_seed ^ 101);
	state_prefix(img, NTAIL - 1, last);
	/* Every header byte of a record in the first block and of one in the last block. */
	int mid = NTAIL / 4, late = NTAIL - 3;
	EXPECT(wl->off[mid] < LSM_WAL_BLOCK &&
		       wl->off[late] / LSM_WAL_BLOCK == (wl->size - 1) / LSM_WAL_BLOCK,
	       "records %d and %d are not where this test wants them", mid, late);
	for (int h = 0; h < LSM_WAL_HEADER; h++) {
		wal_flip(img, wl->off[mid] + (uint64_t)h, random_mask(&r), last);
		wal_flip(img, wl->off[late] + (uint64_t)h, random_mask(&r), last);
	}
	/* Random bytes of every record but the last. */
	for (int i = 0; i < 40 * tu_scale(); i++)
		wal_flip(img, tu_below(&r, wl->off[NTAIL - 1]), random_mask(&r), last);
	/* A block trailer, if the records left one. */
	for (int i = 0; i + 1 < NTAIL; i++)
		if (wl->end[i] < wl->off[i + 1]) {
			wal_flip(img, wl->end[i], random_mask(&r), last);
			break;
		}
	free(last);
	free_image(img);
	print_counts("WAL flips before the last record", now_secs() - t0);
}
END_TEST

START_TEST(test_wal_flipped_byte_in_the_last_record_drops_only_that_record)
{
	double t0 = now_secs();
	image *img = build_image(2);
	int *last = malloc(sizeof(img->full));
	tu_rng r;
	tu_rng_init(&r, g_seed ^ 102);
	state_prefix(img, NTAIL - 1, last);
	uint64_t start = img->wl.off[NTAIL - 1], len = img->wl.size - start;
	for (uint64_t h = 0; h < LSM_WAL_HEADER; h++)
		wal_flip(img, start + h, random_mask(&r), last);
	for (int i = 0; i < 10 * tu_scale(); i++)
		wal_flip(img, start + LSM_WAL_HEADER + tu_below(&r, len - LSM_WAL_HEADER),
			 random_mask(&r), last);
	free(last);
	free_image(img);
	print_counts("WAL flips in the last record", now_secs() - t0);
}
END_TEST

/* A WAL cut at len keeps exactly the records that end at or before len. */
static void wal_truncate(const image *img, uint64_t len, int *scratch)
{
	damage d = {KIND_WAL, DMG_TRUNCATE, img->wal, len, 0};
	rules r = {.open = OPEN_OK, .fail_rc = -LSM_ECORRUPT, .name = img->wal};
	char detail[128];
	int whole = 0;
	while (whole < NTAIL && img->wl.end[whole] <= len)
		whole++;
	/* At a record's end, or after the zero trailer of its block where the next one starts. */
	int boundary = len == 0 || (whole > 0 && img->wl.end[whole - 1] == len) ||
		       (whole < NTAIL && img->wl.off[whole] == len);
	state_prefix(img, whole, scratch);
	r.a = (allowed){.st = {scratch}, .name = {"the whole records"}, .n = 1, .nkeys = NKEYS};
	/* A cut inside a record is a torn tail: strict checks report it. */
	r.verify_ro = !boundary;
	r.paranoid_rc = boundary ? 0 : -LSM_ECORRUPT;
	snprintf(detail, sizeof(detail), "to %llu bytes of %llu (%d whole records)",
		 (unsigned long long)len, (unsigned long long)img->wl.size, whole);
	run_case(img, &d, &r, detail);
}

START_TEST(test_wal_truncated_keeps_exactly_the_whole_records)
{
	double t0 = now_secs();
	image *img = build_image(3);
	const logmap *wl = &img->wl;
	int *scratch = malloc(sizeof(img->full));
	tu_rng r;
	tu_rng_init(&r, g_seed ^ 103);
	int k = (int)tu_below(&r, NTAIL - 1);
	uint64_t lens[] = {0,
			   1,
			   LSM_WAL_HEADER - 1,
			   wl->end[k],
			   wl->end[k] + 3,
			   LSM_WAL_BLOCK,
			   wl->off[NTAIL - 1] + LSM_WAL_HEADER,
			   wl->size - 1,
			   tu_below(&r, wl->size)};
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++)
		wal_truncate(img, lens[i], scratch);
	free(scratch);
	free_image(img);
	print_counts("WAL truncations", now_secs() - t0);
}
END_TEST

START_TEST(test_wal_deleted_loses_only_the_unsynced_tail_or_fails_naming_it)
{
	double t0 = now_secs();
	image *img = build_image(4);
	damage d = {KIND_WAL, DMG_DELETE, img->wal, 0, 0};
	rules r = {.open = OPEN_EITHER, .fail_rc = -LSM_ECORRUPT, .name = img->wal};
	r.a = (allowed){.st = {img->pre}, .name = {"no tail"}, .n = 1, .nkeys = NKEYS};
	run_case(img, &d, &r, "the tail's only WAL");
	free_image(img);
	print_counts("WAL deletion", now_secs() - t0);
}
END_TEST

int main(void)
{
	g_seed = tu_seed();
	Suite *s = suite_create("corrupt_wal");
	TCase *tw = tcase_create("wal");
	tcase_set_timeout(tw, 600);
	tcase_add_test(tw, test_wal_flipped_byte_before_the_last_record_fails_open_naming_the_log);
	tcase_add_test(tw, test_wal_flipped_byte_in_the_last_record_drops_only_that_record);
	tcase_add_test(tw, test_wal_truncated_keeps_exactly_the_whole_records);
	tcase_add_test(tw, test_wal_deleted_loses_only_the_unsynced_tail_or_fails_naming_it);
	suite_add_tcase(s, tw);
	return tu_run_suite(s);
}
