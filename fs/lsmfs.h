/*
 * lsmfs.h — the filesystem core: POSIX files and directories kept as keys
 * in liblsm. No FUSE header here: the daemon (fs/fuse/) decodes kernel
 * requests, calls these functions and replies; tests call them directly.
 *
 * Conventions: every function returns 0 (or a byte count where said) or a
 * negative errno, the values ext4 gives for the same situation. Every call
 * that changes state writes ONE atomic liblsm batch, which is in the WAL
 * before the call returns (so it survives kill -9 of the daemon); fsync
 * makes it survive a power cut. Inode numbers are 64-bit; the root is 1.
 *
 * Threads: all functions may be called from many threads at once; the core
 * serialises what must be (see the lock order in fs/fs_impl.h).
 */
#ifndef LSMFS_H
#define LSMFS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/types.h>

#include "keys.h" /* the on-disk format, public: see the end of this file */

#ifdef __cplusplus
extern "C" {
#endif

#define LSMFS_ROOT_INO	     1
#define LSMFS_NAME_MAX	     255
#define LSMFS_FORMAT_VERSION 1
/* lsmfs_opts.verify_chunks. */
#define LSMFS_VERIFY_OFF    0
#define LSMFS_VERIFY_ON	    1
#define LSMFS_VERIFY_SHA    2
#define LSMFS_DEFAULT_CHUNK (64u * 1024u)
#define LSMFS_MIN_CHUNK	    4096u
/*
 * Values from 4 KiB up go to the engine's value files: every chunk of a
 * file past its first few KiB, never an inode, entry or reference (all
 * under 100 bytes). Smaller chunks stay in the tree, where a small file is
 * read with no second pread (docs/BENCHMARKS.md, "lsmfs on value files").
 */
#define LSMFS_BLOB_THRESHOLD 4096u
#define LSMFS_MAX_CHUNK	     (1024u * 1024u)
/*
 * Chunks of at most lsmfs_opts.inline_bytes (once trailing zeros are cut)
 * keep their bytes in their reference: no C or R key (docs/FORMAT.md,
 * "Inline chunks"). The most a reference may hold, and the default.
 */
#define LSMFS_INLINE_MAX     4032u
#define LSMFS_INLINE_DEFAULT LSMFS_INLINE_MAX
/* lsmfs_opts.inode_cache: idle inodes kept whole (about 220 bytes each). */
#define LSMFS_INODE_CACHE_DEFAULT 65536u
#define LSMFS_XATTR_NAME_MAX	  255
#define LSMFS_XATTR_SIZE_MAX	  65536

typedef struct lsmfs lsmfs;

/* Who is asking: from the FUSE request context. */
typedef struct lsmfs_ctx {
	uid_t uid;
	gid_t gid;
	mode_t umask;
} lsmfs_ctx;

typedef struct lsmfs_mkfs_opts {
	uint32_t chunk_size; /* power of two in [LSMFS_MIN_CHUNK, LSMFS_MAX_CHUNK]; 0 = default */
	int force;	     /* re-create over an existing lsmfs data dir */
	uid_t root_uid;	     /* owner of the root directory */
	gid_t root_gid;
} lsmfs_mkfs_opts;

/*
 * Creates a data directory (mode 0700 if missing): superblock and root inode
 * in one batch. Refuses (changing nothing) a non-empty directory that is not
 * an lsmfs data dir (-ENOTEMPTY), an existing lsmfs without force (-EEXIST),
 * one in use by a daemon (-EBUSY), a bad chunk size (-EINVAL).
 * *msg (if not NULL) gets a static or thread-local human explanation.
 */
int lsmfs_mkfs(const char *dir, const lsmfs_mkfs_opts *opts, const char **msg);

typedef struct lsmfs_opts {
	size_t cache_bytes; /* engine block cache (default 64 MiB) */
	int sync_writes;    /* 1: fsync the WAL on every change, not only on fsync() */
	/*
	 * LSMFS_VERIFY_*: what a read checks. ON (default): each block against
	 * its checksum where the reference has them (keys.h), else the chunk's
	 * SHA-256; SHA: whole chunks against their SHA-256 always; OFF: nothing.
	 */
	int verify_chunks;
	/*
	 * The engine's blob_threshold: chunks (and other values) of at least
	 * this many bytes are written once, to the engine's value files, and
	 * compaction moves only a reference to them (default
	 * LSMFS_BLOB_THRESHOLD; 0: every value stays in the tree).
	 */
	size_t blob_threshold;
	int read_only;
	/*
	 * Bytes of the data dir's filesystem kept free: operations that add
	 * data fail with -ENOSPC rather than eat into them (fs/space.h).
	 * -1 (default): a size derived from the engine's options, at most
	 * half of that filesystem; 0: no reserve.
	 */
	int64_t reserve_bytes;
	/* Inline chunks up to this many bytes: -1 (default) LSMFS_INLINE_DEFAULT, 0 none. */
	int64_t inline_bytes;
	/*
	 * Inodes the kernel remembers but nothing uses, kept with their
	 * attributes; past these each takes 16 bytes, and its attributes are
	 * read again when next used (0: LSMFS_INODE_CACHE_DEFAULT).
	 */
	size_t inode_cache;
	void *engine_env; /* lsm_env * for tests (fault injection); NULL = POSIX */
} lsmfs_opts;

void lsmfs_opts_init(lsmfs_opts *o);

/*
 * Opens a data directory. Refuses, changing nothing, with a message in
 * *msg naming the cause: not an lsmfs data dir (-EMEDIUMTYPE), a newer
 * format version (-EPROTONOSUPPORT), in use by another process (-EBUSY),
 * damaged superblock or engine files (-EUCLEAN). Then finishes any orphans
 * (files unlinked while open) left by a crash.
 */
int lsmfs_mount(lsmfs **fs, const char *dir, const lsmfs_opts *opts, const char **msg);
/* Writes nothing the WAL does not already hold; closes the engine. */
void lsmfs_unmount(lsmfs *fs);

/* Lookup counts, as the kernel keeps them: each successful lookup/create/
 * mkdir/mknod/symlink/link adds one; forget drops n. An unlinked inode is
 * freed when both its link count and its lookup count reach zero. */
int lsmfs_lookup(lsmfs *fs, uint64_t parent, const char *name, struct stat *st);
void lsmfs_forget(lsmfs *fs, uint64_t ino, uint64_t nlookup);

int lsmfs_getattr(lsmfs *fs, uint64_t ino, struct stat *st);

/* Which fields of setattr to apply (same meaning as FUSE_SET_ATTR_*). */
enum {
	LSMFS_SET_MODE = 1 << 0,
	LSMFS_SET_UID = 1 << 1,
	LSMFS_SET_GID = 1 << 2,
	LSMFS_SET_SIZE = 1 << 3,
	LSMFS_SET_ATIME = 1 << 4,
	LSMFS_SET_MTIME = 1 << 5,
	LSMFS_SET_ATIME_NOW = 1 << 7,
	LSMFS_SET_MTIME_NOW = 1 << 8,
	LSMFS_SET_CTIME = 1 << 10,
};
/* Applies the fields in to_set from in; *out gets the new attributes. */
int lsmfs_setattr(lsmfs *fs, const lsmfs_ctx *ctx, uint64_t ino, const struct stat *in, int to_set,
		  struct stat *out);

int lsmfs_mknod(lsmfs *fs, const lsmfs_ctx *ctx, uint64_t parent, const char *name, mode_t mode,
		dev_t rdev, struct stat *out);
int lsmfs_mkdir(lsmfs *fs, const lsmfs_ctx *ctx, uint64_t parent, const char *name, mode_t mode,
		struct stat *out);
int lsmfs_symlink(lsmfs *fs, const lsmfs_ctx *ctx, uint64_t parent, const char *name,
		  const char *target, struct stat *out);
/* Copies the target (NUL-terminated, truncated to size-1) into buf; returns its full length. */
int lsmfs_readlink(lsmfs *fs, uint64_t ino, char *buf, size_t size);
int lsmfs_unlink(lsmfs *fs, uint64_t parent, const char *name);
int lsmfs_rmdir(lsmfs *fs, uint64_t parent, const char *name);

enum { LSMFS_RENAME_NOREPLACE = 1, LSMFS_RENAME_EXCHANGE = 2 };
int lsmfs_rename(lsmfs *fs, uint64_t parent, const char *name, uint64_t newparent,
		 const char *newname, unsigned flags);
int lsmfs_link(lsmfs *fs, uint64_t ino, uint64_t newparent, const char *newname, struct stat *out);

/*
 * Open files: the core counts opens so an unlinked file lives until the last
 * release. flags are open(2) flags; O_TRUNC truncates.
 */
int lsmfs_open(lsmfs *fs, const lsmfs_ctx *ctx, uint64_t ino, int flags);
int lsmfs_create(lsmfs *fs, const lsmfs_ctx *ctx, uint64_t parent, const char *name, mode_t mode,
		 int flags, struct stat *out);
int lsmfs_release(lsmfs *fs, uint64_t ino);
/* Returns bytes read (short only at end of file); holes read as zeros. */
ssize_t lsmfs_read(lsmfs *fs, uint64_t ino, void *buf, size_t size, off_t off);
/* Returns bytes written (all of them, or an error). Clears suid/sgid when ctx is not root. */
ssize_t lsmfs_write(lsmfs *fs, const lsmfs_ctx *ctx, uint64_t ino, const void *buf, size_t size,
		    off_t off);
/* Makes everything written to ino (indeed, to the whole fs) survive a power cut. */
int lsmfs_fsync(lsmfs *fs, uint64_t ino, int datasync);

/*
 * Directory listing with stable cookies: entries come in cookie order; a
 * listing resumed at a cookie never repeats or skips an entry that existed
 * throughout. fn gets each entry (with its attributes when plus is set) and
 * the cookie to resume after it; it returns non-zero to stop (buffer full),
 * in which case that entry was NOT consumed. "." and ".." come first
 * (cookies 1 and 2). Cookie 0 starts from the beginning.
 * fn is called with no lock of the core held: it may call back into the core.
 * With plus, each entry fn accepts other than "." and ".." counts as one
 * lookup (FUSE's readdirplus rule: the kernel will forget it); an entry fn
 * refuses is not counted. Cookies are below 2^63 (valid signed offsets).
 */
typedef int (*lsmfs_dirent_fn)(void *arg, const char *name, const struct stat *st,
			       uint64_t next_cookie);
int lsmfs_readdir(lsmfs *fs, uint64_t ino, uint64_t cookie, int plus, lsmfs_dirent_fn fn,
		  void *arg);

int lsmfs_statfs(lsmfs *fs, struct statvfs *sv);
/*
 * The engine's running figures as lines "engine NAME VALUE" (operations,
 * WAL syncs, bytes written by the log, flushes, compactions and garbage
 * collection, block cache hits and misses, stalls, sizes) into buf,
 * NUL-terminated; returns the length written (cut at len - 1).
 */
int lsmfs_engine_stats(lsmfs *fs, char *buf, size_t len);

enum { LSMFS_XATTR_CREATE = 1, LSMFS_XATTR_REPLACE = 2 };
int lsmfs_setxattr(lsmfs *fs, uint64_t ino, const char *name, const void *value, size_t size,
		   int flags);
/* size 0: returns the value's size. Too small: -ERANGE. Absent: -ENODATA. */
ssize_t lsmfs_getxattr(lsmfs *fs, uint64_t ino, const char *name, void *buf, size_t size);
/* NUL-separated names; size 0: returns the size needed. */
ssize_t lsmfs_listxattr(lsmfs *fs, uint64_t ino, char *buf, size_t size);
int lsmfs_removexattr(lsmfs *fs, uint64_t ino, const char *name);

/*
 * The modes of ext4 less COLLAPSE_RANGE and INSERT_RANGE:
 *   0                      allocate: extends the size, takes no space (holes
 *                          read as zeros)
 *   FALLOC_FL_KEEP_SIZE    nothing to do
 *   FALLOC_FL_PUNCH_HOLE|FALLOC_FL_KEEP_SIZE
 *                          the range reads as zeros: whole chunks become
 *                          holes, partial ones are rewritten
 *   FALLOC_FL_ZERO_RANGE   the same, and past the end of file the size grows
 *                          to off + len (a hole)
 *   FALLOC_FL_ZERO_RANGE|FALLOC_FL_KEEP_SIZE
 *                          the same, the size never changes
 * Punch and zero range change mtime and ctime and are never refused for
 * space (space.h). FALLOC_FL_COLLAPSE_RANGE, FALLOC_FL_INSERT_RANGE and any
 * other mode: -EOPNOTSUPP. One batch per call. A caller other than root
 * drops set-user-ID (and set-group-ID with group execute), as on a write.
 */
int lsmfs_fallocate(lsmfs *fs, const lsmfs_ctx *ctx, uint64_t ino, int mode, off_t off, off_t len);
/* SEEK_DATA / SEEK_HOLE at chunk granularity; -ENXIO past the end. */
off_t lsmfs_lseek(lsmfs *fs, uint64_t ino, off_t off, int whence);
/* Shares whole chunks by reference where both offsets are chunk-aligned; copies the rest. */
ssize_t lsmfs_copy_file_range(lsmfs *fs, const lsmfs_ctx *ctx, uint64_t ino_in, off_t off_in,
			      uint64_t ino_out, off_t off_out, size_t len);
/* access(2) check for ctx (used when default_permissions is off). */
int lsmfs_access(lsmfs *fs, const lsmfs_ctx *ctx, uint64_t ino, int mask);

/*
 * Reading a data directory without mounting it (the checker, fs/fsck/).
 * The on-disk format is public: keys.h, included above, draws every key and
 * value and holds their encoders and decoders. With the engine's own API
 * (lsm.h) that is what a tool needs to read the keys of an unmounted data
 * directory; the functions below give it the core's answers where it must
 * agree with the core.
 */

/*
 * The errno the core returns for an engine return code rc (lsm.h): rc
 * itself when it is no engine error (0, positive, or already a negative
 * errno), -EROFS for -LSM_EREADONLY, -EBUSY for -LSM_EBUSY, else -EIO.
 */
int lsmfs_errno(int rc);

/* The time now as inodes keep it: nanoseconds since the epoch (CLOCK_REALTIME). */
int64_t lsmfs_now(void);

/*
 * The name of an engine table, WAL or MANIFEST file in dir, copied to buf
 * (len bytes), or NULL when there is none or dir cannot be read. For a data
 * directory without its CURRENT file it tells one whose CURRENT was lost
 * (damaged) from one where no database was ever made.
 */
const char *lsmfs_engine_file_in(const char *dir, char *buf, size_t len);

#ifdef __cplusplus
}
#endif
#endif /* LSMFS_H */
