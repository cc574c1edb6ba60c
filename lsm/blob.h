/*
 * blob.h — value separation: large values stay where the WAL wrote them.
 *
 * A value of at least blob_threshold bytes is written to disk once, inside
 * its WAL record (wal.c), and never copied into a table. The memtable and
 * the tables hold a blob reference instead (internal type LSM_TYPE_BLOB),
 * which says where in which log the value's bytes lie. A WAL whose
 * memtable has been flushed stays on disk as a "value file" for as long as
 * some table a reader may reach still refers to it. The byte formats are
 * drawn in blob.c.
 */
#ifndef LSM_BLOB_H
#define LSM_BLOB_H

#include "buf.h"
#include "cache.h"
#include "dbformat.h"
#include "env.h"

#include <stdint.h>

/* Where a separated value lies: see blob.c for the encoding. */
typedef struct lsm_blob_ref {
	uint64_t file;	   /* number of the value file (a WAL: NNNNNN.log) */
	uint64_t offset;   /* file offset of the value's first byte */
	uint64_t len;	   /* the value's length (fragment headers between excluded) */
	uint32_t checksum; /* lsm_checksum of the value's bytes */
} lsm_blob_ref;

/* An encoded reference is at most this long: three varint64s and a le32. */
#define LSM_BLOB_REF_MAX (3 * 10 + 4)

/* Encodes ref into out (LSM_BLOB_REF_MAX bytes); returns the length used. */
size_t lsm_blob_ref_encode(const lsm_blob_ref *ref, uint8_t *out);
/*
 * Decodes a whole reference. Returns 0, or -LSM_ECORRUPT (message naming
 * the problem) when in is truncated, has trailing bytes, a zero or
 * too-large length, or an offset no log record payload can have.
 */
int lsm_blob_ref_decode(lsm_slice in, lsm_blob_ref *ref);

/*
 * File offset of byte `logical` of the payload of a WAL record whose first
 * fragment header is at file offset `header`. Records are cut into
 * fragments at block boundaries (wal.c), so the payload is contiguous
 * except for a fragment header at the start of every later block.
 */
uint64_t lsm_blob_payload_offset(uint64_t header, uint64_t logical);
/* Bytes a value of len bytes starting at file offset off spans in its file. */
uint64_t lsm_blob_span(uint64_t off, uint64_t len);
/*
 * Removes the fragment headers from span bytes read at file offset off
 * (lsm_blob_span(off, len) of them), in place; the value's len bytes are
 * then at buf[0..len).
 */
void lsm_blob_unframe(uint8_t *buf, uint64_t off, uint64_t len);

/*
 * Open value files, bounded in number like the table cache (tcache.h).
 * Keyed by file number; the file is dir/NNNNNN.log.
 */
typedef struct lsm_blob_files lsm_blob_files;

lsm_blob_files *lsm_blob_files_new(lsm_env *env, const char *dir, int max_open);
void lsm_blob_files_free(lsm_blob_files *bf);
/* Forgets file number (it is being deleted). */
void lsm_blob_files_evict(lsm_blob_files *bf, uint64_t number);

/*
 * Reads the value ref points at into out (replacing its contents) and checks
 * it against the reference's checksum. -LSM_ECORRUPT naming the file and
 * offset when the file is too short or the bytes do not match (never a wrong
 * value), an I/O error, or -ENOMEM.
 */
int lsm_blob_read(lsm_blob_files *bf, const lsm_blob_ref *ref, lsm_buf *out);
/* lsm_blob_read of the reference encoded in enc. */
int lsm_blob_read_encoded(lsm_blob_files *bf, lsm_slice enc, lsm_buf *out);
/*
 * lsm_blob_read into dst (room for ref->len bytes): with the env's preadv
 * one call scatters the value's pieces straight to dst and the fragment
 * headers aside, so no byte is moved after the read. check 0 skips the
 * value's checksum (the caller checks the bytes; the fallback path without
 * preadv checks anyway). On an error dst may hold any bytes.
 */
int lsm_blob_read_into(lsm_blob_files *bf, const lsm_blob_ref *ref, void *dst, int check);
/*
 * Reads bytes [from, from + n) of the value ref points at into dst, with
 * one preadv as lsm_blob_read_into does. The checksum covers the whole
 * value, so nothing here checks these bytes: the caller must. -EINVAL past
 * the value's end; else the errors of lsm_blob_read.
 */
int lsm_blob_read_part(lsm_blob_files *bf, const lsm_blob_ref *ref, uint64_t from, uint64_t n,
		       void *dst);
/* File offset of byte i of a value that starts at file offset off (never in a header). */
uint64_t lsm_blob_value_pos(uint64_t off, uint64_t i);

/*
 * Read-ahead for a reader walking separated values in order (iterators):
 * when a value starts where the previous one ended, in the same file, the
 * file is asked to read the next window ahead of time, so a cold scan runs
 * at the disk's sequential speed rather than one seek per value.
 */
typedef struct lsm_blob_ahead {
	uint64_t file, next; /* where a value following the last one would start */
	uint64_t run;	     /* bytes read in order so far */
	uint64_t until;	     /* read-ahead has been asked up to here */
} lsm_blob_ahead;
/* lsm_blob_read_encoded, keeping *ra up to date and asking for read-ahead. */
int lsm_blob_read_ahead(lsm_blob_files *bf, lsm_slice enc, lsm_buf *out, lsm_blob_ahead *ra);

#endif
