/*
 * table_build.c — writes a sorted string table.
 *
 * File layout (blocks in this order, each followed by its trailer):
 *
 *   +--------------+---------+-----+----------------+---------+-------+--------+
 *   | data block 0 | trailer | ... | data block N-1 | trailer |  ...  |        |
 *   +--------------+---------+-----+----------------+---------+-------+--------+
 *   | filter block | trailer | index block | trailer | props block | trailer |  |
 *   +--------------+---------+-------------+---------+-------------+---------+--+
 *   | footer: 64 bytes                                                        |
 *   +-------------------------------------------------------------------------+
 *
 *   trailer (5 bytes) = [type: 1][checksum: le32]
 *     type: 0 raw, 1 lz4, 2 zstd (enum lsm_compression; payload in compress.c)
 *     checksum = lsm_checksum2(stored block bytes, type byte)
 *
 * Data blocks (block.c layout) hold the internal keys in order, value next
 * to key; a block is cut once it reaches opts->block_bytes uncompressed.
 * Each is compressed with opts->compression, but stored raw when that saves
 * less than 1/8. Meta blocks (filter, index, props) are always raw: the
 * reader keeps them in memory and uses the read buffer in place.
 *
 * filter block: a bloom filter over the distinct user keys (bloom.h layout);
 *   absent when bloom_bits_per_key is 0 (footer handle = 0, 0).
 * index block: block.c layout with a restart at every entry, one entry per
 *   data block: key = an internal key >= the block's last key and < the next
 *   block's first key (a shortened user key when one fits), value =
 *   [varint64 offset][varint64 size] of the data block.
 * props block:
 *   [varint entries][varint deletions][varint raw_key_bytes][varint raw_value_bytes]
 *   [varint data_blocks][varint smallest_seq][varint largest_seq]
 *   [varint len][smallest internal key][varint len][largest internal key]
 *   (both keys empty when the table has no entries)
 *
 * footer (fixed at 64 bytes; version, checksum and magic keep their place in
 * every format version so any reader can tell "newer" from "damaged"):
 *
 *    0 [le64 filter offset][le64 filter size]
 *   16 [le64 index offset] [le64 index size]
 *   32 [le64 props offset] [le64 props size]
 *   48 [le32 format version = 1]
 *   52 [le32 checksum = lsm_checksum(bytes 0..51)]
 *   56 [le64 magic = "LSMTABLE"]
 */
#include "table.h"

#include "block.h"
#include "bloom.h"
#include "checksum.h"
#include "compress.h"
#include "error.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

/* Writes leave the builder in chunks of about this size: fewer syscalls than one per block. */
#define WRITE_CHUNK (256 * 1024)

struct lsm_table_builder {
	lsm_env *env;
	lsm_file *file; /* NULL once finished */
	char *path;
	lsm_table_options opts;
	uint64_t offset; /* bytes handed to the file, wbuf included */
	lsm_buf wbuf;	 /* written but not yet appended */
	lsm_block_builder data;
	lsm_block_builder index;
	lsm_bloom_builder bloom;
	lsm_buf last_key;  /* the last internal key added */
	lsm_buf cbuf;	   /* compression output */
	lsm_buf scratch;   /* separators and encoded handles */
	int pending_index; /* a data block awaits its index entry (needs the next key) */
	lsm_block_handle pending;
	lsm_table_props props;
	int status; /* first error: every later call returns it */
	int finished;
};

int lsm_table_builder_new(lsm_env *env, const char *path, const lsm_table_options *opts,
			  lsm_table_builder **out)
{
	int rc;
	if (opts->compression < LSM_COMPRESS_NONE || opts->compression > LSM_COMPRESS_ZSTD)
		return lsm_seterr(-EINVAL, "table %s: unknown compression %d", path,
				  opts->compression);
	lsm_table_builder *b = calloc(1, sizeof(*b));
	if (!b)
		return lsm_seterr(-ENOMEM, "table %s: out of memory", path);
	b->env = env;
	b->opts = *opts;
	if (b->opts.block_bytes == 0)
		b->opts.block_bytes = 4096;
	if (b->opts.restart_interval <= 0)
		b->opts.restart_interval = 16;
	if (b->opts.bloom_bits_per_key < 0)
		b->opts.bloom_bits_per_key = 0;
	lsm_block_builder_init(&b->data, b->opts.restart_interval);
	/* Index entries are few and searched on every read: each one a restart point. */
	lsm_block_builder_init(&b->index, 1);
	lsm_bloom_builder_init(&b->bloom, b->opts.bloom_bits_per_key);
	b->props.smallest_seq = UINT64_MAX;
	b->path = strdup(path);
	if (!b->path) {
		rc = lsm_seterr(-ENOMEM, "table %s: out of memory", path);
		goto out;
	}
	rc = env->open_file(env, path, LSM_O_WRITE | LSM_O_CREATE | LSM_O_EXCL, &b->file);
	if (rc)
		goto out;
	*out = b;
	return 0;
out:
	lsm_table_builder_free(b);
	return rc;
}

static int fail(lsm_table_builder *b, int rc)
{
	if (!b->status)
		b->status = rc;
	return b->status;
}

static int nomem(lsm_table_builder *b)
{
	return fail(b, lsm_seterr(-ENOMEM, "table %s: out of memory", b->path));
}

static int flush_wbuf(lsm_table_builder *b)
{
	if (!b->wbuf.len)
		return 0;
	int rc = b->env->append(b->env, b->file, b->wbuf.data, b->wbuf.len);
	b->wbuf.len = 0;
	return rc ? fail(b, rc) : 0;
}

static int write_bytes(lsm_table_builder *b, const void *p, size_t n)
{
	int rc;
	if (n >= WRITE_CHUNK) {
		/* A big block goes straight out rather than through a copy. */
		if ((rc = flush_wbuf(b)) != 0)
			return rc;
		rc = b->env->append(b->env, b->file, p, n);
		if (rc)
			return fail(b, rc);
	} else {
		if (lsm_buf_append(&b->wbuf, p, n))
			return nomem(b);
		if (b->wbuf.len >= WRITE_CHUNK && (rc = flush_wbuf(b)) != 0)
			return rc;
	}
	b->offset += n;
	return 0;
}

/* Writes one block and its trailer, compressed with method if that pays. */
static int write_block(lsm_table_builder *b, lsm_slice raw, int method, lsm_block_handle *h)
{
	const uint8_t *stored = raw.data;
	size_t n = raw.len;
	uint8_t type = LSM_COMPRESS_NONE;
	if (method != LSM_COMPRESS_NONE) {
		int rc = lsm_compress(method, raw.data, raw.len, &b->cbuf);
		if (rc < 0)
			return fail(b, rc);
		if (rc == 0) {
			stored = b->cbuf.data;
			n = b->cbuf.len;
			type = (uint8_t)method;
		}
	}
	uint8_t trailer[LSM_TABLE_TRAILER];
	trailer[0] = type;
	lsm_put_le32(trailer + 1, lsm_checksum2(stored, n, &type, 1));
	h->offset = b->offset;
	h->size = n;
	int rc = write_bytes(b, stored, n);
	if (!rc)
		rc = write_bytes(b, trailer, sizeof(trailer));
	return rc;
}

static int flush_data_block(lsm_table_builder *b)
{
	lsm_slice raw;
	if (lsm_block_builder_empty(&b->data))
		return 0;
	assert(!b->pending_index);
	if (lsm_block_builder_finish(&b->data, &raw))
		return nomem(b);
	int rc = write_block(b, raw, b->opts.compression, &b->pending);
	if (rc)
		return rc;
	b->pending_index = 1;
	b->props.data_blocks++;
	lsm_block_builder_reset(&b->data);
	return 0;
}

/*
 * Puts into b->scratch an internal key s with a <= s < next, shorter than a
 * when a user key between the two fits in fewer bytes: the index stays
 * small, and it lives in memory for the table's lifetime.
 */
static int separator(lsm_table_builder *b, lsm_slice a, const lsm_slice *next)
{
	b->scratch.len = 0;
	if (next) {
		lsm_slice ua = lsm_ikey_user(a), ub = lsm_ikey_user(*next);
		size_t n = ua.len < ub.len ? ua.len : ub.len, i = 0;
		while (i < n && ua.data[i] == ub.data[i])
			i++;
		if (i + 1 < ua.len && i < n && ua.data[i] < 0xff && ua.data[i] + 1 < ub.data[i]) {
			if (lsm_buf_reserve(&b->scratch, i + 1 + LSM_TRAILER))
				return nomem(b);
			memcpy(b->scratch.data, ua.data, i);
			b->scratch.data[i] = (uint8_t)(ua.data[i] + 1);
			/* User keys now differ, so any trailer works; the seek trailer sorts first.
			 */
			lsm_put_le64(b->scratch.data + i + 1,
				     lsm_pack_trailer(LSM_MAX_SEQ, LSM_TYPE_FOR_SEEK));
			b->scratch.len = i + 1 + LSM_TRAILER;
			assert(lsm_ikey_compare(a, lsm_slice_of(b->scratch.data, b->scratch.len)) <
			       0);
			assert(lsm_ikey_compare(lsm_slice_of(b->scratch.data, b->scratch.len),
						*next) < 0);
			return 0;
		}
	}
	if (lsm_buf_append(&b->scratch, a.data, a.len))
		return nomem(b);
	return 0;
}

/* Adds the index entry of the block flushed last; next is the first key after it (or NULL). */
static int add_index_entry(lsm_table_builder *b, const lsm_slice *next)
{
	uint8_t hv[LSM_TABLE_MAX_HANDLE];
	size_t hn;
	assert(b->pending_index);
	int rc = separator(b, lsm_slice_of(b->last_key.data, b->last_key.len), next);
	if (rc)
		return rc;
	hn = lsm_put_varint64(hv, b->pending.offset);
	hn += lsm_put_varint64(hv + hn, b->pending.size);
	rc = lsm_block_builder_add(&b->index, lsm_slice_of(b->scratch.data, b->scratch.len),
				   lsm_slice_of(hv, hn));
	if (rc)
		return fail(b, lsm_seterr(rc, "table %s: cannot add an index entry", b->path));
	b->pending_index = 0;
	return 0;
}

int lsm_table_builder_add(lsm_table_builder *b, lsm_slice ikey, lsm_slice value)
{
	int rc;
	assert(!b->finished);
	assert(ikey.len >= LSM_TRAILER);
	if (b->status)
		return b->status;
	assert(b->props.entries == 0 ||
	       lsm_ikey_compare(ikey, lsm_slice_of(b->last_key.data, b->last_key.len)) > 0);
	if (b->pending_index && (rc = add_index_entry(b, &ikey)) != 0)
		return rc;
	if (b->opts.bloom_bits_per_key > 0 &&
	    lsm_bloom_builder_add(&b->bloom, lsm_bloom_hash(lsm_ikey_user(ikey))))
		return nomem(b);
	rc = lsm_block_builder_add(&b->data, ikey, value);
	if (rc)
		return fail(b, lsm_seterr(rc, "table %s: cannot add an entry of %zu + %zu bytes",
					  b->path, ikey.len, value.len));
	b->last_key.len = 0;
	if (lsm_buf_append(&b->last_key, ikey.data, ikey.len))
		return nomem(b);

	lsm_table_props *p = &b->props;
	uint64_t seq = lsm_ikey_seq(ikey);
	if (p->entries == 0 && lsm_buf_append(&p->smallest, ikey.data, ikey.len))
		return nomem(b);
	p->entries++;
	if (lsm_ikey_type(ikey) == LSM_TYPE_DELETE)
		p->deletions++;
	p->raw_key_bytes += ikey.len;
	p->raw_value_bytes += value.len;
	if (seq < p->smallest_seq)
		p->smallest_seq = seq;
	if (seq > p->largest_seq)
		p->largest_seq = seq;

	if (lsm_block_builder_estimate(&b->data) >= b->opts.block_bytes)
		return flush_data_block(b);
	return 0;
}

uint64_t lsm_table_builder_size(const lsm_table_builder *b)
{
	return b->offset +
	       (lsm_block_builder_empty(&b->data) ? 0 : lsm_block_builder_estimate(&b->data));
}

uint64_t lsm_table_builder_entries(const lsm_table_builder *b)
{
	return b->props.entries;
}

static int encode_props(const lsm_table_props *p, lsm_buf *out)
{
	int rc = 0;
	rc = rc ? rc : lsm_buf_append_varint(out, p->entries);
	rc = rc ? rc : lsm_buf_append_varint(out, p->deletions);
	rc = rc ? rc : lsm_buf_append_varint(out, p->raw_key_bytes);
	rc = rc ? rc : lsm_buf_append_varint(out, p->raw_value_bytes);
	rc = rc ? rc : lsm_buf_append_varint(out, p->data_blocks);
	rc = rc ? rc : lsm_buf_append_varint(out, p->smallest_seq);
	rc = rc ? rc : lsm_buf_append_varint(out, p->largest_seq);
	rc = rc ? rc : lsm_buf_append_lenprefixed(out, p->smallest.data, p->smallest.len);
	rc = rc ? rc : lsm_buf_append_lenprefixed(out, p->largest.data, p->largest.len);
	return rc;
}

static int copy_props(const lsm_table_props *from, lsm_table_props *to)
{
	*to = *from;
	lsm_buf_init(&to->smallest);
	lsm_buf_init(&to->largest);
	if (lsm_buf_append(&to->smallest, from->smallest.data, from->smallest.len) ||
	    lsm_buf_append(&to->largest, from->largest.data, from->largest.len)) {
		lsm_table_props_free(to);
		return -ENOMEM;
	}
	return 0;
}

static void put_handle(uint8_t *p, const lsm_block_handle *h)
{
	lsm_put_le64(p, h->offset);
	lsm_put_le64(p + 8, h->size);
}

int lsm_table_builder_finish(lsm_table_builder *b, uint64_t *file_size, lsm_table_props *props)
{
	lsm_block_handle filter_h = {0, 0}, index_h, props_h;
	lsm_slice raw;
	int rc;
	assert(!b->finished);
	b->finished = 1;
	if (b->status)
		return b->status;
	if ((rc = flush_data_block(b)) != 0)
		return rc;
	if (b->pending_index && (rc = add_index_entry(b, NULL)) != 0)
		return rc;

	lsm_table_props *p = &b->props;
	if (p->entries == 0)
		p->smallest_seq = 0;
	else if (lsm_buf_append(&p->largest, b->last_key.data, b->last_key.len))
		return nomem(b);

	if (b->opts.bloom_bits_per_key > 0) {
		b->scratch.len = 0;
		if (lsm_bloom_builder_finish(&b->bloom, &b->scratch))
			return nomem(b);
		rc = write_block(b, lsm_slice_of(b->scratch.data, b->scratch.len),
				 LSM_COMPRESS_NONE, &filter_h);
		if (rc)
			return rc;
	}
	if (lsm_block_builder_finish(&b->index, &raw))
		return nomem(b);
	if ((rc = write_block(b, raw, LSM_COMPRESS_NONE, &index_h)) != 0)
		return rc;
	b->scratch.len = 0;
	if (encode_props(p, &b->scratch))
		return nomem(b);
	rc = write_block(b, lsm_slice_of(b->scratch.data, b->scratch.len), LSM_COMPRESS_NONE,
			 &props_h);
	if (rc)
		return rc;

	uint8_t footer[LSM_TABLE_FOOTER];
	put_handle(footer, &filter_h);
	put_handle(footer + 16, &index_h);
	put_handle(footer + 32, &props_h);
	lsm_put_le32(footer + 48, LSM_TABLE_VERSION);
	lsm_put_le32(footer + 52, lsm_checksum(footer, 52));
	lsm_put_le64(footer + 56, LSM_TABLE_MAGIC);
	if ((rc = write_bytes(b, footer, sizeof(footer))) != 0)
		return rc;
	if ((rc = flush_wbuf(b)) != 0)
		return rc;

	/* A table is referenced by the MANIFEST only after this: it must be durable first. */
	rc = b->env->sync(b->env, b->file);
	int crc = b->env->close(b->env, b->file);
	b->file = NULL;
	if (rc || crc)
		return fail(b, rc ? rc : crc);
	if (file_size)
		*file_size = b->offset;
	if (props && copy_props(p, props))
		return nomem(b);
	return 0;
}

void lsm_table_builder_free(lsm_table_builder *b)
{
	if (!b)
		return;
	if (b->file)
		b->env->close(b->env, b->file);
	free(b->path);
	lsm_buf_free(&b->wbuf);
	lsm_block_builder_free(&b->data);
	lsm_block_builder_free(&b->index);
	lsm_bloom_builder_free(&b->bloom);
	lsm_buf_free(&b->last_key);
	lsm_buf_free(&b->cbuf);
	lsm_buf_free(&b->scratch);
	lsm_table_props_free(&b->props);
	free(b);
}

void lsm_table_props_free(lsm_table_props *p)
{
	lsm_buf_free(&p->smallest);
	lsm_buf_free(&p->largest);
}
