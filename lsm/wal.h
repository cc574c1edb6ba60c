/*
 * wal.h — the write-ahead log: a file of checksummed records.
 *
 * The byte format is drawn at the top of wal.c. One record holds one write
 * batch (batch_internal.h); a record may span fixed-size blocks.
 */
#ifndef LSM_WAL_H
#define LSM_WAL_H

#include "buf.h"
#include "dbformat.h"
#include "env.h"

#include <stdint.h>

#define LSM_WAL_BLOCK 32768
/* Fragment header: [checksum: le32][length: le16][type: 1]. */
#define LSM_WAL_HEADER 7

/* Fragment types; 0 is never written, so a zero-filled region is not a fragment. */
enum lsm_wal_type {
	LSM_WAL_FULL = 1,   /* a whole record */
	LSM_WAL_FIRST = 2,  /* first piece of a record that spans blocks */
	LSM_WAL_MIDDLE = 3, /* neither first nor last piece */
	LSM_WAL_LAST = 4,   /* last piece */
};

typedef struct lsm_wal_writer lsm_wal_writer;
typedef struct lsm_wal_reader lsm_wal_reader;

/*
 * Creates (truncating) the log at path. The writer owns its file.
 * A writer has no lock of its own: the caller serialises every call on it
 * (the db's write leader). Making the new file's directory entry durable
 * (env->sync_dir) is the caller's job, before it relies on lsm_wal_sync().
 * A log is never reopened for appending: after recovery the db starts a new
 * one, so records are never written after a torn tail.
 */
int lsm_wal_writer_open(lsm_env *env, const char *path, lsm_wal_writer **out);
/*
 * Appends one record per element of recs (group commit: several batches,
 * one write() call). Does not sync. On error the log must not be appended to
 * again (the caller turns read-only).
 */
int lsm_wal_add_records(lsm_wal_writer *w, const lsm_slice *recs, int n);
static inline int lsm_wal_add_record(lsm_wal_writer *w, const void *data, size_t len)
{
	lsm_slice s = {(const uint8_t *)data, len};
	return lsm_wal_add_records(w, &s, 1);
}
/*
 * fdatasync of the log. A failed sync is sticky like a failed write: after an
 * fsync error the kernel may have dropped the dirty pages, so a later
 * "successful" sync would prove nothing.
 */
int lsm_wal_sync(lsm_wal_writer *w);
/*
 * Where the first fragment header of the next record goes in a log of size
 * bytes: size itself, or the next block start when the block's tail is too
 * short for a header (it is padded).
 */
static inline uint64_t lsm_wal_next_header(uint64_t size)
{
	uint64_t room = LSM_WAL_BLOCK - size % LSM_WAL_BLOCK;
	return room < LSM_WAL_HEADER ? size + room : size;
}
/* Bytes written so far (file size). */
uint64_t lsm_wal_size(const lsm_wal_writer *w);
/* Closes (no sync) and frees. */
int lsm_wal_writer_close(lsm_wal_writer *w);

/*
 * Opens path for reading. With strict, a torn tail is reported as corruption
 * too (paranoid_checks); otherwise it ends the log silently.
 */
int lsm_wal_reader_open(lsm_env *env, const char *path, int strict, lsm_wal_reader **out);
/*
 * Reads the next record into *rec (valid until the next call).
 * Returns 1 with a record, 0 at the end of the log (a torn tail — a damaged
 * or partial record with nothing valid after it — also ends the log), or
 * -LSM_ECORRUPT (naming file and offset via lsm_errmsg()) when a damaged
 * record is followed by valid ones, i.e. damage that is not a crash's torn
 * tail. *offset (if not NULL) gets the file offset where the record starts.
 */
int lsm_wal_read(lsm_wal_reader *r, lsm_slice *rec, uint64_t *offset);
/*
 * After lsm_wal_read() returned 0: 1 if the log ended with a torn tail that
 * was dropped, *offset (if not NULL) getting where it began and *bytes (if
 * not NULL) how many bytes of the file it covered; 0 if the log ended cleanly.
 */
int lsm_wal_reader_torn_tail(const lsm_wal_reader *r, uint64_t *offset, uint64_t *bytes);
/*
 * After a strict reader's lsm_wal_read() returned -LSM_ECORRUPT: 1 if what
 * it refused is a torn tail (one a reader that is not strict would have
 * dropped), *offset (if not NULL) getting where it began; 0 for other
 * damage. This tells a crash's mark from damage without reading messages.
 */
int lsm_wal_reader_refused_torn_tail(const lsm_wal_reader *r, uint64_t *offset);
void lsm_wal_reader_close(lsm_wal_reader *r);

#endif
