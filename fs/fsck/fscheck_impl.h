/*
 * fscheck_impl.h — the inside of lsmfs_check, shared by its files: the
 * picture of the filesystem the passes build and repair (struct ck and the
 * records it holds), the helpers every pass uses, and each pass.
 *
 *   fscheck.c         the driver: opens the engine, runs the passes in order
 *   fscheck_util.c    messages, progress, lookups in the picture
 *   fscheck_scan.c    reading every key into the picture
 *   fscheck_tree.c    superblock, inodes, entries, reachability, /lost+found
 *   fscheck_chunks.c  chunks, chunk references, the counts repairs change
 *   fscheck_repair.c  writing the repairs
 *
 * The order of the passes, and why, is at the top of fscheck.c.
 */
#ifndef LSMFS_FSCHECK_IMPL_H
#define LSMFS_FSCHECK_IMPL_H

#include "fscheck.h"

#include "fs/lsmfs.h"
#include "lsm.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define NONE		  SIZE_MAX
#define NPHASES		  5
#define BATCH_MAX_DEFAULT ((size_t)64 << 20)
#define MSG_LEN		  1024
#define PATH_LEN	  1024
#define PROGRESS_STEP	  4096u /* keys between two progress calls */

/* Inode states. */
enum {
	ST_LIVE,    /* stays */
	ST_DAMAGED, /* undecodable or of no known type: cleared with its keys */
	ST_REMOVE,  /* removed by a repair (finished orphan, symlink without target) */
};

struct ck_ino {
	uint64_t ino;
	struct lsmfs_attr a;   /* as the repair leaves it */
	struct lsmfs_attr was; /* as found */
	size_t dent;	       /* its entry (a directory's only one), NONE when none */
	size_t kdent;	       /* the entry fsck_check_entries keeps for it, while it runs */
	uint32_t links;	       /* entries naming it */
	uint32_t subdirs;      /* entries in it naming directories */
	uint64_t rawf;	       /* F keys naming it, as found */
	uint64_t rawstored;    /* stored_bytes of the well-formed ones, as found */
	uint64_t fkeep;	       /* F keys the repair keeps */
	uint64_t skeep;	       /* stored_bytes of those */
	uint64_t xkeys;	       /* X keys */
	uint32_t llen;	       /* symlink target bytes */
	uint32_t vlen;	       /* bytes of the I value */
	uint32_t walk;	       /* generation of the last upward walk that passed here */
	uint32_t seen;	       /* generation of the last ck_where() that passed here */
	uint8_t state, is_new, force, has_l, orphan, drop_o, pending, reached;
	uint8_t fbad; /* one of its F keys is malformed: rawstored is not what the fs counted */
};

/* Entry actions. */
enum { D_KEEP, D_DROP, D_NEW };

struct ck_dent {
	uint64_t parent, child, nhash, newhash;
	size_t name; /* offset into the name pool */
	uint16_t nlen;
	uint8_t dtype, act, rekey, retype;
	const char *bad; /* why the entry is malformed, or NULL */
};

/* Chunk reference actions. */
enum { F_KEEP, F_DROP, F_PUT };

struct ck_fref {
	uint64_t ino, idx;
	uint8_t sha[SHA_LEN];
	uint32_t len;  /* of the base chunk; 0: none */
	uint32_t pset; /* its patches: st->ps[pset - 1]; 0: none */
	uint8_t act, bad;
	uint8_t npatch;	 /* patches listed, as found */
	uint16_t pseen;	 /* bit n: P key n was found with the listed length */
	uint8_t pbad;	 /* a P key of it was unreadable or of the wrong length */
	uint8_t pdrop;	 /* the repair drops its patches (deletes every P key it listed) */
	uint8_t nsum;	 /* block checksums listed */
	uint32_t sumsig; /* block_sum of them */
	uint8_t inl;	 /* an inline chunk: its bytes in the reference (no C, no R) */
	uint8_t ibad;	 /* ... which do not match its SHA-256 */
	uint8_t *idata;	 /* the inline bytes the repair writes (a trimmed chunk), else NULL */
};

/* The patch list of one chunk reference. */
struct ck_pset {
	struct fpatch p[PATCH_MAX];
};

struct ck_chunk {
	uint8_t sha[SHA_LEN];
	uint32_t clen;
	uint8_t has_c, c_bad, has_r, r_bad;
	uint8_t c_lost;	 /* its bytes cannot be read (damaged value file): c_bad too */
	uint32_t sumsig; /* block_sum of the block checksums of its bytes (ck_sums_sig) */
	uint64_t r;	 /* R value as found */
	uint64_t raw;	 /* F keys naming it, as found */
	uint64_t refs;	 /* F keys naming it after the repair */
	uint8_t *data;	 /* bytes the repair stores (a trimmed chunk), else NULL */
};

/* A key the repair deletes as it is (malformed, or a stray of a missing inode). */
struct ck_key {
	uint8_t *k;
	size_t len;
};

/* One stray key (F, X, L) of an inode, gathered to be reported per inode. */
struct ck_stray {
	uint64_t ino;
	char tag;
};

struct ck {
	lsm_db *db;
	const lsmfs_check_opts *o;
	lsmfs_check_result *res;
	int repair;
	int err; /* first -ENOMEM (or read error) of a pass */

	struct lsmfs_super sb;
	int have_sb, sb_rc, sb_dirty;
	uint64_t cs;
	uint32_t sum_unit; /* fref_sum_unit of the chunk size, known before the scan (0: none) */

	/* The live inode count: N keys as found, and what the repair writes. */
	uint64_t ikeys;		/* I keys found */
	int64_t icount;		/* sum of the well-formed N keys */
	uint32_t icount_shards; /* bit n: N key n found */
	int icount_bad;		/* an N value not of 8 bytes */
	int icount_set;		/* the repair deletes them and writes N 0 = icount_after */
	uint64_t icount_after;	/* the inodes the repair leaves */

	struct ck_ino *in;
	size_t nin, capin;
	struct ck_dent *de;
	size_t nde, capde, nsorted; /* entries [0, nsorted) are in key order */
	char *pool;
	size_t npool, cappool;
	struct ck_fref *f;
	size_t nf, capf;
	struct ck_pset *ps;
	size_t nps, capps;
	struct ck_chunk *ch;
	size_t nch, capch;
	struct ck_chunk *ronly; /* R keys without a C key, merged into ch after the scan */
	size_t nronly, capronly;
	struct ck_key *del;
	size_t ndel, capdel;
	struct ck_stray *stray;
	size_t nstray, capstray;

	uint64_t lf;  /* /lost+found, once known */
	int lf_state; /* 0 not looked for, 1 usable, -1 unusable */
	int lf_made;  /* made by this repair */
	uint32_t walkgen, pathgen;

	char what[MSG_LEN], fix[MSG_LEN];
	char path[2][PATH_LEN];
	char wname[LSMFS_NAME_MAX * 4 + 1]; /* ck_where()'s own */
	char name[2][LSMFS_NAME_MAX * 4 + 3];
};

/* A pointer to a new zeroed element at the end of arr, or NULL (st->err set). */
#define PUSH(st, arr, n, cap)                                           \
	(((n) < (cap) || ck_grow((st), &(arr), &(cap), sizeof(*(arr)))) \
		 ? memset(&(arr)[(n)++], 0, sizeof(*(arr)))             \
		 : NULL)

/* ---- fscheck_util.c: messages, progress, lookups in the picture ---- */

int ck_grow(struct ck *st, void *arrp, size_t *cap, size_t size);
const char *ck_fixf(struct ck *st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void ck_report(struct ck *st, int code, int kind, uint64_t ino, const char *fix, const char *fmt,
	       ...) __attribute__((format(printf, 6, 7)));
void ck_progress(struct ck *st, int phase, const char *what, uint64_t done, uint64_t total);
void ck_tick(struct ck *st, int phase, const char *what, uint64_t i, uint64_t total);
const char *ck_sha_hex(const uint8_t *sha, char out[17]);
const char *ck_key_text(const uint8_t *k, size_t len, char out[64]);
const char *ck_dent_name(struct ck *st, int slot, const struct ck_dent *d);
const char *ck_type_name(uint32_t mode);
int ck_known_type(uint32_t mode);
struct ck_ino *ck_ino_find(struct ck *st, uint64_t ino);
struct ck_fref *ck_fref_find(struct ck *st, uint64_t ino, uint64_t idx);
/* A fingerprint of n block checksums, to compare a reference's with its chunk's. */
uint32_t ck_sums_sig(const uint32_t *sum, uint32_t n);
/* What f holds by the inode's stored field's rule: its base and the patches it keeps. */
uint64_t ck_fref_stored(const struct ck *st, const struct ck_fref *f);
/* f as a chunk reference, with its patches unless the repair drops them. */
void ck_fref_to(const struct ck *st, const struct ck_fref *f, struct fref *r);
int ck_chunk_cmp(const void *a, const void *b);
struct ck_chunk *ck_chunk_find(struct ck *st, const uint8_t *sha);
size_t ck_dent_lookup(const struct ck *st, uint64_t parent, uint64_t nhash, const char *name,
		      size_t nlen);
size_t ck_dent_first(const struct ck *st, uint64_t parent);
int ck_dent_name_taken(const struct ck *st, uint64_t parent, const char *name, size_t nlen);
size_t ck_pool_add(struct ck *st, const void *name, size_t len);
const char *ck_where(struct ck *st, uint64_t ino, int slot);
void ck_del_key(struct ck *st, const uint8_t *k, size_t len);
void ck_add_stray(struct ck *st, uint64_t ino, char tag);

/* ---- fscheck_scan.c: reading every key ---- */

int fsck_scan(struct ck *st);

/* ---- fscheck_tree.c: superblock, inodes, entries, reachability and /lost+found ---- */

int fsck_check_super(struct ck *st, const char *dir, const char **msgp, char *msg);
void fsck_check_inodes(struct ck *st);
void fsck_index_paths(struct ck *st);
void fsck_count_raw(struct ck *st);
void fsck_check_strays(struct ck *st);
void fsck_check_symlinks_xattrs(struct ck *st);
void fsck_check_entries(struct ck *st);
void fsck_count_links(struct ck *st);
void fsck_check_orphans(struct ck *st);
void fsck_check_counts(struct ck *st);
void fsck_check_reachable(struct ck *st);

/* ---- fscheck_chunks.c: chunks, chunk references, the counts repairs change ---- */

void fsck_check_chunks(struct ck *st);
void fsck_check_frefs(struct ck *st);
void fsck_final_counts(struct ck *st);
/* fscheck_tree.c, last: the live inode count against the inodes. */
void fsck_check_icount(struct ck *st);

/* ---- fscheck_repair.c: writing the repairs ---- */

int fsck_write_repairs(struct ck *st, const char **msgp, char *msg);

#endif
