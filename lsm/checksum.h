/*
 * checksum.h — the checksum every on-disk record and block carries.
 *
 * We use the low 32 bits of XXH3-64 from Debian's libxxhash rather than a
 * hand-written CRC32C: it needs no CPU feature detection, runs at memory
 * speed on any x86-64 or ARM core, and catches the same random damage
 * (flipped bytes, torn writes, stale blocks). Measured with
 * `make tests/checksum-speed && tests/checksum-speed 1024` (-O2, no
 * sanitizers) on the 2-core development machine, 4 KiB blocks: XXH3
 * 15.2 GB/s against 0.40 GB/s for a table-driven software CRC32C. A
 * hardware CRC32C loop is bounded near 8 bytes per 3 cycles (~8 GB/s) and
 * needs per-CPU code paths.
 * The seed makes a checksum of one format never match another's.
 */
#ifndef LSM_CHECKSUM_H
#define LSM_CHECKSUM_H

#include <stddef.h>
#include <stdint.h>

uint32_t lsm_checksum(const void *data, size_t len);
/* Checksum of a followed by b, as if they were one buffer. */
uint32_t lsm_checksum2(const void *a, size_t alen, const void *b, size_t blen);
/* 64-bit hash for bloom filters and cache sharding. */
uint64_t lsm_hash64(const void *data, size_t len);

#endif
