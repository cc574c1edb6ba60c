/*
 * check_fscore.c — the fs core without a mount: mkfs and mount refusals,
 * every operation and its errors, link counts, orphans, attributes,
 * readdir cookies, xattrs, remount. The random comparison with a POSIX
 * model is in check_fscore_model.c; file data and the space reserve are
 * check_fscore_data's.
 */
#include "check_fscore.h"

#include "env.h"
#include "fs_impl.h"
#include "fscheck.h"
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

static struct lsmfs_super read_super(const char *dir)
{
	struct lsmfs_super sb;
	void *v = NULL;
	size_t vlen = 0;

	ck_assert_int_eq(tf_raw_get(dir, "S", 1, &v, &vlen), 0);
	ck_assert_int_eq(super_decode(&sb, v, vlen), 0);
	free(v);
	return sb;
}

/* ---- mkfs and mount ---- */

START_TEST(test_mkfs_then_mount_gives_empty_root)
{
	char *dir;
	lsmfs *fs = tf_new(&dir, 0);
	struct stat st;
	tf_dirent *ents;
	int n;

	ck_assert_int_eq(lsmfs_getattr(fs, ROOT, &st), 0);
	ck_assert(S_ISDIR(st.st_mode));
	ck_assert_uint_eq(st.st_mode & 07777, 0755);
	ck_assert_uint_eq(st.st_nlink, 2);
	ck_assert_uint_eq(st.st_blksize, LSMFS_DEFAULT_CHUNK);
	n = tf_list(fs, ROOT, 100, &ents);
	ck_assert_int_eq(n, 2);
	ck_assert_str_eq(ents[0].name, ".");
	ck_assert_str_eq(ents[1].name, "..");
	ck_assert_uint_eq(ents[1].ino, ROOT);
	free(ents);
	lsmfs_unmount(fs);
	ck_assert_int_eq(tf_check(dir), 0);
	tu_rmtree(dir);
}
END_TEST

START_TEST(test_mkfs_refuses_foreign_existing_and_bad_chunk)
{
	char *dir = tu_mkdtemp("fsmkfs");
	char *other = tu_path(dir, "precious");
	lsmfs_mkfs_opts mo = {0};
	const char *msg = NULL;
	FILE *f = fopen(other, "w");

	fputs("keep me", f);
	fclose(f);
	ck_assert_int_eq(lsmfs_mkfs(dir, &mo, &msg), -ENOTEMPTY);
	ck_assert_ptr_nonnull(strstr(msg, "not empty"));
	ck_assert_int_eq(access(other, F_OK), 0);
	unlink(other);

	mo.chunk_size = 3000;
	ck_assert_int_eq(lsmfs_mkfs(dir, &mo, &msg), -EINVAL);
	mo.chunk_size = 2u << 20;
	ck_assert_int_eq(lsmfs_mkfs(dir, &mo, &msg), -EINVAL);
	mo.chunk_size = 4096;
	ck_assert_int_eq(lsmfs_mkfs(dir, &mo, &msg), 0);
	ck_assert_int_eq(lsmfs_mkfs(dir, &mo, &msg), -EEXIST);
	ck_assert_ptr_nonnull(strstr(msg, "already"));

	/* force re-creates: the old file is gone, the chunk size is the new one */
	lsmfs *fs = tf_mount(dir);
	tf_file(fs, ROOT, "old", "x", 1);
	lsmfs_unmount(fs);
	mo.force = 1;
	mo.chunk_size = 8192;
	ck_assert_int_eq(lsmfs_mkfs(dir, &mo, &msg), 0);
	fs = tf_mount(dir);
	ck_assert_uint_eq(tf_ino(fs, ROOT, "old"), 0);
	struct statvfs sv;
	ck_assert_int_eq(lsmfs_statfs(fs, &sv), 0);
	ck_assert_uint_eq(sv.f_bsize, 8192);

	/* in use: neither mkfs nor a second mount touches it */
	ck_assert_int_eq(lsmfs_mkfs(dir, &mo, &msg), -EBUSY);
	lsmfs *fs2 = NULL;
	ck_assert_int_eq(lsmfs_mount(&fs2, dir, NULL, &msg), -EBUSY);
	ck_assert_ptr_nonnull(strstr(msg, "in use"));
	ck_assert_ptr_null(fs2);
	lsmfs_unmount(fs);
	free(other);
	tu_rmtree(dir);
}
END_TEST

START_TEST(test_mount_refuses_unformatted_newer_and_damaged)
{
	char *dir = tu_mkdtemp("fsmount");
	char *missing = tu_path(dir, "nope");
	lsmfs *fs = NULL;
	const char *msg = NULL;
	struct lsmfs_super sb;
	uint8_t v[SB_LEN];

	ck_assert_int_eq(lsmfs_mount(&fs, missing, NULL, &msg), -ENOENT);
	ck_assert_int_eq(lsmfs_mount(&fs, dir, NULL, &msg), -EMEDIUMTYPE);
	ck_assert_ptr_nonnull(strstr(msg, "not an lsmfs"));
	/* an empty dir stays empty: no LOCK file left behind */
	char *lock = tu_path(dir, "LOCK");
	ck_assert_int_eq(access(lock, F_OK), -1);
	free(lock);

	/* a database without a superblock */
	tf_raw_put(dir, "k", 1, "v", 1);
	ck_assert_int_eq(lsmfs_mount(&fs, dir, NULL, &msg), -EMEDIUMTYPE);
	ck_assert_ptr_nonnull(strstr(msg, "superblock"));

	/* a newer format version */
	lsmfs_mkfs_opts mo = {.force = 1};
	ck_assert_int_eq(lsmfs_mkfs(dir, &mo, &msg), 0);
	sb = read_super(dir);
	sb.version = LSMFS_FORMAT_VERSION + 1;
	super_encode(v, &sb);
	tf_raw_put(dir, "S", 1, v, sizeof(v));
	ck_assert_int_eq(lsmfs_mount(&fs, dir, NULL, &msg), -EPROTONOSUPPORT);
	ck_assert_ptr_nonnull(strstr(msg, "version"));

	/* an unknown incompatible feature */
	sb.version = LSMFS_FORMAT_VERSION;
	sb.incompat = 1u << 7;
	super_encode(v, &sb);
	tf_raw_put(dir, "S", 1, v, sizeof(v));
	ck_assert_int_eq(lsmfs_mount(&fs, dir, NULL, &msg), -EPROTONOSUPPORT);

	/* bad magic, then a short superblock */
	memcpy(v, "garbage!", 8);
	tf_raw_put(dir, "S", 1, v, sizeof(v));
	ck_assert_int_eq(lsmfs_mount(&fs, dir, NULL, &msg), -EUCLEAN);
	ck_assert_ptr_nonnull(strstr(msg, "superblock"));
	tf_raw_put(dir, "S", 1, SB_MAGIC, SB_MAGIC_LEN);
	ck_assert_int_eq(lsmfs_mount(&fs, dir, NULL, &msg), -EUCLEAN);
	ck_assert_ptr_null(fs);
	free(missing);
	tu_rmtree(dir);
}
END_TEST

/* ---- names and lookups ---- */

START_TEST(test_name_errors_match_ext4)
{
	char *dir;
	lsmfs *fs = tf_new(&dir, 0);
	char longname[LSMFS_NAME_MAX + 2];
	struct stat st;
	uint64_t f = tf_file(fs, ROOT, "file", NULL, 0);

	memset(longname, 'n', sizeof(longname) - 1);
	longname[LSMFS_NAME_MAX + 1] = '\0';
	ck_assert_int_eq(lsmfs_lookup(fs, ROOT, "", &st), -ENOENT);
	ck_assert_int_eq(lsmfs_lookup(fs, ROOT, "absent", &st), -ENOENT);
	ck_assert_int_eq(lsmfs_lookup(fs, ROOT, longname, &st), -ENAMETOOLONG);
	ck_assert_int_eq(lsmfs_create(fs, &tf_root, ROOT, longname, 0644, 0, &st), -ENAMETOOLONG);
	ck_assert_int_eq(lsmfs_mkdir(fs, &tf_root, ROOT, "", 0755, &st), -ENOENT);
	ck_assert_int_eq(lsmfs_lookup(fs, f, "x", &st), -ENOTDIR);
	ck_assert_int_eq(lsmfs_mkdir(fs, &tf_root, f, "x", 0755, &st), -ENOTDIR);
	ck_assert_int_eq(lsmfs_readdir(fs, f, 0, 0, NULL, NULL), -ENOTDIR);
	ck_assert_int_eq(lsmfs_mkdir(fs, &tf_root, ROOT, "file", 0755, &st), -EEXIST);
	ck_assert_int_eq(lsmfs_create(fs, &tf_root, ROOT, "file", 0644, O_EXCL, &st), -EEXIST);
	ck_assert_int_eq(lsmfs_symlink(fs, &tf_root, ROOT, "file", "t", &st), -EEXIST);
	ck_assert_int_eq(lsmfs_mknod(fs, &tf_root, ROOT, "file", S_IFIFO | 0644, 0, &st), -EEXIST);
	ck_assert_int_eq(lsmfs_mknod(fs, &tf_root, ROOT, "d", S_IFDIR | 0755, 0, &st), -EPERM);
	ck_assert_int_eq(lsmfs_symlink(fs, &tf_root, ROOT, "s", "", &st), -ENOENT);
	/* the longest name works */
	longname[LSMFS_NAME_MAX] = '\0';
	uint64_t l = tf_file(fs, ROOT, longname, "x", 1);
	ck_assert_uint_eq(tf_ino(fs, ROOT, longname), l);
	/* "." and ".." */
	ck_assert_int_eq(lsmfs_lookup(fs, ROOT, ".", &st), 0);
	ck_assert_uint_eq(st.st_ino, ROOT);
	lsmfs_forget(fs, ROOT, 1);
	uint64_t d = tf_mkdir(fs, ROOT, "d");
	ck_assert_uint_eq(tf_ino(fs, d, ".."), ROOT);
	/* create without O_EXCL opens the existing file */
	ck_assert_int_eq(lsmfs_create(fs, &tf_root, ROOT, "file", 0644, O_RDWR, &st), 0);
	ck_assert_uint_eq(st.st_ino, f);
	lsmfs_release(fs, f);
	lsmfs_forget(fs, f, 1);
	ck_assert_int_eq(lsmfs_create(fs, &tf_root, ROOT, "d", 0644, O_RDWR, &st), -EISDIR);
	lsmfs_unmount(fs);
	ck_assert_int_eq(tf_check(dir), 0);
	tu_rmtree(dir);
}
END_TEST

START_TEST(test_new_nodes_take_owner_umask_and_setgid)
{
	char *dir;
	lsmfs *fs = tf_new(&dir, 0);
	lsmfs_ctx c = {.uid = 1000, .gid = 100, .umask = 027};
	struct stat st, in;
	char buf[64];

	ck_assert_int_eq(lsmfs_create(fs, &c, ROOT, "f", 0666, O_RDWR, &st), 0);
	ck_assert_uint_eq(st.st_uid, 1000);
	ck_assert_uint_eq(st.st_gid, 100);
	ck_assert_uint_eq(st.st_mode, S_IFREG | 0640);
	ck_assert_uint_eq(st.st_nlink, 1);
	/* mkdir(2) takes permission and sticky bits only, as Linux does */
	ck_assert_int_eq(lsmfs_mkdir(fs, &c, ROOT, "sg", 03777, &st), 0);
	ck_assert_uint_eq(st.st_mode, S_IFDIR | 01750);
	uint64_t sg = st.st_ino;
	/* a setgid directory gives its group to children and its bit to subdirectories */
	memset(&in, 0, sizeof(in));
	in.st_gid = 55;
	in.st_mode = 02775;
	ck_assert_int_eq(lsmfs_setattr(fs, &tf_root, sg, &in, LSMFS_SET_GID | LSMFS_SET_MODE, &st),
			 0);
	ck_assert_uint_eq(st.st_mode, S_IFDIR | 02775);
	ck_assert_uint_eq(st.st_gid, 55);
	ck_assert_int_eq(lsmfs_mkdir(fs, &c, sg, "sub", 0755, &st), 0);
	ck_assert_uint_eq(st.st_gid, 55);
	ck_assert_uint_eq(st.st_mode & 02000, 02000);
	ck_assert_int_eq(lsmfs_mknod(fs, &c, sg, "fifo", S_IFIFO | 0644, 0, &st), 0);
	ck_assert_uint_eq(st.st_gid, 55);
	ck_assert(S_ISFIFO(st.st_mode));
	ck_assert_int_eq(lsmfs_mknod(fs, &tf_root, sg, "chr", S_IFCHR | 0600, makedev(1, 3), &st),
			 0);
	ck_assert_uint_eq(st.st_rdev, makedev(1, 3));
	ck_assert_int_eq(lsmfs_symlink(fs, &c, sg, "ln", "../f", &st), 0);
	ck_assert_uint_eq(st.st_mode, S_IFLNK | 0777);
	ck_assert_int_eq(st.st_size, 4);
	ck_assert_int_eq(lsmfs_readlink(fs, st.st_ino, buf, sizeof(buf)), 4);
	ck_assert_str_eq(buf, "../f");
	ck_assert_int_eq(lsmfs_readlink(fs, st.st_ino, buf, 3), 4);
	ck_assert_str_eq(buf, "..");
	ck_assert_int_eq(lsmfs_readlink(fs, sg, buf, sizeof(buf)), -EINVAL);
	ck_assert_int_eq(lsmfs_getattr(fs, sg, &st), 0);
	ck_assert_uint_eq(st.st_nlink, 3);
	lsmfs_unmount(fs);
	tu_rmtree(dir);
}
END_TEST

/* ---- link counts ---- */

static nlink_t nlink_of(lsmfs *fs, uint64_t ino)
{
	struct stat st;

	ck_assert_int_eq(lsmfs_getattr(fs, ino, &st), 0);
	return st.st_nlink;
}

START_TEST(test_link_counts_follow_link_unlink_rename_mkdir_rmdir)
{
	char *dir;
	lsmfs *fs = tf_new(&dir, 0);
	struct stat st;
	uint64_t a = tf_mkdir(fs, ROOT, "a"), b = tf_mkdir(fs, ROOT, "b");
	uint64_t f = tf_file(fs, a, "f", "data", 4);

	ck_assert_uint_eq(nlink_of(fs, ROOT), 4);
	ck_assert_int_eq(lsmfs_link(fs, f, b, "g", &st), 0);
	lsmfs_forget(fs, f, 1);
	ck_assert_uint_eq(st.st_nlink, 2);
	ck_assert_int_eq(lsmfs_link(fs, f, b, "g", &st), -EEXIST);
	ck_assert_int_eq(lsmfs_link(fs, a, b, "adir", &st), -EPERM);
	ck_assert_int_eq(lsmfs_link(fs, f, f, "x", &st), -ENOTDIR);
	ck_assert_uint_eq(nlink_of(fs, f), 2);
	/* rename a directory across parents moves one link */
	uint64_t c = tf_mkdir(fs, a, "c");
	ck_assert_uint_eq(nlink_of(fs, a), 3);
	ck_assert_int_eq(lsmfs_rename(fs, a, "c", b, "c2", 0), 0);
	ck_assert_uint_eq(nlink_of(fs, a), 2);
	ck_assert_uint_eq(nlink_of(fs, b), 3);
	ck_assert_uint_eq(tf_ino(fs, c, ".."), b);
	/* rmdir */
	ck_assert_int_eq(lsmfs_rmdir(fs, ROOT, "b"), -ENOTEMPTY);
	ck_assert_int_eq(lsmfs_rmdir(fs, b, "g"), -ENOTDIR);
	ck_assert_int_eq(lsmfs_unlink(fs, b, "c2"), -EISDIR);
	ck_assert_int_eq(lsmfs_rmdir(fs, b, "c2"), 0);
	ck_assert_int_eq(lsmfs_rmdir(fs, b, "c2"), -ENOENT);
	ck_assert_int_eq(lsmfs_rmdir(fs, b, "."), -EINVAL);
	ck_assert_int_eq(lsmfs_rmdir(fs, b, ".."), -ENOTEMPTY);
	ck_assert_uint_eq(nlink_of(fs, b), 2);
	ck_assert_int_eq(lsmfs_getattr(fs, c, &st), -ENOENT);
	/* unlink one of two links */
	ck_assert_int_eq(lsmfs_unlink(fs, a, "f"), 0);
	ck_assert_uint_eq(nlink_of(fs, f), 1);
	ck_assert_int_eq(lsmfs_unlink(fs, a, "f"), -ENOENT);
	ck_assert_int_eq(lsmfs_unlink(fs, f, "x"), -ENOTDIR);
	/* rmdir of a directory while creating into it is refused */
	ck_assert_int_eq(lsmfs_rmdir(fs, ROOT, "a"), 0);
	ck_assert_int_eq(lsmfs_create(fs, &tf_root, a, "late", 0644, 0, &st), -ENOENT);
	ck_assert_uint_eq(nlink_of(fs, ROOT), 3);
	lsmfs_unmount(fs);
	ck_assert_int_eq(tf_check(dir), 0);
	tu_rmtree(dir);
}
END_TEST

START_TEST(test_link_refuses_past_65000)
{
	char *dir;
	lsmfs *fs = tf_new(&dir, 0);
	struct stat st;
	struct lsmfs_attr a;
	uint8_t k[9], v[INODE_LEN];
	void *old = NULL;
	size_t olen;
	uint64_t f = tf_file(fs, ROOT, "f", NULL, 0);
	uint64_t d = tf_mkdir(fs, ROOT, "d");

	/* Pretend 64999 links exist (only the count matters to the check). */
	lsmfs_unmount(fs);
	k[0] = KEY_INODE;
	put_be64(k + 1, f);
	ck_assert_int_eq(tf_raw_get(dir, k, 9, &old, &olen), 0);
	ck_assert_int_eq(inode_decode(&a, old, olen), 0);
	free(old);
	a.nlink = 64999;
	tf_raw_put(dir, k, 9, v, inode_encode(v, &a));
	put_be64(k + 1, d);
	ck_assert_int_eq(tf_raw_get(dir, k, 9, &old, &olen), 0);
	ck_assert_int_eq(inode_decode(&a, old, olen), 0);
	free(old);
	a.nlink = 65000;
	tf_raw_put(dir, k, 9, v, inode_encode(v, &a));
	fs = tf_mount(dir);
	ck_assert_int_eq(lsmfs_link(fs, f, ROOT, "l1", &st), 0);
	lsmfs_forget(fs, f, 1);
	ck_assert_int_eq(lsmfs_link(fs, f, ROOT, "l2", &st), -EMLINK);
	ck_assert_int_eq(lsmfs_mkdir(fs, &tf_root, d, "sub", 0755, &st), -EMLINK);
	lsmfs_unmount(fs);
	tu_rmtree(dir);
}
END_TEST

/* ---- rename ---- */

START_TEST(test_rename_replaces_exchanges_and_refuses_as_ext4)
{
	char *dir;
	lsmfs *fs = tf_new(&dir, 4096);
	uint64_t d1 = tf_mkdir(fs, ROOT, "d1"), d2 = tf_mkdir(fs, ROOT, "d2");
	uint64_t sub = tf_mkdir(fs, d1, "sub"), deep = tf_mkdir(fs, sub, "deep");
	uint64_t f = tf_file(fs, ROOT, "f", "ffff", 4), g = tf_file(fs, ROOT, "g", "gg", 2);
	uint64_t e = tf_mkdir(fs, ROOT, "empty");
	struct stat st;
	size_t n;
	uint8_t *buf;

	ck_assert_int_eq(lsmfs_rename(fs, ROOT, "nope", ROOT, "x", 0), -ENOENT);
	ck_assert_int_eq(lsmfs_rename(fs, ROOT, "d1", sub, "x", 0), -EINVAL);
	ck_assert_int_eq(lsmfs_rename(fs, ROOT, "d1", deep, "x", 0), -EINVAL);
	ck_assert_int_eq(lsmfs_rename(fs, ROOT, "d1", d1, "x", 0), -EINVAL);
	ck_assert_int_eq(lsmfs_rename(fs, ROOT, "f", ROOT, "d2", 0), -EISDIR);
	ck_assert_int_eq(lsmfs_rename(fs, ROOT, "d2", ROOT, "f", 0), -ENOTDIR);
	ck_assert_int_eq(lsmfs_rename(fs, ROOT, "d2", ROOT, "d1", 0), -ENOTEMPTY);
	ck_assert_int_eq(lsmfs_rename(fs, ROOT, "f", ROOT, "g", LSMFS_RENAME_NOREPLACE), -EEXIST);
	ck_assert_int_eq(lsmfs_rename(fs, ROOT, "f", ROOT, "zz", LSMFS_RENAME_EXCHANGE), -ENOENT);
	ck_assert_int_eq(lsmfs_rename(fs, ROOT, "f", ROOT, "g", 3), -EINVAL);
	ck_assert_int_eq(lsmfs_rename(fs, ROOT, "f", f, "g", 0), -ENOTDIR);
	/* exchanging a directory into its own subtree is refused both ways */
	ck_assert_int_eq(lsmfs_rename(fs, ROOT, "d1", sub, "deep", LSMFS_RENAME_EXCHANGE), -EINVAL);
	ck_assert_int_eq(lsmfs_rename(fs, sub, "deep", ROOT, "d1", LSMFS_RENAME_EXCHANGE), -EINVAL);

	/* same inode (hard links): nothing happens */
	ck_assert_int_eq(lsmfs_link(fs, f, ROOT, "f2", &st), 0);
	lsmfs_forget(fs, f, 1);
	ck_assert_int_eq(lsmfs_rename(fs, ROOT, "f", ROOT, "f2", 0), 0);
	ck_assert_uint_eq(tf_ino(fs, ROOT, "f"), f);
	ck_assert_uint_eq(nlink_of(fs, f), 2);
	ck_assert_int_eq(lsmfs_unlink(fs, ROOT, "f2"), 0);

	/* replace a file: the target's chunks go */
	ck_assert_int_eq(lsmfs_rename(fs, ROOT, "f", ROOT, "g", 0), 0);
	ck_assert_uint_eq(tf_ino(fs, ROOT, "g"), f);
	ck_assert_uint_eq(tf_ino(fs, ROOT, "f"), 0);
	ck_assert_int_eq(lsmfs_getattr(fs, g, &st), -ENOENT);
	buf = tf_slurp(fs, f, &n);
	ck_assert_int_eq(n, 4);
	ck_assert_int_eq(memcmp(buf, "ffff", 4), 0);
	free(buf);

	/* a directory over an empty one, across parents */
	ck_assert_int_eq(lsmfs_rename(fs, d1, "sub", ROOT, "empty", 0), 0);
	ck_assert_int_eq(lsmfs_getattr(fs, e, &st), -ENOENT);
	ck_assert_uint_eq(tf_ino(fs, ROOT, "empty"), sub);
	ck_assert_uint_eq(tf_ino(fs, sub, ".."), ROOT);
	ck_assert_uint_eq(nlink_of(fs, d1), 2);
	ck_assert_uint_eq(nlink_of(fs, ROOT), 5); /* d1 d2 empty(=sub) + 2 */

	/* exchange a directory and a file across parents */
	ck_assert_int_eq(lsmfs_rename(fs, ROOT, "empty", d2, "gx", LSMFS_RENAME_EXCHANGE), -ENOENT);
	uint64_t h = tf_file(fs, d2, "h", "h", 1);
	ck_assert_int_eq(lsmfs_rename(fs, ROOT, "empty", d2, "h", LSMFS_RENAME_EXCHANGE), 0);
	ck_assert_uint_eq(tf_ino(fs, d2, "h"), sub);
	ck_assert_uint_eq(tf_ino(fs, ROOT, "empty"), h);
	ck_assert_uint_eq(tf_ino(fs, sub, ".."), d2);
	ck_assert_uint_eq(nlink_of(fs, ROOT), 4);
	ck_assert_uint_eq(nlink_of(fs, d2), 3);
	/* NOREPLACE onto a free name works */
	ck_assert_int_eq(lsmfs_rename(fs, ROOT, "g", d1, "g", LSMFS_RENAME_NOREPLACE), 0);
	ck_assert_uint_eq(tf_ino(fs, d1, "g"), f);
	lsmfs_unmount(fs);
	ck_assert_int_eq(tf_check(dir), 0);
	ck_assert_uint_eq(tf_count_keys(dir, 'O'), 0);
	tu_rmtree(dir);
}
END_TEST

/* ---- open files, orphans ---- */

START_TEST(test_unlinked_open_file_readable_until_release)
{
	char *dir;
	lsmfs *fs = tf_new(&dir, 4096);
	uint8_t data[10000], got[10000];
	struct stat st;
	uint64_t f;

	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 7 + 1);
	ck_assert_int_eq(lsmfs_create(fs, &tf_root, ROOT, "f", 0644, O_RDWR, &st), 0);
	f = st.st_ino;
	ck_assert_int_eq(lsmfs_write(fs, &tf_root, f, data, sizeof(data), 0), sizeof(data));
	ck_assert_int_eq(lsmfs_unlink(fs, ROOT, "f"), 0);
	ck_assert_uint_eq(tf_ino(fs, ROOT, "f"), 0);
	ck_assert_int_eq(lsmfs_getattr(fs, f, &st), 0);
	ck_assert_uint_eq(st.st_nlink, 0);
	ck_assert_int_eq(lsmfs_read(fs, f, got, sizeof(got), 0), sizeof(got));
	ck_assert_int_eq(memcmp(got, data, sizeof(data)), 0);
	/* still writable while unlinked */
	ck_assert_int_eq(lsmfs_write(fs, &tf_root, f, "Z", 1, 0), 1);
	ck_assert_int_eq(lsmfs_link(fs, f, ROOT, "back", &st), -ENOENT);
	lsmfs_release(fs, f);
	ck_assert_int_eq(lsmfs_getattr(fs, f, &st), 0); /* the kernel still knows it */
	lsmfs_forget(fs, f, 1);
	ck_assert_int_eq(lsmfs_getattr(fs, f, &st), -ENOENT);
	lsmfs_unmount(fs);
	ck_assert_uint_eq(tf_count_keys(dir, 'O'), 0);
	ck_assert_uint_eq(tf_count_keys(dir, 'F'), 0);
	ck_assert_uint_eq(tf_count_keys(dir, 'R'), 0);
	ck_assert_uint_eq(tf_count_keys(dir, 'C'), 0);
	ck_assert_int_eq(tf_check(dir), 0);
	tu_rmtree(dir);
}
END_TEST

/*
 * Inodes the kernel remembers but nothing uses keep only their lookup
 * count past the whole entries the cache keeps (tf_inode_cache): they still
 * answer with their attributes, become orphans when unlinked, and go when
 * forgotten.
 */
START_TEST(test_idle_remembered_inodes_are_light_records)
{
	enum { N = 300 };
	char *dir, name[16];
	lsmfs *fs = tf_new(&dir, 4096);
	uint64_t ino[N];
	size_t whole, light;
	struct stat st;

	for (int i = 0; i < N; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		ino[i] = tf_file(fs, ROOT, name, name, strlen(name));
	}
	for (int i = 0; i < N; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		ck_assert_int_eq(lsmfs_lookup(fs, ROOT, name, &st), 0); /* kept: nlookup 1 */
	}
	icache_counts(fs, &whole, &light);
	ck_assert_uint_le(whole, tf_inode_cache + 1); /* and the root */
	ck_assert_uint_ge(light, N - tf_inode_cache);
	for (int i = 0; i < N; i++) {
		ck_assert_int_eq(lsmfs_getattr(fs, ino[i], &st), 0);
		ck_assert_int_eq(st.st_size, i < 10 ? 2 : i < 100 ? 3 : 4);
	}
	/* unlinked while the kernel remembers them: orphans, light again */
	for (int i = 0; i < N; i += 2) {
		snprintf(name, sizeof(name), "f%d", i);
		ck_assert_int_eq(lsmfs_unlink(fs, ROOT, name), 0);
	}
	icache_counts(fs, &whole, &light);
	ck_assert_uint_ge(light, N - tf_inode_cache - 1);
	for (int i = 0; i < N; i++)
		lsmfs_forget(fs, ino[i], 1);
	icache_counts(fs, &whole, &light);
	ck_assert_uint_eq(light, 0);
	ck_assert_uint_le(whole, 1);
	ck_assert_int_eq(lsmfs_getattr(fs, ino[0], &st), -ENOENT);
	ck_assert_int_eq(lsmfs_getattr(fs, ino[1], &st), 0);
	lsmfs_unmount(fs);
	ck_assert_uint_eq(tf_count_keys(dir, 'O'), 0);
	ck_assert_uint_eq(tf_count_keys(dir, 'I'), 1 + N / 2);
	ck_assert_int_eq(tf_check(dir), 0);
	tu_rmtree(dir);
}
END_TEST

START_TEST(test_orphan_of_a_crash_is_freed_at_next_mount)
{
	char *dir;
	lsmfs *fs = tf_new(&dir, 4096);
	struct stat st;
	uint8_t data[9000];
	uint64_t f, d;

	memset(data, 0xab, sizeof(data));
	ck_assert_int_eq(lsmfs_create(fs, &tf_root, ROOT, "f", 0644, O_RDWR, &st), 0);
	f = st.st_ino;
	ck_assert_int_eq(lsmfs_write(fs, &tf_root, f, data, sizeof(data), 0), sizeof(data));
	ck_assert_int_eq(lsmfs_setxattr(fs, f, "user.k", "v", 1, 0), 0);
	ck_assert_int_eq(lsmfs_mkdir(fs, &tf_root, ROOT, "d", 0755, &st), 0);
	d = st.st_ino;
	ck_assert_int_eq(lsmfs_unlink(fs, ROOT, "f"), 0);
	ck_assert_int_eq(lsmfs_rmdir(fs, ROOT, "d"), 0);
	lsmfs_unmount(fs); /* no release, no forget: as if the daemon died */
	ck_assert_uint_eq(tf_count_keys(dir, 'O'), 2);
	/* two equal 4 KiB chunks, one C key; the 808-byte tail inline */
	ck_assert_uint_eq(tf_count_keys(dir, 'C'), 1);
	ck_assert_uint_eq(tf_count_keys(dir, 'F'), 3);
	ck_assert_int_eq(tf_check(dir), 0);
	fs = tf_mount(dir);
	ck_assert_int_eq(lsmfs_getattr(fs, f, &st), -ENOENT);
	ck_assert_int_eq(lsmfs_getattr(fs, d, &st), -ENOENT);
	lsmfs_unmount(fs);
	ck_assert_uint_eq(tf_count_keys(dir, 'O'), 0);
	ck_assert_uint_eq(tf_count_keys(dir, 'C'), 0);
	ck_assert_uint_eq(tf_count_keys(dir, 'R'), 0);
	ck_assert_uint_eq(tf_count_keys(dir, 'X'), 0);
	ck_assert_uint_eq(tf_count_keys(dir, 'I'), 1);
	ck_assert_int_eq(tf_check(dir), 0);
	tu_rmtree(dir);
}
END_TEST

/* Writes nchunks identical chunks (one C key, many F keys) to a new file. */
static uint64_t big_file(lsmfs *fs, const char *name, uint32_t cs, size_t nchunks, int keep)
{
	size_t piece = 256 * (size_t)cs;
	uint8_t *buf = malloc(piece);
	struct stat st;

	memset(buf, 'x', piece);
	ck_assert_int_eq(lsmfs_create(fs, &tf_root, ROOT, name, 0644, O_RDWR, &st), 0);
	for (size_t off = 0; off < nchunks * cs; off += piece) {
		size_t n = nchunks * cs - off < piece ? nchunks * cs - off : piece;

		ck_assert_int_eq(lsmfs_write(fs, &tf_root, st.st_ino, buf, n, (off_t)off),
				 (ssize_t)n);
	}
	if (!keep) {
		lsmfs_release(fs, st.st_ino);
		lsmfs_forget(fs, st.st_ino, 1);
	}
	free(buf);
	return st.st_ino;
}

START_TEST(test_huge_files_are_freed_in_bounded_steps)
{
	char *dir;
	const uint32_t cs = 4096;
	lsmfs *fs = tf_new(&dir, cs);
	struct stat st;

	/* more chunks than one freeing batch takes (FREE_STEP, 4096) */
	uint64_t a = big_file(fs, "a", cs, 4100, 0);
	ck_assert_int_eq(lsmfs_getattr(fs, a, &st), 0);
	ck_assert_int_eq(st.st_blocks, 4100 * (cs / 512));
	ck_assert_int_eq(lsmfs_unlink(fs, ROOT, "a"), 0);
	ck_assert_int_eq(lsmfs_getattr(fs, a, &st), -ENOENT);
	/* the same, left open at a "crash": the next mount finishes it */
	uint64_t b = big_file(fs, "b", cs, 9000, 1);
	ck_assert_int_eq(lsmfs_unlink(fs, ROOT, "b"), 0);
	lsmfs_unmount(fs);
	ck_assert_uint_eq(tf_count_keys(dir, 'O'), 1);
	ck_assert_uint_eq(tf_count_keys(dir, 'F'), 9000);
	fs = tf_mount(dir);
	ck_assert_int_eq(lsmfs_getattr(fs, b, &st), -ENOENT);
	lsmfs_unmount(fs);
	ck_assert_uint_eq(tf_count_keys(dir, 'O'), 0);
	ck_assert_uint_eq(tf_count_keys(dir, 'F'), 0);
	ck_assert_uint_eq(tf_count_keys(dir, 'C'), 0);
	ck_assert_uint_eq(tf_count_keys(dir, 'R'), 0);
	ck_assert_int_eq(tf_check(dir), 0);
	tu_rmtree(dir);
}
END_TEST

/* A chunk count far above the file's F keys (damage) must not keep the freeing going forever. */
START_TEST(test_a_chunk_count_too_high_does_not_hang_the_free)
{
	char *dir;
	lsmfs *fs = tf_new(&dir, 4096);
	struct lsmfs_attr a;
	struct fkey k;
	uint8_t v[INODE_LEN];
	void *old;
	size_t vlen;
	struct stat st;
	uint64_t f = tf_file(fs, ROOT, "f", "some bytes", 10);

	lsmfs_unmount(fs);
	key_ino(&k, KEY_INODE, f);
	ck_assert_int_eq(tf_raw_get(dir, k.b, k.len, &old, &vlen), 0);
	ck_assert_int_eq(inode_decode(&a, old, vlen), 0);
	free(old);
	a.chunks = 3 * 4096; /* one F key; a count over three freeing steps (FREE_STEP) */
	tf_raw_put(dir, k.b, k.len, v, inode_encode(v, &a));
	fs = tf_mount(dir);
	ck_assert_int_eq(lsmfs_unlink(fs, ROOT, "f"), 0); /* freed in steps: an orphan first */
	ck_assert_int_eq(lsmfs_getattr(fs, f, &st), -ENOENT);
	lsmfs_unmount(fs);
	ck_assert_uint_eq(tf_count_keys(dir, 'F'), 0);
	ck_assert_uint_eq(tf_count_keys(dir, 'O'), 0);
	ck_assert_uint_eq(tf_count_keys(dir, 'I'), 1); /* the root */
	ck_assert_int_eq(tf_check(dir), 0);
	tu_rmtree(dir);
}
END_TEST

START_TEST(test_open_trunc_and_counts)
{
	char *dir;
	lsmfs *fs = tf_new(&dir, 4096);
	struct stat st;
	uint64_t f = tf_file(fs, ROOT, "f", "hello world", 11);

	ck_assert_int_eq(lsmfs_open(fs, &tf_root, f, O_RDONLY), 0);
	ck_assert_int_eq(lsmfs_getattr(fs, f, &st), 0);
	ck_assert_int_eq(st.st_size, 11);
	lsmfs_release(fs, f);
	/* Linux truncates on O_TRUNC whatever the access mode (the kernel checked write access) */
	ck_assert_int_eq(lsmfs_open(fs, &tf_root, f, O_RDONLY | O_TRUNC), 0);
	ck_assert_int_eq(lsmfs_getattr(fs, f, &st), 0);
	ck_assert_int_eq(st.st_size, 0);
	ck_assert_int_eq(st.st_blocks, 0);
	lsmfs_release(fs, f);
	/* an unlinked file open twice lives until the last release */
	ck_assert_int_eq(lsmfs_lookup(fs, ROOT, "f", &st), 0);
	ck_assert_int_eq(lsmfs_open(fs, &tf_root, f, O_RDWR), 0);
	ck_assert_int_eq(lsmfs_open(fs, &tf_root, f, O_RDWR), 0);
	ck_assert_int_eq(lsmfs_write(fs, &tf_root, f, "abc", 3, 0), 3);
	ck_assert_int_eq(lsmfs_unlink(fs, ROOT, "f"), 0);
	lsmfs_forget(fs, f, 1);
	lsmfs_release(fs, f);
	ck_assert_int_eq(lsmfs_getattr(fs, f, &st), 0);
	lsmfs_release(fs, f);
	ck_assert_int_eq(lsmfs_getattr(fs, f, &st), -ENOENT);
	ck_assert_int_eq(lsmfs_open(fs, &tf_root, 999999, O_RDONLY), -ENOENT);
	lsmfs_unmount(fs);
	ck_assert_uint_eq(tf_count_keys(dir, 'C'), 0);
	tu_rmtree(dir);
}
END_TEST

/* ---- attributes ---- */

START_TEST(test_setattr_modes_owners_times)
{
	char *dir;
	lsmfs *fs = tf_new(&dir, 0);
	struct stat st, in;
	uint64_t f = tf_file(fs, ROOT, "f", "x", 1);

	memset(&in, 0, sizeof(in));
	in.st_mode = 06755;
	ck_assert_int_eq(lsmfs_setattr(fs, &tf_root, f, &in, LSMFS_SET_MODE, &st), 0);
	ck_assert_uint_eq(st.st_mode, S_IFREG | 06755);
	/* chown takes set-id bits away */
	in.st_uid = 7;
	ck_assert_int_eq(lsmfs_setattr(fs, &tf_root, f, &in, LSMFS_SET_UID, &st), 0);
	ck_assert_uint_eq(st.st_uid, 7);
	ck_assert_uint_eq(st.st_mode, S_IFREG | 0755);
	/* a write by a non-root user does too */
	in.st_mode = 06755;
	ck_assert_int_eq(lsmfs_setattr(fs, &tf_root, f, &in, LSMFS_SET_MODE, &st), 0);
	ck_assert_int_eq(lsmfs_write(fs, &tf_root, f, "y", 1, 0), 1);
	ck_assert_int_eq(lsmfs_getattr(fs, f, &st), 0);
	ck_assert_uint_eq(st.st_mode, S_IFREG | 06755);
	ck_assert_int_eq(lsmfs_write(fs, &tf_user, f, "y", 1, 0), 1);
	ck_assert_int_eq(lsmfs_getattr(fs, f, &st), 0);
	ck_assert_uint_eq(st.st_mode, S_IFREG | 0755);
	/* explicit times, and ctime moving forward */
	in.st_atim.tv_sec = 1000;
	in.st_atim.tv_nsec = 5;
	in.st_mtim.tv_sec = -2000; /* before 1970 */
	in.st_mtim.tv_nsec = 7;
	ck_assert_int_eq(
		lsmfs_setattr(fs, &tf_root, f, &in, LSMFS_SET_ATIME | LSMFS_SET_MTIME, &st), 0);
	ck_assert_int_eq(st.st_atim.tv_sec, 1000);
	ck_assert_int_eq(st.st_atim.tv_nsec, 5);
	ck_assert_int_eq(st.st_mtim.tv_sec, -2000);
	ck_assert_int_eq(st.st_mtim.tv_nsec, 7);
	ck_assert_int_gt(st.st_ctim.tv_sec, 1000000000);
	fs = tf_remount(fs, dir);
	ck_assert_int_eq(lsmfs_getattr(fs, f, &st), 0);
	ck_assert_int_eq(st.st_mtim.tv_sec, -2000);
	ck_assert_int_eq(st.st_mtim.tv_nsec, 7);
	/* relatime: a read after a change moves atime */
	ck_assert_int_eq(lsmfs_read(fs, f, &in, 1, 0), 1);
	ck_assert_int_eq(lsmfs_getattr(fs, f, &st), 0);
	ck_assert_int_gt(st.st_atim.tv_sec, 1000000000);
	/* access(2) */
	ck_assert_int_eq(lsmfs_access(fs, &tf_user, f, R_OK), 0);
	ck_assert_int_eq(lsmfs_access(fs, &tf_user, f, W_OK), -EACCES);
	ck_assert_int_eq(lsmfs_access(fs, &tf_root, f, W_OK | X_OK), 0);
	ck_assert_int_eq(lsmfs_access(fs, &tf_root, 424242, F_OK), -ENOENT);
	lsmfs_unmount(fs);
	tu_rmtree(dir);
}
END_TEST

START_TEST(test_statfs_reports_space_and_inodes)
{
	char *dir;
	lsmfs *fs = tf_new(&dir, 0);
	struct statvfs a, b;

	ck_assert_int_eq(lsmfs_statfs(fs, &a), 0);
	ck_assert_uint_eq(a.f_bsize, LSMFS_DEFAULT_CHUNK);
	ck_assert_uint_eq(a.f_frsize, 4096);
	ck_assert_uint_eq(a.f_namemax, 255);
	ck_assert_uint_ge(a.f_blocks, a.f_bfree);
	ck_assert_uint_gt(a.f_bavail, 0);
	tf_file(fs, ROOT, "f", "x", 1);
	ck_assert_int_eq(lsmfs_statfs(fs, &b), 0);
	ck_assert_uint_lt(b.f_ffree, a.f_ffree);
	ck_assert_uint_eq(b.f_files, a.f_files);
	lsmfs_unmount(fs);
	tu_rmtree(dir);
}
END_TEST

static uint64_t inodes_used(lsmfs *fs)
{
	struct statvfs sv;

	ck_assert_int_eq(lsmfs_statfs(fs, &sv), 0);
	return sv.f_files - sv.f_ffree;
}

/*
 * df -i counts the inodes that exist: the root, files and directories, an
 * unlinked file while it is open; not the numbers ever handed out. The
 * count survives a remount, a volume without one (an older build's) is
 * counted at mount, and the checker finds a count that is off and sets it.
 */
START_TEST(test_df_i_counts_the_inodes_that_exist)
{
	char *dir, name[32];
	lsmfs *fs = tf_new(&dir, 0);
	lsmfs_check_result res;
	lsmfs_check_opts fix = {.repair = 1};
	struct stat st;
	struct fkey k;
	uint8_t v[8];
	uint64_t d = tf_mkdir(fs, ROOT, "d"), g;

	ck_assert_uint_eq(inodes_used(fs), 2);
	for (int i = 0; i < 50; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		tf_file(fs, d, name, "x", 1);
	}
	ck_assert_uint_eq(inodes_used(fs), 52);
	for (int i = 0; i < 50; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		ck_assert_int_eq(lsmfs_unlink(fs, d, name), 0);
	}
	ck_assert_uint_eq(inodes_used(fs), 2);
	/* open and unlinked: still there until the last close */
	ck_assert_int_eq(lsmfs_create(fs, &tf_root, ROOT, "g", 0644, O_RDWR | O_CREAT, &st), 0);
	g = st.st_ino;
	ck_assert_int_eq(lsmfs_unlink(fs, ROOT, "g"), 0);
	ck_assert_uint_eq(inodes_used(fs), 3);
	lsmfs_release(fs, g);
	lsmfs_forget(fs, g, 1);
	ck_assert_uint_eq(inodes_used(fs), 2);
	tf_file(fs, ROOT, "h", "x", 1);
	fs = tf_remount(fs, dir);
	ck_assert_uint_eq(inodes_used(fs), 3);
	lsmfs_unmount(fs);
	ck_assert_int_eq(tf_check(dir), 0);

	/* an older volume: no N keys; mount counts and writes them */
	for (unsigned n = 0; n < ICOUNT_SHARDS; n++) {
		lsm_db *db = tf_open_db(dir);

		key_count(&k, n);
		ck_assert_int_eq(lsm_delete(db, NULL, k.b, k.len), 0);
		ck_assert_int_eq(lsm_close(db), 0);
	}
	ck_assert_uint_eq(tf_count_keys(dir, KEY_COUNT), 0);
	fs = tf_mount(dir);
	ck_assert_uint_eq(inodes_used(fs), 3);
	lsmfs_unmount(fs);
	ck_assert_uint_eq(tf_count_keys(dir, KEY_COUNT), 1);
	ck_assert_int_eq(tf_check(dir), 0);

	/* a count that is off: reported, then set */
	key_count(&k, 5);
	put_be64(v, 7);
	tf_raw_put(dir, k.b, k.len, v, sizeof(v));
	ck_assert_int_eq(lsmfs_check(dir, NULL, &res, NULL), 0);
	ck_assert_uint_eq(res.count[LSMFS_CK_ICOUNT], 1);
	ck_assert_uint_eq(res.errors, 1);
	ck_assert_int_eq(lsmfs_check(dir, &fix, &res, NULL), 0);
	ck_assert_uint_eq(res.fixed, 1);
	ck_assert_int_eq(tf_check(dir), 0);
	fs = tf_mount(dir);
	ck_assert_uint_eq(inodes_used(fs), 3);
	lsmfs_unmount(fs);
	tu_rmtree(dir);
}
END_TEST

/* ---- readdir ---- */

struct rd_state {
	char **seen;
	int n, cap, limit, taken;
	uint64_t last;
};

static int rd_fn(void *arg, const char *name, const struct stat *st, uint64_t next)
{
	struct rd_state *s = arg;

	(void)st;
	if (s->taken == s->limit)
		return 1;
	ck_assert_uint_gt(next, s->last); /* cookies rise */
	ck_assert_uint_lt(next, 1ull << 63);
	s->last = next;
	if (s->n == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 256;
		s->seen = realloc(s->seen, (size_t)s->cap * sizeof(*s->seen));
	}
	s->seen[s->n++] = strdup(name);
	s->taken++;
	return 0;
}

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

START_TEST(test_readdir_resumes_exactly_while_the_directory_changes)
{
	char *dir;
	lsmfs *fs = tf_new(&dir, 0);
	struct rd_state s = {.limit = 7};
	char name[32];
	int nstable = 300, nvol = 0, calls = 0;
	uint64_t cookie = 0;
	tu_rng r;

	tu_rng_init(&r, tu_seed());
	for (int i = 0; i < nstable; i++) {
		snprintf(name, sizeof(name), "stable%d", i);
		tf_file(fs, ROOT, name, NULL, 0);
	}
	for (int i = 0; i < 100; i++) {
		snprintf(name, sizeof(name), "vol%d", nvol++);
		tf_file(fs, ROOT, name, NULL, 0);
	}
	for (;;) {
		int before = s.n;

		s.taken = 0;
		ck_assert_int_eq(lsmfs_readdir(fs, ROOT, cookie, calls & 1, rd_fn, &s), 0);
		calls++;
		if (s.n == before)
			break;
		cookie = s.last;
		/* (plus listings count lookups nobody forgets: those unlinks leave orphans) */
		/* churn: remove a few volatile names and add new ones */
		for (int k = 0; k < 3; k++) {
			snprintf(name, sizeof(name), "vol%d", (int)tu_below(&r, (uint64_t)nvol));
			lsmfs_unlink(fs, ROOT, name);
			snprintf(name, sizeof(name), "vol%d", nvol++);
			tf_file(fs, ROOT, name, NULL, 0);
		}
	}
	qsort(s.seen, (size_t)s.n, sizeof(*s.seen), str_cmp);
	for (int i = 1; i < s.n; i++)
		ck_assert_msg(strcmp(s.seen[i - 1], s.seen[i]) != 0, "%s listed twice", s.seen[i]);
	for (int i = 0; i < nstable; i++) {
		char *key = name;

		snprintf(name, sizeof(name), "stable%d", i);
		ck_assert_msg(bsearch(&key, s.seen, (size_t)s.n, sizeof(*s.seen), str_cmp),
			      "%s skipped", name);
	}
	ck_assert_str_eq(s.seen[0], ".");
	ck_assert_str_eq(s.seen[1], "..");
	for (int i = 0; i < s.n; i++)
		free(s.seen[i]);
	free(s.seen);
	lsmfs_unmount(fs);
	tu_rmtree(dir);
}
END_TEST

START_TEST(test_name_hash_is_pinned_siphash24)
{
	uint8_t key[16], msg[15];

	/* The reference vectors of the SipHash paper (key 00..0f): a change here would
	 * orphan every directory entry ever written. */
	for (int i = 0; i < 16; i++)
		key[i] = (uint8_t)i;
	for (int i = 0; i < 15; i++)
		msg[i] = (uint8_t)i;
	ck_assert_uint_eq(name_hash(key, "", 0), 0x726fdb47dd0e0e31ull >> (64 - NHASH_BITS));
	ck_assert_uint_eq(name_hash(key, (const char *)msg, 15),
			  0xa129ca6149be45e5ull >> (64 - NHASH_BITS));
}
END_TEST

START_TEST(test_readdir_cookies_distinguish_colliding_hashes)
{
	char *dir;
	lsmfs *fs = tf_new(&dir, 0);
	const char *forged[] = {"p", "q", "r", "s"};
	uint64_t d = tf_mkdir(fs, ROOT, "d");
	uint64_t f = tf_file(fs, ROOT, "f", NULL, 0);
	tf_dirent *ents;
	int n;

	lsmfs_unmount(fs);
	/* Four entries with one hash: the collision a 54-bit hash almost never sees. */
	for (int i = 0; i < 4; i++) {
		struct fkey k;
		uint8_t v[DENT_VAL_LEN];

		key_dent(&k, d, 12345, forged[i], 1);
		put_be64(v, f);
		v[8] = DT_REG;
		tf_raw_put(dir, k.b, k.len, v, sizeof(v));
	}
	fs = tf_mount(dir);
	for (int batch = 1; batch <= 3; batch++) {
		n = tf_list(fs, d, batch, &ents);
		ck_assert_int_eq(n, 6);
		for (int i = 0; i < 4; i++) {
			ck_assert_str_eq(ents[2 + i].name, forged[i]);
			ck_assert_uint_eq(ents[2 + i].cookie, ((12345ull << 8) | (uint64_t)i) + 3);
		}
		free(ents);
	}
	lsmfs_unmount(fs);
	tu_rmtree(dir);
}
END_TEST

struct plus_state {
	int left;
	char taken[8][32];
	int ntaken;
};

static int plus_fn(void *arg, const char *name, const struct stat *st, uint64_t next)
{
	struct plus_state *s = arg;

	(void)next;
	ck_assert_uint_ne(st->st_nlink, 0);
	ck_assert_uint_ne(st->st_ino, 0);
	if (s->left-- <= 0)
		return 1;
	snprintf(s->taken[s->ntaken++], sizeof(s->taken[0]), "%s", name);
	return 0;
}

START_TEST(test_readdirplus_counts_lookups_of_entries_taken)
{
	char *dir;
	lsmfs *fs = tf_new(&dir, 0);
	struct plus_state s = {.left = 3}; /* ".", "..", and one of f, g */
	struct stat st;
	uint64_t f = tf_file(fs, ROOT, "f", "x", 1), g = tf_file(fs, ROOT, "g", "x", 1);
	uint64_t taken, refused;

	ck_assert_int_eq(lsmfs_readdir(fs, ROOT, 0, 1, plus_fn, &s), 0);
	ck_assert_int_eq(s.ntaken, 3);
	ck_assert_str_eq(s.taken[0], ".");
	ck_assert_str_eq(s.taken[1], "..");
	taken = strcmp(s.taken[2], "f") == 0 ? f : g;
	refused = taken == f ? g : f;
	ck_assert_int_eq(lsmfs_unlink(fs, ROOT, "f"), 0);
	ck_assert_int_eq(lsmfs_unlink(fs, ROOT, "g"), 0);
	/* the kernel holds a lookup on the taken entry: it survives until forgotten */
	ck_assert_int_eq(lsmfs_getattr(fs, taken, &st), 0);
	ck_assert_uint_eq(st.st_nlink, 0);
	ck_assert_int_eq(lsmfs_getattr(fs, refused, &st), -ENOENT);
	lsmfs_forget(fs, taken, 1);
	ck_assert_int_eq(lsmfs_getattr(fs, taken, &st), -ENOENT);
	/* "." and ".." were not counted: the root is still fine after forgetting nothing */
	ck_assert_int_eq(lsmfs_getattr(fs, ROOT, &st), 0);
	lsmfs_unmount(fs);
	ck_assert_int_eq(tf_check(dir), 0);
	tu_rmtree(dir);
}
END_TEST

/* ---- xattrs ---- */

START_TEST(test_xattrs_set_get_list_remove_with_errors)
{
	char *dir;
	lsmfs *fs = tf_new(&dir, 0);
	char buf[256], big[LSMFS_XATTR_SIZE_MAX + 1], longname[LSMFS_XATTR_NAME_MAX + 2];
	uint64_t f = tf_file(fs, ROOT, "f", NULL, 0);

	memset(big, 'v', sizeof(big));
	memset(longname, 'n', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	ck_assert_int_eq(lsmfs_listxattr(fs, f, buf, 0), 0);
	ck_assert_int_eq(lsmfs_getxattr(fs, f, "user.a", buf, sizeof(buf)), -ENODATA);
	ck_assert_int_eq(lsmfs_setxattr(fs, f, "user.a", "1", 1, LSMFS_XATTR_REPLACE), -ENODATA);
	ck_assert_int_eq(lsmfs_setxattr(fs, f, "user.a", "one", 3, LSMFS_XATTR_CREATE), 0);
	ck_assert_int_eq(lsmfs_setxattr(fs, f, "user.a", "1", 1, LSMFS_XATTR_CREATE), -EEXIST);
	ck_assert_int_eq(lsmfs_setxattr(fs, f, "user.b", "", 0, 0), 0);
	ck_assert_int_eq(lsmfs_setxattr(fs, f, "", "x", 1, 0), -ERANGE);
	ck_assert_int_eq(lsmfs_setxattr(fs, f, longname, "x", 1, 0), -ERANGE);
	ck_assert_int_eq(lsmfs_setxattr(fs, f, "user.big", big, sizeof(big), 0), -E2BIG);
	ck_assert_int_eq(lsmfs_setxattr(fs, f, "user.big", big, sizeof(big) - 1, 0), 0);
	ck_assert_int_eq(lsmfs_getxattr(fs, f, "user.a", NULL, 0), 3);
	ck_assert_int_eq(lsmfs_getxattr(fs, f, "user.a", buf, 2), -ERANGE);
	ck_assert_int_eq(lsmfs_getxattr(fs, f, "user.a", buf, sizeof(buf)), 3);
	ck_assert_int_eq(memcmp(buf, "one", 3), 0);
	ck_assert_int_eq(lsmfs_getxattr(fs, f, "user.b", buf, sizeof(buf)), 0);
	ck_assert_int_eq(lsmfs_setxattr(fs, f, "user.a", "two!", 4, LSMFS_XATTR_REPLACE), 0);
	fs = tf_remount(fs, dir);
	ck_assert_int_eq(lsmfs_getxattr(fs, f, "user.a", buf, sizeof(buf)), 4);
	ck_assert_int_eq(memcmp(buf, "two!", 4), 0);
	ck_assert_int_eq(lsmfs_listxattr(fs, f, NULL, 0), 7 + 9 + 7);
	ck_assert_int_eq(lsmfs_listxattr(fs, f, buf, 5), -ERANGE);
	ck_assert_int_eq(lsmfs_listxattr(fs, f, buf, sizeof(buf)), 23);
	ck_assert_int_eq(memcmp(buf, "user.a\0user.b\0user.big\0", 23), 0);
	ck_assert_int_eq(lsmfs_removexattr(fs, f, "user.zz"), -ENODATA);
	ck_assert_int_eq(lsmfs_removexattr(fs, f, "user.a"), 0);
	ck_assert_int_eq(lsmfs_getxattr(fs, f, "user.a", buf, sizeof(buf)), -ENODATA);
	ck_assert_int_eq(lsmfs_setxattr(fs, ROOT, "user.dir", "d", 1, 0), 0);
	ck_assert_int_eq(lsmfs_getxattr(fs, 31337, "user.a", buf, sizeof(buf)), -ENOENT);
	/* the attributes go with the inode */
	ck_assert_int_eq(lsmfs_unlink(fs, ROOT, "f"), 0);
	lsmfs_unmount(fs);
	ck_assert_uint_eq(tf_count_keys(dir, 'X'), 1);
	tu_rmtree(dir);
}
END_TEST

/* ---- remount ---- */

START_TEST(test_remount_keeps_everything)
{
	char *dir;
	lsmfs *fs = tf_new(&dir, 8192);
	uint8_t data[50000];
	struct stat st;
	char buf[64];
	tu_rng r;
	size_t n;
	uint8_t *got;
	tf_dirent *ents;

	tu_rng_init(&r, tu_seed());
	tu_fill(&r, data, sizeof(data));
	uint64_t d = tf_mkdir(fs, ROOT, "dir");
	uint64_t f = tf_file(fs, d, "file", data, sizeof(data));
	ck_assert_int_eq(lsmfs_link(fs, f, ROOT, "hard", &st), 0);
	lsmfs_forget(fs, f, 1);
	ck_assert_int_eq(lsmfs_symlink(fs, &tf_root, d, "sym", "file", &st), 0);
	uint64_t s = st.st_ino, maxino = s;
	lsmfs_forget(fs, s, 1);
	ck_assert_int_eq(lsmfs_setxattr(fs, d, "user.x", "y", 1, 0), 0);
	for (int round = 0; round < 3; round++) {
		fs = tf_remount(fs, dir);
		ck_assert_uint_eq(tf_ino(fs, ROOT, "dir"), d);
		ck_assert_uint_eq(tf_ino(fs, d, "file"), f);
		ck_assert_uint_eq(tf_ino(fs, ROOT, "hard"), f);
		ck_assert_uint_eq(nlink_of(fs, f), 2);
		got = tf_slurp(fs, f, &n);
		ck_assert_int_eq(n, sizeof(data));
		ck_assert_int_eq(memcmp(got, data, n), 0);
		free(got);
		ck_assert_int_eq(lsmfs_readlink(fs, s, buf, sizeof(buf)), 4);
		ck_assert_int_eq(lsmfs_getxattr(fs, d, "user.x", buf, sizeof(buf)), 1);
		ck_assert_int_eq(tf_list(fs, d, 2, &ents), 4);
		free(ents);
		/* new inodes never reuse a number handed out before */
		uint64_t nf = tf_file(fs, ROOT, "new", NULL, 0);
		ck_assert_uint_gt(nf, maxino);
		maxino = nf;
		ck_assert_int_eq(lsmfs_unlink(fs, ROOT, "new"), 0);
	}
	ck_assert_int_eq(lsmfs_fsync(fs, f, 0), 0);
	lsmfs_unmount(fs);
	ck_assert_int_eq(tf_check(dir), 0);
	tu_rmtree(dir);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("fscore");
	TCase *tc = tcase_create("fscore");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_mkfs_then_mount_gives_empty_root);
	tcase_add_test(tc, test_mkfs_refuses_foreign_existing_and_bad_chunk);
	tcase_add_test(tc, test_mount_refuses_unformatted_newer_and_damaged);
	tcase_add_test(tc, test_name_errors_match_ext4);
	tcase_add_test(tc, test_new_nodes_take_owner_umask_and_setgid);
	tcase_add_test(tc, test_link_counts_follow_link_unlink_rename_mkdir_rmdir);
	tcase_add_test(tc, test_link_refuses_past_65000);
	tcase_add_test(tc, test_rename_replaces_exchanges_and_refuses_as_ext4);
	tcase_add_test(tc, test_unlinked_open_file_readable_until_release);
	tcase_add_test(tc, test_idle_remembered_inodes_are_light_records);
	tcase_add_test(tc, test_orphan_of_a_crash_is_freed_at_next_mount);
	tcase_add_test(tc, test_open_trunc_and_counts);
	tcase_add_test(tc, test_huge_files_are_freed_in_bounded_steps);
	tcase_add_test(tc, test_a_chunk_count_too_high_does_not_hang_the_free);
	tcase_add_test(tc, test_setattr_modes_owners_times);
	tcase_add_test(tc, test_statfs_reports_space_and_inodes);
	tcase_add_test(tc, test_df_i_counts_the_inodes_that_exist);
	tcase_add_test(tc, test_readdir_resumes_exactly_while_the_directory_changes);
	tcase_add_test(tc, test_readdirplus_counts_lookups_of_entries_taken);
	tcase_add_test(tc, test_name_hash_is_pinned_siphash24);
	tcase_add_test(tc, test_readdir_cookies_distinguish_colliding_hashes);
	tcase_add_test(tc, test_xattrs_set_get_list_remove_with_errors);
	tcase_add_test(tc, test_remount_keeps_everything);
	suite_add_tcase(s, tc);
	suite_add_tcase(s, fscore_model_tcase());
	return tu_run_suite(s);
}
