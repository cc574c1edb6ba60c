/*
 * check_fscore_model.c — the fs core against an in-memory POSIX tree
 * (fsmodel.c) under seeded random operations, with remounts and a final
 * offline consistency check; and several threads at once on one directory.
 */
#include "check_fscore.h"
#include "fsmodel.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CS 4096u /* small chunks: small files span many of them */

static const char *const names[] = {"a", "b", "c", "d", "e", "f", "g", "h"};

struct run {
	lsmfs *fs;
	char *dir;
	fsmodel m;
	tu_rng r;
	uint8_t *buf, *buf2;
	char longname[LSMFS_NAME_MAX + 2];
};

/* A random live node of the given type (0: any); -1 if none. */
static int pick(struct run *t, int type)
{
	return fm_pick(&t->m, &t->r, type);
}

static const char *pick_name(struct run *t)
{
	uint64_t x = tu_below(&t->r, 100);

	if (x == 0)
		return t->longname;
	if (x == 1)
		return "";
	return names[tu_below(&t->r, sizeof(names) / sizeof(names[0]))];
}

static uint64_t ino_of(struct run *t, int node)
{
	return t->m.nodes[node].ino;
}

static uint64_t rand_off(struct run *t, uint64_t max)
{
	/* Chunk-aligned half the time, so that whole-chunk paths run too. */
	uint64_t o = tu_below(&t->r, max);

	return tu_below(&t->r, 2) ? o / CS * CS : o;
}

static void compare_file(struct run *t, int node)
{
	fm_node *nd = &t->m.nodes[node];
	struct stat st;
	size_t done = 0;

	ck_assert_int_eq(lsmfs_getattr(t->fs, nd->ino, &st), 0);
	ck_assert_int_eq(st.st_size, (off_t)nd->size);
	while (done < nd->size) {
		size_t want = 1 + tu_below(&t->r, 3 * CS);
		ssize_t got = lsmfs_read(t->fs, nd->ino, t->buf, want, (off_t)done);

		ck_assert_int_gt(got, 0);
		ck_assert_msg(memcmp(t->buf, nd->data + done, (size_t)got) == 0,
			      "inode %llu differs at %zu", (unsigned long long)nd->ino, done);
		done += (size_t)got;
	}
	ck_assert_int_eq(lsmfs_read(t->fs, nd->ino, t->buf, 10, (off_t)nd->size), 0);
}

static int ent_cmp(const void *a, const void *b)
{
	return strcmp(((const tf_dirent *)a)->name, ((const tf_dirent *)b)->name);
}

static void compare_dir(struct run *t, int node)
{
	fm_node *nd = &t->m.nodes[node];
	tf_dirent *ents;
	int n = tf_list(t->fs, nd->ino, 1 + (int)tu_below(&t->r, 5), &ents);

	ck_assert_int_eq(n, nd->nents + 2);
	ck_assert_str_eq(ents[0].name, ".");
	ck_assert_uint_eq(ents[1].ino, t->m.nodes[nd->parent].ino);
	qsort(ents + 2, (size_t)n - 2, sizeof(*ents), ent_cmp);
	for (int i = 2; i < n; i++) {
		int child = fm_lookup(&t->m, node, ents[i].name);

		ck_assert_msg(child >= 0, "extra entry %s", ents[i].name);
		ck_assert_uint_eq(ents[i].ino, t->m.nodes[child].ino);
	}
	free(ents);
}

static void compare_node(struct run *t, int node)
{
	struct stat st;
	fm_node *nd = &t->m.nodes[node];

	ck_assert_int_eq(lsmfs_getattr(t->fs, nd->ino, &st), 0);
	ck_assert_uint_eq(st.st_nlink, (nlink_t)fm_nlink(&t->m, node));
	if (nd->type == FM_FILE)
		compare_file(t, node);
	else if (nd->type == FM_DIR)
		compare_dir(t, node);
	else
		ck_assert(S_ISLNK(st.st_mode));
}

static void compare_all(struct run *t)
{
	for (int i = 0; i < t->m.n; i++)
		if (t->m.nodes[i].type)
			compare_node(t, i);
}

static void op_create(struct run *t, int type)
{
	int d = tu_below(&t->r, 10) ? pick(t, FM_DIR) : pick(t, 0);
	const char *name = pick_name(t);
	int want = fm_create(&t->m, d, name, type);
	struct stat st;
	int rc;

	if (type == FM_FILE)
		rc = lsmfs_create(t->fs, &tf_root, ino_of(t, d), name, 0644,
				  O_CREAT | O_EXCL | O_RDWR, &st);
	else if (type == FM_DIR)
		rc = lsmfs_mkdir(t->fs, &tf_root, ino_of(t, d), name, 0755, &st);
	else
		rc = lsmfs_symlink(t->fs, &tf_root, ino_of(t, d), name, "target", &st);
	ck_assert_int_eq(rc, want < 0 ? want : 0);
	if (rc)
		return;
	t->m.nodes[want].ino = st.st_ino;
	if (type == FM_FILE)
		lsmfs_release(t->fs, st.st_ino);
	lsmfs_forget(t->fs, st.st_ino, 1);
}

static void op_remove(struct run *t, int dir)
{
	int d = tu_below(&t->r, 10) ? pick(t, FM_DIR) : pick(t, 0);
	const char *name = pick_name(t);
	int want = dir ? fm_rmdir(&t->m, d, name) : fm_unlink(&t->m, d, name);
	int rc = dir ? lsmfs_rmdir(t->fs, ino_of(t, d), name)
		     : lsmfs_unlink(t->fs, ino_of(t, d), name);

	ck_assert_int_eq(rc, want);
}

static void op_rename(struct run *t)
{
	static const unsigned flags[] = {0, 0, 0, LSMFS_RENAME_NOREPLACE, LSMFS_RENAME_EXCHANGE};
	int d = pick(t, FM_DIR), nd = tu_below(&t->r, 20) ? pick(t, FM_DIR) : pick(t, 0);
	const char *a = pick_name(t), *b = pick_name(t);
	unsigned f = flags[tu_below(&t->r, 5)];
	uint64_t di = ino_of(t, d), ndi = ino_of(t, nd);
	int want = fm_rename(&t->m, d, a, nd, b, f);

	ck_assert_int_eq(lsmfs_rename(t->fs, di, a, ndi, b, f), want);
}

static void op_link(struct run *t)
{
	int n = pick(t, 0), d = pick(t, FM_DIR);
	const char *name = pick_name(t);
	uint64_t ni = ino_of(t, n);
	int want = fm_link(&t->m, n, d, name);
	struct stat st;
	int rc = lsmfs_link(t->fs, ni, ino_of(t, d), name, &st);

	ck_assert_int_eq(rc, want);
	if (!rc)
		lsmfs_forget(t->fs, ni, 1);
}

static void op_write(struct run *t)
{
	int f = pick(t, FM_FILE);
	uint64_t off = rand_off(t, 40 * CS);
	size_t n = tu_below(&t->r, 6 * CS);

	if (f < 0)
		return;
	tf_data(&t->r, t->buf, n);
	fm_write(&t->m, f, off, t->buf, n);
	ck_assert_int_eq(lsmfs_open(t->fs, &tf_root, ino_of(t, f), O_RDWR), 0);
	ck_assert_int_eq(lsmfs_write(t->fs, &tf_root, ino_of(t, f), t->buf, n, (off_t)off),
			 (ssize_t)n);
	lsmfs_release(t->fs, ino_of(t, f));
}

static void op_truncate(struct run *t)
{
	int f = pick(t, FM_FILE);
	struct stat in, out;

	if (f < 0)
		return;
	memset(&in, 0, sizeof(in));
	in.st_size = (off_t)rand_off(t, 50 * CS);
	fm_truncate(&t->m, f, (uint64_t)in.st_size);
	ck_assert_int_eq(lsmfs_setattr(t->fs, &tf_root, ino_of(t, f), &in, LSMFS_SET_SIZE, &out),
			 0);
	ck_assert_int_eq(out.st_size, in.st_size);
}

/* A punch, or a zero range with KEEP_SIZE or without (which may grow the file). */
static void op_punch(struct run *t)
{
	static const int modes[] = {FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				    FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE,
				    FALLOC_FL_ZERO_RANGE};
	int f = pick(t, FM_FILE), mode = modes[tu_below(&t->r, 3)];
	uint64_t off = rand_off(t, 40 * CS), len = 1 + rand_off(t, 8 * CS);
	fm_node *nd;

	if (f < 0)
		return;
	nd = &t->m.nodes[f];
	if (off < nd->size)
		memset(nd->data + off, 0, (off + len < nd->size ? off + len : nd->size) - off);
	if (!(mode & FALLOC_FL_KEEP_SIZE) && off + len > nd->size)
		fm_truncate(&t->m, f, off + len);
	ck_assert_int_eq(lsmfs_fallocate(t->fs, &tf_root, nd->ino, mode, (off_t)off, (off_t)len),
			 0);
}

static void op_copy(struct run *t)
{
	int a = pick(t, FM_FILE), b = pick(t, FM_FILE);
	uint64_t oi = rand_off(t, 30 * CS), oo = rand_off(t, 30 * CS), len = rand_off(t, 8 * CS);
	ssize_t want = 0, got;

	if (a < 0)
		return;
	if (oi < t->m.nodes[a].size) {
		want = (ssize_t)(t->m.nodes[a].size - oi < len ? t->m.nodes[a].size - oi : len);
		if (a == b && oi < oo + (uint64_t)want && oo < oi + (uint64_t)want)
			want = -EINVAL;
	}
	if (want > 0) {
		memcpy(t->buf2, t->m.nodes[a].data + oi, (size_t)want);
		fm_write(&t->m, b, oo, t->buf2, (size_t)want);
	}
	got = lsmfs_copy_file_range(t->fs, &tf_root, ino_of(t, a), (off_t)oi, ino_of(t, b),
				    (off_t)oo, len);
	ck_assert_int_eq(got, want);
}

static void one_op(struct run *t)
{
	uint64_t x = tu_below(&t->r, 100);
	int n;

	if (x < 14)
		op_create(t, FM_FILE);
	else if (x < 22)
		op_create(t, FM_DIR);
	else if (x < 24)
		op_create(t, FM_LINK);
	else if (x < 32)
		op_remove(t, 0);
	else if (x < 37)
		op_remove(t, 1);
	else if (x < 49)
		op_rename(t);
	else if (x < 54)
		op_link(t);
	else if (x < 72)
		op_write(t);
	else if (x < 78)
		op_truncate(t);
	else if (x < 82)
		op_punch(t);
	else if (x < 86)
		op_copy(t);
	else if ((n = pick(t, 0)) >= 0)
		compare_node(t, n);
}

START_TEST(test_random_operations_match_posix_model)
{
	struct run t;
	int ops = 3000 * tu_scale();

	memset(&t, 0, sizeof(t));
	tu_rng_init(&t.r, tu_seed());
	t.fs = tf_new(&t.dir, CS);
	fm_init(&t.m);
	t.buf = malloc(8 * CS);
	t.buf2 = malloc(8 * CS);
	memset(t.longname, 'L', LSMFS_NAME_MAX + 1);
	for (int i = 0; i < ops; i++) {
		one_op(&t);
		if (i % 750 == 749) {
			t.fs = tf_remount(t.fs, t.dir);
			compare_all(&t);
		}
	}
	compare_all(&t);
	lsmfs_unmount(t.fs);
	ck_assert_int_eq(tf_check(t.dir), 0);
	/* nothing was left open or looked up: no orphans */
	ck_assert_uint_eq(tf_count_keys(t.dir, 'O'), 0);
	fm_free(&t.m);
	free(t.buf);
	free(t.buf2);
	tu_rmtree(t.dir);
}
END_TEST

/* ---- threads ---- */

struct worker {
	lsmfs *fs;
	uint64_t dirs[3];
	uint64_t seed;
	int ops;
};

struct seen {
	uint64_t ino[64];
	int n;
};

static int seen_fn(void *arg, const char *name, const struct stat *st, uint64_t next)
{
	struct seen *s = arg;

	(void)next;
	if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return 0;
	if (s->n == 64)
		return 1;
	s->ino[s->n++] = st->st_ino;
	return 0;
}

static void *work(void *arg)
{
	struct worker *w = arg;
	uint8_t buf[3 * CS];
	tu_rng r;

	tu_rng_init(&r, w->seed);
	for (int i = 0; i < w->ops; i++) {
		uint64_t d = w->dirs[tu_below(&r, 3)], d2 = w->dirs[tu_below(&r, 3)];
		const char *a = names[tu_below(&r, 4)], *b = names[tu_below(&r, 4)];
		struct stat st;
		int rc;

		switch (tu_below(&r, 9)) {
		case 0:
			if (lsmfs_create(w->fs, &tf_root, d, a, 0644, O_RDWR, &st) == 0) {
				lsmfs_release(w->fs, st.st_ino);
				lsmfs_forget(w->fs, st.st_ino, 1);
			}
			break;
		case 1:
			if (lsmfs_mkdir(w->fs, &tf_root, d, b, 0755, &st) == 0)
				lsmfs_forget(w->fs, st.st_ino, 1);
			break;
		case 2:
			lsmfs_unlink(w->fs, d, a);
			break;
		case 3:
			lsmfs_rmdir(w->fs, d, b);
			break;
		case 4:
			lsmfs_rename(w->fs, d, a, d2, b, (unsigned)tu_below(&r, 3));
			break;
		case 5:
			if (lsmfs_lookup(w->fs, d, a, &st) == 0) {
				if (lsmfs_link(w->fs, st.st_ino, d2, b, &st) == 0)
					lsmfs_forget(w->fs, st.st_ino, 1);
				lsmfs_forget(w->fs, st.st_ino, 1);
			}
			break;
		case 6:
		case 7:
			if (lsmfs_lookup(w->fs, d, a, &st) == 0) {
				if (lsmfs_open(w->fs, &tf_root, st.st_ino, O_RDWR) == 0) {
					memset(buf, (int)tu_below(&r, 3), sizeof(buf));
					rc = (int)lsmfs_write(w->fs, &tf_root, st.st_ino, buf,
							      1 + tu_below(&r, sizeof(buf)),
							      (off_t)(tu_below(&r, 4) * CS));
					ck_assert(rc > 0 || rc == -EISDIR);
					lsmfs_read(w->fs, st.st_ino, buf, sizeof(buf), 0);
					lsmfs_release(w->fs, st.st_ino);
				}
				lsmfs_forget(w->fs, st.st_ino, 1);
			}
			break;
		default: {
			struct seen sn = {.n = 0};

			ck_assert_int_eq(lsmfs_readdir(w->fs, d, 0, 1, seen_fn, &sn), 0);
			/* readdirplus counted a lookup per entry: give them back */
			for (int k = 0; k < sn.n; k++)
				lsmfs_forget(w->fs, sn.ino[k], 1);
			break;
		}
		}
	}
	return NULL;
}

START_TEST(test_threads_on_shared_directories_stay_consistent)
{
	char *dir;
	lsmfs *fs = tf_new(&dir, CS);
	struct worker w[4];
	pthread_t th[4];
	uint64_t seed = tu_seed();
	uint64_t d1 = tf_mkdir(fs, LSMFS_ROOT_INO, "x"), d2 = tf_mkdir(fs, d1, "y");

	for (int i = 0; i < 4; i++) {
		w[i].fs = fs;
		w[i].dirs[0] = LSMFS_ROOT_INO;
		w[i].dirs[1] = d1;
		w[i].dirs[2] = d2;
		w[i].seed = seed + (uint64_t)i * 7919;
		w[i].ops = 1500 * tu_scale();
		pthread_create(&th[i], NULL, work, &w[i]);
	}
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	lsmfs_unmount(fs);
	ck_assert_int_eq(tf_check(dir), 0);
	ck_assert_uint_eq(tf_count_keys(dir, 'O'), 0);
	tu_rmtree(dir);
}
END_TEST

TCase *fscore_model_tcase(void)
{
	TCase *tc = tcase_create("model");

	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, test_random_operations_match_posix_model);
	tcase_add_test(tc, test_threads_on_shared_directories_stay_consistent);
	return tc;
}
