/*
 * chunk.c — the content-addressed chunk store: F keys name a chunk by its
 * SHA-256, C keys hold each distinct chunk once, R keys count the F keys
 * naming it. Reference changes are only gathered here (op_ref); op_commit
 * applies them under the chunk stripes.
 *
 * A small write into a chunk is a patch (keys.h draws them): chunk_patch
 * adds one, chunk_read applies them, and every function here that replaces
 * a chunk's content deletes them. A chunk of at most fs->inline_max bytes
 * is inline: its bytes are in its reference, with no C or R key.
 *
 * On top of single chunks, the ranges of one file's chunks: scanning its F
 * keys, dropping a range, zeroing part of a chunk, truncating. They live
 * here, below data.c and inode.c, because both the data operations
 * (punch hole, SEEK_DATA) and setattr and open(O_TRUNC) need them.
 */
#include "fs_impl.h"

#include <errno.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <stdlib.h>

static pthread_once_t sha_once = PTHREAD_ONCE_INIT;
static EVP_MD *sha_md; /* written once under sha_once, then read-only */

static void sha_init(void)
{
	/* Fetching once saves OpenSSL 3 an implicit fetch on every digest. */
	sha_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

void chunk_sha(const void *data, size_t len, uint8_t sha[SHA_LEN])
{
	unsigned int n = SHA_LEN;

	pthread_once(&sha_once, sha_init);
	if (!EVP_Digest(data, len, sha, &n, sha_md ? sha_md : EVP_sha256(), NULL)) {
		/* Only out of memory gets here; a zero digest would alias every failure. */
		fs_log("SHA-256 failed");
		abort();
	}
}

_Static_assert(INLINE_MAX == LSMFS_INLINE_MAX, "keys.h and lsmfs.h agree");

/* Checks an inline chunk's bytes against the digest its reference carries. */
static int inline_check(lsmfs *fs, uint64_t ino, uint64_t idx, const struct fref *ref,
			const uint8_t *bytes)
{
	uint8_t sha[SHA_LEN];

	if (!fs->verify_chunks)
		return 0;
	chunk_sha(bytes, ref->len, sha);
	if (memcmp(sha, ref->sha, SHA_LEN) == 0)
		return 0;
	fs_log("inode %" PRIu64 ": chunk %" PRIu64 ": SHA-256 mismatch (inline)", ino, idx);
	return -EIO;
}

/*
 * Reads and decodes F (ino, idx) as snap saw it (a hole: len 0). An inline
 * chunk's bytes go to inl (INLINE_MAX bytes; NULL: not wanted), checked.
 */
static int ref_get_at(lsmfs *fs, const lsm_snapshot *snap, uint64_t ino, uint64_t idx,
		      struct fref *ref, uint8_t *inl)
{
	lsm_read_options ro = {.snapshot = snap, .fill_cache = 1};
	uint8_t v[FREF_MAX_LEN]; /* every read asks: no malloc'd copy */
	struct fkey k;
	size_t vlen = 0;
	int rc;

	key_fchunk(&k, ino, idx);
	ref->len = 0;
	ref->npatch = 0;
	ref->nsum = 0;
	ref->inl = 0;
	rc = lsm_get_into(fs->db, &ro, k.b, k.len, v, sizeof(v), &vlen);
	if (rc == LSM_NOTFOUND)
		return 0;
	if (rc && rc != -ERANGE)
		return fs_err(fs, rc, "read", ino);
	if (rc || fref_decode(ref, v, vlen) || fref_end(ref) > fs->cs) {
		fs_log("inode %" PRIu64 ": chunk %" PRIu64
		       ": malformed chunk reference (%zu bytes)",
		       ino, idx, vlen);
		ref->len = 0;
		ref->npatch = 0;
		ref->nsum = 0;
		ref->inl = 0;
		return -EIO;
	}
	if (ref->inl && inl) {
		memcpy(inl, v + FREF_LEN, ref->len);
		return inline_check(fs, ino, idx, ref, inl);
	}
	return 0;
}

/* Reads the bytes of patch n of chunk idx (as listed in ref) to dst. */
static int patch_read(lsmfs *fs, const lsm_snapshot *snap, uint64_t ino, uint64_t idx,
		      const struct fref *ref, uint32_t n, uint8_t *dst)
{
	/* Not SHA-256 but the engine's own checksum checks patch bytes. */
	lsm_read_options ro = {.snapshot = snap, .fill_cache = 1};
	const struct fpatch *p = &ref->patch[n];
	struct fkey k;
	size_t vlen = 0;
	int rc;

	key_patch(&k, ino, idx, n);
	rc = lsm_get_into(fs->db, &ro, k.b, k.len, dst, p->len, &vlen);
	if (rc == LSM_NOTFOUND) {
		fs_log("inode %" PRIu64 ": chunk %" PRIu64 ": patch %" PRIu32 " missing", ino, idx,
		       n);
		return -EIO;
	}
	if (rc == -ERANGE || (rc == 0 && vlen != p->len)) {
		fs_log("inode %" PRIu64 ": chunk %" PRIu64 ": patch %" PRIu32
		       " holds %zu bytes, %" PRIu32 " expected",
		       ino, idx, n, vlen, p->len);
		return -EIO;
	}
	return rc ? fs_err(fs, rc, "read", ino) : 0;
}

int chunk_ref_get(lsmfs *fs, uint64_t ino, uint64_t idx, struct fref *ref)
{
	return ref_get_at(fs, NULL, ino, idx, ref, NULL);
}

int chunk_ref_get_inline(lsmfs *fs, uint64_t ino, uint64_t idx, struct fref *ref, uint8_t *inl)
{
	return ref_get_at(fs, NULL, ino, idx, ref, inl);
}

int chunk_read(lsmfs *fs, uint64_t ino, uint64_t idx, uint8_t *buf, struct fref *ref)
{
	return chunk_read_at(fs, NULL, ino, idx, buf, ref);
}

/*
 * Checks bytes [from, end) of ref's base chunk, held in buf (from on a
 * block boundary, end on one or at len), against its block checksums:
 * 0, or -EIO naming the first block that fails.
 */
static int check_blocks(lsmfs *fs, uint64_t ino, uint64_t idx, const struct fref *ref,
			const uint8_t *buf, uint32_t from, uint32_t end)
{
	uint32_t unit = fref_sum_unit(fs->cs);

	for (uint32_t b = from / unit; b * unit < end; b++) {
		uint32_t at = b * unit, n = end - at < unit ? end - at : unit;

		if (block_sum(buf + (at - from), n) != ref->sum[b]) {
			fs_log("inode %" PRIu64 ": chunk %" PRIu64 ": block %" PRIu32
			       " fails its checksum",
			       ino, idx, b);
			return -EIO;
		}
	}
	return 0;
}

int chunk_read_at(lsmfs *fs, const lsm_snapshot *snap, uint64_t ino, uint64_t idx, uint8_t *buf,
		  struct fref *ref)
{
	/* buf holds a chunk, and an inline chunk fits: one get reads it. */
	int rc = ref_get_at(fs, snap, ino, idx, ref, buf);

	if (rc || ref->inl) {
		if (!rc)
			memset(buf + ref->len, 0, fs->cs - ref->len);
		return rc;
	}
	return chunk_read_ref(fs, snap, ino, idx, buf, ref);
}

int chunk_read_ref(lsmfs *fs, const lsm_snapshot *snap, uint64_t ino, uint64_t idx, uint8_t *buf,
		   const struct fref *ref)
{
	/* With verify on, the SHA-256 below checks the bytes, as the engine's checksum would. */
	lsm_read_options ro = {
		.snapshot = snap, .fill_cache = 1, .caller_checks_values = fs->verify_chunks};
	struct fkey k;
	size_t vlen = 0;
	int rc;

	if (ref->len == 0) {
		memset(buf, 0, fs->cs);
		goto patches;
	}
	if (ref->inl) {
		/* The caller read the reference without its bytes: read them again. */
		struct fref again;

		rc = ref_get_at(fs, snap, ino, idx, &again, buf);
		if (!rc && (!again.inl || again.len != ref->len ||
			    memcmp(again.sha, ref->sha, SHA_LEN) != 0)) {
			fs_log("inode %" PRIu64 ": chunk %" PRIu64
			       ": reference changed under a read",
			       ino, idx);
			rc = -EIO;
		}
		if (!rc)
			memset(buf + ref->len, 0, fs->cs - ref->len);
		return rc;
	}
	/* Straight into buf: a chunk in a value file is read with no copy. */
	key_sha(&k, KEY_CHUNK, ref->sha);
	rc = lsm_get_into(fs->db, &ro, k.b, k.len, buf, fs->cs, &vlen);
	if (rc == LSM_NOTFOUND) {
		fs_log("inode %" PRIu64 ": chunk %" PRIu64 ": chunk data missing", ino, idx);
		return -EIO;
	}
	if (rc == -ERANGE) {
		fs_log("inode %" PRIu64 ": chunk %" PRIu64 ": %zu bytes stored, more than a chunk",
		       ino, idx, vlen);
		return -EIO;
	}
	if (rc)
		return fs_err(fs, rc, "read", ino);
	if (vlen != ref->len) {
		fs_log("inode %" PRIu64 ": chunk %" PRIu64 ": %zu bytes stored, %" PRIu32
		       " expected",
		       ino, idx, vlen, ref->len);
		return -EIO;
	}
	if (fs->verify_chunks == LSMFS_VERIFY_ON && fref_sum_unit(fs->cs) &&
	    ref->nsum == fref_nsum(fs->cs, ref->len)) {
		/* The block checksums catch what the SHA-256 would, at a tenth of its cost. */
		if (check_blocks(fs, ino, idx, ref, buf, 0, ref->len))
			return -EIO;
	} else if (fs->verify_chunks) {
		uint8_t sha[SHA_LEN];

		chunk_sha(buf, vlen, sha);
		if (memcmp(sha, ref->sha, SHA_LEN) != 0) {
			fs_log("inode %" PRIu64 ": chunk %" PRIu64 ": SHA-256 mismatch", ino, idx);
			return -EIO;
		}
	}
	memset(buf + vlen, 0, fs->cs - vlen);
patches:
	/* In order: a later patch wins where two overlap. */
	for (uint32_t n = 0; n < ref->npatch; n++) {
		rc = patch_read(fs, snap, ino, idx, ref, n, buf + ref->patch[n].off);
		if (rc)
			return rc;
	}
	return 0;
}

/*
 * Bytes [s, s + take) of ref's base chunk into dst, reading and checking
 * only the blocks they lie in (ref has its block checksums); zeros past len.
 */
static int base_part(lsmfs *fs, const lsm_snapshot *snap, uint64_t ino, uint64_t idx,
		     const struct fref *ref, uint32_t s, uint32_t take, uint8_t *dst)
{
	lsm_read_options ro = {.snapshot = snap, .fill_cache = 1};
	uint32_t unit = fref_sum_unit(fs->cs), stop = s + take < ref->len ? s + take : ref->len;
	uint32_t from = s / unit * unit, end;
	size_t got = 0, vlen = 0;
	uint8_t *buf = NULL;
	struct fkey k;
	int rc;

	if (s >= ref->len) {
		memset(dst, 0, take);
		return 0;
	}
	end = (stop + unit - 1) / unit * unit;
	if (end > ref->len)
		end = ref->len;
	/* Whole blocks asked for (a page-aligned read): straight into dst. */
	buf = from == s && end - from <= take ? dst : malloc(end - from);
	if (!buf)
		return -ENOMEM;
	key_sha(&k, KEY_CHUNK, ref->sha);
	rc = lsm_get_part(fs->db, &ro, k.b, k.len, from, buf, end - from, &got, &vlen);
	if (rc == LSM_NOTFOUND) {
		fs_log("inode %" PRIu64 ": chunk %" PRIu64 ": chunk data missing", ino, idx);
		rc = -EIO;
	} else if (rc) {
		rc = fs_err(fs, rc, "read", ino);
	} else if (vlen != ref->len || got != end - from) {
		fs_log("inode %" PRIu64 ": chunk %" PRIu64 ": %zu bytes stored, %" PRIu32
		       " expected",
		       ino, idx, vlen, ref->len);
		rc = -EIO;
	}
	if (!rc && fs->verify_chunks && check_blocks(fs, ino, idx, ref, buf, from, end))
		rc = -EIO;
	if (!rc) {
		if (buf != dst)
			memcpy(dst, buf + (s - from), stop - s);
		memset(dst + (stop - s), 0, take - (stop - s));
	}
	if (buf != dst)
		free(buf);
	return rc;
}

/* Copies the part of patch n of ref that falls in [s, s + take) of the chunk to dst. */
static int patch_part(lsmfs *fs, const lsm_snapshot *snap, uint64_t ino, uint64_t idx,
		      const struct fref *ref, uint32_t n, uint32_t s, uint32_t take, uint8_t *dst)
{
	const struct fpatch *p = &ref->patch[n];
	uint32_t lo = p->off > s ? p->off : s;
	uint32_t hi = p->off + p->len < s + take ? p->off + p->len : s + take;
	uint8_t *tmp;
	int rc;

	if (lo >= hi)
		return 0; /* not in the range: not read at all */
	/* Read whole, so that the engine checks it. */
	tmp = malloc(p->len);
	if (!tmp)
		return -ENOMEM;
	rc = patch_read(fs, snap, ino, idx, ref, n, tmp);
	if (!rc)
		memcpy(dst + (lo - s), tmp + (lo - p->off), hi - lo);
	free(tmp);
	return rc;
}

/*
 * Whether ref's patches together cover [s, s + take) of the chunk: then
 * the base chunk's bytes there are all overwritten and need no read. A
 * random read of a block written randomly before is the common case.
 */
static int patches_cover(const struct fref *ref, uint32_t s, uint32_t take)
{
	uint32_t pos = s, end = s + take;

	/* At most PATCH_MAX passes of PATCH_MAX patches: each pass moves pos or stops. */
	for (int moved = 1; pos < end && moved;) {
		moved = 0;
		for (uint32_t n = 0; n < ref->npatch; n++) {
			const struct fpatch *p = &ref->patch[n];

			if (p->off <= pos && pos < p->off + p->len) {
				pos = p->off + p->len;
				moved = 1;
			}
		}
	}
	return pos >= end;
}

int chunk_read_part_at(lsmfs *fs, const lsm_snapshot *snap, uint64_t ino, uint64_t idx, uint32_t s,
		       uint32_t take, uint8_t *dst)
{
	struct fref ref;
	uint8_t *tmp, inl[INLINE_MAX];
	int no_base, rc = ref_get_at(fs, snap, ino, idx, &ref, inl);

	if (rc)
		return rc;
	if (ref.inl) {
		uint32_t have = s < ref.len ? (ref.len - s < take ? ref.len - s : take) : 0;

		if (have)
			memcpy(dst, inl + s, have);
		memset(dst + have, 0, take - have);
		return 0;
	}
	/* No base (a hole), or none of its bytes show through the patches: zeros under them. */
	no_base = ref.len == 0 || patches_cover(&ref, s, take);
	if (no_base || (fref_sum_unit(fs->cs) && ref.nsum == fref_nsum(fs->cs, ref.len))) {
		if (no_base)
			memset(dst, 0, take);
		else
			rc = base_part(fs, snap, ino, idx, &ref, s, take, dst);
		for (uint32_t n = 0; n < ref.npatch && !rc; n++)
			rc = patch_part(fs, snap, ino, idx, &ref, n, s, take, dst);
		return rc;
	}
	/* No block checksums (an older reference, small chunks): the whole chunk. */
	tmp = malloc(fs->cs);
	if (!tmp)
		return -ENOMEM;
	rc = chunk_read_ref(fs, snap, ino, idx, tmp, &ref);
	if (!rc)
		memcpy(dst, tmp + s, take);
	free(tmp);
	return rc;
}

void attr_chunks_add(struct lsmfs_attr *a, uint64_t n, uint64_t bytes)
{
	a->chunks += n;
	if (!a->stored_old)
		a->stored += bytes;
}

void attr_chunks_sub(struct lsmfs_attr *a, uint64_t n, uint64_t bytes)
{
	/* A count already wrong (fsck's to fix) stops at 0 rather than wrapping. */
	a->chunks = a->chunks > n ? a->chunks - n : 0;
	if (!a->stored_old)
		a->stored = a->stored > bytes ? a->stored - bytes : 0;
	if (a->chunks == 0) {
		/* A file without chunks holds nothing: exact, also for an older build's inode. */
		a->stored = 0;
		a->stored_old = 0;
	}
}

/* Deletes the P keys of the patches ref lists. */
static int patches_del(struct fs_op *op, uint64_t ino, uint64_t idx, const struct fref *ref)
{
	struct fkey k;
	int rc = 0;

	for (uint32_t n = 0; n < ref->npatch && !rc; n++) {
		key_patch(&k, ino, idx, n);
		rc = op_del(op, &k);
	}
	return rc;
}

/* Moves a's chunk count and stored bytes from old (none: a hole) to ref. */
static void account(struct lsmfs_attr *a, const struct fref *old, const struct fref *ref)
{
	/* Out first: replacing an older build's only chunk makes its figure exact. */
	if (fref_exists(old))
		attr_chunks_sub(a, 1, fref_stored(old));
	if (fref_exists(ref))
		attr_chunks_add(a, 1, fref_stored(ref));
}

/* Puts F (ino, idx) = ref; data: an inline chunk's bytes (else unused). */
static int fref_put(struct fs_op *op, uint64_t ino, uint64_t idx, const struct fref *ref,
		    const uint8_t *data)
{
	uint8_t v[FREF_MAX_LEN];
	struct fkey k;

	key_fchunk(&k, ino, idx);
	return op_put(op, &k, v, fref_encode(v, ref, data));
}

/*
 * Sets F (ino, idx) to ref, a whole chunk without patches (len 0: delete
 * it), drops old's patches, accounts the references, and moves a's chunk
 * count and stored bytes with it. With its bytes (data) at hand, a chunk
 * of at most fs->inline_max bytes goes inline; without (a shared chunk) it
 * keeps the form ref has.
 */
static int fref_replace(struct fs_op *op, uint64_t ino, struct lsmfs_attr *a, uint64_t idx,
			const struct fref *old, const struct fref *ref, const uint8_t *data)
{
	struct fref nr = *ref;
	struct fkey k;
	int rc = 0;

	if (old->npatch == 0 && old->len == ref->len &&
	    (ref->len == 0 || memcmp(old->sha, ref->sha, SHA_LEN) == 0))
		goto out; /* same bytes: nothing changes */
	if (data)
		nr.inl = ref->len && ref->len <= op->fs->inline_max;
	else if (nr.inl)
		return -EINVAL; /* an inline chunk is copied, never shared */
	if (nr.inl)
		nr.nsum = 0; /* one get reads the whole chunk: no blocks to check */
	if (nr.len) {
		rc = fref_put(op, ino, idx, &nr, data);
		if (!rc && !nr.inl)
			rc = op_ref(op, nr.sha, 1, data, nr.len);
	} else {
		key_fchunk(&k, ino, idx);
		rc = op_del(op, &k);
	}
	if (!rc)
		rc = patches_del(op, ino, idx, old);
	if (!rc && old->len && !old->inl)
		rc = op_ref(op, old->sha, -1, NULL, 0);
	if (!rc)
		account(a, old, &nr);
out:
	return rc;
}

static int all_zero(const uint8_t *p, uint32_t n)
{
	return n == 0 || (p[0] == 0 && memcmp(p, p + 1, n - 1) == 0);
}

int chunk_patch_pays(lsmfs *fs, const struct fref *old, uint32_t off, const uint8_t *bytes,
		     uint32_t len)
{
	uint32_t end = fref_end(old);

	if (end < off + len)
		end = off + len;
	/* Rewriting a few KiB into an inline chunk costs less than a patch read beside them. */
	if (old->inl || end <= fs->inline_max)
		return 0;
	/* A rewrite stores the chunk up to end: worth it while that is under twice len. */
	if (old->npatch >= PATCH_MAX || fref_patch_bytes(old) + len > fs->cs ||
	    2 * (uint64_t)len > end)
		return 0;
	/* Zeros over the chunk's end: a rewrite trims them, storing less than now. */
	return !(off + len >= fref_end(old) && all_zero(bytes, len));
}

int chunk_patch(struct fs_op *op, uint64_t ino, struct lsmfs_attr *a, uint64_t idx,
		const struct fref *old, uint32_t off, const uint8_t *bytes, uint32_t len)
{
	struct fref ref = *old;
	struct fkey k;
	int rc;

	if (!fref_exists(old))
		memset(ref.sha, 0, SHA_LEN); /* no base: the digest field is unused */
	ref.patch[ref.npatch].off = off;
	ref.patch[ref.npatch].len = len;
	key_patch(&k, ino, idx, ref.npatch);
	ref.npatch++;
	rc = op_put(op, &k, bytes, len);
	if (!rc)
		rc = fref_put(op, ino, idx, &ref, NULL);
	if (!rc)
		account(a, old, &ref);
	return rc;
}

/* The length of buf[0..len) without its trailing zero bytes, a word at a time. */
static size_t trim_zeros(const uint8_t *buf, size_t len)
{
	while (len % 8 && buf[len - 1] == 0)
		len--;
	while (len % 8 == 0 && len >= 8) {
		uint64_t w;

		memcpy(&w, buf + len - 8, sizeof(w));
		if (w)
			break;
		len -= 8;
	}
	while (len && buf[len - 1] == 0)
		len--;
	return len;
}

void chunk_hash(const uint8_t *buf, size_t len, struct fref *ref)
{
	chunk_hash_upto(buf, len, len, ref);
}

void chunk_hash_upto(const uint8_t *buf, size_t cs, size_t end, struct fref *ref)
{
	/* Trailing zeros are never stored: they read back as zeros anyway. */
	size_t len = trim_zeros(buf, end < cs ? end : cs);

	ref->len = (uint32_t)len;
	ref->npatch = 0;
	ref->inl = 0; /* chunk_store decides */
	if (len)
		chunk_sha(buf, len, ref->sha);
	fref_set_sums(ref, buf, (uint32_t)cs);
}

int chunk_store_hashed(struct fs_op *op, uint64_t ino, struct lsmfs_attr *a, uint64_t idx,
		       const struct fref *old, const uint8_t *buf, const struct fref *ref)
{
	return fref_replace(op, ino, a, idx, old, ref, buf);
}

int chunk_store(struct fs_op *op, uint64_t ino, struct lsmfs_attr *a, uint64_t idx,
		const struct fref *old, const uint8_t *buf, size_t len)
{
	return chunk_store_upto(op, ino, a, idx, old, buf, len, len);
}

int chunk_store_upto(struct fs_op *op, uint64_t ino, struct lsmfs_attr *a, uint64_t idx,
		     const struct fref *old, const uint8_t *buf, size_t len, size_t end)
{
	struct fref ref;

	chunk_hash_upto(buf, len, end, &ref);
	return fref_replace(op, ino, a, idx, old, &ref, buf);
}

int chunk_share(struct fs_op *op, uint64_t ino, struct lsmfs_attr *a, uint64_t idx,
		const struct fref *old, const struct fref *ref)
{
	return fref_replace(op, ino, a, idx, old, ref, NULL);
}

/* ---- ranges of a file's chunks ---- */

int chunk_scan(lsmfs *fs, uint64_t ino, uint64_t from, fref_fn fn, void *arg)
{
	struct fkey pfx, start;
	lsm_iter *it = lsm_iter_new(fs->db, NULL);
	int rc = 0;

	if (!it)
		return -ENOMEM;
	key_ino(&pfx, KEY_FCHUNK, ino);
	key_fchunk(&start, ino, from);
	for (lsm_iter_seek(it, start.b, start.len); lsm_iter_valid(it); lsm_iter_next(it)) {
		size_t klen, vlen;
		const uint8_t *key = lsm_iter_key(it, &klen);
		const void *val = lsm_iter_value(it, &vlen);
		struct fref ref;

		if (klen < pfx.len || memcmp(key, pfx.b, pfx.len) != 0)
			break;
		if (klen != 17 || fref_decode(&ref, val, vlen) || fref_end(&ref) > fs->cs) {
			fs_log("inode %" PRIu64 ": malformed chunk reference", ino);
			rc = -EIO;
			break;
		}
		rc = fn(arg, get_be64(key + 9), &ref);
		if (rc)
			break;
	}
	if (!rc)
		rc = fs_err(fs, lsm_iter_status(it), "scan", ino);
	lsm_iter_free(it);
	return rc;
}

struct drop_ctx {
	struct fs_op *op;
	uint64_t ino, limit; /* drop indexes < limit (UINT64_MAX: all) */
	struct lsmfs_attr *a;
};

static int drop_one(void *arg, uint64_t idx, const struct fref *ref)
{
	struct drop_ctx *d = arg;

	if (idx >= d->limit)
		return 1;
	return chunk_store(d->op, d->ino, d->a, idx, ref, NULL, 0);
}

int chunk_drop_range(struct fs_op *op, uint64_t ino, struct lsmfs_attr *a, uint64_t from,
		     uint64_t limit)
{
	struct drop_ctx d = {.op = op, .ino = ino, .limit = limit, .a = a};
	int rc;

	if (a->chunks == 0 || from >= limit)
		return 0;
	rc = chunk_scan(op->fs, ino, from, drop_one, &d);
	return rc == 1 ? 0 : rc;
}

int chunk_zero_range(struct fs_op *op, uint64_t ino, struct lsmfs_attr *a, uint64_t idx, uint32_t s,
		     uint32_t e)
{
	lsmfs *fs = op->fs;
	struct fref old;
	uint8_t *buf = op_alloc(op, fs->cs); /* op's: the new chunk's bytes until commit */
	int rc;

	if (!buf)
		return -ENOMEM;
	rc = chunk_read(fs, ino, idx, buf, &old);
	if (rc || fref_end(&old) <= s)
		return rc; /* a hole, or nothing stored at or past s: already zeros */
	memset(buf + s, 0, e - s);
	return chunk_store_upto(op, ino, a, idx, &old, buf, fs->cs, fref_end(&old));
}

int chunk_truncate(struct fs_op *op, uint64_t ino, struct lsmfs_attr *a, uint64_t size)
{
	uint64_t cs = op->fs->cs;
	int rc = 0;

	if (size > (uint64_t)LSMFS_MAX_FILESIZE)
		return -EFBIG;
	if (size < a->size) {
		/* Chunks wholly past the end go; the last partial one loses its tail. */
		rc = chunk_drop_range(op, ino, a, (size + cs - 1) / cs, UINT64_MAX);
		if (!rc && size % cs)
			rc = chunk_zero_range(op, ino, a, size / cs, (uint32_t)(size % cs),
					      (uint32_t)cs);
		if (rc)
			return rc;
	}
	if (size != a->size)
		a->mtime = a->ctime = lsmfs_now();
	a->size = size;
	return 0;
}
