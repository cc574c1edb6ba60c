/*
 * super.c — the superblock: mkfs, mount (with orphan recovery), unmount,
 * statfs. The S key's layout is drawn in keys.h.
 */
#include "fs_impl.h"
#include "workpool.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/random.h>
#include <unistd.h>

/* What mkfs and mount tell the user; one per thread, valid until its next call. */
static __thread char msgbuf[1024];

static int say(const char **msg, int rc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int say(const char **msg, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msgbuf, sizeof(msgbuf), fmt, ap);
	va_end(ap);
	if (msg)
		*msg = msgbuf;
	return rc;
}

void lsmfs_opts_init(lsmfs_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->cache_bytes = 64u << 20;
	o->verify_chunks = LSMFS_VERIFY_ON;
	o->blob_threshold = LSMFS_BLOB_THRESHOLD;
	o->reserve_bytes = -1;
	o->inline_bytes = -1;
}

static int valid_chunk_size(uint32_t cs)
{
	return cs >= LSMFS_MIN_CHUNK && cs <= LSMFS_MAX_CHUNK && (cs & (cs - 1)) == 0;
}

/* 1 if path/name exists, 0 if not. */
static int has_file(const char *dir, const char *name)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return access(path, F_OK) == 0;
}

const char *lsmfs_engine_file_in(const char *dir, char *buf, size_t len)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	const char *found = NULL;

	if (!d)
		return NULL;
	while (!found && (de = readdir(d))) {
		size_t n = strlen(de->d_name);

		if (n < len && (strncmp(de->d_name, "MANIFEST-", 9) == 0 ||
				(n > 4 && (strcmp(de->d_name + n - 4, ".sst") == 0 ||
					   strcmp(de->d_name + n - 4, ".log") == 0)))) {
			memcpy(buf, de->d_name, n + 1);
			found = buf;
		}
	}
	closedir(d);
	return found;
}

/* Number of entries other than . and .., or a negative errno. */
static int count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	if (!d)
		return -errno;
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

static int write_fresh(const char *dir, const lsmfs_mkfs_opts *opts, uint32_t cs, const char **msg)
{
	lsm_options lo;
	lsm_db *db = NULL;
	lsm_batch *b = NULL;
	lsm_write_options wo = {.sync = 1};
	struct lsmfs_super sb;
	struct lsmfs_attr root;
	struct fkey k;
	uint8_t sv[SB_LEN], iv[INODE_LEN], one[8];
	int rc;

	memset(&sb, 0, sizeof(sb));
	sb.version = LSMFS_FORMAT_VERSION;
	sb.chunk_size = cs;
	if (getrandom(sb.uuid, sizeof(sb.uuid), 0) != (ssize_t)sizeof(sb.uuid)) {
		rc = say(msg, -errno, "cannot get random bytes for the volume uuid: %s",
			 strerror(errno));
		goto out;
	}
	sb.uuid[6] = (uint8_t)((sb.uuid[6] & 0x0f) | 0x40); /* RFC 4122 version 4 */
	sb.uuid[8] = (uint8_t)((sb.uuid[8] & 0x3f) | 0x80);
	sb.ctime_ns = lsmfs_now();
	sb.ino_end = LSMFS_ROOT_INO + 1; /* nothing reserved yet: the first create reserves */
	sb.incompat = SB_INCOMPAT_PATCHES | SB_INCOMPAT_PATCH16 | SB_INCOMPAT_INLINE;

	memset(&root, 0, sizeof(root));
	root.mode = S_IFDIR | 0755;
	root.uid = opts ? opts->root_uid : 0;
	root.gid = opts ? opts->root_gid : 0;
	root.nlink = 2;
	root.generation = 1;
	root.parent = LSMFS_ROOT_INO;
	root.atime = root.mtime = root.ctime = sb.ctime_ns;

	lsm_options_init(&lo);
	lo.create_if_missing = 1;
	rc = lsm_open(&db, dir, &lo);
	if (rc) {
		rc = say(msg, rc == -LSM_EBUSY ? -EBUSY : lsmfs_errno(rc),
			 "cannot create the database in %s: %s", dir, lsm_errmsg());
		goto out;
	}
	b = lsm_batch_new();
	if (!b) {
		rc = say(msg, -ENOMEM, "out of memory");
		goto out;
	}
	super_encode(sv, &sb);
	k.b[0] = KEY_SUPER;
	k.len = 1;
	rc = lsm_batch_put(b, k.b, k.len, sv, sizeof(sv));
	key_ino(&k, KEY_INODE, LSMFS_ROOT_INO);
	if (!rc)
		rc = lsm_batch_put(b, k.b, k.len, iv, inode_encode(iv, &root));
	key_count(&k, 0);
	put_be64(one, 1); /* the root */
	if (!rc)
		rc = lsm_batch_put(b, k.b, k.len, one, sizeof(one));
	if (!rc)
		rc = lsm_write(db, &wo, b);
	if (rc) {
		rc = say(msg, lsmfs_errno(rc), "cannot write the superblock in %s: %s", dir,
			 lsm_errmsg());
		goto out;
	}
	say(msg, 0, "created an lsmfs filesystem in %s (chunk size %" PRIu32 ")", dir, cs);
out:
	lsm_batch_free(b);
	if (db) {
		int crc = lsm_close(db);

		if (!rc && crc)
			rc = say(msg, lsmfs_errno(crc), "closing the database: %s", lsm_errmsg());
	}
	return rc;
}

/*
 * An existing database in dir: 1 if it holds an lsmfs superblock, 0 if not,
 * 2 if it cannot be read (damaged); -EBUSY if in use.
 */
static int probe_db(const char *dir, const char **msg)
{
	lsm_options lo;
	lsm_db *db = NULL;
	void *v = NULL;
	size_t vlen = 0;
	int rc;

	lsm_options_init(&lo);
	lo.create_if_missing = 0;
	lo.read_only = 1;
	rc = lsm_open(&db, dir, &lo);
	if (rc == -LSM_EBUSY)
		return say(msg, -EBUSY, "%s is in use: %s", dir, lsm_errmsg());
	if (rc)
		return 2;
	rc = lsm_get(db, NULL, "S", 1, &v, &vlen);
	free(v);
	lsm_close(db);
	if (rc < 0)
		return 2;
	return rc == 0 ? 1 : 0;
}

int lsmfs_mkfs(const char *dir, const lsmfs_mkfs_opts *opts, const char **msg)
{
	uint32_t cs = opts && opts->chunk_size ? opts->chunk_size : LSMFS_DEFAULT_CHUNK;
	int force = opts ? opts->force : 0;
	struct stat st;
	int rc, n, kind;

	if (!valid_chunk_size(cs))
		return say(msg, -EINVAL,
			   "chunk size %" PRIu32 " is not a power of two between %u and %u", cs,
			   LSMFS_MIN_CHUNK, LSMFS_MAX_CHUNK);
	if (stat(dir, &st) != 0) {
		if (errno != ENOENT)
			return say(msg, -errno, "cannot stat %s: %s", dir, strerror(errno));
		if (mkdir(dir, 0700) != 0)
			return say(msg, -errno, "cannot create %s: %s", dir, strerror(errno));
		return write_fresh(dir, opts, cs, msg);
	}
	if (!S_ISDIR(st.st_mode))
		return say(msg, -ENOTDIR, "%s is not a directory", dir);
	n = count_entries(dir);
	if (n < 0)
		return say(msg, n, "cannot read %s: %s", dir, strerror(-n));
	if (n == 0)
		return write_fresh(dir, opts, cs, msg);
	if (!has_file(dir, "CURRENT"))
		return say(msg, -ENOTEMPTY,
			   "%s is not empty and holds no lsmfs data; refusing to "
			   "touch it",
			   dir);
	kind = probe_db(dir, msg);
	if (kind < 0)
		return kind;
	if (!force) {
		if (kind == 0)
			return say(msg, -ENOTEMPTY,
				   "%s holds a database that is not lsmfs; force re-creates it",
				   dir);
		return say(msg, -EEXIST,
			   "%s already holds an lsmfs filesystem%s; force re-creates it", dir,
			   kind == 2 ? " (damaged)" : "");
	}
	rc = lsm_destroy(dir, NULL);
	if (rc)
		return say(msg, rc == -LSM_EBUSY ? -EBUSY : lsmfs_errno(rc),
			   "cannot remove the old database in %s: %s", dir, lsm_errmsg());
	/* lsm_destroy removes dir when nothing else was in it. */
	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		return say(msg, -errno, "cannot create %s: %s", dir, strerror(errno));
	return write_fresh(dir, opts, cs, msg);
}

/* Maps an lsm_open failure to the errno and sentence lsmfs.h promises. */
static int open_error(const char *dir, int rc, const char **msg)
{
	switch (-rc) {
	case LSM_ENOTDB:
		return say(msg, -EMEDIUMTYPE, "%s is not an lsmfs data directory: %s", dir,
			   lsm_errmsg());
	case LSM_EBUSY:
		return say(msg, -EBUSY, "%s is in use: %s", dir, lsm_errmsg());
	case LSM_ECORRUPT:
		return say(msg, -EUCLEAN, "%s is damaged: %s", dir, lsm_errmsg());
	case LSM_EVERSION:
		return say(msg, -EPROTONOSUPPORT,
			   "%s was written by a newer version of the engine: %s", dir,
			   lsm_errmsg());
	default:
		return say(msg, rc < 0 && -rc < LSM_ECORRUPT ? rc : -EIO, "cannot open %s: %s", dir,
			   lsm_errmsg());
	}
}

/* Reads and checks the superblock and root inode of an open database. */
static int check_volume(lsm_db *db, const char *dir, struct lsmfs_super *sb, const char **msg)
{
	struct fkey k;
	struct lsmfs_attr root;
	void *v = NULL;
	size_t vlen = 0;
	int rc;

	rc = lsm_get(db, NULL, "S", 1, &v, &vlen);
	if (rc == LSM_NOTFOUND) {
		rc = say(msg, -EMEDIUMTYPE,
			 "%s holds a database but no lsmfs superblock: not an lsmfs data directory",
			 dir);
		goto out;
	}
	if (rc) {
		rc = open_error(dir, rc, msg);
		goto out;
	}
	rc = super_decode(sb, v, vlen);
	if (rc) {
		rc = say(msg, -EUCLEAN,
			 "%s: the superblock is damaged (%zu bytes, bad magic or too "
			 "short)",
			 dir, vlen);
		goto out;
	}
	if (sb->version > LSMFS_FORMAT_VERSION) {
		rc = say(msg, -EPROTONOSUPPORT,
			 "%s uses lsmfs format version %" PRIu32 "; this build reads up to %d", dir,
			 sb->version, LSMFS_FORMAT_VERSION);
		goto out;
	}
	if (sb->incompat & ~SB_INCOMPAT_KNOWN) {
		rc = say(msg, -EPROTONOSUPPORT,
			 "%s uses features this build does not know (0x%" PRIx64 ")", dir,
			 sb->incompat & ~SB_INCOMPAT_KNOWN);
		goto out;
	}
	if (!valid_chunk_size(sb->chunk_size) || sb->ino_end <= LSMFS_ROOT_INO) {
		rc = say(msg, -EUCLEAN,
			 "%s: the superblock is damaged (chunk size %" PRIu32
			 ", inode counter %" PRIu64 ")",
			 dir, sb->chunk_size, sb->ino_end);
		goto out;
	}
	free(v);
	v = NULL;
	key_ino(&k, KEY_INODE, LSMFS_ROOT_INO);
	rc = lsm_get(db, NULL, k.b, k.len, &v, &vlen);
	if (rc == LSM_NOTFOUND ||
	    (rc == 0 && (inode_decode(&root, v, vlen) || !S_ISDIR(root.mode)))) {
		rc = say(msg, -EUCLEAN, "%s: the root directory's inode is missing or damaged",
			 dir);
		goto out;
	}
	if (rc)
		rc = open_error(dir, rc, msg);
out:
	free(v);
	return rc;
}

/*
 * A volume made by an older build gets the feature bits of the references
 * this build writes before this mount may write one: from then on a build
 * without patches (which would read a patched chunk without them), with at
 * most 8 of them or without inline chunks (which would call such a
 * reference damaged) refuses the volume.
 */
static int mark_features(lsm_db *db, const char *dir, struct lsmfs_super *sb, const char **msg)
{
	const uint64_t bits = SB_INCOMPAT_PATCHES | SB_INCOMPAT_PATCH16 | SB_INCOMPAT_INLINE;
	lsm_write_options wo = {.sync = 1};
	uint8_t sv[SB_LEN];
	uint8_t key = KEY_SUPER;
	int rc;

	if ((sb->incompat & bits) == bits)
		return 0;
	sb->incompat |= bits;
	super_encode(sv, sb);
	rc = lsm_put(db, &wo, &key, 1, sv, sizeof(sv));
	if (rc)
		return say(msg, lsmfs_errno(rc), "cannot update the superblock in %s: %s", dir,
			   lsm_errmsg());
	return 0;
}

/* Frees the inodes left unlinked-but-open by a crash (their O keys). */
static void recover_orphans(lsmfs *fs)
{
	uint64_t *inos = NULL;
	size_t n = 0, cap = 0;
	uint8_t pfx = KEY_ORPHAN;
	lsm_iter *it = lsm_iter_new(fs->db, NULL);

	if (!it)
		return;
	for (lsm_iter_seek(it, &pfx, 1); lsm_iter_valid(it); lsm_iter_next(it)) {
		size_t klen;
		const uint8_t *key = lsm_iter_key(it, &klen);

		if (klen < 1 || key[0] != KEY_ORPHAN)
			break;
		if (klen != 9)
			continue;
		if (n == cap) {
			uint64_t *ni = realloc(inos, (cap = cap ? cap * 2 : 64) * sizeof(*ni));

			if (!ni)
				break;
			inos = ni;
		}
		inos[n++] = get_be64(key + 1);
	}
	if (lsm_iter_status(it))
		fs_err(fs, lsm_iter_status(it), "orphan scan", 0);
	lsm_iter_free(it);
	for (size_t i = 0; i < n; i++) {
		struct lsmfs_inode *ip = iget(fs, inos[i]);
		struct fs_op op;
		struct fkey k;
		int rc;

		if (!ip)
			break;
		pthread_mutex_lock(&ip->mu);
		rc = iload(fs, ip);
		pthread_mutex_unlock(&ip->mu);
		if (rc == 0 && ip->a.nlink == 0) {
			/* Nothing can be using it yet: this frees it (in steps if big). */
			inode_maybe_free(fs, ip);
		} else if (rc == 0 || rc == -ENOENT) {
			/* Freed but the key stayed, or linked again: just drop the key. */
			rc = op_begin(fs, &op);
			key_ino(&k, KEY_ORPHAN, inos[i]);
			if (!rc)
				rc = op_del(&op, &k);
			if (!rc)
				rc = op_commit(&op);
			op_end(&op);
		}
		if (rc)
			fs_log("inode %" PRIu64 ": freeing orphan at mount failed: %s", inos[i],
			       strerror(-rc));
		iput(fs, ip);
	}
	free(inos);
}

/*
 * Helpers of the work pool: one per core for the hashing, and two more so
 * that cold reads keep the disk busy while others wait for it.
 */
static unsigned pool_threads(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	if (n < 1)
		n = 1;
	return n > 14 ? 16u : (unsigned)n + 2;
}

int lsmfs_mount(lsmfs **fsp, const char *dir, const lsmfs_opts *opts, const char **msg)
{
	lsmfs_opts defaults;
	lsm_options lo;
	lsm_db *db = NULL;
	struct lsmfs_super sb;
	struct stat st;
	lsmfs *fs = NULL;
	int rc;

	*fsp = NULL;
	if (!opts) {
		lsmfs_opts_init(&defaults);
		opts = &defaults;
	}
	if (opts->inline_bytes > (int64_t)LSMFS_INLINE_MAX) {
		return say(msg, -EINVAL, "inline chunks hold at most %u bytes, not %" PRId64,
			   LSMFS_INLINE_MAX, opts->inline_bytes);
	}
	if (stat(dir, &st) != 0)
		return say(msg, -errno, "cannot use %s: %s", dir, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return say(msg, -ENOTDIR, "%s is not a directory", dir);
	/*
	 * Without CURRENT there is no database; lsm_open would still leave a
	 * LOCK file. With the engine's other files there, CURRENT was lost.
	 */
	if (!has_file(dir, "CURRENT")) {
		char name[128];
		const char *left = lsmfs_engine_file_in(dir, name, sizeof(name));

		if (left)
			return say(
				msg, -EUCLEAN,
				"%s is damaged: its CURRENT file is missing, but the engine's %s "
				"is there (do not run mkfs.lsmfs on it: that would lose the files)",
				dir, left);
		return say(msg, -EMEDIUMTYPE,
			   "%s is not an lsmfs data directory (no database; run mkfs.lsmfs)", dir);
	}

	lsm_options_init(&lo);
	lo.create_if_missing = 0;
	lo.block_cache_bytes = opts->cache_bytes;
	lo.env = opts->engine_env;
	lo.blob_threshold = opts->blob_threshold;
	/*
	 * Look first through a read-only open: a refused mount (newer format,
	 * no superblock) must not let WAL recovery rewrite anything.
	 */
	lo.read_only = 1;
	rc = lsm_open(&db, dir, &lo);
	if (rc)
		return open_error(dir, rc, msg);
	rc = check_volume(db, dir, &sb, msg);
	if (rc)
		goto fail;
	if (!opts->read_only) {
		lsm_close(db);
		db = NULL;
		lo.read_only = 0;
		rc = lsm_open(&db, dir, &lo);
		if (rc) {
			rc = open_error(dir, rc, msg);
			goto fail;
		}
		/* Recovery may have replayed more of the WAL than the look saw. */
		rc = check_volume(db, dir, &sb, msg);
		if (!rc)
			rc = mark_features(db, dir, &sb, msg);
		if (rc)
			goto fail;
	}

	fs = calloc(1, sizeof(*fs));
	if (!fs || !(fs->dir = strdup(dir))) {
		rc = say(msg, -ENOMEM, "out of memory");
		goto fail;
	}
	fs->db = db;
	fs->sb = sb;
	fs->cs = sb.chunk_size;
	fs->verify_chunks = opts->verify_chunks;
	fs->icache_keep = opts->inode_cache ? opts->inode_cache : LSMFS_INODE_CACHE_DEFAULT;
	fs->inline_max =
		opts->inline_bytes < 0 ? LSMFS_INLINE_DEFAULT : (uint32_t)opts->inline_bytes;
	fs->read_only = opts->read_only;
	fs->wopts.sync = opts->sync_writes;
	space_init(fs, dir, opts->read_only ? 0 : opts->reserve_bytes, &lo, opts->engine_env);
	pthread_mutex_init(&fs->rename_mu, NULL);
	pthread_mutex_init(&fs->ino_mu, NULL);
	pthread_mutex_init(&fs->icache_mu, NULL);
	for (unsigned i = 0; i < CHUNK_STRIPES; i++)
		pthread_mutex_init(&fs->chunk_mu[i], NULL);
	/* The rest of the last reserved range may have been used before a crash: skip it. */
	fs->ino_next = sb.ino_end;
	icount_load(fs);
	fs->pool = workpool_new(pool_threads()); /* NULL: reads and writes work alone */
	if (!fs->read_only)
		recover_orphans(fs);
	say(msg, 0, "mounted %s", dir);
	*fsp = fs;
	return 0;
fail:
	if (fs)
		free(fs->dir);
	free(fs);
	if (db)
		lsm_close(db);
	return rc;
}

void lsmfs_unmount(lsmfs *fs)
{
	int rc;

	if (!fs)
		return;
	workpool_free(fs->pool);
	rc = lsm_close(fs->db);
	/* lsm_close leaves the background error's message as recorded when it happened. */
	if (rc)
		fs_log("unmount of %s: %s: %s", fs->dir, lsm_strerror(rc), lsm_errmsg());
	icache_destroy(fs);
	icount_destroy(fs);
	space_destroy(fs);
	pthread_mutex_destroy(&fs->rename_mu);
	pthread_mutex_destroy(&fs->ino_mu);
	pthread_mutex_destroy(&fs->icache_mu);
	for (unsigned i = 0; i < CHUNK_STRIPES; i++)
		pthread_mutex_destroy(&fs->chunk_mu[i]);
	free(fs->dir);
	free(fs);
}

int lsmfs_fsync(lsmfs *fs, uint64_t ino, int datasync)
{
	(void)datasync;
	/* Every operation's batch is in the WAL already; one fsync makes all of it durable. */
	if (fs->read_only)
		return 0;
	return fs_err(fs, lsm_sync(fs->db), "fsync", ino);
}

/*
 * f_bsize is the chunk size (the best I/O size); f_frsize is 4096, the unit
 * of the block counts, so that df's figures do not jump with the chunk size.
 * Used space is what the engine's tables and memtable hold; free space is
 * what the data directory's filesystem has left, and of it the reserve
 * (space.h) is not available: df shows 0 when writes would be refused.
 */
int lsmfs_statfs(lsmfs *fs, struct statvfs *sv)
{
	const uint64_t frsize = 4096, max_inodes = 1ull << 40;
	struct statvfs host;
	lsm_stats ls;
	uint64_t used, avail = 0, free_host = 0, inos, reserve = fs->space.reserve;

	lsm_stats_get(fs->db, &ls);
	/* Tables, value files, and the WALs not flushed yet (where new values are). */
	used = ls.live_bytes + ls.blob_file_bytes + ls.log_bytes;
	if (statvfs(fs->dir, &host) == 0) {
		avail = (uint64_t)host.f_bavail * host.f_frsize;
		avail = avail > reserve ? avail - reserve : 0;
		free_host = (uint64_t)host.f_bfree * host.f_frsize;
	}
	memset(sv, 0, sizeof(*sv));
	sv->f_bsize = fs->cs;
	sv->f_frsize = frsize;
	sv->f_blocks = (used + free_host + frsize - 1) / frsize;
	sv->f_bfree = free_host / frsize;
	sv->f_bavail = avail / frsize;
	/* Inode numbers are never reused, but used inodes are the ones that exist. */
	inos = icount_total(fs);
	sv->f_files = max_inodes;
	sv->f_ffree = inos < max_inodes ? max_inodes - inos : 0;
	sv->f_favail = sv->f_ffree;
	memcpy(&sv->f_fsid, fs->sb.uuid, sizeof(sv->f_fsid) < 8 ? sizeof(sv->f_fsid) : 8);
	sv->f_flag = fs->read_only ? ST_RDONLY : 0;
	sv->f_namemax = LSMFS_NAME_MAX;
	return 0;
}
