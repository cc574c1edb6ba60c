/* check_fscore_util.c — helpers of the fs core suites; see check_fscore.h. */
#include "check_fscore.h"

#include "fscheck.h"
#include "lsm.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

const lsmfs_ctx tf_root = {.uid = 0, .gid = 0, .umask = 022};
const lsmfs_ctx tf_user = {.uid = 1000, .gid = 1000, .umask = 022};
int64_t tf_inline_bytes = -1;
size_t tf_inode_cache = 4;

lsmfs *tf_mount(const char *dir)
{
	lsmfs_opts o;
	lsmfs *fs = NULL;
	const char *msg = NULL;
	int rc;

	lsmfs_opts_init(&o);
	o.cache_bytes = 1 << 20;
	o.inline_bytes = tf_inline_bytes;
	o.inode_cache = tf_inode_cache;
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

struct fref tf_fref(const char *dir, uint64_t ino, uint64_t idx)
{
	struct fref r;
	struct fkey k;
	size_t vlen;
	void *v;

	key_fchunk(&k, ino, idx);
	ck_assert_int_eq(tf_raw_get(dir, k.b, k.len, &v, &vlen), 0);
	ck_assert_int_eq(fref_decode(&r, v, vlen), 0);
	free(v);
	return r;
}

void tf_expect(lsmfs *fs, uint64_t ino, const uint8_t *want, size_t n)
{
	size_t got_n;
	uint8_t *got = tf_slurp(fs, ino, &got_n);

	ck_assert_uint_eq(got_n, n);
	for (size_t i = 0; i < n; i++)
		if (got[i] != want[i])
			ck_abort_msg("byte %zu: %u, expected %u", i, got[i], want[i]);
	free(got);
}

void tf_put(lsmfs *fs, uint64_t ino, uint8_t *mirror, const void *src, size_t n, size_t off)
{
	ck_assert_int_eq(lsmfs_write(fs, &tf_root, ino, src, n, (off_t)off), (ssize_t)n);
	memcpy(mirror + off, src, n);
}

lsmfs_check_result tf_fsck(const char *dir, int repair)
{
	lsmfs_check_opts o = {.repair = repair};
	lsmfs_check_result res;
	const char *msg = NULL;

	ck_assert_int_eq(lsmfs_check(dir, &o, &res, &msg), 0);
	ck_assert_int_eq(res.incomplete, 0);
	return res;
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
		ck_assert_ptr_nonnull(s->v);
	}
	snprintf(s->v[s->n].name, sizeof(s->v[s->n].name), "%s", name);
	s->v[s->n].ino = st->st_ino;
	s->v[s->n].mode = st->st_mode;
	s->v[s->n].cookie = next;
	s->n++;
	s->taken++;
	return 0;
}

int tf_list_try(lsmfs *fs, uint64_t dir, int batch, tf_dirent **out)
{
	struct list_state s = {.batch = batch};
	uint64_t cookie = 0;

	for (;;) {
		int before = s.n, rc;

		s.taken = 0;
		rc = lsmfs_readdir(fs, dir, cookie, 0, list_fn, &s);
		if (rc) {
			free(s.v);
			return rc;
		}
		if (s.n == before)
			break;
		cookie = s.v[s.n - 1].cookie;
	}
	*out = s.v;
	return s.n;
}

int tf_list(lsmfs *fs, uint64_t dir, int batch, tf_dirent **out)
{
	int n = tf_list_try(fs, dir, batch, out);

	ck_assert_int_ge(n, 0);
	return n;
}

void tf_data(tu_rng *r, uint8_t *p, size_t n)
{
	switch (tu_below(r, 3)) {
	case 0:
		tu_fill(r, p, n);
		break;
	case 1:
		memset(p, 0, n);
		break;
	default:
		for (size_t i = 0; i < n; i++)
			p[i] = (uint8_t)('A' + (i / 64) % 4);
		break;
	}
}

lsm_db *tf_open_db(const char *dir)
{
	lsm_db *db = NULL;
	lsm_options o;

	lsm_options_init(&o);
	o.create_if_missing = 0;
	ck_assert_int_eq(lsm_open(&db, dir, &o), 0);
	return db;
}

void tf_raw_put(const char *dir, const void *k, size_t klen, const void *v, size_t vlen)
{
	lsm_db *db = NULL;
	lsm_options o;

	lsm_options_init(&o);
	o.create_if_missing = 1;
	ck_assert_int_eq(lsm_open(&db, dir, &o), 0);
	ck_assert_int_eq(lsm_put(db, NULL, k, klen, v, vlen), 0);
	ck_assert_int_eq(lsm_close(db), 0);
}

int tf_raw_get(const char *dir, const void *k, size_t klen, void **v, size_t *vlen)
{
	lsm_db *db = NULL;
	lsm_options o;
	int rc;

	lsm_options_init(&o);
	o.create_if_missing = 0;
	ck_assert_int_eq(lsm_open(&db, dir, &o), 0);
	rc = lsm_get(db, NULL, k, klen, v, vlen);
	lsm_close(db);
	return rc;
}

size_t tf_count_keys(const char *dir, char tag)
{
	lsm_db *db = tf_open_db(dir);
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

void tf_damage_largest_table(const char *dir)
{
	char path[4096], best[4096] = "";
	long bestsize = 0;
	DIR *d = opendir(dir);
	struct dirent *de;

	while ((de = readdir(d)) != NULL) {
		struct stat st;

		if (!strstr(de->d_name, ".sst"))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (stat(path, &st) == 0 && st.st_size > bestsize) {
			bestsize = st.st_size;
			snprintf(best, sizeof(best), "%s", path);
		}
	}
	closedir(d);
	ck_assert_int_gt(bestsize, 100000);
	FILE *f = fopen(best, "r+b");
	for (int i = 1; i <= 3; i++) {
		int c;

		fseek(f, bestsize * i / 10, SEEK_SET);
		c = fgetc(f);
		fseek(f, bestsize * i / 10, SEEK_SET);
		fputc(c ^ 0x5a, f);
	}
	fclose(f);
}

/* ---- offline consistency check: fs/fsck/'s, reporting each problem ---- */

static void tf_check_report(void *arg, const lsmfs_check_report *r)
{
	(void)arg;
	if (r->kind != LSMFS_CK_LOST)
		printf("check: %s%s: %s\n", r->kind == LSMFS_CK_NOTE ? "note: " : "",
		       lsmfs_check_code_name(r->code), r->what);
}

int tf_check(const char *dir)
{
	lsmfs_check_opts o = {.report = tf_check_report};
	lsmfs_check_result res;
	const char *msg = NULL;
	int rc = lsmfs_check(dir, &o, &res, &msg);

	/* The check opens the engine and reads every key: both must work. */
	ck_assert_msg(rc == 0, "check %s: %d %s", dir, rc, msg ? msg : "");
	ck_assert_msg(!res.incomplete, "check %s: %s", dir, msg ? msg : "");
	return (int)res.errors;
}
