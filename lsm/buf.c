/* buf.c — growable byte buffer. */
#include "buf.h"

#include "coding.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void lsm_buf_free(lsm_buf *b)
{
	free(b->data);
	lsm_buf_init(b);
}

int lsm_buf_reserve(lsm_buf *b, size_t extra)
{
	if (b->cap - b->len >= extra)
		return 0;
	size_t need = b->len + extra;
	if (need < b->len)
		return -ENOMEM;
	size_t cap = b->cap ? b->cap : 64;
	while (cap < need)
		cap *= 2;
	uint8_t *p = realloc(b->data, cap);
	if (!p)
		return -ENOMEM;
	b->data = p;
	b->cap = cap;
	return 0;
}

int lsm_buf_append(lsm_buf *b, const void *p, size_t n)
{
	int rc = lsm_buf_reserve(b, n);
	if (rc)
		return rc;
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	return 0;
}

int lsm_buf_append_varint(lsm_buf *b, uint64_t v)
{
	int rc = lsm_buf_reserve(b, LSM_VARINT64_MAX);
	if (rc)
		return rc;
	b->len += lsm_put_varint64(b->data + b->len, v);
	return 0;
}

int lsm_buf_append_le32(lsm_buf *b, uint32_t v)
{
	uint8_t tmp[4];
	lsm_put_le32(tmp, v);
	return lsm_buf_append(b, tmp, 4);
}

int lsm_buf_append_le64(lsm_buf *b, uint64_t v)
{
	uint8_t tmp[8];
	lsm_put_le64(tmp, v);
	return lsm_buf_append(b, tmp, 8);
}

int lsm_buf_append_lenprefixed(lsm_buf *b, const void *p, size_t n)
{
	int rc = lsm_buf_reserve(b, LSM_VARINT64_MAX + n);
	if (rc)
		return rc;
	b->len += lsm_put_varint64(b->data + b->len, n);
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	return 0;
}
