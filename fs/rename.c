/*
 * rename.c — rename(2) and renameat2's RENAME_NOREPLACE / RENAME_EXCHANGE,
 * as one batch: entries, both parents' link counts and times, the moved
 * directory's parent field, and a replaced target's unlink.
 */
#include "fs_impl.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>

static int is_dot(const char *name, size_t n)
{
	return (n == 1 && name[0] == '.') || (n == 2 && name[0] == '.' && name[1] == '.');
}

/*
 * -EINVAL if directory anc is start or one of its ancestors. REQUIRES:
 * fs->rename_mu held, so that no directory changes parent during the walk.
 * Reads the engine rather than the cache: the walk must not take inode
 * locks out of order, and a directory's I key always carries its parent.
 */
static int check_not_ancestor(lsmfs *fs, uint64_t anc, uint64_t start)
{
	uint64_t ino = start;
	int rc = 0;

	for (unsigned depth = 0;; depth++) {
		struct lsmfs_attr a;
		struct fkey k;
		void *v = NULL;
		size_t vlen = 0;

		if (ino == anc)
			return -EINVAL;
		if (ino == LSMFS_ROOT_INO)
			return 0;
		if (depth > 1000000) {
			fs_log("inode %" PRIu64 ": directory parents form a loop", start);
			return -EIO;
		}
		key_ino(&k, KEY_INODE, ino);
		rc = fs_get(fs, &k, &v, &vlen, ino);
		if (rc == 0 && inode_decode(&a, v, vlen))
			rc = -EIO;
		free(v);
		if (rc == LSM_NOTFOUND)
			return -ENOENT; /* a directory on the way was removed */
		if (rc)
			return rc;
		ino = a.parent;
	}
}

/* Reads the entry; 0 with *ino, or *ino = 0 when absent (rc 0 too). */
static int entry_or_none(lsmfs *fs, uint64_t parent, const char *name, size_t nlen, uint64_t *ino)
{
	int rc = dent_get(fs, parent, name, nlen, ino, NULL);

	if (rc == -ENOENT) {
		*ino = 0;
		rc = 0;
	}
	return rc;
}

static int usable_dir(const struct lock_ent *e)
{
	if (e->ip->state != INODE_LOADED)
		return -ENOENT;
	if (!S_ISDIR(e->na.mode))
		return -ENOTDIR;
	return e->na.nlink ? 0 : -ENOENT;
}

struct rn {
	lsmfs *fs;
	uint64_t parent, newparent, src, dst;
	const char *name, *newname;
	size_t nlen, newlen;
	unsigned flags;
	uint64_t reap; /* set by rename_locked: inode_reap this after unlocking */
};

/* Builds and writes the batch. REQUIRES: every inode of ls locked and checked. */
static int rename_locked(struct rn *r, struct lockset *ls)
{
	lsmfs *fs = r->fs;
	struct lock_ent *pe = lockset_find(ls, r->parent), *npe = lockset_find(ls, r->newparent);
	struct lock_ent *se = lockset_find(ls, r->src),
			*de = r->dst ? lockset_find(ls, r->dst) : NULL;
	int cross = r->parent != r->newparent;
	int sdir = S_ISDIR(se->na.mode), ddir = de && S_ISDIR(de->na.mode);
	int exchange = (r->flags & LSMFS_RENAME_EXCHANGE) != 0;
	struct fs_op op;
	int64_t now;
	int rc = 0;

	memset(&op, 0, sizeof(op));
	if (de && de->ip->state != INODE_LOADED) {
		fs_log("inode %" PRIu64 ": entry names missing inode %" PRIu64, r->newparent,
		       r->dst);
		return -EIO;
	}
	if ((r->flags & LSMFS_RENAME_NOREPLACE) && de)
		return -EEXIST;
	if (exchange && !de)
		return -ENOENT;
	if (r->src == r->dst)
		return 0; /* two links of one inode: POSIX says do nothing */
	if (de && !exchange) {
		if (sdir && !ddir)
			return -ENOTDIR;
		if (!sdir && ddir)
			return -EISDIR;
		if (ddir) {
			rc = dir_is_empty(fs, r->dst);
			if (rc <= 0)
				return rc ? rc : -ENOTEMPTY;
			rc = 0;
		}
	}
	if (cross && sdir)
		rc = check_not_ancestor(fs, r->src, r->newparent);
	if (!rc && cross && exchange && ddir)
		rc = check_not_ancestor(fs, r->dst, r->parent);
	if (rc)
		return rc;
	if (cross && sdir && !ddir && npe->na.nlink >= LSMFS_NLINK_MAX)
		return -EMLINK;
	if (cross && exchange && ddir && !sdir && pe->na.nlink >= LSMFS_NLINK_MAX)
		return -EMLINK;

	rc = op_begin(fs, &op);
	if (rc)
		goto out;
	now = lsmfs_now();
	if (exchange) {
		rc = dent_put(&op, r->parent, r->name, r->nlen, r->dst, de->na.mode);
		if (!rc)
			rc = dent_put(&op, r->newparent, r->newname, r->newlen, r->src,
				      se->na.mode);
		if (rc)
			goto out;
		if (cross && sdir != ddir) {
			/* One directory changes sides: a ".." moves with it. */
			pe->na.nlink += ddir ? 1 : -1;
			npe->na.nlink += sdir ? 1 : -1;
		}
		if (cross && sdir)
			se->na.parent = r->newparent;
		if (cross && ddir)
			de->na.parent = r->parent;
		de->na.ctime = now;
		de->dirty = 1;
	} else {
		rc = dent_del(&op, r->parent, r->name, r->nlen);
		if (!rc)
			rc = dent_put(&op, r->newparent, r->newname, r->newlen, r->src,
				      se->na.mode);
		if (rc)
			goto out;
		if (de) {
			/* The replaced target loses this link, as unlink/rmdir would take it. */
			if (ddir) {
				de->na.nlink = 0;
				npe->na.nlink--;
			} else {
				de->na.nlink--;
			}
			de->na.ctime = now;
			de->dirty = 1;
			if (de->na.nlink == 0)
				rc = inode_unlinked(&op, de->ip, &de->na, &de->freed);
			if (rc)
				goto out;
		}
		if (cross && sdir) {
			se->na.parent = r->newparent;
			pe->na.nlink--;
			npe->na.nlink++;
		}
	}
	se->na.ctime = now;
	se->dirty = 1;
	pe->na.mtime = pe->na.ctime = now;
	pe->dirty = 1;
	npe->na.mtime = npe->na.ctime = now;
	npe->dirty = 1;
	rc = lockset_stage(ls, &op);
	if (!rc)
		rc = op_commit(&op);
	if (!rc)
		lockset_apply(ls);
	if (!rc && de && de->na.nlink == 0 && !de->freed)
		r->reap = r->dst; /* an orphan to finish once the locks are gone */
out:
	op_end(&op);
	return rc;
}

int lsmfs_rename(lsmfs *fs, uint64_t parent, const char *name, uint64_t newparent,
		 const char *newname, unsigned flags)
{
	struct rn r = {.fs = fs,
		       .parent = parent,
		       .newparent = newparent,
		       .name = name,
		       .newname = newname,
		       .flags = flags};
	struct lockset ls;
	int cross = parent != newparent;
	uint64_t s2, d2;
	int rc;

	if (flags & ~(unsigned)(LSMFS_RENAME_NOREPLACE | LSMFS_RENAME_EXCHANGE))
		return -EINVAL;
	if ((flags & LSMFS_RENAME_NOREPLACE) && (flags & LSMFS_RENAME_EXCHANGE))
		return -EINVAL;
	rc = name_check(name, &r.nlen);
	if (!rc)
		rc = name_check(newname, &r.newlen);
	if (rc)
		return rc;
	if (is_dot(name, r.nlen) || is_dot(newname, r.newlen))
		return -EINVAL;
	if (cross)
		pthread_mutex_lock(&fs->rename_mu);
	for (;;) {
		/* Read both entries unlocked, lock everything in order, then re-check. */
		rc = dent_get(fs, parent, name, r.nlen, &r.src, NULL);
		if (!rc)
			rc = entry_or_none(fs, newparent, newname, r.newlen, &r.dst);
		if (rc && rc != -ENOENT)
			break;
		lockset_init(&ls);
		lockset_add(&ls, parent);
		lockset_add(&ls, newparent);
		if (!rc) {
			lockset_add(&ls, r.src);
			lockset_add(&ls, r.dst);
		}
		{
			int lrc = lockset_lock(fs, &ls);

			if (lrc) {
				rc = lrc;
				break;
			}
		}
		{
			int prc = usable_dir(lockset_find(&ls, parent));
			int nrc = usable_dir(lockset_find(&ls, newparent));

			if (prc || nrc || rc) {
				/* Name the real cause: a bad parent before a missing source. */
				rc = prc ? prc : nrc ? nrc : rc;
				lockset_unlock(fs, &ls);
				break;
			}
		}
		rc = dent_get(fs, parent, name, r.nlen, &s2, NULL);
		if (!rc)
			rc = entry_or_none(fs, newparent, newname, r.newlen, &d2);
		if (rc == 0 && s2 == r.src && d2 == r.dst) {
			if (lockset_find(&ls, r.src)->ip->state != INODE_LOADED) {
				fs_log("inode %" PRIu64 ": entry names missing inode %" PRIu64,
				       parent, r.src);
				rc = -EIO;
			} else {
				rc = rename_locked(&r, &ls);
			}
			lockset_unlock(fs, &ls);
			break;
		}
		lockset_unlock(fs, &ls);
		if (rc && rc != -ENOENT)
			break;
		/* An entry changed between the unlocked read and the locks: go again. */
	}
	if (cross)
		pthread_mutex_unlock(&fs->rename_mu);
	if (r.reap)
		inode_reap(fs, r.reap);
	return rc;
}
