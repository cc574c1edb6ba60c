/*
 * space.c — the space reserve (see space.h for what is charged and why).
 *
 * The guard sits on the write path, so a look at the host's free space
 * (one statvfs) is made at most every SPACE_LOOK_NS or SPACE_LOOK_BYTES;
 * in between a check is a mutex and a subtraction.
 */
#include "fs_impl.h"

#include "env.h"

#include <errno.h>
#include <sys/statvfs.h>
#include <time.h>

uint64_t space_default_reserve(const lsm_options *lo, uint64_t host_bytes)
{
	uint64_t mem = lo->memtable_bytes;
	uint64_t flush = (uint64_t)(lo->max_immutable_memtables + 1) * mem / 4 * 5;
	uint64_t l0 = (uint64_t)lo->l0_stop_trigger * mem + lo->level_base_bytes;
	uint64_t ln = lo->target_file_bytes * (uint64_t)(lo->level_multiplier + 1);
	uint64_t r = flush + (l0 > ln ? l0 : ln) + SPACE_MANIFEST_BYTES;

	if (host_bytes && r > host_bytes / SPACE_MAX_SHARE)
		r = host_bytes / SPACE_MAX_SHARE;
	return r;
}

static int64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* REQUIRES: s->mu held. Reads the host's free space; keeps the old figure on failure. */
static void look(struct lsmfs_space *s, const char *dir)
{
	lsm_env *env = s->env;
	uint64_t bytes = 0;

	if (env->free_space(env, dir, &bytes) == 0) {
		s->free_bytes = bytes;
		s->looked = 1;
	}
	s->taken = 0;
	s->looked_ns = mono_ns();
	s->looks++;
}

void space_init(lsmfs *fs, const char *dir, int64_t reserve, const lsm_options *lo, void *env)
{
	struct lsmfs_space *s = &fs->space;
	struct statvfs host;
	uint64_t host_bytes = 0;

	memset(s, 0, sizeof(*s));
	pthread_mutex_init(&s->mu, NULL);
	s->env = env ? env : lsm_env_posix();
	if (reserve >= 0) {
		s->reserve = (uint64_t)reserve;
		return;
	}
	if (statvfs(dir, &host) == 0)
		host_bytes = (uint64_t)host.f_blocks * host.f_frsize;
	s->reserve = space_default_reserve(lo, host_bytes);
}

void space_destroy(lsmfs *fs)
{
	pthread_mutex_destroy(&fs->space.mu);
}

/* REQUIRES: s->mu held. Free space left after what was taken since the last look. */
static uint64_t left(const struct lsmfs_space *s)
{
	return s->free_bytes > s->taken ? s->free_bytes - s->taken : 0;
}

/* REQUIRES: s->mu held. Whether bytes more would eat into the reserve. */
static int too_little(const struct lsmfs_space *s, uint64_t bytes)
{
	return s->looked && (left(s) < bytes || left(s) - bytes < s->reserve);
}

int space_need(lsmfs *fs, uint64_t bytes, int charge)
{
	struct lsmfs_space *s = &fs->space;
	int rc = 0, fresh = 0;

	if (!s->reserve)
		return 0;
	pthread_mutex_lock(&s->mu);
	if (!s->looked || s->taken >= SPACE_LOOK_BYTES ||
	    mono_ns() - s->looked_ns > SPACE_LOOK_NS) {
		look(s, fs->dir);
		fresh = 1;
	}
	/* Refuse only on a fresh figure: space may have come back since the last look. */
	if (!fresh && too_little(s, bytes))
		look(s, fs->dir);
	if (too_little(s, bytes))
		rc = -ENOSPC;
	else if (charge)
		s->taken += bytes;
	pthread_mutex_unlock(&s->mu);
	return rc;
}
