/*
 * fuzz_fskeys.c — the lsmfs value decoders (fs/keys.h): superblock, inode
 * and chunk reference on arbitrary bytes. A value that decodes must encode
 * back to its fixed-size prefix exactly (later bytes are room for new fields);
 * an inode of an older build's 88 bytes decodes too.
 */
#include "fuzz.h"

#include "keys.h"

#include <errno.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lsmfs_super sb;
	struct lsmfs_attr a;
	struct fref r;
	uint8_t sbuf[SB_LEN], ibuf[INODE_LEN], fbuf[FREF_MAX_LEN];
	int rc;

	rc = super_decode(&sb, data, size);
	FUZZ_ASSERT(rc == 0 || rc == -EUCLEAN || rc == -EPROTONOSUPPORT);
	if (rc == 0) {
		FUZZ_ASSERT(size >= SB_LEN);
		super_encode(sbuf, &sb);
		FUZZ_ASSERT(memcmp(sbuf, data, SB_LEN) == 0);
	}

	rc = inode_decode(&a, data, size);
	FUZZ_ASSERT(rc == 0 || rc == -EUCLEAN);
	if (rc == 0) {
		size_t n;

		FUZZ_ASSERT(size >= INODE_LEN_OLD);
		n = inode_encode(ibuf, &a);
		/* Bytes 20..23 are reserved: written as zero, ignored when read. */
		FUZZ_ASSERT(memcmp(ibuf, data, 20) == 0);
		FUZZ_ASSERT(memcmp(ibuf + 24, data + 24, INODE_LEN_OLD - 24) == 0);
		if (size >= INODE_LEN) {
			FUZZ_ASSERT(n == INODE_LEN && !a.stored_old);
			FUZZ_ASSERT(memcmp(ibuf + 24, data + 24, INODE_LEN - 24) == 0);
		} else {
			/* An older build's inode: its figure is unknown unless it has no chunks. */
			FUZZ_ASSERT(a.stored_old == (a.chunks != 0));
			FUZZ_ASSERT(n == (a.stored_old ? INODE_LEN_OLD : INODE_LEN));
			FUZZ_ASSERT(a.stored == 0);
		}
	}

	rc = fref_decode(&r, data, size);
	FUZZ_ASSERT(rc == 0 || rc < 0);
	if (rc == 0) {
		/* What was decoded encodes to the same bytes (a longer value's tail is for later
		 * fields). */
		size_t n = fref_encode(fbuf, &r, (const uint8_t *)data + FREF_LEN);

		FUZZ_ASSERT(n <= size && (r.npatch || r.nsum || r.inl || n == FREF_LEN));
		FUZZ_ASSERT(!r.inl || (n == size && r.len && r.len <= INLINE_MAX && !r.npatch));
		FUZZ_ASSERT(r.nsum <= SUM_BLOCKS);
		FUZZ_ASSERT(memcmp(fbuf, data, n) == 0);
		FUZZ_ASSERT(r.npatch <= PATCH_MAX && (r.len || r.npatch));
	}

	/* The name hash takes any bytes and stays within its bit width. */
	if (size >= 16) {
		uint64_t h = name_hash(data, (const char *)data + 16, size - 16);
		FUZZ_ASSERT(h >> NHASH_BITS == 0);
	}
	return 0;
}
