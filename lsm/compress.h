/*
 * compress.h — per-block compression with Debian's liblz4 and libzstd.
 */
#ifndef LSM_COMPRESS_H
#define LSM_COMPRESS_H

#include "buf.h"

#include <stddef.h>

/*
 * Compresses src with method (enum lsm_compression) into out (cleared first).
 * Returns 0, or 1 if compression did not save at least 1/8 (the caller then
 * stores the block raw), or a negative error.
 */
int lsm_compress(int method, const void *src, size_t len, lsm_buf *out);
/* Decompresses into out (cleared first); -LSM_ECORRUPT on malformed input. */
int lsm_decompress(int method, const void *src, size_t len, lsm_buf *out);

#endif
