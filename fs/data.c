/*
 * data.c — file contents: read, write, fallocate (allocate, punch hole, zero
 * range), SEEK_DATA / SEEK_HOLE, copy_file_range. A write stores each whole
 * chunk it covers under its digest; a part of a chunk becomes a patch while
 * that pays (chunk_patch_pays), else the chunk is read,
 * merged and stored whole. The chunk store (chunk.c) and op_commit keep the
 * shared chunks counted. Truncation is chunk_truncate (chunk.c), which setattr and
 * open (inode.c) call.
 */
#include "fs_impl.h"
#include "workpool.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/falloc.h>
#include <stdlib.h>
#include <unistd.h>

/* copy_file_range moves at most this much per call (the caller loops, as for write). */
#define COPY_MAX (16u << 20)

/* One chunk's part of a read: what read_piece fills. */
struct read_piece {
	uint64_t idx;	  /* chunk */
	uint32_t s, take; /* bytes [s, s + take) of it */
	uint8_t *dst;	  /* where they go */
};

struct read_job {
	lsmfs *fs;
	const lsm_snapshot *snap;
	uint64_t ino;
	struct read_piece *p;
	int rc; /* the first error; written with __atomic */
};

static void read_piece(void *arg, size_t i)
{
	struct read_job *j = arg;
	struct read_piece *p = &j->p[i];
	uint32_t cs = j->fs->cs;
	struct fref ref;
	int rc, zero = 0;

	if (__atomic_load_n(&j->rc, __ATOMIC_RELAXED))
		return; /* the read fails anyway */
	if (p->s == 0 && p->take == cs)
		rc = chunk_read_at(j->fs, j->snap, j->ino, p->idx, p->dst, &ref);
	else
		rc = chunk_read_part_at(j->fs, j->snap, j->ino, p->idx, p->s, p->take, p->dst);
	if (rc)
		__atomic_compare_exchange_n(&j->rc, &zero, rc, 0, __ATOMIC_RELAXED,
					    __ATOMIC_RELAXED);
}

/*
 * Reads [off, off + n) of ino as snap saw it (NULL: now, with the inode
 * locked); n must not pass the end of file. The chunks are read by the
 * work pool at once: their lookups, preads and checks overlap.
 */
static int read_at(lsmfs *fs, const lsm_snapshot *snap, uint64_t ino, uint8_t *out, uint64_t n,
		   uint64_t off)
{
	uint64_t cs = fs->cs, done = 0;
	struct read_piece one, *p = &one;
	size_t np = 0, maxp = (size_t)(n / cs + 2);
	struct read_job j = {.fs = fs, .snap = snap, .ino = ino};

	if (maxp > 1 && !(p = malloc(maxp * sizeof(*p))))
		return -ENOMEM;
	while (done < n) {
		uint64_t pos = off + done, s = pos % cs;
		uint64_t take = cs - s < n - done ? cs - s : n - done;

		p[np].idx = pos / cs;
		p[np].s = (uint32_t)s;
		p[np].take = (uint32_t)take;
		p[np].dst = out + done;
		np++;
		done += take;
	}
	j.p = p;
	workpool_run(fs->pool, np, read_piece, &j);
	if (p != &one)
		free(p);
	return j.rc;
}

static int check_regular(const struct lsmfs_attr *a)
{
	if (S_ISDIR(a->mode))
		return -EISDIR;
	return S_ISREG(a->mode) ? 0 : -EINVAL;
}

/*
 * The inode lock is held only to read the size and take a snapshot: the
 * chunks are then read from that snapshot, so readers of one file (the
 * kernel's parallel readahead) and a writer do not queue behind each other,
 * and a chunk a concurrent write frees is still readable. The read returns
 * the file as it was when it started, as a read that had taken the lock
 * first would.
 */
ssize_t lsmfs_read(lsmfs *fs, uint64_t ino, void *buf, size_t size, off_t off)
{
	struct lsmfs_inode *ip;
	const lsm_snapshot *snap = NULL;
	uint64_t n = 0;
	int rc, touch;

	if (off < 0)
		return -EINVAL;
	rc = ilock_get(fs, ino, &ip);
	if (rc)
		return rc;
	rc = check_regular(&ip->a);
	if (rc || (uint64_t)off >= ip->a.size) {
		iunlock_put(fs, ip);
		return rc;
	}
	n = ip->a.size - (uint64_t)off;
	if (n > size)
		n = size;
	snap = lsm_snapshot_new(fs->db);
	touch = atime_needs_update(&ip->a, lsmfs_now());
	pthread_mutex_unlock(&ip->mu);
	rc = snap ? read_at(fs, snap, ino, buf, n, (uint64_t)off) : -ENOMEM;
	if (snap)
		lsm_snapshot_release(fs->db, snap);
	pthread_mutex_lock(&ip->mu);
	/* The open file keeps the inode; if it went meanwhile, there is no atime to keep. */
	if (!rc && touch && ip->state == INODE_LOADED)
		inode_touch_atime(fs, ip);
	iunlock_put(fs, ip);
	return rc ? rc : (ssize_t)n;
}

void kill_suid(const lsmfs_ctx *ctx, struct lsmfs_attr *a)
{
	if (ctx && ctx->uid == 0)
		return;
	a->mode &= ~(uint32_t)S_ISUID;
	if (a->mode & S_IXGRP)
		a->mode &= ~(uint32_t)S_ISGID;
}

/*
 * The references of the whole chunks a write of n bytes at off covers, in
 * order (ref[i] for the i-th whole chunk), hashed before the inode lock is
 * taken so that writes to one file hash in parallel. NULL when out of memory.
 */
struct hash_job {
	const uint8_t *first; /* the first whole chunk's bytes */
	uint64_t cs;
	struct fref *ref;
};

static void hash_piece(void *arg, size_t i)
{
	struct hash_job *j = arg;

	chunk_hash(j->first + i * j->cs, j->cs, &j->ref[i]);
}

static struct fref *hash_whole_chunks(lsmfs *fs, const uint8_t *src, uint64_t n, uint64_t off)
{
	uint64_t cs = fs->cs, first = (off + cs - 1) / cs, end = (off + n) / cs;
	struct fref *ref = malloc((end > first ? end - first : 1) * sizeof(*ref));
	struct hash_job j = {.first = src + (first * cs - off), .cs = cs, .ref = ref};

	if (ref && end > first)
		workpool_run(fs->pool, (size_t)(end - first), hash_piece, &j);
	return ref;
}

/*
 * Writes src[0..n) at off into a locked inode's working copy a, in op.
 * whole[] are the references of the whole chunks it covers
 * (hash_whole_chunks). src must stay valid until op_end.
 */
static int write_locked(struct fs_op *op, uint64_t ino, struct lsmfs_attr *a, const uint8_t *src,
			uint64_t n, uint64_t off, const struct fref *whole)
{
	lsmfs *fs = op->fs;
	uint64_t cs = fs->cs, done = 0;
	int rc = 0;

	while (done < n) {
		uint64_t pos = off + done, idx = pos / cs, s = pos % cs;
		uint64_t take = cs - s < n - done ? cs - s : n - done;
		/* No chunk is stored at or past the end of file: nothing to read there. */
		int beyond = idx * cs >= a->size;
		struct fref old = {.len = 0};

		if (s == 0 && take == cs) {
			if (!beyond)
				rc = chunk_ref_get(fs, ino, idx, &old);
			if (!rc)
				rc = chunk_store_hashed(op, ino, a, idx, &old, src + done, whole++);
		} else {
			uint8_t *tmp, inl[INLINE_MAX];

			if (!beyond)
				rc = chunk_ref_get_inline(fs, ino, idx, &old, inl);
			if (rc)
				break;
			/*
			 * A small write into a chunk: its bytes beside it,
			 * nothing reread. Into a hole, a write from the chunk's
			 * start is a (short, deduplicated) chunk of its own;
			 * one further in a patch, not a chunk led by zeros.
			 */
			if (chunk_patch_pays(fs, &old, (uint32_t)s, src + done, (uint32_t)take)) {
				rc = chunk_patch(op, ino, a, idx, &old, (uint32_t)s, src + done,
						 (uint32_t)take);
				if (rc)
					break;
				done += take;
				continue;
			}
			/* The merged chunk is op's until commit (op_ref borrows its bytes). */
			tmp = op_alloc(op, cs);
			if (!tmp) {
				rc = -ENOMEM;
				break;
			}
			if (old.inl) {
				memcpy(tmp, inl, old.len);
				memset(tmp + old.len, 0, cs - old.len);
			} else {
				rc = chunk_read_ref(fs, NULL, ino, idx, tmp, &old);
			}
			if (!rc) {
				uint64_t end =
					fref_end(&old) > s + take ? fref_end(&old) : s + take;

				memcpy(tmp + s, src + done, take);
				/* Past the old bytes and the new ones, tmp holds zeros. */
				rc = chunk_store_upto(op, ino, a, idx, &old, tmp, cs, end);
			}
		}
		if (rc)
			break;
		done += take;
	}
	if (!rc && off + n > a->size)
		a->size = off + n;
	return rc;
}

ssize_t lsmfs_write(lsmfs *fs, const lsmfs_ctx *ctx, uint64_t ino, const void *buf, size_t size,
		    off_t off)
{
	struct lsmfs_inode *ip;
	struct lsmfs_attr na;
	struct fref *whole;
	struct fs_op op;
	int rc;

	memset(&op, 0, sizeof(op));
	if (off < 0)
		return -EINVAL;
	if (size > (uint64_t)LSMFS_MAX_FILESIZE - (uint64_t)off)
		return -EFBIG;
	whole = hash_whole_chunks(fs, buf, size, (uint64_t)off);
	if (!whole)
		return -ENOMEM;
	rc = ilock_get(fs, ino, &ip);
	if (rc) {
		free(whole);
		return rc;
	}
	rc = check_regular(&ip->a);
	if (rc || size == 0)
		goto out;
	na = ip->a;
	rc = space_need(fs, size, 1);
	if (!rc)
		rc = op_begin(fs, &op);
	if (!rc)
		rc = write_locked(&op, ino, &na, buf, size, (uint64_t)off, whole);
	if (rc)
		goto out;
	na.mtime = na.ctime = lsmfs_now();
	kill_suid(ctx, &na);
	rc = op_put_inode(&op, ino, &na);
	if (!rc)
		rc = op_commit(&op);
	if (!rc)
		ip->a = na;
out:
	op_end(&op);
	iunlock_put(fs, ip);
	free(whole);
	return rc ? rc : (ssize_t)size;
}

/* Punches [off, end) of a locked inode; end is clamped to the file size by the caller. */
static int punch_locked(struct fs_op *op, uint64_t ino, struct lsmfs_attr *a, uint64_t off,
			uint64_t end)
{
	uint64_t cs = op->fs->cs;
	uint64_t first = off / cs, last = (end - 1) / cs;
	/* A chunk is dropped whole when the range covers it up to its end or to EOF. */
	uint64_t whole_from = off % cs ? first + 1 : first;
	uint64_t whole_to = (end % cs == 0 || end >= a->size) ? last + 1 : last;
	int rc = 0;

	if (first == last && whole_from > first)
		return chunk_zero_range(op, ino, a, first, (uint32_t)(off % cs),
					(uint32_t)(end - first * cs < cs ? end - first * cs : cs));
	if (whole_from > first)
		rc = chunk_zero_range(op, ino, a, first, (uint32_t)(off % cs), (uint32_t)cs);
	if (!rc)
		rc = chunk_drop_range(op, ino, a, whole_from, whole_to);
	if (!rc && whole_to <= last)
		rc = chunk_zero_range(op, ino, a, last, 0, (uint32_t)(end % cs));
	return rc;
}

/*
 * The modes taken: those ext4 takes, less COLLAPSE_RANGE and INSERT_RANGE
 * (which move every byte after the range), refused with EOPNOTSUPP. Over
 * a mount the kernel's FUSE client refuses those two itself; the core
 * answers the same for callers without it.
 */
static int falloc_mode_ok(int mode)
{
	switch (mode) {
	case 0:
	case FALLOC_FL_KEEP_SIZE:
	case FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE:
	case FALLOC_FL_ZERO_RANGE:
	case FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE:
		return 1;
	default:
		return 0; /* also PUNCH_HOLE without KEEP_SIZE, as the VFS refuses it */
	}
}

int lsmfs_fallocate(lsmfs *fs, const lsmfs_ctx *ctx, uint64_t ino, int mode, off_t off, off_t len)
{
	struct lsmfs_inode *ip;
	struct lsmfs_attr na;
	struct fs_op op;
	uint64_t end;
	int rc;

	memset(&op, 0, sizeof(op));
	if (off < 0 || len <= 0)
		return -EINVAL;
	if (!falloc_mode_ok(mode))
		return -EOPNOTSUPP;
	if ((uint64_t)len > (uint64_t)LSMFS_MAX_FILESIZE - (uint64_t)off)
		return -EFBIG;
	end = (uint64_t)off + (uint64_t)len;
	rc = ilock_get(fs, ino, &ip);
	if (rc)
		return rc;
	if (S_ISDIR(ip->a.mode)) {
		rc = -EISDIR;
		goto out;
	}
	if (!S_ISREG(ip->a.mode)) {
		rc = -ENODEV;
		goto out;
	}
	na = ip->a;
	/*
	 * Allocating takes no space here, but a caller asking for space learns
	 * it is not there. Punch and zero range store no zeros: never refused.
	 */
	if (!(mode & (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE))) {
		rc = space_need(fs, (uint64_t)len, 0);
		if (rc)
			goto out;
	}
	if (mode == 0) {
		/* Allocation promises nothing here: holes cost nothing and read as zeros. */
		if (end <= na.size)
			goto out;
		na.size = end;
	} else if (mode == FALLOC_FL_KEEP_SIZE) {
		goto out;
	}
	rc = op_begin(fs, &op);
	if (rc)
		goto out;
	/*
	 * Punch and zero range do the same to the bytes: the whole chunks go
	 * (holes), the partial ones are rewritten with the range zeroed. No
	 * chunk is stored past the end of file, so there is nothing to zero
	 * there.
	 */
	if (mode != 0 && (uint64_t)off < na.size)
		rc = punch_locked(&op, ino, &na, (uint64_t)off, end < na.size ? end : na.size);
	if (rc)
		goto out;
	/* Without KEEP_SIZE a zero range grows the file as mode 0 does: with a hole. */
	if (mode == FALLOC_FL_ZERO_RANGE && end > na.size)
		na.size = end;
	/* Both times change, as on ext4, even where no byte or size did (past EOF). */
	na.mtime = na.ctime = lsmfs_now();
	kill_suid(ctx, &na);
	rc = op_put_inode(&op, ino, &na);
	if (!rc)
		rc = op_commit(&op);
	if (!rc)
		ip->a = na;
out:
	op_end(&op);
	iunlock_put(fs, ip);
	return rc;
}

struct seek_ctx {
	uint64_t expect; /* SEEK_HOLE: the next index that would continue the data run */
	uint64_t found;
	int hole;
};

static int seek_one(void *arg, uint64_t idx, const struct fref *ref)
{
	struct seek_ctx *s = arg;

	(void)ref;
	if (!s->hole) {
		s->found = idx;
		return 1;
	}
	if (idx != s->expect)
		return 1; /* a gap: expect is the first hole */
	s->expect = idx + 1;
	return 0;
}

off_t lsmfs_lseek(lsmfs *fs, uint64_t ino, off_t off, int whence)
{
	struct lsmfs_inode *ip;
	struct seek_ctx s = {.found = UINT64_MAX};
	uint64_t cs = fs->cs, pos = 0;
	int rc;

	if (whence != SEEK_DATA && whence != SEEK_HOLE)
		return -EINVAL;
	if (off < 0)
		return -ENXIO;
	rc = ilock_get(fs, ino, &ip);
	if (rc)
		return rc;
	if (S_ISDIR(ip->a.mode)) {
		rc = -EISDIR; /* ext4 too gives no SEEK_DATA on directories */
		goto out;
	}
	if ((uint64_t)off >= ip->a.size) {
		rc = -ENXIO;
		goto out;
	}
	s.hole = whence == SEEK_HOLE;
	s.expect = (uint64_t)off / cs;
	rc = chunk_scan(fs, ino, (uint64_t)off / cs, seek_one, &s);
	if (rc < 0)
		goto out;
	rc = 0;
	if (s.hole) {
		/* The first missing index, or the end of file (there is always a hole there). */
		pos = s.expect * cs;
		if (pos < (uint64_t)off)
			pos = (uint64_t)off;
		if (pos > ip->a.size)
			pos = ip->a.size;
	} else {
		if (s.found == UINT64_MAX || s.found * cs >= ip->a.size) {
			rc = -ENXIO;
			goto out;
		}
		pos = s.found * cs > (uint64_t)off ? s.found * cs : (uint64_t)off;
	}
out:
	iunlock_put(fs, ip);
	return rc ? rc : (off_t)pos;
}

/* One destination chunk's worth of a copy: shared by reference, or bytes. */
struct piece {
	uint64_t idx;  /* destination chunk */
	uint32_t s, e; /* byte range inside it */
	int share;
	struct fref ref; /* share: the source chunk (len 0: a hole) */
	uint8_t *bytes;	 /* !share: e - s bytes */
};

static int copy_gather(lsmfs *fs, uint64_t ino_in, uint64_t off_in, uint64_t off_out, uint64_t len,
		       struct piece *p, size_t *np)
{
	uint64_t cs = fs->cs, done = 0;
	size_t n = 0;
	int rc = 0;

	/* Everything is read before anything is written: in and out may be one file. */
	while (done < len) {
		uint64_t pos = off_out + done, s = pos % cs;
		uint64_t take = cs - s < len - done ? cs - s : len - done;
		uint64_t src = off_in + done;

		p[n].idx = pos / cs;
		p[n].s = (uint32_t)s;
		p[n].e = (uint32_t)(s + take);
		p[n].bytes = NULL;
		p[n].share = s == 0 && take == cs && src % cs == 0;
		if (p[n].share) {
			rc = chunk_ref_get(fs, ino_in, src / cs, &p[n].ref);
			/* A patched or inline chunk is no stored chunk to share: its bytes are
			 * copied. */
			p[n].share = !rc && p[n].ref.npatch == 0 && !p[n].ref.inl;
		}
		if (!rc && !p[n].share) {
			p[n].bytes = malloc(take);
			rc = p[n].bytes ? read_at(fs, NULL, ino_in, p[n].bytes, take, src)
					: -ENOMEM;
		}
		n++;
		if (rc)
			break;
		done += take;
	}
	*np = n;
	return rc;
}

static int copy_apply(struct fs_op *op, uint64_t ino, struct lsmfs_attr *a, struct piece *p,
		      size_t np)
{
	lsmfs *fs = op->fs;
	int rc = 0;

	for (size_t i = 0; i < np && !rc; i++) {
		struct fref old;

		if (p[i].share) {
			rc = chunk_ref_get(fs, ino, p[i].idx, &old);
			if (!rc)
				rc = chunk_share(op, ino, a, p[i].idx, &old, &p[i].ref);
		} else {
			/* op's until commit: op_ref borrows the merged chunk's bytes. */
			uint8_t *tmp = op_alloc(op, fs->cs);

			rc = tmp ? chunk_read(fs, ino, p[i].idx, tmp, &old) : -ENOMEM;
			if (!rc) {
				uint32_t end = fref_end(&old) > p[i].e ? fref_end(&old) : p[i].e;

				memcpy(tmp + p[i].s, p[i].bytes, p[i].e - p[i].s);
				rc = chunk_store_upto(op, ino, a, p[i].idx, &old, tmp, fs->cs, end);
			}
		}
	}
	return rc;
}

ssize_t lsmfs_copy_file_range(lsmfs *fs, const lsmfs_ctx *ctx, uint64_t ino_in, off_t off_in,
			      uint64_t ino_out, off_t off_out, size_t len)
{
	struct lockset ls;
	struct lock_ent *ie, *oe;
	struct piece *p = NULL;
	struct fs_op op;
	size_t np = 0, maxp;
	uint64_t n = 0;
	int rc;

	memset(&op, 0, sizeof(op));
	if (off_in < 0 || off_out < 0)
		return -EINVAL;
	lockset_init(&ls);
	lockset_add(&ls, ino_in);
	lockset_add(&ls, ino_out);
	rc = lockset_lock(fs, &ls);
	if (rc)
		return rc;
	ie = lockset_find(&ls, ino_in);
	oe = lockset_find(&ls, ino_out);
	if (ie->ip->state != INODE_LOADED || oe->ip->state != INODE_LOADED) {
		rc = -ENOENT;
		goto out;
	}
	rc = check_regular(&ie->na);
	if (!rc)
		rc = check_regular(&oe->na);
	if (rc || (uint64_t)off_in >= ie->na.size)
		goto out;
	n = ie->na.size - (uint64_t)off_in;
	if (n > len)
		n = len;
	if (n > COPY_MAX)
		n = COPY_MAX;
	if (n == 0)
		goto out;
	if (ino_in == ino_out && (uint64_t)off_in < (uint64_t)off_out + n &&
	    (uint64_t)off_out < (uint64_t)off_in + n) {
		rc = -EINVAL; /* overlapping ranges of one file, as the kernel refuses */
		goto out;
	}
	if (n > (uint64_t)LSMFS_MAX_FILESIZE - (uint64_t)off_out) {
		rc = -EFBIG;
		goto out;
	}
	maxp = (size_t)(n / fs->cs + 2);
	p = calloc(maxp, sizeof(*p));
	if (!p) {
		rc = -ENOMEM;
		goto out;
	}
	rc = space_need(fs, n, 1);
	if (!rc)
		rc = copy_gather(fs, ino_in, (uint64_t)off_in, (uint64_t)off_out, n, p, &np);
	if (!rc)
		rc = op_begin(fs, &op);
	if (!rc)
		rc = copy_apply(&op, ino_out, &oe->na, p, np);
	if (rc)
		goto out;
	if ((uint64_t)off_out + n > oe->na.size)
		oe->na.size = (uint64_t)off_out + n;
	oe->na.mtime = oe->na.ctime = lsmfs_now();
	kill_suid(ctx, &oe->na);
	oe->dirty = 1;
	rc = lockset_stage(&ls, &op);
	if (!rc)
		rc = op_commit(&op);
	if (!rc)
		lockset_apply(&ls);
out:
	for (size_t i = 0; i < np; i++)
		free(p[i].bytes);
	free(p);
	op_end(&op);
	lockset_unlock(fs, &ls);
	return rc ? rc : (ssize_t)n;
}
