/*
 * compress.c — per-block compression with liblz4 and libzstd.
 *
 * A compressed payload carries the uncompressed length in front, so the
 * reader allocates once and can check that the codec produced exactly that
 * many bytes:
 *
 *   [varint raw_len][codec bytes]
 *
 *   LSM_COMPRESS_LZ4:  codec bytes = one LZ4 raw block (LZ4_compress_default)
 *   LSM_COMPRESS_ZSTD: codec bytes = one zstd frame, level 1
 *
 * The payload is never trusted blindly even though the block checksum has
 * already been verified: raw_len is bounded, and both decoders are the
 * "safe" variants that never write past the output or read past the input.
 *
 * zstd contexts are costly to set up (tens of KiB of tables), so each thread
 * keeps one compression and one decompression context for its lifetime; a
 * pthread key frees them when the thread exits.
 */
#include "compress.h"

#include "coding.h"
#include "error.h"
#include "lsm.h"

#include <lz4.h>
#include <pthread.h>
#include <stdlib.h>
#include <zstd.h>

/* Level 1: the fastest standard level; measured blocks compress within a few % of level 3. */
#define ZSTD_LEVEL 1

/*
 * No block can legally exceed one maximal key plus one maximal value plus
 * entry overhead; anything claiming more is damaged.
 */
#define MAX_RAW_LEN ((uint64_t)LSM_MAX_VALUE + LSM_MAX_KEY + 4096)

struct zctx {
	ZSTD_CCtx *c;
	ZSTD_DCtx *d;
};

/* Per thread; the key's destructor frees it at thread exit. */
static __thread struct zctx *tls_zctx;
static pthread_key_t zctx_key;
static pthread_once_t zctx_once = PTHREAD_ONCE_INIT;
static int zctx_key_ok;

static void zctx_free(void *p)
{
	struct zctx *z = p;
	if (!z)
		return;
	ZSTD_freeCCtx(z->c);
	ZSTD_freeDCtx(z->d);
	free(z);
}

static void zctx_key_create(void)
{
	zctx_key_ok = pthread_key_create(&zctx_key, zctx_free) == 0;
}

static struct zctx *zctx_get(void)
{
	if (tls_zctx)
		return tls_zctx;
	pthread_once(&zctx_once, zctx_key_create);
	struct zctx *z = calloc(1, sizeof(*z));
	if (!z)
		return NULL;
	if (zctx_key_ok && pthread_setspecific(zctx_key, z) != 0) {
		free(z);
		return NULL;
	}
	tls_zctx = z;
	return z;
}

/* Puts varint(len) at the front of out and returns its size. */
static size_t put_header(lsm_buf *out, size_t len)
{
	size_t n = lsm_put_varint64(out->data, len);
	out->len = n;
	return n;
}

int lsm_compress(int method, const void *src, size_t len, lsm_buf *out)
{
	size_t bound, hdr, n;
	out->len = 0;
	switch (method) {
	case LSM_COMPRESS_NONE:
		return 1;
	case LSM_COMPRESS_LZ4:
		if (len > (size_t)LZ4_MAX_INPUT_SIZE)
			return 1; /* too large for one LZ4 block: store raw */
		bound = (size_t)LZ4_compressBound((int)len);
		break;
	case LSM_COMPRESS_ZSTD:
		bound = ZSTD_compressBound(len);
		break;
	default:
		return lsm_seterr(-EINVAL, "compress: unknown method %d", method);
	}
	int rc = lsm_buf_reserve(out, LSM_VARINT64_MAX + bound);
	if (rc)
		return lsm_seterr(rc, "compress: out of memory for %zu bytes", bound);
	hdr = put_header(out, len);
	if (method == LSM_COMPRESS_LZ4) {
		int r = LZ4_compress_default(src, (char *)out->data + hdr, (int)len, (int)bound);
		if (r <= 0)
			return 1; /* LZ4 fails only when out of room: not worth it anyway */
		n = (size_t)r;
	} else {
		struct zctx *z = zctx_get();
		if (!z)
			return lsm_seterr(-ENOMEM, "compress: out of memory for a zstd context");
		if (!z->c && !(z->c = ZSTD_createCCtx()))
			return lsm_seterr(-ENOMEM, "compress: out of memory for a zstd context");
		n = ZSTD_compressCCtx(z->c, out->data + hdr, bound, src, len, ZSTD_LEVEL);
		if (ZSTD_isError(n))
			return lsm_seterr(-EIO, "compress: zstd: %s", ZSTD_getErrorName(n));
	}
	out->len = hdr + n;
	/* Keep the block raw unless compression saves at least 1/8: decoding is not free. */
	if (out->len > len - len / 8) {
		out->len = 0;
		return 1;
	}
	return 0;
}

int lsm_decompress(int method, const void *src, size_t len, lsm_buf *out)
{
	const uint8_t *p = src, *end = p + len;
	uint64_t raw_len;
	out->len = 0;
	if (method == LSM_COMPRESS_NONE)
		return lsm_buf_append(out, src, len);
	if (method != LSM_COMPRESS_LZ4 && method != LSM_COMPRESS_ZSTD)
		return lsm_seterr(-LSM_ECORRUPT, "decompress: unknown method %d", method);
	p = lsm_get_varint64(p, end, &raw_len);
	if (!p || raw_len > MAX_RAW_LEN)
		return lsm_seterr(-LSM_ECORRUPT, "decompress: bad uncompressed length");
	int rc = lsm_buf_reserve(out, (size_t)raw_len + 1); /* + 1: never a NULL buffer */
	if (rc)
		return lsm_seterr(rc, "decompress: out of memory for %llu bytes",
				  (unsigned long long)raw_len);
	size_t clen = (size_t)(end - p), got;
	if (method == LSM_COMPRESS_LZ4) {
		if (raw_len > (uint64_t)LZ4_MAX_INPUT_SIZE || clen > (size_t)INT32_MAX)
			return lsm_seterr(-LSM_ECORRUPT, "decompress: lz4 block too large");
		int r = LZ4_decompress_safe((const char *)p, (char *)out->data, (int)clen,
					    (int)raw_len);
		if (r < 0)
			return lsm_seterr(-LSM_ECORRUPT, "decompress: malformed lz4 data");
		got = (size_t)r;
	} else {
		struct zctx *z = zctx_get();
		if (!z)
			return lsm_seterr(-ENOMEM, "decompress: out of memory for a zstd context");
		if (!z->d && !(z->d = ZSTD_createDCtx()))
			return lsm_seterr(-ENOMEM, "decompress: out of memory for a zstd context");
		got = ZSTD_decompressDCtx(z->d, out->data, (size_t)raw_len, p, clen);
		if (ZSTD_isError(got))
			return lsm_seterr(-LSM_ECORRUPT, "decompress: malformed zstd data: %s",
					  ZSTD_getErrorName(got));
	}
	if (got != raw_len)
		return lsm_seterr(-LSM_ECORRUPT, "decompress: got %zu bytes, the header says %llu",
				  got, (unsigned long long)raw_len);
	out->len = got;
	return 0;
}
