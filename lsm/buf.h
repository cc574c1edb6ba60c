/*
 * buf.h — a growable byte buffer for building records, blocks and batches.
 * Appending functions return 0 or -ENOMEM; on -ENOMEM the buffer is unchanged.
 */
#ifndef LSM_BUF_H
#define LSM_BUF_H

#include <stddef.h>
#include <stdint.h>

typedef struct lsm_buf {
	uint8_t *data;
	size_t len;
	size_t cap;
} lsm_buf;

static inline void lsm_buf_init(lsm_buf *b)
{
	b->data = NULL;
	b->len = b->cap = 0;
}

void lsm_buf_free(lsm_buf *b);
/* Makes room for at least extra more bytes. */
int lsm_buf_reserve(lsm_buf *b, size_t extra);
int lsm_buf_append(lsm_buf *b, const void *p, size_t n);
int lsm_buf_append_varint(lsm_buf *b, uint64_t v);
int lsm_buf_append_le32(lsm_buf *b, uint32_t v);
int lsm_buf_append_le64(lsm_buf *b, uint64_t v);
/* Appends varint(n) then the n bytes. */
int lsm_buf_append_lenprefixed(lsm_buf *b, const void *p, size_t n);

#endif
