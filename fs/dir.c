/*
 * dir.c — directory entries (D keys): lookup, readdir with stable cookies,
 * creating nodes (mknod, mkdir, symlink, create), readlink, unlink, rmdir,
 * link. Entry key and cookie layout: keys.h.
 */
#include "fs_impl.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>

int name_check(const char *name, size_t *len)
{
	size_t n = name ? strnlen(name, LSMFS_NAME_MAX + 1) : 0;

	*len = n;
	if (n == 0)
		return -ENOENT;
	if (n > LSMFS_NAME_MAX)
		return -ENAMETOOLONG;
	if (memchr(name, '/', n))
		return -EINVAL;
	return 0;
}

static int is_dot(const char *name, size_t n)
{
	return (n == 1 && name[0] == '.') || (n == 2 && name[0] == '.' && name[1] == '.');
}

static void dent_key(lsmfs *fs, struct fkey *k, uint64_t parent, const char *name, size_t nlen)
{
	key_dent(k, parent, name_hash(fs->sb.uuid, name, nlen), name, nlen);
}

int dent_get(lsmfs *fs, uint64_t parent, const char *name, size_t nlen, uint64_t *ino,
	     uint8_t *dtype)
{
	struct fkey k;
	void *v = NULL;
	size_t vlen = 0;
	int rc;

	dent_key(fs, &k, parent, name, nlen);
	rc = fs_get(fs, &k, &v, &vlen, parent);
	if (rc == LSM_NOTFOUND)
		rc = -ENOENT;
	if (rc)
		goto out;
	if (vlen < DENT_VAL_LEN) {
		fs_log("inode %" PRIu64 ": directory entry of %zu bytes", parent, vlen);
		rc = -EIO;
		goto out;
	}
	*ino = get_be64(v);
	if (dtype)
		*dtype = ((uint8_t *)v)[8];
out:
	free(v);
	return rc;
}

int dent_put(struct fs_op *op, uint64_t parent, const char *name, size_t nlen, uint64_t ino,
	     uint32_t mode)
{
	struct fkey k;
	uint8_t v[DENT_VAL_LEN];

	dent_key(op->fs, &k, parent, name, nlen);
	put_be64(v, ino);
	v[8] = (uint8_t)IFTODT(mode);
	return op_put(op, &k, v, sizeof(v));
}

int dent_del(struct fs_op *op, uint64_t parent, const char *name, size_t nlen)
{
	struct fkey k;

	dent_key(op->fs, &k, parent, name, nlen);
	return op_del(op, &k);
}

int dir_is_empty(lsmfs *fs, uint64_t ino)
{
	struct fkey pfx;
	lsm_iter *it = lsm_iter_new(fs->db, NULL);
	int rc;

	if (!it)
		return -ENOMEM;
	key_ino(&pfx, KEY_DENT, ino);
	lsm_iter_seek(it, pfx.b, pfx.len);
	rc = 1;
	if (lsm_iter_valid(it)) {
		size_t klen;
		const void *key = lsm_iter_key(it, &klen);

		if (klen >= pfx.len && memcmp(key, pfx.b, pfx.len) == 0)
			rc = 0;
	}
	if (lsm_iter_status(it))
		rc = fs_err(fs, lsm_iter_status(it), "scan", ino);
	lsm_iter_free(it);
	return rc;
}

/* Checks that a locked inode is a live directory that can take entries. */
static int dir_usable(const struct lock_ent *pe)
{
	if (pe->ip->state != INODE_LOADED)
		return -ENOENT;
	if (!S_ISDIR(pe->na.mode))
		return -ENOTDIR;
	if (pe->na.nlink == 0)
		return -ENOENT; /* removed while we were on our way */
	return 0;
}

/* An entry named an inode that does not exist: say so, fail this call only. */
static int dangling(uint64_t parent, const char *name, uint64_t ino)
{
	fs_log("inode %" PRIu64 ": entry \"%s\" names inode %" PRIu64 ", which does not exist",
	       parent, name, ino);
	return -EIO;
}

int lsmfs_lookup(lsmfs *fs, uint64_t parent, const char *name, struct stat *st)
{
	struct lsmfs_inode *dp, *ip;
	uint64_t ino = 0;
	size_t nlen;
	int rc;

	rc = name_check(name, &nlen);
	if (rc)
		return rc;
	rc = ilock_get(fs, parent, &dp);
	if (rc)
		return rc;
	if (!S_ISDIR(dp->a.mode))
		rc = -ENOTDIR;
	else if (nlen == 1 && name[0] == '.')
		ino = parent;
	else if (nlen == 2 && name[0] == '.' && name[1] == '.')
		ino = dp->a.parent;
	/* The parent is released before the child is locked: the child may be the smaller. */
	iunlock_put(fs, dp);
	if (rc)
		return rc;
	if (!ino) {
		rc = dent_get(fs, parent, name, nlen, &ino, NULL);
		if (rc)
			return rc;
	}
	rc = ilock_get(fs, ino, &ip);
	if (rc)
		return rc; /* -ENOENT: unlinked and freed since we read the entry */
	inode_to_stat(fs, ino, &ip->a, st);
	inode_add_lookup(fs, ip, 1);
	iunlock_put(fs, ip);
	return 0;
}

/* Attributes of ino for readdir; counts a lookup if count is set. */
static int dirent_stat(lsmfs *fs, uint64_t ino, int count, struct stat *st)
{
	struct lsmfs_inode *ip;
	int rc = ilock_get(fs, ino, &ip);

	if (rc)
		return rc;
	inode_to_stat(fs, ino, &ip->a, st);
	if (count)
		inode_add_lookup(fs, ip, 1);
	iunlock_put(fs, ip);
	return 0;
}

/* Updates atime after a read of ino, relatime-style. Takes ino's lock. */
static void touch_atime(lsmfs *fs, uint64_t ino)
{
	struct lsmfs_inode *ip;

	if (fs->read_only || ilock_get(fs, ino, &ip))
		return;
	inode_touch_atime(fs, ip);
	iunlock_put(fs, ip);
}

int lsmfs_readdir(lsmfs *fs, uint64_t ino, uint64_t cookie, int plus, lsmfs_dirent_fn fn, void *arg)
{
	struct lsmfs_inode *dp;
	struct fkey pfx, start;
	struct stat st;
	lsm_iter *it = NULL;
	uint64_t dparent, group = UINT64_MAX, skip_hash = 0;
	unsigned rank = 0, skip_rank = 0;
	int rc, skipping = 0;

	rc = ilock_get(fs, ino, &dp);
	if (rc)
		return rc;
	dparent = dp->a.parent;
	if (!S_ISDIR(dp->a.mode))
		rc = -ENOTDIR;
	memset(&st, 0, sizeof(st));
	inode_to_stat(fs, ino, &dp->a, &st);
	iunlock_put(fs, dp);
	if (rc)
		return rc;

	if (cookie == 0 && fn(arg, ".", &st, 1))
		goto out;
	if (cookie <= 1) {
		memset(&st, 0, sizeof(st));
		st.st_ino = dparent;
		st.st_mode = S_IFDIR;
		if (plus && dirent_stat(fs, dparent, 0, &st))
			st.st_ino = dparent;
		if (fn(arg, "..", &st, 2))
			goto out;
	}
	it = lsm_iter_new(fs->db, NULL);
	if (!it) {
		rc = -ENOMEM;
		goto out;
	}
	key_ino(&pfx, KEY_DENT, ino);
	if (cookie <= 2) {
		start = pfx;
	} else {
		/* Resume inside the cookie's hash group, after the rank it names. */
		uint64_t c = cookie - COOKIE_FIRST;

		skip_hash = c >> COOKIE_RANK_BITS;
		skip_rank = (unsigned)(c & ((1u << COOKIE_RANK_BITS) - 1));
		skipping = 1;
		key_dent(&start, ino, skip_hash, NULL, 0);
	}
	for (lsm_iter_seek(it, start.b, start.len); lsm_iter_valid(it); lsm_iter_next(it)) {
		size_t klen, vlen, nlen;
		const uint8_t *key = lsm_iter_key(it, &klen);
		const uint8_t *val = lsm_iter_value(it, &vlen);
		char name[LSMFS_NAME_MAX + 1];
		uint64_t h, child, next;
		unsigned r;

		if (klen < pfx.len || memcmp(key, pfx.b, pfx.len) != 0)
			break;
		if (klen < 18 || klen > 17 + LSMFS_NAME_MAX || vlen < DENT_VAL_LEN) {
			fs_log("inode %" PRIu64 ": malformed directory entry skipped", ino);
			continue;
		}
		h = get_be64(key + 9);
		rank = h == group ? rank + 1 : 0;
		group = h;
		/* Ranks beyond 255 share the last cookie: resuming there may repeat (never seen).
		 */
		r = rank < (1u << COOKIE_RANK_BITS) ? rank : (1u << COOKIE_RANK_BITS) - 1;
		if (skipping && h == skip_hash && r <= skip_rank)
			continue;
		skipping = 0;
		nlen = klen - 17;
		memcpy(name, key + 17, nlen);
		name[nlen] = '\0';
		child = get_be64(val);
		next = ((h << COOKIE_RANK_BITS) | r) + COOKIE_FIRST;
		memset(&st, 0, sizeof(st));
		st.st_ino = child;
		st.st_mode = DTTOIF(val[8]);
		if (plus) {
			/* Counted before fn sees it, so a concurrent unlink cannot free it between.
			 */
			rc = dirent_stat(fs, child, 1, &st);
			if (rc == -ENOENT) {
				rc = 0;
				continue; /* unlinked since the iterator's snapshot */
			}
			if (rc)
				goto out;
		}
		if (fn(arg, name, &st, next)) {
			if (plus)
				lsmfs_forget(fs, child, 1);
			break;
		}
	}
	rc = fs_err(fs, lsm_iter_status(it), "readdir", ino);
out:
	lsm_iter_free(it);
	if (!rc)
		touch_atime(fs, ino);
	return rc;
}

/* What a new node is: its mode, device, and symlink target. */
struct node_spec {
	mode_t mode; /* type and permission bits, umask already applied */
	dev_t rdev;
	const char *target;
	int open; /* lsmfs_create: count an open handle */
};

static int create_node(lsmfs *fs, const lsmfs_ctx *ctx, uint64_t parent, const char *name,
		       const struct node_spec *spec, struct stat *out)
{
	struct lockset ls;
	struct lock_ent *pe;
	struct lsmfs_attr a;
	struct lsmfs_inode *ip;
	struct fs_op op;
	uint64_t ino, existing;
	size_t nlen;
	int64_t now;
	int rc;

	memset(&op, 0, sizeof(op));
	lockset_init(&ls);
	rc = name_check(name, &nlen);
	if (rc)
		return rc;
	lockset_add(&ls, parent);
	rc = lockset_lock(fs, &ls);
	if (rc)
		return rc;
	pe = lockset_find(&ls, parent);
	rc = dir_usable(pe);
	if (rc)
		goto out;
	if (is_dot(name, nlen)) {
		rc = -EEXIST;
		goto out;
	}
	rc = dent_get(fs, parent, name, nlen, &existing, NULL);
	if (rc == 0)
		rc = -EEXIST;
	if (rc != -ENOENT)
		goto out;
	if (S_ISDIR(spec->mode) && pe->na.nlink >= LSMFS_NLINK_MAX) {
		rc = -EMLINK;
		goto out;
	}
	rc = space_need(fs, SPACE_META_BYTES, 1);
	if (!rc)
		rc = op_begin(fs, &op);
	if (!rc)
		rc = op_alloc_ino(&op, &ino);
	if (rc)
		goto out;

	now = lsmfs_now();
	memset(&a, 0, sizeof(a));
	a.mode = spec->mode;
	a.uid = ctx->uid;
	a.gid = ctx->gid;
	if (pe->na.mode & S_ISGID) {
		/* BSD group semantics in a setgid directory; subdirectories keep the bit. */
		a.gid = pe->na.gid;
		if (S_ISDIR(a.mode))
			a.mode |= S_ISGID;
	}
	a.nlink = S_ISDIR(a.mode) ? 2 : 1;
	a.rdev = (S_ISCHR(a.mode) || S_ISBLK(a.mode)) ? (uint64_t)spec->rdev : 0;
	a.generation = 1;
	a.parent = parent;
	a.atime = a.mtime = a.ctime = now;
	if (spec->target) {
		struct fkey k;

		a.size = strlen(spec->target);
		key_ino(&k, KEY_LINK, ino);
		rc = op_put(&op, &k, spec->target, a.size);
		if (rc)
			goto out;
	}
	rc = op_put_inode(&op, ino, &a);
	if (!rc)
		rc = dent_put(&op, parent, name, nlen, ino, a.mode);
	if (rc)
		goto out;
	pe->na.mtime = pe->na.ctime = now;
	if (S_ISDIR(a.mode))
		pe->na.nlink++;
	pe->dirty = 1;
	rc = lockset_stage(&ls, &op);
	if (!rc)
		rc = op_commit(&op);
	if (rc)
		goto out;
	lockset_apply(&ls);

	/* The new inode is larger than any existing one, so locking it here keeps the order. */
	ip = iget(fs, ino);
	if (ip) {
		pthread_mutex_lock(&ip->mu);
		ip->a = a;
		ip->state = INODE_LOADED;
		inode_add_lookup(fs, ip, 1);
		if (spec->open)
			inode_add_open(fs, ip, 1);
		iunlock_put(fs, ip);
	}
	/* Without a cache entry the counts are lost; the inode lives until unlinked. */
	if (out)
		inode_to_stat(fs, ino, &a, out);
out:
	op_end(&op);
	lockset_unlock(fs, &ls);
	return rc;
}

int lsmfs_mknod(lsmfs *fs, const lsmfs_ctx *ctx, uint64_t parent, const char *name, mode_t mode,
		dev_t rdev, struct stat *out)
{
	struct node_spec spec = {.rdev = rdev};
	mode_t type = mode & S_IFMT;

	if (type == 0)
		type = S_IFREG; /* mknod(2): a zero type means a regular file */
	if (type == S_IFDIR)
		return -EPERM;
	if (type != S_IFREG && type != S_IFCHR && type != S_IFBLK && type != S_IFIFO &&
	    type != S_IFSOCK)
		return -EINVAL;
	spec.mode = type | (mode & 07777 & ~ctx->umask);
	return create_node(fs, ctx, parent, name, &spec, out);
}

int lsmfs_mkdir(lsmfs *fs, const lsmfs_ctx *ctx, uint64_t parent, const char *name, mode_t mode,
		struct stat *out)
{
	struct node_spec spec = {.mode = S_IFDIR | (mode & 01777 & ~ctx->umask)};

	return create_node(fs, ctx, parent, name, &spec, out);
}

int lsmfs_symlink(lsmfs *fs, const lsmfs_ctx *ctx, uint64_t parent, const char *name,
		  const char *target, struct stat *out)
{
	struct node_spec spec = {.mode = S_IFLNK | 0777, .target = target};
	size_t tlen = target ? strnlen(target, LSMFS_SYMLINK_MAX + 1) : 0;

	if (tlen == 0)
		return -ENOENT;
	if (tlen > LSMFS_SYMLINK_MAX)
		return -ENAMETOOLONG;
	return create_node(fs, ctx, parent, name, &spec, out);
}

int lsmfs_create(lsmfs *fs, const lsmfs_ctx *ctx, uint64_t parent, const char *name, mode_t mode,
		 int flags, struct stat *out)
{
	struct node_spec spec = {.mode = S_IFREG | (mode & 07777 & ~ctx->umask), .open = 1};
	struct stat st;
	int rc;

	rc = create_node(fs, ctx, parent, name, &spec, out);
	if (rc != -EEXIST || (flags & O_EXCL))
		return rc;
	/* Someone created it first: open(2) without O_EXCL opens the existing file. */
	rc = lsmfs_lookup(fs, parent, name, &st);
	if (rc)
		return rc;
	if (S_ISDIR(st.st_mode)) {
		lsmfs_forget(fs, st.st_ino, 1);
		return -EISDIR;
	}
	rc = lsmfs_open(fs, ctx, st.st_ino, flags);
	if (!rc && out)
		rc = lsmfs_getattr(fs, st.st_ino, out);
	if (rc)
		lsmfs_forget(fs, st.st_ino, 1);
	return rc;
}

int lsmfs_readlink(lsmfs *fs, uint64_t ino, char *buf, size_t size)
{
	struct lsmfs_inode *ip;
	struct fkey k;
	void *v = NULL;
	size_t vlen = 0;
	int rc = ilock_get(fs, ino, &ip);

	if (rc)
		return rc;
	if (!S_ISLNK(ip->a.mode)) {
		rc = -EINVAL;
		goto out;
	}
	key_ino(&k, KEY_LINK, ino);
	rc = fs_get(fs, &k, &v, &vlen, ino);
	if (rc == LSM_NOTFOUND) {
		fs_log("inode %" PRIu64 ": symlink target missing", ino);
		rc = -EIO;
	}
	if (rc)
		goto out;
	if (size) {
		size_t n = vlen < size - 1 ? vlen : size - 1;

		memcpy(buf, v, n);
		buf[n] = '\0';
	}
	rc = (int)vlen;
out:
	free(v);
	iunlock_put(fs, ip);
	return rc;
}

/*
 * Locks parent and the inode its entry name points at, in inode order, and
 * re-reads the entry until both agree. On 0 the caller owns ls (locked).
 */
static int lock_entry(lsmfs *fs, uint64_t parent, const char *name, size_t nlen, struct lockset *ls,
		      uint64_t *child)
{
	struct lsmfs_inode *dp;
	uint64_t again;
	int rc;

	for (;;) {
		rc = dent_get(fs, parent, name, nlen, child, NULL);
		if (rc == -ENOENT) {
			/* Tell "no such entry" from "parent is not a directory". */
			rc = ilock_get(fs, parent, &dp);
			if (rc)
				return rc;
			rc = S_ISDIR(dp->a.mode) ? -ENOENT : -ENOTDIR;
			iunlock_put(fs, dp);
			return rc;
		}
		if (rc)
			return rc;
		lockset_init(ls);
		lockset_add(ls, parent);
		lockset_add(ls, *child);
		rc = lockset_lock(fs, ls);
		if (rc)
			return rc;
		rc = dir_usable(lockset_find(ls, parent));
		if (rc)
			goto fail;
		rc = dent_get(fs, parent, name, nlen, &again, NULL);
		if (rc == -ENOENT) {
			lockset_unlock(fs, ls);
			continue; /* removed meanwhile: start over, the answer is then ENOENT */
		}
		if (rc)
			goto fail;
		if (again != *child) {
			lockset_unlock(fs, ls);
			continue; /* replaced meanwhile (rename): lock the new one */
		}
		if (lockset_find(ls, *child)->ip->state != INODE_LOADED) {
			rc = dangling(parent, name, *child);
			goto fail;
		}
		return 0;
	}
fail:
	lockset_unlock(fs, ls);
	return rc;
}

/* Shared by unlink and rmdir: removes the locked entry and drops the link(s). */
static int remove_entry(lsmfs *fs, uint64_t parent, const char *name, size_t nlen, int dir)
{
	struct lockset ls;
	struct lock_ent *pe, *ce;
	struct fs_op op;
	uint64_t child;
	int64_t now;
	int rc, reap = 0;

	memset(&op, 0, sizeof(op));
	rc = lock_entry(fs, parent, name, nlen, &ls, &child);
	if (rc)
		return rc;
	pe = lockset_find(&ls, parent);
	ce = lockset_find(&ls, child);
	if (dir && !S_ISDIR(ce->na.mode)) {
		rc = -ENOTDIR;
		goto out;
	}
	if (!dir && S_ISDIR(ce->na.mode)) {
		rc = -EISDIR;
		goto out;
	}
	if (dir) {
		rc = dir_is_empty(fs, child);
		if (rc <= 0) {
			rc = rc ? rc : -ENOTEMPTY;
			goto out;
		}
	}
	rc = op_begin(fs, &op);
	if (!rc)
		rc = dent_del(&op, parent, name, nlen);
	if (rc)
		goto out;
	now = lsmfs_now();
	pe->na.mtime = pe->na.ctime = now;
	pe->dirty = 1;
	ce->na.ctime = now;
	ce->dirty = 1;
	if (dir) {
		/* The child's ".." no longer counts on the parent; an empty dir has no links left.
		 */
		pe->na.nlink--;
		ce->na.nlink = 0;
	} else {
		ce->na.nlink--;
	}
	if (ce->na.nlink == 0)
		rc = inode_unlinked(&op, ce->ip, &ce->na, &ce->freed);
	if (!rc)
		rc = lockset_stage(&ls, &op);
	if (!rc)
		rc = op_commit(&op);
	if (!rc)
		lockset_apply(&ls);
	reap = !rc && ce->na.nlink == 0 && !ce->freed;
out:
	op_end(&op);
	lockset_unlock(fs, &ls);
	if (reap)
		inode_reap(fs, child);
	return rc;
}

int lsmfs_unlink(lsmfs *fs, uint64_t parent, const char *name)
{
	size_t nlen;
	int rc = name_check(name, &nlen);

	if (rc)
		return rc;
	if (is_dot(name, nlen))
		return -EISDIR;
	return remove_entry(fs, parent, name, nlen, 0);
}

int lsmfs_rmdir(lsmfs *fs, uint64_t parent, const char *name)
{
	size_t nlen;
	int rc = name_check(name, &nlen);

	if (rc)
		return rc;
	if (nlen == 1 && name[0] == '.')
		return -EINVAL;
	if (nlen == 2 && name[0] == '.' && name[1] == '.')
		return -ENOTEMPTY;
	return remove_entry(fs, parent, name, nlen, 1);
}

int lsmfs_link(lsmfs *fs, uint64_t ino, uint64_t newparent, const char *newname, struct stat *out)
{
	struct lockset ls;
	struct lock_ent *ie, *pe;
	struct fs_op op;
	uint64_t existing;
	size_t nlen;
	int64_t now;
	int rc;

	memset(&op, 0, sizeof(op));
	lockset_init(&ls);
	rc = name_check(newname, &nlen);
	if (rc)
		return rc;
	lockset_add(&ls, ino);
	lockset_add(&ls, newparent);
	rc = lockset_lock(fs, &ls);
	if (rc)
		return rc;
	ie = lockset_find(&ls, ino);
	pe = lockset_find(&ls, newparent);
	if (ie->ip->state != INODE_LOADED || ie->na.nlink == 0) {
		rc = -ENOENT; /* ext4 refuses to link an unlinked file too */
		goto out;
	}
	if (S_ISDIR(ie->na.mode)) {
		rc = -EPERM;
		goto out;
	}
	rc = dir_usable(pe);
	if (rc)
		goto out;
	if (is_dot(newname, nlen)) {
		rc = -EEXIST;
		goto out;
	}
	rc = dent_get(fs, newparent, newname, nlen, &existing, NULL);
	if (rc == 0)
		rc = -EEXIST;
	if (rc != -ENOENT)
		goto out;
	if (ie->na.nlink >= LSMFS_NLINK_MAX) {
		rc = -EMLINK;
		goto out;
	}
	rc = space_need(fs, SPACE_META_BYTES, 1);
	if (!rc)
		rc = op_begin(fs, &op);
	if (!rc)
		rc = dent_put(&op, newparent, newname, nlen, ino, ie->na.mode);
	if (rc)
		goto out;
	now = lsmfs_now();
	ie->na.nlink++;
	ie->na.ctime = now;
	ie->dirty = 1;
	pe->na.mtime = pe->na.ctime = now;
	pe->dirty = 1;
	rc = lockset_stage(&ls, &op);
	if (!rc)
		rc = op_commit(&op);
	if (rc)
		goto out;
	lockset_apply(&ls);
	inode_add_lookup(fs, ie->ip, 1);
	if (out)
		inode_to_stat(fs, ino, &ie->na, out);
out:
	op_end(&op);
	lockset_unlock(fs, &ls);
	return rc;
}
