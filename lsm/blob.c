/*
 * blob.c — blob references, and reading the values they point at.
 *
 * A separated value is not copied anywhere: its bytes are the ones the WAL
 * wrote inside the record of its batch (the batch encoding is drawn in
 * batch_internal.h, the WAL's fragments in wal.c). A record longer than
 * what is left of a 32 KiB block is cut into fragments, so on disk a value
 * is its bytes with a 7-byte fragment header at the start of each block it
 * reaches into:
 *
 *   file offset:  off                 next block start   (+7)
 *                 |                   |                  |
 *                 [ value bytes ... ] [hdr: 7 bytes    ] [ value bytes ... ]
 *                 <- to block end  ->                    <- up to 32761 ->
 *
 * Reading it is one pread of lsm_blob_span(off, len) bytes and a memmove of
 * each later piece over the header before it (lsm_blob_unframe), or, into
 * a caller's buffer, one preadv that puts the pieces in place and the
 * headers aside (lsm_blob_read_into). Bytes [from, from + n) of it are read
 * the same way from file offset lsm_blob_value_pos(off, from), where the
 * framing goes on as if a value started there (lsm_blob_read_part); the
 * checksum covers the whole value, so such a read is the caller's to check.
 *
 * The reference, the value of an LSM_TYPE_BLOB entry in memtables and
 * tables:
 *
 *   +-----------------+-----------------+--------------+----------------+
 *   | varint64 file   | varint64 offset | varint64 len | le32 checksum  |
 *   +-----------------+-----------------+--------------+----------------+
 *
 *   file      number of the value file: the WAL that wrote the value
 *             (NNNNNN.log), or, once garbage collection moved it, a
 *             NNNNNN.blob file (blob_gc.c); numbers are never reused
 *   offset    file offset of the value's first byte (never inside a header)
 *   len       value length, 1 .. LSM_MAX_VALUE
 *   checksum  lsm_checksum(value): a read that does not match is
 *             corruption, so a damaged, truncated or reused file never
 *             serves wrong bytes
 *
 * Nothing may follow the checksum.
 *
 * Durability: the value is in the same WAL record as its batch, so the
 * group commit's one write and (for a sync write) one fdatasync cover it;
 * a reference exists only in memory until its memtable is flushed, which
 * happens after the WAL was synced (compact.c flush_oldest, by
 * lsm_db_sync_retired; recovery syncs a replayed WAL before writing tables
 * from it). A torn WAL tail is dropped at replay together with the
 * references it would have produced.
 */
#include "blob.h"

#include "checksum.h"
#include "coding.h"
#include "error.h"
#include "version.h"
#include "wal.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define BLOCK  ((uint64_t)LSM_WAL_BLOCK)
#define HEADER ((uint64_t)LSM_WAL_HEADER)
/* Payload bytes of a fragment that fills a whole block. */
#define PER_BLOCK (BLOCK - HEADER)

size_t lsm_blob_ref_encode(const lsm_blob_ref *ref, uint8_t *out)
{
	size_t n = lsm_put_varint64(out, ref->file);
	n += lsm_put_varint64(out + n, ref->offset);
	n += lsm_put_varint64(out + n, ref->len);
	lsm_put_le32(out + n, ref->checksum);
	return n + 4;
}

int lsm_blob_ref_decode(lsm_slice in, lsm_blob_ref *ref)
{
	const uint8_t *p = in.data, *end = in.data + in.len;
	p = lsm_get_varint64(p, end, &ref->file);
	if (p)
		p = lsm_get_varint64(p, end, &ref->offset);
	if (p)
		p = lsm_get_varint64(p, end, &ref->len);
	if (!p || end - p != 4)
		return lsm_seterr(-LSM_ECORRUPT, "blob reference of %zu bytes is malformed",
				  in.len);
	ref->checksum = lsm_get_le32(p);
	if (ref->len == 0 || ref->len > LSM_MAX_VALUE)
		return lsm_seterr(-LSM_ECORRUPT, "blob reference has an impossible length %" PRIu64,
				  ref->len);
	if (ref->offset % BLOCK < HEADER || ref->offset > UINT64_MAX / 2)
		return lsm_seterr(-LSM_ECORRUPT,
				  "blob reference points at offset %" PRIu64 " of file %06" PRIu64
				  ", inside a fragment header",
				  ref->offset, ref->file);
	return 0;
}

uint64_t lsm_blob_payload_offset(uint64_t header, uint64_t logical)
{
	/* Payload bytes of the first fragment: the rest of its block (maybe 0). */
	uint64_t first = BLOCK - header % BLOCK - HEADER;
	if (logical < first)
		return header + HEADER + logical;
	logical -= first;
	uint64_t next_block = header - header % BLOCK + BLOCK;
	return next_block + logical / PER_BLOCK * BLOCK + HEADER + logical % PER_BLOCK;
}

uint64_t lsm_blob_span(uint64_t off, uint64_t len)
{
	uint64_t first = BLOCK - off % BLOCK;
	if (len <= first)
		return len;
	len -= first;
	/* Every later block adds its header; a partial last block too. */
	uint64_t blocks = (len + PER_BLOCK - 1) / PER_BLOCK;
	return first + len + blocks * HEADER;
}

void lsm_blob_unframe(uint8_t *buf, uint64_t off, uint64_t len)
{
	uint64_t first = BLOCK - off % BLOCK;
	if (len <= first)
		return;
	uint8_t *dst = buf + first;
	const uint8_t *src = buf + first;
	uint64_t left = len - first;
	while (left) {
		uint64_t piece = left < PER_BLOCK ? left : PER_BLOCK;
		src += HEADER;
		memmove(dst, src, piece);
		dst += piece;
		src += piece;
		left -= piece;
	}
}

/* ---- what tables refer to ---- */

void lsm_blob_uses_free(lsm_blob_uses *u)
{
	free(u->v);
	lsm_blob_uses_init(u);
}

int lsm_blob_uses_add(lsm_blob_uses *u, uint64_t file, uint64_t bytes)
{
	if (u->n && u->v[u->last].file == file) {
		u->v[u->last].bytes += bytes;
		return 0;
	}
	int lo = 0, hi = u->n;
	while (lo < hi) {
		int mid = lo + (hi - lo) / 2;
		if (u->v[mid].file < file)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < u->n && u->v[lo].file == file) {
		u->v[lo].bytes += bytes;
		u->last = lo;
		return 0;
	}
	if (u->n == u->cap) {
		int cap = u->cap ? 2 * u->cap : 4;
		lsm_blob_use *p = realloc(u->v, (size_t)cap * sizeof(*p));
		if (!p)
			return -ENOMEM;
		u->v = p;
		u->cap = cap;
	}
	memmove(u->v + lo + 1, u->v + lo, (size_t)(u->n - lo) * sizeof(*u->v));
	u->v[lo].file = file;
	u->v[lo].bytes = bytes;
	u->n++;
	u->last = lo;
	return 0;
}

/* ---- open value files ---- */

struct lsm_blob_files {
	lsm_env *env;
	char *dir;
	lsm_cache *cache; /* number -> bf_entry */
};

typedef struct bf_entry {
	lsm_env *env;
	lsm_file *file;
	char *path; /* for messages: which of the two names it has */
} bf_entry;

static void bf_delete(const void *key, size_t klen, void *value)
{
	bf_entry *e = value;
	(void)key;
	(void)klen;
	e->env->close(e->env, e->file);
	free(e->path);
	free(e);
}

lsm_blob_files *lsm_blob_files_new(lsm_env *env, const char *dir, int max_open)
{
	lsm_blob_files *bf = calloc(1, sizeof(*bf));
	if (!bf)
		return NULL;
	bf->env = env;
	bf->dir = strdup(dir);
	bf->cache = lsm_cache_new(max_open > 0 ? (size_t)max_open : 1);
	if (!bf->dir || !bf->cache) {
		lsm_blob_files_free(bf);
		return NULL;
	}
	return bf;
}

void lsm_blob_files_free(lsm_blob_files *bf)
{
	if (!bf)
		return;
	if (bf->cache)
		lsm_cache_free(bf->cache);
	free(bf->dir);
	free(bf);
}

void lsm_blob_files_evict(lsm_blob_files *bf, uint64_t number)
{
	uint8_t key[8];
	lsm_put_le64(key, number);
	lsm_cache_erase(bf->cache, key, sizeof(key));
}

/* A referenced handle on value file number, opened on a miss. */
static int bf_get(lsm_blob_files *bf, uint64_t number, lsm_cache_handle **out)
{
	uint8_t key[8];
	lsm_put_le64(key, number);
	*out = lsm_cache_lookup(bf->cache, key, sizeof(key));
	if (*out)
		return 0;
	char *path = lsm_log_filename(bf->dir, number);
	bf_entry *e = calloc(1, sizeof(*e));
	int rc = 0;
	if (!path || !e) {
		rc = lsm_seterr(-ENOMEM, "value files: out of memory");
		goto out;
	}
	e->env = bf->env;
	rc = bf->env->open_file(bf->env, path, LSM_O_READ, &e->file);
	if (rc == -ENOENT) {
		/* Not a WAL: values moved by garbage collection live in NNNNNN.blob. */
		char *alt = lsm_blob_filename(bf->dir, number);
		if (!alt) {
			rc = lsm_seterr(-ENOMEM, "value files: out of memory");
			goto out;
		}
		rc = bf->env->open_file(bf->env, alt, LSM_O_READ, &e->file);
		if (!rc) {
			free(path);
			path = alt;
		} else {
			free(alt);
		}
	}
	if (rc == -ENOENT)
		rc = lsm_seterr(-LSM_ECORRUPT,
				"%s: value file is missing (nor is there %06llu.blob)", path,
				(unsigned long long)number);
	if (rc)
		goto out;
	e->path = path;
	path = NULL;
	/* Two threads missing at once both open it; the later insert wins. Harmless. */
	*out = lsm_cache_insert(bf->cache, key, sizeof(key), e, 1, bf_delete);
	e = NULL; /* the cache owns it now, or its deleter has closed it */
	if (!*out)
		rc = lsm_seterr(-ENOMEM, "value files: out of memory");
out:
	free(e);
	free(path);
	return rc;
}

int lsm_blob_read(lsm_blob_files *bf, const lsm_blob_ref *ref, lsm_buf *out)
{
	lsm_cache_handle *h = NULL;
	uint64_t span = lsm_blob_span(ref->offset, ref->len);
	size_t got = 0;
	out->len = 0;
	int rc = lsm_buf_reserve(out, (size_t)span + 1);
	if (rc)
		return lsm_seterr(rc, "out of memory for a %" PRIu64 "-byte value", ref->len);
	rc = bf_get(bf, ref->file, &h);
	if (rc)
		return rc;
	bf_entry *e = lsm_cache_value(h);
	rc = bf->env->pread(bf->env, e->file, out->data, (size_t)span, ref->offset, &got);
	if (!rc && got < span)
		rc = LSM_CORRUPT(e->path, ref->offset,
				 "value of %" PRIu64 " bytes is cut short: the file ends %zu bytes "
				 "into it",
				 ref->len, got);
	if (!rc) {
		lsm_blob_unframe(out->data, ref->offset, ref->len);
		if (lsm_checksum(out->data, (size_t)ref->len) != ref->checksum)
			rc = LSM_CORRUPT(e->path, ref->offset,
					 "value of %" PRIu64 " bytes fails its checksum", ref->len);
	}
	lsm_cache_release(bf->cache, h);
	if (rc)
		return rc;
	out->len = (size_t)ref->len;
	return 0;
}

/*
 * The buffers one preadv fills for a value at off: its pieces into dst,
 * the fragment headers between them into hdr. 0 if more are needed than
 * an env takes in one call.
 */
static int value_iov(uint8_t *dst, uint64_t off, uint64_t len, uint8_t *hdr, struct iovec *iov)
{
	uint64_t first = BLOCK - off % BLOCK;
	int n = 0;

	if (first > len)
		first = len;
	iov[n].iov_base = dst;
	iov[n++].iov_len = (size_t)first;
	dst += first;
	len -= first;
	while (len) {
		uint64_t piece = len < PER_BLOCK ? len : PER_BLOCK;

		if (n + 2 > LSM_ENV_IOV_MAX)
			return 0;
		iov[n].iov_base = hdr;
		iov[n++].iov_len = HEADER;
		iov[n].iov_base = dst;
		iov[n++].iov_len = (size_t)piece;
		dst += piece;
		len -= piece;
	}
	return n;
}

uint64_t lsm_blob_value_pos(uint64_t off, uint64_t i)
{
	uint64_t first = BLOCK - off % BLOCK;

	if (i < first)
		return off + i;
	i -= first;
	/* Past the first piece, each block so far brought its header. */
	return off + first + (i / PER_BLOCK + 1) * HEADER + i;
}

/*
 * Reads the n value bytes that start at file position pos (never inside a
 * header; the value's framing continues from there) of ref's file into dst;
 * check: they are the whole value, to be checked against its checksum.
 */
static int read_span(lsm_blob_files *bf, const lsm_blob_ref *ref, uint64_t pos, uint64_t n,
		     uint8_t *dst, int check)
{
	struct iovec iov[LSM_ENV_IOV_MAX];
	uint8_t hdr[HEADER];
	lsm_cache_handle *h = NULL;
	uint64_t span = lsm_blob_span(pos, n);
	size_t got = 0;
	int niov = bf->env->preadv ? value_iov(dst, pos, n, hdr, iov) : 0;
	lsm_buf tmp;
	int rc = bf_get(bf, ref->file, &h);

	if (rc)
		return rc;
	bf_entry *e = lsm_cache_value(h);
	lsm_buf_init(&tmp);
	if (niov) {
		rc = bf->env->preadv(bf->env, e->file, iov, niov, pos, &got);
	} else {
		/* No preadv, or too many pieces for one: read the span, then unframe it. */
		rc = lsm_buf_reserve(&tmp, (size_t)span);
		if (rc)
			rc = lsm_seterr(rc, "out of memory for a %" PRIu64 "-byte value", n);
		else
			rc = bf->env->pread(bf->env, e->file, tmp.data, (size_t)span, pos, &got);
	}
	if (!rc && got < span)
		rc = LSM_CORRUPT(e->path, ref->offset,
				 "value of %" PRIu64 " bytes is cut short: the file ends %" PRIu64
				 " bytes into it",
				 ref->len, pos + got - ref->offset);
	if (!rc && !niov) {
		lsm_blob_unframe(tmp.data, pos, n);
		memcpy(dst, tmp.data, (size_t)n);
	}
	if (!rc && check && lsm_checksum(dst, (size_t)n) != ref->checksum)
		rc = LSM_CORRUPT(e->path, ref->offset,
				 "value of %" PRIu64 " bytes fails its checksum", ref->len);
	lsm_buf_free(&tmp);
	lsm_cache_release(bf->cache, h);
	return rc;
}

int lsm_blob_read_into(lsm_blob_files *bf, const lsm_blob_ref *ref, void *dst, int check)
{
	return read_span(bf, ref, ref->offset, ref->len, dst, check);
}

int lsm_blob_read_part(lsm_blob_files *bf, const lsm_blob_ref *ref, uint64_t from, uint64_t n,
		       void *dst)
{
	if (from > ref->len || n > ref->len - from)
		return lsm_seterr(-EINVAL,
				  "bytes %" PRIu64 "+%" PRIu64 " of a %" PRIu64 "-byte value", from,
				  n, ref->len);
	if (n == 0)
		return 0;
	return read_span(bf, ref, lsm_blob_value_pos(ref->offset, from), n, dst, 0);
}

int lsm_blob_read_encoded(lsm_blob_files *bf, lsm_slice enc, lsm_buf *out)
{
	lsm_blob_ref ref;
	int rc = lsm_blob_ref_decode(enc, &ref);
	if (rc)
		return rc;
	return lsm_blob_read(bf, &ref, out);
}

/* The window asked for at a time, and how much must have been read in order first. */
#define AHEAD_WINDOW (2u << 20)
#define AHEAD_AFTER  (256u << 10)

int lsm_blob_read_ahead(lsm_blob_files *bf, lsm_slice enc, lsm_buf *out, lsm_blob_ahead *ra)
{
	lsm_blob_ref ref;
	int rc = lsm_blob_ref_decode(enc, &ref);
	if (rc)
		return rc;
	/* The next record's header may sit between two values: near enough counts. */
	int in_order = ref.file == ra->file && ref.offset >= ra->next &&
		       ref.offset <= ra->next + 64 + LSM_WAL_HEADER;
	ra->run = in_order ? ra->run + ref.len : 0;
	if (!in_order)
		ra->until = 0;
	ra->file = ref.file;
	ra->next = ref.offset + lsm_blob_span(ref.offset, ref.len);
	if (ra->run >= AHEAD_AFTER && ra->until < ra->next + AHEAD_WINDOW / 2) {
		lsm_cache_handle *h;
		if (bf_get(bf, ref.file, &h) == 0) {
			bf_entry *e = lsm_cache_value(h);
			uint64_t from = ra->until > ra->next ? ra->until : ra->next;
			if (bf->env->readahead)
				(void)bf->env->readahead(bf->env, e->file, from, AHEAD_WINDOW);
			ra->until = from + AHEAD_WINDOW;
			lsm_cache_release(bf->cache, h);
		}
	}
	return lsm_blob_read(bf, &ref, out);
}
