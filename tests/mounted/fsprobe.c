/*
 * fsprobe.c — the system calls the mounted tests need that no shell tool
 * makes on demand:
 *
 *	fsprobe exchange A B            renameat2(RENAME_EXCHANGE)
 *	fsprobe noreplace A B           renameat2(RENAME_NOREPLACE)
 *	fsprobe seek FILE data|hole OFF lseek(SEEK_DATA / SEEK_HOLE)
 *	fsprobe copy SRC DST LEN        copy_file_range of LEN bytes at offset 0
 *	fsprobe mmapwrite FILE OFF TEXT writes TEXT at OFF through a shared
 *	                                mapping (the file grown to reach it), msync
 *
 * Prints the result (an offset, a byte count) or the errno's name, so that a
 * test compares text; exits 0 on success, 1 on a failed call, 2 on misuse.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static int probe_fail(void)
{
	printf("%s\n", strerrorname_np(errno));
	return 1;
}

static int probe_rename(const char *a, const char *b, unsigned flags)
{
	if (renameat2(AT_FDCWD, a, AT_FDCWD, b, flags) != 0)
		return probe_fail();
	printf("ok\n");
	return 0;
}

static int probe_seek(const char *path, const char *what, const char *off)
{
	int whence = strcmp(what, "hole") == 0 ? SEEK_HOLE : SEEK_DATA;
	int fd = open(path, O_RDONLY);
	off_t pos;

	if (fd < 0)
		return probe_fail();
	pos = lseek(fd, strtoll(off, NULL, 0), whence);
	if (pos < 0) {
		int rc = probe_fail();

		close(fd);
		return rc;
	}
	printf("%lld\n", (long long)pos);
	close(fd);
	return 0;
}

static int probe_copy(const char *src, const char *dst, const char *len)
{
	int in = open(src, O_RDONLY);
	int out = open(dst, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	long long left = strtoll(len, NULL, 0), total = 0;
	int rc = 0;

	if (in < 0 || out < 0) {
		rc = probe_fail();
		goto out;
	}
	while (left > 0) {
		ssize_t n = copy_file_range(in, NULL, out, NULL, (size_t)left, 0);

		if (n < 0) {
			rc = probe_fail();
			goto out;
		}
		if (n == 0)
			break;
		left -= n;
		total += n;
	}
	printf("%lld\n", total);
out:
	if (in >= 0)
		close(in);
	if (out >= 0 && close(out) != 0 && rc == 0)
		rc = probe_fail();
	return rc;
}

static int probe_mmapwrite(const char *path, const char *off_s, const char *text)
{
	off_t off = strtoll(off_s, NULL, 0);
	size_t n = strlen(text);
	int fd = open(path, O_RDWR);
	struct stat st;
	char *p;
	int rc = 0;

	if (fd < 0)
		return probe_fail();
	if (fstat(fd, &st) != 0 || (st.st_size < off + (off_t)n && ftruncate(fd, off + n) != 0)) {
		rc = probe_fail();
		goto out;
	}
	p = mmap(NULL, (size_t)off + n, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		rc = probe_fail();
		goto out;
	}
	memcpy(p + off, text, n);
	if (msync(p, (size_t)off + n, MS_SYNC) != 0)
		rc = probe_fail();
	munmap(p, (size_t)off + n);
	if (rc == 0)
		printf("ok\n");
out:
	close(fd);
	return rc;
}

int main(int argc, char *argv[])
{
	if (argc == 4 && strcmp(argv[1], "exchange") == 0)
		return probe_rename(argv[2], argv[3], RENAME_EXCHANGE);
	if (argc == 4 && strcmp(argv[1], "noreplace") == 0)
		return probe_rename(argv[2], argv[3], RENAME_NOREPLACE);
	if (argc == 5 && strcmp(argv[1], "seek") == 0)
		return probe_seek(argv[2], argv[3], argv[4]);
	if (argc == 5 && strcmp(argv[1], "copy") == 0)
		return probe_copy(argv[2], argv[3], argv[4]);
	if (argc == 5 && strcmp(argv[1], "mmapwrite") == 0)
		return probe_mmapwrite(argv[2], argv[3], argv[4]);
	fprintf(stderr, "usage: fsprobe exchange|noreplace A B | seek FILE data|hole OFF | "
			"copy SRC DST LEN | mmapwrite FILE OFF TEXT\n");
	return 2;
}
