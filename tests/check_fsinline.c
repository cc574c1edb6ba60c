/*
 * check_fsinline.c — inline chunks (keys.h, "Inline chunks"): a small
 * chunk's bytes live in its F value, with no C or R key; crossing the
 * limit either way moves them in the same write; copies, links, frees,
 * damaged bytes and the checker.
 */
#include "check_fscore.h"
#include "fs_impl.h"
#include "fscheck.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define ROOT LSMFS_ROOT_INO
#define CS   (64u * 1024)

static void set_size(lsmfs *fs, uint64_t f, size_t size)
{
	struct stat in, out;

	memset(&in, 0, sizeof(in));
	in.st_size = (off_t)size;
	ck_assert_int_eq(lsmfs_setattr(fs, &tf_root, f, &in, LSMFS_SET_SIZE, &out), 0);
}

static void fill(uint8_t *p, size_t n, uint8_t seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(seed + i * 7 + 1) | 1; /* never zero: nothing is trimmed */
}

START_TEST(test_a_small_file_is_three_keys_and_reads_back)
{
	char *dir;
	lsmfs *fs = tf_new(&dir, CS);
	uint8_t m[100];
	struct stat st;
	uint64_t f;
	struct fref r;

	fill(m, sizeof(m), 3);
	f = tf_file(fs, ROOT, "small", m, sizeof(m));
	tf_expect(fs, f, m, sizeof(m));
	ck_assert_int_eq(lsmfs_getattr(fs, f, &st), 0);
	ck_assert_int_eq(st.st_blocks, 8); /* 4 KiB, as ext4 shows it */
	lsmfs_unmount(fs);
	r = tf_fref(dir, f, 0);
	ck_assert_uint_eq(r.inl, 1);
	ck_assert_uint_eq(r.len, sizeof(m));
	ck_assert_uint_eq(tf_count_keys(dir, 'C'), 0);
	ck_assert_uint_eq(tf_count_keys(dir, 'R'), 0);
	ck_assert_uint_eq(tf_count_keys(dir, 'F'), 1);
	ck_assert_int_eq(tf_check(dir), 0);
	fs = tf_mount(dir);
	tf_expect(fs, f, m, sizeof(m));
	lsmfs_unmount(fs);
	tu_rmtree(dir);
}
END_TEST

START_TEST(test_crossing_the_limit_moves_the_bytes_both_ways)
{
	char *dir;
	lsmfs *fs = tf_new(&dir, CS);
	uint8_t *m = calloc(1, CS), blk[3000];
	uint64_t f;

	fill(blk, sizeof(blk), 9);
	f = tf_file(fs, ROOT, "f", blk, sizeof(blk));
	memcpy(m, blk, sizeof(blk));
	/* an append that stays under the limit rewrites the inline chunk */
	tf_put(fs, f, m, blk, 1000, sizeof(blk));
	tf_expect(fs, f, m, 4000);
	lsmfs_unmount(fs);
	ck_assert_uint_eq(tf_fref(dir, f, 0).inl, 1);
	ck_assert_uint_eq(tf_fref(dir, f, 0).len, 4000);
	ck_assert_uint_eq(tf_count_keys(dir, 'C'), 0);
	ck_assert_int_eq(tf_check(dir), 0);
	/* one more past LSMFS_INLINE_MAX: a C chunk with its count, in that write */
	fs = tf_mount(dir);
	tf_put(fs, f, m, blk, 100, 4000);
	tf_expect(fs, f, m, 4100);
	lsmfs_unmount(fs);
	ck_assert_uint_eq(tf_fref(dir, f, 0).inl, 0);
	ck_assert_uint_eq(tf_fref(dir, f, 0).len, 4100);
	ck_assert_uint_eq(tf_count_keys(dir, 'C'), 1);
	ck_assert_uint_eq(tf_count_keys(dir, 'R'), 1);
	ck_assert_int_eq(tf_check(dir), 0);
	/* truncated back under it: inline again, the chunk freed */
	fs = tf_mount(dir);
	set_size(fs, f, 2000);
	tf_expect(fs, f, m, 2000);
	lsmfs_unmount(fs);
	ck_assert_uint_eq(tf_fref(dir, f, 0).inl, 1);
	ck_assert_uint_eq(tf_count_keys(dir, 'C'), 0);
	ck_assert_uint_eq(tf_count_keys(dir, 'R'), 0);
	ck_assert_int_eq(tf_check(dir), 0);
	/* a write in the middle, and growing with a hole: the tail chunk inline too */
	fs = tf_mount(dir);
	tf_put(fs, f, m, "middle", 6, 500);
	set_size(fs, f, CS + 10);
	memset(m + 2000, 0, CS - 2000);
	m = realloc(m, CS + 10);
	memset(m + CS, 0, 10);
	tf_put(fs, f, m, "tail", 4, CS + 6);
	tf_expect(fs, f, m, CS + 10);
	lsmfs_unmount(fs);
	ck_assert_uint_eq(tf_fref(dir, f, 0).inl, 1);
	ck_assert_uint_eq(tf_fref(dir, f, 1).inl, 1);
	ck_assert_uint_eq(tf_fref(dir, f, 1).len, 10);
	ck_assert_uint_eq(tf_count_keys(dir, 'C'), 0);
	ck_assert_int_eq(tf_check(dir), 0);
	free(m);
	tu_rmtree(dir);
}
END_TEST

START_TEST(test_copies_links_and_frees_leave_no_key_behind)
{
	char *dir;
	lsmfs *fs = tf_new(&dir, CS);
	uint8_t m[2 * CS], out[2 * CS];
	struct stat st;
	uint64_t f, g;

	memset(m, 0, sizeof(m));
	fill(m, CS, 1);
	fill(m + CS, 700, 2);
	f = tf_file(fs, ROOT, "f", m, CS + 700);
	g = tf_file(fs, ROOT, "g", NULL, 0);
	/* copy_file_range: the whole chunk is shared, the inline tail copied */
	ck_assert_int_eq(lsmfs_copy_file_range(fs, &tf_root, f, 0, g, 0, CS + 700), CS + 700);
	memcpy(out, m, sizeof(out));
	tf_expect(fs, g, out, CS + 700);
	ck_assert_int_eq(lsmfs_link(fs, f, ROOT, "f2", &st), 0);
	lsmfs_forget(fs, f, 1);
	lsmfs_unmount(fs);
	ck_assert_uint_eq(tf_fref(dir, g, 1).inl, 1);
	ck_assert_uint_eq(tf_count_keys(dir, 'C'), 1);
	ck_assert_int_eq(tf_check(dir), 0);
	fs = tf_mount(dir);
	ck_assert_int_eq(lsmfs_unlink(fs, ROOT, "f"), 0);
	tf_expect(fs, f, m, CS + 700);
	ck_assert_int_eq(lsmfs_unlink(fs, ROOT, "f2"), 0);
	ck_assert_int_eq(lsmfs_unlink(fs, ROOT, "g"), 0);
	lsmfs_unmount(fs);
	ck_assert_uint_eq(tf_count_keys(dir, 'F'), 0);
	ck_assert_uint_eq(tf_count_keys(dir, 'C'), 0);
	ck_assert_uint_eq(tf_count_keys(dir, 'R'), 0);
	ck_assert_int_eq(tf_check(dir), 0);
	tu_rmtree(dir);
}
END_TEST

START_TEST(test_the_limit_is_an_option)
{
	char *dir;
	lsmfs *fs = tf_new(&dir, CS);
	lsmfs_opts o;
	const char *msg = NULL;
	uint8_t m[100];
	uint64_t f;

	lsmfs_unmount(fs);
	lsmfs_opts_init(&o);
	o.inline_bytes = LSMFS_INLINE_MAX + 1;
	ck_assert_int_eq(lsmfs_mount(&fs, dir, &o, &msg), -EINVAL);
	ck_assert_ptr_nonnull(strstr(msg, "inline"));
	o.inline_bytes = 0;
	ck_assert_int_eq(lsmfs_mount(&fs, dir, &o, &msg), 0);
	fill(m, sizeof(m), 5);
	f = tf_file(fs, ROOT, "f", m, sizeof(m));
	lsmfs_unmount(fs);
	ck_assert_uint_eq(tf_fref(dir, f, 0).inl, 0);
	ck_assert_uint_eq(tf_count_keys(dir, 'C'), 1);
	/* a mount with inline chunks reads it, and moves it in on the next write */
	fs = tf_mount(dir);
	tf_expect(fs, f, m, sizeof(m));
	tf_put(fs, f, m, "x", 1, 10);
	tf_expect(fs, f, m, sizeof(m));
	lsmfs_unmount(fs);
	ck_assert_uint_eq(tf_fref(dir, f, 0).inl, 1);
	ck_assert_uint_eq(tf_count_keys(dir, 'C'), 0);
	ck_assert_int_eq(tf_check(dir), 0);
	tu_rmtree(dir);
}
END_TEST

START_TEST(test_damaged_inline_bytes_fail_reads_and_fsck_drops_them)
{
	char *dir;
	lsmfs *fs = tf_new(&dir, CS);
	uint8_t m[300], zero[300];
	lsmfs_check_result res;
	struct fkey k;
	void *v;
	size_t vlen;
	uint64_t f;

	fill(m, sizeof(m), 7);
	f = tf_file(fs, ROOT, "f", m, sizeof(m));
	lsmfs_unmount(fs);
	key_fchunk(&k, f, 0);
	ck_assert_int_eq(tf_raw_get(dir, k.b, k.len, &v, &vlen), 0);
	((uint8_t *)v)[FREF_LEN + 123] ^= 0x40;
	tf_raw_put(dir, k.b, k.len, v, vlen);
	free(v);
	fs = tf_mount(dir);
	{
		uint8_t got[300];

		ck_assert_int_eq(lsmfs_read(fs, f, got, sizeof(got), 0), -EIO);
		ck_assert_int_eq(lsmfs_read(fs, f, got, 10, 200), -EIO);
	}
	lsmfs_unmount(fs);
	res = tf_fsck(dir, 0);
	ck_assert_uint_eq(res.count[LSMFS_CK_CHUNK_DIGEST], 1);
	res = tf_fsck(dir, 1);
	ck_assert_uint_ge(res.fixed, 1);
	ck_assert_uint_eq(tf_fsck(dir, 0).errors, 0);
	memset(zero, 0, sizeof(zero));
	fs = tf_mount(dir);
	tf_expect(fs, f, zero, sizeof(zero));
	lsmfs_unmount(fs);
	tu_rmtree(dir);
}
END_TEST

START_TEST(test_fsck_cuts_inline_bytes_past_the_end)
{
	char *dir;
	lsmfs *fs = tf_new(&dir, CS);
	uint8_t m[1000];
	struct lsmfs_attr a;
	uint8_t iv[INODE_LEN];
	struct fkey k;
	void *v;
	size_t vlen;
	uint64_t f;

	fill(m, sizeof(m), 11);
	f = tf_file(fs, ROOT, "f", m, sizeof(m));
	lsmfs_unmount(fs);
	/* the inode says 600 bytes, the chunk holds 1000 */
	key_ino(&k, KEY_INODE, f);
	ck_assert_int_eq(tf_raw_get(dir, k.b, k.len, &v, &vlen), 0);
	ck_assert_int_eq(inode_decode(&a, v, vlen), 0);
	free(v);
	a.size = 600;
	tf_raw_put(dir, k.b, k.len, iv, inode_encode(iv, &a));
	ck_assert_uint_eq(tf_fsck(dir, 0).count[LSMFS_CK_PAST_EOF], 1);
	tf_fsck(dir, 1);
	ck_assert_uint_eq(tf_fsck(dir, 0).errors, 0);
	ck_assert_uint_eq(tf_fref(dir, f, 0).inl, 1);
	ck_assert_uint_eq(tf_fref(dir, f, 0).len, 600);
	fs = tf_mount(dir);
	tf_expect(fs, f, m, 600);
	lsmfs_unmount(fs);
	tu_rmtree(dir);
}
END_TEST

START_TEST(test_malformed_inline_references_are_refused)
{
	uint8_t v[FREF_MAX_LEN], bytes[INLINE_MAX + 1];
	struct fref r = {.len = 10, .inl = 1};
	size_t n;

	memset(bytes, 'b', sizeof(bytes));
	n = fref_encode(v, &r, bytes);
	ck_assert_uint_eq(n, FREF_LEN + 10);
	ck_assert_int_eq(fref_decode(&r, v, n), 0);
	ck_assert_uint_eq(r.inl, 1);
	ck_assert_int_eq(fref_decode(&r, v, n - 1), -EUCLEAN); /* cut short */
	put_be32(v + SHA_LEN, FREF_INLINE);		       /* no byte */
	ck_assert_int_eq(fref_decode(&r, v, FREF_LEN), -EUCLEAN);
	put_be32(v + SHA_LEN, FREF_INLINE | (INLINE_MAX + 1)); /* over the limit */
	ck_assert_int_eq(fref_decode(&r, v, FREF_LEN + INLINE_MAX + 1), -EUCLEAN);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("fsinline");
	TCase *tc = tcase_create("fsinline");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_a_small_file_is_three_keys_and_reads_back);
	tcase_add_test(tc, test_crossing_the_limit_moves_the_bytes_both_ways);
	tcase_add_test(tc, test_copies_links_and_frees_leave_no_key_behind);
	tcase_add_test(tc, test_the_limit_is_an_option);
	tcase_add_test(tc, test_damaged_inline_bytes_fail_reads_and_fsck_drops_them);
	tcase_add_test(tc, test_fsck_cuts_inline_bytes_past_the_end);
	tcase_add_test(tc, test_malformed_inline_references_are_refused);
	suite_add_tcase(s, tc);
	return tu_run_suite(s);
}
