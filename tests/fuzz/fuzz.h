/*
 * fuzz.h — helpers shared by the fuzz targets in tests/fuzz/.
 *
 * Each target defines LLVMFuzzerTestOneInput(). Built with
 * clang -fsanitize=fuzzer it is a libFuzzer binary (make fuzz); linked with
 * replay_main.c it is a plain program that runs every file of the corpus
 * directories given on its command line (make check).
 *
 * Targets that read files write the input to a scratch directory made once
 * per process (under TMPDIR) and removed at exit.
 */
#ifndef LSMFS_FUZZ_H
#define LSMFS_FUZZ_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char fuzz_dir_path[4096];

static inline void fuzz_dir_cleanup(void)
{
	DIR *d = opendir(fuzz_dir_path);
	struct dirent *de;
	char p[4200];

	if (!d)
		return;
	while ((de = readdir(d)) != NULL) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (snprintf(p, sizeof(p), "%s/%s", fuzz_dir_path, de->d_name) < (int)sizeof(p))
			unlink(p);
	}
	closedir(d);
	rmdir(fuzz_dir_path);
}

/* The scratch directory of this process, made on first use. Aborts on failure. */
static inline const char *fuzz_dir(void)
{
	if (!fuzz_dir_path[0]) {
		const char *tmp = getenv("TMPDIR");
		snprintf(fuzz_dir_path, sizeof(fuzz_dir_path), "%s/lsmfuzz.XXXXXX",
			 tmp && *tmp ? tmp : "/tmp");
		if (!mkdtemp(fuzz_dir_path)) {
			perror("fuzz: mkdtemp");
			abort();
		}
		atexit(fuzz_dir_cleanup);
	}
	return fuzz_dir_path;
}

/* Writes data to name inside the scratch directory (replacing it); the full path goes to path. */
static inline void fuzz_write_file(const char *name, const void *data, size_t size, char *path,
				   size_t pathlen)
{
	const uint8_t *p = data;
	int fd;

	if (snprintf(path, pathlen, "%s/%s", fuzz_dir(), name) >= (int)pathlen) {
		fprintf(stderr, "fuzz: path too long\n");
		abort();
	}
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0) {
		perror(path);
		abort();
	}
	while (size) {
		ssize_t n = write(fd, p, size);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			perror(path);
			abort();
		}
		p += n;
		size -= (size_t)n;
	}
	close(fd);
}

/* A check that holds for every input: failing it is a bug in the code under test. */
#define FUZZ_ASSERT(cond)                                                                     \
	do {                                                                                  \
		if (!(cond)) {                                                                \
			fprintf(stderr, "%s:%d: fuzz check failed: %s\n", __FILE__, __LINE__, \
				#cond);                                                       \
			abort();                                                              \
		}                                                                             \
	} while (0)

#endif
