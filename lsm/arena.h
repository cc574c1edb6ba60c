/*
 * arena.h — a bump allocator for the memtable.
 *
 * Allocations live until lsm_arena_destroy(); there is no per-object free.
 * Blocks are 64 KiB; a request above a quarter block gets its own block so
 * large values do not waste the tail of the current one.
 * Not thread-safe for allocation (the memtable has one writer at a time);
 * lsm_arena_usage() may be read from any thread.
 */
#ifndef LSM_ARENA_H
#define LSM_ARENA_H

#include <stddef.h>
#include <stdint.h>

typedef struct lsm_arena_block lsm_arena_block;

typedef struct lsm_arena {
	char *ptr;		 /* next free byte in the current block */
	size_t remaining;	 /* bytes left in the current block */
	lsm_arena_block *blocks; /* every block, newest first */
	size_t usage;		 /* bytes malloc'd; read with __atomic_load_n */
} lsm_arena;

void lsm_arena_init(lsm_arena *a);
void lsm_arena_destroy(lsm_arena *a);
/* Returns n bytes aligned for any pointer or integer, or NULL when out of memory. */
void *lsm_arena_alloc(lsm_arena *a, size_t n);
size_t lsm_arena_usage(const lsm_arena *a);

#endif
