/*
 * check_fscore_data.c — the fs core's file data without a mount:
 * deduplicated chunks and their reference counts, holes, sparse files past
 * 4 GiB, fallocate, punch, zero range and seek, copy_file_range sharing
 * chunks, st_blocks as the bytes the chunks hold (also for an older build's
 * inode), damaged chunks and tables failing reads but not the mount,
 * read-only mounts, and the space reserve that refuses new data but never
 * freeing.
 */
#include "check_fscore.h"

#include "env.h"
#include "keys.h"
#include "lsm.h"
#include "space.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#define ROOT LSMFS_ROOT_INO

/* ---- data ---- */

START_TEST(test_dedup_shares_chunks_and_counts_references)
{
	char *dir;
	const uint32_t cs = 4096;
	lsmfs *fs = tf_new(&dir, cs);
	uint8_t x[4096], y[4096], a[3 * 4096], b[2 * 4096];
	uint8_t sha[SHA_LEN], rk[1 + SHA_LEN];
	unsigned int mdlen = SHA_LEN;
	void *v;
	size_t vlen;

	memset(x, 'x', sizeof(x));
	memset(y, 'y', sizeof(y));
	memcpy(a, x, cs);
	memcpy(a + cs, y, cs);
	memcpy(a + 2 * cs, x, cs);
	memcpy(b, x, cs);
	memcpy(b + cs, y, cs);
	tf_file(fs, ROOT, "a", a, sizeof(a));
	tf_file(fs, ROOT, "b", b, sizeof(b));
	lsmfs_unmount(fs);
	ck_assert_uint_eq(tf_count_keys(dir, 'C'), 2);
	ck_assert_uint_eq(tf_count_keys(dir, 'F'), 5);
	ck_assert_int_eq(tf_check(dir), 0);
	EVP_Digest(x, cs, sha, &mdlen, EVP_sha256(), NULL);
	rk[0] = 'R';
	memcpy(rk + 1, sha, SHA_LEN);
	ck_assert_int_eq(tf_raw_get(dir, rk, sizeof(rk), &v, &vlen), 0);
	ck_assert_uint_eq(get_be64(v), 3);
	free(v);

	fs = tf_mount(dir);
	ck_assert_int_eq(lsmfs_unlink(fs, ROOT, "a"), 0);
	lsmfs_unmount(fs);
	ck_assert_int_eq(tf_raw_get(dir, rk, sizeof(rk), &v, &vlen), 0);
	ck_assert_uint_eq(get_be64(v), 1);
	free(v);
	ck_assert_uint_eq(tf_count_keys(dir, 'C'), 2);
	ck_assert_int_eq(tf_check(dir), 0);

	/* overwriting b's x with y leaves x unreferenced: its bytes go */
	fs = tf_mount(dir);
	uint64_t bi = tf_ino(fs, ROOT, "b");
	ck_assert_int_eq(lsmfs_write(fs, &tf_root, bi, y, cs, 0), cs);
	lsmfs_unmount(fs);
	ck_assert_int_eq(tf_raw_get(dir, rk, sizeof(rk), &v, &vlen), LSM_NOTFOUND);
	ck_assert_uint_eq(tf_count_keys(dir, 'C'), 1);
	ck_assert_int_eq(tf_check(dir), 0);
	fs = tf_mount(dir);
	ck_assert_int_eq(lsmfs_unlink(fs, ROOT, "b"), 0);
	lsmfs_unmount(fs);
	ck_assert_uint_eq(tf_count_keys(dir, 'C'), 0);
	ck_assert_uint_eq(tf_count_keys(dir, 'R'), 0);
	tu_rmtree(dir);
}
END_TEST

START_TEST(test_holes_read_as_zeros_and_take_no_blocks)
{
	char *dir;
	const uint32_t cs = 4096;
	lsmfs *fs = tf_new(&dir, cs);
	uint8_t buf[5 * 4096], zero[4096];
	struct stat st, in;
	uint64_t f = tf_file(fs, ROOT, "f", NULL, 0);

	memset(zero, 0, sizeof(zero));
	ck_assert_int_eq(lsmfs_write(fs, &tf_root, f, "end", 3, 4 * cs + 10), 3);
	ck_assert_int_eq(lsmfs_getattr(fs, f, &st), 0);
	ck_assert_int_eq(st.st_size, 4 * cs + 13);
	ck_assert_int_eq(st.st_blocks, cs / 512);
	ck_assert_int_eq(lsmfs_read(fs, f, buf, sizeof(buf), 0), 4 * cs + 13);
	for (size_t i = 0; i < 4 * cs + 10; i++)
		ck_assert_uint_eq(buf[i], 0);
	ck_assert_int_eq(memcmp(buf + 4 * cs + 10, "end", 3), 0);
	/* writing zeros makes no chunk */
	ck_assert_int_eq(lsmfs_write(fs, &tf_root, f, zero, cs, 0), cs);
	ck_assert_int_eq(lsmfs_getattr(fs, f, &st), 0);
	ck_assert_int_eq(st.st_blocks, cs / 512);
	/* truncate down into the chunk zeroes its tail: growing again reads zeros */
	ck_assert_int_eq(lsmfs_write(fs, &tf_root, f, "abcdef", 6, cs), 6);
	memset(&in, 0, sizeof(in));
	in.st_size = cs + 2;
	ck_assert_int_eq(lsmfs_setattr(fs, &tf_root, f, &in, LSMFS_SET_SIZE, &st), 0);
	ck_assert_int_eq(st.st_size, cs + 2);
	ck_assert_int_eq(st.st_blocks, cs / 512);
	in.st_size = 3 * cs;
	ck_assert_int_eq(lsmfs_setattr(fs, &tf_root, f, &in, LSMFS_SET_SIZE, &st), 0);
	ck_assert_int_eq(lsmfs_read(fs, f, buf, 8, cs), 8);
	ck_assert_int_eq(memcmp(buf, "ab\0\0\0\0\0\0", 8), 0);
	in.st_size = 0;
	ck_assert_int_eq(lsmfs_setattr(fs, &tf_root, f, &in, LSMFS_SET_SIZE, &st), 0);
	ck_assert_int_eq(st.st_blocks, 0);
	ck_assert_int_eq(lsmfs_read(fs, f, buf, 10, 0), 0);
	ck_assert_int_eq(lsmfs_read(fs, f, buf, 10, -1), -EINVAL);
	ck_assert_int_eq(lsmfs_read(fs, ROOT, buf, 10, 0), -EISDIR);
	ck_assert_int_eq(lsmfs_write(fs, &tf_root, ROOT, buf, 10, 0), -EISDIR);
	ck_assert_int_eq(lsmfs_setattr(fs, &tf_root, ROOT, &in, LSMFS_SET_SIZE, &st), -EISDIR);
	lsmfs_unmount(fs);
	ck_assert_uint_eq(tf_count_keys(dir, 'C'), 0);
	ck_assert_int_eq(tf_check(dir), 0);
	tu_rmtree(dir);
}
END_TEST

START_TEST(test_sparse_file_past_4gib)
{
	char *dir;
	lsmfs *fs = tf_new(&dir, 0);
	const off_t big = 5ll << 30;
	uint8_t data[100000], got[100000];
	struct stat st, in;
	uint64_t f = tf_file(fs, ROOT, "big", NULL, 0);

	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i % 251 + 1);
	ck_assert_int_eq(lsmfs_write(fs, &tf_root, f, data, sizeof(data), big), sizeof(data));
	fs = tf_remount(fs, dir);
	ck_assert_int_eq(lsmfs_getattr(fs, f, &st), 0);
	ck_assert_int_eq(st.st_size, big + (off_t)sizeof(data));
	/* a whole chunk and the 34464 bytes of the next one, in 4 KiB units */
	ck_assert_int_eq(st.st_blocks, (LSMFS_DEFAULT_CHUNK + 9 * 4096) / 512);
	ck_assert_int_eq(lsmfs_read(fs, f, got, sizeof(got), big), sizeof(got));
	ck_assert_int_eq(memcmp(got, data, sizeof(data)), 0);
	ck_assert_int_eq(lsmfs_read(fs, f, got, 4096, 1ll << 32), 4096);
	for (size_t i = 0; i < 4096; i++)
		ck_assert_uint_eq(got[i], 0);
	ck_assert_int_eq(lsmfs_lseek(fs, f, 0, SEEK_DATA), big);
	ck_assert_int_eq(lsmfs_lseek(fs, f, 0, SEEK_HOLE), 0);
	ck_assert_int_eq(lsmfs_lseek(fs, f, big + 10, SEEK_HOLE), st.st_size);
	/* truncate to just above 4 GiB drops both chunks */
	memset(&in, 0, sizeof(in));
	in.st_size = (1ll << 32) + 1;
	ck_assert_int_eq(lsmfs_setattr(fs, &tf_root, f, &in, LSMFS_SET_SIZE, &st), 0);
	ck_assert_int_eq(st.st_blocks, 0);
	ck_assert_int_eq(lsmfs_lseek(fs, f, 0, SEEK_DATA), -ENXIO);
	lsmfs_unmount(fs);
	ck_assert_uint_eq(tf_count_keys(dir, 'C'), 0);
	ck_assert_int_eq(tf_check(dir), 0);
	tu_rmtree(dir);
}
END_TEST

START_TEST(test_fallocate_punch_and_seek)
{
	char *dir;
	const uint32_t cs = 4096;
	lsmfs *fs = tf_new(&dir, cs);
	uint8_t data[6 * 4096], got[6 * 4096];
	struct stat st;
	uint64_t f = tf_file(fs, ROOT, "f", NULL, 0);

	memset(data, 'd', sizeof(data));
	ck_assert_int_eq(lsmfs_write(fs, &tf_root, f, data, sizeof(data), 0), sizeof(data));
	ck_assert_int_eq(lsmfs_fallocate(fs, &tf_root, f, FALLOC_FL_PUNCH_HOLE, 0, 10),
			 -EOPNOTSUPP);
	ck_assert_int_eq(lsmfs_fallocate(fs, &tf_root, f, FALLOC_FL_COLLAPSE_RANGE, 0, cs),
			 -EOPNOTSUPP);
	ck_assert_int_eq(lsmfs_fallocate(fs, &tf_root, f, FALLOC_FL_INSERT_RANGE, 0, cs),
			 -EOPNOTSUPP);
	ck_assert_int_eq(lsmfs_fallocate(fs, &tf_root, f,
					 FALLOC_FL_ZERO_RANGE | FALLOC_FL_PUNCH_HOLE, 0, 10),
			 -EOPNOTSUPP);
	ck_assert_int_eq(lsmfs_fallocate(fs, &tf_root, f, FALLOC_FL_ZERO_RANGE, 0, 0), -EINVAL);
	ck_assert_int_eq(lsmfs_fallocate(fs, &tf_root, ROOT, FALLOC_FL_ZERO_RANGE, 0, 10), -EISDIR);
	ck_assert_int_eq(lsmfs_fallocate(fs, &tf_root, f, 0, 0, 0), -EINVAL);
	ck_assert_int_eq(lsmfs_fallocate(fs, &tf_root, ROOT, 0, 0, 10), -EISDIR);
	/* punch [cs + 100, 4 cs): chunk 1 keeps 100 bytes, chunks 2 and 3 go */
	ck_assert_int_eq(lsmfs_fallocate(fs, &tf_root, f,
					 FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, cs + 100,
					 3 * cs - 100),
			 0);
	ck_assert_int_eq(lsmfs_getattr(fs, f, &st), 0);
	ck_assert_int_eq(st.st_size, 6 * cs);
	ck_assert_int_eq(st.st_blocks, 4 * cs / 512);
	memset(data + cs + 100, 0, 3 * cs - 100);
	ck_assert_int_eq(lsmfs_read(fs, f, got, sizeof(got), 0), sizeof(got));
	ck_assert_int_eq(memcmp(got, data, sizeof(data)), 0);
	ck_assert_int_eq(lsmfs_lseek(fs, f, 0, SEEK_HOLE), 2 * cs);
	ck_assert_int_eq(lsmfs_lseek(fs, f, 2 * cs + 5, SEEK_DATA), 4 * cs);
	ck_assert_int_eq(lsmfs_lseek(fs, f, 5, SEEK_DATA), 5);
	ck_assert_int_eq(lsmfs_lseek(fs, f, 4 * cs, SEEK_HOLE), 6 * cs);
	ck_assert_int_eq(lsmfs_lseek(fs, f, 6 * cs, SEEK_DATA), -ENXIO);
	/* a punch inside one chunk zeroes just that range */
	ck_assert_int_eq(lsmfs_fallocate(fs, &tf_root, f,
					 FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 10, 20),
			 0);
	memset(data + 10, 0, 20);
	ck_assert_int_eq(lsmfs_read(fs, f, got, sizeof(got), 0), sizeof(got));
	ck_assert_int_eq(memcmp(got, data, sizeof(data)), 0);
	/* mode 0 extends the size and allocates nothing; KEEP_SIZE alone changes nothing */
	ck_assert_int_eq(lsmfs_fallocate(fs, &tf_root, f, 0, 8 * cs, cs), 0);
	ck_assert_int_eq(lsmfs_getattr(fs, f, &st), 0);
	ck_assert_int_eq(st.st_size, 9 * cs);
	ck_assert_int_eq(st.st_blocks, 4 * cs / 512);
	ck_assert_int_eq(lsmfs_fallocate(fs, &tf_root, f, FALLOC_FL_KEEP_SIZE, 20 * cs, cs), 0);
	ck_assert_int_eq(lsmfs_getattr(fs, f, &st), 0);
	ck_assert_int_eq(st.st_size, 9 * cs);
	/* punching to the end of file drops the partial last chunk too */
	ck_assert_int_eq(lsmfs_fallocate(fs, &tf_root, f,
					 FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 100 * cs),
			 0);
	ck_assert_int_eq(lsmfs_getattr(fs, f, &st), 0);
	ck_assert_int_eq(st.st_blocks, 0);
	ck_assert_int_eq(st.st_size, 9 * cs);
	lsmfs_unmount(fs);
	ck_assert_uint_eq(tf_count_keys(dir, 'C'), 0);
	ck_assert_int_eq(tf_check(dir), 0);
	tu_rmtree(dir);
}
END_TEST

/*
 * Zero range against a model: a file and a buffer of what it must hold.
 * After each step the size, the bytes and the blocks are compared: lsmfs
 * stores no zero bytes, so the file takes exactly its chunks that hold a
 * byte other than zero.
 */
#define ZCS  4096u
#define ZCAP (32 * ZCS)

struct zmodel {
	lsmfs *fs;
	uint64_t ino;
	uint8_t buf[ZCAP]; /* zeros past size */
	uint64_t size;
};

static void zm_check(struct zmodel *m)
{
	struct stat st;
	uint64_t chunks = 0;
	uint8_t *got;
	size_t n;

	ck_assert_int_eq(lsmfs_getattr(m->fs, m->ino, &st), 0);
	ck_assert_uint_eq((uint64_t)st.st_size, m->size);
	got = tf_slurp(m->fs, m->ino, &n);
	ck_assert_uint_eq(n, m->size);
	if (memcmp(got, m->buf, n) != 0) {
		size_t i = 0;

		while (got[i] == m->buf[i])
			i++;
		ck_abort_msg("byte %zu: %u, expected %u", i, got[i], m->buf[i]);
	}
	free(got);
	for (uint64_t c = 0; c * ZCS < m->size; c++)
		for (uint64_t i = c * ZCS; i < (c + 1) * ZCS && i < m->size; i++)
			if (m->buf[i]) {
				chunks++;
				break;
			}
	/* Every chunk with data takes its 4 KiB; its patches may take more (fsck checks the sum).
	 */
	ck_assert_uint_ge((uint64_t)st.st_blocks, chunks * ZCS / 512);
}

static void zm_write(struct zmodel *m, const uint8_t *src, uint64_t off, uint64_t n)
{
	ck_assert_uint_le(off + n, ZCAP);
	ck_assert_int_eq(lsmfs_write(m->fs, &tf_root, m->ino, src, n, (off_t)off), (ssize_t)n);
	memcpy(m->buf + off, src, n);
	if (off + n > m->size)
		m->size = off + n;
}

/* ZERO_RANGE (with KEEP_SIZE when keep) on the file and the model, then compared. */
static void zm_zero(struct zmodel *m, int keep, uint64_t off, uint64_t len)
{
	uint64_t end = off + len;
	int mode = FALLOC_FL_ZERO_RANGE | (keep ? FALLOC_FL_KEEP_SIZE : 0);

	ck_assert_int_eq(lsmfs_fallocate(m->fs, &tf_root, m->ino, mode, (off_t)off, (off_t)len), 0);
	if (off < m->size)
		memset(m->buf + off, 0, (end < m->size ? end : m->size) - off);
	if (!keep && end > m->size) {
		ck_assert_uint_le(end, ZCAP);
		m->size = end;
	}
	zm_check(m);
}

/* The times a call leaves: mtime is set far back first, so any change shows. */
static void zm_age(struct zmodel *m)
{
	struct stat in, st;

	memset(&in, 0, sizeof(in));
	in.st_mtim.tv_sec = 1000;
	ck_assert_int_eq(lsmfs_setattr(m->fs, &tf_root, m->ino, &in, LSMFS_SET_MTIME, &st), 0);
}

static void zm_assert_touched(struct zmodel *m)
{
	struct stat st;

	ck_assert_int_eq(lsmfs_getattr(m->fs, m->ino, &st), 0);
	ck_assert_int_gt(st.st_mtim.tv_sec, 1000000000);
	ck_assert_int_eq(st.st_ctim.tv_sec, st.st_mtim.tv_sec);
}

START_TEST(test_zero_range)
{
	char *dir;
	lsmfs *fs = tf_new(&dir, ZCS);
	static struct zmodel m;
	static uint8_t data[ZCAP];
	struct stat in, st;
	tu_rng r;

	tu_rng_init(&r, tu_seed());
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(1 + tu_below(&r, 255)); /* no zero byte: every chunk stored */
	memset(&m, 0, sizeof(m));
	m.fs = fs;
	m.ino = tf_file(fs, ROOT, "f", NULL, 0);
	zm_write(&m, data, 0, 8 * ZCS + 123);

	/* inside one chunk: it is rewritten, still stored */
	zm_zero(&m, 0, ZCS + 100, 200);
	zm_zero(&m, 1, 2 * ZCS + 1, ZCS - 2);
	/* across chunk boundaries: chunks 4 and 5 become holes, 3 and 6 keep their ends */
	zm_zero(&m, 0, 4 * ZCS - 10, 2 * ZCS + 20);
	ck_assert_int_eq(lsmfs_lseek(fs, m.ino, 0, SEEK_HOLE), 4 * ZCS);
	ck_assert_int_eq(lsmfs_lseek(fs, m.ino, 4 * ZCS, SEEK_DATA), 6 * ZCS);
	/* the end of a chunk and the start of the next, no whole chunk between */
	zm_zero(&m, 1, 7 * ZCS - 5, 10);
	/* over holes: nothing to zero there, the data around them still goes */
	zm_zero(&m, 0, 4 * ZCS + 7, ZCS);
	zm_zero(&m, 1, 3 * ZCS + 50, 3 * ZCS);
	/* a whole chunk exactly */
	zm_zero(&m, 0, 0, ZCS);
	ck_assert_int_eq(lsmfs_lseek(fs, m.ino, 0, SEEK_DATA), ZCS);

	/* past EOF with KEEP_SIZE: the tail goes, the size stays, the times change */
	zm_age(&m);
	zm_zero(&m, 1, m.size - 50, 3 * ZCS);
	zm_assert_touched(&m);
	/* wholly past EOF with KEEP_SIZE: nothing but the times */
	zm_age(&m);
	zm_zero(&m, 1, m.size + 5 * ZCS, 10 * ZCS);
	zm_assert_touched(&m);
	/* past EOF without it: the size grows to off + len, a hole */
	zm_write(&m, data, m.size, 2 * ZCS);
	zm_zero(&m, 0, m.size - 70, ZCS);
	zm_age(&m);
	zm_zero(&m, 0, m.size + 3 * ZCS + 1, 99);
	zm_assert_touched(&m);
	/* cut back into the zeroed range, then grown by one again */
	memset(&in, 0, sizeof(in));
	in.st_size = (off_t)(m.size - 10);
	ck_assert_int_eq(lsmfs_setattr(fs, &tf_root, m.ino, &in, LSMFS_SET_SIZE, &st), 0);
	m.size -= 10;
	zm_zero(&m, 0, m.size - 5, 15);

	/* random writes and zero ranges, each step compared */
	for (int i = 0; i < 300; i++) {
		uint64_t off = tu_below(&r, ZCAP - 1), len = 1 + tu_below(&r, ZCAP - off);

		if (tu_below(&r, 4) == 0)
			off -= off % ZCS;
		if (tu_below(&r, 4) == 0 && len > ZCS)
			len -= len % ZCS;
		if (tu_below(&r, 3) == 0)
			zm_write(&m, data + tu_below(&r, ZCS), off, len < 3 * ZCS ? len : 3 * ZCS);
		else
			zm_zero(&m, (int)tu_below(&r, 2), off, len);
	}
	fs = tf_remount(fs, dir);
	m.fs = fs;
	zm_check(&m);
	lsmfs_unmount(fs);
	ck_assert_int_eq(tf_check(dir), 0);
	tu_rmtree(dir);
}
END_TEST

/* A zero range over chunks another file shares drops this file's references only. */
START_TEST(test_zero_range_keeps_shared_chunks)
{
	char *dir;
	lsmfs *fs = tf_new(&dir, ZCS);
	static struct zmodel m;
	static uint8_t data[8 * ZCS];
	uint64_t g, h;
	uint8_t *got;
	size_t n;
	tu_rng r;

	tu_rng_init(&r, tu_seed());
	tu_fill(&r, data, sizeof(data));
	memset(&m, 0, sizeof(m));
	m.fs = fs;
	m.ino = tf_file(fs, ROOT, "f", NULL, 0);
	zm_write(&m, data, 0, sizeof(data));
	/* g shares f's chunks by reference, h holds the same bytes (deduplicated) */
	g = tf_file(fs, ROOT, "g", NULL, 0);
	ck_assert_int_eq(lsmfs_copy_file_range(fs, &tf_root, m.ino, 0, g, 0, sizeof(data)),
			 (ssize_t)sizeof(data));
	h = tf_file(fs, ROOT, "h", data, sizeof(data));
	zm_zero(&m, 0, ZCS / 2, 3 * ZCS);
	zm_zero(&m, 1, 5 * ZCS, 10 * ZCS);
	zm_zero(&m, 0, 7 * ZCS - 1, 2 * ZCS);
	for (int i = 0; i < 2; i++) {
		got = tf_slurp(fs, i ? h : g, &n);
		ck_assert_uint_eq(n, sizeof(data));
		ck_assert_int_eq(memcmp(got, data, n), 0);
		free(got);
	}
	/* and once f is gone, g and h still read their bytes */
	ck_assert_int_eq(lsmfs_unlink(fs, ROOT, "f"), 0);
	fs = tf_remount(fs, dir);
	got = tf_slurp(fs, g, &n);
	ck_assert_uint_eq(n, sizeof(data));
	ck_assert_int_eq(memcmp(got, data, n), 0);
	free(got);
	lsmfs_unmount(fs);
	/* 8 distinct chunks of g and h, and f's rewritten partial ones gone with it */
	ck_assert_uint_eq(tf_count_keys(dir, 'C'), 8);
	ck_assert_int_eq(tf_check(dir), 0);
	tu_rmtree(dir);
}
END_TEST

START_TEST(test_copy_file_range_shares_aligned_chunks)
{
	char *dir;
	const uint32_t cs = 4096;
	lsmfs *fs = tf_new(&dir, cs);
	tu_rng r;
	uint8_t src[8 * 4096], got[8 * 4096 + 100];
	size_t n;
	uint8_t *buf;

	tu_rng_init(&r, tu_seed());
	tu_fill(&r, src, sizeof(src));
	uint64_t a = tf_file(fs, ROOT, "a", src, sizeof(src));
	uint64_t b = tf_file(fs, ROOT, "b", NULL, 0);
	/* aligned: 8 chunks by reference, no new chunk */
	ck_assert_int_eq(lsmfs_copy_file_range(fs, &tf_root, a, 0, b, 0, sizeof(src) + 999),
			 sizeof(src));
	buf = tf_slurp(fs, b, &n);
	ck_assert_int_eq(n, sizeof(src));
	ck_assert_int_eq(memcmp(buf, src, n), 0);
	free(buf);
	lsmfs_unmount(fs);
	ck_assert_uint_eq(tf_count_keys(dir, 'C'), 8);
	ck_assert_int_eq(tf_check(dir), 0);
	fs = tf_mount(dir);
	/* unaligned: bytes copied */
	uint64_t c = tf_file(fs, ROOT, "c", NULL, 0);
	ck_assert_int_eq(lsmfs_copy_file_range(fs, &tf_root, a, 100, c, 7, 3 * cs), 3 * cs);
	ck_assert_int_eq(lsmfs_read(fs, c, got, sizeof(got), 0), 3 * cs + 7);
	ck_assert_int_eq(memcmp(got + 7, src + 100, 3 * cs), 0);
	/* same file, overlapping: refused; past the end: nothing */
	ck_assert_int_eq(lsmfs_copy_file_range(fs, &tf_root, a, 0, a, 10, 100), -EINVAL);
	ck_assert_int_eq(lsmfs_copy_file_range(fs, &tf_root, a, sizeof(src), b, 0, 100), 0);
	/* same file, disjoint ranges in one chunk */
	ck_assert_int_eq(lsmfs_copy_file_range(fs, &tf_root, a, 0, a, 1000, 500), 500);
	memmove(src + 1000, src, 500);
	buf = tf_slurp(fs, a, &n);
	ck_assert_int_eq(memcmp(buf, src, sizeof(src)), 0);
	free(buf);
	ck_assert_int_eq(lsmfs_unlink(fs, ROOT, "a"), 0);
	lsmfs_unmount(fs);
	ck_assert_int_eq(tf_check(dir), 0);
	tu_rmtree(dir);
}
END_TEST

/* ---- st_blocks: the bytes the chunks hold, in 4 KiB units ---- */

#define KIB 1024
/* st_blocks of n KiB. */
#define BLOCKS_KIB(n) (2 * (blkcnt_t)(n))

static blkcnt_t blocks_of(lsmfs *fs, uint64_t ino)
{
	struct stat st;

	ck_assert_int_eq(lsmfs_getattr(fs, ino, &st), 0);
	return st.st_blocks;
}

/* n bytes of which none is zero, so that no chunk is trimmed. */
static uint8_t *nonzero(size_t n)
{
	uint8_t *p = malloc(n);

	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(i % 251 + 1);
	return p;
}

static void set_size(lsmfs *fs, uint64_t ino, off_t size)
{
	struct stat in, st;

	memset(&in, 0, sizeof(in));
	in.st_size = size;
	ck_assert_int_eq(lsmfs_setattr(fs, &tf_root, ino, &in, LSMFS_SET_SIZE, &st), 0);
	ck_assert_int_eq(st.st_size, size);
}

static void punch(lsmfs *fs, uint64_t ino, off_t off, off_t len)
{
	ck_assert_int_eq(lsmfs_fallocate(fs, &tf_root, ino,
					 FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off, len),
			 0);
}

START_TEST(test_st_blocks_count_stored_bytes_in_4k_units)
{
	char *dir;
	lsmfs *fs = tf_new(&dir, 0); /* 64 KiB chunks: a chunk is more than its 4 KiB units */
	uint8_t *buf = nonzero(200 * KIB), *zero = calloc(1, 64 * KIB);
	uint64_t one = tf_file(fs, ROOT, "one", buf, 1);
	uint64_t b4095 = tf_file(fs, ROOT, "4095", buf, 4095);
	uint64_t b4097 = tf_file(fs, ROOT, "4097", buf, 4097);
	uint64_t k100 = tf_file(fs, ROOT, "100k", buf, 100 * KIB);
	uint64_t hole = tf_file(fs, ROOT, "hole", NULL, 0);

	ck_assert_int_eq(blocks_of(fs, one), BLOCKS_KIB(4));
	ck_assert_int_eq(blocks_of(fs, b4095), BLOCKS_KIB(4));
	ck_assert_int_eq(blocks_of(fs, b4097), BLOCKS_KIB(8));
	/* a whole chunk and 36 KiB of the next one */
	ck_assert_int_eq(blocks_of(fs, k100), BLOCKS_KIB(100));
	ck_assert_int_eq(blocks_of(fs, hole), 0);
	/* growing a chunk counts its new length */
	ck_assert_int_eq(lsmfs_write(fs, &tf_root, one, buf, 4096, 1), 4096);
	ck_assert_int_eq(blocks_of(fs, one), BLOCKS_KIB(8));
	/* holes take nothing; a write into one far from its chunk's start is a patch */
	ck_assert_int_eq(lsmfs_write(fs, &tf_root, hole, buf, 10, 1 << 20), 10);
	ck_assert_int_eq(blocks_of(fs, hole), BLOCKS_KIB(4));
	ck_assert_int_eq(lsmfs_write(fs, &tf_root, hole, buf, 1, 10000), 1);
	ck_assert_int_eq(blocks_of(fs, hole), BLOCKS_KIB(4 + 4));
	/* near its start, a chunk: the zeros before the data are stored */
	ck_assert_int_eq(lsmfs_write(fs, &tf_root, hole, buf, 5000, 2 << 20), 5000);
	ck_assert_int_eq(blocks_of(fs, hole), BLOCKS_KIB(4 + 4 + 8));
	ck_assert_int_eq(lsmfs_write(fs, &tf_root, hole, buf, 5000, (3 << 20) + 4000), 5000);
	ck_assert_int_eq(blocks_of(fs, hole), BLOCKS_KIB(4 + 4 + 8 + 12));
	/* overwriting a chunk with zeros makes it a hole; zeros at its end trim it */
	ck_assert_int_eq(lsmfs_write(fs, &tf_root, k100, zero, 64 * KIB, 0), 64 * KIB);
	ck_assert_int_eq(blocks_of(fs, k100), BLOCKS_KIB(36));
	ck_assert_int_eq(lsmfs_write(fs, &tf_root, k100, zero, 100 * KIB - 64 * KIB - 20000,
				     64 * KIB + 20000),
			 100 * KIB - 64 * KIB - 20000);
	ck_assert_int_eq(blocks_of(fs, k100), BLOCKS_KIB(20));
	/* the figures are in the inodes: a remount shows them, the check agrees */
	fs = tf_remount(fs, dir);
	ck_assert_int_eq(blocks_of(fs, one), BLOCKS_KIB(8));
	ck_assert_int_eq(blocks_of(fs, b4095), BLOCKS_KIB(4));
	ck_assert_int_eq(blocks_of(fs, b4097), BLOCKS_KIB(8));
	ck_assert_int_eq(blocks_of(fs, k100), BLOCKS_KIB(20));
	ck_assert_int_eq(blocks_of(fs, hole), BLOCKS_KIB(4 + 4 + 8 + 12));
	lsmfs_unmount(fs);
	ck_assert_int_eq(tf_check(dir), 0);
	free(buf);
	free(zero);
	tu_rmtree(dir);
}
END_TEST

START_TEST(test_st_blocks_after_truncate_and_punch)
{
	char *dir;
	lsmfs *fs = tf_new(&dir, 0);
	uint8_t *buf = nonzero(192 * KIB);
	uint64_t t = tf_file(fs, ROOT, "t", buf, 192 * KIB);
	uint64_t p = tf_file(fs, ROOT, "p", buf, 192 * KIB);

	ck_assert_int_eq(blocks_of(fs, t), BLOCKS_KIB(192));
	/* down into chunk 1: it keeps 4464 bytes, 8 KiB */
	set_size(fs, t, 70000);
	ck_assert_int_eq(blocks_of(fs, t), BLOCKS_KIB(64 + 8));
	/* up: a hole, nothing more */
	set_size(fs, t, 1 << 20);
	ck_assert_int_eq(blocks_of(fs, t), BLOCKS_KIB(64 + 8));
	set_size(fs, t, 100);
	ck_assert_int_eq(blocks_of(fs, t), BLOCKS_KIB(4));
	set_size(fs, t, 0);
	ck_assert_int_eq(blocks_of(fs, t), 0);

	/* [100, 128 KiB): chunk 0 keeps 100 bytes, chunk 1 goes */
	punch(fs, p, 100, 128 * KIB - 100);
	ck_assert_int_eq(blocks_of(fs, p), BLOCKS_KIB(4 + 64));
	/* the tail of chunk 2 from 30000 on: it keeps 30000 bytes, 32 KiB */
	punch(fs, p, 128 * KIB + 30000, 64 * KIB - 30000);
	ck_assert_int_eq(blocks_of(fs, p), BLOCKS_KIB(4 + 32));
	/* a hole inside a chunk's bytes: the chunk is as long as before */
	punch(fs, p, 128 * KIB + 100, 100);
	ck_assert_int_eq(blocks_of(fs, p), BLOCKS_KIB(4 + 32));
	fs = tf_remount(fs, dir);
	ck_assert_int_eq(blocks_of(fs, p), BLOCKS_KIB(4 + 32));
	punch(fs, p, 0, 192 * KIB);
	ck_assert_int_eq(blocks_of(fs, p), 0);
	lsmfs_unmount(fs);
	ck_assert_int_eq(tf_check(dir), 0);
	free(buf);
	tu_rmtree(dir);
}
END_TEST

START_TEST(test_st_blocks_count_shared_chunks_in_each_file)
{
	char *dir;
	lsmfs *fs = tf_new(&dir, 0);
	uint8_t *buf = nonzero(100 * KIB);
	uint64_t src = tf_file(fs, ROOT, "src", buf, 100 * KIB);
	uint64_t same = tf_file(fs, ROOT, "same", buf, 100 * KIB);
	uint64_t cp = tf_file(fs, ROOT, "cp", NULL, 0);
	uint64_t far = tf_file(fs, ROOT, "far", NULL, 0);
	uint64_t part = tf_file(fs, ROOT, "part", NULL, 0);

	/* deduplicated chunks count in each file, as reflinks do on btrfs */
	ck_assert_int_eq(blocks_of(fs, src), BLOCKS_KIB(100));
	ck_assert_int_eq(blocks_of(fs, same), BLOCKS_KIB(100));
	/* chunk 0 shared by reference, chunk 1 copied */
	ck_assert_int_eq(lsmfs_copy_file_range(fs, &tf_root, src, 0, cp, 0, 100 * KIB), 100 * KIB);
	ck_assert_int_eq(blocks_of(fs, cp), BLOCKS_KIB(100));
	ck_assert_int_eq(lsmfs_copy_file_range(fs, &tf_root, src, 0, far, 1 << 20, 100 * KIB),
			 100 * KIB);
	ck_assert_int_eq(blocks_of(fs, far), BLOCKS_KIB(100));
	/* unaligned: bytes [7, 5007) of chunk 0 */
	ck_assert_int_eq(lsmfs_copy_file_range(fs, &tf_root, src, 100, part, 7, 5000), 5000);
	ck_assert_int_eq(blocks_of(fs, part), BLOCKS_KIB(8));
	/* sharing over a chunk the file had swaps its length for the shared one's */
	ck_assert_int_eq(lsmfs_copy_file_range(fs, &tf_root, src, 0, part, 0, 64 * KIB), 64 * KIB);
	ck_assert_int_eq(blocks_of(fs, part), BLOCKS_KIB(64));
	ck_assert_int_eq(blocks_of(fs, src), BLOCKS_KIB(100));
	ck_assert_int_eq(lsmfs_unlink(fs, ROOT, "src"), 0);
	fs = tf_remount(fs, dir);
	ck_assert_int_eq(blocks_of(fs, same), BLOCKS_KIB(100));
	ck_assert_int_eq(blocks_of(fs, cp), BLOCKS_KIB(100));
	ck_assert_int_eq(blocks_of(fs, far), BLOCKS_KIB(100));
	ck_assert_int_eq(blocks_of(fs, part), BLOCKS_KIB(64));
	lsmfs_unmount(fs);
	ck_assert_int_eq(tf_check(dir), 0);
	free(buf);
	tu_rmtree(dir);
}
END_TEST

/* Rewrites the I key of ino as a build before the stored field wrote it: its first 88 bytes. */
static void make_old_inode(const char *dir, uint64_t ino)
{
	uint8_t k[9];
	void *v;
	size_t vlen;

	k[0] = KEY_INODE;
	put_be64(k + 1, ino);
	ck_assert_int_eq(tf_raw_get(dir, k, sizeof(k), &v, &vlen), 0);
	ck_assert_uint_eq(vlen, INODE_LEN);
	tf_raw_put(dir, k, sizeof(k), v, INODE_LEN_OLD);
	free(v);
}

static size_t inode_len(const char *dir, uint64_t ino)
{
	uint8_t k[9];
	void *v;
	size_t vlen;

	k[0] = KEY_INODE;
	put_be64(k + 1, ino);
	ck_assert_int_eq(tf_raw_get(dir, k, sizeof(k), &v, &vlen), 0);
	free(v);
	return vlen;
}

START_TEST(test_inode_of_an_older_build_counts_whole_chunks)
{
	char *dir;
	const uint32_t cs = LSMFS_DEFAULT_CHUNK;
	lsmfs *fs = tf_new(&dir, 0);
	uint8_t *buf = nonzero(200);
	uint64_t f = tf_file(fs, ROOT, "f", buf, 100);
	uint64_t g = tf_file(fs, ROOT, "g", buf, 100);
	uint64_t e = tf_file(fs, ROOT, "e", NULL, 0);

	ck_assert_int_eq(lsmfs_write(fs, &tf_root, f, buf, 100, 2 * cs), 100);
	lsmfs_unmount(fs);
	make_old_inode(dir, f);
	make_old_inode(dir, g);
	make_old_inode(dir, e);
	ck_assert_int_eq(tf_check(dir), 0);
	fs = tf_mount(dir);
	/* the figure that build showed: whole chunks */
	ck_assert_int_eq(blocks_of(fs, f), 2 * (cs / 512));
	ck_assert_int_eq(blocks_of(fs, g), cs / 512);
	ck_assert_int_eq(blocks_of(fs, e), 0);
	/* a new chunk counts whole too, and the inode keeps the old layout */
	ck_assert_int_eq(lsmfs_write(fs, &tf_root, f, buf, 1, cs), 1);
	ck_assert_int_eq(blocks_of(fs, f), 3 * (cs / 512));
	/* replacing an only chunk, and writing to a file without chunks, count exactly */
	ck_assert_int_eq(lsmfs_write(fs, &tf_root, g, buf, 200, 0), 200);
	ck_assert_int_eq(blocks_of(fs, g), BLOCKS_KIB(4));
	ck_assert_int_eq(lsmfs_write(fs, &tf_root, e, buf, 200, 0), 200);
	ck_assert_int_eq(blocks_of(fs, e), BLOCKS_KIB(4));
	fs = tf_remount(fs, dir);
	ck_assert_int_eq(blocks_of(fs, f), 3 * (cs / 512));
	lsmfs_unmount(fs);
	ck_assert_uint_eq(inode_len(dir, f), INODE_LEN_OLD);
	ck_assert_uint_eq(inode_len(dir, g), INODE_LEN);
	ck_assert_uint_eq(inode_len(dir, e), INODE_LEN);
	ck_assert_int_eq(tf_check(dir), 0);
	/* once its chunks are gone its figure is exact again */
	fs = tf_mount(dir);
	set_size(fs, f, 0);
	ck_assert_int_eq(blocks_of(fs, f), 0);
	ck_assert_int_eq(lsmfs_write(fs, &tf_root, f, buf, 100, 0), 100);
	ck_assert_int_eq(blocks_of(fs, f), BLOCKS_KIB(4));
	lsmfs_unmount(fs);
	ck_assert_uint_eq(inode_len(dir, f), INODE_LEN);
	ck_assert_int_eq(tf_check(dir), 0);
	free(buf);
	tu_rmtree(dir);
}
END_TEST

START_TEST(test_corrupt_chunk_reads_eio_other_files_fine)
{
	char *dir;
	const uint32_t cs = 4096;
	lsmfs *fs = tf_new(&dir, cs);
	uint8_t a[4096], b[4096], got[4096], ck[1 + SHA_LEN];
	unsigned int mdlen = SHA_LEN;

	memset(a, 'a', sizeof(a));
	memset(b, 'b', sizeof(b));
	uint64_t fa = tf_file(fs, ROOT, "a", a, sizeof(a));
	uint64_t fb = tf_file(fs, ROOT, "b", b, sizeof(b));
	lsmfs_unmount(fs);
	ck[0] = 'C';
	EVP_Digest(a, cs, ck + 1, &mdlen, EVP_sha256(), NULL);
	a[100] ^= 1;
	tf_raw_put(dir, ck, sizeof(ck), a, sizeof(a));
	fs = tf_mount(dir);
	ck_assert_int_eq(lsmfs_read(fs, fa, got, sizeof(got), 0), -EIO);
	ck_assert_int_eq(lsmfs_read(fs, fb, got, sizeof(got), 0), sizeof(got));
	ck_assert_int_eq(memcmp(got, b, sizeof(b)), 0);
	lsmfs_unmount(fs);
	tu_rmtree(dir);
}
END_TEST

START_TEST(test_engine_corruption_fails_the_read_not_the_mount)
{
	char *dir;
	const uint32_t cs = 4096;
	lsmfs *fs = tf_new(&dir, cs);
	size_t n = 300 * cs;
	uint8_t *data = malloc(n), *got = malloc(cs);
	lsm_db *db = NULL;
	lsm_options o;
	struct stat st;
	int eio = 0;
	tu_rng r;

	tu_rng_init(&r, tu_seed());
	tu_fill(&r, data, n);
	uint64_t f = tf_file(fs, ROOT, "f", data, n);
	lsmfs_unmount(fs);
	lsm_options_init(&o);
	ck_assert_int_eq(lsm_open(&db, dir, &o), 0);
	ck_assert_int_eq(lsm_compact_range(db, NULL, 0, NULL, 0), 0);
	ck_assert_int_eq(lsm_close(db), 0);
	/* (the engine removes the compacted-away tables at its next open) */
	ck_assert_int_eq(lsm_open(&db, dir, &o), 0);
	ck_assert_int_eq(lsm_close(db), 0);
	tf_damage_largest_table(dir);
	fs = tf_mount(dir);
	ck_assert_int_eq(lsmfs_getattr(fs, ROOT, &st), 0);
	for (size_t off = 0; off < n; off += cs) {
		ssize_t rc = lsmfs_read(fs, f, got, cs, (off_t)off);

		if (rc == -EIO)
			eio++;
		else
			ck_assert_int_eq(rc, cs);
	}
	ck_assert_int_gt(eio, 0);
	/* the filesystem goes on working */
	tf_file(fs, ROOT, "after", "ok", 2);
	ck_assert_int_eq(lsmfs_getattr(fs, f, &st), 0);
	lsmfs_unmount(fs);
	free(data);
	free(got);
	tu_rmtree(dir);
}
END_TEST

START_TEST(test_read_only_mount_reads_and_refuses_changes)
{
	char *dir;
	lsmfs *fs = tf_new(&dir, 0);
	lsmfs_opts o;
	const char *msg;
	struct stat st, in;
	char buf[8];
	uint64_t f = tf_file(fs, ROOT, "f", "data", 4);

	lsmfs_unmount(fs);
	lsmfs_opts_init(&o);
	o.read_only = 1;
	ck_assert_int_eq(lsmfs_mount(&fs, dir, &o, &msg), 0);
	ck_assert_int_eq(lsmfs_read(fs, f, buf, sizeof(buf), 0), 4);
	ck_assert_int_eq(lsmfs_create(fs, &tf_root, ROOT, "g", 0644, 0, &st), -EROFS);
	ck_assert_int_eq(lsmfs_write(fs, &tf_root, f, "x", 1, 0), -EROFS);
	ck_assert_int_eq(lsmfs_unlink(fs, ROOT, "f"), -EROFS);
	memset(&in, 0, sizeof(in));
	ck_assert_int_eq(lsmfs_setattr(fs, &tf_root, f, &in, LSMFS_SET_MODE, &st), -EROFS);
	ck_assert_int_eq(lsmfs_fsync(fs, f, 0), 0);
	struct statvfs sv;
	ck_assert_int_eq(lsmfs_statfs(fs, &sv), 0);
	ck_assert_uint_eq(sv.f_flag & ST_RDONLY, ST_RDONLY);
	lsmfs_unmount(fs);
	/* synchronous writes work too */
	o.read_only = 0;
	o.sync_writes = 1;
	ck_assert_int_eq(lsmfs_mount(&fs, dir, &o, &msg), 0);
	tf_file(fs, ROOT, "g", "x", 1);
	lsmfs_unmount(fs);
	ck_assert_int_eq(tf_check(dir), 0);
	tu_rmtree(dir);
}
END_TEST

/* ---- the space reserve ---- */

START_TEST(test_default_reserve_follows_engine_options_and_host_size)
{
	lsm_options lo;
	uint64_t r;

	lsm_options_init(&lo);
	lo.memtable_bytes = 4u << 20;
	lo.max_immutable_memtables = 2;
	lo.l0_stop_trigger = 12;
	lo.level_base_bytes = 64u << 20;
	lo.target_file_bytes = 8u << 20;
	lo.level_multiplier = 10;
	/* flushes 3 * 4 MiB * 5/4 + L0 -> L1 (12 * 4 + 64 MiB) + MANIFEST */
	r = space_default_reserve(&lo, 0);
	ck_assert_uint_eq(r, 15u * (1u << 20) + (112u << 20) + SPACE_MANIFEST_BYTES);
	ck_assert_uint_eq(space_default_reserve(&lo, 1ull << 40), r);
	/* a small host filesystem keeps at least half of itself usable */
	ck_assert_uint_eq(space_default_reserve(&lo, 128u << 20), 64u << 20);
	/* when one file into the level below is the larger compaction, it counts */
	lo.target_file_bytes = 32u << 20;
	ck_assert_uint_eq(space_default_reserve(&lo, 0),
			  15u * (1u << 20) + 32u * 11 * (1u << 20) + SPACE_MANIFEST_BYTES);
}
END_TEST

/* Mounts dir with a fault env (whose ENOSPC limit is the free space the guard sees). */
static lsmfs *mount_reserve(const char *dir, int64_t reserve, lsm_env *fe)
{
	lsmfs_opts o;
	lsmfs *fs = NULL;
	const char *msg = NULL;

	lsmfs_opts_init(&o);
	o.cache_bytes = 1 << 20;
	o.reserve_bytes = reserve;
	o.engine_env = fe;
	ck_assert_msg(lsmfs_mount(&fs, dir, &o, &msg) == 0, "mount: %s", msg ? msg : "");
	return fs;
}

static uint64_t fault_written(lsm_env *fe)
{
	lsm_fault_counters c;

	lsm_fault_counters_get(fe, &c);
	return c.bytes_written;
}

START_TEST(test_reserve_refuses_adding_data_never_freeing)
{
	const uint64_t reserve = 1u << 20;
	char *dir = tu_mkdtemp("fscore-reserve");
	lsmfs_mkfs_opts mo = {.chunk_size = 0};
	lsm_env *fe = lsm_env_fault_new(lsm_env_posix());
	static uint8_t buf[256 << 10];
	const char *msg = NULL;
	struct stat st, in;
	uint64_t a, b, d, before;
	lsmfs *fs;

	ck_assert_int_eq(lsmfs_mkfs(dir, &mo, &msg), 0);
	fs = mount_reserve(dir, (int64_t)reserve, fe);
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 7919u >> 5);
	/* Room for 200 KiB above the reserve: 64 KiB goes in, 256 KiB more does not. */
	lsm_fault_enospc_after(fe, reserve + (200u << 10));
	a = tf_file(fs, ROOT, "a", buf, 64u << 10);
	ck_assert_int_eq(lsmfs_setxattr(fs, a, "user.x", "v", 1, 0), 0);
	b = tf_file(fs, ROOT, "b", NULL, 0);
	d = tf_mkdir(fs, ROOT, "d");
	before = fault_written(fe);
	ck_assert_int_eq(lsmfs_write(fs, &tf_root, b, buf, sizeof(buf), 0), -ENOSPC);
	/* refused before the engine saw anything */
	ck_assert_uint_eq(fault_written(fe), before);

	/*
	 * Less than a new inode's worth above the reserve: nothing that adds
	 * gets in, once the guard's last look is stale.
	 */
	lsm_fault_enospc_after(fe, reserve + 1000);
	usleep(SPACE_LOOK_NS / 1000 + 10000);
	ck_assert_int_eq(lsmfs_write(fs, &tf_root, b, buf, 4096, 0), -ENOSPC);
	ck_assert_int_eq(lsmfs_create(fs, &tf_root, ROOT, "c", 0644, O_RDWR, &st), -ENOSPC);
	ck_assert_int_eq(lsmfs_mkdir(fs, &tf_root, ROOT, "e", 0755, &st), -ENOSPC);
	ck_assert_int_eq(lsmfs_mknod(fs, &tf_root, ROOT, "p", S_IFIFO | 0644, 0, &st), -ENOSPC);
	ck_assert_int_eq(lsmfs_symlink(fs, &tf_root, ROOT, "s", "a", &st), -ENOSPC);
	ck_assert_int_eq(lsmfs_link(fs, a, ROOT, "a2", &st), -ENOSPC);
	ck_assert_int_eq(lsmfs_setxattr(fs, a, "user.y", "v", 1, 0), -ENOSPC);
	ck_assert_int_eq(lsmfs_fallocate(fs, &tf_root, b, 0, 0, 1 << 20), -ENOSPC);
	ck_assert_int_eq(lsmfs_copy_file_range(fs, &tf_root, a, 0, b, 0, 4096), -ENOSPC);
	/* the checks an operation makes first still come first */
	ck_assert_int_eq(lsmfs_mkdir(fs, &tf_root, ROOT, "d", 0755, &st), -EEXIST);
	ck_assert_uint_eq(fault_written(fe), before);

	/* What frees or only shrinks always goes through, into the reserve. */
	memset(&in, 0, sizeof(in));
	in.st_size = 10;
	ck_assert_int_eq(lsmfs_setattr(fs, &tf_root, a, &in, LSMFS_SET_SIZE, &st), 0);
	in.st_size = 1 << 30; /* growing takes no space: a hole */
	ck_assert_int_eq(lsmfs_setattr(fs, &tf_root, b, &in, LSMFS_SET_SIZE, &st), 0);
	in.st_mode = 0600;
	ck_assert_int_eq(lsmfs_setattr(fs, &tf_root, a, &in, LSMFS_SET_MODE, &st), 0);
	ck_assert_int_eq(
		lsmfs_fallocate(fs, &tf_root, a, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 5),
		0);
	/* zero range stores no zeros: inside the file, past its end, growing it */
	ck_assert_int_eq(lsmfs_fallocate(fs, &tf_root, a,
					 FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, 2, 1 << 20),
			 0);
	ck_assert_int_eq(lsmfs_fallocate(fs, &tf_root, a, FALLOC_FL_ZERO_RANGE, 3, 1 << 20), 0);
	ck_assert_int_eq(lsmfs_getattr(fs, a, &st), 0);
	ck_assert_int_eq(st.st_size, 3 + (1 << 20));
	ck_assert_int_eq(lsmfs_removexattr(fs, a, "user.x"), 0);
	ck_assert_int_eq(lsmfs_rename(fs, ROOT, "a", d, "a", 0), 0);
	ck_assert_int_eq(lsmfs_fsync(fs, a, 0), 0);
	ck_assert_int_eq(lsmfs_unlink(fs, d, "a"), 0);
	ck_assert_int_eq(lsmfs_rmdir(fs, ROOT, "d"), 0);
	ck_assert_uint_gt(fault_written(fe), before);

	/* Space back: writes go in again at once (a refusal looked, so will the next call). */
	lsm_fault_clear(fe);
	ck_assert_int_eq(lsmfs_write(fs, &tf_root, b, buf, sizeof(buf), 0), (ssize_t)sizeof(buf));
	ck_assert_int_eq(lsmfs_mkdir(fs, &tf_root, ROOT, "e", 0755, &st), 0);
	lsmfs_forget(fs, st.st_ino, 1);
	lsmfs_unmount(fs);
	fe->destroy(fe);
	ck_assert_int_eq(tf_check(dir), 0);
	tu_rmtree(dir);
}
END_TEST

START_TEST(test_statfs_keeps_the_reserve_from_available)
{
	char *dir = tu_mkdtemp("fscore-reserve");
	lsmfs_mkfs_opts mo = {.chunk_size = 0};
	const char *msg = NULL;
	struct statvfs host, sv;
	lsmfs *fs;
	uint64_t avail, r;

	ck_assert_int_eq(lsmfs_mkfs(dir, &mo, &msg), 0);
	/* half of the free space: far more than what others write meanwhile */
	ck_assert_int_eq(statvfs(dir, &host), 0);
	r = (uint64_t)host.f_bavail * host.f_frsize / 2;
	ck_assert_uint_gt(r, 256u << 20);
	fs = mount_reserve(dir, (int64_t)r, NULL);
	ck_assert_int_eq(statvfs(dir, &host), 0);
	ck_assert_int_eq(lsmfs_statfs(fs, &sv), 0);
	avail = (uint64_t)host.f_bavail * host.f_frsize;
	/* other programs may write to the host between the two looks */
	ck_assert_uint_le(sv.f_bavail * sv.f_frsize, avail - r + (64u << 20));
	ck_assert_uint_ge(sv.f_bavail * sv.f_frsize + (64u << 20), avail - r);
	ck_assert_uint_ge(sv.f_bfree * sv.f_frsize + (64u << 20), avail);
	lsmfs_unmount(fs);

	/* a reserve beyond the free space: nothing available, writes refused, free still shown */
	fs = mount_reserve(dir, (int64_t)(avail + (1ull << 40)), NULL);
	ck_assert_int_eq(lsmfs_statfs(fs, &sv), 0);
	ck_assert_uint_eq(sv.f_bavail, 0);
	ck_assert_uint_gt(sv.f_bfree, 0);
	ck_assert_int_eq(lsmfs_mkdir(fs, &tf_root, ROOT, "d", 0755, NULL), -ENOSPC);
	lsmfs_unmount(fs);

	/* reserve 0: no guard, all of the free space available */
	fs = mount_reserve(dir, 0, NULL);
	ck_assert_int_eq(statvfs(dir, &host), 0);
	ck_assert_int_eq(lsmfs_statfs(fs, &sv), 0);
	avail = (uint64_t)host.f_bavail * host.f_frsize;
	ck_assert_uint_ge(sv.f_bavail * sv.f_frsize + (64u << 20), avail);
	lsmfs_unmount(fs);
	tu_rmtree(dir);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("fscore_data");
	TCase *tc = tcase_create("fscore_data");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_dedup_shares_chunks_and_counts_references);
	tcase_add_test(tc, test_holes_read_as_zeros_and_take_no_blocks);
	tcase_add_test(tc, test_sparse_file_past_4gib);
	tcase_add_test(tc, test_fallocate_punch_and_seek);
	tcase_add_test(tc, test_zero_range);
	tcase_add_test(tc, test_zero_range_keeps_shared_chunks);
	tcase_add_test(tc, test_copy_file_range_shares_aligned_chunks);
	tcase_add_test(tc, test_st_blocks_count_stored_bytes_in_4k_units);
	tcase_add_test(tc, test_st_blocks_after_truncate_and_punch);
	tcase_add_test(tc, test_st_blocks_count_shared_chunks_in_each_file);
	tcase_add_test(tc, test_inode_of_an_older_build_counts_whole_chunks);
	tcase_add_test(tc, test_corrupt_chunk_reads_eio_other_files_fine);
	tcase_add_test(tc, test_engine_corruption_fails_the_read_not_the_mount);
	tcase_add_test(tc, test_read_only_mount_reads_and_refuses_changes);
	tcase_add_test(tc, test_default_reserve_follows_engine_options_and_host_size);
	tcase_add_test(tc, test_reserve_refuses_adding_data_never_freeing);
	tcase_add_test(tc, test_statfs_keeps_the_reserve_from_available);
	suite_add_tcase(s, tc);
	return tu_run_suite(s);
}
