/*
 * adapter.h — the one interface lsm-bench drives every engine through.
 *
 * Each engine (liblsm, LevelDB's C API, RocksDB's C API) fills one
 * struct bench_engine with small functions that translate these calls into
 * its own API. The driver never calls an engine directly, so every engine
 * runs exactly the same workload code, with the same keys, values and
 * timing, and differs only in what these functions do.
 *
 * Errors: functions returning int give 0 on success and -1 on failure,
 * after printing "engine: what failed: why" to stderr. A benchmark that hits
 * an error stops: a number measured around a failure would mean nothing.
 *
 * Engines: liblsm, leveldb, rocksdb, and rocksdb-blob: RocksDB with its
 * integrated blob files (value separation) on at bench_opts.blob_threshold.
 *
 * Threads: a bench_db may be used from several threads at once (all the
 * engines allow it); a bench_it belongs to one thread.
 */
#ifndef BENCH_ADAPTER_H
#define BENCH_ADAPTER_H

#include <stddef.h>
#include <stdint.h>

/* The settings every engine is given; anything not here is the engine's default. */
struct bench_opts {
	size_t cache_bytes;    /* block cache capacity */
	size_t memtable_bytes; /* memtable / write buffer size */
	int bloom_bits;	       /* bloom filter bits per key; 0 = no filter */
	int compress; /* 0: none; 1: the engine's fast compression (see compression_name) */
	/*
	 * Value separation: values of at least this many bytes are kept apart
	 * from the tables (liblsm's blob_threshold; RocksDB's min_blob_size for
	 * the rocksdb-blob engine). 0: off. Engines without it ignore it.
	 */
	size_t blob_threshold;
};

typedef struct bench_db bench_db; /* one open database; each adapter defines it */
typedef struct bench_it bench_it; /* one iterator over a consistent view */

struct bench_engine {
	const char *name; /* short name used on the command line and in reports */

	/* The codec name the engine uses for opts->compress (e.g. "none", "lz4", "snappy"). */
	const char *(*compression_name)(int compress);

	/* Creates the database in dir (which does not exist or is empty) and opens it. */
	int (*open)(const char *dir, const struct bench_opts *o, bench_db **dbp);
	/* Waits for the engine's background work as its own close does, and frees db. */
	int (*close)(bench_db *db);

	int (*put)(bench_db *db, const char *key, size_t klen, const char *val, size_t vlen,
		   int sync);
	int (*del)(bench_db *db, const char *key, size_t klen, int sync);
	/*
	 * Point lookup through the engine's ordinary copying get (the value is
	 * copied out and freed, as an application would). Returns 1 and sets
	 * *vlen when found, 0 when absent, -1 on error.
	 */
	int (*get)(bench_db *db, const char *key, size_t klen, size_t *vlen);

	/* Flushes the memtable, then compacts the whole key range down the levels; waits. */
	int (*compact)(bench_db *db);
	/* Flushes the memtable to a table and waits for that flush (nothing more). */
	int (*flush)(bench_db *db);
	/*
	 * For the idle wait (workloads.c): 1 if the engine says background work
	 * is running or pending, 0 if it says none (or cannot tell), -1 on
	 * error. *progress is set to a number that moves while background work
	 * gets done (0 if the engine has none to show); the caller also watches
	 * the process's own writes, so an engine that cannot tell is still
	 * waited for.
	 */
	int (*busy)(bench_db *db, uint64_t *progress);

	/* Iterators: NULL from it_new means failure (already reported). */
	bench_it *(*it_new)(bench_db *db);
	void (*it_free)(bench_it *it);
	void (*it_first)(bench_it *it);
	void (*it_last)(bench_it *it);
	void (*it_seek)(bench_it *it, const char *key, size_t klen);
	void (*it_next)(bench_it *it);
	void (*it_prev)(bench_it *it);
	int (*it_valid)(bench_it *it);
	/* Both valid until the iterator moves; only when it_valid(). */
	const char *(*it_key)(bench_it *it, size_t *klen);
	const char *(*it_value)(bench_it *it, size_t *vlen);
	/* 0, or -1 (reported) if the iterator stopped on an error. */
	int (*it_status)(bench_it *it);
};

extern const struct bench_engine bench_engine_lsm;
#ifdef HAVE_LEVELDB
extern const struct bench_engine bench_engine_leveldb;
#endif
#ifdef HAVE_ROCKSDB
extern const struct bench_engine bench_engine_rocksdb;
extern const struct bench_engine bench_engine_rocksdb_blob;
#endif

#endif /* BENCH_ADAPTER_H */
