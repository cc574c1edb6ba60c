/*
 * chunk.c — the content-addressed chunk store: F keys name a chunk by its
 * SHA-256, C keys hold each distinct chunk once, R keys count the F keys
 * naming it. Reference changes are only gathered here (op_ref); op_commit
 * applies them under the chunk stripes.
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

int chunk_ref_get(lsmfs *fs, uint64_t ino, uint64_t idx, struct fref *ref)
{
	struct fkey k;
	void *v = NULL;
	size_t vlen;
	int rc;

	key_fchunk(&k, ino, idx);
	ref->len = 0;
	rc = fs_get(fs, &k, &v, &vlen, ino);
	if (rc == LSM_NOTFOUND) {
		rc = 0;
		goto out;
	}
	if (rc)
		goto out;
	if (fref_decode(ref, v, vlen) || ref->len > fs->cs) {
		fs_log("inode %" PRIu64 ": chunk %" PRIu64
		       ": malformed chunk reference (%zu bytes)",
		       ino, idx, vlen);
		ref->len = 0;
		rc = -EIO;
	}
out:
	free(v);
	return rc;
}

int chunk_read(lsmfs *fs, uint64_t ino, uint64_t idx, uint8_t *buf, struct fref *ref)
{
	struct fkey k;
	void *v = NULL;
	size_t vlen = 0;
	int rc;

	rc = chunk_ref_get(fs, ino, idx, ref);
	if (rc)
		goto out;
	if (ref->len == 0) {
		memset(buf, 0, fs->cs);
		goto out;
	}
	key_sha(&k, KEY_CHUNK, ref->sha);
	rc = fs_get(fs, &k, &v, &vlen, ino);
	if (rc == LSM_NOTFOUND) {
		fs_log("inode %" PRIu64 ": chunk %" PRIu64 ": chunk data missing", ino, idx);
		rc = -EIO;
		goto out;
	}
	if (rc)
		goto out;
	if (vlen != ref->len) {
		fs_log("inode %" PRIu64 ": chunk %" PRIu64 ": %zu bytes stored, %" PRIu32
		       " expected",
		       ino, idx, vlen, ref->len);
		rc = -EIO;
		goto out;
	}
	if (fs->verify_chunks) {
		uint8_t sha[SHA_LEN];

		chunk_sha(v, vlen, sha);
		if (memcmp(sha, ref->sha, SHA_LEN) != 0) {
			fs_log("inode %" PRIu64 ": chunk %" PRIu64 ": SHA-256 mismatch", ino, idx);
			rc = -EIO;
			goto out;
		}
	}
	memcpy(buf, v, vlen);
	memset(buf + vlen, 0, fs->cs - vlen);
out:
	free(v);
	return rc;
}

/* Sets F (ino, idx) to ref (len 0: delete it) and accounts the references. */
static int fref_replace(struct fs_op *op, uint64_t ino, uint64_t idx, const struct fref *old,
			const struct fref *ref, const uint8_t *data, int *dchunks)
{
	struct fkey k;
	int rc = 0;

	*dchunks = 0;
	if (old->len == ref->len && (ref->len == 0 || memcmp(old->sha, ref->sha, SHA_LEN) == 0))
		goto out; /* same bytes: nothing changes */
	key_fchunk(&k, ino, idx);
	if (ref->len) {
		uint8_t v[FREF_LEN];

		fref_encode(v, ref);
		rc = op_put(op, &k, v, sizeof(v));
		if (!rc)
			rc = op_ref(op, ref->sha, 1, data, ref->len);
	} else {
		rc = op_del(op, &k);
	}
	if (rc)
		goto out;
	if (old->len)
		rc = op_ref(op, old->sha, -1, NULL, 0);
	*dchunks = (ref->len != 0) - (old->len != 0);
out:
	return rc;
}

int chunk_store(struct fs_op *op, uint64_t ino, uint64_t idx, const struct fref *old,
		const uint8_t *buf, size_t len, int *dchunks)
{
	struct fref ref;

	/* Trailing zeros are never stored: they read back as zeros anyway. */
	while (len && buf[len - 1] == 0)
		len--;
	ref.len = (uint32_t)len;
	if (len)
		chunk_sha(buf, len, ref.sha);
	return fref_replace(op, ino, idx, old, &ref, buf, dchunks);
}

int chunk_share(struct fs_op *op, uint64_t ino, uint64_t idx, const struct fref *old,
		const struct fref *ref, int *dchunks)
{
	return fref_replace(op, ino, idx, old, ref, NULL, dchunks);
}
