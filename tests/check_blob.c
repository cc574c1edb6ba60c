/*
 * check_blob.c — value separation: blob references, reading values where
 * the WAL wrote them, and the database keeping each value byte on disk once.
 */
#include "blob.h"
#include "checksum.h"
#include "db_impl.h"
#include "error.h"
#include "lsm.h"
#include "testutil.h"
#include "version.h"
#include "wal.h"

#include <check.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define KiB 1024u

/* ---- the reference encoding ---- */

START_TEST(test_blob_ref_round_trips_and_rejects_every_malformed_encoding)
{
	tu_rng rng;
	tu_rng_init(&rng, tu_seed());
	for (int i = 0; i < 2000; i++) {
		lsm_blob_ref in = {
			.file = tu_rand(&rng) >> tu_below(&rng, 64),
			.offset = tu_below(&rng, 1u << 30),
			.len = 1 + tu_below(&rng, LSM_MAX_VALUE),
			.checksum = (uint32_t)tu_rand(&rng),
		};
		if (in.offset % LSM_WAL_BLOCK < LSM_WAL_HEADER)
			in.offset += LSM_WAL_HEADER;
		uint8_t enc[LSM_BLOB_REF_MAX + 1];
		size_t n = lsm_blob_ref_encode(&in, enc);
		ck_assert_uint_le(n, LSM_BLOB_REF_MAX);
		lsm_blob_ref out;
		ck_assert_int_eq(lsm_blob_ref_decode((lsm_slice){enc, n}, &out), 0);
		ck_assert_uint_eq(out.file, in.file);
		ck_assert_uint_eq(out.offset, in.offset);
		ck_assert_uint_eq(out.len, in.len);
		ck_assert_uint_eq(out.checksum, in.checksum);
		/* Every cut and one trailing byte are refused. */
		for (size_t cut = 0; cut < n; cut++)
			ck_assert_int_eq(lsm_blob_ref_decode((lsm_slice){enc, cut}, &out),
					 -LSM_ECORRUPT);
		enc[n] = 0;
		ck_assert_int_eq(lsm_blob_ref_decode((lsm_slice){enc, n + 1}, &out), -LSM_ECORRUPT);
	}
	/* Impossible lengths and offsets inside a fragment header. */
	lsm_blob_ref bad[] = {
		{.file = 1, .offset = 100, .len = 0},
		{.file = 1, .offset = 100, .len = (uint64_t)LSM_MAX_VALUE + 1},
		{.file = 1, .offset = 0, .len = 10},
		{.file = 1, .offset = LSM_WAL_BLOCK + 6, .len = 10},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint8_t enc[LSM_BLOB_REF_MAX];
		size_t n = lsm_blob_ref_encode(&bad[i], enc);
		lsm_blob_ref out;
		ck_assert_int_eq(lsm_blob_ref_decode((lsm_slice){enc, n}, &out), -LSM_ECORRUPT);
	}
}
END_TEST

/* ---- values read where the WAL wrote them ---- */

/* Writes records of random sizes to dir/000007.log; keeps copies in recs and where each starts. */
#define NRECS 60
struct logged {
	uint8_t *rec[NRECS];
	size_t len[NRECS];
	uint64_t header[NRECS];
};

static void write_log(const char *dir, tu_rng *rng, struct logged *lg)
{
	char *path = lsm_log_filename(dir, 7);
	lsm_wal_writer *w;
	ck_assert_int_eq(lsm_wal_writer_open(lsm_env_posix(), path, &w), 0);
	for (int i = 0; i < NRECS; i++) {
		/* Sizes that end anywhere in a block, and some that span several. */
		size_t len =
			i % 7 == 0 ? 1 + tu_below(rng, 200 * KiB) : 1 + tu_below(rng, 40 * KiB);
		lg->rec[i] = malloc(len);
		lg->len[i] = len;
		tu_fill(rng, lg->rec[i], len);
		lg->header[i] = lsm_wal_next_header(lsm_wal_size(w));
		ck_assert_int_eq(lsm_wal_add_record(w, lg->rec[i], len), 0);
	}
	ck_assert_int_eq(lsm_wal_writer_close(w), 0);
	free(path);
}

START_TEST(test_values_read_back_from_any_place_in_a_logged_record)
{
	tu_rng rng;
	tu_rng_init(&rng, tu_seed() ^ 0xb10b);
	char *dir = tu_mkdtemp("blob");
	struct logged lg;
	write_log(dir, &rng, &lg);

	/* The reader agrees on where every record starts. */
	char *path = lsm_log_filename(dir, 7);
	lsm_wal_reader *r;
	ck_assert_int_eq(lsm_wal_reader_open(lsm_env_posix(), path, 1, &r), 0);
	for (int i = 0; i < NRECS; i++) {
		lsm_slice rec;
		uint64_t off;
		ck_assert_int_eq(lsm_wal_read(r, &rec, &off), 1);
		ck_assert_uint_eq(off, lg.header[i]);
	}
	lsm_wal_reader_close(r);

	lsm_blob_files *bf = lsm_blob_files_new(lsm_env_posix(), dir, 4);
	ck_assert_ptr_nonnull(bf);
	/* An env without preadv: lsm_blob_read_into falls back to pread and a copy. */
	lsm_env *plain = lsm_env_fault_new(lsm_env_posix());
	ck_assert_ptr_null(plain->preadv);
	lsm_blob_files *bf_plain = lsm_blob_files_new(plain, dir, 4);
	uint8_t *into = malloc(200 * KiB);
	lsm_buf out;
	lsm_buf_init(&out);
	for (int t = 0; t < 3000; t++) {
		int i = (int)tu_below(&rng, NRECS);
		uint64_t start = tu_below(&rng, lg.len[i]);
		uint64_t len = 1 + tu_below(&rng, lg.len[i] - start);
		lsm_blob_ref ref = {
			.file = 7,
			.offset = lsm_blob_payload_offset(lg.header[i], start),
			.len = len,
			.checksum = lsm_checksum(lg.rec[i] + start, len),
		};
		ck_assert_int_eq(lsm_blob_read(bf, &ref, &out), 0);
		ck_assert_uint_eq(out.len, len);
		ck_assert(memcmp(out.data, lg.rec[i] + start, len) == 0);
		/* Straight into a buffer: the pieces land in place, the headers aside. */
		memset(into, 0xa5, len);
		ck_assert_int_eq(lsm_blob_read_into(t % 2 ? bf : bf_plain, &ref, into, 1), 0);
		ck_assert(memcmp(into, lg.rec[i] + start, len) == 0);
		/* A wrong checksum is caught on that path too. */
		if (t % 50 == 0) {
			ref.checksum ^= 1;
			ck_assert_int_eq(lsm_blob_read_into(bf, &ref, into, 1), -LSM_ECORRUPT);
			/* Unchecked (the caller checks): the bytes, as they are. */
			ck_assert_int_eq(lsm_blob_read_into(bf, &ref, into, 0), 0);
			ck_assert(memcmp(into, lg.rec[i] + start, len) == 0);
		}
	}
	lsm_buf_free(&out);
	free(into);
	lsm_blob_files_free(bf_plain);
	plain->destroy(plain);
	lsm_blob_files_free(bf);
	for (int i = 0; i < NRECS; i++)
		free(lg.rec[i]);
	free(path);
	tu_rmtree(dir);
}
END_TEST

START_TEST(test_damaged_truncated_or_missing_value_files_are_corruption)
{
	tu_rng rng;
	tu_rng_init(&rng, tu_seed() ^ 0xdead);
	char *dir = tu_mkdtemp("blob");
	struct logged lg;
	write_log(dir, &rng, &lg);
	char *path = lsm_log_filename(dir, 7);
	int last = NRECS - 1;
	lsm_blob_ref ref = {
		.file = 7,
		.offset = lsm_blob_payload_offset(lg.header[last], 0),
		.len = lg.len[last],
		.checksum = lsm_checksum(lg.rec[last], lg.len[last]),
	};
	lsm_buf out;
	lsm_buf_init(&out);

	/* One flipped byte inside the value. */
	int fd = open(path, O_RDWR);
	ck_assert_int_ge(fd, 0);
	uint8_t b;
	off_t at = (off_t)ref.offset + (off_t)(ref.len / 2 < 20000 ? ref.len / 2 : 20000);
	ck_assert_int_eq(pread(fd, &b, 1, at), 1);
	b ^= 0x40;
	ck_assert_int_eq(pwrite(fd, &b, 1, at), 1);
	lsm_blob_files *bf = lsm_blob_files_new(lsm_env_posix(), dir, 4);
	ck_assert_int_eq(lsm_blob_read(bf, &ref, &out), -LSM_ECORRUPT);
	ck_assert_ptr_nonnull(strstr(lsm_errmsg(), "000007.log"));
	ck_assert_ptr_nonnull(strstr(lsm_errmsg(), "checksum"));
	b ^= 0x40;
	ck_assert_int_eq(pwrite(fd, &b, 1, at), 1);
	ck_assert_int_eq(lsm_blob_read(bf, &ref, &out), 0);

	/* The file cut inside the value. */
	ck_assert_int_eq(ftruncate(fd, (off_t)ref.offset + 1), 0);
	close(fd);
	ck_assert_int_eq(lsm_blob_read(bf, &ref, &out), -LSM_ECORRUPT);
	ck_assert_ptr_nonnull(strstr(lsm_errmsg(), "cut short"));

	/* The file gone (and not held open). */
	lsm_blob_files_evict(bf, 7);
	ck_assert_int_eq(unlink(path), 0);
	ck_assert_int_eq(lsm_blob_read(bf, &ref, &out), -LSM_ECORRUPT);
	ck_assert_ptr_nonnull(strstr(lsm_errmsg(), "missing"));

	lsm_blob_files_free(bf);
	lsm_buf_free(&out);
	for (int i = 0; i < NRECS; i++)
		free(lg.rec[i]);
	free(path);
	tu_rmtree(dir);
}
END_TEST

/* ---- the database ---- */

static int count_files(const char *dir, const char *suffix)
{
	int n = 0;
	DIR *d = opendir(dir);
	struct dirent *e;
	while ((e = readdir(d))) {
		size_t l = strlen(e->d_name), s = strlen(suffix);
		n += l > s && strcmp(e->d_name + l - s, suffix) == 0;
	}
	closedir(d);
	return n;
}

/* Value i of generation gen: its length and bytes depend on both. */
static size_t make_value(uint8_t *buf, int i, int gen)
{
	tu_rng r;
	tu_rng_init(&r, (uint64_t)i * 7919 + (uint64_t)gen * 104729 + 1);
	size_t len = (size_t)(i % 5 == 0 ? 100 : 20 * KiB + tu_below(&r, 60 * KiB));
	tu_fill(&r, buf, len);
	return len;
}

/* Key i reads back as value i of generation gen (through ro, which may be NULL). */
static void expect_value(lsm_db *db, const lsm_read_options *ro, int i, int gen, uint8_t *buf)
{
	char key[16];
	void *v;
	size_t vl;
	snprintf(key, sizeof(key), "k%06d", i);
	ck_assert_int_eq(lsm_get(db, ro, key, strlen(key), &v, &vl), 0);
	size_t want = make_value(buf, i, gen);
	ck_assert_uint_eq(vl, want);
	ck_assert(memcmp(v, buf, vl) == 0);
	free(v);
}

/* An iterator from its first key gives values 0..n-1 of generation gen. */
static void expect_scan(lsm_iter *it, int n, int gen, uint8_t *buf)
{
	int i = 0;
	for (lsm_iter_seek_first(it); lsm_iter_valid(it); lsm_iter_next(it), i++) {
		size_t vl, want = make_value(buf, i, gen);
		const void *v = lsm_iter_value(it, &vl);
		ck_assert_ptr_nonnull(v);
		ck_assert_uint_eq(vl, want);
		ck_assert(memcmp(v, buf, vl) == 0);
	}
	ck_assert_int_eq(lsm_iter_status(it), 0);
	ck_assert_int_eq(i, n);
}

static void check_all(lsm_db *db, int n, int gen, uint8_t *buf)
{
	for (int i = 0; i < n; i++)
		expect_value(db, NULL, i, gen, buf);
	lsm_iter *it = lsm_iter_new(db, NULL);
	expect_scan(it, n, gen, buf);
	lsm_iter_free(it);
}

/* A fresh directory, a 128 KiB value buffer, and options that separate values of 1 KiB and more. */
static char *blob_setup(const char *name, uint8_t **buf, lsm_options *o)
{
	lsm_options_init(o);
	o->blob_threshold = 1024;
	*buf = malloc(128 * KiB);
	return tu_mkdtemp(name);
}

static void put_all(lsm_db *db, int n, int gen, uint8_t *buf)
{
	for (int i = 0; i < n; i++) {
		char key[16];
		snprintf(key, sizeof(key), "k%06d", i);
		size_t len = make_value(buf, i, gen);
		ck_assert_int_eq(lsm_put(db, NULL, key, strlen(key), buf, len), 0);
	}
}

START_TEST(test_separated_values_survive_flush_compaction_and_reopen)
{
	uint8_t *buf;
	lsm_options o;
	char *dir = blob_setup("blobdb", &buf, &o);
	o.blob_file_bytes = 1024 * KiB;
	lsm_db *db;
	ck_assert_int_eq(lsm_open(&db, dir, &o), 0);
	put_all(db, 200, 0, buf);
	check_all(db, 200, 0, buf); /* from memtables */
	ck_assert_int_eq(lsm_flush(db), 0);
	check_all(db, 200, 0, buf); /* from tables */
	ck_assert_int_eq(lsm_compact_range(db, NULL, 0, NULL, 0), 0);
	check_all(db, 200, 0, buf);
	ck_assert_int_eq(lsm_close(db), 0);
	/* Reopened with separation off: the references still resolve. */
	o.blob_threshold = 0;
	ck_assert_int_eq(lsm_open(&db, dir, &o), 0);
	check_all(db, 200, 0, buf);
	ck_assert_int_eq(lsm_close(db), 0);
	free(buf);
	tu_rmtree(dir);
}
END_TEST

START_TEST(test_unflushed_references_are_replayed_from_the_wal)
{
	uint8_t *buf;
	lsm_options o;
	char *dir = blob_setup("blobdb", &buf, &o);
	lsm_db *db;
	ck_assert_int_eq(lsm_open(&db, dir, &o), 0);
	put_all(db, 120, 0, buf);
	ck_assert_int_eq(lsm_close(db), 0); /* nothing flushed: all in the WAL */
	ck_assert_int_eq(lsm_open(&db, dir, &o), 0);
	check_all(db, 120, 0, buf);
	put_all(db, 120, 1, buf);
	check_all(db, 120, 1, buf);
	ck_assert_int_eq(lsm_close(db), 0);
	o.read_only = 1;
	ck_assert_int_eq(lsm_open(&db, dir, &o), 0);
	check_all(db, 120, 1, buf);
	ck_assert_int_eq(lsm_close(db), 0);
	free(buf);
	tu_rmtree(dir);
}
END_TEST

struct named_problems {
	int n;
	char file[256];
};

static void note_problem(void *arg, const char *file, uint64_t off, const char *msg)
{
	struct named_problems *np = arg;
	(void)off;
	(void)msg;
	np->n++;
	snprintf(np->file, sizeof(np->file), "%s", file);
}

/* lsm_verify adds up each table's references and compares them with its MANIFEST accounting. */
START_TEST(test_verify_finds_value_accounting_that_does_not_match)
{
	uint8_t *buf;
	lsm_options o;
	char *dir = blob_setup("blobacct", &buf, &o);
	lsm_db *db;
	ck_assert_int_eq(lsm_open(&db, dir, &o), 0);
	put_all(db, 40, 0, buf);
	ck_assert_int_eq(lsm_flush(db), 0);
	struct named_problems np = {0};
	ck_assert_int_eq(lsm_verify(db, note_problem, &np), 0);
	ck_assert_int_eq(np.n, 0);
	/* What a MANIFEST with a wrong BLOB_USE entry would have loaded. */
	lsm_file_meta *f = NULL;
	for (int l = 0; l < LSM_MAX_LEVELS && !f; l++)
		if (db->vs.current->nfiles[l])
			f = db->vs.current->files[l][0]; /* a flush may place its table deeper */
	ck_assert_ptr_nonnull(f);
	ck_assert_int_gt(f->nblobs, 0);
	f->blobs[0].bytes += 1;
	ck_assert_int_eq(lsm_verify(db, note_problem, &np), -LSM_ECORRUPT);
	ck_assert_int_eq(np.n, 1);
	ck_assert_msg(strstr(np.file, ".sst"), "the problem names %s, not the table", np.file);
	f->blobs[0].bytes -= 1;
	ck_assert_int_eq(lsm_close(db), 0);
	free(buf);
	tu_rmtree(dir);
}
END_TEST

START_TEST(test_value_files_go_once_no_table_refers_to_them)
{
	uint8_t *buf;
	lsm_options o;
	char *dir = blob_setup("blobdb", &buf, &o);
	o.blob_file_bytes = 512 * KiB;
	lsm_db *db;
	ck_assert_int_eq(lsm_open(&db, dir, &o), 0);
	put_all(db, 150, 0, buf);
	ck_assert_int_eq(lsm_flush(db), 0);
	int first = count_files(dir, ".log");
	ck_assert_int_gt(first, 5); /* the first generation's value files */
	/* An iterator opened now pins the first generation. */
	lsm_iter *it = lsm_iter_new(db, NULL);
	put_all(db, 150, 1, buf);
	ck_assert_int_eq(lsm_flush(db), 0);
	ck_assert_int_eq(lsm_compact_range(db, NULL, 0, NULL, 0), 0);
	expect_scan(it, 150, 0, buf);
	lsm_iter_free(it);
	/* Released: the compaction dropped every reference into the first generation. */
	ck_assert_int_eq(lsm_compact_range(db, NULL, 0, NULL, 0), 0);
	int second = count_files(dir, ".log");
	ck_assert_int_le(second, first + 1);
	check_all(db, 150, 1, buf);
	ck_assert_int_eq(lsm_close(db), 0);
	ck_assert_int_eq(lsm_open(&db, dir, &o), 0);
	check_all(db, 150, 1, buf);
	ck_assert_int_eq(lsm_close(db), 0);
	free(buf);
	tu_rmtree(dir);
}
END_TEST

START_TEST(test_large_values_reach_the_disk_once)
{
	char *dir = tu_mkdtemp("blobdb");
	uint8_t *buf = malloc(128 * KiB);
	lsm_env *env = lsm_env_fault_new(lsm_env_posix());
	lsm_options o;
	lsm_options_init(&o);
	o.env = env;
	o.blob_threshold = 4096;
	o.memtable_bytes = 256 * KiB; /* many flushes and compactions of the references */
	o.level_base_bytes = 64 * KiB;
	o.target_file_bytes = 16 * KiB;
	lsm_db *db;
	ck_assert_int_eq(lsm_open(&db, dir, &o), 0);
	lsm_fault_counters before, after;
	lsm_fault_counters_get(env, &before);
	uint64_t user = 0;
	tu_rng rng;
	tu_rng_init(&rng, tu_seed());
	for (int i = 0; i < 1000; i++) {
		char key[16];
		snprintf(key, sizeof(key), "k%06d", (int)tu_below(&rng, 1000000));
		tu_fill(&rng, buf, 64 * KiB);
		ck_assert_int_eq(lsm_put(db, NULL, key, strlen(key), buf, 64 * KiB), 0);
		user += strlen(key) + 64 * KiB;
	}
	ck_assert_int_eq(lsm_flush(db), 0);
	ck_assert_int_eq(lsm_compact_range(db, NULL, 0, NULL, 0), 0);
	lsm_fault_counters_get(env, &after);
	double wa = (double)(after.bytes_written - before.bytes_written) / (double)user;
	fprintf(stderr, "write amplification with 64 KiB values: %.3f\n", wa);
	ck_assert_msg(wa <= 1.05, "64 KiB values: %.3f bytes written per byte stored", wa);
	ck_assert_int_eq(lsm_close(db), 0);
	env->destroy(env);
	free(buf);
	tu_rmtree(dir);
}
END_TEST

START_TEST(test_a_damaged_value_is_an_error_never_wrong_bytes)
{
	uint8_t *buf;
	lsm_options o;
	char *dir = blob_setup("blobdb", &buf, &o);
	lsm_db *db;
	ck_assert_int_eq(lsm_open(&db, dir, &o), 0);
	put_all(db, 10, 0, buf);
	ck_assert_int_eq(lsm_flush(db), 0);
	ck_assert_int_eq(lsm_close(db), 0);
	/* Zero a run in the middle of every value file. */
	DIR *d = opendir(dir);
	struct dirent *e;
	while ((e = readdir(d))) {
		size_t l = strlen(e->d_name);
		if (l < 4 || strcmp(e->d_name + l - 4, ".log"))
			continue;
		char *p = tu_path(dir, e->d_name);
		struct stat st;
		ck_assert_int_eq(stat(p, &st), 0);
		if (st.st_size > 100 * 1024) {
			int fd = open(p, O_RDWR);
			static const uint8_t zero[512];
			ck_assert_int_eq(pwrite(fd, zero, sizeof(zero), st.st_size / 2), 512);
			close(fd);
		}
		free(p);
	}
	closedir(d);
	ck_assert_int_eq(lsm_open(&db, dir, &o), 0);
	int bad = 0;
	for (int i = 0; i < 10; i++) {
		char key[16];
		snprintf(key, sizeof(key), "k%06d", i);
		void *v;
		size_t vl;
		int rc = lsm_get(db, NULL, key, strlen(key), &v, &vl);
		if (rc == -LSM_ECORRUPT) {
			bad++;
			ck_assert_ptr_nonnull(strstr(lsm_errmsg(), ".log"));
			continue;
		}
		ck_assert_int_eq(rc, 0);
		size_t want = make_value(buf, i, 0);
		ck_assert_uint_eq(vl, want);
		ck_assert(memcmp(v, buf, vl) == 0);
		free(v);
	}
	ck_assert_int_ge(bad, 1);
	/* The iterator stops at the damaged value with the error. */
	lsm_iter *it = lsm_iter_new(db, NULL);
	int i = 0;
	for (lsm_iter_seek_first(it); lsm_iter_valid(it); i++) {
		size_t vl, want = make_value(buf, i, 0);
		const void *v = lsm_iter_value(it, &vl);
		if (!v)
			break;
		ck_assert_uint_eq(vl, want);
		ck_assert(memcmp(v, buf, vl) == 0);
		lsm_iter_next(it);
	}
	ck_assert_int_eq(lsm_iter_valid(it), 0);
	ck_assert_int_eq(lsm_iter_status(it), -LSM_ECORRUPT);
	lsm_iter_free(it);
	ck_assert_int_eq(lsm_close(db), 0);
	free(buf);
	tu_rmtree(dir);
}
END_TEST

START_TEST(test_a_missing_value_file_refuses_the_open)
{
	uint8_t *buf;
	lsm_options o;
	char *dir = blob_setup("blobdb", &buf, &o);
	o.blob_file_bytes = 256 * KiB;
	lsm_db *db;
	ck_assert_int_eq(lsm_open(&db, dir, &o), 0);
	put_all(db, 40, 0, buf);
	ck_assert_int_eq(lsm_flush(db), 0);
	ck_assert_int_eq(lsm_close(db), 0);
	/* The oldest log is a value file the tables need. */
	char *victim = NULL;
	DIR *d = opendir(dir);
	struct dirent *e;
	while ((e = readdir(d))) {
		size_t l = strlen(e->d_name);
		if (l > 4 && !strcmp(e->d_name + l - 4, ".log") &&
		    (!victim || strcmp(e->d_name, victim) < 0)) {
			free(victim);
			victim = strdup(e->d_name);
		}
	}
	closedir(d);
	ck_assert_ptr_nonnull(victim);
	char *p = tu_path(dir, victim);
	ck_assert_int_eq(unlink(p), 0);
	ck_assert_int_eq(lsm_open(&db, dir, &o), -LSM_ECORRUPT);
	ck_assert_ptr_nonnull(strstr(lsm_errmsg(), victim));
	ck_assert_ptr_nonnull(strstr(lsm_errmsg(), "missing"));
	free(p);
	free(victim);
	free(buf);
	tu_rmtree(dir);
}
END_TEST

/* Polls stats until the value files hold at most max_amp times the live bytes, or 60 s pass. */
static void wait_settled(lsm_db *db, double max_amp, lsm_stats *st)
{
	for (int i = 0; i < 600; i++) {
		lsm_stats_get(db, st);
		if (st->blob_live_bytes &&
		    (double)st->blob_file_bytes <= max_amp * (double)st->blob_live_bytes)
			return;
		usleep(100 * 1000);
	}
}

START_TEST(test_collection_moves_live_values_out_of_mostly_dead_files)
{
	uint8_t *buf;
	lsm_options o;
	char *dir = blob_setup("blobdb", &buf, &o);
	o.blob_file_bytes = 1024 * KiB;
	o.blob_gc_ratio = 0.3;
	lsm_db *db;
	ck_assert_int_eq(lsm_open(&db, dir, &o), 0);
	put_all(db, 300, 0, buf);
	ck_assert_int_eq(lsm_flush(db), 0);
	/* Snapshot and iterator of generation 0 live across the collection. */
	const lsm_snapshot *snap = lsm_snapshot_new(db);
	lsm_iter *it = lsm_iter_new(db, NULL);
	/* Every other key overwritten: each old file is about half dead. */
	for (int i = 0; i < 300; i += 2) {
		char key[16];
		snprintf(key, sizeof(key), "k%06d", i);
		size_t len = make_value(buf, i, 1);
		ck_assert_int_eq(lsm_put(db, NULL, key, strlen(key), buf, len), 0);
	}
	ck_assert_int_eq(lsm_flush(db), 0);
	ck_assert_int_eq(lsm_compact_range(db, NULL, 0, NULL, 0), 0);
	expect_scan(it, 300, 0, buf);
	lsm_iter_free(it);
	lsm_read_options ro = {.snapshot = snap};
	for (int i = 0; i < 300; i += 7)
		expect_value(db, &ro, i, 0, buf);
	lsm_snapshot_release(db, snap);
	/* With the snapshot gone a compaction drops the old references; collection follows. */
	ck_assert_int_eq(lsm_compact_range(db, NULL, 0, NULL, 0), 0);
	lsm_stats st;
	wait_settled(db, 1.5, &st);
	char text[4096];
	lsm_stats_text(db, text, sizeof(text));
	fprintf(stderr, "%s", text);
	ck_assert_uint_gt(st.blob_gc_runs, 0);
	ck_assert_uint_gt(st.blob_gc_bytes_written, 0);
	ck_assert_msg((double)st.blob_file_bytes <= 1.5 * (double)st.blob_live_bytes,
		      "value files %llu bytes for %llu live",
		      (unsigned long long)st.blob_file_bytes,
		      (unsigned long long)st.blob_live_bytes);
	ck_assert_int_gt(count_files(dir, ".blob"), 0);
	for (int i = 0; i < 300; i++)
		expect_value(db, NULL, i, i % 2 == 0, buf);
	ck_assert_int_eq(lsm_close(db), 0);
	ck_assert_int_eq(lsm_open(&db, dir, &o), 0);
	for (int i = 0; i < 300; i++)
		expect_value(db, NULL, i, i % 2 == 0, buf);
	ck_assert_int_eq(lsm_close(db), 0);
	free(buf);
	tu_rmtree(dir);
}
END_TEST

static Suite *blob_suite(void)
{
	Suite *s = suite_create("blob");
	TCase *tc = tcase_create("refs");
	tcase_add_test(tc, test_blob_ref_round_trips_and_rejects_every_malformed_encoding);
	tcase_add_test(tc, test_values_read_back_from_any_place_in_a_logged_record);
	tcase_add_test(tc, test_damaged_truncated_or_missing_value_files_are_corruption);
	suite_add_tcase(s, tc);
	tc = tcase_create("db");
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, test_separated_values_survive_flush_compaction_and_reopen);
	tcase_add_test(tc, test_unflushed_references_are_replayed_from_the_wal);
	tcase_add_test(tc, test_value_files_go_once_no_table_refers_to_them);
	tcase_add_test(tc, test_verify_finds_value_accounting_that_does_not_match);
	tcase_add_test(tc, test_large_values_reach_the_disk_once);
	tcase_add_test(tc, test_a_damaged_value_is_an_error_never_wrong_bytes);
	tcase_add_test(tc, test_a_missing_value_file_refuses_the_open);
	tcase_add_test(tc, test_collection_moves_live_values_out_of_mostly_dead_files);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run_suite(blob_suite());
}
