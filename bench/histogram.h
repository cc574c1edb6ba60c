/*
 * histogram.h — latency histogram for lsm-bench.
 *
 * Log-linear buckets, as HdrHistogram does: values below 64 ns have a bucket
 * each; above that, every power of two is cut into 32 equal buckets, so a
 * reported percentile is within about 3% of the true value, from 1 ns to
 * hours, in a fixed 15 KiB that needs no allocation and merges by addition.
 * One histogram per thread; merged after the threads join.
 */
#ifndef BENCH_HISTOGRAM_H
#define BENCH_HISTOGRAM_H

#include <stdint.h>

#define HIST_SUB_BITS 5
#define HIST_LINEAR   64 /* 2 << HIST_SUB_BITS: values below get exact buckets */
#define HIST_BUCKETS  (HIST_LINEAR + (64 - HIST_SUB_BITS - 1) * (1 << HIST_SUB_BITS))

struct histogram {
	uint64_t count;
	uint64_t sum; /* ns */
	uint64_t max; /* ns */
	uint64_t buckets[HIST_BUCKETS];
};

void hist_init(struct histogram *h);
void hist_add(struct histogram *h, uint64_t ns);
void hist_merge(struct histogram *into, const struct histogram *from);
/* The value at quantile q (0 < q <= 1) in ns: the middle of its bucket; 0 if empty. */
uint64_t hist_quantile(const struct histogram *h, double q);

#endif /* BENCH_HISTOGRAM_H */
