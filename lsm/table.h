/*
 * table.h — sorted string tables: immutable files of internal keys.
 *
 * The byte format (data blocks, filter, index, properties, footer) is drawn
 * at the top of table_build.c; block.h describes a block's inside.
 */
#ifndef LSM_TABLE_H
#define LSM_TABLE_H

#include "buf.h"
#include "cache.h"
#include "dbformat.h"
#include "env.h"
#include "iter.h"

#include <stdint.h>

typedef struct lsm_table_options {
	size_t block_bytes;	/* target uncompressed data block size */
	int restart_interval;	/* keys between restart points (16) */
	int bloom_bits_per_key; /* 0: no filter */
	int compression;	/* enum lsm_compression */
} lsm_table_options;

typedef struct lsm_table_props {
	uint64_t entries;
	uint64_t deletions;
	uint64_t raw_key_bytes, raw_value_bytes;
	uint64_t data_blocks;
	uint64_t smallest_seq, largest_seq;
	lsm_buf smallest; /* internal key */
	lsm_buf largest;  /* internal key */
} lsm_table_props;

typedef struct lsm_table_builder lsm_table_builder;

/* Creates the file at path (failing if it exists) and a builder writing it. */
int lsm_table_builder_new(lsm_env *env, const char *path, const lsm_table_options *opts,
			  lsm_table_builder **out);
/* REQUIRES: ikey greater than every key added before (lsm_ikey_compare). */
int lsm_table_builder_add(lsm_table_builder *b, lsm_slice ikey, lsm_slice value);
/* Bytes written so far plus the pending block: compare with a target file size. */
uint64_t lsm_table_builder_size(const lsm_table_builder *b);
uint64_t lsm_table_builder_entries(const lsm_table_builder *b);
/*
 * Writes the remaining blocks, filter, index, properties and footer, fsyncs
 * and closes the file. *file_size gets its size; props (if not NULL) is
 * filled (the caller frees its bufs with lsm_table_props_free).
 */
int lsm_table_builder_finish(lsm_table_builder *b, uint64_t *file_size, lsm_table_props *props);
/* Frees the builder; if finish was not called, closes the file (the caller unlinks it). */
void lsm_table_builder_free(lsm_table_builder *b);

void lsm_table_props_free(lsm_table_props *p);

typedef struct lsm_table lsm_table;

/*
 * Opens a table: reads and verifies the footer, index, filter and properties.
 * block_cache may be NULL. The table has one reference.
 * Errors: -LSM_ECORRUPT naming path and offset, -LSM_EVERSION, I/O errors.
 */
int lsm_table_open(lsm_env *env, const char *path, uint64_t file_size, lsm_cache *block_cache,
		   lsm_table **out);
void lsm_table_ref(lsm_table *t);
/* Drops a reference; the last one closes the file and frees the table. */
void lsm_table_unref(lsm_table *t);

/*
 * Point lookup of the newest entry for target's user key with sequence <=
 * target's sequence (target is an internal key built for seeking).
 * Returns 1 with *type and, for a value, a copy in *value (appended to the
 * cleared buf); 0 if the table holds no such entry; negative on error.
 * *bloom_skipped is set to 1 when the filter ruled the key out.
 */
int lsm_table_get(lsm_table *t, lsm_slice target, int fill_cache, int *type, lsm_buf *value,
		  int *bloom_skipped);

/* An iterator over all entries; holds a reference on t until destroyed. NULL on out of memory. */
lsm_it *lsm_table_iter(lsm_table *t, int fill_cache);

const lsm_table_props *lsm_table_get_props(const lsm_table *t);

/*
 * Reads every block and checks its checksum and format. Each problem goes to
 * report (may be NULL). Returns 0 or -LSM_ECORRUPT.
 */
int lsm_table_verify(lsm_table *t, lsm_verify_report_fn report, void *arg);
/* The same, with each problem's kind (corruption, or an error such as -EIO). */
int lsm_table_verify_problems(lsm_table *t, lsm_verify_problem_fn fn, void *arg);

/* An lsm_verify_report_fn and its argument, to pass where kinds are reported. */
typedef struct lsm_verify_report_only {
	lsm_verify_report_fn fn;
	void *arg;
} lsm_verify_report_only;
/* An lsm_verify_problem_fn whose arg is an lsm_verify_report_only: drops the kind. */
void lsm_verify_drop_kind(void *arg, const lsm_verify_problem *p);

/*
 * Cache counters since open: hits and misses of this table's block reads
 * that go through the block cache. A raw block of a mapped table is read in
 * place and counts in neither.
 */
void lsm_table_cache_stats(const lsm_table *t, uint64_t *hits, uint64_t *misses);

/* ---- format constants, shared by table_build.c and table_read.c ---- */

#define LSM_TABLE_MAGIC	     UINT64_C(0x454c4241544d534c) /* "LSMTABLE" as le64 bytes */
#define LSM_TABLE_VERSION    1				  /* the newest version we write and read */
#define LSM_TABLE_FOOTER     64				  /* bytes; the same in every version */
#define LSM_TABLE_TRAILER    5			    /* after each block: type + le32 checksum */
#define LSM_TABLE_MAX_HANDLE (2 * LSM_VARINT64_MAX) /* an encoded block handle */

/* Where a block sits: its stored bytes (trailer excluded). */
typedef struct lsm_block_handle {
	uint64_t offset;
	uint64_t size;
} lsm_block_handle;

#endif
