/*
 * check_fspatch.c — small writes as patches (fs/keys.h): a write into a
 * stored chunk adds a P key and lists it in the F value instead of
 * rewriting the chunk; reads apply the patches in order; the write that
 * passes the limits folds them into one deduplicated chunk; truncate,
 * punch, zero range, copy_file_range and unlink keep the keys exact; and
 * the checker finds and repairs missing, stray, damaged and misplaced
 * patches. Also the block checksums beside them, which let a small read
 * fetch and check only the blocks it needs.
 */
#include "check_fscore.h"

#include "fscheck.h"
#include "keys.h"
#include "lsm.h"

#include <errno.h>
#include <linux/falloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ROOT LSMFS_ROOT_INO
#define CS   (64u * 1024) /* the default chunk size */
#define KIB  1024u

START_TEST(test_small_writes_are_patches_until_they_fold)
{
	char *dir;
	lsmfs *fs = tf_new(&dir, CS);
	uint8_t *mirror = malloc(CS), blk[4 * KIB];
	tu_rng r;
	uint64_t f;
	struct fref ref;

	tu_rng_init(&r, tu_seed());
	tf_data(&r, mirror, CS);
	for (size_t i = 0; i < CS; i++)
		mirror[i] |= (uint8_t)(mirror[i] == 0);
	f = tf_file(fs, ROOT, "f", mirror, CS);
	/* PATCH_MAX 4 KiB writes: as many patches, the chunk itself untouched */
	for (int i = 0; i < PATCH_MAX; i++) {
		memset(blk, 'a' + i, sizeof(blk));
		tf_put(fs, f, mirror, blk, sizeof(blk), (size_t)i * 3800 + 7);
		tf_expect(fs, f, mirror, CS);
	}
	lsmfs_unmount(fs);
	ref = tf_fref(dir, f, 0);
	ck_assert_uint_eq(ref.npatch, PATCH_MAX);
	ck_assert_uint_eq(ref.len, CS);
	ck_assert_uint_eq(ref.patch[3].off, 3 * 3800 + 7);
	ck_assert_uint_eq(ref.patch[3].len, 4 * KIB);
	ck_assert_uint_eq(tf_count_keys(dir, 'P'), PATCH_MAX);
	ck_assert_uint_eq(tf_count_keys(dir, 'C'), 1);
	ck_assert_int_eq(tf_check(dir), 0);
	fs = tf_mount(dir);
	tf_expect(fs, f, mirror, CS);
	/* st_blocks: the chunk and each patch's 4 KiB */
	{
		struct stat st;

		ck_assert_int_eq(lsmfs_getattr(fs, f, &st), 0);
		ck_assert_int_eq(st.st_blocks, (blkcnt_t)(CS + PATCH_MAX * 4 * KIB) / 512);
	}
	/* one more folds: one new chunk, no patch left, the old chunk freed */
	memset(blk, 'z', sizeof(blk));
	tf_put(fs, f, mirror, blk, 100, 30000);
	tf_expect(fs, f, mirror, CS);
	lsmfs_unmount(fs);
	ref = tf_fref(dir, f, 0);
	ck_assert_uint_eq(ref.npatch, 0);
	ck_assert_uint_eq(tf_count_keys(dir, 'P'), 0);
	ck_assert_uint_eq(tf_count_keys(dir, 'C'), 1);
	ck_assert_int_eq(tf_check(dir), 0);
	free(mirror);
	tu_rmtree(dir);
}
END_TEST

START_TEST(test_later_patches_win_and_a_write_from_the_start_is_a_chunk)
{
	char *dir;
	lsmfs *fs = tf_new(&dir, CS);
	uint8_t mirror[2 * CS], big[40 * KIB];
	uint64_t f;

	memset(mirror, 0, sizeof(mirror));
	memset(big, 'x', sizeof(big));
	f = tf_file(fs, ROOT, "f", NULL, 0);
	tf_put(fs, f, mirror, big, sizeof(big), 0); /* into a hole from its start: a chunk */
	tf_put(fs, f, mirror, "AAAA", 4, 100);
	tf_put(fs, f, mirror, "BB", 2, 101);
	tf_put(fs, f, mirror, "C", 1, 41 * KIB); /* past the chunk's bytes, inside the file */
	tf_expect(fs, f, mirror, 41 * KIB + 1);
	ck_assert_int_eq(memcmp(mirror + 100, "ABBA", 4), 0);
	lsmfs_unmount(fs);
	ck_assert_uint_eq(tf_fref(dir, f, 0).npatch, 3);
	/* a small write far into a hole: a patch without a base chunk */
	fs = tf_mount(dir);
	tf_put(fs, f, mirror, "hole", 4, CS + 5000);
	tf_expect(fs, f, mirror, CS + 5004);
	lsmfs_unmount(fs);
	{
		struct fref r = tf_fref(dir, f, 1);

		ck_assert_uint_eq(r.len, 0);
		ck_assert_uint_eq(r.npatch, 1);
	}
	ck_assert_int_eq(tf_check(dir), 0);
	tu_rmtree(dir);
}
END_TEST

/*
 * A file of n random bytes (no zero byte) with a patch at each of offs;
 * base (if not NULL) gets its bytes before the patches.
 */
static uint64_t patched_file(lsmfs *fs, const char *name, uint8_t *mirror, uint8_t *base, size_t n,
			     const size_t *offs, size_t noffs)
{
	tu_rng r;
	uint64_t f;

	tu_rng_init(&r, tu_seed() + noffs);
	tf_data(&r, mirror, n);
	for (size_t i = 0; i < n; i++)
		mirror[i] |= (uint8_t)(mirror[i] == 0);
	f = tf_file(fs, ROOT, name, mirror, n);
	if (base)
		memcpy(base, mirror, n);
	for (size_t i = 0; i < noffs; i++)
		tf_put(fs, f, mirror, "patch!", 6, offs[i]);
	return f;
}

START_TEST(test_truncate_punch_zero_and_copy_keep_patches_exact)
{
	char *dir;
	lsmfs *fs = tf_new(&dir, CS);
	size_t n = 3 * CS, offs[] = {10, 500, CS + 10, CS + 60000, 2 * CS + 100};
	uint8_t *m = malloc(n);
	uint64_t f = patched_file(fs, "f", m, NULL, n, offs, 5), g;
	struct stat in, st;

	/* copy_file_range of a patched chunk copies its bytes, not its reference */
	g = tf_file(fs, ROOT, "g", NULL, 0);
	ck_assert_int_eq(lsmfs_copy_file_range(fs, &tf_root, f, 0, g, 0, n), (ssize_t)n);
	tf_expect(fs, g, m, n);
	/* punch over patch bytes, zero a range */
	ck_assert_int_eq(lsmfs_fallocate(fs, &tf_root, f,
					 FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 400, 200),
			 0);
	memset(m + 400, 0, 200);
	ck_assert_int_eq(lsmfs_fallocate(fs, &tf_root, f, FALLOC_FL_ZERO_RANGE, CS + 50000, 20000),
			 0);
	memset(m + CS + 50000, 0, 20000);
	tf_expect(fs, f, m, n);
	/* truncate into the last patched chunk, before its patch: the patch must go */
	memset(&in, 0, sizeof(in));
	in.st_size = 2 * CS + 50;
	ck_assert_int_eq(lsmfs_setattr(fs, &tf_root, f, &in, LSMFS_SET_SIZE, &st), 0);
	in.st_size = n;
	ck_assert_int_eq(lsmfs_setattr(fs, &tf_root, f, &in, LSMFS_SET_SIZE, &st), 0);
	memset(m + 2 * CS + 50, 0, CS - 50);
	tf_expect(fs, f, m, n);
	fs = tf_remount(fs, dir);
	tf_expect(fs, f, m, n);
	lsmfs_unmount(fs);
	ck_assert_int_eq(tf_check(dir), 0);
	/* unlinking both frees every key of their data */
	fs = tf_mount(dir);
	ck_assert_int_eq(lsmfs_unlink(fs, ROOT, "f"), 0);
	ck_assert_int_eq(lsmfs_unlink(fs, ROOT, "g"), 0);
	lsmfs_unmount(fs);
	ck_assert_uint_eq(tf_count_keys(dir, 'P'), 0);
	ck_assert_uint_eq(tf_count_keys(dir, 'F'), 0);
	ck_assert_uint_eq(tf_count_keys(dir, 'C'), 0);
	ck_assert_int_eq(tf_check(dir), 0);
	free(m);
	tu_rmtree(dir);
}
END_TEST

/*
 * Random small and large writes, truncates and punches against a mirror,
 * read back in random ranges: with 16 KiB chunks (no block checksums) and
 * with 64 KiB chunks (small reads check only their blocks).
 */
START_TEST(test_random_small_writes_match_a_mirror)
{
	char *dir;
	uint32_t cs = _i ? 64 * KIB : 16 * KIB;
	lsmfs *fs = tf_new(&dir, cs);
	size_t cap = 256 * KIB, size = 0;
	uint8_t *m = calloc(1, cap), *src = malloc(cap);
	uint64_t f = tf_file(fs, ROOT, "f", NULL, 0);
	tu_rng r;

	tu_rng_init(&r, tu_seed());
	tf_data(&r, src, cap);
	for (int op = 0; op < 3000; op++) {
		uint32_t kind = (uint32_t)tu_below(&r, 100);
		size_t off = tu_below(&r, cap), len;

		if (kind < 80) {
			len = kind < 70 ? 1 + tu_below(&r, 3000) : 1 + tu_below(&r, 40000);
			if (off + len > cap)
				len = cap - off;
			tf_put(fs, f, m, src + tu_below(&r, cap - len + 1), len, off);
			if (off + len > size)
				size = off + len;
		} else if (kind < 90) {
			struct stat in, st;

			memset(&in, 0, sizeof(in));
			in.st_size = (off_t)off;
			ck_assert_int_eq(lsmfs_setattr(fs, &tf_root, f, &in, LSMFS_SET_SIZE, &st),
					 0);
			if (off < size)
				memset(m + off, 0, size - off);
			size = off;
		} else if (off < size) {
			len = 1 + tu_below(&r, 30000);
			if (off + len > size)
				len = size - off;
			ck_assert_int_eq(lsmfs_fallocate(fs, &tf_root, f,
							 FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
							 (off_t)off, (off_t)len),
					 0);
			memset(m + off, 0, len);
		}
		if (op % 300 == 0)
			tf_expect(fs, f, m, size);
		if (size && op % 10 == 0) {
			/* a small read anywhere: the partial read path */
			size_t at = tu_below(&r, size), n = 1 + tu_below(&r, 9000);
			uint8_t got[9000];

			if (at + n > size)
				n = size - at;
			ck_assert_int_eq(lsmfs_read(fs, f, got, n, (off_t)at), (ssize_t)n);
			ck_assert_int_eq(memcmp(got, m + at, n), 0);
		}
	}
	tf_expect(fs, f, m, size);
	fs = tf_remount(fs, dir);
	tf_expect(fs, f, m, size);
	lsmfs_unmount(fs);
	ck_assert_int_eq(tf_check(dir), 0);
	free(m);
	free(src);
	tu_rmtree(dir);
}
END_TEST

/*
 * The file f of n bytes (m): one chunk with patches at 10 and 1000 (base:
 * the chunk without them), a patch-only chunk 1, a tail at n - 4.
 */
static uint64_t damage_setup(char **dir, uint8_t *m, uint8_t *base, size_t n)
{
	lsmfs *fs = tf_new(dir, CS);
	size_t offs[] = {10, 1000, CS + 20000};
	uint64_t f = patched_file(fs, "f", m, base, CS, offs, 2);

	/* grow the file with a hole, then a small write far into chunk 1 */
	tf_put(fs, f, m, "tail", 4, n - 4);
	memset(m + CS, 0, n - CS - 4);
	tf_put(fs, f, m, "patch!", 6, offs[2]);
	lsmfs_unmount(fs);
	ck_assert_uint_eq(tf_fref(*dir, f, 0).npatch, 2);
	ck_assert_uint_eq(tf_fref(*dir, f, 1).npatch, 2); /* the tail and one more */
	ck_assert_uint_eq(tf_fsck(*dir, 0).errors, 0);
	return f;
}

START_TEST(test_fsck_drops_a_patch_set_with_a_missing_patch)
{
	char *dir;
	size_t n = 2 * CS;
	uint8_t *m = malloc(n), *base = malloc(CS);
	uint64_t f = damage_setup(&dir, m, base, n);
	lsmfs_check_result res;
	struct fkey k;
	lsm_db *db;
	lsmfs *fs;

	key_patch(&k, f, 0, 1);
	db = tf_open_db(dir);
	ck_assert_int_eq(lsm_delete(db, NULL, k.b, k.len), 0);
	lsm_close(db);
	res = tf_fsck(dir, 0);
	ck_assert_uint_eq(res.count[LSMFS_CK_PATCH], 1);
	ck_assert_uint_eq(res.errors, 1);
	res = tf_fsck(dir, 1);
	ck_assert_uint_eq(res.fixed, 1);
	ck_assert_uint_eq(tf_fsck(dir, 0).errors, 0);
	ck_assert_uint_eq(tf_fref(dir, f, 0).npatch, 0);
	ck_assert_uint_eq(tf_count_keys(dir, 'P'), 2); /* chunk 1's stay */
	/* chunk 0 reads as its base (the two patches went together), the rest as written */
	memcpy(m, base, CS);
	fs = tf_mount(dir);
	tf_expect(fs, f, m, n);
	lsmfs_unmount(fs);
	free(m);
	free(base);
	tu_rmtree(dir);
}
END_TEST

/* The checker tracks every listed patch, the last of a full list too. */
START_TEST(test_fsck_finds_the_last_of_a_full_patch_list_missing)
{
	char *dir;
	lsmfs *fs = tf_new(&dir, CS);
	uint8_t *mirror = malloc(CS), blk[4 * KIB];
	lsmfs_check_result res;
	struct fkey k;
	lsm_db *db;
	uint64_t f;

	memset(mirror, 'm', CS);
	f = tf_file(fs, ROOT, "f", mirror, CS);
	for (int i = 0; i < PATCH_MAX; i++) {
		memset(blk, 'a' + i, sizeof(blk));
		tf_put(fs, f, mirror, blk, sizeof(blk), (size_t)i * 3800 + 7);
	}
	lsmfs_unmount(fs);
	ck_assert_uint_eq(tf_fref(dir, f, 0).npatch, PATCH_MAX);
	key_patch(&k, f, 0, PATCH_MAX - 1);
	db = tf_open_db(dir);
	ck_assert_int_eq(lsm_delete(db, NULL, k.b, k.len), 0);
	lsm_close(db);
	res = tf_fsck(dir, 0);
	ck_assert_uint_eq(res.count[LSMFS_CK_PATCH], 1);
	ck_assert_uint_eq(res.errors, 1);
	free(mirror);
	tu_rmtree(dir);
}
END_TEST

START_TEST(test_fsck_removes_stray_and_misplaced_patches)
{
	char *dir;
	size_t n = 2 * CS;
	uint8_t *m = malloc(n);
	uint64_t f = damage_setup(&dir, m, NULL, n);
	lsmfs_check_result res;
	struct fkey k;
	lsmfs *fs;

	/* a P key no reference lists (n past the count), and one of a chunk without F */
	key_patch(&k, f, 0, 5);
	tf_raw_put(dir, k.b, k.len, "xx", 2);
	key_patch(&k, f, 7, 0);
	tf_raw_put(dir, k.b, k.len, "yy", 2);
	/* chunk 1's first patch (the tail) gets the wrong length */
	key_patch(&k, f, 1, 0);
	tf_raw_put(dir, k.b, k.len, "toolong!", 8);
	res = tf_fsck(dir, 0);
	ck_assert_uint_eq(res.count[LSMFS_CK_PATCH], 3);
	res = tf_fsck(dir, 1);
	ck_assert_uint_eq(res.fixed, 3);
	ck_assert_uint_eq(tf_fsck(dir, 0).errors, 0);
	ck_assert_uint_eq(tf_count_keys(dir, 'P'), 2); /* chunk 0's two */
	ck_assert_uint_eq(tf_count_keys(dir, 'F'), 1); /* chunk 1 had nothing but patches */
	fs = tf_mount(dir);
	memset(m + CS, 0, CS);
	tf_expect(fs, f, m, n);
	lsmfs_unmount(fs);
	free(m);
	tu_rmtree(dir);
}
END_TEST

START_TEST(test_fsck_drops_patches_past_the_end_of_file)
{
	char *dir;
	size_t n = 2 * CS;
	uint8_t *m = malloc(n);
	uint64_t f = damage_setup(&dir, m, NULL, n);
	lsmfs_check_result res;
	struct lsmfs_attr a;
	struct fkey k;
	uint8_t iv[INODE_LEN];
	void *v;
	size_t vlen;

	/* the inode claims a size that ends inside chunk 0, before its second patch */
	key_ino(&k, KEY_INODE, f);
	ck_assert_int_eq(tf_raw_get(dir, k.b, k.len, &v, &vlen), 0);
	ck_assert_int_eq(inode_decode(&a, v, vlen), 0);
	free(v);
	a.size = 500;
	tf_raw_put(dir, k.b, k.len, iv, inode_encode(iv, &a));
	res = tf_fsck(dir, 0);
	ck_assert_uint_ge(res.count[LSMFS_CK_PATCH], 1);
	tf_fsck(dir, 1);
	ck_assert_uint_eq(tf_fsck(dir, 0).errors, 0);
	ck_assert_uint_eq(tf_count_keys(dir, 'P'), 0);
	free(m);
	tu_rmtree(dir);
}
END_TEST

/*
 * Block checksums: a small read checks only its blocks, and a damaged
 * block fails it with EIO (also a read that verify=off would not check
 * whole); the checker finds checksums that disagree with the chunk and
 * drops them, after which reads check the whole chunk's SHA-256 again.
 */
START_TEST(test_block_checksums_check_small_reads_and_fsck_drops_bad_ones)
{
	char *dir;
	size_t offs[] = {0};
	uint8_t *m = malloc(CS), got[100], page[4096];
	lsmfs *fs = tf_new(&dir, CS);
	uint64_t f = patched_file(fs, "f", m, NULL, CS, offs, 0);
	lsmfs_check_result res;
	struct fref r;
	struct fkey k;
	uint8_t v[FREF_MAX_LEN];

	ck_assert_int_eq(lsmfs_read(fs, f, got, sizeof(got), 5000), (ssize_t)sizeof(got));
	ck_assert_int_eq(memcmp(got, m + 5000, sizeof(got)), 0);
	lsmfs_unmount(fs);
	r = tf_fref(dir, f, 0);
	ck_assert_uint_eq(r.nsum, SUM_BLOCKS);
	/* block 1 (bytes 4096..8191) gets a wrong checksum */
	r.sum[1] ^= 1;
	key_fchunk(&k, f, 0);
	tf_raw_put(dir, k.b, k.len, v, fref_encode(v, &r, NULL));
	fs = tf_mount(dir);
	ck_assert_int_eq(lsmfs_read(fs, f, got, sizeof(got), 5000), -EIO);
	ck_assert_int_eq(lsmfs_read(fs, f, got, sizeof(got), 100), (ssize_t)sizeof(got));
	/* whole blocks, read straight into the caller's buffer: checked alike */
	ck_assert_int_eq(lsmfs_read(fs, f, page, sizeof(page), 4096), -EIO);
	ck_assert_int_eq(lsmfs_read(fs, f, page, sizeof(page), 8192), (ssize_t)sizeof(page));
	ck_assert_int_eq(memcmp(page, m + 8192, sizeof(page)), 0);
	lsmfs_unmount(fs);
	res = tf_fsck(dir, 0);
	ck_assert_uint_eq(res.count[LSMFS_CK_SUMS], 1);
	ck_assert_uint_eq(res.errors, 1);
	tf_fsck(dir, 1);
	ck_assert_uint_eq(tf_fsck(dir, 0).errors, 0);
	ck_assert_uint_eq(tf_fref(dir, f, 0).nsum, 0);
	fs = tf_mount(dir);
	ck_assert_int_eq(lsmfs_read(fs, f, got, sizeof(got), 5000), (ssize_t)sizeof(got));
	ck_assert_int_eq(memcmp(got, m + 5000, sizeof(got)), 0);
	lsmfs_unmount(fs);
	free(m);
	tu_rmtree(dir);
}
END_TEST

static lsmfs *mount_verify(const char *dir, int verify)
{
	lsmfs_opts o;
	lsmfs *fs = NULL;
	const char *msg = NULL;

	lsmfs_opts_init(&o);
	o.verify_chunks = verify;
	ck_assert_msg(lsmfs_mount(&fs, dir, &o, &msg) == 0, "mount: %s", msg ? msg : "");
	return fs;
}

/*
 * A chunk's bytes damaged in one block (its C value replaced by bytes of
 * the same length): verify=on fails whole reads by that block's checksum
 * and small reads of that block only; verify=sha fails whole reads by the
 * SHA-256; verify=off serves what is stored.
 */
START_TEST(test_each_verify_mode_catches_a_damaged_chunk)
{
	char *dir;
	size_t offs[] = {0};
	uint8_t *m = malloc(CS), *bad = malloc(CS), *got = malloc(CS);
	lsmfs *fs = tf_new(&dir, CS);
	uint64_t f = patched_file(fs, "f", m, NULL, CS, offs, 0);
	struct fkey k;
	struct fref r;

	lsmfs_unmount(fs);
	r = tf_fref(dir, f, 0);
	memcpy(bad, m, CS);
	bad[3 * 4096 + 17] ^= 0x20;
	key_sha(&k, KEY_CHUNK, r.sha);
	tf_raw_put(dir, k.b, k.len, bad, CS);
	fs = mount_verify(dir, LSMFS_VERIFY_ON);
	ck_assert_int_eq(lsmfs_read(fs, f, got, CS, 0), -EIO);
	ck_assert_int_eq(lsmfs_read(fs, f, got, 100, 3 * 4096), -EIO);
	ck_assert_int_eq(lsmfs_read(fs, f, got, 4096, 4 * 4096), 4096);
	ck_assert_int_eq(memcmp(got, m + 4 * 4096, 4096), 0);
	lsmfs_unmount(fs);
	fs = mount_verify(dir, LSMFS_VERIFY_SHA);
	ck_assert_int_eq(lsmfs_read(fs, f, got, CS, 0), -EIO);
	lsmfs_unmount(fs);
	fs = mount_verify(dir, LSMFS_VERIFY_OFF);
	ck_assert_int_eq(lsmfs_read(fs, f, got, CS, 0), (ssize_t)CS);
	ck_assert_int_eq(memcmp(got, bad, CS), 0);
	lsmfs_unmount(fs);
	free(m);
	free(bad);
	free(got);
	tu_rmtree(dir);
}
END_TEST

/*
 * A read whose every byte lies under patches does not read the base chunk:
 * with the base damaged everywhere, such a read (two overlapping patches
 * covering it together, in order) serves the patches' bytes, and a read
 * one byte wider fails its block checksum.
 */
START_TEST(test_a_read_covered_by_patches_skips_the_base_chunk)
{
	char *dir;
	size_t offs[] = {0};
	uint8_t *m = malloc(CS), *bad = malloc(CS), got[6000], a[3000], b[3200];
	lsmfs *fs = tf_new(&dir, CS);
	uint64_t f = patched_file(fs, "f", m, NULL, CS, offs, 0);
	struct fkey k;
	struct fref r;

	memset(a, 'a', sizeof(a));
	memset(b, 'b', sizeof(b));
	tf_put(fs, f, m, a, sizeof(a), 8192);  /* [8192, 11192) */
	tf_put(fs, f, m, b, sizeof(b), 11000); /* [11000, 14200), over a's end */
	lsmfs_unmount(fs);
	r = tf_fref(dir, f, 0);
	ck_assert_uint_eq(r.npatch, 2);
	for (size_t i = 0; i < CS; i++)
		bad[i] = (uint8_t)~m[i];
	key_sha(&k, KEY_CHUNK, r.sha);
	tf_raw_put(dir, k.b, k.len, bad, CS);
	fs = mount_verify(dir, LSMFS_VERIFY_ON);
	ck_assert_int_eq(lsmfs_read(fs, f, got, sizeof(got), 8192), (ssize_t)sizeof(got));
	ck_assert_int_eq(memcmp(got, m + 8192, sizeof(got)), 0);
	ck_assert_int_eq(got[11100 - 8192], 'b');
	ck_assert_int_eq(lsmfs_read(fs, f, got, 100, 12000), 100);
	ck_assert_int_eq(memcmp(got, m + 12000, 100), 0);
	ck_assert_int_eq(lsmfs_read(fs, f, got, sizeof(got), 8191), -EIO);
	ck_assert_int_eq(lsmfs_read(fs, f, got, 6009, 8192), -EIO);
	lsmfs_unmount(fs);
	free(m);
	free(bad);
	tu_rmtree(dir);
}
END_TEST

START_TEST(test_an_older_volume_is_marked_at_mount)
{
	const uint64_t both = SB_INCOMPAT_PATCHES | SB_INCOMPAT_PATCH16 | SB_INCOMPAT_INLINE;
	/* as a build before patches made it, one of at most 8, one without inline chunks */
	const uint64_t older[] = {0, SB_INCOMPAT_PATCHES,
				  SB_INCOMPAT_PATCHES | SB_INCOMPAT_PATCH16};
	char *dir;
	lsmfs *fs = tf_new(&dir, CS);
	struct lsmfs_super sb;
	uint8_t key = KEY_SUPER, sv[SB_LEN];
	void *v;
	size_t vlen;

	lsmfs_unmount(fs);
	ck_assert_int_eq(tf_raw_get(dir, &key, 1, &v, &vlen), 0);
	ck_assert_int_eq(super_decode(&sb, v, vlen), 0);
	free(v);
	ck_assert_uint_eq(sb.incompat, both);
	for (size_t i = 0; i < sizeof(older) / sizeof(older[0]); i++) {
		sb.incompat = older[i];
		super_encode(sv, &sb);
		tf_raw_put(dir, &key, 1, sv, sizeof(sv));
		fs = tf_mount(dir);
		lsmfs_unmount(fs);
		ck_assert_int_eq(tf_raw_get(dir, &key, 1, &v, &vlen), 0);
		ck_assert_int_eq(super_decode(&sb, v, vlen), 0);
		free(v);
		ck_assert_uint_eq(sb.incompat, both);
	}
	ck_assert_int_eq(tf_check(dir), 0);
	tu_rmtree(dir);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("fspatch");
	TCase *tc = tcase_create("fspatch");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_small_writes_are_patches_until_they_fold);
	tcase_add_test(tc, test_later_patches_win_and_a_write_from_the_start_is_a_chunk);
	tcase_add_test(tc, test_truncate_punch_zero_and_copy_keep_patches_exact);
	tcase_add_loop_test(tc, test_random_small_writes_match_a_mirror, 0, 2);
	tcase_add_test(tc, test_fsck_drops_a_patch_set_with_a_missing_patch);
	tcase_add_test(tc, test_fsck_finds_the_last_of_a_full_patch_list_missing);
	tcase_add_test(tc, test_fsck_removes_stray_and_misplaced_patches);
	tcase_add_test(tc, test_fsck_drops_patches_past_the_end_of_file);
	tcase_add_test(tc, test_block_checksums_check_small_reads_and_fsck_drops_bad_ones);
	tcase_add_test(tc, test_each_verify_mode_catches_a_damaged_chunk);
	tcase_add_test(tc, test_a_read_covered_by_patches_skips_the_base_chunk);
	tcase_add_test(tc, test_an_older_volume_is_marked_at_mount);
	suite_add_tcase(s, tc);
	return tu_run_suite(s);
}
