/* arena.c — bump allocator; see arena.h. */
#include "arena.h"

#include <stdlib.h>

#define ARENA_BLOCK 65536
#define ARENA_ALIGN 8

struct lsm_arena_block {
	lsm_arena_block *next;
	size_t size;
	/* payload follows, aligned to max_align_t */
} __attribute__((aligned(16)));

void lsm_arena_init(lsm_arena *a)
{
	a->ptr = NULL;
	a->remaining = 0;
	a->blocks = NULL;
	a->usage = 0;
}

void lsm_arena_destroy(lsm_arena *a)
{
	lsm_arena_block *b = a->blocks;
	while (b) {
		lsm_arena_block *next = b->next;
		free(b);
		b = next;
	}
	lsm_arena_init(a);
}

static char *new_block(lsm_arena *a, size_t payload)
{
	lsm_arena_block *b = malloc(sizeof(*b) + payload);
	if (!b)
		return NULL;
	b->next = a->blocks;
	b->size = payload;
	a->blocks = b;
	__atomic_add_fetch(&a->usage, sizeof(*b) + payload, __ATOMIC_RELAXED);
	return (char *)(b + 1);
}

void *lsm_arena_alloc(lsm_arena *a, size_t n)
{
	if (n == 0)
		n = 1;
	size_t pad = (ARENA_ALIGN - ((uintptr_t)a->ptr & (ARENA_ALIGN - 1))) & (ARENA_ALIGN - 1);
	if (a->ptr && n + pad <= a->remaining) {
		char *p = a->ptr + pad;
		a->ptr = p + n;
		a->remaining -= n + pad;
		return p;
	}
	if (n > ARENA_BLOCK / 4) {
		/* Own block; keep the current block's tail for small allocations. */
		char *p = new_block(a, n);
		if (!p)
			return NULL;
		/* new_block pushed it first; the current block is unchanged. */
		return p;
	}
	char *p = new_block(a, ARENA_BLOCK);
	if (!p)
		return NULL;
	a->ptr = p + n;
	a->remaining = ARENA_BLOCK - n;
	return p;
}

size_t lsm_arena_usage(const lsm_arena *a)
{
	return __atomic_load_n(&a->usage, __ATOMIC_RELAXED);
}
