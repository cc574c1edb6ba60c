/*
 * check_version.c — version edits survive encoding and reject every damaged
 * input; the version set rebuilds exactly the state it logged, rolls its
 * MANIFEST over, names the damaged file on corruption, and after a power cut
 * at any write or sync of log_and_apply recovers the old or the new state.
 */
#include "env.h"
#include "error.h"
#include "testutil.h"
#include "version.h"
#include "wal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *dir;
static lsm_options opts;

static void setup(void)
{
	dir = tu_mkdtemp("version");
	memset(&opts, 0, sizeof(opts));
	opts.l0_compaction_trigger = 4;
	opts.level_base_bytes = UINT64_C(64) << 20;
	opts.level_multiplier = 10;
}

static void teardown(void)
{
	tu_rmtree(dir);
	dir = NULL;
}

/* ---- helpers ---- */

/* Adds file number at level covering user keys [lo, hi] (sequences 1..100). */
static void edit_add(lsm_version_edit *e, int level, uint64_t number, uint64_t size, const char *lo,
		     const char *hi)
{
	uint8_t a[128], b[128];
	size_t la = strlen(lo), lb = strlen(hi);
	ck_assert_uint_le(la, 120);
	ck_assert_uint_le(lb, 120);
	lsm_ikey_make(a, lo, la, 100, LSM_TYPE_VALUE);
	lsm_ikey_make(b, hi, lb, 1, LSM_TYPE_VALUE);
	ck_assert_int_eq(lsm_edit_add_file(e, level, number, size, lsm_slice_of(a, la + 8),
					   lsm_slice_of(b, lb + 8), 1, 100),
			 0);
}

static void put_hex(FILE *f, const lsm_buf *b)
{
	for (size_t i = 0; i < b->len; i++)
		fprintf(f, "%02x", b->data[i]);
}

/*
 * Everything recovery must reproduce, as text (manifest number excluded: it
 * moves). Of the file numbers, what the MANIFEST holds is the limit: the
 * numbers handed out below it are not logged one by one.
 */
static char *dump(const lsm_version_set *vs)
{
	char *s = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&s, &n);
	ck_assert_ptr_nonnull(f);
	fprintf(f, "log %llu limit %llu seq %llu\n", (unsigned long long)vs->log_number,
		(unsigned long long)vs->file_limit, (unsigned long long)vs->last_seq);
	for (int level = 0; level < LSM_MAX_LEVELS; level++) {
		for (int i = 0; i < vs->current->nfiles[level]; i++) {
			const lsm_file_meta *m = vs->current->files[level][i];
			fprintf(f, "L%d #%llu size %llu seq %llu..%llu ", level,
				(unsigned long long)m->number, (unsigned long long)m->size,
				(unsigned long long)m->smallest_seq,
				(unsigned long long)m->largest_seq);
			put_hex(f, &m->smallest);
			fputs("..", f);
			put_hex(f, &m->largest);
			fputc('\n', f);
		}
	}
	fclose(f);
	return s;
}

static char *read_text(const char *name)
{
	char *p = tu_path(dir, name);
	uint8_t *data;
	size_t len;
	ck_assert_int_eq(lsm_env_read_all(lsm_env_posix(), p, &data, &len), 0);
	free(p);
	return (char *)data; /* lsm_env_read_all NUL-terminates */
}

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

static char *manifest_name(uint64_t number)
{
	char *s;
	ck_assert_int_ge(asprintf(&s, "MANIFEST-%06llu", (unsigned long long)number), 0);
	return s;
}

static uint64_t file_size(const char *name)
{
	char *p = tu_path(dir, name);
	uint64_t size;
	ck_assert_int_eq(lsm_env_posix()->path_size(lsm_env_posix(), p, &size), 0);
	free(p);
	return size;
}

static void apply(lsm_version_set *vs, lsm_version_edit *e)
{
	int rc = lsm_vset_log_and_apply(vs, e);
	ck_assert_msg(rc == 0, "log_and_apply: %s", lsm_errmsg());
	lsm_edit_free(e);
}

/*
 * A few edits touching every kind of field: L0 files, sorted levels,
 * deletions, a trivial move (delete + add of the same number one level down).
 */
static void populate(lsm_version_set *vs)
{
	lsm_version_edit e;
	uint64_t a = vs->next_file++, b = vs->next_file++;
	lsm_edit_init(&e);
	edit_add(&e, 0, a, 1000, "apple", "mango");
	edit_add(&e, 0, b, 2000, "cherry", "zebra");
	e.has_log_number = 1;
	e.log_number = 3;
	e.has_last_seq = 1;
	e.last_seq = 50;
	apply(vs, &e);

	uint64_t c = vs->next_file++, d = vs->next_file++, f = vs->next_file++;
	lsm_edit_init(&e);
	edit_add(&e, 1, c, 3000, "a", "f");
	edit_add(&e, 1, d, 4000, "g", "p");
	edit_add(&e, 2, f, 5000, "a", "z");
	ck_assert_int_eq(lsm_edit_delete_file(&e, 0, a), 0);
	e.has_last_seq = 1;
	e.last_seq = 80;
	apply(vs, &e);

	uint64_t g = vs->next_file++;
	lsm_edit_init(&e);
	ck_assert_int_eq(lsm_edit_delete_file(&e, 0, b), 0);
	edit_add(&e, 1, g, 6000, "q", "t");
	e.has_log_number = 1;
	e.log_number = 7;
	apply(vs, &e);

	lsm_edit_init(&e);
	ck_assert_int_eq(lsm_edit_delete_file(&e, 1, g), 0);
	edit_add(&e, 3, g, 6000, "q", "t");
	apply(vs, &e);
}

static void create(lsm_version_set *vs, lsm_env *env)
{
	int rc = lsm_vset_create(vs, env, dir, &opts);
	ck_assert_msg(rc == 0, "create: %s", lsm_errmsg());
}

static void recover(lsm_version_set *vs, lsm_env *env)
{
	int rc = lsm_vset_recover(vs, env, dir, &opts);
	ck_assert_msg(rc == 0, "recover: %s", lsm_errmsg());
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

/* ---- edit encoding ---- */

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
	static const uint8_t newer[] = {0x01, 0x02, 0x00};
	ck_assert_int_eq(decode_bytes(newer, sizeof(newer)), -LSM_EVERSION);
	ck_assert_ptr_nonnull(strstr(lsm_errmsg(), "format version 2"));
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

/* ---- file names ---- */

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

	recover(&vs, lsm_env_posix());
	char *again = dump(&vs);
	ck_assert_str_eq(state, again);
	lsm_vset_destroy(&vs);
	free(state);
	free(again);
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
	recover(&vs, lsm_env_posix());
	char *again = dump(&vs);
	ck_assert_str_eq(state, again);
	lsm_vset_destroy(&vs);
	free(again);
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
	recover(&vs, lsm_env_posix());
	char *again = dump(&vs);
	ck_assert_str_eq(state, again);
	lsm_vset_destroy(&vs);
	free(again);
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

/* ---- damage ---- */

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
	static const uint8_t newer[] = {0x01, 0x02, 0x00};
	write_manifest(NULL, 0, newer, sizeof(newer));
	expect_recover_error(-LSM_EVERSION, "MANIFEST-000001");
}
END_TEST

/* ---- faults and power cuts ---- */

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
	recover(&vs, lsm_env_posix());
	char *again = dump(&vs);
	ck_assert_str_eq(after, again);
	lsm_vset_destroy(&vs);
	free(again);
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
	recover(&vs, fenv);
	char *again = dump(&vs);
	ck_assert_str_eq(more, again);
	lsm_vset_destroy(&vs);
	free(again);
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

static Suite *version_suite(void)
{
	Suite *s = suite_create("version");
	TCase *tc = tcase_create("edit");
	tcase_add_test(tc, test_edit_round_trip_preserves_every_field);
	tcase_add_test(tc, test_edit_encoding_matches_the_drawn_bytes);
	tcase_add_test(tc, test_edit_every_truncation_is_rejected);
	tcase_add_test(tc, test_edit_malformed_fields_are_rejected);
	tcase_add_test(tc, test_edit_newer_format_is_eversion);
	tcase_add_test(tc, test_edit_mutated_and_random_input_never_crashes);
	tcase_add_test(tc, test_filenames_are_built_and_classified);
	tcase_add_test(tc, test_overlapping_and_find_file_match_brute_force);
	suite_add_tcase(s, tc);

	tc = tcase_create("vset");
	tcase_add_checked_fixture(tc, setup, teardown);
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

	tc = tcase_create("damage");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_missing_current_is_not_a_database);
	tcase_add_test(tc, test_damaged_current_is_corruption_naming_it);
	tcase_add_test(tc, test_missing_manifest_is_corruption_naming_it);
	tcase_add_test(tc, test_flipped_byte_mid_manifest_is_corruption_naming_it);
	tcase_add_test(tc, test_torn_last_record_recovers_previous_state);
	tcase_add_test(tc, test_manifest_with_impossible_edits_is_corruption);
	tcase_add_test(tc, test_manifest_of_a_newer_format_is_eversion);
	suite_add_tcase(s, tc);

	tc = tcase_create("crash");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_write_or_sync_failure_installs_nothing);
	tcase_add_test(tc, test_failed_manifest_switch_without_power_cut_stays_recoverable);
	tcase_add_loop_test(tc, test_power_cut_during_log_and_apply_recovers_old_or_new_state, 0,
			    2);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	tu_seed();
	return tu_run_suite(version_suite());
}
