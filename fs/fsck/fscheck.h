/*
 * fscheck.h — the offline consistency check of an lsmfs data directory, and
 * its repair: what fsck.lsmfs runs, and what the tests call to prove a data
 * directory consistent after any sequence of operations.
 *
 * The check opens the engine itself (so the directory must not be mounted),
 * verifies every live table block and WAL record (lsm_verify), reads every
 * key once, and then checks the filesystem the keys describe against the
 * rules of fs/keys.h: the superblock; every inode reachable from the root
 * or an orphan; entries that name existing inodes of their type; link
 * counts; directory parents; symlink targets; chunk references, digests,
 * lengths and reference counts; each file's chunk count and stored bytes;
 * no leaked chunk; the inode reservation.
 *
 * Each problem is reported once, with the repair that would fix it. With
 * repair set, the repairs are written when the whole check is done, as one
 * atomic batch (or, past batch_bytes, as several batches ordered so that a
 * crash between two of them leaves nothing a second run cannot finish:
 * counts are raised before and lowered after the keys they count change).
 * A problem that follows from a repair (a reference count that drops when a
 * dangling reference is removed) is part of that repair, not a new problem.
 */
#ifndef LSMFS_CHECK_H
#define LSMFS_CHECK_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* What a report is about. The comment says what the repair does. */
enum lsmfs_check_code {
	LSMFS_CK_ENGINE,      /* a table block or WAL record is damaged (no repair here) */
	LSMFS_CK_SUPER,	      /* the superblock is damaged (no repair: the check stops) */
	LSMFS_CK_KEY,	      /* a key of no kind or length lsmfs writes: removed */
	LSMFS_CK_RESERVATION, /* an inode at or past the inode reservation: raised */
	LSMFS_CK_ROOT,	      /* the root inode is missing or no directory: made anew */
	LSMFS_CK_INODE,	      /* an undecodable inode, or of no known type: cleared */
	LSMFS_CK_STRAY,	      /* F, X or L keys of a missing inode or the wrong type: removed */
	LSMFS_CK_DENT,	      /* a malformed entry (value, name): removed */
	LSMFS_CK_DANGLING,    /* an entry naming a missing inode, or in a non-directory: removed */
	LSMFS_CK_DENT_HASH,   /* an entry stored under the wrong name hash: moved (or removed) */
	LSMFS_CK_DENT_TYPE,   /* an entry's type differs from its inode's: rewritten */
	LSMFS_CK_DIR_LINK, /* a second entry naming a directory, or one naming the root: removed */
	LSMFS_CK_UNREACHABLE,	/* not reachable from the root and no orphan: into /lost+found */
	LSMFS_CK_NLINK,		/* a link count that differs from the entries: set */
	LSMFS_CK_PARENT,	/* a directory's parent field differs from its entry: set */
	LSMFS_CK_SYMLINK,	/* a symlink without target (removed) or of the wrong size (set) */
	LSMFS_CK_XATTR_FLAG,	/* X keys on an inode without LSMFS_IFLAG_XATTR: flag set */
	LSMFS_CK_ORPHAN,	/* an O key of a linked or missing inode: removed */
	LSMFS_CK_CHUNK_COUNT,	/* an inode's chunk count differs from its F keys: set */
	LSMFS_CK_STORED,	/* an inode's stored bytes differ from its F keys': set */
	LSMFS_CK_FREF,		/* a malformed chunk reference: removed, the range reads zeros */
	LSMFS_CK_CHUNK_MISSING, /* a reference to a chunk not stored: removed, reads zeros */
	LSMFS_CK_CHUNK_DIGEST,	/* chunk bytes that fail their SHA-256: freed, references removed */
	LSMFS_CK_CHUNK_LEN,	/* a reference whose length differs from its chunk's: set */
	LSMFS_CK_PAST_EOF, /* stored bytes at or past the file size: chunk trimmed or removed */
	LSMFS_CK_REFCOUNT, /* a reference count (R) that differs from the references: set */
	LSMFS_CK_LEAK,	   /* a chunk (C and/or R) that no reference names: freed */
	LSMFS_CK_PATCH,	   /* a patch missing, unreadable, stray or past the end: dropped */
	LSMFS_CK_SUMS,	   /* a reference's block checksums disagree with its chunk: dropped */
	LSMFS_CK_ICOUNT,   /* the live inode count (N keys) differs from the inodes: set */
	/* Notes: states a crash leaves and the next mount finishes; not errors. */
	LSMFS_CK_PENDING_ORPHAN, /* unlinked while open: repair frees it, as mount would */
	LSMFS_CK_TORN_WAL, /* the WAL ends in a torn write (read-only check); recovery drops it */
	LSMFS_CK_NCODES
};

/* How a report counts. */
enum lsmfs_check_kind {
	LSMFS_CK_PROBLEM, /* an inconsistency: counted in errors */
	LSMFS_CK_NOTE,	  /* a state a crash leaves, which mount finishes: not an error */
	LSMFS_CK_LOST,	  /* detail of a problem's repair: file bytes that will read as zeros */
};

typedef struct lsmfs_check_report {
	int code;	  /* enum lsmfs_check_code */
	int kind;	  /* enum lsmfs_check_kind */
	uint64_t ino;	  /* the inode it is about, 0 when none */
	const char *what; /* the problem, one sentence without the final period */
	/* The repair, as a question ("Set it to 2"), or NULL when there is none.
	 * With repair set it is done once the check has run (see result.fixed). */
	const char *fix;
} lsmfs_check_report;

typedef struct lsmfs_check_opts {
	int repair;	  /* 1: fix what can be fixed (the engine is opened for writing) */
	int skip_engine;  /* 1: no lsm_verify (the key scan still checks what it reads) */
	size_t batch_max; /* repairs above this many bytes go in several batches (0: 64 MiB) */
	void *engine_env; /* lsm_env * for tests; NULL = POSIX */
	/*
	 * Called for each problem, note and lost range, in the order found; the
	 * strings are valid during the call only. NULL: nothing is reported.
	 */
	void (*report)(void *arg, const lsmfs_check_report *r);
	/*
	 * Called at the start of each phase (done 0) and as it goes; total is
	 * 0 when the phase cannot know its size. At most a few hundred calls a
	 * phase. NULL: none.
	 */
	void (*progress)(void *arg, int phase, int nphases, const char *what, uint64_t done,
			 uint64_t total);
	void *arg; /* passed to report and progress */
} lsmfs_check_opts;

typedef struct lsmfs_check_result {
	uint64_t errors;    /* problems found */
	uint64_t unfixable; /* of those, ones no repair exists for (engine damage, ...) */
	uint64_t fixed;	    /* of those, repaired: set once every repair batch is written */
	uint64_t notes;	    /* pending orphans, a torn WAL tail */
	uint64_t finished;  /* pending orphans freed by the repair */
	uint64_t lost;	    /* file ranges that read as zeros after the repair */
	uint64_t count[LSMFS_CK_NCODES]; /* reports by code (lost lines not counted) */
	int incomplete;			 /* the filesystem level could not be checked (see msg) */
	int modified;			 /* the repair wrote to the filesystem */
	/* What was read. */
	uint64_t keys, inodes, dirs, files, symlinks, chunks, chunk_bytes;
	/*
	 * Files whose inode an older build wrote, without the stored bytes
	 * (fs/keys.h): not a problem; a repair fills the figure in.
	 */
	uint64_t old_inodes;
} lsmfs_check_result;

/*
 * Checks the lsmfs data directory dir, which must not be in use. opts may
 * be NULL (check only, engine verified, nothing reported). *res is filled
 * in whenever the check ran, also when it found problems or could check
 * only the engine (res->incomplete: the superblock is damaged or a key
 * could not be read; repairs are then not made).
 *
 * Returns 0 when the check ran, else a negative errno and, in *msg (if not
 * NULL; static or thread-local, valid until the thread's next call), the
 * cause: -ENOENT / -ENOTDIR (no such directory), -EMEDIUMTYPE (no lsmfs
 * there), -EBUSY (in use: mounted, or opened by another program),
 * -EPROTONOSUPPORT (a newer format), -EUCLEAN (the engine's own files are
 * too damaged to open), -ENOMEM, or the error that stopped writing the
 * repairs (then res->fixed is 0; with one batch nothing was written).
 */
int lsmfs_check(const char *dir, const lsmfs_check_opts *opts, lsmfs_check_result *res,
		const char **msg);

/* A short stable name of a code ("dangling-entry"), for logs and tests. */
const char *lsmfs_check_code_name(int code);

#ifdef __cplusplus
}
#endif
#endif /* LSMFS_CHECK_H */
