/*
 * fuse_ops.c — the FUSE low-level handlers of lsmfs, one fsop_<op> per
 * kernel request. Each decodes its request, calls the fs core (lsmfs.h) and
 * replies exactly once; the core returns negative errnos, the kernel wants
 * them positive.
 *
 * No translation tables: the core's inode numbers are the kernel's node ids
 * (both call the root 1), and the core counts opens per inode, so fi->fh is
 * never used. What the kernel caches is governed by the lookup counts: every
 * reply that hands the kernel an entry (lookup, mknod, mkdir, symlink, link,
 * create, readdirplus) adds one reference in the core, and forget drops them.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>

#include "fuse_killpriv.h"
#include "fuse_ops.h"

_Static_assert(FUSE_ROOT_ID == LSMFS_ROOT_INO, "kernel and core must agree on the root");

static struct fsop_state *fsop_st(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

static lsmfs *fsop_fs(fuse_req_t req)
{
	return fsop_st(req)->fs;
}

static void fsop_ctx(fuse_req_t req, lsmfs_ctx *ctx)
{
	const struct fuse_ctx *fc = fuse_req_ctx(req);

	ctx->uid = fc->uid;
	ctx->gid = fc->gid;
	ctx->umask = fc->umask;
}

/* Replies with a negative errno from the core, or success when rc is 0. */
static void fsop_reply_rc(fuse_req_t req, int rc)
{
	fuse_reply_err(req, -rc);
}

static void fsop_fill_entry(const struct fsop_state *s, struct fuse_entry_param *e,
			    const struct stat *st)
{
	memset(e, 0, sizeof(*e));
	e->ino = st->st_ino;
	e->attr = *st;
	e->attr_timeout = s->timeout;
	e->entry_timeout = s->timeout;
}

/*
 * Hands the kernel an entry the core has already counted one lookup for.
 * A reply that cannot be delivered (the request was interrupted) means the
 * kernel never learnt of the entry and will never forget it, so the count
 * is dropped here instead.
 */
static void fsop_reply_entry(fuse_req_t req, const struct stat *st)
{
	struct fsop_state *s = fsop_st(req);
	struct fuse_entry_param e;

	fsop_fill_entry(s, &e, st);
	if (fuse_reply_entry(req, &e) != 0)
		lsmfs_forget(s->fs, st->st_ino, 1);
}

/*
 * Under the writeback cache the kernel reads pages of files opened for
 * writing only (to fill partial pages) and computes append offsets itself,
 * so the core must see such opens as read-write and without O_APPEND.
 */
static int fsop_open_flags(const struct fsop_state *s, int flags)
{
	if (!s->writeback)
		return flags;
	if ((flags & O_ACCMODE) == O_WRONLY)
		flags = (flags & ~O_ACCMODE) | O_RDWR;
	return flags & ~O_APPEND;
}

static void fsop_init(void *userdata, struct fuse_conn_info *conn)
{
	struct fsop_state *s = userdata;
	const unsigned wanted = FUSE_CAP_ASYNC_READ | FUSE_CAP_PARALLEL_DIROPS |
				FUSE_CAP_READDIRPLUS | FUSE_CAP_READDIRPLUS_AUTO |
				FUSE_CAP_CACHE_SYMLINKS;

	conn->want |= wanted & conn->capable;
	/* The daemon is the only writer of the data dir, so the kernel may keep
	 * dirty pages and trust its cached sizes and times. close() and fsync()
	 * still send the dirty pages before they return. */
	if (!s->read_only && !s->no_writeback && (conn->capable & FUSE_CAP_WRITEBACK_CACHE))
		conn->want |= FUSE_CAP_WRITEBACK_CACHE;
	s->writeback = (conn->want & FUSE_CAP_WRITEBACK_CACHE) != 0;
	/* Not the first version of killpriv: dirty pages reach us later from a
	 * kernel thread with uid 0, too late for the core to clear suid/sgid.
	 * The second (fuse_killpriv.c) has the kernel write such a write
	 * through, from the writer; without either the kernel sends the
	 * clearing as a setattr of the mode. */
	conn->want &= ~FUSE_CAP_HANDLE_KILLPRIV;
	/* Nobody else changes the files, so a changed mtime never means the
	 * cached pages went stale. */
	conn->want &= ~FUSE_CAP_AUTO_INVAL_DATA;
	/* 1 MiB requests: a whole chunk of the largest chunk size per write.
	 * The kernel keeps the smaller of its own read-ahead and ours. */
	conn->max_write = 1024 * 1024;
	conn->max_readahead = 1024 * 1024;
}

static void fsop_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct stat st;
	int rc = lsmfs_lookup(fsop_fs(req), parent, name, &st);

	if (rc == -ENOENT) {
		/* A negative entry: the kernel may remember the name is absent
		 * for as long as positive ones, since only it creates names. */
		struct fuse_entry_param e = {.entry_timeout = fsop_st(req)->timeout};

		fuse_reply_entry(req, &e);
	} else if (rc) {
		fsop_reply_rc(req, rc);
	} else {
		fsop_reply_entry(req, &st);
	}
}

static void fsop_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	lsmfs_forget(fsop_fs(req), ino, nlookup);
	fuse_reply_none(req);
}

static void fsop_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
	lsmfs *fs = fsop_fs(req);

	for (size_t i = 0; i < count; i++)
		lsmfs_forget(fs, forgets[i].ino, forgets[i].nlookup);
	fuse_reply_none(req);
}

static void fsop_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct stat st;
	int rc = lsmfs_getattr(fsop_fs(req), ino, &st);

	if (rc)
		fsop_reply_rc(req, rc);
	else
		fuse_reply_attr(req, &st, fsop_st(req)->timeout);
}

static int fsop_setattr_fields(int valid)
{
	static const struct {
		int fuse, core;
	} map[] = {
		{FUSE_SET_ATTR_MODE, LSMFS_SET_MODE},
		{FUSE_SET_ATTR_UID, LSMFS_SET_UID},
		{FUSE_SET_ATTR_GID, LSMFS_SET_GID},
		{FUSE_SET_ATTR_SIZE, LSMFS_SET_SIZE},
		{FUSE_SET_ATTR_ATIME, LSMFS_SET_ATIME},
		{FUSE_SET_ATTR_MTIME, LSMFS_SET_MTIME},
		{FUSE_SET_ATTR_ATIME_NOW, LSMFS_SET_ATIME_NOW},
		{FUSE_SET_ATTR_MTIME_NOW, LSMFS_SET_MTIME_NOW},
		{FUSE_SET_ATTR_CTIME, LSMFS_SET_CTIME},
	};
	int to_set = 0;

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (valid & map[i].fuse)
			to_set |= map[i].core;
	return to_set;
}

/* fi is set for ftruncate() and futimens(); the core needs no handle for
 * them, an open file being just its inode. */
static void fsop_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int valid,
			 struct fuse_file_info *fi)
{
	lsmfs_ctx ctx;
	struct stat st;
	int rc;

	fsop_ctx(req, &ctx);
	rc = lsmfs_setattr(fsop_fs(req), &ctx, ino, attr, fsop_setattr_fields(valid), &st);
	if (rc)
		fsop_reply_rc(req, rc);
	else
		fuse_reply_attr(req, &st, fsop_st(req)->timeout);
}

static void fsop_readlink(fuse_req_t req, fuse_ino_t ino)
{
	char small[256];
	char *buf = small;
	int len = lsmfs_readlink(fsop_fs(req), ino, small, sizeof(small));

	/* Most targets fit on the stack; a longer one is read again whole. */
	if (len >= (int)sizeof(small)) {
		buf = malloc((size_t)len + 1);
		if (!buf)
			len = -ENOMEM;
		else
			len = lsmfs_readlink(fsop_fs(req), ino, buf, (size_t)len + 1);
	}
	if (len < 0)
		fsop_reply_rc(req, len);
	else
		fuse_reply_readlink(req, buf);
	if (buf != small)
		free(buf);
}

static void fsop_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev)
{
	lsmfs_ctx ctx;
	struct stat st;
	int rc;

	fsop_ctx(req, &ctx);
	rc = lsmfs_mknod(fsop_fs(req), &ctx, parent, name, mode, rdev, &st);
	if (rc)
		fsop_reply_rc(req, rc);
	else
		fsop_reply_entry(req, &st);
}

static void fsop_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	lsmfs_ctx ctx;
	struct stat st;
	int rc;

	fsop_ctx(req, &ctx);
	rc = lsmfs_mkdir(fsop_fs(req), &ctx, parent, name, mode, &st);
	if (rc)
		fsop_reply_rc(req, rc);
	else
		fsop_reply_entry(req, &st);
}

static void fsop_symlink(fuse_req_t req, const char *target, fuse_ino_t parent, const char *name)
{
	lsmfs_ctx ctx;
	struct stat st;
	int rc;

	fsop_ctx(req, &ctx);
	rc = lsmfs_symlink(fsop_fs(req), &ctx, parent, name, target, &st);
	if (rc)
		fsop_reply_rc(req, rc);
	else
		fsop_reply_entry(req, &st);
}

static void fsop_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	fsop_reply_rc(req, lsmfs_unlink(fsop_fs(req), parent, name));
}

static void fsop_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	fsop_reply_rc(req, lsmfs_rmdir(fsop_fs(req), parent, name));
}

static void fsop_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
			const char *newname, unsigned int flags)
{
	unsigned core = 0;

	/* RENAME_WHITEOUT belongs to overlay filesystems; ext4 without an
	 * overlay on top never sees it either. */
	if (flags & ~(unsigned)(RENAME_NOREPLACE | RENAME_EXCHANGE)) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	if (flags & RENAME_NOREPLACE)
		core |= LSMFS_RENAME_NOREPLACE;
	if (flags & RENAME_EXCHANGE)
		core |= LSMFS_RENAME_EXCHANGE;
	fsop_reply_rc(req, lsmfs_rename(fsop_fs(req), parent, name, newparent, newname, core));
}

static void fsop_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname)
{
	struct stat st;
	int rc = lsmfs_link(fsop_fs(req), ino, newparent, newname, &st);

	if (rc)
		fsop_reply_rc(req, rc);
	else
		fsop_reply_entry(req, &st);
}

static void fsop_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fsop_state *s = fsop_st(req);
	lsmfs_ctx ctx;
	int rc;

	fsop_ctx(req, &ctx);
	rc = lsmfs_open(s->fs, &ctx, ino, fsop_open_flags(s, fi->flags));
	if (rc) {
		fsop_reply_rc(req, rc);
		return;
	}
	/* Only the kernel changes the data, so its cached pages stay right
	 * across close and reopen; a truncating open is the exception. */
	fi->keep_cache = !(fi->flags & O_TRUNC);
	if (fuse_reply_open(req, fi) != 0)
		lsmfs_release(s->fs, ino);
}

static void fsop_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
			struct fuse_file_info *fi)
{
	struct fsop_state *s = fsop_st(req);
	struct fuse_entry_param e;
	lsmfs_ctx ctx;
	struct stat st;
	int rc;

	fsop_ctx(req, &ctx);
	rc = lsmfs_create(s->fs, &ctx, parent, name, mode, fsop_open_flags(s, fi->flags), &st);
	if (rc) {
		fsop_reply_rc(req, rc);
		return;
	}
	fi->keep_cache = 1;
	fsop_fill_entry(s, &e, &st);
	if (fuse_reply_create(req, &e, fi) != 0) {
		lsmfs_release(s->fs, st.st_ino);
		lsmfs_forget(s->fs, st.st_ino, 1);
	}
}

static void fsop_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		      struct fuse_file_info *fi)
{
	char *buf = malloc(size ? size : 1);
	ssize_t n;

	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	n = lsmfs_read(fsop_fs(req), ino, buf, size, off);
	if (n < 0)
		fuse_reply_err(req, (int)-n);
	else
		fuse_reply_buf(req, buf, (size_t)n);
	free(buf);
}

/*
 * Under FUSE_HANDLE_KILLPRIV_V2 (fuse_killpriv.c) a write, fallocate or
 * copy by someone other than root drops the file's set-id bits in the core
 * (kill_suid), and the kernel, which learns nothing of it from the reply,
 * would keep showing the old mode: for such a caller on such a file the
 * handler checks first and then has the kernel fetch the attributes again.
 * Other writes pay nothing.
 */
static int fsop_had_setid(fuse_req_t req, const lsmfs_ctx *ctx, fuse_ino_t ino)
{
	struct stat st;

	return ctx->uid != 0 && fkp_active() && lsmfs_getattr(fsop_fs(req), ino, &st) == 0 &&
	       (st.st_mode & (S_ISUID | S_ISGID));
}

static void fsop_attr_changed(fuse_req_t req, fuse_ino_t ino)
{
	/* Offset -1: the attributes only, no page. The kernel holds no lock we wait for. */
	(void)fuse_lowlevel_notify_inval_inode(fsop_st(req)->se, ino, -1, 0);
}

static void fsop_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	lsmfs_ctx ctx;
	ssize_t n;
	int had_setid;

	fsop_ctx(req, &ctx);
	had_setid = fsop_had_setid(req, &ctx, ino);
	n = lsmfs_write(fsop_fs(req), &ctx, ino, buf, size, off);
	if (n > 0 && had_setid)
		fsop_attr_changed(req, ino);
	if (n < 0)
		fuse_reply_err(req, (int)-n);
	else
		fuse_reply_write(req, (size_t)n);
}

/* Every write is in the WAL when it is acknowledged, so close() has nothing
 * left to push; the kernel has sent its dirty pages before this arrives. */
static void fsop_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	fuse_reply_err(req, 0);
}

static void fsop_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	fsop_reply_rc(req, lsmfs_release(fsop_fs(req), ino));
}

static void fsop_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	fsop_reply_rc(req, lsmfs_fsync(fsop_fs(req), ino, datasync));
}

/* Listings need no state: the core's cookies resume anywhere. */
static void fsop_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	fuse_reply_open(req, fi);
}

struct fsop_dirbuf {
	fuse_req_t req;
	struct fsop_state *s;
	int plus;
	char *buf;
	size_t size; /* bytes the kernel asked for */
	size_t used;
	uint64_t *counted; /* plus: the entries the core counted a lookup for */
	size_t ncounted, cap;
};

static int fsop_is_dot(const char *name)
{
	return strcmp(name, ".") == 0 || strcmp(name, "..") == 0;
}

static int fsop_dirbuf_count(struct fsop_dirbuf *d, uint64_t ino)
{
	if (d->ncounted == d->cap) {
		size_t cap = d->cap ? 2 * d->cap : 32;
		uint64_t *c = realloc(d->counted, cap * sizeof(*c));

		if (!c)
			return -ENOMEM;
		d->counted = c;
		d->cap = cap;
	}
	d->counted[d->ncounted++] = ino;
	return 0;
}

/*
 * Called by the core for each entry in cookie order; returning 1 refuses
 * the entry (the reply is full), which the core then neither consumes nor
 * counts. In a plus listing the core counts each accepted entry but "."
 * and ".." as a lookup, which is what the kernel will forget later; those
 * two go without a node id, as the kernel does not take them from us.
 */
static int fsop_dirbuf_add(void *arg, const char *name, const struct stat *st, uint64_t next)
{
	struct fsop_dirbuf *d = arg;
	size_t room = d->size - d->used;
	struct fuse_entry_param e;
	size_t len;

	if (!d->plus) {
		len = fuse_add_direntry(d->req, d->buf + d->used, room, name, st, (off_t)next);
		if (len > room)
			return 1;
		d->used += len;
		return 0;
	}
	len = fuse_add_direntry_plus(d->req, NULL, 0, name, NULL, (off_t)next);
	if (len > room)
		return 1;
	if (fsop_is_dot(name)) {
		memset(&e, 0, sizeof(e));
		e.attr = *st;
	} else {
		if (fsop_dirbuf_count(d, st->st_ino) != 0)
			return 1;
		fsop_fill_entry(d->s, &e, st);
	}
	d->used += fuse_add_direntry_plus(d->req, d->buf + d->used, room, name, &e, (off_t)next);
	return 0;
}

static void fsop_do_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, int plus)
{
	struct fsop_dirbuf d = {.req = req, .s = fsop_st(req), .plus = plus, .size = size};
	int rc;

	d.buf = malloc(size ? size : 1);
	if (!d.buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	rc = lsmfs_readdir(d.s->fs, ino, (uint64_t)off, plus, fsop_dirbuf_add, &d);
	/* Entries already gathered are delivered; the error comes back when
	 * the kernel asks for the rest. */
	if (rc < 0 && d.used == 0) {
		fsop_reply_rc(req, rc);
	} else if (fuse_reply_buf(req, d.buf, d.used) != 0) {
		/* The kernel never saw these entries, so it will not forget them. */
		for (size_t i = 0; i < d.ncounted; i++)
			lsmfs_forget(d.s->fs, d.counted[i], 1);
	}
	free(d.counted);
	free(d.buf);
}

static void fsop_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			 struct fuse_file_info *fi)
{
	fsop_do_readdir(req, ino, size, off, 0);
}

static void fsop_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			     struct fuse_file_info *fi)
{
	fsop_do_readdir(req, ino, size, off, 1);
}

static void fsop_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	fuse_reply_err(req, 0);
}

static void fsop_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	fsop_reply_rc(req, lsmfs_fsync(fsop_fs(req), ino, datasync));
}

static void fsop_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct statvfs sv;
	int rc = lsmfs_statfs(fsop_fs(req), &sv);

	if (rc)
		fsop_reply_rc(req, rc);
	else
		fuse_reply_statfs(req, &sv);
}

/*
 * POSIX ACLs are refused as on a filesystem mounted without ACL support.
 * Without FUSE_CAP_POSIX_ACL the kernel hands their xattrs to us as opaque
 * values; stored like that, an access ACL would not change the mode bits
 * as it must, and cp -a, which sets the mode through the ACL when that
 * succeeds, would leave its files at their creation mode.
 */
static int fsop_is_acl(const char *name)
{
	return strcmp(name, "system.posix_acl_access") == 0 ||
	       strcmp(name, "system.posix_acl_default") == 0;
}

static void fsop_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value,
			  size_t size, int flags)
{
	int core = 0;

	if (fsop_is_acl(name)) {
		fuse_reply_err(req, EOPNOTSUPP);
		return;
	}
	if (flags & ~(XATTR_CREATE | XATTR_REPLACE)) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	if (flags & XATTR_CREATE)
		core |= LSMFS_XATTR_CREATE;
	if (flags & XATTR_REPLACE)
		core |= LSMFS_XATTR_REPLACE;
	fsop_reply_rc(req, lsmfs_setxattr(fsop_fs(req), ino, name, value, size, core));
}

/* size 0 asks for the value's size only; a short buffer gets ERANGE from
 * the core. */
static void fsop_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	char *buf = NULL;
	ssize_t n;

	if (size && !(buf = malloc(size))) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	n = lsmfs_getxattr(fsop_fs(req), ino, name, buf, size);
	if (n < 0)
		fuse_reply_err(req, (int)-n);
	else if (size == 0)
		fuse_reply_xattr(req, (size_t)n);
	else
		fuse_reply_buf(req, buf, (size_t)n);
	free(buf);
}

static void fsop_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	char *buf = NULL;
	ssize_t n;

	if (size && !(buf = malloc(size))) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	n = lsmfs_listxattr(fsop_fs(req), ino, buf, size);
	if (n < 0)
		fuse_reply_err(req, (int)-n);
	else if (size == 0)
		fuse_reply_xattr(req, (size_t)n);
	else
		fuse_reply_buf(req, buf, (size_t)n);
	free(buf);
}

static void fsop_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	fsop_reply_rc(req, lsmfs_removexattr(fsop_fs(req), ino, name));
}

/* Only asked when default_permissions is off; kept so that such a mount
 * still answers access(2) by the inode's mode. */
static void fsop_access(fuse_req_t req, fuse_ino_t ino, int mask)
{
	lsmfs_ctx ctx;

	fsop_ctx(req, &ctx);
	fsop_reply_rc(req, lsmfs_access(fsop_fs(req), &ctx, ino, mask));
}

/*
 * The mode goes through as the kernel sent it: its FUSE client passes
 * KEEP_SIZE, PUNCH_HOLE and ZERO_RANGE and refuses every other flag itself;
 * lsmfs_fallocate judges the combinations.
 */
static void fsop_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t off, off_t len,
			   struct fuse_file_info *fi)
{
	lsmfs_ctx ctx;
	int had_setid, rc;

	fsop_ctx(req, &ctx);
	had_setid = fsop_had_setid(req, &ctx, ino);
	rc = lsmfs_fallocate(fsop_fs(req), &ctx, ino, mode, off, len);
	if (rc == 0 && had_setid)
		fsop_attr_changed(req, ino);
	fsop_reply_rc(req, rc);
}

static void fsop_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence,
		       struct fuse_file_info *fi)
{
	off_t pos = lsmfs_lseek(fsop_fs(req), ino, off, whence);

	if (pos < 0)
		fuse_reply_err(req, (int)-pos);
	else
		fuse_reply_lseek(req, pos);
}

static void fsop_copy_file_range(fuse_req_t req, fuse_ino_t ino_in, off_t off_in,
				 struct fuse_file_info *fi_in, fuse_ino_t ino_out, off_t off_out,
				 struct fuse_file_info *fi_out, size_t len, int flags)
{
	lsmfs_ctx ctx;
	ssize_t n;
	int had_setid;

	/* copy_file_range(2) defines no flags yet. */
	if (flags) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	fsop_ctx(req, &ctx);
	had_setid = fsop_had_setid(req, &ctx, ino_out);
	n = lsmfs_copy_file_range(fsop_fs(req), &ctx, ino_in, off_in, ino_out, off_out, len);
	if (n > 0 && had_setid)
		fsop_attr_changed(req, ino_out);
	if (n < 0)
		fuse_reply_err(req, (int)-n);
	else
		fuse_reply_write(req, (size_t)n);
}

const struct fuse_lowlevel_ops fsop_table = {
	.init = fsop_init,
	.lookup = fsop_lookup,
	.forget = fsop_forget,
	.forget_multi = fsop_forget_multi,
	.getattr = fsop_getattr,
	.setattr = fsop_setattr,
	.readlink = fsop_readlink,
	.mknod = fsop_mknod,
	.mkdir = fsop_mkdir,
	.symlink = fsop_symlink,
	.unlink = fsop_unlink,
	.rmdir = fsop_rmdir,
	.rename = fsop_rename,
	.link = fsop_link,
	.open = fsop_open,
	.create = fsop_create,
	.read = fsop_read,
	.write = fsop_write,
	.flush = fsop_flush,
	.release = fsop_release,
	.fsync = fsop_fsync,
	.opendir = fsop_opendir,
	.readdir = fsop_readdir,
	.readdirplus = fsop_readdirplus,
	.releasedir = fsop_releasedir,
	.fsyncdir = fsop_fsyncdir,
	.statfs = fsop_statfs,
	.setxattr = fsop_setxattr,
	.getxattr = fsop_getxattr,
	.listxattr = fsop_listxattr,
	.removexattr = fsop_removexattr,
	.access = fsop_access,
	.fallocate = fsop_fallocate,
	.lseek = fsop_lseek,
	.copy_file_range = fsop_copy_file_range,
};
