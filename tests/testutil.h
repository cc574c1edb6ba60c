/*
 * testutil.h — what every Check suite shares: temporary directories that
 * are removed afterwards, a seeded random generator whose seed is printed
 * (set LSM_TEST_SEED to replay), and a main() helper.
 */
#ifndef LSM_TESTUTIL_H
#define LSM_TESTUTIL_H

#include <check.h>
#include <stddef.h>
#include <stdint.h>

/* Creates a fresh empty directory under $TMPDIR (or /tmp); returns a malloc'd path. */
char *tu_mkdtemp(const char *tag);
/* rm -rf path, then frees it. */
void tu_rmtree(char *path);
/* Joins dir and name into a malloc'd path. */
char *tu_path(const char *dir, const char *name);

/* The suite's seed: LSM_TEST_SEED if set, else time-based; printed once. */
uint64_t tu_seed(void);
/* xorshift64* generator. */
typedef struct tu_rng {
	uint64_t s;
} tu_rng;
void tu_rng_init(tu_rng *r, uint64_t seed);
uint64_t tu_rand(tu_rng *r);
/* Uniform in [0, n). */
uint64_t tu_below(tu_rng *r, uint64_t n);
void tu_fill(tu_rng *r, void *buf, size_t n);

/* Scale for long tests: LSM_TEST_SCALE (default 1); make stress sets it higher. */
int tu_scale(void);

/*
 * Runs "lsmctl DIR verify" (lsmctl is its path); returns its exit status and
 * its output, cut to cap - 1 bytes, in out. Fails the test if it cannot run.
 */
int tu_lsmctl_verify(const char *lsmctl, const char *dir, char *out, size_t cap);

/* Runs the suite with Check's normal output; returns the exit status for main. */
int tu_run_suite(Suite *s);

#endif
