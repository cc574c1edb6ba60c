/*
 * checksum_speed.c — measures lsm_checksum (XXH3) against a table-driven
 * software CRC32C on 4 KiB blocks, the figure quoted in checksum.h.
 * Usage: tests/checksum-speed [MiB]
 */
#include "checksum.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static uint32_t crc_table[256];

static void crc32c_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;
		for (int k = 0; k < 8; k++)
			c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
		crc_table[i] = c;
	}
}

static uint32_t crc32c_sw(const uint8_t *p, size_t n)
{
	uint32_t c = ~0u;
	while (n--)
		c = crc_table[(c ^ *p++) & 0xff] ^ (c >> 8);
	return ~c;
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	size_t mib = argc > 1 ? (size_t)atol(argv[1]) : 256;
	size_t blocks = mib * 256;
	static uint8_t buf[4096];
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 7 + 3);
	crc32c_init();
	volatile uint32_t sink = 0;
	double t0 = now();
	for (size_t i = 0; i < blocks; i++)
		sink ^= lsm_checksum(buf, sizeof(buf));
	double t1 = now();
	for (size_t i = 0; i < blocks; i++)
		sink ^= crc32c_sw(buf, sizeof(buf));
	double t2 = now();
	printf("xxh3 (lsm_checksum): %.2f GB/s\n", mib * 1048576.0 / (t1 - t0) / 1e9);
	printf("crc32c (software):   %.2f GB/s\n", mib * 1048576.0 / (t2 - t1) / 1e9);
	return sink == 42; /* keep the loops */
}
