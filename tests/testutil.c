/* testutil.c — shared helpers for the Check suites; see testutil.h. */
#include "testutil.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

char *tu_mkdtemp(const char *tag)
{
	const char *tmp = getenv("TMPDIR");
	char *path;
	if (!tmp || !*tmp)
		tmp = "/tmp";
	if (asprintf(&path, "%s/lsmtest-%s-XXXXXX", tmp, tag) < 0)
		abort();
	if (!mkdtemp(path)) {
		perror("mkdtemp");
		abort();
	}
	return path;
}

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	remove(p);
	return 0;
}

void tu_rmtree(char *path)
{
	if (!path)
		return;
	nftw(path, rm_one, 64, FTW_DEPTH | FTW_PHYS);
	free(path);
}

char *tu_path(const char *dir, const char *name)
{
	char *p;
	if (asprintf(&p, "%s/%s", dir, name) < 0)
		abort();
	return p;
}

uint64_t tu_seed(void)
{
	static uint64_t seed;
	static int have;
	if (!have) {
		const char *s = getenv("LSM_TEST_SEED");
		if (s && *s) {
			seed = strtoull(s, NULL, 0);
		} else {
			struct timeval tv;
			gettimeofday(&tv, NULL);
			seed = (uint64_t)tv.tv_sec * 1000003u ^ (uint64_t)tv.tv_usec ^
			       (uint64_t)getpid();
		}
		have = 1;
		printf("seed: LSM_TEST_SEED=%llu\n", (unsigned long long)seed);
		fflush(stdout);
	}
	return seed;
}

void tu_rng_init(tu_rng *r, uint64_t seed)
{
	r->s = seed ? seed : 0x9e3779b97f4a7c15ull;
}

uint64_t tu_rand(tu_rng *r)
{
	r->s ^= r->s >> 12;
	r->s ^= r->s << 25;
	r->s ^= r->s >> 27;
	return r->s * 0x2545F4914F6CDD1Dull;
}

uint64_t tu_below(tu_rng *r, uint64_t n)
{
	return n ? tu_rand(r) % n : 0;
}

void tu_fill(tu_rng *r, void *buf, size_t n)
{
	uint8_t *p = buf;
	while (n >= 8) {
		uint64_t v = tu_rand(r);
		memcpy(p, &v, 8);
		p += 8;
		n -= 8;
	}
	while (n--)
		*p++ = (uint8_t)tu_rand(r);
}

int tu_scale(void)
{
	const char *s = getenv("LSM_TEST_SCALE");
	int v = s ? atoi(s) : 1;
	return v > 0 ? v : 1;
}

int tu_lsmctl_verify(const char *lsmctl, const char *dir, char *out, size_t cap)
{
	char *log = tu_path(dir, "..lsmctl.out");
	char cmd[2048];
	snprintf(cmd, sizeof(cmd), "'%s' '%s' verify >'%s' 2>&1", lsmctl, dir, log);
	int st = system(cmd);
	ck_assert_msg(st != -1 && WIFEXITED(st), "running %s failed (status %d)", cmd, st);
	FILE *f = fopen(log, "r");
	size_t n = f ? fread(out, 1, cap - 1, f) : 0;
	out[n] = 0;
	if (f)
		fclose(f);
	unlink(log);
	free(log);
	return WEXITSTATUS(st);
}

int tu_run_suite(Suite *s)
{
	SRunner *sr = srunner_create(s);
	/* Chosen here, before the fork of each test, so that one seed replays them all. */
	(void)tu_seed();
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
