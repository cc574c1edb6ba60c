/*
 * workpool.h — a few threads that share the pieces of one request: the
 * chunks of a 1 MiB read (their lookups, preads and SHA-256 checks) or the
 * hashing of a 1 MiB write run on every core at once instead of one after
 * another on the thread that took the request.
 *
 * workpool_run(wp, n, fn, arg) calls fn(arg, i) once for each i in [0, n),
 * on the calling thread and on idle pool threads, and returns when all n
 * calls have returned. Calls of one run may run in any order and at the
 * same time; fn must not call workpool_run. Several threads may each be in
 * a run of their own: the pool helps them in turn, and each caller works
 * on its own run, so no run waits for the pool to be free.
 */
#ifndef LSMFS_WORKPOOL_H
#define LSMFS_WORKPOOL_H

#include <stddef.h>

struct workpool;

typedef void (*work_fn)(void *arg, size_t i);

/* A pool of nthreads helpers (0: runs happen on the caller alone); NULL if out of memory. */
struct workpool *workpool_new(unsigned nthreads);
/* Stops and frees the pool. REQUIRES: no run in progress. */
void workpool_free(struct workpool *wp);
/* fn(arg, i) for every i < n; wp may be NULL (all on the caller). */
void workpool_run(struct workpool *wp, size_t n, work_fn fn, void *arg);

#endif
