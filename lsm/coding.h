/*
 * coding.h — fixed-width integers (little- and big-endian) and varints.
 *
 * Engine formats use little-endian fixed integers (the machine's order,
 * cheap to decode). Big-endian is for keys that must sort numerically under
 * memcmp (the filesystem's inode numbers). Varints are LevelDB/protobuf
 * style: 7 bits per byte, low group first, high bit set on all but the last.
 */
#ifndef LSM_CODING_H
#define LSM_CODING_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define LSM_VARINT32_MAX 5
#define LSM_VARINT64_MAX 10

static inline void lsm_put_le16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static inline void lsm_put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static inline void lsm_put_le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static inline uint16_t lsm_get_le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}

static inline uint32_t lsm_get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
	       ((uint32_t)p[3] << 24);
}

static inline uint64_t lsm_get_le64(const uint8_t *p)
{
	return (uint64_t)lsm_get_le32(p) | ((uint64_t)lsm_get_le32(p + 4) << 32);
}

static inline void lsm_put_be32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (24 - 8 * i));
}

static inline void lsm_put_be64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (56 - 8 * i));
}

static inline uint32_t lsm_get_be32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) |
	       (uint32_t)p[3];
}

static inline uint64_t lsm_get_be64(const uint8_t *p)
{
	return ((uint64_t)lsm_get_be32(p) << 32) | (uint64_t)lsm_get_be32(p + 4);
}

/* Writes v as a varint at p; returns the number of bytes (1..10). */
static inline size_t lsm_put_varint64(uint8_t *p, uint64_t v)
{
	size_t n = 0;
	while (v >= 0x80) {
		p[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	p[n++] = (uint8_t)v;
	return n;
}

static inline size_t lsm_put_varint32(uint8_t *p, uint32_t v)
{
	return lsm_put_varint64(p, v);
}

static inline size_t lsm_varint_len(uint64_t v)
{
	size_t n = 1;
	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

/*
 * Decodes a varint from [p, limit). Returns the pointer past it, or NULL if
 * the input ends inside the varint or it is longer than 10 bytes / overflows.
 */
static inline const uint8_t *lsm_get_varint64(const uint8_t *p, const uint8_t *limit, uint64_t *out)
{
	uint64_t v = 0;
	for (unsigned shift = 0; shift <= 63 && p < limit; shift += 7) {
		uint64_t byte = *p++;
		if (shift == 63 && byte > 1)
			return NULL; /* would overflow 64 bits */
		v |= (byte & 0x7f) << shift;
		if (!(byte & 0x80)) {
			*out = v;
			return p;
		}
	}
	return NULL;
}

static inline const uint8_t *lsm_get_varint32(const uint8_t *p, const uint8_t *limit, uint32_t *out)
{
	uint64_t v;
	const uint8_t *q = lsm_get_varint64(p, limit, &v);
	if (!q || v > UINT32_MAX || q - p > LSM_VARINT32_MAX)
		return NULL;
	*out = (uint32_t)v;
	return q;
}

#endif
