/*
 * fs_impl.h — the fs core's internal structures, shared by the core's .c files.
 * Only they include it: the daemon (fs/fuse/), the checker (fs/fsck/) and
 * the mkfs/ tools see the core through lsmfs.h alone.
 *
 * LOCK ORDER (the only place it is written down). A thread takes locks in
 * this order and releases them in any order:
 *
 *   1. fs->rename_mu     — only lsmfs_rename, and only when the two parents
 *                          differ. It makes every change of a directory's
 *                          parent exclusive, so the "is the target inside the
 *                          moved directory" walk sees a stable tree.
 *   2. inode->mu         — any number of inodes, in ascending inode number.
 *                          A thread that holds inode A and finds it needs
 *                          B < A drops A, locks B then A, and re-checks what
 *                          it read (see lockset_lock and the retry loops in
 *                          dir.c and rename.c). New inodes need no lock: no
 *                          other thread can reach them before the batch that
 *                          creates them is written.
 *   3. fs->ino_mu        — the inode number allocator; when a new range is
 *                          reserved it is held until the batch carrying the
 *                          new superblock is written (op_alloc_ino to
 *                          op_commit).
 *   4. fs->chunk_mu[i]   — chunk reference stripes, ascending i, held from
 *                          reading R keys until the batch is written
 *                          (op_commit).
 *   5. fs->icache_mu     — the inode cache's table, refs, nlookup, nopen.
 *                          Innermost: nothing is locked and no engine call is
 *                          made while it is held.
 *
 * Every state-changing operation follows the same shape: lock the inodes it
 * reads, read, build one lsm_batch, op_commit() it (which adds the chunk
 * reference changes under the stripes), and only on success copy the new
 * attributes into the cached inodes. A failed write leaves memory as it was.
 *
 * Readers that use no inode lock (readdir, the ancestor walk of rename) read
 * the engine directly: each lsm_get or iterator sees one consistent state.
 * Reads of file data take the inode's lock only to read the size and take
 * an engine snapshot, and read the F and C keys from that snapshot, so a
 * chunk a concurrent write frees is still there for them. Finishing an
 * unlinked inode (forget, release, inode_reap) takes only that inode's
 * lock, after the operation that unlinked it has dropped its own.
 */
#ifndef LSMFS_FS_IMPL_H
#define LSMFS_FS_IMPL_H

#include "keys.h"
#include "lsm.h"
#include "lsmfs.h"
#include "space.h"

#include <pthread.h>
#include <stdint.h>

#define ICACHE_MIN_BUCKETS 4096u /* the inode cache's table starts here and grows 4x */
/* A commit may hold every stripe: 32 stays within ThreadSanitizer's 64 held locks. */
#define CHUNK_STRIPES 32u
#define INO_RANGE     1024u /* inode numbers reserved per superblock write */
/* Chunks dropped per batch when freeing a file (about 400 KiB of batch). */
#define FREE_STEP 4096u
/* An operation that frees this many chunks asks the engine to give space back soon. */
#define RECLAIM_CHUNKS	  16u
#define LSMFS_NLINK_MAX	  65000u
#define LSMFS_SYMLINK_MAX 4095u
/* The largest file: 2^63 - 1 bytes, as ext4 on 64-bit with the kernel's off_t. */
#define LSMFS_MAX_FILESIZE INT64_MAX

/* Cached inode state. */
enum { INODE_UNLOADED = 0, INODE_LOADED, INODE_GONE };

/*
 * What stays of an inode the kernel remembers while nothing else uses it,
 * once icache_keep entries are kept whole: its lookup count (16 bytes in
 * an open-addressed table, against some 220 for a whole entry). The rest
 * is reloaded from its I key when it is next used. ino 0: a free slot.
 */
struct ilight {
	uint64_t ino, nlookup;
};

struct lsmfs_inode {
	uint64_t ino; /* immutable */

	/* protected by fs->icache_mu */
	struct lsmfs_inode *next;
	uint32_t refs;	  /* threads using this entry right now */
	uint64_t nlookup; /* the kernel's lookup count */
	uint32_t nopen;	  /* open file handles */

	pthread_mutex_t mu;
	/* protected by mu */
	int state;	     /* INODE_* */
	struct lsmfs_attr a; /* equals the I key whenever mu is free */
	int orphan;	     /* an O key exists for this inode */
};

struct icount_shard {
	pthread_mutex_t mu;
	int64_t n; /* written under mu, read by statfs without it */
} __attribute__((aligned(64)));

struct lsmfs {
	lsm_db *db;		  /* immutable after mount */
	char *dir;		  /* data directory path, immutable */
	struct lsmfs_super sb;	  /* immutable after mount except sb.ino_end (ino_mu) */
	uint32_t cs;		  /* chunk size, immutable */
	int verify_chunks;	  /* immutable */
	uint32_t inline_max;	  /* immutable: chunks up to this many bytes are inline */
	int read_only;		  /* immutable */
	lsm_write_options wopts;  /* immutable */
	struct lsmfs_space space; /* the reserve (space.h); has its own lock */
	struct workpool *pool;	  /* shares the chunks of a read or write out (workpool.h) */

	pthread_mutex_t rename_mu;
	pthread_mutex_t chunk_mu[CHUNK_STRIPES];

	pthread_mutex_t ino_mu;
	uint64_t ino_next; /* protected by ino_mu: next number to hand out */

	struct icount_shard icount[ICOUNT_SHARDS]; /* icount.c */
	int icount_unknown;			   /* immutable after mount: it could not be read */

	pthread_mutex_t icache_mu;
	/* protected by icache_mu: icache_mask + 1 chains (NULL until the first iget), entries */
	struct lsmfs_inode **icache;
	size_t icache_mask, icache_count;
	/*
	 * protected by icache_mu: the inodes the kernel remembers that no
	 * thread or handle uses, past the first icache_keep, as light records
	 * (inode.c); light_mask + 1 slots (NULL until the first), light_count used.
	 */
	struct ilight *light;
	size_t light_mask, light_count;
	size_t icache_keep; /* immutable: idle entries kept whole before they go light */
};

/* ---- op.c: one operation's batch and its commit ---- */

/* A change of one chunk's reference count, gathered during an operation. */
struct refdelta {
	uint8_t sha[SHA_LEN];
	int64_t delta;
	/* the bytes if the chunk may be new, else NULL: borrowed, valid until op_end */
	const uint8_t *data;
	uint32_t len;
};

struct fs_op {
	lsmfs *fs;
	lsm_batch *b;
	struct refdelta *rd;
	size_t nrd, rdcap;
	void **kept; /* buffers op_keep handed over: freed by op_end */
	size_t nkept, keptcap;
	int ino_held;	       /* ino_mu is held until commit (a new range is in the batch) */
	uint64_t chunks_freed; /* chunks whose last reference the commit drops */
	uint64_t ino_saved_next, ino_saved_end;
	int64_t icount_delta; /* inodes this op creates (+) and frees (-): icount.c */
};

int op_begin(lsmfs *fs, struct fs_op *op);
/* Writes the batch with the reference changes. Releases nothing but what it took. */
int op_commit(struct fs_op *op);
void op_end(struct fs_op *op);
int op_put(struct fs_op *op, const struct fkey *k, const void *val, size_t vlen);
int op_del(struct fs_op *op, const struct fkey *k);
int op_put_inode(struct fs_op *op, uint64_t ino, const struct lsmfs_attr *a);
/*
 * Records one more (+1, with data if it may be new) or one less (-1)
 * reference. data is not copied: it must stay valid until op_end (the
 * caller's request buffer, or a buffer handed to op_keep).
 */
int op_ref(struct fs_op *op, const uint8_t *sha, int64_t delta, const void *data, uint32_t len);
/* A malloc'd buffer op owns from now on, freed by op_end (also when this fails). */
int op_keep(struct fs_op *op, void *buf);
/* A buffer of n bytes that op owns (op_keep of a fresh malloc), or NULL. */
void *op_alloc(struct fs_op *op, size_t n);
/* Hands out a fresh inode number; may add the superblock to the batch. */
int op_alloc_ino(struct fs_op *op, uint64_t *ino);

/* Engine code -> errno for an operation; logs corruption. what names the action. */
int fs_err(lsmfs *fs, int rc, const char *what, uint64_t ino);
void fs_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* lsm_get of a key; LSM_NOTFOUND (1) when absent, errno-mapped errors. */
int fs_get(lsmfs *fs, const struct fkey *k, void **val, size_t *vlen, uint64_t ino);
/* fs_get in the state snap saw (NULL: the latest). */
int fs_get_at(lsmfs *fs, const lsm_snapshot *snap, const struct fkey *k, void **val, size_t *vlen,
	      uint64_t ino);

/*
 * data.c: a write or truncate by someone other than root (ctx NULL: an
 * internal caller counts as someone) takes away set-user-ID, and
 * set-group-ID with group execute, as the kernel would; with
 * FUSE_HANDLE_KILLPRIV_V2 (fs/fuse/fuse_killpriv.c) it leaves this to us.
 */
void kill_suid(const lsmfs_ctx *ctx, struct lsmfs_attr *a);

/* ---- icount.c: the live inode count (df -i) ---- */

/*
 * At mount: reads the N keys, or counts the I keys of a volume without
 * them. One it cannot read leaves the count unknown (logged), not the mount.
 */
void icount_load(lsmfs *fs);
void icount_destroy(lsmfs *fs);
/*
 * In op_commit, before the write: adds op's change to a shard's N key in
 * the batch and holds that shard (*held; NULL when op changes no count)
 * until icount_done, which moves the shard if the write committed.
 */
int icount_stage(struct fs_op *op, struct icount_shard **held);
void icount_done(struct fs_op *op, struct icount_shard *held, int committed);
/* The inodes that exist now. */
uint64_t icount_total(lsmfs *fs);

/* ---- inode.c: the inode cache and attributes ---- */

/* Returns the cache entry with a reference (never NULL unless out of memory). */
struct lsmfs_inode *iget(lsmfs *fs, uint64_t ino);
void iput(lsmfs *fs, struct lsmfs_inode *ip);
/* REQUIRES: ip->mu held. Reads the I key if needed; -ENOENT when gone. */
int iload(lsmfs *fs, struct lsmfs_inode *ip);
/* iget + lock + iload; on error nothing is held. */
int ilock_get(lsmfs *fs, uint64_t ino, struct lsmfs_inode **ipp);
void iunlock_put(lsmfs *fs, struct lsmfs_inode *ip);
void inode_to_stat(const lsmfs *fs, uint64_t ino, const struct lsmfs_attr *a, struct stat *st);
/* Adds n to the lookup / open counts. REQUIRES: ip->mu held (so a free cannot race). */
void inode_add_lookup(lsmfs *fs, struct lsmfs_inode *ip, uint64_t n);
void inode_add_open(lsmfs *fs, struct lsmfs_inode *ip, int n);
/* Whether the kernel or an open handle still uses ip. REQUIRES: ip->mu held. */
int inode_in_use(lsmfs *fs, struct lsmfs_inode *ip);
/*
 * The link count of ip (working copy a) dropped to 0 in op: either frees
 * everything in op (*freed = 1: mark ip gone after a successful commit) or
 * records the orphan (in use, or too big for one batch), and then the
 * caller calls inode_reap once it holds no inode lock. REQUIRES: ip->mu held.
 */
int inode_unlinked(struct fs_op *op, struct lsmfs_inode *ip, const struct lsmfs_attr *a,
		   int *freed);
/* Adds the deletion of every key of an inode to op. REQUIRES: ip->mu held. */
int inode_free_keys(struct fs_op *op, uint64_t ino, const struct lsmfs_attr *a, int orphan);
/* Frees ip if nothing holds it any more and its link count is 0. Takes ip->mu. */
void inode_maybe_free(lsmfs *fs, struct lsmfs_inode *ip);
/* inode_maybe_free by number. REQUIRES: no inode lock held. */
void inode_reap(lsmfs *fs, uint64_t ino);
void icache_destroy(lsmfs *fs);
/* Entries kept whole and light records now (for tests and statistics). */
void icache_counts(lsmfs *fs, size_t *whole, size_t *light);
/* Relatime: whether reading now should update atime. */
int atime_needs_update(const struct lsmfs_attr *a, int64_t now);
/* Writes atime = now if relatime says so. REQUIRES: ip->mu held, ip loaded. */
void inode_touch_atime(lsmfs *fs, struct lsmfs_inode *ip);

/* A set of up to four inodes locked together, each with a working copy of its attributes. */
struct lock_ent {
	uint64_t ino;
	struct lsmfs_inode *ip; /* set by lockset_lock */
	struct lsmfs_attr na;	/* the attributes as the operation leaves them */
	int dirty;		/* na must be written */
	int freed;		/* the operation deletes the inode */
};
struct lockset {
	struct lock_ent e[4];
	int n;
};
void lockset_init(struct lockset *ls);
/* Adds ino (duplicates are merged); ino 0 is ignored. */
void lockset_add(struct lockset *ls, uint64_t ino);
/*
 * igets and locks every inode in ascending order and loads it. An inode
 * that is gone keeps state INODE_GONE (the caller decides); errors other
 * than that unlock everything.
 */
int lockset_lock(lsmfs *fs, struct lockset *ls);
struct lock_ent *lockset_find(struct lockset *ls, uint64_t ino);
/* Puts every dirty working copy into op (freed ones are skipped). */
int lockset_stage(struct lockset *ls, struct fs_op *op);
/* After a successful commit: copies working copies back, marks freed inodes gone. */
void lockset_apply(struct lockset *ls);
void lockset_unlock(lsmfs *fs, struct lockset *ls);

/* ---- dir.c ---- */

/* Checks a name: -ENOENT empty, -ENAMETOOLONG > 255, -EINVAL for a '/'. */
int name_check(const char *name, size_t *len);
/* Reads the entry name in dir parent: 0 with *ino, *dtype; -ENOENT absent. */
int dent_get(lsmfs *fs, uint64_t parent, const char *name, size_t nlen, uint64_t *ino,
	     uint8_t *dtype);
int dent_put(struct fs_op *op, uint64_t parent, const char *name, size_t nlen, uint64_t ino,
	     uint32_t mode);
int dent_del(struct fs_op *op, uint64_t parent, const char *name, size_t nlen);
/* 1 if directory ino has no entries, 0 if it has, negative on error. */
int dir_is_empty(lsmfs *fs, uint64_t ino);

/* ---- chunk.c (and chunk_sha, which keys.h declares) ---- */

/* Reads chunk idx of ino into buf (fs->cs bytes, zero-filled past its bytes).
 * *ref gets the reference (ref->len == 0: a hole). */
int chunk_read(lsmfs *fs, uint64_t ino, uint64_t idx, uint8_t *buf, struct fref *ref);
/*
 * chunk_read in the state snap saw: F and C from one view, so a chunk a
 * concurrent write frees is still there. Needs no inode lock.
 */
int chunk_read_at(lsmfs *fs, const lsm_snapshot *snap, uint64_t ino, uint64_t idx, uint8_t *buf,
		  struct fref *ref);
/*
 * Bytes [s, s + take) of chunk idx of ino as snap saw it, into dst. With
 * block checksums (keys.h) only the blocks they lie in are read and
 * checked, and only the patches that overlap them.
 */
int chunk_read_part_at(lsmfs *fs, const lsm_snapshot *snap, uint64_t ino, uint64_t idx, uint32_t s,
		       uint32_t take, uint8_t *dst);
/* chunk_read with the reference already read (from snap). */
int chunk_read_ref(lsmfs *fs, const lsm_snapshot *snap, uint64_t ino, uint64_t idx, uint8_t *buf,
		   const struct fref *ref);
/* Whether a reference holds anything: a base chunk or patches (else a hole). */
static inline int fref_exists(const struct fref *r)
{
	return r->len != 0 || r->npatch != 0;
}
/* Reads the F key only (a hole: len 0, no patches). */
int chunk_ref_get(lsmfs *fs, uint64_t ino, uint64_t idx, struct fref *ref);
/* chunk_ref_get, and an inline chunk's bytes into inl (INLINE_MAX bytes), checked. */
int chunk_ref_get_inline(lsmfs *fs, uint64_t ino, uint64_t idx, struct fref *ref, uint8_t *inl);
/*
 * Makes chunk idx of ino hold buf[0..len) (trailing zeros are trimmed; all
 * zeros is a hole) in op, given its old reference. a is the inode's working
 * copy: its chunk count and stored bytes follow the change (attr_chunks_*),
 * to be written in the same op. buf must stay valid until op_end (op_ref).
 */
int chunk_store(struct fs_op *op, uint64_t ino, struct lsmfs_attr *a, uint64_t idx,
		const struct fref *old, const uint8_t *buf, size_t len);
/* The reference chunk_store would give buf[0..len): length without trailing zeros, digest. */
void chunk_hash(const uint8_t *buf, size_t len, struct fref *ref);
/*
 * chunk_hash of a chunk of cs bytes whose bytes from end on are known to
 * be zeros: a small file's write does not scan the whole chunk for them.
 */
void chunk_hash_upto(const uint8_t *buf, size_t cs, size_t end, struct fref *ref);
/* chunk_store of a chunk (len bytes) whose bytes from end on are zeros. */
int chunk_store_upto(struct fs_op *op, uint64_t ino, struct lsmfs_attr *a, uint64_t idx,
		     const struct fref *old, const uint8_t *buf, size_t len, size_t end);
/* chunk_store with the reference already computed by chunk_hash (outside any lock). */
int chunk_store_hashed(struct fs_op *op, uint64_t ino, struct lsmfs_attr *a, uint64_t idx,
		       const struct fref *old, const uint8_t *buf, const struct fref *ref);
/*
 * Whether a write of len bytes at off into the chunk old names is a patch,
 * rather than a rewrite of the chunk (which folds its patches): when the
 * chunk lists room for one more (PATCH_MAX, a chunk of patch bytes),
 * rewriting would store at least twice len bytes, and the bytes are not
 * zeros over the chunk's end (which a rewrite trims).
 */
int chunk_patch_pays(lsmfs *fs, const struct fref *old, uint32_t off, const uint8_t *bytes,
		     uint32_t len);
/*
 * Writes bytes[0..len) at off of chunk idx as a patch (keys.h) in op, given
 * its old reference, which must leave room (chunk_patch_pays). The bytes
 * are copied into the batch.
 */
int chunk_patch(struct fs_op *op, uint64_t ino, struct lsmfs_attr *a, uint64_t idx,
		const struct fref *old, uint32_t off, const uint8_t *bytes, uint32_t len);
/* Makes chunk idx of ino refer to the existing chunk ref (a shared copy, counted in full). */
int chunk_share(struct fs_op *op, uint64_t ino, struct lsmfs_attr *a, uint64_t idx,
		const struct fref *old, const struct fref *ref);
/*
 * Counts n more (add) or n fewer (sub) F keys holding bytes stored bytes
 * (the sum of their stored_bytes) in a: the chunk count and the stored
 * field move together. An older build's inode (stored_old) keeps no figure
 * until its last chunk goes.
 */
void attr_chunks_add(struct lsmfs_attr *a, uint64_t n, uint64_t bytes);
void attr_chunks_sub(struct lsmfs_attr *a, uint64_t n, uint64_t bytes);

/*
 * Ranges of one file's chunks, below both the file data operations
 * (data.c) and setattr and open (inode.c), which truncate. Those that change
 * chunks take the working attributes a and keep a->chunks and a->stored
 * counted. REQUIRES: the inode's mu held.
 */
/* Called for each F key found by chunk_scan; non-zero stops the scan and is returned. */
typedef int (*fref_fn)(void *arg, uint64_t idx, const struct fref *ref);
/* Visits the F keys of ino with index >= from in index order. */
int chunk_scan(lsmfs *fs, uint64_t ino, uint64_t from, fref_fn fn, void *arg);
/* Drops every chunk with index in [from, limit). */
int chunk_drop_range(struct fs_op *op, uint64_t ino, struct lsmfs_attr *a, uint64_t from,
		     uint64_t limit);
/* Zeroes bytes [s, e) of chunk idx (if it holds data) in op. */
int chunk_zero_range(struct fs_op *op, uint64_t ino, struct lsmfs_attr *a, uint64_t idx, uint32_t s,
		     uint32_t e);
/* Cuts the file to size in op (-EFBIG past the largest): drops chunks, trims the last one. */
int chunk_truncate(struct fs_op *op, uint64_t ino, struct lsmfs_attr *a, uint64_t size);

#endif
