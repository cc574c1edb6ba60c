/*
 * wal.c — the write-ahead log: records cut into checksummed fragments.
 *
 * The file is a sequence of 32 KiB blocks (LSM_WAL_BLOCK). A record (one
 * write batch, or several merged by group commit) is cut into fragments that
 * never cross a block boundary:
 *
 *   block    = fragment* [trailer]
 *   fragment = +-----------------+--------------+-----------+-----------------+
 *              | checksum: le32  | length: le16 | type: 1   | payload: length |
 *              +-----------------+--------------+-----------+-----------------+
 *              byte 0            4              6           7
 *   trailer  = 0..6 zero bytes: a block tail too short for a header
 *
 *   checksum = lsm_checksum2(type byte, payload)
 *   type     = FULL (1): the whole record
 *              FIRST (2), MIDDLE (3)..., LAST (4): pieces of one record, in
 * order
 *
 * Zero-length records are one FULL fragment with an empty payload. Type 0 is
 * never written, so a zero-filled region never parses as a fragment.
 *
 * Why blocks: a reader that meets damage can find the next fragment at the
 * start of every later block, which is how it tells a crash's torn tail
 * (nothing valid after the damage) from corruption in the middle of the log
 * (something valid after it). In the damaged fragment's own block, where a
 * damaged length hides where the next fragment starts, it scans every byte
 * (valid_later_in_block). A torn tail ends the log silently; corruption is
 * reported with the file and offset of the damaged fragment, never skipped.
 *
 * Writes: lsm_wal_add_records() frames every fragment of every given record
 * into one buffer and hands it to a single env->append(): group commit.
 */
#include "wal.h"

#include "checksum.h"
#include "coding.h"
#include "error.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WAL_KEEP_BUF (1u << 20)

/* No lock: the caller serialises every call (the db's write leader). */
struct lsm_wal_writer {
	lsm_env *env;
	lsm_file *file;
	char *path;
	uint64_t size; /* bytes appended so far; size % LSM_WAL_BLOCK is the block
			  offset */
	int err;       /* first failed append or sync: every later call returns it */
	lsm_buf out;   /* fragments of one add_records call */
};

static uint32_t frag_checksum(uint8_t type, const uint8_t *payload, size_t len)
{
	return lsm_checksum2(&type, 1, payload, len);
}

static size_t frame_records(size_t boff, const lsm_slice *recs, int n, uint8_t *out)
{
	size_t pos = 0;
	for (int i = 0; i < n; i++) {
		const uint8_t *p = recs[i].data;
		size_t left = recs[i].len;
		int first = 1;
		do {
			size_t room = LSM_WAL_BLOCK - boff;
			if (room < LSM_WAL_HEADER) {
				if (out && room)
					memset(out + pos, 0, room);
				pos += room;
				boff = 0;
				room = LSM_WAL_BLOCK;
			}
			size_t frag = left < room - LSM_WAL_HEADER ? left : room - LSM_WAL_HEADER;
			int last = frag == left;
			uint8_t type = first && last ? LSM_WAL_FULL
				       : first	     ? LSM_WAL_FIRST
				       : last	     ? LSM_WAL_LAST
						     : LSM_WAL_MIDDLE;
			if (out) {
				uint8_t *h = out + pos;
				lsm_put_le32(h, frag_checksum(type, p, frag));
				lsm_put_le16(h + 4, (uint16_t)frag);
				h[6] = type;
				if (frag)
					memcpy(h + LSM_WAL_HEADER, p, frag);
			}
			pos += LSM_WAL_HEADER + frag;
			boff += LSM_WAL_HEADER + frag;
			assert(boff <= LSM_WAL_BLOCK);
			if (frag)
				p += frag;
			left -= frag;
			first = 0;
		} while (left > 0);
	}
	return pos;
}

int lsm_wal_writer_open(lsm_env *env, const char *path, lsm_wal_writer **out)
{
	int rc;
	lsm_wal_writer *w = calloc(1, sizeof(*w));
	if (!w || !(w->path = strdup(path))) {
		rc = lsm_seterr(-ENOMEM, "%s: out of memory opening the log", path);
		goto out;
	}
	w->env = env;
	lsm_buf_init(&w->out);
	rc = env->open_file(env, path, LSM_O_WRITE | LSM_O_CREATE | LSM_O_TRUNC, &w->file);
out:
	if (rc) {
		if (w)
			free(w->path);
		free(w);
		return rc;
	}
	*out = w;
	return 0;
}

static int refuse(const lsm_wal_writer *w)
{
	return lsm_seterr(w->err, "%s: an earlier log write or sync failed (%s); refusing more",
			  w->path, lsm_strerror(w->err));
}

int lsm_wal_add_records(lsm_wal_writer *w, const lsm_slice *recs, int n)
{
	int rc = 0;
	if (w->err)
		return refuse(w);
	if (n < 0 || (n > 0 && !recs))
		return lsm_seterr(-EINVAL, "%s: bad record list", w->path);
	if (n == 0)
		return 0;
	size_t boff = (size_t)(w->size % LSM_WAL_BLOCK);
	size_t total = frame_records(boff, recs, n, NULL);
	w->out.len = 0;
	rc = lsm_buf_reserve(&w->out, total); /* nothing written: not sticky */
	if (rc) {
		rc = lsm_seterr(rc, "%s: out of memory framing %zu log bytes", w->path, total);
		goto out;
	}
	size_t framed = frame_records(boff, recs, n, w->out.data);
	assert(framed == total);
	w->out.len = framed;
	rc = w->env->append(w->env, w->file, w->out.data, w->out.len);
	if (rc) {
		w->err = rc; /* part may be on disk: the log's end is unknown now */
		goto out;
	}
	w->size += total;
out:
	if (w->out.cap > WAL_KEEP_BUF)
		lsm_buf_free(&w->out);
	return rc;
}

int lsm_wal_sync(lsm_wal_writer *w)
{
	if (w->err)
		return refuse(w);
	int rc = w->env->datasync(w->env, w->file);
	if (rc)
		w->err = rc;
	return rc;
}

uint64_t lsm_wal_size(const lsm_wal_writer *w)
{
	return w->size;
}

int lsm_wal_writer_close(lsm_wal_writer *w)
{
	if (!w)
		return 0;
	int rc = w->env->close(w->env, w->file);
	lsm_buf_free(&w->out);
	free(w->path);
	free(w);
	return rc;
}

struct lsm_wal_reader {
	lsm_env *env;
	lsm_file *file;
	char *path;
	int strict;
	uint64_t file_size;
	uint8_t *block;
	uint64_t block_off;
	size_t block_len;
	size_t pos;
	lsm_buf rec;
	uint64_t rec_off;
	int in_record;
	int done;
	int err;
	int torn;	   /* a torn tail was dropped (not strict) */
	int torn_refused;  /* a torn tail was refused as corruption (strict) */
	uint64_t torn_off; /* where the torn tail begins, either way */
	char why[128];
};

enum { FRAG_OK, FRAG_EOF, FRAG_BAD };

typedef struct frag {
	uint8_t type;
	const uint8_t *data;
	size_t len;
	uint64_t off;
	uint64_t next;
} frag;

static int load_block(lsm_wal_reader *r, uint64_t off)
{
	size_t got = 0;
	int rc = r->env->pread(r->env, r->file, r->block, LSM_WAL_BLOCK, off, &got);
	if (rc)
		return rc;
	r->block_off = off;
	r->block_len = got;
	r->pos = 0;
	return 0;
}

static int parse_fragment(lsm_wal_reader *r, const uint8_t *block, size_t blen, size_t pos,
			  uint64_t block_off, frag *f)
{
	assert(pos + LSM_WAL_HEADER <= blen);
	const uint8_t *h = block + pos;
	uint32_t sum = lsm_get_le32(h);
	size_t len = lsm_get_le16(h + 4);
	f->type = h[6];
	f->off = block_off + pos;
	f->data = h + LSM_WAL_HEADER;
	f->len = len;
	f->next = 0;
	if (pos + LSM_WAL_HEADER + len > LSM_WAL_BLOCK) {
		snprintf(r->why, sizeof(r->why), "fragment length %zu runs past its block", len);
		return FRAG_BAD;
	}
	if (pos + LSM_WAL_HEADER + len > blen) {
		snprintf(r->why, sizeof(r->why),
			 "fragment of %zu bytes cut short by the end of the file", len);
		return FRAG_BAD;
	}
	f->next = f->off + LSM_WAL_HEADER + len;
	if (f->type < LSM_WAL_FULL || f->type > LSM_WAL_LAST) {
		snprintf(r->why, sizeof(r->why), "unknown fragment type %u", f->type);
		return FRAG_BAD;
	}
	uint32_t want = frag_checksum(f->type, f->data, len);
	if (sum != want) {
		snprintf(r->why, sizeof(r->why),
			 "fragment checksum mismatch (stored %08x, computed %08x)", sum, want);
		return FRAG_BAD;
	}
	return FRAG_OK;
}

static int next_fragment(lsm_wal_reader *r, frag *f)
{
	for (;;) {
		if (r->pos + LSM_WAL_HEADER <= r->block_len)
			break;
		if (r->block_len == LSM_WAL_BLOCK) {
			int rc = load_block(r, r->block_off + LSM_WAL_BLOCK);
			if (rc)
				return rc;
			continue;
		}
		if (r->pos == r->block_len)
			return FRAG_EOF;
		f->off = r->block_off + r->pos;
		f->next = 0;
		snprintf(r->why, sizeof(r->why), "%zu stray bytes at the end of the file",
			 r->block_len - r->pos);
		return FRAG_BAD;
	}
	int st = parse_fragment(r, r->block, r->block_len, r->pos, r->block_off, f);
	if (st == FRAG_OK)
		r->pos += LSM_WAL_HEADER + f->len;
	return st;
}

static int chain_has_valid(lsm_wal_reader *r, const uint8_t *block, size_t blen, size_t pos,
			   uint64_t block_off, uint64_t *found)
{
	char why[sizeof(r->why)];
	int hit = 0;
	memcpy(why, r->why, sizeof(why));
	while (pos + LSM_WAL_HEADER <= blen) {
		frag f;
		int st = parse_fragment(r, block, blen, pos, block_off, &f);
		if (st == FRAG_OK) {
			*found = f.off;
			hit = 1;
			break;
		}
		if (!f.next)
			break;
		pos = (size_t)(f.next - block_off);
	}
	memcpy(r->why, why, sizeof(why));
	return hit;
}

static int valid_after(lsm_wal_reader *r, uint64_t next, uint64_t *found)
{
	uint64_t off = r->block_off;
	if (next) {
		assert(next >= off && next <= off + r->block_len);
		if (chain_has_valid(r, r->block, r->block_len, (size_t)(next - off), off, found))
			return 1;
	}
	while (r->block_len == LSM_WAL_BLOCK) {
		int rc = load_block(r, off + LSM_WAL_BLOCK);
		if (rc)
			return rc;
		off = r->block_off;
		if (chain_has_valid(r, r->block, r->block_len, 0, off, found))
			return 1;
	}
	return 0;
}

/*
 * Whether the fragments from pos on run to the end of the data loaded in
 * the block, all valid: FULLs, possibly closed by a FIRST that ends at the
 * block's end (its record continues in the next block), or a zero trailer.
 * That is what the records after a damaged one look like; within a block a
 * MIDDLE or LAST can only start at offset 0.
 */
static int chain_to_block_end(lsm_wal_reader *r, size_t pos)
{
	for (;;) {
		frag f;
		if (pos == r->block_len)
			return 1;
		if (pos + LSM_WAL_HEADER > r->block_len) {
			if (r->block_len < LSM_WAL_BLOCK)
				return 0; /* stray bytes at the end of the file */
			for (size_t i = pos; i < r->block_len; i++)
				if (r->block[i])
					return 0;
			return 1;
		}
		if (parse_fragment(r, r->block, r->block_len, pos, r->block_off, &f) != FRAG_OK)
			return 0;
		if (f.type != LSM_WAL_FULL && f.type != LSM_WAL_FIRST)
			return 0;
		pos = (size_t)(f.next - r->block_off);
		if (f.type == LSM_WAL_FIRST)
			return pos == LSM_WAL_BLOCK;
	}
}

/*
 * Looks for valid records after the damaged fragment at off, at every byte
 * of the block that holds it. The chain of headers cannot be trusted there:
 * a damaged length byte sends it anywhere, and in the log's last block
 * there is no later block start to look at, so without this scan the
 * records after the damage would read as a torn tail and be dropped.
 *
 * The trade-off is a false alarm on a real torn tail: if the bytes after the
 * cut-off header happen to hold a valid fragment, open fails instead of
 * ending the log there. By chance that needs a 32-bit checksum (seeded, and
 * covering the type byte) to match at some offset, a type of FULL or FIRST
 * and a length that lands the chain exactly on the end of the data: about
 * 2^-32 per offset tried, far below one in a billion per torn tail. Not by
 * chance, a user value may itself hold a copy of a log (a file copied into
 * lsmfs); the chain must then still end exactly where the tear did, which
 * a cut at an arbitrary byte rarely does. Empty fragments, one constant
 * byte pattern, are never taken as evidence: the engine writes no empty
 * records. Failing open loudly in those rare cases is the safer error than
 * dropping synced records silently.
 */
static int valid_later_in_block(lsm_wal_reader *r, uint64_t off, uint64_t *found)
{
	char why[sizeof(r->why)];
	int hit = 0;
	if (off < r->block_off || off >= r->block_off + r->block_len)
		return 0;
	memcpy(why, r->why, sizeof(why));
	for (size_t p = (size_t)(off - r->block_off) + 1; p + LSM_WAL_HEADER < r->block_len; p++) {
		frag f;
		if (parse_fragment(r, r->block, r->block_len, p, r->block_off, &f) != FRAG_OK ||
		    !f.len || (f.type != LSM_WAL_FULL && f.type != LSM_WAL_FIRST))
			continue;
		if (chain_to_block_end(r, p)) {
			*found = f.off;
			hit = 1;
			break;
		}
	}
	memcpy(r->why, why, sizeof(why));
	return hit;
}

static int damaged(lsm_wal_reader *r, uint64_t off, uint64_t next)
{
	uint64_t found = 0;
	/* Before valid_after, which loads later blocks over the damaged one. */
	int rc = valid_later_in_block(r, off, &found);
	if (!rc)
		rc = valid_after(r, next, &found);
	if (rc < 0) {
		r->err = rc;
		return rc;
	}
	if (rc == 1) {
		r->err = LSM_CORRUPT(r->path, off, "%s; valid log data follows at offset %llu",
				     r->why, (unsigned long long)found);
		return r->err;
	}
	r->torn_off = r->in_record ? r->rec_off : off;
	if (r->strict) {
		r->torn_refused = 1;
		r->err = LSM_CORRUPT(r->path, off, "%s: torn tail (strict checking)", r->why);
		return r->err;
	}
	r->done = 1;
	r->torn = 1;
	r->in_record = 0;
	return 0;
}

int lsm_wal_reader_open(lsm_env *env, const char *path, int strict, lsm_wal_reader **out)
{
	int rc;
	lsm_wal_reader *r = calloc(1, sizeof(*r));
	if (!r || !(r->path = strdup(path)) || !(r->block = malloc(LSM_WAL_BLOCK))) {
		rc = lsm_seterr(-ENOMEM, "%s: out of memory opening the log", path);
		goto out;
	}
	r->env = env;
	r->strict = strict;
	lsm_buf_init(&r->rec);
	rc = env->open_file(env, path, LSM_O_READ, &r->file);
	if (rc)
		goto out;
	rc = env->file_size(env, r->file, &r->file_size);
	if (rc)
		goto out;
	rc = load_block(r, 0);
out:
	if (rc) {
		lsm_wal_reader_close(r);
		return rc;
	}
	*out = r;
	return 0;
}

static int misplaced(lsm_wal_reader *r, const frag *f)
{
	static const char *const names[] = {"", "FULL", "FIRST", "MIDDLE", "LAST"};
	if (r->in_record) {
		snprintf(r->why, sizeof(r->why),
			 "record has no LAST fragment (a %s fragment follows at offset %llu)",
			 names[f->type], (unsigned long long)f->off);
		return damaged(r, r->rec_off, f->off);
	}
	snprintf(r->why, sizeof(r->why), "%s fragment without a FIRST", names[f->type]);
	return damaged(r, f->off, f->next);
}

int lsm_wal_read(lsm_wal_reader *r, lsm_slice *rec, uint64_t *offset)
{
	if (r->err)
		return r->err;
	if (r->done)
		return 0;
	for (;;) {
		frag f;
		int st = next_fragment(r, &f);
		if (st < 0) {
			r->err = st;
			return st;
		}
		if (st == FRAG_EOF) {
			if (!r->in_record) {
				r->done = 1;
				return 0;
			}
			snprintf(r->why, sizeof(r->why), "the file ends inside a record");
			return damaged(r, r->rec_off, 0);
		}
		if (st == FRAG_BAD)
			return damaged(r, f.off, f.next);
		switch (f.type) {
		case LSM_WAL_FULL:
			if (r->in_record)
				return misplaced(r, &f);
			*rec = lsm_slice_of(f.data, f.len);
			if (offset)
				*offset = f.off;
			return 1;
		case LSM_WAL_FIRST:
			if (r->in_record)
				return misplaced(r, &f);
			r->in_record = 1;
			r->rec_off = f.off;
			if (r->rec.cap > WAL_KEEP_BUF)
				lsm_buf_free(&r->rec);
			r->rec.len = 0;
			break;
		default:
			if (!r->in_record)
				return misplaced(r, &f);
			break;
		}
		int rc = lsm_buf_append(&r->rec, f.data, f.len);
		if (rc) {
			r->err = lsm_seterr(rc,
					    "%s: out of memory reading the record at offset %llu",
					    r->path, (unsigned long long)r->rec_off);
			return r->err;
		}
		if (f.type == LSM_WAL_LAST) {
			r->in_record = 0;
			*rec = lsm_slice_of(r->rec.data, r->rec.len);
			if (offset)
				*offset = r->rec_off;
			return 1;
		}
	}
}

int lsm_wal_reader_torn_tail(const lsm_wal_reader *r, uint64_t *offset, uint64_t *bytes)
{
	if (!r->torn)
		return 0;
	if (offset)
		*offset = r->torn_off;
	if (bytes)
		*bytes = r->file_size > r->torn_off ? r->file_size - r->torn_off : 0;
	return 1;
}

int lsm_wal_reader_refused_torn_tail(const lsm_wal_reader *r, uint64_t *offset)
{
	if (!r->torn_refused)
		return 0;
	if (offset)
		*offset = r->torn_off;
	return 1;
}

void lsm_wal_reader_close(lsm_wal_reader *r)
{
	if (!r)
		return;
	if (r->file)
		r->env->close(r->env, r->file);
	lsm_buf_free(&r->rec);
	free(r->block);
	free(r->path);
	free(r);
}
