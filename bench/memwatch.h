/*
 * memwatch.h — the peak of a process's anonymous memory (RSS minus the
 * file-backed pages it has mapped), sampled by a thread.
 *
 * ru_maxrss counts every resident page, mapped files included: liblsm
 * reads its tables through a read-only mapping, so the page cache it reads
 * shows up in its RSS, while an engine that reads with pread (LevelDB,
 * RocksDB) uses the same page cache without it counting. The anonymous
 * part (heap, block cache, memtables, stacks) is what the process itself
 * holds; the kernel can drop clean file pages whenever it needs memory.
 */
#ifndef BENCH_MEMWATCH_H
#define BENCH_MEMWATCH_H

/* Starts sampling /proc/self/statm every 5 ms; 0, or -1 (errno set). */
int memwatch_start(void);
/* Stops the sampler; returns the peak anonymous RSS in KiB (-1 if never read). */
long memwatch_stop(void);

#endif /* BENCH_MEMWATCH_H */
