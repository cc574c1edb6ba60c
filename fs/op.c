/*
 * op.c — one filesystem operation = one lsm_batch. Gathers chunk reference
 * changes, resolves them against the R keys under the chunk stripes, hands
 * out inode numbers, and maps engine errors to errno.
 */
#include "fs_impl.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

void fs_log(const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	/* One fprintf per line so that lines of concurrent threads do not mix. */
	fprintf(stderr, "lsmfs: %s\n", line);
}

int64_t lsmfs_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int lsmfs_errno(int rc)
{
	if (rc >= 0 || -rc < LSM_ECORRUPT)
		return rc;
	if (rc == -LSM_EREADONLY)
		return -EROFS; /* a background error (a flush met ENOSPC, say) stopped writes */
	return rc == -LSM_EBUSY ? -EBUSY : -EIO;
}

int fs_err(lsmfs *fs, int rc, const char *what, uint64_t ino)
{
	const char *msg;

	(void)fs;
	if (rc >= 0)
		return rc;
	if (-rc < LSM_ECORRUPT)
		return rc; /* already an errno: -EIO, -ENOSPC, -ENOMEM ... */
	/*
	 * Corruption or a broken engine fails this operation only (-EIO); an
	 * engine a background error made read-only fails every change from
	 * now on (-EROFS, until remount). Say where.
	 */
	msg = lsm_errmsg();
	fs_log("inode %" PRIu64 ": %s: %s", ino, what, msg && *msg ? msg : lsm_strerror(rc));
	return rc == -LSM_EREADONLY ? -EROFS : -EIO;
}

int fs_get(lsmfs *fs, const struct fkey *k, void **val, size_t *vlen, uint64_t ino)
{
	return fs_get_at(fs, NULL, k, val, vlen, ino);
}

int fs_get_at(lsmfs *fs, const lsm_snapshot *snap, const struct fkey *k, void **val, size_t *vlen,
	      uint64_t ino)
{
	lsm_read_options ro = {.snapshot = snap, .fill_cache = 1};
	void *v = NULL;
	size_t n = 0;
	int rc = lsm_get(fs->db, &ro, k->b, k->len, &v, &n);

	if (rc == 0) {
		if (val)
			*val = v;
		else
			free(v);
		if (vlen)
			*vlen = n;
		return 0;
	}
	if (rc == LSM_NOTFOUND)
		return LSM_NOTFOUND;
	return fs_err(fs, rc, "read", ino);
}

int op_begin(lsmfs *fs, struct fs_op *op)
{
	memset(op, 0, sizeof(*op));
	op->fs = fs;
	if (fs->read_only)
		return -EROFS;
	op->b = lsm_batch_new();
	return op->b ? 0 : -ENOMEM;
}

static void ino_release(struct fs_op *op, int ok)
{
	lsmfs *fs = op->fs;

	if (!op->ino_held)
		return;
	if (!ok) {
		/* The new range never reached the WAL: hand the old one out again. */
		fs->ino_next = op->ino_saved_next;
		fs->sb.ino_end = op->ino_saved_end;
	}
	op->ino_held = 0;
	pthread_mutex_unlock(&fs->ino_mu);
}

void op_end(struct fs_op *op)
{
	ino_release(op, 0);
	for (size_t i = 0; i < op->nkept; i++)
		free(op->kept[i]);
	free(op->kept);
	free(op->rd);
	lsm_batch_free(op->b);
	op->rd = NULL;
	op->kept = NULL;
	op->b = NULL;
	op->nrd = op->rdcap = op->nkept = op->keptcap = 0;
}

int op_keep(struct fs_op *op, void *buf)
{
	if (op->nkept == op->keptcap) {
		size_t cap = op->keptcap ? op->keptcap * 2 : 4;
		void **n = realloc(op->kept, cap * sizeof(*n));

		if (!n) {
			free(buf);
			return -ENOMEM;
		}
		op->kept = n;
		op->keptcap = cap;
	}
	op->kept[op->nkept++] = buf;
	return 0;
}

void *op_alloc(struct fs_op *op, size_t n)
{
	void *buf = malloc(n);

	if (!buf || op_keep(op, buf) != 0)
		return NULL;
	return buf;
}

int op_put(struct fs_op *op, const struct fkey *k, const void *val, size_t vlen)
{
	return lsm_batch_put(op->b, k->b, k->len, val, vlen);
}

int op_del(struct fs_op *op, const struct fkey *k)
{
	return lsm_batch_delete(op->b, k->b, k->len);
}

int op_put_inode(struct fs_op *op, uint64_t ino, const struct lsmfs_attr *a)
{
	struct fkey k;
	uint8_t v[INODE_LEN];

	key_ino(&k, KEY_INODE, ino);
	return op_put(op, &k, v, inode_encode(v, a));
}

int op_ref(struct fs_op *op, const uint8_t *sha, int64_t delta, const void *data, uint32_t len)
{
	struct refdelta *r;

	if (op->nrd == op->rdcap) {
		size_t cap = op->rdcap ? op->rdcap * 2 : 16;
		struct refdelta *n = realloc(op->rd, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		op->rd = n;
		op->rdcap = cap;
	}
	r = &op->rd[op->nrd];
	memcpy(r->sha, sha, SHA_LEN);
	r->delta = delta;
	r->len = len;
	r->data = data;
	op->nrd++;
	return 0;
}

int op_alloc_ino(struct fs_op *op, uint64_t *ino)
{
	lsmfs *fs = op->fs;
	int rc = 0;

	if (!op->ino_held)
		pthread_mutex_lock(&fs->ino_mu);
	if (fs->ino_next >= fs->sb.ino_end) {
		/*
		 * Reserve a new range in this operation's own batch: if the
		 * batch is lost in a crash, so is every use of the range.
		 */
		struct fkey k;
		uint8_t v[SB_LEN];

		if (!op->ino_held) {
			op->ino_saved_next = fs->ino_next;
			op->ino_saved_end = fs->sb.ino_end;
		}
		fs->sb.ino_end = fs->ino_next + INO_RANGE;
		super_encode(v, &fs->sb);
		k.b[0] = KEY_SUPER;
		k.len = 1;
		rc = op_put(op, &k, v, sizeof(v));
		op->ino_held = 1;
		if (rc)
			goto out;
	}
	*ino = fs->ino_next++;
	op->icount_delta++; /* the caller puts its I key in this batch */
out:
	if (!op->ino_held)
		pthread_mutex_unlock(&fs->ino_mu);
	return rc;
}

static int rd_cmp(const void *a, const void *b)
{
	return memcmp(((const struct refdelta *)a)->sha, ((const struct refdelta *)b)->sha,
		      SHA_LEN);
}

/* Sorts and merges equal digests, so each R key is read and written once. */
static void rd_merge(struct fs_op *op)
{
	size_t w = 0;

	if (op->nrd < 2)
		return;
	qsort(op->rd, op->nrd, sizeof(*op->rd), rd_cmp);
	for (size_t i = 1; i < op->nrd; i++) {
		struct refdelta *d = &op->rd[w], *s = &op->rd[i];

		if (memcmp(d->sha, s->sha, SHA_LEN) == 0) {
			d->delta += s->delta;
			if (!d->data) {
				d->data = s->data;
				d->len = s->len;
			}
		} else {
			op->rd[++w] = *s;
		}
	}
	op->nrd = w + 1;
}

static unsigned stripe_of(const uint8_t *sha)
{
	return sha[0] % CHUNK_STRIPES;
}

/* REQUIRES: the stripe of d is held. Adds the R (and C) change of d to the batch. */
static int rd_resolve(struct fs_op *op, struct refdelta *d)
{
	lsmfs *fs = op->fs;
	struct fkey rk, ck;
	void *v = NULL;
	size_t vlen = 0;
	int64_t old = 0, now;
	uint8_t enc[8];
	int rc;

	key_sha(&rk, KEY_REF, d->sha);
	key_sha(&ck, KEY_CHUNK, d->sha);
	rc = fs_get(fs, &rk, &v, &vlen, 0);
	if (rc < 0)
		goto out;
	if (rc == 0) {
		if (vlen != 8) {
			fs_log("chunk reference count has %zu bytes, not 8", vlen);
			rc = -EIO;
			goto out;
		}
		old = (int64_t)get_be64(v);
	}
	rc = 0;
	now = old + d->delta;
	if (now < 0) {
		/* An F key pointed at a chunk nobody counted: fsck's business; never go below 0. */
		fs_log("chunk reference count would fall below zero (%" PRId64 "%+" PRId64 ")", old,
		       d->delta);
		now = 0;
	}
	if (now == old)
		goto out;
	if (now == 0) {
		rc = op_del(op, &ck);
		if (!rc)
			rc = op_del(op, &rk);
		op->chunks_freed++;
		goto out;
	}
	if (old == 0) {
		if (!d->data) {
			fs_log("shared chunk has no reference count (missing R key)");
			rc = -EIO;
			goto out;
		}
		rc = op_put(op, &ck, d->data, d->len);
		if (rc)
			goto out;
	}
	put_be64(enc, (uint64_t)now);
	rc = op_put(op, &rk, enc, sizeof(enc));
out:
	free(v);
	return rc;
}

int op_commit(struct fs_op *op)
{
	lsmfs *fs = op->fs;
	struct icount_shard *counted = NULL;
	uint64_t held = 0;
	int rc = 0;

	rd_merge(op);
	for (size_t i = 0; i < op->nrd; i++)
		if (op->rd[i].delta)
			held |= 1ull << stripe_of(op->rd[i].sha);
	/* Ascending stripe order, as fs_impl.h says. */
	for (unsigned s = 0; s < CHUNK_STRIPES; s++)
		if (held & (1ull << s))
			pthread_mutex_lock(&fs->chunk_mu[s]);
	for (size_t i = 0; i < op->nrd && !rc; i++)
		if (op->rd[i].delta)
			rc = rd_resolve(op, &op->rd[i]);
	/* Lock order: ino_mu, the chunk stripes, then an inode count shard. */
	if (!rc)
		rc = fs_err(fs, icount_stage(op, &counted), "write", 0);
	if (!rc && lsm_batch_count(op->b) > 0)
		rc = fs_err(fs, lsm_write(fs->db, &fs->wopts, op->b), "write", 0);
	icount_done(op, counted, rc == 0);
	/* A big file's worth of chunks went: have the engine give their space back soon. */
	if (!rc && op->chunks_freed >= RECLAIM_CHUNKS)
		lsm_reclaim(fs->db);
	for (unsigned s = 0; s < CHUNK_STRIPES; s++)
		if (held & (1ull << s))
			pthread_mutex_unlock(&fs->chunk_mu[s]);
	ino_release(op, rc == 0);
	return rc;
}
