/*
 * keys.h — how lsmfs lays its state out as liblsm keys and values.
 *
 * Every key starts with one ASCII tag byte; every integer is big-endian so
 * that memcmp order is numeric order and one inode's keys form a prefix
 * range. docs/FORMAT.md ("lsmfs key schema") repeats this for users.
 *
 * This header is part of the fs core's API: lsmfs.h includes it, so that a
 * tool reading an unmounted data directory (the checker, fs/fsck/) decodes
 * the keys with the code that encodes them.
 *
 *   key                                   value
 *   'S'                                   superblock                     (SB_*)
 *   'I' ino:8                             inode                          (INODE_*)
 *   'D' parent:8 nhash:8 name             child ino:8 dtype:1
 *   'L' ino:8                             symlink target bytes
 *   'X' ino:8 name                        extended attribute value
 *   'F' ino:8 index:8                     sha256:32 len:4 [patches [sums]] (chunk reference)
 *   'C' sha256:32                         chunk bytes (len of them, 1..chunk size)
 *   'R' sha256:32                         reference count:8
 *   'O' ino:8                             empty (orphan: nlink 0, still in use)
 *   'P' ino:8 index:8 n:1                 the bytes of patch n of that chunk
 *   'N' shard:1                           inode count:8 (two's complement)
 *
 * Superblock value (56 bytes, longer values allowed for later fields):
 *   [magic "lsmfs-sb":8][version:4][chunk_size:4][uuid:16]
 *   [incompat features:8][creation time ns:8][inode reservation end:8]
 * A mount refuses incompatible feature bits it does not know
 * (-EPROTONOSUPPORT). Bit 0, SB_INCOMPAT_PATCHES: chunk references may list
 * patches (below), which an older build would ignore and so serve stale
 * bytes. Bit 1, SB_INCOMPAT_PATCH16: up to 16 patches of together up to a
 * whole chunk (bit 0 alone: 8 of up to half a chunk), which a build of
 * bit 0 alone would call damaged. Bit 2, SB_INCOMPAT_INLINE: a chunk
 * reference may hold its chunk's bytes (inline chunks, below), which an
 * older build would call damaged. mkfs sets all three, and a read-write
 * mount sets them on an older volume.
 *
 * Inode value (96 bytes, longer allowed; 88 from older builds, see below):
 *   [mode:4][uid:4][gid:4][nlink:4][flags:4][reserved:4]
 *   [size:8][chunks:8][atime:8][mtime:8][ctime:8][rdev:8][generation:8][parent:8]
 *   [stored:8]
 * Times are signed nanoseconds since the epoch (two's complement). chunks is
 * the number of F keys; stored is the sum of their len and patch lengths, each rounded up to
 * STORED_UNIT (stored_bytes), in bytes: what st_blocks reports, so that a
 * 100-byte file takes 4 KiB as on ext4 rather than a whole chunk. A chunk
 * shared by several files counts in each, as a reflinked extent on btrfs.
 * Both change in the batch that changes the F keys, so stat needs no scan.
 * parent is the directory's parent (readdir synthesises "..", no entry is
 * stored); for other types it is the parent at creation and means nothing
 * after that.
 *
 * An 88-byte inode was written by a build that kept no stored field. It
 * decodes with stored_old set, and st_blocks stays chunks x chunk size, the
 * figure that build gave, so nothing changes for the file; such an inode is
 * written back in 88 bytes until its figure is known again: when its last
 * chunk goes (a truncate to 0, a rewrite) it holds exactly nothing, and
 * fsck -y fills the figure in from the F keys. For fsck such an inode is
 * not a problem; only a stored field that is there and wrong is. An 88-byte
 * inode without chunks decodes as stored 0, exact.
 *
 * Directory entries: nhash is a 54-bit SipHash-2-4 of the name keyed with
 * the volume uuid (so names cannot be chosen to collide without knowing it).
 * Entries of one directory sort by (nhash, name), and readdir's cookie for an
 * entry is ((nhash << 8) | rank) + 3, where rank is the entry's position
 * among the entries with the same nhash (almost always 0). Cookies 1 and 2
 * belong to "." and ".."; all cookies stay below 2^63 so they are valid
 * signed offsets for telldir/seekdir.
 *
 * File data: chunk i covers bytes [i * chunk_size, (i + 1) * chunk_size). A
 * chunk is stored with its trailing zero bytes removed, so an all-zero chunk
 * is no key at all (a hole), and a stored chunk never holds bytes at or past
 * the file size: what follows its len bytes reads as zeros. C and R are
 * shared by every F naming the same digest (deduplication); R counts them.
 *
 * Patches: a small write into a chunk does not rewrite it. Its bytes go
 * into a P key and the F value lists them after the base reference:
 *   F value = sha256:32 len:4 [npatch:1 npatch x (off:4 plen:4)]
 * The chunk reads as its base (len bytes of C sha256, zeros after; len 0
 * means no base: all zeros, sha256 unused) with patch 0, 1, ... npatch-1
 * copied over it in that order: P ino index n holds the plen bytes that go
 * at off. A value of 36 bytes has no patches (as every older build wrote).
 * At most PATCH_MAX patches of together at most a chunk are listed;
 * the write that would pass that folds them: it reads the chunk as it
 * reads, stores the result as a whole deduplicated chunk and deletes the P
 * keys, all in its one batch. Patch bytes are checked by the engine's
 * checksum (no SHA-256: they are not shared), and like chunk bytes never lie
 * at or past the file size. A patch does not count in the R keys; its plen
 * counts in the inode's stored field (rounded up to STORED_UNIT, as a
 * chunk's len does).
 *
 * Inline chunks: a chunk of at most the mount's inline limit (default
 * LSMFS_INLINE_DEFAULT, at most INLINE_MAX bytes once its trailing zeros
 * are trimmed) keeps its bytes in its reference instead of a C key:
 *   F value = sha256:32 (len | FREF_INLINE):4 bytes:len
 * sha256 is the digest of the bytes, checked by reads as a C key's is. An
 * inline chunk takes no R count, has no patches and no block checksums
 * (a write into it rewrites it), and is not deduplicated; its len counts
 * in the inode's stored field as a chunk's does. A small file is thus
 * three keys (I, D, F), and a read of it one get; a write that makes the
 * chunk longer than the limit stores it as a C chunk in the same batch.
 *
 * Block checksums: with a chunk size of 64 KiB or more, a reference also
 * carries the checksum of each sixteenth of its base chunk (the last one
 * cut at len), so that a small read fetches and checks only the blocks it
 * needs instead of the whole chunk and its SHA-256:
 *   F value = sha256:32 len:4 npatch:1 [patches] nsum:1 nsum x sum:4
 *   sum     = low 32 bits of XXH3-64 (unseeded) of that block's bytes
 * nsum is 0 (or the field absent) when not known, else ceil(len / (chunk
 * size / 16)); a reference that shares a chunk copies its sums.
 *
 * Inode count: the N keys (shard 0 .. ICOUNT_SHARDS - 1, each present or
 * not) add up to the number of I keys, which df -i reports as used. Every
 * batch that puts a new I key or deletes one also puts one shard's N key
 * with that change added (fs/icount.c). mkfs writes N 0 = 1 (the root); a
 * read-write mount of a volume without N keys counts its I keys and writes
 * N 0. An older build does not keep them: after one wrote, fsck.lsmfs
 * reports the count and sets it.
 */
#ifndef LSMFS_KEYS_H
#define LSMFS_KEYS_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

#define KEY_SUPER  'S'
#define KEY_INODE  'I'
#define KEY_DENT   'D'
#define KEY_LINK   'L'
#define KEY_XATTR  'X'
#define KEY_FCHUNK 'F'
#define KEY_CHUNK  'C'
#define KEY_REF	   'R'
#define KEY_ORPHAN 'O'
#define KEY_PATCH  'P'
#define KEY_COUNT  'N'
/* The live inode count is the sum of N keys 0 .. ICOUNT_SHARDS - 1. */
#define ICOUNT_SHARDS 32

#define SB_MAGIC     "lsmfs-sb"
#define SB_MAGIC_LEN 8
#define SB_LEN	     56
#define INODE_LEN    96
#define DENT_VAL_LEN 9
#define FREF_LEN     36 /* a chunk reference without patches */
/* fsck keeps one bit per patch in a uint16_t (ck_fref.pseen). */
#define PATCH_MAX  16 /* patches one chunk reference lists */
#define SUM_BLOCKS 16 /* block checksums of one chunk reference */
/* Chunks of this size and more carry block checksums. */
#define SUM_MIN_CHUNK (64u * 1024)
/* The len field's top bit: the chunk's bytes follow in the reference itself. */
#define FREF_INLINE 0x80000000u
/*
 * The most bytes a reference holds inline: so that it stays under the
 * blob threshold (LSMFS_BLOB_THRESHOLD, 4 KiB) in the engine's tree.
 */
#define INLINE_MAX 4032u /* LSMFS_INLINE_MAX (lsmfs.h) */
/* The longest reference: PATCH_MAX patches and SUM_BLOCKS checksums, or inline bytes. */
#define FREF_MAX_LEN (FREF_LEN + INLINE_MAX)
#define SHA_LEN	     32

/* The inode of a build before the stored field, still decoded (see above). */
#define INODE_LEN_OLD 88
/* The inode's stored field counts each chunk's bytes rounded up to this (ext4's block). */
#define STORED_UNIT 4096u

/* Bits of the 64-bit name hash kept in the key: the rest of a cookie is rank. */
#define NHASH_BITS	 54
#define COOKIE_RANK_BITS 8
#define COOKIE_FIRST	 3 /* cookies 1, 2 are "." and ".." */

/* Longest key: 'D' + parent + nhash + a 255-byte name. */
#define KEY_MAX (1 + 8 + 8 + 255)

/* Superblock incompat features a build understands. */
#define SB_INCOMPAT_PATCHES ((uint64_t)1) /* F values may list patches */
#define SB_INCOMPAT_PATCH16 ((uint64_t)2) /* ... up to 16 of them (else 8) */
#define SB_INCOMPAT_INLINE  ((uint64_t)4) /* F values may hold their chunk's bytes */
#define SB_INCOMPAT_KNOWN   (SB_INCOMPAT_PATCHES | SB_INCOMPAT_PATCH16 | SB_INCOMPAT_INLINE)

/* Inode flags. */
#define LSMFS_IFLAG_INLINE 1u /* reserved, never set (inline bytes are chunk references') */
#define LSMFS_IFLAG_XATTR  2u /* X keys may exist: freeing the inode must scan for them */

static inline void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static inline uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline void put_be64(uint8_t *p, uint64_t v)
{
	put_be32(p, (uint32_t)(v >> 32));
	put_be32(p + 4, (uint32_t)v);
}

static inline uint64_t get_be64(const uint8_t *p)
{
	return (uint64_t)get_be32(p) << 32 | get_be32(p + 4);
}

/* A built key: small enough to live on the stack. */
struct fkey {
	size_t len;
	uint8_t b[KEY_MAX];
};

static inline void key_ino(struct fkey *k, char tag, uint64_t ino)
{
	k->b[0] = (uint8_t)tag;
	put_be64(k->b + 1, ino);
	k->len = 9;
}

/* 'D' parent [nhash name]; with name == NULL only the prefix of the hash group. */
static inline void key_dent(struct fkey *k, uint64_t parent, uint64_t nhash, const char *name,
			    size_t nlen)
{
	key_ino(k, KEY_DENT, parent);
	put_be64(k->b + 9, nhash);
	k->len = 17;
	if (name) {
		memcpy(k->b + 17, name, nlen);
		k->len += nlen;
	}
}

static inline void key_fchunk(struct fkey *k, uint64_t ino, uint64_t idx)
{
	key_ino(k, KEY_FCHUNK, ino);
	put_be64(k->b + 9, idx);
	k->len = 17;
}

static inline void key_patch(struct fkey *k, uint64_t ino, uint64_t idx, uint32_t n)
{
	key_fchunk(k, ino, idx);
	k->b[0] = KEY_PATCH;
	k->b[17] = (uint8_t)n;
	k->len = 18;
}

static inline void key_xattr(struct fkey *k, uint64_t ino, const char *name, size_t nlen)
{
	key_ino(k, KEY_XATTR, ino);
	memcpy(k->b + 9, name, nlen);
	k->len = 9 + nlen;
}

/* Shard n of the live inode count (fs/icount.c). */
static inline void key_count(struct fkey *k, unsigned n)
{
	k->b[0] = KEY_COUNT;
	k->b[1] = (uint8_t)n;
	k->len = 2;
}

static inline void key_sha(struct fkey *k, char tag, const uint8_t *sha)
{
	k->b[0] = (uint8_t)tag;
	memcpy(k->b + 1, sha, SHA_LEN);
	k->len = 1 + SHA_LEN;
}

/* The decoded superblock. */
struct lsmfs_super {
	uint32_t version;
	uint32_t chunk_size;
	uint8_t uuid[16];
	uint64_t incompat;
	int64_t ctime_ns;
	uint64_t ino_end; /* inode numbers below this may have been handed out */
};

/* The decoded inode (I value). */
struct lsmfs_attr {
	uint32_t mode, uid, gid, nlink, flags;
	uint64_t size, chunks, rdev, generation, parent;
	int64_t atime, mtime, ctime;
	uint64_t stored; /* bytes the F keys hold, each rounded up to STORED_UNIT */
	int stored_old;	 /* decoded from an older build's 88 bytes: stored is not known */
};

/* A patch of a chunk: plen bytes at off, held by a P key. */
struct fpatch {
	uint32_t off, len;
};

/* A decoded F value. */
struct fref {
	uint8_t sha[SHA_LEN];
	uint32_t len;	 /* bytes of the base chunk; 0: no base (sha unused) */
	uint32_t npatch; /* patches listed, 0..PATCH_MAX */
	struct fpatch patch[PATCH_MAX];
	uint32_t nsum; /* block checksums, 0 (none) or fref_nsum() */
	uint32_t sum[SUM_BLOCKS];
	/* 1: an inline chunk, its len bytes in the F value (no C, no R, no patches) */
	uint32_t inl;
};

/* The bytes one block checksum covers for chunk size cs; 0: no checksums. */
static inline uint32_t fref_sum_unit(uint32_t cs)
{
	return cs >= SUM_MIN_CHUNK ? cs / SUM_BLOCKS : 0;
}

/* The checksums a base chunk of len bytes has for chunk size cs. */
static inline uint32_t fref_nsum(uint32_t cs, uint32_t len)
{
	uint32_t unit = fref_sum_unit(cs);

	return unit ? (len + unit - 1) / unit : 0;
}

/* A block checksum (keys.h, "Block checksums"). */
uint32_t block_sum(const void *data, size_t len);
/* Sets r's block checksums from its base chunk's bytes (len of them) for chunk size cs. */
void fref_set_sums(struct fref *r, const uint8_t *data, uint32_t cs);

void super_encode(uint8_t out[SB_LEN], const struct lsmfs_super *sb);
/* 0, or -EUCLEAN (short or bad magic) / -EPROTONOSUPPORT (newer version or features). */
int super_decode(struct lsmfs_super *sb, const void *val, size_t len);

/* Returns the length written: INODE_LEN, or INODE_LEN_OLD for a stored_old inode. */
size_t inode_encode(uint8_t out[INODE_LEN], const struct lsmfs_attr *a);
/* 0 or -EUCLEAN when too short (under INODE_LEN_OLD). */
int inode_decode(struct lsmfs_attr *a, const void *val, size_t len);

/* What len bytes of a chunk or patch add to its inode's stored field. */
static inline uint64_t stored_bytes(uint32_t len)
{
	return ((uint64_t)len + STORED_UNIT - 1) / STORED_UNIT * STORED_UNIT;
}

/* What a chunk reference adds to its inode's stored field: base and patches. */
uint64_t fref_stored(const struct fref *r);
/* The bytes of its patches together. */
uint32_t fref_patch_bytes(const struct fref *r);
/* Where its last byte that may be non-zero ends: past the base and every patch. */
uint32_t fref_end(const struct fref *r);

/*
 * Returns the length written: FREF_LEN without patches, up to FREF_MAX_LEN.
 * An inline reference (r->inl) is followed by its r->len bytes from data.
 */
size_t fref_encode(uint8_t out[FREF_MAX_LEN], const struct fref *r, const uint8_t *data);
/*
 * 0, or -EUCLEAN: too short, neither base nor patch, a patch count over
 * PATCH_MAX, an empty patch, or more than SUM_BLOCKS checksums; an inline
 * reference of no byte, more than INLINE_MAX, or not exactly followed by
 * its bytes (at val + FREF_LEN). Offsets, and the checksum count, are the
 * caller's to check against its chunk size (fref_end, fref_nsum).
 */
int fref_decode(struct fref *r, const void *val, size_t len);

/* SipHash-2-4 of name with the 16-byte key, reduced to NHASH_BITS bits. */
uint64_t name_hash(const uint8_t key[16], const char *name, size_t len);

/* The SHA-256 of a chunk's bytes: the digest its F, C and R keys name it by (chunk.c). */
void chunk_sha(const void *data, size_t len, uint8_t sha[SHA_LEN]);

#ifdef __cplusplus
}
#endif
#endif
