/*
 * check_fsck.c — the offline check and repair (fs/fsck/, fsck.lsmfs).
 *
 * Each test makes a filesystem through the fs core, unmounts it, damages it
 * through the engine directly (one kind of damage, or a few), and proves
 * that the check reports exactly those problems and changes nothing, that
 * the repair fixes each of them, that a second check is clean, and that the
 * data which survives is intact. The last tests run the fsck.lsmfs program
 * itself for its exit codes.
 */
#include "check_fscore.h"

#include "env.h"
#include "fscheck.h"
#include "keys.h"
#include "lsm.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define ROOT LSMFS_ROOT_INO
#define CS   4096u
#define END  (-1)

/*
 * The filesystem every test starts from (inode numbers as allocated):
 *   /a/b/file1   3 chunks and 100 bytes of random data
 *   /a/hard      a second link of /hello
 *   /a/fifo
 *   /hello       "hello world\n", with the xattr user.k
 *   /sym -> hello
 *   /sparse      one byte at 3 * CS, holes before it (a chunk of one byte)
 *   /dup1 /dup2  the same 2 chunks of random data (shared chunks)
 */
struct tree {
	char *dir;
	uint64_t a, b, file1, hello, sym, sparse, dup1, dup2, fifo;
	uint8_t data1[3 * CS + 100];
	uint8_t dup[2 * CS];
};

static const char hello_text[] = "hello world\n";

static void make_tree(struct tree *t)
{
	lsmfs *fs = tf_new(&t->dir, CS);
	struct stat st;
	tu_rng r;

	tu_rng_init(&r, tu_seed());
	tu_fill(&r, t->data1, sizeof(t->data1));
	tu_fill(&r, t->dup, sizeof(t->dup));
	/* No zero bytes: a chunk's stored length is then exactly what was written. */
	for (size_t i = 0; i < sizeof(t->data1); i++)
		t->data1[i] |= (uint8_t)(t->data1[i] == 0);
	for (size_t i = 0; i < sizeof(t->dup); i++)
		t->dup[i] |= (uint8_t)(t->dup[i] == 0);
	t->a = tf_mkdir(fs, ROOT, "a");
	t->b = tf_mkdir(fs, t->a, "b");
	t->file1 = tf_file(fs, t->b, "file1", t->data1, sizeof(t->data1));
	t->hello = tf_file(fs, ROOT, "hello", hello_text, strlen(hello_text));
	ck_assert_int_eq(lsmfs_setxattr(fs, t->hello, "user.k", "v", 1, 0), 0);
	ck_assert_int_eq(lsmfs_link(fs, t->hello, t->a, "hard", &st), 0);
	lsmfs_forget(fs, t->hello, 1);
	ck_assert_int_eq(lsmfs_symlink(fs, &tf_root, ROOT, "sym", "hello", &st), 0);
	t->sym = st.st_ino;
	lsmfs_forget(fs, t->sym, 1);
	t->sparse = tf_file(fs, ROOT, "sparse", NULL, 0);
	ck_assert_int_eq(lsmfs_write(fs, &tf_root, t->sparse, "x", 1, 3 * CS), 1);
	t->dup1 = tf_file(fs, ROOT, "dup1", t->dup, sizeof(t->dup));
	t->dup2 = tf_file(fs, ROOT, "dup2", t->dup, sizeof(t->dup));
	ck_assert_int_eq(lsmfs_mknod(fs, &tf_root, t->a, "fifo", S_IFIFO | 0644, 0, &st), 0);
	t->fifo = st.st_ino;
	lsmfs_forget(fs, t->fifo, 1);
	lsmfs_unmount(fs);
}

/* ---- the engine, directly ---- */

static void raw_del(const char *dir, const void *k, size_t klen)
{
	lsm_db *db = tf_open_db(dir);

	ck_assert_int_eq(lsm_delete(db, NULL, k, klen), 0);
	ck_assert_int_eq(lsm_close(db), 0);
}

/* The value of a key (malloc'd), or NULL when absent. */
static void *raw_get(const char *dir, const void *k, size_t klen, size_t *vlen)
{
	void *v = NULL;
	int rc = tf_raw_get(dir, k, klen, &v, vlen);

	ck_assert_int_ge(rc, 0);
	return rc == 0 ? v : NULL;
}

static struct lsmfs_super get_super(const char *dir)
{
	struct lsmfs_super sb;
	size_t vlen;
	void *v = raw_get(dir, "S", 1, &vlen);

	ck_assert_ptr_nonnull(v);
	ck_assert_int_eq(super_decode(&sb, v, vlen), 0);
	free(v);
	return sb;
}

static void put_super(const char *dir, const struct lsmfs_super *sb)
{
	uint8_t v[SB_LEN];

	super_encode(v, sb);
	tf_raw_put(dir, "S", 1, v, sizeof(v));
}

static struct lsmfs_attr get_inode(const char *dir, uint64_t ino)
{
	struct lsmfs_attr a;
	struct fkey k;
	size_t vlen;
	void *v;

	key_ino(&k, KEY_INODE, ino);
	v = raw_get(dir, k.b, k.len, &vlen);
	ck_assert_ptr_nonnull(v);
	ck_assert_int_eq(inode_decode(&a, v, vlen), 0);
	free(v);
	return a;
}

static void put_inode(const char *dir, uint64_t ino, const struct lsmfs_attr *a)
{
	uint8_t v[INODE_LEN];
	struct fkey k;

	key_ino(&k, KEY_INODE, ino);
	tf_raw_put(dir, k.b, k.len, v, inode_encode(v, a));
}

static void dent_key(const char *dir, struct fkey *k, uint64_t parent, const char *name)
{
	struct lsmfs_super sb = get_super(dir);

	key_dent(k, parent, name_hash(sb.uuid, name, strlen(name)), name, strlen(name));
}

static void put_dent(const char *dir, uint64_t parent, const char *name, uint64_t child,
		     uint8_t dtype)
{
	struct fkey k;
	uint8_t v[DENT_VAL_LEN];

	dent_key(dir, &k, parent, name);
	put_be64(v, child);
	v[8] = dtype;
	tf_raw_put(dir, k.b, k.len, v, sizeof(v));
}

static void del_dent(const char *dir, uint64_t parent, const char *name)
{
	struct fkey k;

	dent_key(dir, &k, parent, name);
	raw_del(dir, k.b, k.len);
}

static void sha_of(const void *data, size_t n, uint8_t sha[SHA_LEN])
{
	unsigned int len = SHA_LEN;

	EVP_Digest(data, n, sha, &len, EVP_sha256(), NULL);
}

static void put_fref(const char *dir, uint64_t ino, uint64_t idx, const struct fref *r)
{
	uint8_t v[FREF_MAX_LEN];
	struct fkey k;

	key_fchunk(&k, ino, idx);
	tf_raw_put(dir, k.b, k.len, v, fref_encode(v, r, NULL));
}

static void put_refcount(const char *dir, const uint8_t *sha, uint64_t n)
{
	struct fkey k;
	uint8_t v[8];

	key_sha(&k, KEY_REF, sha);
	put_be64(v, n);
	tf_raw_put(dir, k.b, k.len, v, sizeof(v));
}

static uint64_t get_refcount(const char *dir, const uint8_t *sha)
{
	struct fkey k;
	size_t vlen;
	void *v;
	uint64_t n;

	key_sha(&k, KEY_REF, sha);
	v = raw_get(dir, k.b, k.len, &vlen);
	if (!v)
		return 0;
	ck_assert_uint_eq(vlen, 8);
	n = get_be64(v);
	free(v);
	return n;
}

/* ---- running the check ---- */

static void print_report(void *arg, const lsmfs_check_report *r)
{
	(void)arg;
	printf("  [%s%s] %s%s%s\n", r->kind == LSMFS_CK_NOTE ? "note " : "",
	       r->kind == LSMFS_CK_LOST ? "lost" : lsmfs_check_code_name(r->code), r->what,
	       r->fix ? " -> " : "", r->fix ? r->fix : "");
}

static int run_check(const char *dir, int repair, size_t batch_max, lsmfs_check_result *res)
{
	lsmfs_check_opts o = {.repair = repair, .batch_max = batch_max, .report = print_report};
	const char *msg = NULL;
	int rc;

	printf("check %s%s:\n", dir, repair ? " (repair)" : "");
	rc = lsmfs_check(dir, &o, res, &msg);
	printf("  -> rc %d, %llu errors, %llu fixed, %llu notes%s%s\n", rc,
	       (unsigned long long)res->errors, (unsigned long long)res->fixed,
	       (unsigned long long)res->notes, msg ? ": " : "", msg ? msg : "");
	return rc;
}

/* Asserts that res holds exactly the problems in want: {code, count, ..., END}. */
static void expect(const lsmfs_check_result *res, const int *want)
{
	uint64_t total = 0;
	int n[LSMFS_CK_NCODES] = {0};

	for (int i = 0; want[i] != END; i += 2)
		n[want[i]] = want[i + 1];
	for (int c = 0; c < LSMFS_CK_PENDING_ORPHAN; c++) {
		ck_assert_msg(res->count[c] == (uint64_t)n[c], "%s: %llu reported, %d expected",
			      lsmfs_check_code_name(c), (unsigned long long)res->count[c], n[c]);
		total += (uint64_t)n[c];
	}
	ck_assert_uint_eq(res->errors, total);
	ck_assert_int_eq(res->incomplete, 0);
}

static void expect_clean(const char *dir)
{
	lsmfs_check_result res;

	ck_assert_int_eq(run_check(dir, 0, 0, &res), 0);
	ck_assert_uint_eq(res.errors, 0);
	ck_assert_uint_eq(res.notes, 0);
	ck_assert_int_eq(res.incomplete, 0);
	ck_assert_int_eq(tf_check(dir), 0);
}

/*
 * The check finds exactly want and changes nothing (a second look finds
 * the same); the repair fixes all of it; a third look is clean.
 */
static void find_fix_clean(const char *dir, size_t batch_max, const int *want)
{
	lsmfs_check_result res;

	ck_assert_int_eq(run_check(dir, 0, 0, &res), 0);
	expect(&res, want);
	ck_assert_uint_eq(res.fixed, 0);
	ck_assert_int_eq(res.modified, 0);
	ck_assert_int_eq(run_check(dir, 0, 0, &res), 0);
	expect(&res, want);
	ck_assert_int_eq(run_check(dir, 1, batch_max, &res), 0);
	expect(&res, want);
	ck_assert_uint_eq(res.unfixable, 0);
	ck_assert_uint_eq(res.fixed, res.errors);
	ck_assert_int_eq(res.modified, 1);
	expect_clean(dir);
}

#define WANT(...) ((const int[]){__VA_ARGS__, END})

/* The bytes of parent/name equal data[0..n). */
static void expect_file(lsmfs *fs, uint64_t parent, const char *name, const void *data, size_t n)
{
	uint64_t ino = tf_ino(fs, parent, name);
	size_t got;
	uint8_t *buf;

	ck_assert_msg(ino != 0, "%s is missing", name);
	buf = tf_slurp(fs, ino, &got);
	ck_assert_uint_eq(got, n);
	ck_assert_msg(memcmp(buf, data, n) == 0, "%s: contents differ", name);
	free(buf);
}

/* Everything of the tree is there and intact, except what mask names. */
enum { K_FILE1 = 1, K_HELLO = 2, K_SYM = 4, K_DUP2 = 8, K_A = 16 };

static void expect_tree(const struct tree *t, int skip)
{
	lsmfs *fs = tf_mount(t->dir);
	uint8_t sparse[3 * CS + 1];
	char target[16];

	memset(sparse, 0, sizeof(sparse));
	sparse[3 * CS] = 'x';
	if (!(skip & (K_FILE1 | K_A)))
		expect_file(fs, t->b, "file1", t->data1, sizeof(t->data1));
	if (!(skip & K_HELLO)) {
		expect_file(fs, ROOT, "hello", hello_text, strlen(hello_text));
		if (!(skip & K_A))
			expect_file(fs, t->a, "hard", hello_text, strlen(hello_text));
		ck_assert_int_eq(lsmfs_getxattr(fs, t->hello, "user.k", target, sizeof(target)), 1);
	}
	if (!(skip & K_SYM)) {
		ck_assert_int_eq(lsmfs_readlink(fs, t->sym, target, sizeof(target)), 5);
		ck_assert_str_eq(target, "hello");
	}
	expect_file(fs, ROOT, "sparse", sparse, sizeof(sparse));
	expect_file(fs, ROOT, "dup1", t->dup, sizeof(t->dup));
	if (!(skip & K_DUP2))
		expect_file(fs, ROOT, "dup2", t->dup, sizeof(t->dup));
	lsmfs_unmount(fs);
}

/* ---- a clean filesystem ---- */

START_TEST(test_clean_filesystem_has_no_problems)
{
	struct tree t;
	lsmfs_check_result res;

	make_tree(&t);
	expect_clean(t.dir);
	ck_assert_int_eq(run_check(t.dir, 1, 0, &res), 0);
	ck_assert_uint_eq(res.errors, 0);
	ck_assert_int_eq(res.modified, 0);
	ck_assert_uint_eq(res.inodes, 10);
	ck_assert_uint_eq(res.dirs, 3);
	ck_assert_uint_eq(res.files, 5);
	ck_assert_uint_eq(res.symlinks, 1);
	ck_assert_uint_eq(res.chunks, 8);
	expect_tree(&t, 0);
	tu_rmtree(t.dir);
}
END_TEST

/* ---- inodes and entries ---- */

START_TEST(test_deleted_inode_key_drops_its_entry_and_chunks)
{
	struct tree t;
	struct fkey k;

	make_tree(&t);
	key_ino(&k, KEY_INODE, t.file1);
	raw_del(t.dir, k.b, k.len);
	find_fix_clean(t.dir, 0, WANT(LSMFS_CK_DANGLING, 1, LSMFS_CK_STRAY, 1, LSMFS_CK_ICOUNT, 1));
	/* its four chunks are freed: hello 1, sparse 1, dup 2 remain */
	ck_assert_uint_eq(tf_count_keys(t.dir, 'C'), 4);
	ck_assert_uint_eq(tf_count_keys(t.dir, 'R'), 4);
	ck_assert_uint_eq(tf_count_keys(t.dir, 'F'), 6);
	expect_tree(&t, K_FILE1);
	tu_rmtree(t.dir);
}
END_TEST

START_TEST(test_dangling_entry_is_removed)
{
	struct tree t;
	lsmfs *fs;

	make_tree(&t);
	put_dent(t.dir, ROOT, "ghost", 999, DT_REG);
	find_fix_clean(t.dir, 0, WANT(LSMFS_CK_DANGLING, 1));
	fs = tf_mount(t.dir);
	ck_assert_uint_eq(tf_ino(fs, ROOT, "ghost"), 0);
	lsmfs_unmount(fs);
	expect_tree(&t, 0);
	tu_rmtree(t.dir);
}
END_TEST

START_TEST(test_wrong_link_counts_are_set)
{
	struct tree t;
	struct lsmfs_attr a;

	make_tree(&t);
	a = get_inode(t.dir, t.hello);
	a.nlink = 7;
	put_inode(t.dir, t.hello, &a);
	a = get_inode(t.dir, t.a);
	a.nlink = 9;
	put_inode(t.dir, t.a, &a);
	find_fix_clean(t.dir, 0, WANT(LSMFS_CK_NLINK, 2));
	ck_assert_uint_eq(get_inode(t.dir, t.hello).nlink, 2);
	ck_assert_uint_eq(get_inode(t.dir, t.a).nlink, 3);
	expect_tree(&t, 0);
	tu_rmtree(t.dir);
}
END_TEST

START_TEST(test_unreachable_directory_goes_to_lost_found)
{
	struct tree t;
	struct stat st;
	uint64_t lf, moved;
	lsmfs *fs;

	make_tree(&t);
	del_dent(t.dir, ROOT, "a");
	/* a is lost, and the root's link count still counts it */
	find_fix_clean(t.dir, 0, WANT(LSMFS_CK_UNREACHABLE, 1, LSMFS_CK_NLINK, 1));
	fs = tf_mount(t.dir);
	lf = tf_ino(fs, ROOT, "lost+found");
	ck_assert_uint_ne(lf, 0);
	ck_assert_int_eq(lsmfs_getattr(fs, lf, &st), 0);
	ck_assert(S_ISDIR(st.st_mode));
	ck_assert_uint_eq(st.st_mode & 07777, 0700);
	ck_assert_uint_eq(st.st_nlink, 3);
	moved = tf_ino(fs, lf, "#2");
	ck_assert_uint_eq(moved, t.a);
	ck_assert_int_eq(lsmfs_getattr(fs, ROOT, &st), 0);
	ck_assert_uint_eq(st.st_nlink, 3); /* lost+found replaces a */
	expect_file(fs, t.b, "file1", t.data1, sizeof(t.data1));
	expect_file(fs, t.a, "hard", hello_text, strlen(hello_text));
	lsmfs_unmount(fs);
	ck_assert_uint_eq(get_inode(t.dir, t.a).parent, lf);
	ck_assert_uint_gt(get_super(t.dir).ino_end, lf);
	expect_tree(&t, K_A);
	tu_rmtree(t.dir);
}
END_TEST

START_TEST(test_unreachable_file_goes_to_lost_found)
{
	struct tree t;
	lsmfs *fs;
	uint64_t lf;

	make_tree(&t);
	/* an existing /lost+found is used, and a name taken in it is not reused */
	fs = tf_mount(t.dir);
	lf = tf_mkdir(fs, ROOT, "lost+found");
	tf_file(fs, lf, "#9", "mine", 4);
	lsmfs_unmount(fs);
	del_dent(t.dir, ROOT, "dup2");
	find_fix_clean(t.dir, 0, WANT(LSMFS_CK_UNREACHABLE, 1));
	fs = tf_mount(t.dir);
	ck_assert_uint_eq(tf_ino(fs, ROOT, "lost+found"), lf);
	expect_file(fs, lf, "#9", "mine", 4);
	expect_file(fs, lf, "#9.1", t.dup, sizeof(t.dup));
	ck_assert_uint_eq(tf_ino(fs, lf, "#9.1"), t.dup2);
	lsmfs_unmount(fs);
	expect_tree(&t, K_DUP2);
	tu_rmtree(t.dir);
}
END_TEST

START_TEST(test_unusable_lost_found_leaves_the_problem)
{
	struct tree t;
	lsmfs_check_result res;
	lsmfs *fs;

	make_tree(&t);
	fs = tf_mount(t.dir);
	tf_file(fs, ROOT, "lost+found", "not a directory", 15);
	lsmfs_unmount(fs);
	del_dent(t.dir, ROOT, "dup2");
	ck_assert_int_eq(run_check(t.dir, 1, 0, &res), 0);
	expect(&res, WANT(LSMFS_CK_UNREACHABLE, 1));
	ck_assert_uint_eq(res.unfixable, 1);
	ck_assert_uint_eq(res.fixed, 0);
	ck_assert_int_eq(run_check(t.dir, 0, 0, &res), 0);
	expect(&res, WANT(LSMFS_CK_UNREACHABLE, 1));
	tu_rmtree(t.dir);
}
END_TEST

START_TEST(test_directory_cycle_is_cut_and_connected)
{
	struct tree t;
	uint64_t c, d, lf;
	char name[32];
	lsmfs *fs;

	make_tree(&t);
	fs = tf_mount(t.dir);
	c = tf_mkdir(fs, ROOT, "c");
	d = tf_mkdir(fs, c, "d");
	lsmfs_unmount(fs);
	/* c's only entry is now in d, which is in c */
	put_dent(t.dir, d, "c", c, DT_DIR);
	del_dent(t.dir, ROOT, "c");
	/* root and d count the wrong subdirectories; c's parent field is stale */
	find_fix_clean(t.dir, 0,
		       WANT(LSMFS_CK_UNREACHABLE, 1, LSMFS_CK_NLINK, 2, LSMFS_CK_PARENT, 1));
	fs = tf_mount(t.dir);
	lf = tf_ino(fs, ROOT, "lost+found");
	snprintf(name, sizeof(name), "#%llu", (unsigned long long)d);
	ck_assert_uint_eq(tf_ino(fs, lf, name), d);
	ck_assert_uint_eq(tf_ino(fs, d, "c"), c);
	ck_assert_uint_eq(tf_ino(fs, c, "d"), 0);
	lsmfs_unmount(fs);
	expect_tree(&t, 0);
	tu_rmtree(t.dir);
}
END_TEST

START_TEST(test_entry_type_hash_parent_and_second_links)
{
	struct tree t;
	struct lsmfs_attr a;
	struct fkey k;
	size_t vlen;
	void *v;
	lsmfs *fs;

	make_tree(&t);
	put_dent(t.dir, ROOT, "hello", t.hello, DT_DIR);
	a = get_inode(t.dir, t.b);
	a.parent = ROOT;
	put_inode(t.dir, t.b, &a);
	/* sym under a wrong hash: readdir shows it, lookup misses it */
	dent_key(t.dir, &k, ROOT, "sym");
	v = raw_get(t.dir, k.b, k.len, &vlen);
	ck_assert_ptr_nonnull(v);
	raw_del(t.dir, k.b, k.len);
	put_be64(k.b + 9, get_be64(k.b + 9) ^ 1);
	tf_raw_put(t.dir, k.b, k.len, v, vlen);
	free(v);
	/* a second name for a, and an entry naming the root */
	put_dent(t.dir, ROOT, "a2", t.a, DT_DIR);
	put_dent(t.dir, t.a, "up", ROOT, DT_DIR);
	find_fix_clean(t.dir, 0,
		       WANT(LSMFS_CK_DENT_TYPE, 1, LSMFS_CK_PARENT, 1, LSMFS_CK_DENT_HASH, 1,
			    LSMFS_CK_DIR_LINK, 2));
	fs = tf_mount(t.dir);
	ck_assert_uint_eq(tf_ino(fs, ROOT, "sym"), t.sym);
	ck_assert_uint_eq(tf_ino(fs, ROOT, "a2") + tf_ino(fs, ROOT, "a"), t.a);
	ck_assert_uint_eq(tf_ino(fs, t.a, "up"), 0);
	lsmfs_unmount(fs);
	ck_assert_uint_eq(get_inode(t.dir, t.b).parent, t.a);
	tu_rmtree(t.dir);
}
END_TEST

START_TEST(test_symlink_without_target_is_removed)
{
	struct tree t;
	struct fkey k;
	lsmfs *fs;

	make_tree(&t);
	key_ino(&k, KEY_LINK, t.sym);
	raw_del(t.dir, k.b, k.len);
	find_fix_clean(t.dir, 0, WANT(LSMFS_CK_SYMLINK, 1));
	fs = tf_mount(t.dir);
	ck_assert_uint_eq(tf_ino(fs, ROOT, "sym"), 0);
	lsmfs_unmount(fs);
	ck_assert_uint_eq(tf_count_keys(t.dir, 'L'), 0);
	expect_tree(&t, K_SYM);
	tu_rmtree(t.dir);
}
END_TEST

START_TEST(test_inode_fields_chunks_size_and_xattr_flag)
{
	struct tree t;
	struct lsmfs_attr a;
	struct fkey k;

	make_tree(&t);
	a = get_inode(t.dir, t.file1);
	a.chunks = 99;
	put_inode(t.dir, t.file1, &a);
	a = get_inode(t.dir, t.sym);
	a.size = 99;
	put_inode(t.dir, t.sym, &a);
	key_xattr(&k, t.a, "user.x", 6);
	tf_raw_put(t.dir, k.b, k.len, "1", 1);
	find_fix_clean(t.dir, 0,
		       WANT(LSMFS_CK_CHUNK_COUNT, 1, LSMFS_CK_SYMLINK, 1, LSMFS_CK_XATTR_FLAG, 1));
	ck_assert_uint_eq(get_inode(t.dir, t.file1).chunks, 4);
	ck_assert_uint_eq(get_inode(t.dir, t.sym).size, 5);
	ck_assert_uint_eq(get_inode(t.dir, t.a).flags & LSMFS_IFLAG_XATTR, LSMFS_IFLAG_XATTR);
	expect_tree(&t, 0);
	tu_rmtree(t.dir);
}
END_TEST

/* With 64 KiB chunks, where a chunk's 4 KiB units are not the whole chunk. */
START_TEST(test_wrong_stored_bytes_are_set)
{
	char *dir;
	lsmfs *fs = tf_new(&dir, 0);
	uint8_t *data = malloc(100 * 1024);
	struct lsmfs_attr a;
	struct stat st;

	memset(data, 's', 100 * 1024);
	uint64_t small = tf_file(fs, ROOT, "small", data, 100);
	uint64_t big = tf_file(fs, ROOT, "big", data, 100 * 1024);
	uint64_t cut = tf_file(fs, ROOT, "cut", data, 100 * 1024);
	uint64_t d = tf_mkdir(fs, ROOT, "d");
	lsmfs_unmount(fs);
	a = get_inode(dir, small);
	ck_assert_uint_eq(a.stored, 4096);
	a.stored = 65536;
	put_inode(dir, small, &a);
	a = get_inode(dir, big);
	ck_assert_uint_eq(a.stored, 100 * 1024);
	a.stored = 0;
	put_inode(dir, big, &a);
	a = get_inode(dir, d);
	a.stored = 4096;
	put_inode(dir, d, &a);
	/* cut short without its last chunk being cut: the figure follows the trim */
	a = get_inode(dir, cut);
	a.size = 70000;
	put_inode(dir, cut, &a);
	find_fix_clean(dir, 0, WANT(LSMFS_CK_STORED, 3, LSMFS_CK_PAST_EOF, 1));
	ck_assert_uint_eq(get_inode(dir, small).stored, 4096);
	ck_assert_uint_eq(get_inode(dir, big).stored, 100 * 1024);
	ck_assert_uint_eq(get_inode(dir, d).stored, 0);
	ck_assert_uint_eq(get_inode(dir, cut).stored, 64 * 1024 + 8192);
	fs = tf_mount(dir);
	ck_assert_int_eq(lsmfs_getattr(fs, small, &st), 0);
	ck_assert_int_eq(st.st_blocks, 4096 / 512);
	ck_assert_int_eq(lsmfs_getattr(fs, cut, &st), 0);
	ck_assert_int_eq(st.st_blocks, (64 * 1024 + 8192) / 512);
	lsmfs_unmount(fs);
	free(data);
	tu_rmtree(dir);
}
END_TEST

START_TEST(test_damaged_inode_is_cleared_with_its_keys)
{
	struct tree t;
	struct fkey k;
	lsmfs *fs;

	make_tree(&t);
	key_ino(&k, KEY_INODE, t.hello);
	tf_raw_put(t.dir, k.b, k.len, "0123456789", 10);
	find_fix_clean(t.dir, 0, WANT(LSMFS_CK_INODE, 1));
	fs = tf_mount(t.dir);
	ck_assert_uint_eq(tf_ino(fs, ROOT, "hello"), 0);
	ck_assert_uint_eq(tf_ino(fs, t.a, "hard"), 0);
	lsmfs_unmount(fs);
	ck_assert_uint_eq(tf_count_keys(t.dir, 'X'), 0);
	ck_assert_uint_eq(tf_count_keys(t.dir, 'C'), 7);
	expect_tree(&t, K_HELLO);
	tu_rmtree(t.dir);
}
END_TEST

START_TEST(test_missing_root_inode_is_made_anew)
{
	struct tree t;
	struct stat st;
	struct fkey k;
	lsmfs *fs;

	make_tree(&t);
	key_ino(&k, KEY_INODE, ROOT);
	raw_del(t.dir, k.b, k.len);
	find_fix_clean(t.dir, 0, WANT(LSMFS_CK_ROOT, 1, LSMFS_CK_ICOUNT, 1));
	fs = tf_mount(t.dir);
	ck_assert_int_eq(lsmfs_getattr(fs, ROOT, &st), 0);
	ck_assert(S_ISDIR(st.st_mode));
	ck_assert_uint_eq(st.st_nlink, 3);
	lsmfs_unmount(fs);
	expect_tree(&t, 0);
	tu_rmtree(t.dir);
}
END_TEST

START_TEST(test_orphan_keys_of_linked_and_missing_inodes_go)
{
	struct tree t;
	struct fkey k;

	make_tree(&t);
	key_ino(&k, KEY_ORPHAN, t.hello);
	tf_raw_put(t.dir, k.b, k.len, "", 0);
	key_ino(&k, KEY_ORPHAN, 777);
	tf_raw_put(t.dir, k.b, k.len, "", 0);
	find_fix_clean(t.dir, 0, WANT(LSMFS_CK_ORPHAN, 2));
	ck_assert_uint_eq(tf_count_keys(t.dir, 'O'), 0);
	expect_tree(&t, 0);
	tu_rmtree(t.dir);
}
END_TEST

START_TEST(test_pending_orphan_is_a_note_and_repair_frees_it)
{
	struct tree t;
	lsmfs_check_result res;
	uint8_t big[3 * CS];
	struct stat st;
	lsmfs *fs;

	make_tree(&t);
	memset(big, 'o', sizeof(big));
	fs = tf_mount(t.dir);
	ck_assert_int_eq(lsmfs_create(fs, &tf_root, ROOT, "open", 0644, O_RDWR, &st), 0);
	ck_assert_int_eq(lsmfs_write(fs, &tf_root, st.st_ino, big, sizeof(big), 0), sizeof(big));
	ck_assert_int_eq(lsmfs_unlink(fs, ROOT, "open"), 0);
	lsmfs_unmount(fs); /* still open: as if the daemon had been killed */
	ck_assert_uint_eq(tf_count_keys(t.dir, 'O'), 1);
	ck_assert_int_eq(run_check(t.dir, 0, 0, &res), 0);
	ck_assert_uint_eq(res.errors, 0);
	ck_assert_uint_eq(res.notes, 1);
	ck_assert_uint_eq(res.count[LSMFS_CK_PENDING_ORPHAN], 1);
	ck_assert_int_eq(tf_check(t.dir), 0);
	ck_assert_int_eq(run_check(t.dir, 1, 0, &res), 0);
	ck_assert_uint_eq(res.errors, 0);
	ck_assert_uint_eq(res.finished, 1);
	ck_assert_int_eq(res.modified, 1);
	expect_clean(t.dir);
	ck_assert_uint_eq(tf_count_keys(t.dir, 'O'), 0);
	ck_assert_uint_eq(tf_count_keys(t.dir, 'I'), 10);
	ck_assert_uint_eq(tf_count_keys(t.dir, 'C'), 8);
	expect_tree(&t, 0);
	tu_rmtree(t.dir);
}
END_TEST

START_TEST(test_inode_reservation_is_raised)
{
	struct tree t;
	struct lsmfs_super sb;
	lsmfs *fs;
	uint64_t ino;

	make_tree(&t);
	sb = get_super(t.dir);
	sb.ino_end = 3;
	put_super(t.dir, &sb);
	find_fix_clean(t.dir, 0, WANT(LSMFS_CK_RESERVATION, 1));
	ck_assert_uint_eq(get_super(t.dir).ino_end, t.fifo + 1);
	fs = tf_mount(t.dir);
	ino = tf_file(fs, ROOT, "new", "n", 1);
	ck_assert_uint_gt(ino, t.fifo);
	lsmfs_unmount(fs);
	expect_clean(t.dir);
	expect_tree(&t, 0);
	tu_rmtree(t.dir);
}
END_TEST

/* ---- chunks ---- */

START_TEST(test_wrong_and_missing_reference_counts_are_set)
{
	struct tree t;
	uint8_t dsha[SHA_LEN], hsha[SHA_LEN];
	struct fkey k;

	make_tree(&t);
	sha_of(t.dup, CS, dsha);
	sha_of(hello_text, strlen(hello_text), hsha);
	ck_assert_uint_eq(get_refcount(t.dir, dsha), 2);
	put_refcount(t.dir, dsha, 5);
	key_sha(&k, KEY_REF, hsha);
	raw_del(t.dir, k.b, k.len);
	find_fix_clean(t.dir, 0, WANT(LSMFS_CK_REFCOUNT, 2));
	ck_assert_uint_eq(get_refcount(t.dir, dsha), 2);
	ck_assert_uint_eq(get_refcount(t.dir, hsha), 1);
	expect_tree(&t, 0);
	tu_rmtree(t.dir);
}
END_TEST

START_TEST(test_leaked_chunks_are_freed)
{
	struct tree t;
	uint8_t junk[100], sha[SHA_LEN], other[SHA_LEN];
	struct fkey k;

	make_tree(&t);
	memset(junk, 'j', sizeof(junk));
	sha_of(junk, sizeof(junk), sha);
	key_sha(&k, KEY_CHUNK, sha);
	tf_raw_put(t.dir, k.b, k.len, junk, sizeof(junk));
	put_refcount(t.dir, sha, 1);
	sha_of("other", 5, other);
	put_refcount(t.dir, other, 3);
	find_fix_clean(t.dir, 0, WANT(LSMFS_CK_LEAK, 2));
	ck_assert_uint_eq(tf_count_keys(t.dir, 'C'), 8);
	ck_assert_uint_eq(tf_count_keys(t.dir, 'R'), 8);
	expect_tree(&t, 0);
	tu_rmtree(t.dir);
}
END_TEST

START_TEST(test_flipped_chunk_bytes_become_a_hole)
{
	struct tree t;
	lsmfs_check_result res;
	uint8_t bad[CS];
	struct fref r;
	struct fkey k;

	make_tree(&t);
	r = tf_fref(t.dir, t.file1, 1);
	memcpy(bad, t.data1 + CS, CS);
	bad[77] ^= 0x40;
	key_sha(&k, KEY_CHUNK, r.sha);
	tf_raw_put(t.dir, k.b, k.len, bad, sizeof(bad));
	ck_assert_int_eq(run_check(t.dir, 0, 0, &res), 0);
	ck_assert_uint_eq(res.lost, 1);
	find_fix_clean(t.dir, 0, WANT(LSMFS_CK_CHUNK_DIGEST, 1));
	ck_assert_uint_eq(tf_count_keys(t.dir, 'C'), 7);
	/* the damaged range reads as zeros; everything else is as written */
	memset(t.data1 + CS, 0, CS);
	expect_tree(&t, 0);
	tu_rmtree(t.dir);
}
END_TEST

START_TEST(test_missing_chunk_becomes_a_hole)
{
	struct tree t;
	uint8_t sha[SHA_LEN];
	struct fkey k;
	lsmfs *fs;
	char zeros[sizeof(hello_text) - 1];

	make_tree(&t);
	sha_of(hello_text, strlen(hello_text), sha);
	key_sha(&k, KEY_CHUNK, sha);
	raw_del(t.dir, k.b, k.len);
	find_fix_clean(t.dir, 0, WANT(LSMFS_CK_CHUNK_MISSING, 1));
	ck_assert_uint_eq(get_refcount(t.dir, sha), 0);
	fs = tf_mount(t.dir);
	memset(zeros, 0, sizeof(zeros));
	expect_file(fs, ROOT, "hello", zeros, sizeof(zeros));
	lsmfs_unmount(fs);
	expect_tree(&t, K_HELLO);
	tu_rmtree(t.dir);
}
END_TEST

START_TEST(test_chunk_length_and_bytes_past_the_end)
{
	struct tree t;
	struct lsmfs_attr a;
	struct fref r;
	struct stat in, out;
	uint8_t sha[SHA_LEN];
	lsmfs *fs;
	size_t keep = 3 * CS + 50;

	make_tree(&t);
	/* hello's reference claims 20 bytes */
	r = tf_fref(t.dir, t.hello, 0);
	r.len = 20;
	put_fref(t.dir, t.hello, 0, &r);
	/* dup1 gains a counted reference far past its end */
	r = tf_fref(t.dir, t.dup1, 0);
	put_fref(t.dir, t.dup1, 10, &r);
	put_refcount(t.dir, r.sha, 3);
	a = get_inode(t.dir, t.dup1);
	a.chunks = 3;
	a.stored = 3 * CS;
	put_inode(t.dir, t.dup1, &a);
	/* file1 is cut short without its last chunk being cut */
	a = get_inode(t.dir, t.file1);
	a.size = keep;
	put_inode(t.dir, t.file1, &a);
	find_fix_clean(t.dir, 0, WANT(LSMFS_CK_CHUNK_LEN, 1, LSMFS_CK_PAST_EOF, 2));
	sha_of(t.dup, CS, sha);
	ck_assert_uint_eq(get_refcount(t.dir, sha), 2);
	ck_assert_uint_eq(tf_fref(t.dir, t.file1, 3).len, 50);
	fs = tf_mount(t.dir);
	expect_file(fs, t.b, "file1", t.data1, keep);
	/* growing it again shows zeros, not the bytes cut off */
	memset(&in, 0, sizeof(in));
	in.st_size = (off_t)sizeof(t.data1);
	ck_assert_int_eq(lsmfs_setattr(fs, &tf_root, t.file1, &in, LSMFS_SET_SIZE, &out), 0);
	memset(t.data1 + keep, 0, sizeof(t.data1) - keep);
	expect_file(fs, t.b, "file1", t.data1, sizeof(t.data1));
	lsmfs_unmount(fs);
	expect_clean(t.dir);
	expect_tree(&t, 0);
	tu_rmtree(t.dir);
}
END_TEST

START_TEST(test_malformed_keys_and_strays_are_removed)
{
	struct tree t;
	struct fkey k;

	make_tree(&t);
	tf_raw_put(t.dir, "Zjunk", 5, "v", 1);
	tf_raw_put(t.dir, "I\0\0\0\1", 5, "v", 1);
	key_xattr(&k, 555, "user.gone", 9);
	tf_raw_put(t.dir, k.b, k.len, "v", 1);
	key_ino(&k, KEY_LINK, 555);
	tf_raw_put(t.dir, k.b, k.len, "target", 6);
	put_dent(t.dir, ROOT, "sla/sh", t.dup2, DT_REG);
	find_fix_clean(t.dir, 0, WANT(LSMFS_CK_KEY, 2, LSMFS_CK_STRAY, 1, LSMFS_CK_DENT, 1));
	ck_assert_uint_eq(tf_count_keys(t.dir, 'Z'), 0);
	ck_assert_uint_eq(tf_count_keys(t.dir, 'L'), 1);
	expect_tree(&t, 0);
	tu_rmtree(t.dir);
}
END_TEST

/* ---- the repair itself ---- */

/* Several problems at once, so that the repair touches every kind of key. */
static void damage_many(const struct tree *t)
{
	struct lsmfs_attr a;
	uint8_t junk[64], sha[SHA_LEN];
	struct fkey k;

	put_dent(t->dir, ROOT, "ghost", 999, DT_REG);
	a = get_inode(t->dir, t->hello);
	a.nlink = 7;
	a.stored = 3 * CS; /* goes down, as the link count does: late, across batches */
	put_inode(t->dir, t->hello, &a);
	memset(junk, 'j', sizeof(junk));
	sha_of(junk, sizeof(junk), sha);
	key_sha(&k, KEY_CHUNK, sha);
	tf_raw_put(t->dir, k.b, k.len, junk, sizeof(junk));
	put_refcount(t->dir, sha, 1);
	del_dent(t->dir, ROOT, "a");
	key_ino(&k, KEY_INODE, t->dup2);
	raw_del(t->dir, k.b, k.len);
	key_ino(&k, KEY_ORPHAN, t->sparse);
	tf_raw_put(t->dir, k.b, k.len, "", 0);
}

static const int many[] = {LSMFS_CK_DANGLING,
			   2,
			   LSMFS_CK_NLINK,
			   2,
			   LSMFS_CK_STORED,
			   1,
			   LSMFS_CK_LEAK,
			   1,
			   LSMFS_CK_UNREACHABLE,
			   1,
			   LSMFS_CK_STRAY,
			   1,
			   LSMFS_CK_ORPHAN,
			   1,
			   LSMFS_CK_ICOUNT,
			   1,
			   END};

START_TEST(test_repair_in_one_batch_or_many_ends_the_same)
{
	struct tree t1, t2;

	make_tree(&t1);
	make_tree(&t2);
	damage_many(&t1);
	damage_many(&t2);
	find_fix_clean(t1.dir, 0, many);
	find_fix_clean(t2.dir, 1, many); /* every key in a batch of its own */
	for (const char *tag = "CDFILNORSX"; *tag; tag++)
		ck_assert_uint_eq(tf_count_keys(t1.dir, *tag), tf_count_keys(t2.dir, *tag));
	expect_tree(&t1, K_DUP2 | K_A);
	expect_tree(&t2, K_DUP2 | K_A);
	tu_rmtree(t1.dir);
	tu_rmtree(t2.dir);
}
END_TEST

/* Arms a write failure when the check starts writing its repairs. */
struct arm {
	lsm_env *env;
	uint64_t nth;
};

static void arm_at_repair(void *arg, int phase, int nphases, const char *what, uint64_t done,
			  uint64_t total)
{
	struct arm *a = arg;

	(void)nphases;
	(void)what;
	(void)total;
	if (phase == 5 && done == 0 && a->nth) {
		lsm_fault_fail_write(a->env, a->nth);
		a->nth = 0;
	}
}

static int repair_failing_at(const char *dir, size_t batch_max, uint64_t nth,
			     lsmfs_check_result *res, const char **msg)
{
	lsm_env *env = lsm_env_fault_new(lsm_env_posix());
	struct arm a = {.env = env, .nth = nth};
	lsmfs_check_opts o = {.repair = 1,
			      .batch_max = batch_max,
			      .engine_env = env,
			      .report = print_report,
			      .progress = arm_at_repair,
			      .arg = &a};
	int rc = lsmfs_check(dir, &o, res, msg);

	printf("  -> rc %d: %s\n", rc, *msg ? *msg : "");
	env->destroy(env);
	return rc;
}

START_TEST(test_failed_repair_write_changes_nothing_or_is_finished_later)
{
	struct tree t;
	lsmfs_check_result res;
	const char *msg = NULL;

	make_tree(&t);
	damage_many(&t);
	/* one batch: its write fails, nothing changes */
	ck_assert_int_eq(repair_failing_at(t.dir, 0, 1, &res, &msg), -EIO);
	ck_assert_ptr_nonnull(strstr(msg, "nothing was changed"));
	ck_assert_uint_eq(res.fixed, 0);
	ck_assert_int_eq(res.modified, 0);
	ck_assert_int_eq(run_check(t.dir, 0, 0, &res), 0);
	expect(&res, many);
	/* a batch per key: the fifth write fails, four repairs are in */
	ck_assert_int_eq(repair_failing_at(t.dir, 1, 5, &res, &msg), -EIO);
	ck_assert_ptr_nonnull(strstr(msg, "run the check again"));
	ck_assert_int_eq(res.modified, 1);
	/* what is left is still a filesystem the next repair finishes */
	ck_assert_int_eq(run_check(t.dir, 1, 0, &res), 0);
	ck_assert_uint_eq(res.fixed, res.errors);
	expect_clean(t.dir);
	expect_tree(&t, K_DUP2 | K_A);
	tu_rmtree(t.dir);
}
END_TEST

START_TEST(test_refuses_in_use_foreign_and_missing_directories)
{
	struct tree t;
	lsmfs_check_result res;
	const char *msg = NULL;
	char *empty = tu_mkdtemp("fsckempty"), *other = tu_mkdtemp("fsckother");
	char *file = tu_path(empty, "f"), *lock = tu_path(empty, "LOCK");
	lsm_db *db = NULL;
	lsm_options o;
	lsmfs *fs;
	FILE *f;

	make_tree(&t);
	fs = tf_mount(t.dir);
	ck_assert_int_eq(lsmfs_check(t.dir, NULL, &res, &msg), -EBUSY);
	ck_assert_ptr_nonnull(strstr(msg, "in use"));
	lsmfs_unmount(fs);
	ck_assert_int_eq(lsmfs_check(empty, NULL, &res, &msg), -EMEDIUMTYPE);
	lsm_options_init(&o);
	ck_assert_int_eq(lsm_open(&db, other, &o), 0);
	ck_assert_int_eq(lsm_put(db, NULL, "x", 1, "y", 1), 0);
	ck_assert_int_eq(lsm_close(db), 0);
	ck_assert_int_eq(lsmfs_check(other, NULL, &res, &msg), -EMEDIUMTYPE);
	ck_assert_ptr_nonnull(strstr(msg, "superblock"));
	f = fopen(file, "w");
	fclose(f);
	ck_assert_int_eq(lsmfs_check(file, NULL, &res, &msg), -ENOTDIR);
	ck_assert_int_eq(lsmfs_check("/nonexistent/lsmfs", NULL, &res, &msg), -ENOENT);
	/* nothing was created in the directories it refused */
	ck_assert_int_eq(access(lock, F_OK), -1);
	free(file);
	free(lock);
	tu_rmtree(empty);
	tu_rmtree(other);
	tu_rmtree(t.dir);
}
END_TEST

START_TEST(test_engine_damage_is_reported_not_repaired)
{
	char *dir;
	lsmfs *fs = tf_new(&dir, CS);
	size_t n = 300 * CS;
	uint8_t *data = malloc(n);
	lsmfs_check_result res;
	lsm_db *db;
	tu_rng r;

	tu_rng_init(&r, tu_seed());
	tu_fill(&r, data, n);
	tf_file(fs, ROOT, "f", data, n);
	lsmfs_unmount(fs);
	db = tf_open_db(dir);
	ck_assert_int_eq(lsm_compact_range(db, NULL, 0, NULL, 0), 0);
	ck_assert_int_eq(lsm_close(db), 0);
	lsm_close(tf_open_db(dir)); /* removes the compacted-away tables */
	tf_damage_largest_table(dir);
	ck_assert_int_eq(run_check(dir, 0, 0, &res), 0);
	ck_assert_uint_gt(res.count[LSMFS_CK_ENGINE], 0);
	ck_assert_uint_eq(res.unfixable, res.count[LSMFS_CK_ENGINE]);
	ck_assert_int_eq(run_check(dir, 1, 0, &res), 0);
	ck_assert_uint_gt(res.count[LSMFS_CK_ENGINE], 0);
	ck_assert_uint_lt(res.fixed, res.errors);
	free(data);
	tu_rmtree(dir);
}
END_TEST

/* The newest non-empty WAL of dir, or "" when there is none. */
static void newest_wal(const char *dir, char *out, size_t size)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char best[256] = "";

	while ((de = readdir(d)) != NULL) {
		char path[4096];
		struct stat st;

		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (strstr(de->d_name, ".log") && stat(path, &st) == 0 && st.st_size > 0 &&
		    strcmp(de->d_name, best) > 0)
			snprintf(best, sizeof(best), "%s", de->d_name);
	}
	closedir(d);
	snprintf(out, size, "%s%s%s", best[0] ? dir : "", best[0] ? "/" : "", best);
}

START_TEST(test_torn_wal_tail_is_a_note_when_read_only)
{
	struct tree t;
	lsmfs_check_result res;
	char wal[4096];
	struct stat st;

	make_tree(&t);
	newest_wal(t.dir, wal, sizeof(wal));
	ck_assert_msg(wal[0], "no WAL with records");
	ck_assert_int_eq(stat(wal, &st), 0);
	/* the last batch cut short, as a crash in the middle of its write leaves it */
	ck_assert_int_eq(truncate(wal, st.st_size - 3), 0);
	ck_assert_int_eq(run_check(t.dir, 0, 0, &res), 0);
	ck_assert_uint_eq(res.errors, 0);
	ck_assert_uint_eq(res.count[LSMFS_CK_TORN_WAL], 1);
	/* a writable open drops the tail: then nothing is left to note */
	ck_assert_int_eq(run_check(t.dir, 1, 0, &res), 0);
	ck_assert_uint_eq(res.errors, 0);
	ck_assert_uint_eq(res.notes, 0);
	expect_clean(t.dir);
	tu_rmtree(t.dir);
}
END_TEST

/* ---- the program ---- */

/* Runs fsck.lsmfs with the arguments (NULL-terminated); its exit status and output. */
static int run_fsck(char **out, ...)
{
	const char *top = getenv("top_builddir");
	char *prog, *args[8], *log = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&log, &len);
	int fd[2], status, n = 0;
	va_list ap;
	pid_t pid;
	char buf[4096];
	ssize_t got;

	if (asprintf(&prog, "%s/mkfs/fsck.lsmfs", top && *top ? top : ".") < 0)
		abort();
	ck_assert_msg(access(prog, X_OK) == 0, "%s is not built", prog);
	args[n++] = prog;
	va_start(ap, out);
	for (char *a; (a = va_arg(ap, char *)) != NULL && n < 7;)
		args[n++] = a;
	va_end(ap);
	args[n] = NULL;
	ck_assert_int_eq(pipe(fd), 0);
	fflush(stdout);
	pid = fork();
	if (pid == 0) { /* no ck_assert here: it would write to Check's channel */
		dup2(fd[1], 1);
		dup2(fd[1], 2);
		close(fd[0]);
		execv(prog, args);
		_exit(127);
	}
	ck_assert_int_ge(pid, 0);
	close(fd[1]);
	while ((got = read(fd[0], buf, sizeof(buf))) > 0)
		fwrite(buf, 1, (size_t)got, mem);
	close(fd[0]);
	fclose(mem);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	printf("$ fsck.lsmfs ...\n%s", log);
	free(prog);
	*out = log;
	ck_assert(WIFEXITED(status));
	return WEXITSTATUS(status);
}

START_TEST(test_program_exit_codes_follow_e2fsck)
{
	struct tree t;
	struct lsmfs_attr a;
	char *out;
	lsmfs *fs;

	make_tree(&t);
	ck_assert_int_eq(run_fsck(&out, "-n", t.dir, NULL), 0);
	ck_assert_ptr_nonnull(strstr(out, "clean"));
	free(out);
	ck_assert_int_eq(run_fsck(&out, t.dir, NULL), 0);
	free(out);
	ck_assert_int_eq(run_fsck(&out, "-y", "--progress", t.dir, NULL), 0);
	free(out);

	a = get_inode(t.dir, t.hello);
	a.nlink = 7;
	put_inode(t.dir, t.hello, &a);
	ck_assert_int_eq(run_fsck(&out, "-n", t.dir, NULL), 4);
	ck_assert_ptr_nonnull(strstr(out, "Set it to 2? no"));
	free(out);
	ck_assert_int_eq(run_fsck(&out, t.dir, NULL), 4);
	ck_assert_ptr_nonnull(strstr(out, "fsck.lsmfs -y"));
	free(out);
	ck_assert_int_eq(run_fsck(&out, "-y", t.dir, NULL), 1);
	ck_assert_ptr_nonnull(strstr(out, "Set it to 2? yes"));
	free(out);
	ck_assert_int_eq(run_fsck(&out, "-n", t.dir, NULL), 0);
	free(out);

	fs = tf_mount(t.dir);
	ck_assert_int_eq(run_fsck(&out, "-n", t.dir, NULL), 8);
	ck_assert_ptr_nonnull(strstr(out, "in use"));
	free(out);
	lsmfs_unmount(fs);
	ck_assert_int_eq(run_fsck(&out, "-n", "-y", t.dir, NULL), 8);
	free(out);
	ck_assert_int_eq(run_fsck(&out, NULL), 8);
	free(out);
	ck_assert_int_eq(run_fsck(&out, "-n", "/nonexistent/lsmfs", NULL), 8);
	free(out);
	ck_assert_int_eq(run_fsck(&out, "--bogus", t.dir, NULL), 8);
	free(out);
	tu_rmtree(t.dir);
}
END_TEST

START_TEST(test_program_frees_pending_orphans_with_status_1)
{
	struct tree t;
	struct stat st;
	char *out;
	lsmfs *fs;

	make_tree(&t);
	fs = tf_mount(t.dir);
	ck_assert_int_eq(lsmfs_create(fs, &tf_root, ROOT, "open", 0644, O_RDWR, &st), 0);
	ck_assert_int_eq(lsmfs_unlink(fs, ROOT, "open"), 0);
	lsmfs_unmount(fs);
	ck_assert_int_eq(run_fsck(&out, "-n", t.dir, NULL), 0);
	ck_assert_ptr_nonnull(strstr(out, "note: "));
	free(out);
	ck_assert_int_eq(run_fsck(&out, "-y", t.dir, NULL), 1);
	ck_assert_ptr_nonnull(strstr(out, "Free it? yes"));
	free(out);
	ck_assert_int_eq(run_fsck(&out, "-y", t.dir, NULL), 0);
	free(out);
	tu_rmtree(t.dir);
}
END_TEST

/* The length of an I value as stored. */
static size_t inode_len(const char *dir, uint64_t ino)
{
	struct fkey k;
	size_t vlen;

	key_ino(&k, KEY_INODE, ino);
	free(raw_get(dir, k.b, k.len, &vlen));
	return vlen;
}

/* Writes the inode of ino as a build before the stored field did: 88 bytes. */
static void put_old_inode(const char *dir, uint64_t ino, const struct lsmfs_attr *a)
{
	struct lsmfs_attr old = *a;

	old.stored_old = 1;
	put_inode(dir, ino, &old);
	ck_assert_uint_eq(inode_len(dir, ino), INODE_LEN_OLD);
}

START_TEST(test_older_build_inode_is_no_problem_and_repair_fills_it_in)
{
	char *dir, *out;
	lsmfs *fs = tf_new(&dir, 0);
	lsmfs_check_result res;
	struct lsmfs_attr a;
	struct stat st;
	uint64_t f = tf_file(fs, ROOT, "f", "abc", 3);
	uint64_t g = tf_file(fs, ROOT, "g", "abc", 3);
	uint64_t e = tf_file(fs, ROOT, "e", NULL, 0);

	ck_assert_int_eq(lsmfs_write(fs, &tf_root, f, "xyz", 3, 2 * LSMFS_DEFAULT_CHUNK), 3);
	lsmfs_unmount(fs);
	a = get_inode(dir, f);
	put_old_inode(dir, f, &a);
	a = get_inode(dir, e);
	put_old_inode(dir, e, &a);
	ck_assert_int_eq(run_check(dir, 0, 0, &res), 0);
	ck_assert_uint_eq(res.errors, 0);
	ck_assert_uint_eq(res.old_inodes, 1); /* e has no chunks: its figure is 0, known */
	ck_assert_int_eq(run_fsck(&out, "-n", dir, NULL), 0);
	ck_assert_ptr_nonnull(strstr(out, "1 file written by an older build counts whole chunks"));
	free(out);
	ck_assert_uint_eq(inode_len(dir, f), INODE_LEN_OLD);
	/* -y fills the figure in, which is no problem fixed */
	ck_assert_int_eq(run_fsck(&out, "-y", dir, NULL), 0);
	ck_assert_ptr_nonnull(strstr(out, "1 file written by an older build now counts"));
	free(out);
	ck_assert_uint_eq(inode_len(dir, f), INODE_LEN);
	a = get_inode(dir, f);
	ck_assert_int_eq(a.stored_old, 0);
	ck_assert_uint_eq(a.stored, 2 * 4096);
	ck_assert_int_eq(run_fsck(&out, "-n", dir, NULL), 0);
	ck_assert_ptr_null(strstr(out, "older build"));
	free(out);
	/* an older build's inode with a wrong chunk count: that count is the problem */
	a = get_inode(dir, g);
	a.chunks = 5;
	put_old_inode(dir, g, &a);
	find_fix_clean(dir, 1, WANT(LSMFS_CK_CHUNK_COUNT, 1));
	a = get_inode(dir, g);
	ck_assert_uint_eq(a.chunks, 1);
	ck_assert_uint_eq(a.stored, 4096);
	fs = tf_mount(dir);
	ck_assert_int_eq(lsmfs_getattr(fs, f, &st), 0);
	ck_assert_int_eq(st.st_blocks, 2 * 4096 / 512);
	ck_assert_int_eq(lsmfs_getattr(fs, g, &st), 0);
	ck_assert_int_eq(st.st_blocks, 4096 / 512);
	lsmfs_unmount(fs);
	tu_rmtree(dir);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("fsck");

	/* These cases damage C and R keys: small chunks stay out of their references. */
	tf_inline_bytes = 0;
	TCase *tc = tcase_create("fsck");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_clean_filesystem_has_no_problems);
	tcase_add_test(tc, test_deleted_inode_key_drops_its_entry_and_chunks);
	tcase_add_test(tc, test_dangling_entry_is_removed);
	tcase_add_test(tc, test_wrong_link_counts_are_set);
	tcase_add_test(tc, test_unreachable_directory_goes_to_lost_found);
	tcase_add_test(tc, test_unreachable_file_goes_to_lost_found);
	tcase_add_test(tc, test_unusable_lost_found_leaves_the_problem);
	tcase_add_test(tc, test_directory_cycle_is_cut_and_connected);
	tcase_add_test(tc, test_entry_type_hash_parent_and_second_links);
	tcase_add_test(tc, test_symlink_without_target_is_removed);
	tcase_add_test(tc, test_inode_fields_chunks_size_and_xattr_flag);
	tcase_add_test(tc, test_wrong_stored_bytes_are_set);
	tcase_add_test(tc, test_damaged_inode_is_cleared_with_its_keys);
	tcase_add_test(tc, test_missing_root_inode_is_made_anew);
	tcase_add_test(tc, test_orphan_keys_of_linked_and_missing_inodes_go);
	tcase_add_test(tc, test_pending_orphan_is_a_note_and_repair_frees_it);
	tcase_add_test(tc, test_inode_reservation_is_raised);
	tcase_add_test(tc, test_wrong_and_missing_reference_counts_are_set);
	tcase_add_test(tc, test_leaked_chunks_are_freed);
	tcase_add_test(tc, test_flipped_chunk_bytes_become_a_hole);
	tcase_add_test(tc, test_missing_chunk_becomes_a_hole);
	tcase_add_test(tc, test_chunk_length_and_bytes_past_the_end);
	tcase_add_test(tc, test_malformed_keys_and_strays_are_removed);
	tcase_add_test(tc, test_repair_in_one_batch_or_many_ends_the_same);
	tcase_add_test(tc, test_failed_repair_write_changes_nothing_or_is_finished_later);
	tcase_add_test(tc, test_refuses_in_use_foreign_and_missing_directories);
	tcase_add_test(tc, test_engine_damage_is_reported_not_repaired);
	tcase_add_test(tc, test_torn_wal_tail_is_a_note_when_read_only);
	tcase_add_test(tc, test_program_exit_codes_follow_e2fsck);
	tcase_add_test(tc, test_program_frees_pending_orphans_with_status_1);
	tcase_add_test(tc, test_older_build_inode_is_no_problem_and_repair_fills_it_in);
	suite_add_tcase(s, tc);
	return tu_run_suite(s);
}
