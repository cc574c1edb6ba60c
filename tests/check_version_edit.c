/*
 * check_version_edit.c — version edits survive encoding and reject every
 * damaged input; file names are built and classified.
 */
#include "error.h"
#include "testutil.h"
#include "version.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void random_ikey(tu_rng *r, uint8_t *out, size_t *len, uint64_t seq)
{
	size_t klen = (size_t)tu_below(r, 20);
	uint8_t k[20];
	tu_fill(r, k, klen);
	lsm_ikey_make(out, k, klen, seq, (int)tu_below(r, 2));
	*len = klen + 8;
}

static void random_edit(tu_rng *r, lsm_version_edit *e)
{
	lsm_edit_init(e);
	if (tu_below(r, 2)) {
		e->has_log_number = 1;
		e->log_number = tu_rand(r) >> tu_below(r, 64);
	}
	if (tu_below(r, 2)) {
		e->has_next_file = 1;
		e->next_file = tu_rand(r) >> tu_below(r, 64);
	}
	if (tu_below(r, 2)) {
		e->has_last_seq = 1;
		e->last_seq = tu_rand(r) >> tu_below(r, 64);
	}
	int nd = (int)tu_below(r, 5), na = (int)tu_below(r, 5);
	for (int i = 0; i < nd; i++)
		ck_assert_int_eq(lsm_edit_delete_file(e, (int)tu_below(r, LSM_MAX_LEVELS),
						      tu_rand(r) >> tu_below(r, 64)),
				 0);
	for (int i = 0; i < na; i++) {
		uint8_t a[28], b[28];
		size_t la, lb;
		uint64_t s1 = tu_below(r, 1000), s2 = s1 + tu_below(r, 1000);
		random_ikey(r, a, &la, s1);
		random_ikey(r, b, &lb, s2);
		lsm_slice sa = lsm_slice_of(a, la), sb = lsm_slice_of(b, lb);
		if (lsm_ikey_compare(sa, sb) > 0) {
			lsm_slice t = sa;
			sa = sb;
			sb = t;
		}
		ck_assert_int_eq(lsm_edit_add_file(e, (int)tu_below(r, LSM_MAX_LEVELS), tu_rand(r),
						   tu_rand(r) >> tu_below(r, 64), sa, sb, s1, s2),
				 0);
	}
}

static void assert_edits_equal(const lsm_version_edit *x, const lsm_version_edit *y)
{
	ck_assert_int_eq(x->has_log_number, y->has_log_number);
	ck_assert_int_eq(x->has_next_file, y->has_next_file);
	ck_assert_int_eq(x->has_last_seq, y->has_last_seq);
	if (x->has_log_number)
		ck_assert_uint_eq(x->log_number, y->log_number);
	if (x->has_next_file)
		ck_assert_uint_eq(x->next_file, y->next_file);
	if (x->has_last_seq)
		ck_assert_uint_eq(x->last_seq, y->last_seq);
	ck_assert_int_eq(x->ndeleted, y->ndeleted);
	for (int i = 0; i < x->ndeleted; i++) {
		ck_assert_int_eq(x->deleted[i].level, y->deleted[i].level);
		ck_assert_uint_eq(x->deleted[i].number, y->deleted[i].number);
	}
	ck_assert_int_eq(x->nadded, y->nadded);
	for (int i = 0; i < x->nadded; i++) {
		const lsm_file_meta *a = x->added[i].meta, *b = y->added[i].meta;
		ck_assert_int_eq(x->added[i].level, y->added[i].level);
		ck_assert_uint_eq(a->number, b->number);
		ck_assert_uint_eq(a->size, b->size);
		ck_assert_uint_eq(a->smallest_seq, b->smallest_seq);
		ck_assert_uint_eq(a->largest_seq, b->largest_seq);
		ck_assert_uint_eq(a->smallest.len, b->smallest.len);
		ck_assert_uint_eq(a->largest.len, b->largest.len);
		ck_assert_mem_eq(a->smallest.data, b->smallest.data, a->smallest.len);
		ck_assert_mem_eq(a->largest.data, b->largest.data, a->largest.len);
		ck_assert_int_eq(b->refs, 1);
	}
}

START_TEST(test_edit_round_trip_preserves_every_field)
{
	tu_rng r;
	tu_rng_init(&r, tu_seed());
	for (int iter = 0; iter < 300; iter++) {
		lsm_version_edit e, d;
		lsm_buf enc, enc2;
		lsm_buf_init(&enc);
		lsm_buf_init(&enc2);
		random_edit(&r, &e);
		ck_assert_int_eq(lsm_edit_encode(&e, &enc), 0);
		ck_assert_msg(lsm_edit_decode(&d, lsm_slice_of(enc.data, enc.len)) == 0, "%s",
			      lsm_errmsg());
		assert_edits_equal(&e, &d);
		ck_assert_int_eq(lsm_edit_encode(&d, &enc2), 0);
		ck_assert_uint_eq(enc.len, enc2.len);
		ck_assert_mem_eq(enc.data, enc2.data, enc.len);
		lsm_edit_free(&e);
		lsm_edit_free(&d);
		lsm_buf_free(&enc);
		lsm_buf_free(&enc2);
	}
}
END_TEST

START_TEST(test_edit_encoding_matches_the_drawn_bytes)
{
	/* The snapshot of a new database, as drawn at the top of version.c. */
	static const uint8_t want[] = {0x01, 0x01, 0x02, 0x00, 0x03, 0x02, 0x04, 0x00, 0x00};
	lsm_version_edit e;
	lsm_buf enc;
	lsm_buf_init(&enc);
	lsm_edit_init(&e);
	e.has_log_number = e.has_next_file = e.has_last_seq = 1;
	e.next_file = 2;
	ck_assert_int_eq(lsm_edit_encode(&e, &enc), 0);
	ck_assert_uint_eq(enc.len, sizeof(want));
	ck_assert_mem_eq(enc.data, want, sizeof(want));
	lsm_buf_free(&enc);
}
END_TEST

START_TEST(test_edit_every_truncation_is_rejected)
{
	tu_rng r;
	tu_rng_init(&r, tu_seed() ^ 1);
	for (int iter = 0; iter < 40; iter++) {
		lsm_version_edit e, d;
		lsm_buf enc;
		lsm_buf_init(&enc);
		random_edit(&r, &e);
		ck_assert_int_eq(lsm_edit_encode(&e, &enc), 0);
		for (size_t len = 0; len < enc.len; len++) {
			int rc = lsm_edit_decode(&d, lsm_slice_of(enc.data, len));
			ck_assert_msg(rc == -LSM_ECORRUPT, "prefix %zu of %zu decoded (%d)", len,
				      enc.len, rc);
			ck_assert_int_eq(d.nadded, 0); /* left empty */
		}
		lsm_edit_free(&e);
		lsm_buf_free(&enc);
	}
}
END_TEST

static int decode_bytes(const uint8_t *p, size_t n)
{
	lsm_version_edit d;
	int rc = lsm_edit_decode(&d, lsm_slice_of(p, n));
	if (!rc)
		lsm_edit_free(&d);
	return rc;
}

#define EXPECT_CORRUPT(...)                                                                    \
	do {                                                                                   \
		static const uint8_t in_[] = {__VA_ARGS__};                                    \
		int rc_ = decode_bytes(in_, sizeof(in_));                                      \
		ck_assert_msg(rc_ == -LSM_ECORRUPT, "line %d: decode gave %d", __LINE__, rc_); \
	} while (0)

START_TEST(test_edit_malformed_fields_are_rejected)
{
	/* Sanity: the smallest valid edits decode. */
	static const uint8_t empty[] = {0x00};
	static const uint8_t one_file[] = {0x06, 0x01, 0x05, 0x10, 0x01, 0x02, 0x08, 'k', 0,
					   0,	 0,    0,    0,	   0,	 0,    0x08, 'k', 0,
					   0,	 0,    0,    0,	   0,	 0,    0x00};
	ck_assert_int_eq(decode_bytes(empty, sizeof(empty)), 0);
	ck_assert_int_eq(decode_bytes(one_file, sizeof(one_file)), 0);

	EXPECT_CORRUPT(0x09, 0x00);		      /* unknown tag */
	EXPECT_CORRUPT(0x7f, 0x00);		      /* unknown tag */
	EXPECT_CORRUPT(0x00, 0x00);		      /* bytes after the end tag */
	EXPECT_CORRUPT(0x01, 0x00, 0x00);	      /* format version 0 */
	EXPECT_CORRUPT(0x01, 0x01, 0x01, 0x01, 0x00); /* format twice */
	EXPECT_CORRUPT(0x02, 0x05, 0x02, 0x06, 0x00); /* log number twice */
	EXPECT_CORRUPT(0x03, 0x05, 0x03, 0x06, 0x00); /* next file twice */
	EXPECT_CORRUPT(0x04, 0x05, 0x04, 0x06, 0x00); /* last seq twice */
	EXPECT_CORRUPT(0x05, 0x07, 0x01, 0x00);	      /* deleted: level 7 */
	EXPECT_CORRUPT(0x05, 0xff, 0x01, 0x01, 0x00); /* deleted: huge level */
	EXPECT_CORRUPT(0x02, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f,
		       0x00); /* varint overflows 64 bits */
	EXPECT_CORRUPT(0x02, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01,
		       0x00); /* varint longer than 10 bytes */
	/* new file: level 7 */
	EXPECT_CORRUPT(0x06, 0x07, 0x05, 0x10, 0x01, 0x02, 0x08, 'k', 0, 0, 0, 0, 0, 0, 0, 0x08,
		       'k', 0, 0, 0, 0, 0, 0, 0, 0x00);
	/* new file: smallest key shorter than a trailer */
	EXPECT_CORRUPT(0x06, 0x01, 0x05, 0x10, 0x01, 0x02, 0x03, 'a', 'b', 'c', 0x08, 'k', 0, 0, 0,
		       0, 0, 0, 0, 0x00);
	/* new file: largest key length runs past the end */
	EXPECT_CORRUPT(0x06, 0x01, 0x05, 0x10, 0x01, 0x02, 0x08, 'k', 0, 0, 0, 0, 0, 0, 0, 0x40,
		       'k', 0, 0, 0, 0, 0, 0, 0, 0x00);
	/* new file: smallest_seq above largest_seq */
	EXPECT_CORRUPT(0x06, 0x01, 0x05, 0x10, 0x03, 0x02, 0x08, 'k', 0, 0, 0, 0, 0, 0, 0, 0x08,
		       'k', 0, 0, 0, 0, 0, 0, 0, 0x00);
	/* new file: smallest key above largest ("z" > "k") */
	EXPECT_CORRUPT(0x06, 0x01, 0x05, 0x10, 0x01, 0x02, 0x09, 'z', 0, 0, 0, 0, 0, 0, 0, 0, 0x09,
		       'k', 0, 0, 0, 0, 0, 0, 0, 0, 0x00);
	/* new file: absurd key length (varint 2^40) */
	EXPECT_CORRUPT(0x06, 0x01, 0x05, 0x10, 0x01, 0x02, 0x80, 0x80, 0x80, 0x80, 0x80, 0x20, 'k',
		       0x00);
}
END_TEST

START_TEST(test_edit_newer_format_is_eversion)
{
	/* Format 2 (blob uses) is ours; 3 is newer than this build. */
	static const uint8_t newer[] = {0x01, 0x03, 0x00};
	ck_assert_int_eq(decode_bytes(newer, sizeof(newer)), -LSM_EVERSION);
	ck_assert_ptr_nonnull(strstr(lsm_errmsg(), "format version 3"));
}
END_TEST

START_TEST(test_edit_mutated_and_random_input_never_crashes)
{
	tu_rng r;
	tu_rng_init(&r, tu_seed() ^ 2);
	for (int iter = 0; iter < 2000; iter++) {
		lsm_version_edit e;
		lsm_buf enc;
		lsm_buf_init(&enc);
		random_edit(&r, &e);
		ck_assert_int_eq(lsm_edit_encode(&e, &enc), 0);
		lsm_edit_free(&e);
		if (iter % 4 == 0) {
			tu_fill(&r, enc.data, enc.len); /* pure garbage of a plausible size */
		} else {
			int flips = 1 + (int)tu_below(&r, 3);
			for (int i = 0; i < flips; i++)
				enc.data[tu_below(&r, enc.len)] ^= (uint8_t)(1 + tu_below(&r, 255));
		}
		int rc = decode_bytes(enc.data, enc.len);
		ck_assert_msg(rc == 0 || rc == -LSM_ECORRUPT || rc == -LSM_EVERSION, "rc %d", rc);
		lsm_buf_free(&enc);
	}
}
END_TEST

START_TEST(test_filenames_are_built_and_classified)
{
	char *s = lsm_table_filename("/d", 12);
	ck_assert_str_eq(s, "/d/000012.sst");
	free(s);
	s = lsm_log_filename("/d", 1234567);
	ck_assert_str_eq(s, "/d/1234567.log");
	free(s);
	s = lsm_manifest_filename("/d", 1);
	ck_assert_str_eq(s, "/d/MANIFEST-000001");
	free(s);

	static const struct {
		const char *name;
		enum lsm_file_kind kind;
		uint64_t number;
	} cases[] = {
		{"000012.sst", LSM_FILE_TABLE, 12},
		{"000007.log", LSM_FILE_LOG, 7},
		{"18446744073709551615.log", LSM_FILE_LOG, UINT64_MAX},
		{"18446744073709551616.log", LSM_FILE_OTHER, 0}, /* overflows */
		{"MANIFEST-000003", LSM_FILE_MANIFEST, 3},
		{"CURRENT", LSM_FILE_CURRENT, 0},
		{"LOCK", LSM_FILE_LOCK, 0},
		{"CURRENT.tmp", LSM_FILE_TEMP, 0},
		{"000009.sst.tmp", LSM_FILE_TEMP, 0},
		{".sst", LSM_FILE_OTHER, 0},
		{"12a.sst", LSM_FILE_OTHER, 0},
		{"000012.ldb", LSM_FILE_OTHER, 0},
		{"MANIFEST-", LSM_FILE_OTHER, 0},
		{"MANIFEST-12x", LSM_FILE_OTHER, 0},
		{"CURRENTX", LSM_FILE_OTHER, 0},
		{"", LSM_FILE_OTHER, 0},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint64_t n = 99;
		ck_assert_msg(lsm_parse_filename(cases[i].name, &n) == cases[i].kind, "%s",
			      cases[i].name);
		if (cases[i].kind != LSM_FILE_OTHER && cases[i].kind != LSM_FILE_TEMP &&
		    cases[i].kind != LSM_FILE_CURRENT && cases[i].kind != LSM_FILE_LOCK)
			ck_assert_uint_eq(n, cases[i].number);
	}
	ck_assert_int_eq(lsm_parse_filename("000001.sst", NULL), LSM_FILE_TABLE);
}
END_TEST

int main(void)
{
	tu_seed();
	Suite *s = suite_create("version_edit");
	TCase *tc = tcase_create("edit");
	tcase_add_test(tc, test_edit_round_trip_preserves_every_field);
	tcase_add_test(tc, test_edit_encoding_matches_the_drawn_bytes);
	tcase_add_test(tc, test_edit_every_truncation_is_rejected);
	tcase_add_test(tc, test_edit_malformed_fields_are_rejected);
	tcase_add_test(tc, test_edit_newer_format_is_eversion);
	tcase_add_test(tc, test_edit_mutated_and_random_input_never_crashes);
	tcase_add_test(tc, test_filenames_are_built_and_classified);
	suite_add_tcase(s, tc);
	return tu_run_suite(s);
}
