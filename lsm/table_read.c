/*
 * table_read.c — opening, searching and iterating a sorted string table
 * (the byte layout is drawn at the top of table_build.c).
 *
 * A table on disk is untrusted. Open checks the footer (magic, checksum,
 * version), that the meta blocks tile the end of the file exactly, every
 * meta block's checksum, the properties, and that the index's block handles
 * tile the data area from offset 0 with keys in order. Data blocks are
 * checked (checksum, restart array) before anything is read from them, and
 * their iterators bounds-check every entry. Any mismatch is -LSM_ECORRUPT
 * naming the file and offset; nothing is ever returned from a block that
 * failed.
 *
 * Open maps the whole file read-only (env->map), after checking its size
 * against the one the caller (the MANIFEST) knows: a file that lost its
 * tail is refused before any page past its end could be touched, so a read
 * can never fault on a missing page. A table is never written after it was
 * synced, so the mapping holds exactly the bytes that were checked, and
 * then:
 *   - a raw data block is read in place: no pread, no copy, no cache entry;
 *   - a compressed one is decompressed from the mapping into the block
 *     cache, as before;
 *   - each data block's checksum is computed the first time the block is
 *     read, and a bit per block (checked[], set with atomic ops) remembers
 *     that it passed, with its restart array, so later reads skip both. A
 *     block that fails sets no bit: it fails again on every read.
 * When the env cannot map (no map call, or it failed: address space), every
 * block is read with pread into a buffer and checked on every read, through
 * the cache. Either way lsm_table_verify re-reads the file with pread and
 * re-checks everything. The table cache bounds the open tables, and with
 * them the mappings.
 *
 * Data blocks that go through the block cache are keyed by
 * [le64 table cache id][le64 block offset]; an iterator keeps the cache
 * handle of the block it sits in, which pins the block even if the cache
 * evicts it meanwhile. A block read in place from the mapping is pinned by
 * the table reference that the reader holds.
 *
 * Threads: after open a table is immutable except for refs, hits, misses
 * and checked[] (atomics); any number of threads may get and iterate at once.
 */
#include "table.h"

#include "blob.h"

#include "block.h"
#include "bloom.h"
#include "checksum.h"
#include "compress.h"
#include "error.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct lsm_table {
	int refs; /* atomic */
	lsm_env *env;
	lsm_file *file;
	char *path;
	uint64_t size;
	const uint8_t *map; /* the whole file, read-only; NULL: blocks are read with pread */
	uint64_t *checked;  /* with map: bit i set once data block i passed its checks; atomic */
	lsm_cache *cache;   /* may be NULL */
	uint64_t cache_id;
	lsm_block index;       /* in the mapping, or in a buffer it owns */
	const uint8_t *filter; /* NULL when the table has none */
	uint8_t *filter_owned; /* the filter's buffer when it is not in the mapping */
	size_t filter_len;
	lsm_block_handle filter_h, index_h, props_h;
	uint64_t data_end; /* data blocks occupy [0, data_end) */
	lsm_table_props props;
	uint64_t hits, misses; /* atomic */
};

/* ---- reading blocks ---- */

/* Whether a block with its trailer lies inside [0, limit); *end gets its end. */
static int handle_fits(const lsm_block_handle *h, uint64_t limit, uint64_t *end)
{
	if (h->offset > limit || h->size > limit - h->offset ||
	    limit - h->offset - h->size < LSM_TABLE_TRAILER)
		return 0;
	*end = h->offset + h->size + LSM_TABLE_TRAILER;
	return 1;
}

/*
 * Checks the trailer of the stored block at raw (h->size bytes, then the
 * trailer): the checksum over the bytes and the type byte, then the type.
 * Returns the type (enum lsm_compression) or -LSM_ECORRUPT.
 */
static int check_block(const char *path, const lsm_block_handle *h, const uint8_t *raw)
{
	uint8_t type = raw[h->size];
	uint32_t stored = lsm_get_le32(raw + h->size + 1);
	uint32_t actual = lsm_checksum2(raw, (size_t)h->size, &type, 1);
	if (stored != actual)
		return LSM_CORRUPT(
			path, h->offset,
			"block checksum mismatch: stored %08x, computed %08x over %llu bytes",
			stored, actual, (unsigned long long)h->size);
	if (type != LSM_COMPRESS_NONE && type != LSM_COMPRESS_LZ4 && type != LSM_COMPRESS_ZSTD)
		return LSM_CORRUPT(path, h->offset, "unknown block type %u", type);
	return type;
}

/* Decompresses the stored bytes of a checked block into a malloc'd *data of *len bytes. */
static int inflate_block(const char *path, const lsm_block_handle *h, int type, const uint8_t *raw,
			 uint8_t **data, size_t *len)
{
	char why[256];
	lsm_buf out;
	lsm_buf_init(&out);
	int rc = lsm_decompress(type, raw, (size_t)h->size, &out);
	if (rc) {
		lsm_buf_free(&out);
		if (rc == -LSM_ECORRUPT) {
			/* The message buffer is about to be rewritten: keep the codec's words. */
			snprintf(why, sizeof(why), "%s", lsm_errmsg());
			rc = LSM_CORRUPT(path, h->offset, "%s", why);
		}
		return rc;
	}
	*data = out.data;
	*len = out.len;
	return 0;
}

/*
 * Reads the block at h with pread, checks its trailer and decompresses it.
 * *data is a malloc'd buffer of at least *len bytes holding the block's
 * contents.
 */
static int read_block(lsm_env *env, lsm_file *f, const char *path, const lsm_block_handle *h,
		      uint8_t **data, size_t *len)
{
	size_t n, got;
	uint8_t *buf = NULL;
	int rc;
	if (h->size > SIZE_MAX - LSM_TABLE_TRAILER)
		return LSM_CORRUPT(path, h->offset, "block size %llu is impossible",
				   (unsigned long long)h->size);
	n = (size_t)h->size + LSM_TABLE_TRAILER;
	buf = malloc(n);
	if (!buf)
		return lsm_seterr(-ENOMEM, "%s: out of memory for a block of %zu bytes", path, n);
	rc = env->pread(env, f, buf, n, h->offset, &got);
	if (rc)
		goto out;
	if (got != n) {
		rc = LSM_CORRUPT(path, h->offset,
				 "block of %zu bytes cut short at %zu (truncated file)", n, got);
		goto out;
	}
	int type = check_block(path, h, buf);
	if (type < 0) {
		rc = type;
		goto out;
	}
	if (type == LSM_COMPRESS_NONE) {
		*data = buf;
		*len = (size_t)h->size;
		return 0;
	}
	rc = inflate_block(path, h, type, buf, data, len);
out:
	free(buf);
	return rc;
}

/*
 * The contents of the block at h (inside the file: handle_fits held). With
 * a mapping, a raw block is returned in place (*owned = NULL); otherwise
 * *data is *owned, a malloc'd buffer the caller frees. checked: the stored
 * bytes passed check_block before (mapped tables only), so skip it.
 */
static int table_block(lsm_table *t, const lsm_block_handle *h, int checked, const uint8_t **data,
		       size_t *len, uint8_t **owned)
{
	int rc;
	*owned = NULL;
	if (!t->map) {
		rc = read_block(t->env, t->file, t->path, h, owned, len);
		*data = *owned;
		return rc;
	}
	const uint8_t *raw = t->map + h->offset;
	int type = checked ? raw[h->size] : check_block(t->path, h, raw);
	if (type < 0)
		return type;
	if (type == LSM_COMPRESS_NONE) {
		*data = raw;
		*len = (size_t)h->size;
		return 0;
	}
	rc = inflate_block(t->path, h, type, raw, owned, len);
	*data = *owned;
	return rc;
}

static int block_checked(const lsm_table *t, uint32_t bno)
{
	return (int)(__atomic_load_n(&t->checked[bno / 64], __ATOMIC_ACQUIRE) >> (bno % 64)) & 1;
}

static void block_mark_checked(lsm_table *t, uint32_t bno)
{
	__atomic_fetch_or(&t->checked[bno / 64], UINT64_C(1) << (bno % 64), __ATOMIC_RELEASE);
}

/* A data block as it sits in the cache (or privately in an iterator when not cached). */
static void block_deleter(const void *key, size_t klen, void *value)
{
	(void)key;
	(void)klen;
	lsm_block *b = value;
	lsm_block_release(b);
	free(b);
}

/*
 * The block a reader is using, and what keeps it alive: a cache handle, its
 * own buffer (blk.owned), or (in the mapping) the reader's table reference.
 */
struct blockref {
	lsm_cache_handle *h; /* non-NULL: the block is pinned in the cache */
	lsm_block blk;	     /* blk.data NULL: none */
};

static void blockref_release(lsm_table *t, struct blockref *r)
{
	if (r->h)
		lsm_cache_release(t->cache, r->h);
	else
		lsm_block_release(&r->blk);
	memset(r, 0, sizeof(*r));
}

/* Block bno of the table, at h: in place, from the cache, or read, checked and maybe cached. */
/* Blocks from this size up are read ahead whole (see load_data_block). */
#define BIG_BLOCK (32u * 1024u)

static int load_data_block(lsm_table *t, const lsm_block_handle *h, uint32_t bno, int fill_cache,
			   struct blockref *ref)
{
	uint8_t key[16];
	const uint8_t *data;
	uint8_t *owned = NULL;
	size_t len;
	lsm_block blk, *b;
	int checked = 0, rc;
	memset(ref, 0, sizeof(*ref));
	if (t->map) {
		assert(bno < t->props.data_blocks);
		/*
		 * The mapping is MADV_RANDOM: a big block (a file chunk) would
		 * fault in one page at a time, each a disk read when it is not
		 * cached. Ask for all of it at once; cheap when it is cached.
		 */
		if (h->size >= BIG_BLOCK && t->env->readahead)
			(void)t->env->readahead(t->env, t->file, h->offset,
						h->size + LSM_TABLE_TRAILER);
		checked = block_checked(t, bno);
		/* A damaged type byte is caught below by the checksum, which covers it. */
		if (t->map[h->offset + h->size] == LSM_COMPRESS_NONE) {
			if (checked) {
				lsm_block_init_trusted(&ref->blk, t->map + h->offset,
						       (size_t)h->size);
				return 0;
			}
			rc = table_block(t, h, 0, &data, &len, &owned);
			assert(rc || !owned);
			if (!rc)
				rc = lsm_block_init(&ref->blk, data, len, t->path, h->offset);
			if (!rc)
				block_mark_checked(t, bno);
			return rc;
		}
	}
	if (t->cache) {
		lsm_put_le64(key, t->cache_id);
		lsm_put_le64(key + 8, h->offset);
		lsm_cache_handle *ch = lsm_cache_lookup(t->cache, key, sizeof(key));
		if (ch) {
			__atomic_fetch_add(&t->hits, 1, __ATOMIC_RELAXED);
			ref->h = ch;
			ref->blk = *(lsm_block *)lsm_cache_value(ch);
			ref->blk.owned = NULL; /* the cache's */
			return 0;
		}
	}
	__atomic_fetch_add(&t->misses, 1, __ATOMIC_RELAXED);
	rc = table_block(t, h, checked, &data, &len, &owned);
	if (!rc)
		rc = lsm_block_init(&blk, data, len, t->path, h->offset);
	if (rc) {
		free(owned);
		return rc;
	}
	if (t->map)
		block_mark_checked(t, bno);
	blk.owned = owned;
	if (!t->cache || !fill_cache) {
		ref->blk = blk;
		return 0;
	}
	b = malloc(sizeof(*b));
	if (!b) {
		lsm_block_release(&blk);
		return lsm_seterr(-ENOMEM, "%s: out of memory for a block", t->path);
	}
	*b = blk;
	/* The cache owns b now, or has deleted it. */
	lsm_cache_handle *ch =
		lsm_cache_insert(t->cache, key, sizeof(key), b, b->size, block_deleter);
	if (!ch)
		return lsm_seterr(-ENOMEM, "%s: out of memory caching a block", t->path);
	ref->h = ch;
	ref->blk = *(lsm_block *)lsm_cache_value(ch);
	ref->blk.owned = NULL;
	return 0;
}

static int decode_handle(const lsm_table *t, lsm_slice v, lsm_block_handle *h)
{
	const uint8_t *p = v.data, *end = v.data + v.len;
	uint64_t block_end;
	p = lsm_get_varint64(p, end, &h->offset);
	if (p)
		p = lsm_get_varint64(p, end, &h->size);
	if (!p || p != end || !handle_fits(h, t->data_end, &block_end))
		return LSM_CORRUPT(t->path, t->index_h.offset,
				   "index entry holds a malformed or out-of-range block handle");
	return 0;
}

/* ---- open ---- */

static int read_footer(lsm_table *t)
{
	uint8_t f[LSM_TABLE_FOOTER];
	size_t got;
	uint64_t off = t->size - LSM_TABLE_FOOTER, end;
	int rc = 0;
	if (t->map) {
		memcpy(f, t->map + off, sizeof(f));
		got = sizeof(f);
	} else {
		rc = t->env->pread(t->env, t->file, f, sizeof(f), off, &got);
	}
	if (rc)
		return rc;
	if (got != sizeof(f))
		return LSM_CORRUPT(t->path, off, "footer cut short (truncated file)");
	uint64_t magic = lsm_get_le64(f + 56);
	if (magic != LSM_TABLE_MAGIC)
		return LSM_CORRUPT(t->path, off + 56,
				   "bad magic number %016llx: not a table, or truncated",
				   (unsigned long long)magic);
	uint32_t stored = lsm_get_le32(f + 52), actual = lsm_checksum(f, 52);
	if (stored != actual)
		return LSM_CORRUPT(t->path, off,
				   "footer checksum mismatch: stored %08x, computed %08x", stored,
				   actual);
	uint32_t version = lsm_get_le32(f + 48);
	if (version == 0)
		return LSM_CORRUPT(t->path, off + 48, "format version 0");
	if (version > LSM_TABLE_VERSION)
		return lsm_seterr(-LSM_EVERSION,
				  "%s: table format version %u is newer than this build reads (%u)",
				  t->path, version, LSM_TABLE_VERSION);
	t->filter_h.offset = lsm_get_le64(f);
	t->filter_h.size = lsm_get_le64(f + 8);
	t->index_h.offset = lsm_get_le64(f + 16);
	t->index_h.size = lsm_get_le64(f + 24);
	t->props_h.offset = lsm_get_le64(f + 32);
	t->props_h.size = lsm_get_le64(f + 40);

	/* The meta blocks tile the tail exactly: filter, index, props, footer. */
	if (!handle_fits(&t->props_h, off, &end) || end != off)
		return LSM_CORRUPT(t->path, off,
				   "properties block handle does not end at the footer");
	if (!handle_fits(&t->index_h, off, &end) || end != t->props_h.offset)
		return LSM_CORRUPT(t->path, off,
				   "index block handle does not end at the properties");
	t->data_end = t->index_h.offset;
	if (t->filter_h.offset || t->filter_h.size) {
		if (!handle_fits(&t->filter_h, off, &end) || end != t->index_h.offset)
			return LSM_CORRUPT(t->path, off,
					   "filter block handle does not end at the index");
		t->data_end = t->filter_h.offset;
	}
	return 0;
}

static int decode_props(lsm_table *t, const uint8_t *p, size_t n)
{
	const uint8_t *end = p + n;
	lsm_table_props *pr = &t->props;
	uint64_t *fields[] = {&pr->entries,	    &pr->deletions,   &pr->raw_key_bytes,
			      &pr->raw_value_bytes, &pr->data_blocks, &pr->smallest_seq,
			      &pr->largest_seq};
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]) && p; i++)
		p = lsm_get_varint64(p, end, fields[i]);
	lsm_buf *keys[] = {&pr->smallest, &pr->largest};
	for (int i = 0; i < 2 && p; i++) {
		uint64_t len;
		p = lsm_get_varint64(p, end, &len);
		if (!p || len > (uint64_t)(end - p)) {
			p = NULL;
			break;
		}
		if (lsm_buf_append(keys[i], p, (size_t)len))
			return lsm_seterr(-ENOMEM, "%s: out of memory", t->path);
		p += len;
	}
	int ok = p == end && pr->deletions <= pr->entries;
	if (ok && pr->entries) {
		lsm_slice s = lsm_slice_of(pr->smallest.data, pr->smallest.len);
		lsm_slice l = lsm_slice_of(pr->largest.data, pr->largest.len);
		ok = s.len >= LSM_TRAILER && l.len >= LSM_TRAILER && lsm_ikey_compare(s, l) <= 0 &&
		     pr->smallest_seq <= pr->largest_seq && pr->data_blocks >= 1;
	} else if (ok) {
		ok = pr->smallest.len == 0 && pr->largest.len == 0 && pr->data_blocks == 0;
	}
	if (!ok)
		return LSM_CORRUPT(t->path, t->props_h.offset, "malformed properties block");
	return 0;
}

/* Walks the index once: handles must tile [0, data_end), keys must rise. */
static int check_index(lsm_table *t)
{
	lsm_block_iter it;
	lsm_buf prev;
	uint64_t expect = 0, count = 0;
	int rc = 0;
	lsm_buf_init(&prev);
	lsm_block_iter_init(&it, &t->index, t->path, t->index_h.offset);
	for (lsm_block_iter_seek_first(&it); lsm_block_iter_valid(&it); lsm_block_iter_next(&it)) {
		lsm_block_handle h;
		lsm_slice k = lsm_block_iter_key(&it);
		rc = decode_handle(t, lsm_block_iter_value(&it), &h);
		if (rc)
			goto out;
		if (h.offset != expect ||
		    (count && lsm_ikey_compare(lsm_slice_of(prev.data, prev.len), k) >= 0)) {
			rc = LSM_CORRUPT(t->path, t->index_h.offset,
					 "index entry %llu is out of order or leaves a gap",
					 (unsigned long long)count);
			goto out;
		}
		expect = h.offset + h.size + LSM_TABLE_TRAILER;
		prev.len = 0;
		if (lsm_buf_append(&prev, k.data, k.len)) {
			rc = lsm_seterr(-ENOMEM, "%s: out of memory", t->path);
			goto out;
		}
		count++;
	}
	rc = lsm_block_iter_status(&it);
	if (rc)
		goto out;
	if (expect != t->data_end || count != t->props.data_blocks)
		rc = LSM_CORRUPT(
			t->path, t->index_h.offset,
			"index lists %llu blocks ending at %llu; expected %llu ending at %llu",
			(unsigned long long)count, (unsigned long long)expect,
			(unsigned long long)t->props.data_blocks, (unsigned long long)t->data_end);
	else if (count != t->index.nrestarts)
		/* The format puts a restart at every entry: its region is the block's number. */
		rc = LSM_CORRUPT(t->path, t->index_h.offset,
				 "index has %llu entries but %u restart points",
				 (unsigned long long)count, t->index.nrestarts);
out:
	lsm_block_iter_free(&it);
	lsm_buf_free(&prev);
	return rc;
}

static void table_free(lsm_table *t)
{
	if (t->map)
		t->env->unmap(t->env, t->map, t->size);
	free(t->checked);
	if (t->file)
		t->env->close(t->env, t->file);
	lsm_block_release(&t->index);
	free(t->filter_owned);
	lsm_table_props_free(&t->props);
	free(t->path);
	free(t);
}

/*
 * Maps the file, when the env can. Failing is not an error: every read then
 * goes through pread. REQUIRES: the file's size is t->size (checked).
 */
static void map_file(lsm_table *t)
{
	const void *addr;
	if (!t->env->map || !t->env->unmap)
		return;
	if (t->env->map(t->env, t->file, t->size, &addr) == 0)
		t->map = addr;
}

int lsm_table_open(lsm_env *env, const char *path, uint64_t file_size, lsm_cache *block_cache,
		   lsm_table **out)
{
	const uint8_t *data;
	uint8_t *owned = NULL;
	size_t len;
	uint64_t actual;
	int rc;
	lsm_table *t = calloc(1, sizeof(*t));
	if (!t)
		return lsm_seterr(-ENOMEM, "%s: out of memory", path);
	t->refs = 1;
	t->env = env;
	t->size = file_size;
	t->cache = block_cache;
	t->path = strdup(path);
	if (!t->path) {
		rc = lsm_seterr(-ENOMEM, "%s: out of memory", path);
		goto out;
	}
	rc = env->open_file(env, path, LSM_O_READ, &t->file);
	if (rc)
		goto out;
	rc = env->file_size(env, t->file, &actual);
	if (rc)
		goto out;
	if (actual != file_size) {
		rc = LSM_CORRUPT(path, actual < file_size ? actual : file_size,
				 "table is %llu bytes, expected %llu (%s)",
				 (unsigned long long)actual, (unsigned long long)file_size,
				 actual < file_size ? "truncated" : "extended");
		goto out;
	}
	if (file_size < LSM_TABLE_FOOTER) {
		rc = LSM_CORRUPT(path, 0, "%llu bytes is too short for a table footer",
				 (unsigned long long)file_size);
		goto out;
	}
	/* Only now, with the size known to be whole: no access can pass the end. */
	map_file(t);
	if ((rc = read_footer(t)) != 0)
		goto out;

	rc = table_block(t, &t->props_h, 0, &data, &len, &owned);
	if (!rc)
		rc = decode_props(t, data, len);
	free(owned);
	owned = NULL;
	if (rc)
		goto out;

	rc = table_block(t, &t->index_h, 0, &data, &len, &owned);
	if (rc)
		goto out;
	rc = lsm_block_init(&t->index, data, len, path, t->index_h.offset);
	if (rc) {
		free(owned);
		goto out;
	}
	t->index.owned = owned;
	owned = NULL;
	if ((rc = check_index(t)) != 0)
		goto out;

	if (t->filter_h.offset || t->filter_h.size) {
		rc = table_block(t, &t->filter_h, 0, &t->filter, &t->filter_len, &t->filter_owned);
		if (rc)
			goto out;
	}
	if (t->map) {
		size_t words = (size_t)((t->props.data_blocks + 63) / 64);
		t->checked = calloc(words ? words : 1, sizeof(*t->checked));
		if (!t->checked) {
			rc = lsm_seterr(-ENOMEM, "%s: out of memory", path);
			goto out;
		}
	}
	if (block_cache)
		t->cache_id = lsm_cache_new_id(block_cache);
	*out = t;
	return 0;
out:
	table_free(t);
	return rc;
}

void lsm_table_ref(lsm_table *t)
{
	int old = __atomic_fetch_add(&t->refs, 1, __ATOMIC_RELAXED);
	assert(old > 0);
	(void)old;
}

void lsm_table_unref(lsm_table *t)
{
	if (!t)
		return;
	int left = __atomic_sub_fetch(&t->refs, 1, __ATOMIC_ACQ_REL);
	assert(left >= 0);
	/*
	 * Blocks already cached stay there until the LRU evicts them: the id is
	 * never reused, so no later table can see them.
	 */
	if (left == 0)
		table_free(t);
}

const lsm_table_props *lsm_table_get_props(const lsm_table *t)
{
	return &t->props;
}

void lsm_table_cache_stats(const lsm_table *t, uint64_t *hits, uint64_t *misses)
{
	*hits = __atomic_load_n(&t->hits, __ATOMIC_RELAXED);
	*misses = __atomic_load_n(&t->misses, __ATOMIC_RELAXED);
}

/* ---- point lookup ---- */

int lsm_table_get(lsm_table *t, lsm_slice target, int fill_cache, int *type, lsm_buf *value,
		  int *bloom_skipped)
{
	lsm_block_iter ii, di;
	struct blockref ref = {.h = NULL};
	lsm_block_handle h;
	int di_live = 0, rc = 0;
	assert(target.len >= LSM_TRAILER);
	lsm_slice ukey = lsm_ikey_user(target);
	if (bloom_skipped)
		*bloom_skipped = 0;
	if (t->filter && !lsm_bloom_may_match(t->filter, t->filter_len, ukey)) {
		if (bloom_skipped)
			*bloom_skipped = 1;
		return 0;
	}
	lsm_block_iter_init(&ii, &t->index, t->path, t->index_h.offset);
	lsm_block_iter_seek(&ii, target);
	if (!lsm_block_iter_valid(&ii)) {
		rc = lsm_block_iter_status(&ii); /* past the last block: absent */
		goto out;
	}
	if ((rc = decode_handle(t, lsm_block_iter_value(&ii), &h)) != 0)
		goto out;
	rc = load_data_block(t, &h, lsm_block_iter_restart_index(&ii), fill_cache, &ref);
	if (rc)
		goto out;
	lsm_block_iter_init(&di, &ref.blk, t->path, h.offset);
	di_live = 1;
	lsm_block_iter_seek(&di, target);
	/* Not valid: target is past the block's last key but <= its separator, so absent. */
	if (!lsm_block_iter_valid(&di)) {
		rc = lsm_block_iter_status(&di);
		goto out;
	}
	lsm_slice k = lsm_block_iter_key(&di);
	if (lsm_user_compare(lsm_ikey_user(k), ukey) != 0)
		goto out;
	int ty = lsm_ikey_type(k);
	if (ty != LSM_TYPE_VALUE && ty != LSM_TYPE_DELETE && ty != LSM_TYPE_BLOB) {
		rc = LSM_CORRUPT(t->path, h.offset, "entry of unknown type %d", ty);
		goto out;
	}
	*type = ty;
	if (value) {
		lsm_slice v = lsm_block_iter_value(&di);
		value->len = 0;
		if (ty != LSM_TYPE_DELETE && lsm_buf_append(value, v.data, v.len)) {
			rc = lsm_seterr(-ENOMEM, "%s: out of memory for a value of %zu bytes",
					t->path, v.len);
			goto out;
		}
	}
	rc = 1;
out:
	if (di_live)
		lsm_block_iter_free(&di);
	lsm_block_iter_free(&ii);
	blockref_release(t, &ref);
	return rc;
}

/* ---- two-level iterator: index entries, then the entries of each data block ---- */

struct table_it {
	lsm_it base;
	lsm_table *t; /* referenced */
	int fill_cache;
	int status; /* sticky: the iterator stays invalid once it failed */
	lsm_block_iter index;
	lsm_block_iter data;
	struct blockref ref; /* the block data iterates over; ref.blk.data NULL when none */
	uint64_t data_off;
	/* Read-ahead of sequential scans (ti_readahead). */
	uint64_t last_lo, last_hi; /* the last block loaded, trailer included; hi 0: none */
	int run;		   /* blocks loaded in a row, each next to the one before */
	uint64_t ra_lo, ra_hi;	   /* bytes already asked for; empty when lo == hi */
	uint64_t dropped;	   /* mapped pages below this were taken out of the process */
};

#define TI(it) ((struct table_it *)(it))

/* What data iterates over when no block is loaded. */
static const lsm_block empty_block = {(const uint8_t *)"\0\0\0\0", 4, 0, 0, NULL};

static void ti_drop_block(struct table_it *ti)
{
	lsm_block_iter_reset(&ti->data, &empty_block, 0);
	blockref_release(ti->t, &ti->ref);
}

static void ti_fail(struct table_it *ti, int rc)
{
	assert(rc);
	if (!ti->status)
		ti->status = rc;
	ti_drop_block(ti);
}

/*
 * Sequential scans read ahead. Tables are mapped with MADV_RANDOM (point
 * lookups should not drag in neighbouring pages), so without this a scan
 * of a table that is not in the page cache waits for one page at a time.
 * From the third block loaded in a row, each next to the one before (in
 * either direction), the next RA_WINDOW bytes the scan is heading for are
 * asked for ahead of it, again each time it is RA_WINDOW / 2 from the end
 * of what was asked: the kernel reads them while the scan goes on.
 */
#define RA_WINDOW (512u * 1024u)

static void ti_readahead(struct table_it *ti, const lsm_block_handle *h)
{
	lsm_table *t = ti->t;
	uint64_t lo = h->offset, hi = h->offset + h->size + LSM_TABLE_TRAILER;
	int forward = ti->last_hi && lo == ti->last_hi;
	int backward = ti->last_hi && hi == ti->last_lo;
	ti->run = forward || backward ? ti->run + 1 : 1;
	ti->last_lo = lo;
	ti->last_hi = hi;
	if (ti->run < 3 || !t->env->readahead)
		return;
	/*
	 * A forward scan (a compaction's, mostly) leaves the mapped pages it
	 * has passed mapped into the process: they count in its RSS until the
	 * table is closed. Those a window behind it go now.
	 */
	if (forward && t->map && t->env->drop_pages && lo > ti->dropped + 2 * RA_WINDOW) {
		(void)t->env->drop_pages(t->env, t->map + ti->dropped,
					 lo - RA_WINDOW - ti->dropped);
		ti->dropped = lo - RA_WINDOW;
	}
	if (forward && hi + RA_WINDOW / 2 > ti->ra_hi) {
		uint64_t from = ti->ra_hi > hi ? ti->ra_hi : hi;
		uint64_t to = from + RA_WINDOW < t->data_end ? from + RA_WINDOW : t->data_end;
		if (to > from)
			(void)t->env->readahead(t->env, t->file, from, to - from);
		ti->ra_lo = lo;
		ti->ra_hi = to;
	} else if (backward && (ti->ra_lo == ti->ra_hi || lo < ti->ra_lo + RA_WINDOW / 2)) {
		uint64_t to = ti->ra_lo != ti->ra_hi && ti->ra_lo < lo ? ti->ra_lo : lo;
		uint64_t from = to > RA_WINDOW ? to - RA_WINDOW : 0;
		if (to > from)
			(void)t->env->readahead(t->env, t->file, from, to - from);
		ti->ra_lo = from;
		ti->ra_hi = hi;
	}
}

/*
 * A seek starts over: the blocks it lands on are not a scan, even when a
 * seek and a step happen to load neighbours of the blocks before them.
 */
static void ti_new_run(struct table_it *ti)
{
	ti->last_lo = ti->last_hi = 0;
	ti->run = 0;
	ti->ra_lo = ti->ra_hi = 0;
}

/* Loads the block the index iterator is on into data (not positioned). */
static int ti_load(struct table_it *ti)
{
	lsm_block_handle h;
	struct blockref ref;
	int rc = decode_handle(ti->t, lsm_block_iter_value(&ti->index), &h);
	if (rc) {
		ti_fail(ti, rc);
		return rc;
	}
	if (ti->ref.blk.data && ti->data_off == h.offset) {
		lsm_block_iter_reset(&ti->data, &ti->ref.blk, h.offset);
		return 0;
	}
	ti_readahead(ti, &h);
	rc = load_data_block(ti->t, &h, lsm_block_iter_restart_index(&ti->index), ti->fill_cache,
			     &ref);
	if (rc) {
		ti_fail(ti, rc);
		return rc;
	}
	lsm_block_iter_reset(&ti->data, &ref.blk, h.offset);
	blockref_release(ti->t, &ti->ref);
	ti->ref = ref;
	ti->data_off = h.offset;
	return 0;
}

/* After the index moved: load its block, or finish (invalid, maybe with an error). */
static int ti_enter(struct table_it *ti)
{
	if (lsm_block_iter_valid(&ti->index))
		return ti_load(ti);
	int rc = lsm_block_iter_status(&ti->index);
	if (rc)
		ti_fail(ti, rc);
	else
		ti_drop_block(ti);
	return -1;
}

/* Moves forward over blocks until data is on an entry (or the end). */
static void ti_skip_forward(struct table_it *ti)
{
	while (!lsm_block_iter_valid(&ti->data)) {
		int rc = lsm_block_iter_status(&ti->data);
		if (rc) {
			ti_fail(ti, rc);
			return;
		}
		if (!lsm_block_iter_valid(&ti->index)) {
			ti_drop_block(ti);
			return;
		}
		lsm_block_iter_next(&ti->index);
		if (ti_enter(ti))
			return;
		lsm_block_iter_seek_first(&ti->data);
	}
}

static void ti_skip_backward(struct table_it *ti)
{
	while (!lsm_block_iter_valid(&ti->data)) {
		int rc = lsm_block_iter_status(&ti->data);
		if (rc) {
			ti_fail(ti, rc);
			return;
		}
		if (!lsm_block_iter_valid(&ti->index)) {
			ti_drop_block(ti);
			return;
		}
		lsm_block_iter_prev(&ti->index);
		if (ti_enter(ti))
			return;
		lsm_block_iter_seek_last(&ti->data);
	}
}

static int ti_valid(lsm_it *it)
{
	return !TI(it)->status && lsm_block_iter_valid(&TI(it)->data);
}

static void ti_seek_first(lsm_it *it)
{
	struct table_it *ti = TI(it);
	if (ti->status)
		return;
	ti_new_run(ti);
	lsm_block_iter_seek_first(&ti->index);
	if (ti_enter(ti))
		return;
	lsm_block_iter_seek_first(&ti->data);
	ti_skip_forward(ti);
}

static void ti_seek_last(lsm_it *it)
{
	struct table_it *ti = TI(it);
	if (ti->status)
		return;
	ti_new_run(ti);
	lsm_block_iter_seek_last(&ti->index);
	if (ti_enter(ti))
		return;
	lsm_block_iter_seek_last(&ti->data);
	ti_skip_backward(ti);
}

static void ti_seek(lsm_it *it, lsm_slice target)
{
	struct table_it *ti = TI(it);
	if (ti->status)
		return;
	ti_new_run(ti);
	lsm_block_iter_seek(&ti->index, target);
	if (ti_enter(ti))
		return;
	lsm_block_iter_seek(&ti->data, target);
	ti_skip_forward(ti);
}

static void ti_next(lsm_it *it)
{
	struct table_it *ti = TI(it);
	assert(ti_valid(it));
	lsm_block_iter_next(&ti->data);
	ti_skip_forward(ti);
}

static void ti_prev(lsm_it *it)
{
	struct table_it *ti = TI(it);
	assert(ti_valid(it));
	lsm_block_iter_prev(&ti->data);
	ti_skip_backward(ti);
}

static lsm_slice ti_key(lsm_it *it)
{
	assert(ti_valid(it));
	return lsm_block_iter_key(&TI(it)->data);
}

static lsm_slice ti_value(lsm_it *it)
{
	assert(ti_valid(it));
	return lsm_block_iter_value(&TI(it)->data);
}

static int ti_status(lsm_it *it)
{
	struct table_it *ti = TI(it);
	if (ti->status)
		return ti->status;
	int rc = lsm_block_iter_status(&ti->index);
	return rc ? rc : lsm_block_iter_status(&ti->data);
}

static void ti_destroy(lsm_it *it)
{
	struct table_it *ti = TI(it);
	blockref_release(ti->t, &ti->ref);
	lsm_block_iter_free(&ti->index);
	lsm_block_iter_free(&ti->data);
	lsm_table_unref(ti->t);
	free(ti);
}

static const lsm_it_ops table_it_ops = {
	.valid = ti_valid,
	.seek_first = ti_seek_first,
	.seek_last = ti_seek_last,
	.seek = ti_seek,
	.next = ti_next,
	.prev = ti_prev,
	.key = ti_key,
	.value = ti_value,
	.status = ti_status,
	.destroy = ti_destroy,
};

lsm_it *lsm_table_iter(lsm_table *t, int fill_cache)
{
	struct table_it *ti = calloc(1, sizeof(*ti));
	if (!ti) {
		lsm_seterr(-ENOMEM, "%s: out of memory for an iterator", t->path);
		return NULL;
	}
	ti->base.ops = &table_it_ops;
	lsm_table_ref(t);
	ti->t = t;
	ti->fill_cache = fill_cache;
	lsm_block_iter_init(&ti->index, &t->index, t->path, t->index_h.offset);
	lsm_block_iter_init(&ti->data, &empty_block, t->path, 0);
	return &ti->base;
}

/* ---- verify ---- */

struct verify {
	lsm_table *t;
	lsm_verify_problem_fn report;
	void *arg;
	int corrupt; /* problems found */
	int error;   /* first error that is not corruption (I/O, memory) */
};

/*
 * Passes the failure just recorded (lsm_errmsg) to the report callback,
 * taking the offset from the message when it names one in this file.
 */
static void vreport(struct verify *v, uint64_t off, int rc)
{
	const char *msg = lsm_errmsg();
	char prefix[64];
	if (rc == -LSM_ECORRUPT)
		v->corrupt++;
	else if (!v->error)
		v->error = rc;
	if (!v->report)
		return;
	int n = snprintf(prefix, sizeof(prefix), "corruption in ");
	size_t plen = strlen(v->t->path);
	if (strncmp(msg, prefix, (size_t)n) == 0 && strncmp(msg + n, v->t->path, plen) == 0 &&
	    strncmp(msg + n + plen, " at offset ", 11) == 0) {
		char *end;
		unsigned long long o = strtoull(msg + n + plen + 11, &end, 10);
		if (end[0] == ':' && end[1] == ' ') {
			off = o;
			msg = end + 2;
		}
	}
	lsm_verify_problem p = {rc == -LSM_ECORRUPT ? LSM_VERIFY_CORRUPT : LSM_VERIFY_ERROR, rc,
				v->t->path, off, msg};
	v->report(v->arg, &p);
}

static void verify_meta(struct verify *v, const lsm_block_handle *h)
{
	uint8_t *data = NULL;
	size_t len;
	int rc = read_block(v->t->env, v->t->file, v->t->path, h, &data, &len);
	if (rc)
		vreport(v, h->offset, rc);
	free(data);
}

/* Checks one data block: entries well-formed, in order, inside the index bounds, in the filter. */
static void verify_block(struct verify *v, const lsm_block_handle *h, lsm_slice lo, lsm_slice hi,
			 lsm_buf *prev, uint64_t *entries, uint64_t *deletions)
{
	lsm_table *t = v->t;
	uint8_t *data = NULL;
	size_t len;
	lsm_block blk;
	lsm_block_iter it;
	int rc = read_block(t->env, t->file, t->path, h, &data, &len);
	if (!rc)
		rc = lsm_block_init(&blk, data, len, t->path, h->offset);
	if (rc) {
		vreport(v, h->offset, rc);
		prev->len = 0; /* do not compare across the damaged block */
		free(data);
		return;
	}
	lsm_block_iter_init(&it, &blk, t->path, h->offset);
	for (lsm_block_iter_seek_first(&it); lsm_block_iter_valid(&it); lsm_block_iter_next(&it)) {
		lsm_slice k = lsm_block_iter_key(&it);
		const char *why = NULL;
		int ty = lsm_ikey_type(k);
		lsm_blob_ref ref;
		if (ty != LSM_TYPE_VALUE && ty != LSM_TYPE_DELETE && ty != LSM_TYPE_BLOB)
			why = "entry of unknown type";
		else if (ty == LSM_TYPE_BLOB &&
			 lsm_blob_ref_decode(lsm_block_iter_value(&it), &ref))
			why = "malformed blob reference";
		else if (prev->len && lsm_ikey_compare(lsm_slice_of(prev->data, prev->len), k) >= 0)
			why = "keys out of order";
		else if (lo.len && lsm_ikey_compare(k, lo) <= 0)
			why = "key not above the previous block's index key";
		else if (lsm_ikey_compare(k, hi) > 0)
			why = "key above the block's index key";
		else if (t->filter &&
			 !lsm_bloom_may_match(t->filter, t->filter_len, lsm_ikey_user(k)))
			why = "key missing from the bloom filter";
		if (why) {
			vreport(v, h->offset, LSM_CORRUPT(t->path, h->offset, "%s", why));
			break;
		}
		prev->len = 0;
		if (lsm_buf_append(prev, k.data, k.len)) {
			vreport(v, h->offset, lsm_seterr(-ENOMEM, "%s: out of memory", t->path));
			break;
		}
		(*entries)++;
		*deletions += ty == LSM_TYPE_DELETE;
	}
	rc = lsm_block_iter_status(&it);
	if (rc)
		vreport(v, h->offset, rc);
	lsm_block_iter_free(&it);
	lsm_block_release(&blk);
	free(data);
}

int lsm_table_verify_problems(lsm_table *t, lsm_verify_problem_fn fn, void *arg)
{
	struct verify v = {t, fn, arg, 0, 0};
	lsm_block_iter ii;
	lsm_buf prev, lo;
	uint64_t entries = 0, deletions = 0, blocks = 0;
	lsm_buf_init(&prev);
	lsm_buf_init(&lo);

	/* The footer and meta blocks were checked at open; the disk may have changed since. */
	uint8_t f[LSM_TABLE_FOOTER];
	size_t got;
	int rc = t->env->pread(t->env, t->file, f, sizeof(f), t->size - LSM_TABLE_FOOTER, &got);
	if (!rc && (got != sizeof(f) || lsm_get_le64(f + 56) != LSM_TABLE_MAGIC ||
		    lsm_get_le32(f + 52) != lsm_checksum(f, 52)))
		rc = LSM_CORRUPT(t->path, t->size - LSM_TABLE_FOOTER,
				 "footer damaged since the table was opened");
	if (rc)
		vreport(&v, t->size - LSM_TABLE_FOOTER, rc);
	if (t->filter)
		verify_meta(&v, &t->filter_h);
	verify_meta(&v, &t->index_h);
	verify_meta(&v, &t->props_h);

	lsm_block_iter_init(&ii, &t->index, t->path, t->index_h.offset);
	for (lsm_block_iter_seek_first(&ii); lsm_block_iter_valid(&ii); lsm_block_iter_next(&ii)) {
		lsm_block_handle h;
		lsm_slice hi = lsm_block_iter_key(&ii);
		rc = decode_handle(t, lsm_block_iter_value(&ii), &h);
		if (rc) {
			vreport(&v, t->index_h.offset, rc);
			break;
		}
		verify_block(&v, &h, lsm_slice_of(lo.data, lo.len), hi, &prev, &entries,
			     &deletions);
		blocks++;
		lo.len = 0;
		if (lsm_buf_append(&lo, hi.data, hi.len)) {
			vreport(&v, h.offset, lsm_seterr(-ENOMEM, "%s: out of memory", t->path));
			break;
		}
	}
	if ((rc = lsm_block_iter_status(&ii)) != 0)
		vreport(&v, t->index_h.offset, rc);
	lsm_block_iter_free(&ii);
	if (!v.corrupt && !v.error &&
	    (entries != t->props.entries || deletions != t->props.deletions ||
	     blocks != t->props.data_blocks))
		vreport(&v, t->props_h.offset,
			LSM_CORRUPT(t->path, t->props_h.offset,
				    "properties say %llu entries (%llu deletions) in %llu blocks; "
				    "found %llu (%llu) in %llu",
				    (unsigned long long)t->props.entries,
				    (unsigned long long)t->props.deletions,
				    (unsigned long long)t->props.data_blocks,
				    (unsigned long long)entries, (unsigned long long)deletions,
				    (unsigned long long)blocks));
	lsm_buf_free(&prev);
	lsm_buf_free(&lo);
	return v.corrupt ? -LSM_ECORRUPT : v.error;
}

void lsm_verify_drop_kind(void *arg, const lsm_verify_problem *p)
{
	const lsm_verify_report_only *r = arg;
	r->fn(r->arg, p->file, p->offset, p->msg);
}

int lsm_table_verify(lsm_table *t, lsm_verify_report_fn report, void *arg)
{
	lsm_verify_report_only r = {report, arg};
	return lsm_table_verify_problems(t, report ? lsm_verify_drop_kind : NULL, &r);
}
