/* keys.c — encoding of the superblock, inode and chunk-reference values; the name hash. */
#include "keys.h"

#include <errno.h>
#include <xxhash.h>

void super_encode(uint8_t out[SB_LEN], const struct lsmfs_super *sb)
{
	memcpy(out, SB_MAGIC, SB_MAGIC_LEN);
	put_be32(out + 8, sb->version);
	put_be32(out + 12, sb->chunk_size);
	memcpy(out + 16, sb->uuid, 16);
	put_be64(out + 32, sb->incompat);
	put_be64(out + 40, (uint64_t)sb->ctime_ns);
	put_be64(out + 48, sb->ino_end);
}

int super_decode(struct lsmfs_super *sb, const void *val, size_t len)
{
	const uint8_t *p = val;

	/* Magic and version first: a newer format may have another length. */
	if (len < 12 || memcmp(p, SB_MAGIC, SB_MAGIC_LEN) != 0)
		return -EUCLEAN;
	sb->version = get_be32(p + 8);
	if (sb->version == 0)
		return -EUCLEAN;
	if (len < SB_LEN)
		return -EUCLEAN;
	sb->chunk_size = get_be32(p + 12);
	memcpy(sb->uuid, p + 16, 16);
	sb->incompat = get_be64(p + 32);
	sb->ctime_ns = (int64_t)get_be64(p + 40);
	sb->ino_end = get_be64(p + 48);
	return 0;
}

size_t inode_encode(uint8_t out[INODE_LEN], const struct lsmfs_attr *a)
{
	put_be32(out, a->mode);
	put_be32(out + 4, a->uid);
	put_be32(out + 8, a->gid);
	put_be32(out + 12, a->nlink);
	put_be32(out + 16, a->flags);
	put_be32(out + 20, 0);
	put_be64(out + 24, a->size);
	put_be64(out + 32, a->chunks);
	put_be64(out + 40, (uint64_t)a->atime);
	put_be64(out + 48, (uint64_t)a->mtime);
	put_be64(out + 56, (uint64_t)a->ctime);
	put_be64(out + 64, a->rdev);
	put_be64(out + 72, a->generation);
	put_be64(out + 80, a->parent);
	/* Without a known figure the old layout stays: 88 bytes read as "not known". */
	if (a->stored_old)
		return INODE_LEN_OLD;
	put_be64(out + 88, a->stored);
	return INODE_LEN;
}

int inode_decode(struct lsmfs_attr *a, const void *val, size_t len)
{
	const uint8_t *p = val;

	if (len < INODE_LEN_OLD)
		return -EUCLEAN;
	a->mode = get_be32(p);
	a->uid = get_be32(p + 4);
	a->gid = get_be32(p + 8);
	a->nlink = get_be32(p + 12);
	a->flags = get_be32(p + 16);
	a->size = get_be64(p + 24);
	a->chunks = get_be64(p + 32);
	a->atime = (int64_t)get_be64(p + 40);
	a->mtime = (int64_t)get_be64(p + 48);
	a->ctime = (int64_t)get_be64(p + 56);
	a->rdev = get_be64(p + 64);
	a->generation = get_be64(p + 72);
	a->parent = get_be64(p + 80);
	if (len >= INODE_LEN) {
		a->stored = get_be64(p + 88);
		a->stored_old = 0;
	} else {
		/* An older build's inode (keys.h): no chunks is a known figure, 0. */
		a->stored = 0;
		a->stored_old = a->chunks != 0;
	}
	return 0;
}

size_t fref_encode(uint8_t out[FREF_MAX_LEN], const struct fref *r, const uint8_t *data)
{
	uint8_t *p = out + FREF_LEN + 1;

	memcpy(out, r->sha, SHA_LEN);
	if (r->inl) {
		put_be32(out + SHA_LEN, r->len | FREF_INLINE);
		memcpy(out + FREF_LEN, data, r->len);
		return FREF_LEN + r->len;
	}
	put_be32(out + SHA_LEN, r->len);
	if (r->npatch == 0 && r->nsum == 0)
		return FREF_LEN;
	out[FREF_LEN] = (uint8_t)r->npatch;
	for (uint32_t i = 0; i < r->npatch; i++, p += 8) {
		put_be32(p, r->patch[i].off);
		put_be32(p + 4, r->patch[i].len);
	}
	if (r->nsum == 0)
		return (size_t)(p - out);
	*p++ = (uint8_t)r->nsum;
	for (uint32_t i = 0; i < r->nsum; i++, p += 4)
		put_be32(p, r->sum[i]);
	return (size_t)(p - out);
}

int fref_decode(struct fref *r, const void *val, size_t len)
{
	const uint8_t *v = val;

	if (len < FREF_LEN)
		return -EUCLEAN;
	memcpy(r->sha, v, SHA_LEN);
	r->len = get_be32(v + SHA_LEN);
	r->inl = (r->len & FREF_INLINE) != 0;
	if (r->inl) {
		r->len &= ~FREF_INLINE;
		r->npatch = 0;
		r->nsum = 0;
		return r->len == 0 || r->len > INLINE_MAX || len != FREF_LEN + r->len ? -EUCLEAN
										      : 0;
	}
	r->npatch = len > FREF_LEN ? v[FREF_LEN] : 0;
	if (r->npatch > PATCH_MAX || (r->npatch && len < FREF_LEN + 1 + 8 * (size_t)r->npatch))
		return -EUCLEAN;
	for (uint32_t i = 0; i < r->npatch; i++) {
		const uint8_t *p = v + FREF_LEN + 1 + 8 * i;

		r->patch[i].off = get_be32(p);
		r->patch[i].len = get_be32(p + 4);
		if (r->patch[i].len == 0 || r->patch[i].off > UINT32_MAX - r->patch[i].len)
			return -EUCLEAN;
	}
	r->nsum = 0;
	if (len > FREF_LEN + 1 + 8 * (size_t)r->npatch) {
		const uint8_t *p = v + FREF_LEN + 1 + 8 * r->npatch;

		r->nsum = *p++;
		if (r->nsum > SUM_BLOCKS || (size_t)(v + len - p) < 4 * (size_t)r->nsum)
			return -EUCLEAN;
		for (uint32_t i = 0; i < r->nsum; i++, p += 4)
			r->sum[i] = get_be32(p);
	}
	if (r->len == 0 && (r->npatch == 0 || r->nsum))
		return -EUCLEAN;
	return 0;
}

uint32_t block_sum(const void *data, size_t len)
{
	return (uint32_t)XXH3_64bits(data, len);
}

void fref_set_sums(struct fref *r, const uint8_t *data, uint32_t cs)
{
	uint32_t unit = fref_sum_unit(cs);

	r->nsum = fref_nsum(cs, r->len);
	for (uint32_t i = 0; i < r->nsum; i++) {
		uint32_t at = i * unit;

		r->sum[i] = block_sum(data + at, r->len - at < unit ? r->len - at : unit);
	}
}

uint64_t fref_stored(const struct fref *r)
{
	uint64_t n = stored_bytes(r->len);

	for (uint32_t i = 0; i < r->npatch; i++)
		n += stored_bytes(r->patch[i].len);
	return n;
}

uint32_t fref_patch_bytes(const struct fref *r)
{
	uint32_t n = 0;

	for (uint32_t i = 0; i < r->npatch; i++)
		n += r->patch[i].len;
	return n;
}

uint32_t fref_end(const struct fref *r)
{
	uint32_t end = r->len;

	for (uint32_t i = 0; i < r->npatch; i++)
		if (r->patch[i].off + r->patch[i].len > end)
			end = r->patch[i].off + r->patch[i].len;
	return end;
}

/*
 * SipHash-2-4 (Aumasson and Bernstein, 2012), written from the paper. A keyed
 * hash rather than FNV or CRC: with the volume's random uuid as key nobody
 * can make names collide on purpose and stretch a readdir cookie's rank.
 */
static inline uint64_t rotl64(uint64_t x, int b)
{
	return (x << b) | (x >> (64 - b));
}

static inline uint64_t get_le64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

#define SIPROUND                     \
	do {                         \
		v0 += v1;            \
		v1 = rotl64(v1, 13); \
		v1 ^= v0;            \
		v0 = rotl64(v0, 32); \
		v2 += v3;            \
		v3 = rotl64(v3, 16); \
		v3 ^= v2;            \
		v0 += v3;            \
		v3 = rotl64(v3, 21); \
		v3 ^= v0;            \
		v2 += v1;            \
		v1 = rotl64(v1, 17); \
		v1 ^= v2;            \
		v2 = rotl64(v2, 32); \
	} while (0)

static uint64_t siphash24(const uint8_t key[16], const uint8_t *in, size_t len)
{
	uint64_t k0 = get_le64(key), k1 = get_le64(key + 8);
	uint64_t v0 = k0 ^ 0x736f6d6570736575ull;
	uint64_t v1 = k1 ^ 0x646f72616e646f6dull;
	uint64_t v2 = k0 ^ 0x6c7967656e657261ull;
	uint64_t v3 = k1 ^ 0x7465646279746573ull;
	size_t full = len & ~(size_t)7;
	uint64_t m;

	for (size_t i = 0; i < full; i += 8) {
		m = get_le64(in + i);
		v3 ^= m;
		SIPROUND;
		SIPROUND;
		v0 ^= m;
	}
	m = (uint64_t)len << 56;
	for (size_t i = 0; i < (len & 7); i++)
		m |= (uint64_t)in[full + i] << (8 * i);
	v3 ^= m;
	SIPROUND;
	SIPROUND;
	v0 ^= m;
	v2 ^= 0xff;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	return v0 ^ v1 ^ v2 ^ v3;
}

uint64_t name_hash(const uint8_t key[16], const char *name, size_t len)
{
	return siphash24(key, (const uint8_t *)name, len) >> (64 - NHASH_BITS);
}
