/*
 * histogram.c — log-linear latency histogram (see histogram.h).
 */
#include "histogram.h"

#include <string.h>

void hist_init(struct histogram *h)
{
	memset(h, 0, sizeof(*h));
}

/*
 * v < 64: bucket v. Otherwise, with e the index of v's top bit (e >= 6), the
 * top HIST_SUB_BITS + 1 bits of v select one of 32 buckets of width
 * 2^(e - 5) within [2^e, 2^(e + 1)).
 */
static unsigned bucket_of(uint64_t v)
{
	if (v < HIST_LINEAR)
		return (unsigned)v;
	unsigned e = 63u - (unsigned)__builtin_clzll(v);
	unsigned sub = (unsigned)(v >> (e - HIST_SUB_BITS)) & ((1u << HIST_SUB_BITS) - 1);
	return HIST_LINEAR + (e - HIST_SUB_BITS - 1) * (1u << HIST_SUB_BITS) + sub;
}

static uint64_t bucket_low(unsigned b)
{
	if (b < HIST_LINEAR)
		return b;
	unsigned i = b - HIST_LINEAR;
	unsigned e = i / (1u << HIST_SUB_BITS) + HIST_SUB_BITS + 1;
	uint64_t sub = i % (1u << HIST_SUB_BITS);
	return (1ull << e) + (sub << (e - HIST_SUB_BITS));
}

static uint64_t bucket_width(unsigned b)
{
	if (b < HIST_LINEAR)
		return 1;
	unsigned e = (b - HIST_LINEAR) / (1u << HIST_SUB_BITS) + HIST_SUB_BITS + 1;
	return 1ull << (e - HIST_SUB_BITS);
}

void hist_add(struct histogram *h, uint64_t ns)
{
	h->count++;
	h->sum += ns;
	if (ns > h->max)
		h->max = ns;
	h->buckets[bucket_of(ns)]++;
}

void hist_merge(struct histogram *into, const struct histogram *from)
{
	into->count += from->count;
	into->sum += from->sum;
	if (from->max > into->max)
		into->max = from->max;
	for (unsigned i = 0; i < HIST_BUCKETS; i++)
		into->buckets[i] += from->buckets[i];
}

uint64_t hist_quantile(const struct histogram *h, double q)
{
	if (!h->count)
		return 0;
	/* The rank of the wanted sample, 1-based: the smallest r with r >= q * count. */
	uint64_t rank = (uint64_t)(q * (double)h->count);
	if ((double)rank < q * (double)h->count)
		rank++;
	if (rank < 1)
		rank = 1;
	uint64_t seen = 0;
	for (unsigned b = 0; b < HIST_BUCKETS; b++) {
		seen += h->buckets[b];
		if (seen >= rank) {
			uint64_t mid = bucket_low(b) + bucket_width(b) / 2;
			return mid < h->max ? mid : h->max;
		}
	}
	return h->max;
}
