/* check_fscore_util.c — helpers of the fs core suites; see check_fscore.h. */
#include "check_fscore.h"

#include "keys.h"
#include "lsm.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const lsmfs_ctx tf_root = {.uid = 0, .gid = 0, .umask = 022};
const lsmfs_ctx tf_user = {.uid = 1000, .gid = 1000, .umask = 022};

lsmfs *tf_mount(const char *dir)
{
	lsmfs_opts o;
	lsmfs *fs = NULL;
	const char *msg = NULL;
	int rc;

	lsmfs_opts_init(&o);
	o.cache_bytes = 1 << 20;
	rc = lsmfs_mount(&fs, dir, &o, &msg);
	ck_assert_msg(rc == 0, "mount %s: %d %s", dir, rc, msg ? msg : "");
	return fs;
}

lsmfs *tf_new(char **dir, uint32_t cs)
{
	lsmfs_mkfs_opts mo = {.chunk_size = cs};
	const char *msg = NULL;
	int rc;

	*dir = tu_mkdtemp("fscore");
	rc = lsmfs_mkfs(*dir, &mo, &msg);
	ck_assert_msg(rc == 0, "mkfs: %d %s", rc, msg ? msg : "");
	return tf_mount(*dir);
}

lsmfs *tf_remount(lsmfs *fs, const char *dir)
{
	lsmfs_unmount(fs);
	return tf_mount(dir);
}

uint64_t tf_file(lsmfs *fs, uint64_t parent, const char *name, const void *data, size_t n)
{
	struct stat st;
	int rc = lsmfs_create(fs, &tf_root, parent, name, 0644, O_RDWR | O_CREAT, &st);

	ck_assert_msg(rc == 0, "create %s: %d", name, rc);
	if (n)
		ck_assert_int_eq(lsmfs_write(fs, &tf_root, st.st_ino, data, n, 0), (ssize_t)n);
	lsmfs_release(fs, st.st_ino);
	lsmfs_forget(fs, st.st_ino, 1);
	return st.st_ino;
}

uint64_t tf_mkdir(lsmfs *fs, uint64_t parent, const char *name)
{
	struct stat st;
	int rc = lsmfs_mkdir(fs, &tf_root, parent, name, 0755, &st);

	ck_assert_msg(rc == 0, "mkdir %s: %d", name, rc);
	lsmfs_forget(fs, st.st_ino, 1);
	return st.st_ino;
}

uint64_t tf_ino(lsmfs *fs, uint64_t parent, const char *name)
{
	struct stat st;

	if (lsmfs_lookup(fs, parent, name, &st))
		return 0;
	lsmfs_forget(fs, st.st_ino, 1);
	return st.st_ino;
}

uint8_t *tf_slurp(lsmfs *fs, uint64_t ino, size_t *n)
{
	struct stat st;
	uint8_t *buf;
	ssize_t got;

	ck_assert_int_eq(lsmfs_getattr(fs, ino, &st), 0);
	buf = malloc((size_t)st.st_size + 1);
	got = lsmfs_read(fs, ino, buf, (size_t)st.st_size + 1, 0);
	ck_assert_int_eq(got, st.st_size);
	*n = (size_t)got;
	return buf;
}

struct list_state {
	tf_dirent *v;
	int n, cap, batch, taken;
};

static int list_fn(void *arg, const char *name, const struct stat *st, uint64_t next)
{
	struct list_state *s = arg;

	if (s->taken == s->batch)
		return 1;
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 64;
		s->v = realloc(s->v, (size_t)s->cap * sizeof(*s->v));
	}
	snprintf(s->v[s->n].name, sizeof(s->v[s->n].name), "%s", name);
	s->v[s->n].ino = st->st_ino;
	s->v[s->n].mode = st->st_mode;
	s->v[s->n].cookie = next;
	s->n++;
	s->taken++;
	return 0;
}

int tf_list(lsmfs *fs, uint64_t dir, int batch, tf_dirent **out)
{
	struct list_state s = {.batch = batch};
	uint64_t cookie = 0;

	for (;;) {
		int before = s.n, rc;

		s.taken = 0;
		rc = lsmfs_readdir(fs, dir, cookie, 0, list_fn, &s);
		ck_assert_int_eq(rc, 0);
		if (s.n == before)
			break;
		cookie = s.v[s.n - 1].cookie;
	}
	*out = s.v;
	return s.n;
}

static lsm_db *open_db(const char *dir)
{
	lsm_db *db = NULL;
	lsm_options o;

	lsm_options_init(&o);
	o.create_if_missing = 0;
	ck_assert_int_eq(lsm_open(&db, dir, &o), 0);
	return db;
}

size_t tf_count_keys(const char *dir, char tag)
{
	lsm_db *db = open_db(dir);
	lsm_iter *it = lsm_iter_new(db, NULL);
	uint8_t t = (uint8_t)tag;
	size_t n = 0, klen;

	for (lsm_iter_seek(it, &t, 1); lsm_iter_valid(it); lsm_iter_next(it)) {
		const uint8_t *k = lsm_iter_key(it, &klen);

		if (k[0] != t)
			break;
		n++;
	}
	ck_assert_int_eq(lsm_iter_status(it), 0);
	lsm_iter_free(it);
	lsm_close(db);
	return n;
}

/* ---- offline consistency check ---- */

struct ck_inode {
	uint64_t ino;
	struct lsmfs_attr a;
	int links, subdirs, orphan;
	uint64_t dparent, fchunks;
};
struct ck_sha {
	uint8_t sha[SHA_LEN];
	int64_t n;
};

struct ck_state {
	struct ck_inode *in;
	size_t nin, capin;
	struct ck_sha *f, *r, *c; /* F references, R counts, C keys (n = 1) */
	size_t nf, nr, nc, capf, capr, capc;
	uint64_t *dent_child, *dent_parent, *orph;
	size_t nd, capd, norph, caporph;
	uint64_t ino_end; /* the superblock's inode reservation */
};

#define PUSH(arr, n, cap)                                               \
	do {                                                            \
		if ((n) == (cap)) {                                     \
			(cap) = (cap) ? (cap)*2 : 64;                   \
			(arr) = realloc((arr), (cap) * sizeof(*(arr))); \
		}                                                       \
	} while (0)

static int ino_cmp(const void *a, const void *b)
{
	uint64_t x = ((const struct ck_inode *)a)->ino, y = ((const struct ck_inode *)b)->ino;

	return x < y ? -1 : x > y;
}

static int sha_cmp(const void *a, const void *b)
{
	return memcmp(a, b, SHA_LEN);
}

static struct ck_inode *ck_find(struct ck_state *s, uint64_t ino)
{
	struct ck_inode key = {.ino = ino};

	return s->nin ? bsearch(&key, s->in, s->nin, sizeof(*s->in), ino_cmp) : NULL;
}

static struct ck_sha *sha_find(struct ck_sha *v, size_t n, const uint8_t *sha)
{
	return n ? bsearch(sha, v, n, sizeof(*v), sha_cmp) : NULL;
}

/* qsort with an empty (NULL) array is undefined behaviour. */
static void sort(void *v, size_t n, size_t size, int (*cmp)(const void *, const void *))
{
	if (n > 1)
		qsort(v, n, size, cmp);
}

static void read_all(lsm_db *db, struct ck_state *s, int *bad)
{
	lsm_iter *it = lsm_iter_new(db, NULL);

	for (lsm_iter_seek_first(it); lsm_iter_valid(it); lsm_iter_next(it)) {
		size_t klen, vlen;
		const uint8_t *k = lsm_iter_key(it, &klen);
		const uint8_t *v = lsm_iter_value(it, &vlen);

		switch (k[0]) {
		case KEY_INODE:
			PUSH(s->in, s->nin, s->capin);
			memset(&s->in[s->nin], 0, sizeof(s->in[0]));
			s->in[s->nin].ino = get_be64(k + 1);
			if (inode_decode(&s->in[s->nin].a, v, vlen)) {
				printf("check: inode %llu undecodable\n",
				       (unsigned long long)get_be64(k + 1));
				(*bad)++;
			}
			s->nin++;
			break;
		case KEY_DENT:
			PUSH(s->dent_child, s->nd, s->capd);
			s->dent_parent = realloc(s->dent_parent, s->capd * sizeof(uint64_t));
			s->dent_parent[s->nd] = get_be64(k + 1);
			s->dent_child[s->nd] = get_be64(v);
			s->nd++;
			break;
		case KEY_FCHUNK:
			PUSH(s->f, s->nf, s->capf);
			memcpy(s->f[s->nf].sha, v, SHA_LEN);
			s->f[s->nf].n = (int64_t)get_be64(k + 1); /* the inode, for now */
			s->nf++;
			break;
		case KEY_REF:
			PUSH(s->r, s->nr, s->capr);
			memcpy(s->r[s->nr].sha, k + 1, SHA_LEN);
			s->r[s->nr].n = (int64_t)get_be64(v);
			s->nr++;
			break;
		case KEY_CHUNK: {
			uint8_t sha[SHA_LEN];
			unsigned int mdlen = SHA_LEN;

			PUSH(s->c, s->nc, s->capc);
			memcpy(s->c[s->nc].sha, k + 1, SHA_LEN);
			s->c[s->nc].n = 1;
			s->nc++;
			EVP_Digest(v, vlen, sha, &mdlen, EVP_sha256(), NULL);
			if (memcmp(sha, k + 1, SHA_LEN) != 0) {
				printf("check: chunk bytes do not match their digest\n");
				(*bad)++;
			}
			break;
		}
		case KEY_SUPER: {
			struct lsmfs_super sb;

			if (super_decode(&sb, v, vlen) == 0)
				s->ino_end = sb.ino_end;
			break;
		}
		case KEY_ORPHAN:
			PUSH(s->orph, s->norph, s->caporph);
			s->orph[s->norph++] = get_be64(k + 1);
			break;
		default:
			break;
		}
	}
	ck_assert_int_eq(lsm_iter_status(it), 0);
	lsm_iter_free(it);
}

static void check_links(struct ck_state *s, int *bad)
{
	for (size_t i = 0; i < s->nd; i++) {
		struct ck_inode *c = ck_find(s, s->dent_child[i]);
		struct ck_inode *p = ck_find(s, s->dent_parent[i]);

		if (!c || !p || !S_ISDIR(p->a.mode)) {
			printf("check: entry %llu -> %llu dangles\n",
			       (unsigned long long)s->dent_parent[i],
			       (unsigned long long)s->dent_child[i]);
			(*bad)++;
			continue;
		}
		c->links++;
		c->dparent = s->dent_parent[i];
		if (S_ISDIR(c->a.mode))
			p->subdirs++;
	}
	for (size_t i = 0; i < s->norph; i++) {
		struct ck_inode *c = ck_find(s, s->orph[i]);

		if (c)
			c->orphan = 1;
	}
	for (size_t i = 0; i < s->nin; i++) {
		struct ck_inode *c = &s->in[i];
		int root = c->ino == LSMFS_ROOT_INO;

		if (S_ISDIR(c->a.mode)) {
			int want = c->a.nlink == 0 ? 0 : 2 + c->subdirs;

			if ((int)c->a.nlink != want ||
			    c->links != (root || c->a.nlink == 0 ? 0 : 1) ||
			    (!root && c->links && c->a.parent != c->dparent)) {
				printf("check: dir %llu nlink %u links %d subdirs %d parent "
				       "%llu/%llu\n",
				       (unsigned long long)c->ino, c->a.nlink, c->links, c->subdirs,
				       (unsigned long long)c->a.parent,
				       (unsigned long long)c->dparent);
				(*bad)++;
			}
		} else if ((int)c->a.nlink != c->links) {
			printf("check: inode %llu nlink %u but %d entries\n",
			       (unsigned long long)c->ino, c->a.nlink, c->links);
			(*bad)++;
		}
		if (c->ino >= s->ino_end) {
			printf("check: inode %llu past the reserved range (end %llu)\n",
			       (unsigned long long)c->ino, (unsigned long long)s->ino_end);
			(*bad)++;
		}
		if (!root && c->links == 0 && !c->orphan) {
			printf("check: inode %llu is unreachable and no orphan\n",
			       (unsigned long long)c->ino);
			(*bad)++;
		}
	}
}

static void check_chunks(struct ck_state *s, int *bad)
{
	/* Per-inode chunk counts first (n holds the inode number), then per-digest counts. */
	for (size_t i = 0; i < s->nf; i++) {
		struct ck_inode *c = ck_find(s, (uint64_t)s->f[i].n);

		if (!c) {
			printf("check: chunk reference of a missing inode\n");
			(*bad)++;
		} else {
			c->fchunks++;
		}
		s->f[i].n = 1;
	}
	for (size_t i = 0; i < s->nin; i++) {
		if (s->in[i].a.chunks != s->in[i].fchunks) {
			printf("check: inode %llu says %llu chunks, has %llu\n",
			       (unsigned long long)s->in[i].ino,
			       (unsigned long long)s->in[i].a.chunks,
			       (unsigned long long)s->in[i].fchunks);
			(*bad)++;
		}
	}
	sort(s->f, s->nf, sizeof(*s->f), sha_cmp);
	sort(s->r, s->nr, sizeof(*s->r), sha_cmp);
	sort(s->c, s->nc, sizeof(*s->c), sha_cmp);
	for (size_t i = 0; i < s->nf;) {
		size_t j = i;
		struct ck_sha *r;

		while (j < s->nf && memcmp(s->f[j].sha, s->f[i].sha, SHA_LEN) == 0)
			j++;
		r = sha_find(s->r, s->nr, s->f[i].sha);
		if (!r || r->n != (int64_t)(j - i) || !sha_find(s->c, s->nc, s->f[i].sha)) {
			printf("check: chunk with %zu references has count %lld%s\n", j - i,
			       r ? (long long)r->n : -1LL,
			       sha_find(s->c, s->nc, s->f[i].sha) ? "" : " and no bytes");
			(*bad)++;
		}
		i = j;
	}
	for (size_t i = 0; i < s->nr; i++) {
		if (!sha_find(s->f, s->nf, s->r[i].sha)) {
			printf("check: reference count %lld for an unreferenced chunk\n",
			       (long long)s->r[i].n);
			(*bad)++;
		}
	}
	for (size_t i = 0; i < s->nc; i++) {
		if (!sha_find(s->r, s->nr, s->c[i].sha)) {
			printf("check: chunk bytes without a reference count\n");
			(*bad)++;
		}
	}
}

int tf_check(const char *dir)
{
	lsm_db *db = open_db(dir);
	struct ck_state s;
	int bad = 0;

	memset(&s, 0, sizeof(s));
	read_all(db, &s, &bad);
	lsm_close(db);
	sort(s.in, s.nin, sizeof(*s.in), ino_cmp);
	check_links(&s, &bad);
	check_chunks(&s, &bad);
	free(s.in);
	free(s.f);
	free(s.r);
	free(s.c);
	free(s.dent_child);
	free(s.dent_parent);
	free(s.orph);
	return bad;
}
