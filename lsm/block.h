/*
 * block.h — the sorted blocks a table is made of (data blocks and the index
 * block): a builder, a validated in-memory view, and an iterator.
 *
 * The byte layout is drawn at the top of block.c. Keys in a block are
 * internal keys (dbformat.h), ordered by lsm_ikey_compare; a key shorter
 * than the 8-byte trailer is corruption.
 *
 * A block read from disk is untrusted: lsm_block_init checks the restart
 * array, and the iterator bounds-checks every varint and length, turning any
 * damage into an -LSM_ECORRUPT status instead of an out-of-bounds read.
 */
#ifndef LSM_BLOCK_H
#define LSM_BLOCK_H

#include "buf.h"
#include "dbformat.h"
#include "iter.h"

#include <stddef.h>
#include <stdint.h>

/* ---- building ---- */

typedef struct lsm_block_builder {
	lsm_buf buf;	  /* entries; the restart array is appended at finish */
	lsm_buf restarts; /* le32 offsets of the restart entries */
	lsm_buf last_key; /* the key added last, to delta-encode the next */
	int interval;	  /* entries per restart point */
	int counter;	  /* entries since the last restart */
	uint64_t entries;
	int finished;
} lsm_block_builder;

void lsm_block_builder_init(lsm_block_builder *b, int restart_interval);
void lsm_block_builder_free(lsm_block_builder *b);
/* Empties the builder for the next block, keeping its memory. */
void lsm_block_builder_reset(lsm_block_builder *b);
/*
 * REQUIRES: not finished; key greater than the previous key.
 * 0, -ENOMEM, or -E2BIG if the block would pass 4 GiB (offsets are 32-bit).
 */
int lsm_block_builder_add(lsm_block_builder *b, lsm_slice key, lsm_slice value);
/* Size the block would have if finished now. */
size_t lsm_block_builder_estimate(const lsm_block_builder *b);
/*
 * Appends the restart array; *out points at the finished block, valid until
 * the next reset or free. 0 or -ENOMEM.
 */
int lsm_block_builder_finish(lsm_block_builder *b, lsm_slice *out);
static inline int lsm_block_builder_empty(const lsm_block_builder *b)
{
	return b->entries == 0;
}
static inline lsm_slice lsm_block_builder_last_key(const lsm_block_builder *b)
{
	return lsm_slice_of(b->last_key.data, b->last_key.len);
}

/* ---- reading ---- */

typedef struct lsm_block {
	const uint8_t *data; /* the whole block */
	size_t size;
	uint32_t restarts_off; /* entries occupy [0, restarts_off) */
	uint32_t nrestarts;
	void *owned; /* freed by lsm_block_release (may be NULL) */
} lsm_block;

/*
 * Views data[0, size) as a block after checking its restart array: count
 * fits, offsets strictly increasing inside the entry area, the first one 0.
 * Does not take ownership (set blk->owned afterwards to hand a buffer over).
 * -LSM_ECORRUPT naming file and off (the block's offset in the file).
 */
int lsm_block_init(lsm_block *blk, const uint8_t *data, size_t size, const char *file,
		   uint64_t off);
/*
 * The same view without the restart-array check, for bytes that passed
 * lsm_block_init before and cannot have changed since (a block of an
 * immutable mapped table). Never fails.
 */
void lsm_block_init_trusted(lsm_block *blk, const uint8_t *data, size_t size);
/* Frees blk->owned. */
void lsm_block_release(lsm_block *blk);

/* Reassembled keys up to this long live inside the iterator (no allocation). */
#define LSM_BLOCK_ITER_KEY_INLINE 64

/* One entry of the restart region lsm_block_iter_prev decoded: offsets into the block and keys. */
struct lsm_block_back_entry {
	uint32_t off, next; /* the entry, and just past it */
	uint32_t koff;	    /* its key: back_keys[koff, koff + klen) */
	uint32_t klen;
	uint32_t voff, vlen; /* its value: data[voff, voff + vlen) */
};

/*
 * An iterator over one block, embeddable (no allocation unless a key
 * longer than LSM_BLOCK_ITER_KEY_INLINE needs reassembling). The block must
 * outlive it. It must not be copied: its key may point into itself. Errors
 * name file and the block's file offset.
 */
typedef struct lsm_block_iter {
	const uint8_t *data;
	const uint8_t *restarts; /* the le32 restart array */
	uint32_t restarts_off;
	uint32_t nrestarts;
	const char *file;
	uint64_t file_off;
	uint32_t cur;	 /* offset of the current entry; restarts_off when not valid */
	uint32_t next;	 /* offset just past the current entry */
	uint32_t ridx;	 /* restart region holding cur */
	lsm_slice key;	 /* current key: into the block, or into kbuf */
	lsm_slice value; /* into the block */
	uint8_t *kbuf;	 /* reassembled delta-encoded keys: kinline, or malloc'd */
	size_t kcap;
	int status;
	/*
	 * Entries link only forward, so stepping back means decoding forward
	 * from a restart point. The first prev (or seek_last) into a region
	 * decodes it once and keeps its entries here; later steps back in it
	 * cost nothing more. back_region: the region kept, UINT32_MAX none.
	 */
	uint32_t back_region;
	uint32_t back_n, back_cap;
	struct lsm_block_back_entry *back;
	lsm_buf back_keys;
	uint8_t kinline[LSM_BLOCK_ITER_KEY_INLINE];
} lsm_block_iter;

/* Starts (not valid) on blk; lsm_block_iter_free releases its buffer. */
void lsm_block_iter_init(lsm_block_iter *it, const lsm_block *blk, const char *file,
			 uint64_t file_off);
/* Moves an initialised iterator onto another block, keeping its buffer. */
void lsm_block_iter_reset(lsm_block_iter *it, const lsm_block *blk, uint64_t file_off);
void lsm_block_iter_free(lsm_block_iter *it);

static inline int lsm_block_iter_valid(const lsm_block_iter *it)
{
	return it->cur < it->restarts_off;
}
void lsm_block_iter_seek_first(lsm_block_iter *it);
void lsm_block_iter_seek_last(lsm_block_iter *it);
/* First entry >= target (lsm_ikey_compare). */
void lsm_block_iter_seek(lsm_block_iter *it, lsm_slice target);
void lsm_block_iter_next(lsm_block_iter *it);
void lsm_block_iter_prev(lsm_block_iter *it);
/*
 * The restart region holding the current entry. In a block with a restart
 * at every entry (a table's index) it is the entry's ordinal.
 */
static inline uint32_t lsm_block_iter_restart_index(const lsm_block_iter *it)
{
	return it->ridx;
}
static inline lsm_slice lsm_block_iter_key(const lsm_block_iter *it)
{
	return it->key;
}
static inline lsm_slice lsm_block_iter_value(const lsm_block_iter *it)
{
	return it->value;
}
static inline int lsm_block_iter_status(const lsm_block_iter *it)
{
	return it->status;
}

/*
 * The same iterator behind the generic lsm_it interface; blk must outlive
 * it. NULL on out of memory.
 */
lsm_it *lsm_block_iter_new(const lsm_block *blk, const char *file, uint64_t file_off);

#endif
