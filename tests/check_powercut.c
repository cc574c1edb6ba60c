/*
 * check_powercut.c — power cuts under the fs core, without a mount.
 *
 * The fs core runs over the fault env (lsmfs_opts.engine_env), wrapped so
 * that the power can go off at the Nth call that changes the disk (inside
 * an operation, a flush, a compaction, an fsync), between two operations,
 * or during the recovery of the next mount. A cycle: a random workload of
 * fs operations with lsmfs_fsync calls here and there (a quarter of the
 * cycles mostly writes, which fill the memtable, so that cuts land in
 * flushes and compactions too; a third of the cycles, and a quarter of the
 * writes of the others, write less than a chunk, so that cuts land among
 * patches and the writes that fold them), checked against an in-memory tree
 * (fsmodel.c) until the cut; the cut; lsmfs_unmount (errors ignored; it
 * must not crash); the power back; a mount over the same env.
 *
 * What must hold then: the tree (names, types, modes, sizes, bytes, symlink
 * targets, hard links, xattrs) equals one of the states the workload passed
 * through, no older than the last lsmfs_fsync that returned. lsmfs_fsync
 * makes the whole filesystem durable (lsmfs.h), and every operation is one
 * batch in the WAL, so that is exactly "every fsync'd file has its contents
 * and its name, and the rest is a prefix of the workload". Link counts
 * equal the names found, every file reads to its size, readdir agrees with
 * lookup, and the offline check of every key (tf_check) is clean.
 *
 * The recovered tree is the next cycle's starting state; a fresh
 * filesystem (and fault env) every 10 cycles. 100 cycles, times
 * LSM_TEST_SCALE; the seed is printed (LSM_TEST_SEED replays).
 */
#include "check_fscore.h"
#include "checksum.h"
#include "cutenv.h"
#include "env.h"
#include "fsmodel.h"
#include "lsm.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CS 4096u /* the smallest chunk: small files span many chunks */

/* ---- a growing string ---- */

struct sbuf {
	char *p;
	size_t n, cap;
};

static void sb_printf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(b->p ? b->p + b->n : NULL, b->p ? b->cap - b->n : 0, fmt, ap);
		va_end(ap);
		if (b->p && b->n + (size_t)n < b->cap)
			break;
		b->cap = (b->cap + (size_t)n + 1) * 2;
		b->p = realloc(b->p, b->cap);
		ck_assert_ptr_nonnull(b->p);
	}
	b->n += (size_t)n;
}

/* ---- the model: fsmodel plus what it does not keep ---- */

struct side {
	unsigned mode; /* permission bits */
	char xv[16];   /* value of user.k; "" = none */
	nlink_t nlink; /* scanned trees only: what getattr said */
};

struct tree {
	fsmodel m;
	struct side *side; /* per node, as many as m.cap */
	int side_cap;
};

static void tree_init(struct tree *t)
{
	memset(t, 0, sizeof(*t));
	fm_init(&t->m);
}

static void tree_free(struct tree *t)
{
	fm_free(&t->m);
	free(t->side);
	memset(t, 0, sizeof(*t));
}

static struct side *side_of(struct tree *t, int node)
{
	if (node >= t->side_cap) {
		int cap = t->m.cap > node ? t->m.cap : node + 1;

		t->side = realloc(t->side, (size_t)cap * sizeof(*t->side));
		ck_assert_ptr_nonnull(t->side);
		memset(t->side + t->side_cap, 0, (size_t)(cap - t->side_cap) * sizeof(*t->side));
		t->side_cap = cap;
	}
	return &t->side[node];
}

/*
 * The canonical text of a tree: one line per name, sorted, saying the type,
 * mode, size, a hash of the bytes (or the symlink's target), the xattr, and
 * for a file with several names the first of them. Two trees are the same
 * when their texts are.
 */
struct named {
	char *path;
	int node;
};

static int named_cmp(const void *a, const void *b)
{
	return strcmp(((const struct named *)a)->path, ((const struct named *)b)->path);
}

static void collect(const fsmodel *m, int dir, const char *prefix, struct named **v, int *n,
		    int *cap)
{
	const fm_node *d = &m->nodes[dir];

	for (int i = 0; i < d->nents; i++) {
		struct sbuf p = {0};

		sb_printf(&p, "%s/%s", prefix, d->ents[i].name);
		if (*n == *cap) {
			*cap = *cap ? 2 * *cap : 64;
			*v = realloc(*v, (size_t)*cap * sizeof(**v));
		}
		(*v)[*n].path = p.p;
		(*v)[*n].node = d->ents[i].node;
		(*n)++;
		if (m->nodes[d->ents[i].node].type == FM_DIR)
			collect(m, d->ents[i].node, p.p, v, n, cap);
	}
}

static char *describe(struct tree *t)
{
	struct named *v = NULL;
	int n = 0, cap = 0;
	int *first = calloc((size_t)t->m.n, sizeof(int));
	struct sbuf b = {0};

	collect(&t->m, 0, "", &v, &n, &cap);
	if (n > 1)
		qsort(v, (size_t)n, sizeof(*v), named_cmp);
	sb_printf(&b, "/ d %o %s\n", side_of(t, 0)->mode, side_of(t, 0)->xv);
	for (int i = 0; i < n; i++) {
		const fm_node *nd = &t->m.nodes[v[i].node];
		const struct side *s = side_of(t, v[i].node);

		if (nd->type == FM_DIR) {
			sb_printf(&b, "%s d %o %s\n", v[i].path, s->mode, s->xv);
		} else if (nd->type == FM_LINK) {
			sb_printf(&b, "%s l -> %.*s\n", v[i].path, (int)nd->size, (char *)nd->data);
		} else {
			sb_printf(&b, "%s f %o %s size %zu hash %016llx", v[i].path, s->mode,
				  s->xv[0] ? s->xv : "-", nd->size,
				  (unsigned long long)lsm_hash64(nd->data, nd->size));
			if (nd->nlink > 1 && first[v[i].node])
				sb_printf(&b, " = %s", v[first[v[i].node] - 1].path);
			else if (nd->nlink > 1)
				first[v[i].node] = i + 1;
			sb_printf(&b, "\n");
		}
	}
	for (int i = 0; i < n; i++)
		free(v[i].path);
	free(v);
	free(first);
	return b.p;
}

/*
 * Reads the mounted tree into t (fresh): every name through readdir, each
 * checked by lookup; files read whole. Link counts and readdir's inode
 * numbers are checked on the way; problems are appended to err.
 */
struct scan {
	lsmfs *fs;
	struct tree *t;
	uint64_t *inos; /* per model node: the inode it was read from */
	int cap;
	struct sbuf *err;
};

static int scan_node_of(struct scan *s, uint64_t ino)
{
	for (int i = 1; i < s->t->m.n && i < s->cap; i++)
		if (s->t->m.nodes[i].type && s->inos[i] == ino)
			return i;
	return -1;
}

/* An error of the filesystem while reading the tree back: said, with the engine's message. */
static void scan_error(struct scan *s, const char *what, uint64_t ino, long rc)
{
	const char *msg = lsm_errmsg();

	sb_printf(s->err, "%s of inode %llu: %ld (%s)%s%s\n", what, (unsigned long long)ino, rc,
		  strerror((int)-rc), msg && *msg ? "; the engine's last message: " : "",
		  msg && *msg ? msg : "");
}

/* A whole file; NULL (and the error said) on failure. */
static uint8_t *read_file(struct scan *s, uint64_t ino, size_t size)
{
	uint8_t *buf = malloc(size + 1);
	size_t done = 0;
	ssize_t got;

	ck_assert_ptr_nonnull(buf);
	while ((got = lsmfs_read(s->fs, ino, buf + done, size + 1 - done, (off_t)done)) > 0)
		done += (size_t)got;
	if (got < 0 || done != size) {
		if (got < 0)
			scan_error(s, "read", ino, got);
		else
			sb_printf(s->err, "inode %llu reads %zu bytes, its size is %zu\n",
				  (unsigned long long)ino, done, size);
		free(buf);
		return NULL;
	}
	return buf;
}

static void scan_dir(struct scan *s, int dir, uint64_t dino, int depth)
{
	tf_dirent *ents = NULL; /* set by tf_list_try unless it fails */
	int n = tf_list_try(s->fs, dino, 1 + depth % 7, &ents);

	if (n < 0) {
		scan_error(s, "readdir", dino, n);
		return;
	}
	ck_assert_msg(depth < 64, "directories nested 64 deep: a loop");
	for (int i = 2; i < n; i++) {
		struct stat st;
		int node, rc = lsmfs_lookup(s->fs, dino, ents[i].name, &st);

		if (rc) {
			sb_printf(s->err, "readdir of %llu lists %s: ", (unsigned long long)dino,
				  ents[i].name);
			scan_error(s, "lookup", dino, rc);
			continue;
		}
		lsmfs_forget(s->fs, st.st_ino, 1);
		if (st.st_ino != ents[i].ino)
			sb_printf(s->err, "%s: readdir says inode %llu, lookup %llu\n",
				  ents[i].name, (unsigned long long)ents[i].ino,
				  (unsigned long long)st.st_ino);
		node = S_ISDIR(st.st_mode) ? -1 : scan_node_of(s, st.st_ino);
		if (node >= 0) {
			ck_assert_int_eq(fm_link(&s->t->m, node, dir, ents[i].name), 0);
			continue;
		}
		node = fm_create(&s->t->m, dir, ents[i].name,
				 S_ISDIR(st.st_mode)   ? FM_DIR
				 : S_ISLNK(st.st_mode) ? FM_LINK
						       : FM_FILE);
		ck_assert_int_ge(node, 0);
		if (node >= s->cap) {
			s->cap = 2 * node + 16;
			s->inos = realloc(s->inos, (size_t)s->cap * sizeof(*s->inos));
		}
		s->inos[node] = st.st_ino;
		s->t->m.nodes[node].ino = st.st_ino;
		side_of(s->t, node)->mode = st.st_mode & 07777;
		side_of(s->t, node)->nlink = st.st_nlink;
		if (lsmfs_getxattr(s->fs, st.st_ino, "user.k", side_of(s->t, node)->xv,
				   sizeof(side_of(s->t, node)->xv) - 1) < 0)
			side_of(s->t, node)->xv[0] = 0;
		if (S_ISDIR(st.st_mode)) {
			scan_dir(s, node, st.st_ino, depth + 1);
		} else if (S_ISLNK(st.st_mode)) {
			char target[256];
			int len = lsmfs_readlink(s->fs, st.st_ino, target, sizeof(target));

			if (len < 0)
				scan_error(s, "readlink", st.st_ino, len);
			else
				fm_write(&s->t->m, node, 0, target, (size_t)len);
		} else {
			uint8_t *data = read_file(s, st.st_ino, (size_t)st.st_size);

			if (data)
				fm_write(&s->t->m, node, 0, data, (size_t)st.st_size);
			free(data);
		}
	}
	free(ents);
}

static void scan_tree(lsmfs *fs, struct tree *t, struct sbuf *err)
{
	struct scan s = {.fs = fs, .t = t, .err = err};
	struct stat st;
	int rc;

	tree_init(t);
	rc = lsmfs_getattr(fs, LSMFS_ROOT_INO, &st);
	if (rc) {
		scan_error(&s, "getattr", LSMFS_ROOT_INO, rc);
		return;
	}
	side_of(t, 0)->mode = st.st_mode & 07777;
	side_of(t, 0)->nlink = st.st_nlink;
	if (lsmfs_getxattr(fs, LSMFS_ROOT_INO, "user.k", side_of(t, 0)->xv,
			   sizeof(side_of(t, 0)->xv) - 1) < 0)
		side_of(t, 0)->xv[0] = 0;
	scan_dir(&s, 0, LSMFS_ROOT_INO, 0);
	for (int i = 0; i < t->m.n; i++) {
		if (t->m.nodes[i].type && side_of(t, i)->nlink != (nlink_t)fm_nlink(&t->m, i))
			sb_printf(err, "inode %llu: link count %lu, but %d names found\n",
				  (unsigned long long)t->m.nodes[i].ino,
				  (unsigned long)side_of(t, i)->nlink, fm_nlink(&t->m, i));
	}
	free(s.inos);
}

/* ---- the workload ---- */

struct run {
	char *dir;
	cut_env *ce;
	lsmfs *fs;
	struct tree t;
	tu_rng r;
	uint8_t *buf;
	char **states; /* the canonical texts of the states passed through */
	int nstates, capstates;
	int durable; /* the state of the last lsmfs_fsync that returned: older ones may not come
			back */
	/* what ran, for the log */
	int cycles, ops, fsyncs, cuts_inside, cuts_between, cuts_in_recovery, fresh;
	int heavy;	  /* this cycle writes more than it does anything else */
	int small;	  /* its writes are all smaller than a chunk (patches, folds) */
	long mount_calls; /* disk-changing calls a mount makes, roughly */
	double calls_per_op;
	cut_tally where; /* where the cuts at a disk call fell */
};

static const char *const names[] = {"a", "b", "c", "d", "e", "f"};

static void push_state(struct run *t)
{
	char *d = describe(&t->t);

	if (t->nstates && strcmp(t->states[t->nstates - 1], d) == 0) {
		free(d);
		return;
	}
	if (t->nstates == t->capstates) {
		t->capstates = t->capstates ? 2 * t->capstates : 64;
		t->states = realloc(t->states, (size_t)t->capstates * sizeof(char *));
	}
	t->states[t->nstates++] = d;
}

static void drop_states(struct run *t)
{
	for (int i = 0; i < t->nstates; i++)
		free(t->states[i]);
	t->nstates = 0;
}

static int pick(struct run *t, int type)
{
	return fm_pick(&t->t.m, &t->r, type);
}

static const char *pick_name(struct run *t)
{
	return names[tu_below(&t->r, sizeof(names) / sizeof(names[0]))];
}

static uint64_t ino_of(struct run *t, int node)
{
	return t->t.m.nodes[node].ino;
}

static int dead(struct run *t)
{
	return cut_env_dead(t->ce);
}

/*
 * Each op returns 1 when the power went off during it (stop), else 0. Before
 * the cut every result must equal the model's; the model has applied the op
 * either way, so a state both with and without it is on the list.
 */
static int op_create(struct run *t, int type)
{
	static const char *const targets[] = {"x", "../y", "a/b/c"};
	int d = pick(t, FM_DIR);
	const char *name = pick_name(t), *target = targets[tu_below(&t->r, 3)];
	int want = fm_create(&t->t.m, d, name, type);
	struct stat st;
	int rc;

	if (want >= 0) {
		side_of(&t->t, want)->mode = type == FM_DIR ? 0755 : type == FM_LINK ? 0777 : 0644;
		if (type == FM_LINK)
			fm_write(&t->t.m, want, 0, target, strlen(target));
	}
	if (type == FM_FILE)
		rc = lsmfs_create(t->fs, &tf_root, ino_of(t, d), name, 0644,
				  O_CREAT | O_EXCL | O_RDWR, &st);
	else if (type == FM_DIR)
		rc = lsmfs_mkdir(t->fs, &tf_root, ino_of(t, d), name, 0755, &st);
	else
		rc = lsmfs_symlink(t->fs, &tf_root, ino_of(t, d), name, target, &st);
	if (rc == 0) {
		if (want >= 0)
			t->t.m.nodes[want].ino = st.st_ino;
		if (type == FM_FILE)
			lsmfs_release(t->fs, st.st_ino);
		lsmfs_forget(t->fs, st.st_ino, 1);
	}
	if (dead(t))
		return 1;
	ck_assert_int_eq(rc, want < 0 ? want : 0);
	return 0;
}

static int op_remove(struct run *t, int isdir)
{
	int d = pick(t, FM_DIR);
	const char *name = pick_name(t);
	int want = isdir ? fm_rmdir(&t->t.m, d, name) : fm_unlink(&t->t.m, d, name);
	int rc = isdir ? lsmfs_rmdir(t->fs, ino_of(t, d), name)
		       : lsmfs_unlink(t->fs, ino_of(t, d), name);

	if (dead(t))
		return 1;
	ck_assert_int_eq(rc, want);
	return 0;
}

static int op_rename(struct run *t)
{
	static const unsigned flags[] = {0, 0, 0, LSMFS_RENAME_NOREPLACE, LSMFS_RENAME_EXCHANGE};
	int d = pick(t, FM_DIR), nd = pick(t, FM_DIR);
	const char *a = pick_name(t), *b = pick_name(t);
	unsigned f = flags[tu_below(&t->r, 5)];
	uint64_t di = ino_of(t, d), ndi = ino_of(t, nd);
	int want = fm_rename(&t->t.m, d, a, nd, b, f);
	int rc = lsmfs_rename(t->fs, di, a, ndi, b, f);

	if (dead(t))
		return 1;
	ck_assert_int_eq(rc, want);
	return 0;
}

static int op_link(struct run *t)
{
	int n = pick(t, FM_FILE), d = pick(t, FM_DIR), want, rc;
	const char *name = pick_name(t);
	struct stat st;

	if (n < 0)
		return 0;
	want = fm_link(&t->t.m, n, d, name);
	rc = lsmfs_link(t->fs, ino_of(t, n), ino_of(t, d), name, &st);
	if (rc == 0)
		lsmfs_forget(t->fs, st.st_ino, 1);
	if (dead(t))
		return 1;
	ck_assert_int_eq(rc, want);
	return 0;
}

static int op_write(struct run *t)
{
	int f = pick(t, FM_FILE);
	uint64_t off = tu_below(&t->r, 64 * CS);
	/* Small writes into stored chunks are patches (fs/keys.h): cuts land among them too. */
	int small = t->small || tu_below(&t->r, 4) == 0;
	size_t n = 1 + tu_below(&t->r, small ? CS / 4 : 16 * CS);
	ssize_t rc;

	if (f < 0)
		return 0;
	if (tu_below(&t->r, 2))
		off = off / CS * CS;
	tf_data(&t->r, t->buf, n);
	fm_write(&t->t.m, f, off, t->buf, n);
	if (lsmfs_open(t->fs, &tf_root, ino_of(t, f), O_RDWR)) {
		ck_assert(dead(t));
		return 1;
	}
	rc = lsmfs_write(t->fs, &tf_root, ino_of(t, f), t->buf, n, (off_t)off);
	lsmfs_release(t->fs, ino_of(t, f));
	if (dead(t))
		return 1;
	ck_assert_int_eq(rc, (ssize_t)n);
	return 0;
}

static int op_truncate(struct run *t)
{
	int f = pick(t, FM_FILE), rc;
	struct stat in, out;

	if (f < 0)
		return 0;
	memset(&in, 0, sizeof(in));
	in.st_size = (off_t)tu_below(&t->r, 72 * CS);
	fm_truncate(&t->t.m, f, (uint64_t)in.st_size);
	rc = lsmfs_setattr(t->fs, &tf_root, ino_of(t, f), &in, LSMFS_SET_SIZE, &out);
	if (dead(t))
		return 1;
	ck_assert_int_eq(rc, 0);
	return 0;
}

static int op_punch(struct run *t)
{
	int f = pick(t, FM_FILE), rc;
	uint64_t off = tu_below(&t->r, 64 * CS), len = 1 + tu_below(&t->r, 16 * CS);
	fm_node *nd;

	if (f < 0)
		return 0;
	nd = &t->t.m.nodes[f];
	if (off < nd->size)
		memset(nd->data + off, 0, (off + len < nd->size ? off + len : nd->size) - off);
	rc = lsmfs_fallocate(t->fs, &tf_root, nd->ino, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			     (off_t)off, (off_t)len);
	if (dead(t))
		return 1;
	ck_assert_int_eq(rc, 0);
	return 0;
}

static int op_chmod(struct run *t)
{
	static const unsigned modes[] = {0600, 0640, 0700, 0755, 0644};
	int n = tu_below(&t->r, 2) ? pick(t, FM_FILE) : pick(t, FM_DIR), rc;
	struct stat in, out;

	if (n < 0)
		return 0;
	memset(&in, 0, sizeof(in));
	in.st_mode = modes[tu_below(&t->r, 5)];
	side_of(&t->t, n)->mode = in.st_mode;
	rc = lsmfs_setattr(t->fs, &tf_root, ino_of(t, n), &in, LSMFS_SET_MODE, &out);
	if (dead(t))
		return 1;
	ck_assert_int_eq(rc, 0);
	return 0;
}

static int op_xattr(struct run *t)
{
	int n = tu_below(&t->r, 2) ? pick(t, FM_FILE) : pick(t, FM_DIR), rc;
	struct side *s;

	if (n < 0)
		return 0;
	s = side_of(&t->t, n);
	if (s->xv[0] && tu_below(&t->r, 3) == 0) {
		s->xv[0] = 0;
		rc = lsmfs_removexattr(t->fs, ino_of(t, n), "user.k");
	} else {
		snprintf(s->xv, sizeof(s->xv), "v%llu",
			 (unsigned long long)tu_below(&t->r, 1000000));
		rc = lsmfs_setxattr(t->fs, ino_of(t, n), "user.k", s->xv, strlen(s->xv), 0);
	}
	if (dead(t))
		return 1;
	ck_assert_int_eq(rc, 0);
	return 0;
}

static int op_fsync(struct run *t)
{
	int n = pick(t, 0);
	int rc = lsmfs_fsync(t->fs, ino_of(t, n), (int)tu_below(&t->r, 2));

	if (dead(t))
		return 1;
	ck_assert_int_eq(rc, 0);
	/* Everything so far is durable: older states may no longer come back. */
	t->durable = t->nstates - 1;
	t->fsyncs++;
	return 0;
}

static int one_op(struct run *t)
{
	uint64_t x = tu_below(&t->r, 100);

	/* write-heavy cycles fill the memtable: the cuts reach flushes and compactions */
	if (t->heavy && tu_below(&t->r, 2))
		return op_write(t);
	if (x < 12)
		return op_create(t, FM_FILE);
	if (x < 19)
		return op_create(t, FM_DIR);
	if (x < 22)
		return op_create(t, FM_LINK);
	if (x < 29)
		return op_remove(t, 0);
	if (x < 33)
		return op_remove(t, 1);
	if (x < 44)
		return op_rename(t);
	if (x < 49)
		return op_link(t);
	if (x < 70)
		return op_write(t);
	if (x < 76)
		return op_truncate(t);
	if (x < 80)
		return op_punch(t);
	if (x < 84)
		return op_chmod(t);
	if (x < 88)
		return op_xattr(t);
	return op_fsync(t);
}

/* ---- one cycle ---- */

static lsmfs *pc_mount(struct run *t, int *rc_out)
{
	lsmfs_opts o;
	lsmfs *fs = NULL;
	const char *msg = NULL;
	int rc;

	lsmfs_opts_init(&o);
	o.cache_bytes = 1 << 20;
	o.engine_env = &t->ce->iface;
	rc = lsmfs_mount(&fs, t->dir, &o, &msg);
	if (rc_out)
		*rc_out = rc;
	else
		ck_assert_msg(rc == 0, "mount %s after the power came back: %d %s", t->dir, rc,
			      msg ? msg : "");
	return rc ? NULL : fs;
}

/* Prints the lines of a that b lacks ("-") and of b that a lacks ("+"): texts are sorted. */
static void print_diff(const char *a, const char *b)
{
	char *x = strdup(a), *y = strdup(b), *sx, *sy;
	char *lx = strtok_r(x, "\n", &sx), *ly = strtok_r(y, "\n", &sy);

	while (lx || ly) {
		int c = !lx ? 1 : !ly ? -1 : strcmp(lx, ly);

		if (c < 0)
			printf("    - %s\n", lx);
		else if (c > 0)
			printf("    + %s\n", ly);
		if (c <= 0)
			lx = strtok_r(NULL, "\n", &sx);
		if (c >= 0)
			ly = strtok_r(NULL, "\n", &sy);
	}
	free(x);
	free(y);
}

/* After the power came back: the tree is one of the states since the last fsync. */
static void verify(struct run *t, uint64_t seed, const char *how)
{
	struct sbuf err = {0};
	struct tree got;
	char *d;
	int match = -1;

	scan_tree(t->fs, &got, &err);
	d = describe(&got);
	for (int k = t->nstates - 1; k >= t->durable && match < 0; k--)
		if (strcmp(d, t->states[k]) == 0)
			match = k;
	if (match < 0 || err.n) {
		printf("power cut, cycle %d (%s; LSM_TEST_SEED=%llu replays): %s\n", t->cycles, how,
		       (unsigned long long)seed,
		       match < 0 ? "the tree is none of the states since the last fsync"
				 : "inconsistent");
		if (err.n)
			printf("%s", err.p);
		printf("  the tree after recovery:\n%s", d);
		printf("  against the last fsync'd state (%d of %d):\n", t->durable,
		       t->nstates - 1);
		print_diff(t->states[t->durable], d);
		printf("  against the last state:\n");
		print_diff(t->states[t->nstates - 1], d);
		fflush(stdout);
	}
	ck_assert_msg(err.n == 0, "cycle %d: inconsistent after recovery: %s", t->cycles, err.p);
	ck_assert_msg(match >= 0,
		      "cycle %d (%s): recovered a state the workload never passed through "
		      "since its last fsync (states %d..%d)",
		      t->cycles, how, t->durable, t->nstates - 1);
	free(d);
	free(err.p);
	/* The recovered tree is where the next cycle starts. */
	tree_free(&t->t);
	t->t = got;
}

static void cycle(struct run *t, uint64_t seed)
{
	int nops;
	int how = (int)tu_below(&t->r, 4), rc;
	long calls0, budget;
	int cut_at = -1, i;
	char what[128];

	/* Where the power goes: at a disk call inside the workload (half the
	 * cycles), between two operations, and now and then in the recovery. */
	t->heavy = tu_below(&t->r, 4) == 0;
	t->small = tu_below(&t->r, 3) == 0;
	nops = t->heavy ? 100 + (int)tu_below(&t->r, 400) : 20 + (int)tu_below(&t->r, 280);
	drop_states(t);
	push_state(t);
	t->durable = 0;
	calls0 = atomic_load(&t->ce->calls);
	if (how < 2) {
		budget = (long)(t->calls_per_op * nops) + 1;
		cut_env_arm(t->ce, 1 + (long)tu_below(&t->r, (uint64_t)budget));
	} else {
		cut_at = (int)tu_below(&t->r, (uint64_t)nops + 1);
	}
	for (i = 0; i < nops; i++) {
		if (i == cut_at)
			cut_env_cut(t->ce, "");
		if (dead(t))
			break;
		rc = one_op(t);
		push_state(t);
		t->ops++;
		if (rc)
			break;
	}
	cut_env_disarm(t->ce);
	if (!dead(t)) {
		/* the countdown outlived the workload: the power goes at its end */
		cut_env_cut(t->ce, "");
		t->cuts_between++;
		snprintf(what, sizeof(what), "cut after the workload");
	} else if (cut_at >= 0) {
		t->cuts_between++;
		snprintf(what, sizeof(what), "cut between two operations");
	} else {
		t->cuts_inside++;
		cut_tally_add(&t->where, t->ce->where);
		snprintf(what, sizeof(what), "cut at %s", t->ce->where);
	}
	ck_assert_int_eq(t->ce->cut_rc, 0);
	if (i > 0)
		t->calls_per_op = 0.8 * t->calls_per_op +
				  0.2 * (double)(atomic_load(&t->ce->calls) - calls0) / i;
	lsmfs_unmount(t->fs); /* over a dead disk: errors, but no crash */
	t->fs = NULL;
	cut_env_revive(t->ce);

	if (tu_below(&t->r, 5) == 0) {
		/* and once more while the mount recovers */
		calls0 = atomic_load(&t->ce->calls);
		cut_env_arm(t->ce, 1 + (long)tu_below(&t->r, (uint64_t)t->mount_calls + 1));
		t->fs = pc_mount(t, &rc);
		cut_env_disarm(t->ce);
		ck_assert_msg(rc == 0 || dead(t), "cycle %d: mount failed with %d, power on",
			      t->cycles, rc);
		if (dead(t)) {
			lsmfs_unmount(t->fs);
			t->fs = NULL;
			t->cuts_in_recovery++;
			cut_tally_add(&t->where, t->ce->where);
			snprintf(what + strlen(what), sizeof(what) - strlen(what),
				 ", then at %s in the recovery", t->ce->where);
		}
		cut_env_revive(t->ce);
	}
	if (!t->fs) {
		calls0 = atomic_load(&t->ce->calls);
		t->fs = pc_mount(t, NULL);
		t->mount_calls = (t->mount_calls + atomic_load(&t->ce->calls) - calls0 + 1) / 2 + 1;
	}
	verify(t, seed, what);
	lsmfs_unmount(t->fs);
	t->fs = NULL;
	ck_assert_msg(tf_check(t->dir) == 0, "cycle %d (%s): the offline check finds problems",
		      t->cycles, what);
	t->cycles++;
}

static void fresh_fs(struct run *t)
{
	lsmfs_mkfs_opts mo = {.chunk_size = CS};
	const char *msg = NULL;
	int rc;

	if (t->dir)
		tu_rmtree(t->dir);
	/* A new machine too: the fault env remembers every file it saw. */
	if (t->ce)
		t->ce->iface.destroy(&t->ce->iface);
	t->ce = cut_env_new();
	t->dir = tu_mkdtemp("powercut");
	rc = lsmfs_mkfs(t->dir, &mo, &msg);
	ck_assert_msg(rc == 0, "mkfs: %d %s", rc, msg ? msg : "");
	tree_free(&t->t);
	tree_init(&t->t);
	side_of(&t->t, 0)->mode = 0755;
	t->fresh++;
}

START_TEST(test_power_cuts_keep_fsynced_states_and_a_consistent_tree)
{
	uint64_t seed = tu_seed();
	int cycles = 100 * tu_scale();
	struct run t;

	memset(&t, 0, sizeof(t));
	tu_rng_init(&t.r, seed ^ 0x9043c17);
	t.buf = malloc(16 * CS);
	t.calls_per_op = 2;
	t.mount_calls = 8;
	tree_init(&t.t);
	for (int c = 0; c < cycles; c++) {
		if (c % 10 == 0)
			fresh_fs(&t);
		t.fs = pc_mount(&t, NULL);
		if (c % 10 == 0) {
			/* the root's mode as mkfs made it */
			struct stat st;

			ck_assert_int_eq(lsmfs_getattr(t.fs, LSMFS_ROOT_INO, &st), 0);
			side_of(&t.t, 0)->mode = st.st_mode & 07777;
		}
		cycle(&t, seed);
	}
	printf("power cuts: %d cycles, %d operations, %d fsyncs; cuts at a disk call %d, "
	       "between operations %d, again in the recovery %d; %d fresh filesystems; "
	       "%.1f disk calls per operation, %ld per mount\n",
	       t.cycles, t.ops, t.fsyncs, t.cuts_inside, t.cuts_between, t.cuts_in_recovery,
	       t.fresh, t.calls_per_op, t.mount_calls);
	printf("cuts at a disk call fell at:");
	for (int i = 0; i < 64 && t.where.v[i].n; i++)
		printf("%s %s %d", i ? "," : "", t.where.v[i].what, t.where.v[i].n);
	printf("\n");
	drop_states(&t);
	free(t.states);
	tree_free(&t.t);
	free(t.buf);
	t.ce->iface.destroy(&t.ce->iface);
	tu_rmtree(t.dir);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("powercut");
	TCase *tc = tcase_create("powercut");

	tcase_set_timeout(tc, 240.0 * tu_scale());
	tcase_add_test(tc, test_power_cuts_keep_fsynced_states_and_a_consistent_tree);
	suite_add_tcase(s, tc);
	return tu_run_suite(s);
}
