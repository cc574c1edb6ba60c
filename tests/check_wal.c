/*
 * check_wal.c — the write-ahead log gives back exactly the records written,
 * ends silently at a crash's torn tail, and reports damage before the tail
 * with the file and offset, never a wrong record.
 *
 * The expected layout of every log is computed by a model written here from
 * the format description (blocks, 7-byte headers, short trailers skipped),
 * independently of wal.c, and compared with what the writer produced.
 */
#include "checksum.h"
#include "coding.h"
#include "env.h"
#include "error.h"
#include "testutil.h"
#include "wal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define B LSM_WAL_BLOCK
#define H LSM_WAL_HEADER

static char *dir;
static char *logpath;
static lsm_env *px;

static void setup(void)
{
	dir = tu_mkdtemp("wal");
	logpath = tu_path(dir, "000001.log");
	px = lsm_env_posix();
}

static void teardown(void)
{
	free(logpath);
	logpath = NULL;
	tu_rmtree(dir);
	dir = NULL;
}

/* ---- the expected layout ---- */

typedef struct mfrag {
	uint64_t off; /* header offset */
	size_t len;   /* payload length */
	size_t rec;   /* record index */
} mfrag;

/* Records to write, their contents, and where the model says they go. */
typedef struct recset {
	size_t n;
	size_t *len;
	uint8_t **data;
	uint64_t *off; /* start of each record (its first fragment) */
	uint64_t *end; /* end of each record's last fragment */
	mfrag *frags;
	size_t nfrags;
	uint64_t size; /* file size */
} recset;

static void model(recset *rs)
{
	uint64_t pos = 0;
	size_t cap = 16;
	rs->frags = malloc(cap * sizeof(*rs->frags));
	rs->nfrags = 0;
	for (size_t i = 0; i < rs->n; i++) {
		size_t left = rs->len[i];
		int first = 1;
		do {
			if (B - pos % B < H)
				pos += B - pos % B; /* trailer */
			size_t room = B - pos % B - H;
			size_t f = left < room ? left : room;
			if (first)
				rs->off[i] = pos;
			if (rs->nfrags == cap) {
				cap *= 2;
				rs->frags = realloc(rs->frags, cap * sizeof(*rs->frags));
			}
			rs->frags[rs->nfrags++] = (mfrag){pos, f, i};
			pos += H + f;
			left -= f;
			first = 0;
		} while (left);
		rs->end[i] = pos;
	}
	rs->size = pos;
}

static void rs_init(recset *rs, const size_t *lens, size_t n, uint64_t seed)
{
	tu_rng r;
	tu_rng_init(&r, seed);
	rs->n = n;
	rs->len = malloc(n * sizeof(*rs->len));
	rs->data = malloc(n * sizeof(*rs->data));
	rs->off = malloc(n * sizeof(*rs->off));
	rs->end = malloc(n * sizeof(*rs->end));
	for (size_t i = 0; i < n; i++) {
		rs->len[i] = lens[i];
		rs->data[i] = malloc(lens[i] ? lens[i] : 1);
		tu_fill(&r, rs->data[i], lens[i]);
	}
	model(rs);
}

static void rs_free(recset *rs)
{
	for (size_t i = 0; i < rs->n; i++)
		free(rs->data[i]);
	free(rs->len);
	free(rs->data);
	free(rs->off);
	free(rs->end);
	free(rs->frags);
}

/*
 * Writes records [from, to) through env: groups of `group` records per
 * add_records call, or random group sizes if group is 0.
 */
static void append_recs(lsm_wal_writer *w, const recset *rs, size_t from, size_t to, size_t group,
			tu_rng *r)
{
	lsm_slice *sl = malloc((rs->n + 1) * sizeof(*sl));
	size_t i = from;
	while (i < to) {
		size_t g = group ? group : 1 + tu_below(r, 8);
		if (g > to - i)
			g = to - i;
		for (size_t k = 0; k < g; k++)
			sl[k] = lsm_slice_of(rs->data[i + k], rs->len[i + k]);
		ck_assert_int_eq(lsm_wal_add_records(w, sl, (int)g), 0);
		i += g;
		ck_assert_uint_eq(lsm_wal_size(w), rs->end[i - 1]);
	}
	free(sl);
}

static void write_log(lsm_env *env, const char *path, const recset *rs, size_t group, tu_rng *r)
{
	lsm_wal_writer *w;
	ck_assert_int_eq(lsm_wal_writer_open(env, path, &w), 0);
	append_recs(w, rs, 0, rs->n, group, r);
	ck_assert_uint_eq(lsm_wal_size(w), rs->size);
	ck_assert_int_eq(lsm_wal_sync(w), 0);
	ck_assert_int_eq(lsm_wal_writer_close(w), 0);
	uint64_t size;
	ck_assert_int_eq(px->path_size(px, path, &size), 0);
	ck_assert_uint_eq(size, rs->size);
}

/*
 * Reads the whole log, asserting every record returned is the expected
 * one at the expected offset (never a wrong record). Returns the final
 * code; *got gets the number of records read, *torn_off the start of a
 * dropped torn tail or UINT64_MAX if none.
 */
static int read_log(const char *path, int strict, const recset *rs, size_t *got, uint64_t *torn_off)
{
	lsm_wal_reader *r;
	ck_assert_int_eq(lsm_wal_reader_open(px, path, strict, &r), 0);
	size_t i = 0;
	int rc;
	lsm_slice rec;
	uint64_t off;
	while ((rc = lsm_wal_read(r, &rec, &off)) == 1) {
		ck_assert_msg(i < rs->n, "record %zu was never written", i);
		ck_assert_uint_eq(rec.len, rs->len[i]);
		ck_assert_msg(rec.len == 0 || memcmp(rec.data, rs->data[i], rec.len) == 0,
			      "record %zu has wrong contents", i);
		ck_assert_uint_eq(off, rs->off[i]);
		i++;
	}
	/* The end (or the error) is final. */
	ck_assert_int_eq(lsm_wal_read(r, &rec, &off), rc);
	uint64_t t = UINT64_MAX, bytes = 0;
	if (!lsm_wal_reader_torn_tail(r, &t, &bytes))
		t = UINT64_MAX;
	ck_assert(rc == 0 || t == UINT64_MAX);
	lsm_wal_reader_close(r);
	*got = i;
	if (torn_off)
		*torn_off = t;
	return rc;
}

static void file_truncate(const char *path, uint64_t size)
{
	lsm_file *f;
	ck_assert_int_eq(px->open_file(px, path, LSM_O_WRITE, &f), 0);
	ck_assert_int_eq(px->truncate(px, f, size), 0);
	ck_assert_int_eq(px->close(px, f), 0);
}

static void file_pwrite(const char *path, uint64_t off, const void *buf, size_t n)
{
	lsm_file *f;
	ck_assert_int_eq(px->open_file(px, path, LSM_O_WRITE, &f), 0);
	ck_assert_int_eq(px->pwrite(px, f, buf, n, off), 0);
	ck_assert_int_eq(px->close(px, f), 0);
}

static uint8_t file_byte(const char *path, uint64_t off)
{
	lsm_file *f;
	uint8_t c = 0;
	size_t n;
	ck_assert_int_eq(px->open_file(px, path, LSM_O_READ, &f), 0);
	ck_assert_int_eq(px->pread(px, f, &c, 1, off, &n), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(px->close(px, f), 0);
	return c;
}

static void flip_byte(const char *path, uint64_t off, uint8_t mask)
{
	uint8_t c = file_byte(path, off) ^ mask;
	file_pwrite(path, off, &c, 1);
}

/* The message of the last failure names the file and the offset of the damage.
 */
static void assert_corrupt_msg(const char *path, uint64_t off)
{
	char want[64];
	snprintf(want, sizeof(want), "at offset %llu:", (unsigned long long)off);
	const char *msg = lsm_errmsg();
	ck_assert_msg(strstr(msg, path) != NULL, "message lacks the file: %s", msg);
	ck_assert_msg(strstr(msg, want) != NULL, "message lacks \"%s\": %s", want, msg);
}

/* ---- round trips ---- */

START_TEST(test_wal_records_of_all_sizes_up_to_200k_round_trip)
{
	size_t lens[400], n = 0;
	tu_rng r;
	tu_rng_init(&r, tu_seed());
	for (size_t i = 0; i <= 64; i++)
		lens[n++] = i;
	/* Around one and two blocks' payload, where fragments end exactly at a
	 * boundary. */
	for (size_t d = 0; d <= 16; d++) {
		lens[n++] = B - H - d;
		lens[n++] = B - H + d;
		lens[n++] = 2 * (B - H) - d;
	}
	lens[n++] = 100000;
	lens[n++] = 200 * 1024;
	for (int i = 0; i < 40; i++)
		lens[n++] = (size_t)tu_below(&r, 200 * 1024 + 1);
	recset rs;
	rs_init(&rs, lens, n, tu_rand(&r));
	write_log(px, logpath, &rs, 1, &r);
	size_t got;
	uint64_t torn;
	ck_assert_int_eq(read_log(logpath, 0, &rs, &got, &torn), 0);
	ck_assert_uint_eq(got, n);
	ck_assert_uint_eq(torn, UINT64_MAX);
	ck_assert_int_eq(read_log(logpath, 1, &rs, &got, NULL), 0); /* strict: nothing to report */
	ck_assert_uint_eq(got, n);
	rs_free(&rs);
}
END_TEST

START_TEST(test_wal_records_ending_at_block_boundary_or_leaving_short_trailer)
{
	/* First record leaves t bytes in block 0; t < 7 bytes become a zero trailer.
	 */
	for (size_t t = 0; t <= 9; t++) {
		size_t lens[3] = {B - H - t, 10, 2 * (B - H)};
		recset rs;
		rs_init(&rs, lens, 3, tu_seed() + t);
		write_log(px, logpath, &rs, 1, NULL);
		if (t < H) {
			ck_assert_uint_eq(rs.off[1], B);
			for (size_t k = B - t; k < B; k++)
				ck_assert_uint_eq(file_byte(logpath, k), 0);
		} else {
			ck_assert_uint_eq(rs.off[1], B - t);
		}
		size_t got;
		ck_assert_int_eq(read_log(logpath, 1, &rs, &got, NULL), 0);
		ck_assert_uint_eq(got, 3);
		rs_free(&rs);
	}
	/* A record that fills two blocks exactly ends the file on a boundary. */
	size_t lens[2] = {2 * (B - H), 0};
	recset rs;
	rs_init(&rs, lens, 2, tu_seed());
	ck_assert_uint_eq(rs.end[0], 2 * B);
	write_log(px, logpath, &rs, 1, NULL);
	size_t got;
	ck_assert_int_eq(read_log(logpath, 1, &rs, &got, NULL), 0);
	ck_assert_uint_eq(got, 2);
	rs_free(&rs);
}
END_TEST

START_TEST(test_wal_many_records_in_one_add_call_are_one_write)
{
	tu_rng r;
	tu_rng_init(&r, tu_seed() ^ 3);
	size_t n = 600, lens[600];
	for (size_t i = 0; i < n; i++)
		lens[i] = i % 100 == 7 ? 40000 + tu_below(&r, 30000) : tu_below(&r, 3000);
	recset rs;
	rs_init(&rs, lens, n, tu_rand(&r));
	lsm_env *fe = lsm_env_fault_new(px);
	lsm_fault_counters before, after;
	lsm_fault_counters_get(fe, &before);
	write_log(fe, logpath, &rs, n, &r);
	lsm_fault_counters_get(fe, &after);
	ck_assert_uint_eq(after.writes - before.writes, 1);
	ck_assert_uint_eq(after.syncs - before.syncs, 1);
	ck_assert_uint_eq(after.bytes_written - before.bytes_written, rs.size);
	size_t got;
	ck_assert_int_eq(read_log(logpath, 1, &rs, &got, NULL), 0);
	ck_assert_uint_eq(got, n);
	fe->destroy(fe);
	rs_free(&rs);
}
END_TEST

START_TEST(test_wal_grouping_of_records_does_not_change_the_bytes)
{
	tu_rng r;
	tu_rng_init(&r, tu_seed() ^ 5);
	size_t n = 200, lens[200];
	for (size_t i = 0; i < n; i++)
		lens[i] = tu_below(&r, 4) == 0 ? tu_below(&r, 70000) : tu_below(&r, 200);
	recset rs;
	rs_init(&rs, lens, n, tu_rand(&r));
	char *other = tu_path(dir, "grouped.log");
	write_log(px, logpath, &rs, 1, &r);
	write_log(px, other, &rs, 0, &r);
	uint8_t *a, *b;
	size_t alen, blen;
	ck_assert_int_eq(lsm_env_read_all(px, logpath, &a, &alen), 0);
	ck_assert_int_eq(lsm_env_read_all(px, other, &b, &blen), 0);
	ck_assert_uint_eq(alen, blen);
	ck_assert_int_eq(memcmp(a, b, alen), 0);
	free(a);
	free(b);
	free(other);
	rs_free(&rs);
}
END_TEST

START_TEST(test_wal_empty_log_has_no_records_and_missing_log_is_an_error)
{
	lsm_wal_writer *w;
	ck_assert_int_eq(lsm_wal_writer_open(px, logpath, &w), 0);
	ck_assert_uint_eq(lsm_wal_size(w), 0);
	ck_assert_int_eq(lsm_wal_add_records(w, NULL, 0), 0);
	ck_assert_int_eq(lsm_wal_writer_close(w), 0);
	recset rs;
	rs_init(&rs, NULL, 0, 1);
	size_t got;
	ck_assert_int_eq(read_log(logpath, 1, &rs, &got, NULL), 0);
	ck_assert_uint_eq(got, 0);
	rs_free(&rs);
	char *missing = tu_path(dir, "missing.log");
	lsm_wal_reader *r;
	ck_assert_int_eq(lsm_wal_reader_open(px, missing, 0, &r), -ENOENT);
	free(missing);
}
END_TEST

/* ---- torn tails ---- */

/*
 * Truncates the log at offset t inside the last record and checks that the
 * earlier records come back and the tail is dropped without an error.
 */
static void check_torn_at(const recset *rs, uint64_t t)
{
	size_t last = rs->n - 1;
	uint64_t prev_end = rs->end[last - 1], start = rs->off[last];
	file_truncate(logpath, t);
	size_t got;
	uint64_t torn;
	int rc = read_log(logpath, 0, rs, &got, &torn);
	ck_assert_msg(rc == 0, "cut at %llu: %s", (unsigned long long)t, lsm_errmsg());
	ck_assert_uint_eq(got, last);
	/* A cut exactly at a record's end, or after its block's trailer, is a clean
	 * end. */
	if (t == prev_end || t == start)
		ck_assert_uint_eq(torn, UINT64_MAX);
	else
		ck_assert_uint_eq(torn, t < start ? prev_end : start);
}

START_TEST(test_wal_torn_tail_at_every_offset_of_last_record_is_ignored)
{
	/* The 32740-byte record leaves a 3-byte trailer before the last record. */
	size_t lens[] = {100, 0, 5000, 300, B - 3 - 5400 - 5 * H, 600};
	size_t n = sizeof(lens) / sizeof(lens[0]);
	recset rs;
	rs_init(&rs, lens, n, tu_seed());
	ck_assert_uint_eq(rs.off[n - 1], B);
	ck_assert_uint_eq(rs.end[n - 2], B - 3);
	write_log(px, logpath, &rs, 1, NULL);
	for (uint64_t t = rs.size - 1; t >= rs.end[n - 2]; t--)
		check_torn_at(&rs, t);
	rs_free(&rs);
}
END_TEST

START_TEST(test_wal_torn_tail_inside_a_multi_block_record_is_ignored)
{
	tu_rng r;
	tu_rng_init(&r, tu_seed() ^ 7);
	size_t lens[] = {10, 20000, 90000};
	recset rs;
	rs_init(&rs, lens, 3, tu_rand(&r));
	write_log(px, logpath, &rs, 1, NULL);
	/* Every byte of each fragment header and around each block end; random ones
	 * between. */
	uint64_t cuts[1024];
	size_t nc = 0;
	for (size_t k = 0; k < rs.nfrags; k++) {
		if (rs.frags[k].rec != 2)
			continue;
		for (uint64_t d = 0; d <= H + 2; d++)
			cuts[nc++] = rs.frags[k].off + d;
		uint64_t fend = rs.frags[k].off + H + rs.frags[k].len;
		for (uint64_t d = 1; d <= 3; d++)
			cuts[nc++] = fend - d;
	}
	for (int i = 0; i < 100; i++)
		cuts[nc++] = rs.off[2] + tu_below(&r, rs.size - rs.off[2]);
	/* Truncation only shrinks the file: visit the cuts from the end backwards. */
	for (size_t i = 0; i < nc; i++)
		for (size_t j = i + 1; j < nc; j++)
			if (cuts[j] > cuts[i]) {
				uint64_t x = cuts[i];
				cuts[i] = cuts[j];
				cuts[j] = x;
			}
	for (size_t i = 0; i < nc; i++)
		if (cuts[i] < rs.size && (i == 0 || cuts[i] != cuts[i - 1]))
			check_torn_at(&rs, cuts[i]);
	rs_free(&rs);
}
END_TEST

START_TEST(test_wal_strict_mode_reports_torn_tail)
{
	size_t lens[] = {100, 200, 50000};
	recset rs;
	rs_init(&rs, lens, 3, tu_seed());
	write_log(px, logpath, &rs, 1, NULL);
	file_truncate(logpath, rs.off[2] + 40000);
	size_t got;
	ck_assert_int_eq(read_log(logpath, 1, &rs, &got, NULL), -LSM_ECORRUPT);
	ck_assert_uint_eq(got, 2);
	/* A record cut at a fragment boundary: its FIRST has no LAST. */
	ck_assert_uint_eq(rs.nfrags, 4);
	ck_assert_uint_eq(rs.frags[2].rec, 2);
	ck_assert_uint_eq(rs.frags[3].rec, 2);
	file_truncate(logpath, rs.frags[3].off);
	ck_assert_int_eq(read_log(logpath, 1, &rs, &got, NULL), -LSM_ECORRUPT);
	assert_corrupt_msg(logpath, rs.off[2]);
	ck_assert_uint_eq(got, 2);
	ck_assert_int_eq(read_log(logpath, 0, &rs, &got, NULL), 0);
	ck_assert_uint_eq(got, 2);
	rs_free(&rs);
}
END_TEST

START_TEST(test_wal_zero_filled_tail_is_torn_tail)
{
	size_t lens[] = {100, 2 * (B - H) - 100 - H};
	recset rs;
	rs_init(&rs, lens, 2, tu_seed());
	ck_assert_uint_eq(rs.size, 2 * B); /* the second case starts the zeros on a boundary */
	static const uint8_t zeros[3 * B + 100];
	uint64_t ends[2] = {rs.end[0], rs.size};
	for (int c = 0; c < 2; c++) {
		/* Keep the records before ends[c], then a zero-filled extension of the
		 * file. */
		write_log(px, logpath, &rs, 1, NULL);
		file_truncate(logpath, ends[c]);
		file_pwrite(logpath, ends[c], zeros, sizeof(zeros));
		size_t got;
		uint64_t torn;
		ck_assert_int_eq(read_log(logpath, 0, &rs, &got, &torn), 0);
		ck_assert_uint_eq(got, (size_t)c + 1);
		ck_assert_uint_eq(torn, ends[c]);
		ck_assert_int_eq(read_log(logpath, 1, &rs, &got, NULL), -LSM_ECORRUPT);
		assert_corrupt_msg(logpath, ends[c]);
	}
	rs_free(&rs);
}
END_TEST

/* ---- damage before the tail ---- */

START_TEST(test_wal_flipped_byte_mid_log_is_corruption_naming_file_and_offset)
{
	tu_rng r;
	tu_rng_init(&r, tu_seed() ^ 11);
	size_t lens[] = {0, 50, 1000, 40000, 7, 100000, 3000, 33000, 12, 500, 20000, 64};
	size_t n = sizeof(lens) / sizeof(lens[0]);
	recset rs;
	rs_init(&rs, lens, n, tu_rand(&r));
	write_log(px, logpath, &rs, 1, NULL);
	int trials = 0;
	while (trials < 300) {
		const mfrag *f = &rs.frags[tu_below(&r, rs.nfrags)];
		if (f->rec == n - 1)
			continue; /* the last record's damage is a torn tail: next test */
		uint64_t d = tu_below(&r, H + f->len);
		uint8_t mask = (uint8_t)(1 + tu_below(&r, 255));
		flip_byte(logpath, f->off + d, mask);
		size_t got;
		int rc = read_log(logpath, tu_below(&r, 2), &rs, &got, NULL);
		ck_assert_msg(rc == -LSM_ECORRUPT, "flip at %llu (fragment %llu) gave %d",
			      (unsigned long long)(f->off + d), (unsigned long long)f->off, rc);
		ck_assert_uint_eq(got, f->rec);
		assert_corrupt_msg(logpath, f->off);
		flip_byte(logpath, f->off + d, mask);
		trials++;
	}
	size_t got;
	ck_assert_int_eq(read_log(logpath, 1, &rs, &got, NULL), 0);
	ck_assert_uint_eq(got, n);
	rs_free(&rs);
}
END_TEST

/*
 * A damaged length hides where the next fragment starts, and in the log's
 * last block no later block start shows that records follow: the reader
 * must find them by scanning the block.
 */
START_TEST(test_wal_damaged_length_in_the_last_block_is_corruption)
{
	size_t lens[] = {300, 45000, 20, 700, 0, 1500, 64, 90};
	size_t n = sizeof(lens) / sizeof(lens[0]);
	recset rs;
	rs_init(&rs, lens, n, tu_seed());
	write_log(px, logpath, &rs, 1, NULL);
	uint64_t last_block = (rs.size - 1) / B;
	int tried = 0;
	for (size_t k = 0; k < rs.nfrags; k++) {
		const mfrag *f = &rs.frags[k];
		if (f->rec == n - 1 || f->off / B != last_block)
			continue;
		/* Each bit of both length bytes: longer, shorter, past the block. */
		for (uint64_t d = 4; d <= 5; d++) {
			for (int bit = 0; bit < 8; bit++) {
				flip_byte(logpath, f->off + d, (uint8_t)(1u << bit));
				for (int strict = 0; strict <= 1; strict++) {
					size_t got;
					int rc = read_log(logpath, strict, &rs, &got, NULL);
					ck_assert_msg(rc == -LSM_ECORRUPT,
						      "length byte %llu bit %d of the fragment at "
						      "%llu: %d, %zu records",
						      (unsigned long long)d, bit,
						      (unsigned long long)f->off, rc, got);
					ck_assert_uint_eq(got, f->rec);
					assert_corrupt_msg(logpath, f->off);
				}
				flip_byte(logpath, f->off + d, (uint8_t)(1u << bit));
				tried++;
			}
		}
	}
	/* The LAST of record 1 opens the block; records 2..6 follow it. */
	ck_assert_int_eq(tried, 6 * 16);
	rs_free(&rs);
}
END_TEST

/*
 * The scan for records after damage must not turn a torn tail into
 * corruption when the torn record's payload holds a valid fragment that is
 * not followed, to the end of the file, by valid fragments only: the bytes
 * a user stored may contain a log.
 */
START_TEST(test_wal_torn_tail_whose_payload_holds_a_fragment_stays_a_torn_tail)
{
	uint8_t inner[H + 40];
	uint8_t type = LSM_WAL_FULL;
	memset(inner + H, 'q', 40);
	lsm_put_le32(inner, lsm_checksum2(&type, 1, inner + H, 40));
	lsm_put_le16(inner + 4, 40);
	inner[6] = type;
	size_t lens[] = {100, 3000};
	recset rs;
	rs_init(&rs, lens, 2, tu_seed());
	/* The last record carries a whole valid fragment at byte 1000. */
	memcpy(rs.data[1] + 1000, inner, sizeof(inner));
	write_log(px, logpath, &rs, 1, NULL);
	uint64_t at = rs.off[1] + H + 1000;
	/* Cut inside the embedded fragment, and past it. */
	uint64_t cuts[] = {rs.size - 1, at + sizeof(inner) + 1, at + 20};
	for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
		file_truncate(logpath, cuts[i]);
		size_t got;
		uint64_t torn;
		ck_assert_int_eq(read_log(logpath, 0, &rs, &got, &torn), 0);
		ck_assert_uint_eq(got, 1);
		ck_assert_uint_eq(torn, rs.off[1]);
	}
	/* Flipped bytes in that record's header: still only its own damage. */
	write_log(px, logpath, &rs, 1, NULL);
	for (uint64_t d = 0; d < H; d++) {
		flip_byte(logpath, rs.off[1] + d, 0x11);
		size_t got;
		uint64_t torn;
		ck_assert_int_eq(read_log(logpath, 0, &rs, &got, &torn), 0);
		ck_assert_uint_eq(got, 1);
		ck_assert_uint_eq(torn, rs.off[1]);
		flip_byte(logpath, rs.off[1] + d, 0x11);
	}
	rs_free(&rs);
}
END_TEST

START_TEST(test_wal_flipped_byte_in_last_record_only_is_torn_tail)
{
	size_t lens[] = {300, 45000, 500};
	recset rs;
	rs_init(&rs, lens, 3, tu_seed());
	write_log(px, logpath, &rs, 1, NULL);
	const mfrag *f = &rs.frags[rs.nfrags - 1];
	ck_assert_uint_eq(f->rec, 2);
	for (uint64_t d = 0; d < H + f->len; d++) {
		flip_byte(logpath, f->off + d, 0x20);
		size_t got;
		uint64_t torn;
		int rc = read_log(logpath, 0, &rs, &got, &torn);
		ck_assert_msg(rc == 0, "flip at byte %llu: %s", (unsigned long long)d,
			      lsm_errmsg());
		ck_assert_uint_eq(got, 2);
		ck_assert_uint_eq(torn, f->off);
		ck_assert_int_eq(read_log(logpath, 1, &rs, &got, NULL), -LSM_ECORRUPT);
		assert_corrupt_msg(logpath, f->off);
		flip_byte(logpath, f->off + d, 0x20);
	}
	rs_free(&rs);
}
END_TEST

START_TEST(test_wal_damaged_first_fragment_before_valid_last_is_corruption)
{
	/* The last record spans two blocks: damage in its FIRST is not a crash's
	 * tail. */
	size_t lens[] = {300, 45000};
	recset rs;
	rs_init(&rs, lens, 2, tu_seed());
	write_log(px, logpath, &rs, 1, NULL);
	ck_assert_uint_eq(rs.nfrags, 3);
	flip_byte(logpath, rs.frags[1].off + H + 10, 0x01);
	size_t got;
	ck_assert_int_eq(read_log(logpath, 0, &rs, &got, NULL), -LSM_ECORRUPT);
	ck_assert_uint_eq(got, 1);
	assert_corrupt_msg(logpath, rs.frags[1].off);
	rs_free(&rs);
}
END_TEST

/* ---- misplaced fragments, crafted by hand ---- */

static void craft(lsm_buf *b, uint8_t type, const char *payload)
{
	size_t len = strlen(payload);
	uint8_t h[H];
	lsm_put_le32(h, lsm_checksum2(&type, 1, payload, len));
	lsm_put_le16(h + 4, (uint16_t)len);
	h[6] = type;
	ck_assert_int_eq(lsm_buf_append(b, h, H), 0);
	ck_assert_int_eq(lsm_buf_append(b, payload, len), 0);
}

/* Reads the crafted log: expects records "A" (if want_a) and then code rc at
 * offset off. */
static void read_crafted(lsm_buf *b, int strict, int want_a, int want_rc, uint64_t off)
{
	file_truncate(logpath, 0);
	file_pwrite(logpath, 0, b->data, b->len);
	lsm_wal_reader *r;
	lsm_slice rec;
	ck_assert_int_eq(lsm_wal_reader_open(px, logpath, strict, &r), 0);
	if (want_a) {
		ck_assert_int_eq(lsm_wal_read(r, &rec, NULL), 1);
		ck_assert_uint_eq(rec.len, 1);
		ck_assert_int_eq(rec.data[0], 'A');
	}
	ck_assert_int_eq(lsm_wal_read(r, &rec, NULL), want_rc);
	if (want_rc)
		assert_corrupt_msg(logpath, off);
	lsm_wal_reader_close(r);
	b->len = 0;
}

START_TEST(test_wal_misplaced_fragments_are_corruption_unless_at_the_tail)
{
	lsm_wal_writer *w;
	ck_assert_int_eq(lsm_wal_writer_open(px, logpath, &w), 0);
	ck_assert_int_eq(lsm_wal_writer_close(w), 0);
	lsm_buf b;
	lsm_buf_init(&b);
	/* MIDDLE without FIRST, valid FULL after it. */
	craft(&b, LSM_WAL_MIDDLE, "mid");
	craft(&b, LSM_WAL_FULL, "A");
	read_crafted(&b, 0, 0, -LSM_ECORRUPT, 0);
	/* LAST without FIRST at the end: a tail (or corruption when strict). */
	craft(&b, LSM_WAL_FULL, "A");
	craft(&b, LSM_WAL_LAST, "end");
	read_crafted(&b, 0, 1, 0, 0);
	craft(&b, LSM_WAL_FULL, "A");
	craft(&b, LSM_WAL_LAST, "end");
	read_crafted(&b, 1, 1, -LSM_ECORRUPT, H + 1);
	/* FIRST without LAST, then a FULL: the FIRST's offset is reported. */
	craft(&b, LSM_WAL_FULL, "A");
	craft(&b, LSM_WAL_FIRST, "begin");
	craft(&b, LSM_WAL_FULL, "next");
	read_crafted(&b, 0, 1, -LSM_ECORRUPT, H + 1);
	/* FIRST, FIRST, LAST: the first FIRST never ended. */
	craft(&b, LSM_WAL_FIRST, "x");
	craft(&b, LSM_WAL_FIRST, "y");
	craft(&b, LSM_WAL_LAST, "z");
	read_crafted(&b, 0, 0, -LSM_ECORRUPT, 0);
	/* FIRST at the end of the log: a torn tail. */
	craft(&b, LSM_WAL_FULL, "A");
	craft(&b, LSM_WAL_FIRST, "begin");
	read_crafted(&b, 0, 1, 0, 0);
	/* An unknown type with a valid checksum, data after it. */
	craft(&b, LSM_WAL_FULL, "A");
	craft(&b, 9, "what");
	craft(&b, LSM_WAL_FULL, "B");
	read_crafted(&b, 0, 1, -LSM_ECORRUPT, H + 1);
	/* A partial header at the end of the file. */
	craft(&b, LSM_WAL_FULL, "A");
	ck_assert_int_eq(lsm_buf_append(&b, "\1\2\3", 3), 0);
	read_crafted(&b, 0, 1, 0, 0);
	lsm_buf_free(&b);
}
END_TEST

/* ---- injected faults ---- */

START_TEST(test_wal_short_write_then_reopen_reads_prefix)
{
	size_t lens[] = {100, 3000, 50000, 10};
	recset rs;
	rs_init(&rs, lens, 4, tu_seed());
	lsm_env *fe = lsm_env_fault_new(px);
	lsm_wal_writer *w;
	ck_assert_int_eq(lsm_wal_writer_open(fe, logpath, &w), 0);
	append_recs(w, &rs, 0, 2, 1, NULL);
	lsm_fault_short_write(fe, 1);
	ck_assert_int_eq(lsm_wal_add_record(w, rs.data[2], rs.len[2]), -EIO);
	/* The writer refuses from now on, without touching the file. */
	lsm_fault_counters c0, c1;
	lsm_fault_counters_get(fe, &c0);
	ck_assert_int_eq(lsm_wal_add_record(w, rs.data[3], rs.len[3]), -EIO);
	ck_assert_ptr_nonnull(strstr(lsm_errmsg(), logpath));
	ck_assert_int_eq(lsm_wal_sync(w), -EIO);
	lsm_fault_counters_get(fe, &c1);
	ck_assert_uint_eq(c1.writes, c0.writes);
	ck_assert_uint_eq(c1.syncs, c0.syncs);
	ck_assert_int_eq(lsm_wal_writer_close(w), 0);
	uint64_t size;
	ck_assert_int_eq(px->path_size(px, logpath, &size), 0);
	ck_assert_uint_eq(size, rs.end[1] + (rs.end[2] - rs.end[1]) / 2);
	size_t got;
	uint64_t torn;
	ck_assert_int_eq(read_log(logpath, 0, &rs, &got, &torn), 0);
	ck_assert_uint_eq(got, 2);
	ck_assert_uint_eq(torn, rs.off[2]);
	ck_assert_int_eq(read_log(logpath, 1, &rs, &got, NULL), -LSM_ECORRUPT);
	fe->destroy(fe);
	rs_free(&rs);
}
END_TEST

START_TEST(test_wal_failed_sync_makes_writer_refuse_appends)
{
	lsm_env *fe = lsm_env_fault_new(px);
	lsm_wal_writer *w;
	ck_assert_int_eq(lsm_wal_writer_open(fe, logpath, &w), 0);
	ck_assert_int_eq(lsm_wal_add_record(w, "abc", 3), 0);
	lsm_fault_fail_sync(fe, 1);
	ck_assert_int_eq(lsm_wal_sync(w), -EIO);
	ck_assert_int_eq(lsm_wal_add_record(w, "def", 3), -EIO);
	ck_assert_int_eq(lsm_wal_sync(w), -EIO);
	ck_assert_int_eq(lsm_wal_writer_close(w), 0);
	fe->destroy(fe);
}
END_TEST

START_TEST(test_wal_power_cut_keeps_exactly_the_synced_records)
{
	tu_rng r;
	tu_rng_init(&r, tu_seed() ^ 13);
	for (int trial = 0; trial < 8; trial++) {
		size_t n = 40, lens[40];
		for (size_t i = 0; i < n; i++)
			lens[i] = tu_below(&r, 5) == 0 ? tu_below(&r, 80000) : tu_below(&r, 500);
		recset rs;
		rs_init(&rs, lens, n, tu_rand(&r));
		lsm_env *fe = lsm_env_fault_new(px);
		lsm_wal_writer *w;
		ck_assert_int_eq(lsm_wal_writer_open(fe, logpath, &w), 0);
		ck_assert_int_eq(fe->sync_dir(fe, dir), 0); /* the file itself must survive */
		size_t synced = 0, i = 0, stop = 1 + tu_below(&r, n);
		while (i < stop) {
			size_t g = 1 + tu_below(&r, 6);
			if (g > stop - i)
				g = stop - i;
			append_recs(w, &rs, i, i + g, 0, &r);
			i += g;
			if (tu_below(&r, 3) == 0) {
				ck_assert_int_eq(lsm_wal_sync(w), 0);
				synced = i;
			}
		}
		ck_assert_int_eq(lsm_fault_power_cut(fe), 0);
		lsm_wal_writer_close(w); /* its handle died with the power */
		size_t got;
		uint64_t torn;
		ck_assert_int_eq(read_log(logpath, 0, &rs, &got, &torn), 0);
		ck_assert_uint_eq(got, synced);
		ck_assert_uint_eq(torn, UINT64_MAX); /* the cut fell on a sync point */
		fe->destroy(fe);
		rs_free(&rs);
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("wal");
	TCase *tr = tcase_create("round trip");
	tcase_add_checked_fixture(tr, setup, teardown);
	tcase_add_test(tr, test_wal_records_of_all_sizes_up_to_200k_round_trip);
	tcase_add_test(tr, test_wal_records_ending_at_block_boundary_or_leaving_short_trailer);
	tcase_add_test(tr, test_wal_many_records_in_one_add_call_are_one_write);
	tcase_add_test(tr, test_wal_grouping_of_records_does_not_change_the_bytes);
	tcase_add_test(tr, test_wal_empty_log_has_no_records_and_missing_log_is_an_error);
	suite_add_tcase(s, tr);
	TCase *tt = tcase_create("torn tail");
	tcase_add_checked_fixture(tt, setup, teardown);
	tcase_set_timeout(tt, 600);
	tcase_add_test(tt, test_wal_torn_tail_at_every_offset_of_last_record_is_ignored);
	tcase_add_test(tt, test_wal_torn_tail_inside_a_multi_block_record_is_ignored);
	tcase_add_test(tt, test_wal_strict_mode_reports_torn_tail);
	tcase_add_test(tt, test_wal_zero_filled_tail_is_torn_tail);
	suite_add_tcase(s, tt);
	TCase *tc = tcase_create("corruption");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 600);
	tcase_add_test(tc, test_wal_flipped_byte_mid_log_is_corruption_naming_file_and_offset);
	tcase_add_test(tc, test_wal_damaged_length_in_the_last_block_is_corruption);
	tcase_add_test(tc, test_wal_flipped_byte_in_last_record_only_is_torn_tail);
	tcase_add_test(tc, test_wal_torn_tail_whose_payload_holds_a_fragment_stays_a_torn_tail);
	tcase_add_test(tc, test_wal_damaged_first_fragment_before_valid_last_is_corruption);
	tcase_add_test(tc, test_wal_misplaced_fragments_are_corruption_unless_at_the_tail);
	suite_add_tcase(s, tc);
	TCase *tf = tcase_create("faults");
	tcase_add_checked_fixture(tf, setup, teardown);
	tcase_add_test(tf, test_wal_short_write_then_reopen_reads_prefix);
	tcase_add_test(tf, test_wal_failed_sync_makes_writer_refuse_appends);
	tcase_add_test(tf, test_wal_power_cut_keeps_exactly_the_synced_records);
	suite_add_tcase(s, tf);
	return tu_run_suite(s);
}
