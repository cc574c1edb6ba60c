/*
 * fsx.c — a file exerciser in the manner of the classic fsx: random
 * operations on one file, each checked against an in-memory copy of what the
 * file must hold at that moment.
 *
 *	fsx [options] FILE
 *
 * FILE is created (or truncated) on any filesystem: lsmfs, and the host's
 * own (ext4, tmpfs), so that a fault of the tester is not taken for one of
 * the filesystem. Operations:
 *
 *	read        pread, sometimes across the end of file (short read expected)
 *	write       pwrite of a pattern (or of zeros: holes on lsmfs), extending
 *	mapread     mmap(MAP_SHARED) of the range, compared in place
 *	mapwrite    ftruncate up if needed, mmap, memcpy, msync(MS_SYNC)
 *	truncate    ftruncate up or down
 *	falloc      fallocate mode 0 (extends the size) or FALLOC_FL_KEEP_SIZE
 *	punch       fallocate PUNCH_HOLE|KEEP_SIZE: the range reads as zeros
 *	zero        fallocate ZERO_RANGE, with KEEP_SIZE or without: the range
 *	            reads as zeros; without KEEP_SIZE the file grows to its end
 *	fsync       fsync or fdatasync
 *	invalidate  fdatasync, then POSIX_FADV_DONTNEED: the next reads come from
 *	            the filesystem, not from the page cache
 *	reopen      close and open again
 *
 * After every operation the size (fstat) is compared; every read, mapread
 * and, each -c operations, the whole file are compared byte for byte.
 *
 * Options:
 *	-S seed     random seed (default: from the clock); printed at the start
 *	-N ops      number of operations (default 10000)
 *	-l maxlen   largest file size (default 256 KiB)
 *	-o maxop    largest single read/write/punch (default 64 KiB)
 *	-c n        compare the whole file every n operations (default 1000, 0 = at the end only)
 *	-w op=n     weight of an operation in the mix (0 disables it); repeatable
 *	-R, -W      no mmap reads, no mmap writes
 *	-F          no fallocate (neither falloc nor punch nor zero)
 *	-Z          no zero range (falloc and punch still run)
 *	-s          small writes: 7 of 8 writes (not mapwrites) are 1..8192
 *	            bytes at an offset aligned to nothing (not even 512): the
 *	            read-modify-write of a partial page and chunk; with a file
 *	            (-l) larger than the filesystem's caches, those reads go to
 *	            its disk. So that the file stays that large, 7 of 8
 *	            truncates move its size by at most maxop.
 *	-t trace    write every operation to trace, one per line, as it starts
 *	-r trace    replay the operations of a trace instead of random ones (-N
 *	            stops early: bisecting a failure)
 *	-E file     at the end, write what FILE must hold to file (compare it
 *	            after a remount)
 *	-p n        print progress every n operations
 *	-d          print every operation
 *	-q          print only failures
 *
 * Written data is a function of the operation's number and the byte's
 * offset, so a trace holds no data and a misplaced byte is recognisable.
 * On a mismatch fsx prints the last operations, the first bad offset with
 * the expected and actual bytes and the operation that last set that byte,
 * and exits 1 (2 on misuse).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/falloc.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

enum {
	OP_READ,
	OP_WRITE,
	OP_MAPREAD,
	OP_MAPWRITE,
	OP_TRUNCATE,
	OP_FALLOC,
	OP_PUNCH,
	OP_ZERO,
	OP_FSYNC,
	OP_INVAL,
	OP_REOPEN,
	OP_COUNT
};

static const char *const op_names[OP_COUNT] = {
	"read",	 "write", "mapread", "mapwrite",   "truncate", "falloc",
	"punch", "zero",  "fsync",   "invalidate", "reopen",
};

/* Reads and writes dominate, as in the classic fsx; the rest keep coming. */
static int weights[OP_COUNT] = {24, 24, 10, 10, 7, 5, 6, 5, 4, 6, 4};

struct op {
	uint64_t seq; /* 1, 2, ...: also what the written pattern is made of */
	int kind;
	uint64_t off, len; /* truncate: off is the new size, len 0 */
	int arg;	   /* write, mapwrite: 1 = zeros; falloc, zero: mode; fsync: datasync */
};

#define HISTORY 32

struct fsx {
	const char *path;
	int fd;
	uint64_t maxlen, maxop;
	uint8_t *good; /* maxlen bytes: what the file must hold; zeros past size */
	uint32_t *who; /* per byte: the op that last set it (0: none) */
	uint64_t size; /* what the file's size must be */
	uint8_t *buf;  /* scratch, maxop bytes */
	struct op hist[HISTORY];
	uint64_t done; /* operations run */
	uint64_t counts[OP_COUNT];
	uint64_t rng;
	uint64_t seed;
	long page;
	FILE *trace;
	const char *trace_path, *replay_path, *expect_path;
	int small; /* -s */
	int debug, quiet;
};

static struct fsx X;

/* ---- randomness: xorshift64*, so a seed means the same run everywhere ---- */

static uint64_t rnd(void)
{
	X.rng ^= X.rng >> 12;
	X.rng ^= X.rng << 25;
	X.rng ^= X.rng >> 27;
	return X.rng * 0x2545F4914F6CDD1DULL;
}

/* Uniform in [0, n); n > 0. */
static uint64_t below(uint64_t n)
{
	return rnd() % n;
}

static uint64_t min64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

/*
 * A quarter of offsets and lengths are page- or 64 KiB-aligned (lsmfs's
 * default chunk), so whole-page and whole-chunk paths run, not only the
 * partial ones.
 */
static uint64_t maybe_align(uint64_t v)
{
	switch (below(8)) {
	case 0:
		return v & ~(uint64_t)65535;
	case 1:
		return v & ~(uint64_t)4095;
	default:
		return v;
	}
}

/* What op seq writes at offset off: 253 is prime, so a byte shifted by a page shows. */
static uint8_t pattern(uint64_t seq, uint64_t off)
{
	return (uint8_t)(seq * 29 + off % 253 + (off >> 12) * 7 + 1);
}

/* ---- reporting ---- */

static void describe(char *out, size_t cap, const struct op *o)
{
	const char *name = op_names[o->kind];

	switch (o->kind) {
	case OP_TRUNCATE:
		snprintf(out, cap, "%-10s to %" PRIu64 " (0x%" PRIx64 ")", name, o->off, o->off);
		break;
	case OP_FSYNC:
		snprintf(out, cap, "%-10s %s", name, o->arg ? "fdatasync" : "fsync");
		break;
	case OP_INVAL:
	case OP_REOPEN:
		snprintf(out, cap, "%s", name);
		break;
	default:
		snprintf(out, cap,
			 "%-10s 0x%06" PRIx64 " .. 0x%06" PRIx64 " (off %" PRIu64 ", len %" PRIu64
			 ")%s",
			 name, o->off, o->off + o->len, o->off, o->len,
			 o->kind == OP_FALLOC ? (o->arg ? " keep-size" : " mode 0")
			 : o->kind == OP_ZERO ? (o->arg & FALLOC_FL_KEEP_SIZE ? " keep-size" : "")
			 : (o->kind == OP_WRITE || o->kind == OP_MAPWRITE) && o->arg ? " zeros"
										     : "");
		break;
	}
}

static void print_history(void)
{
	uint64_t cur = X.done + 1; /* the one that failed */
	uint64_t first = cur >= HISTORY ? cur - HISTORY + 1 : 1;
	char line[160];

	fprintf(stderr,
		"fsx: the last %" PRIu64 " operations (file size now expected %" PRIu64 ")\n",
		cur - first + 1, X.size);
	for (uint64_t i = first; i <= cur; i++) {
		const struct op *o = &X.hist[i % HISTORY];

		if (o->seq != i)
			continue;
		describe(line, sizeof(line), o);
		fprintf(stderr, "  %8" PRIu64 " %s\n", o->seq, line);
	}
}

/* Ends the run: what went wrong, the history, how to replay. */
__attribute__((noreturn, format(printf, 1, 2))) static void fail(const char *fmt, ...)
{
	va_list ap;

	if (X.trace)
		fflush(X.trace);
	fprintf(stderr, "fsx: FAIL at operation %" PRIu64 ": ", X.done + 1);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	print_history();
	if (X.replay_path)
		fprintf(stderr, "fsx: replaying %s on %s\n", X.replay_path, X.path);
	else
		fprintf(stderr, "fsx: seed %" PRIu64 " on %s (replay: -S %" PRIu64 "%s%s)\n",
			X.seed, X.path, X.seed, X.trace_path ? ", or -r " : "",
			X.trace_path ? X.trace_path : "");
	exit(1);
}

__attribute__((noreturn)) static void fail_errno(const char *call)
{
	int e = errno;

	fail("%s: %s", call, strerror(e));
}

/* Compares got (len bytes read at off) with the model; on a difference, fails with details. */
static void check_bytes(const uint8_t *got, uint64_t off, uint64_t len, const char *how)
{
	uint64_t i, bad = 0, first;
	uint32_t w;

	if (len == 0 || memcmp(got, X.good + off, len) == 0)
		return;
	for (i = 0; got[i] == X.good[off + i]; i++)
		;
	first = off + i;
	for (; i < len; i++)
		bad += got[i] != X.good[off + i];
	fprintf(stderr, "fsx: %s at %" PRIu64 " len %" PRIu64 ": %" PRIu64 " bad bytes\n", how, off,
		len, bad);
	fprintf(stderr, "fsx: first bad byte at offset %" PRIu64 " (0x%" PRIx64 ")\n", first,
		first);
	fprintf(stderr, "  offset    expected  actual\n");
	for (i = first - off; i < len && i < first - off + 16; i++)
		fprintf(stderr, "  0x%06" PRIx64 "  0x%02x      0x%02x%s\n", off + i,
			X.good[off + i], got[i], X.good[off + i] != got[i] ? "  <-" : "");
	w = X.who[first];
	if (w)
		fprintf(stderr, "fsx: operation %" PRIu32 " last set that byte\n", w);
	else
		fprintf(stderr, "fsx: no operation ever set that byte: it must be zero\n");
	fail("%s: data differs at offset %" PRIu64, how, first);
}

/* ---- the model ---- */

/*
 * Marks [from, to) as set by seq. By doubling copies: a truncate of a file
 * of many megabytes (-s -l) would spend most of the run in a byte loop.
 */
static void set_who(uint64_t from, uint64_t to, uint64_t seq)
{
	uint64_t n = to - from, done = 1;

	if (from >= to)
		return;
	X.who[from] = (uint32_t)seq;
	while (done < n) {
		uint64_t k = min64(done, n - done);

		memcpy(X.who + from + done, X.who + from, k * sizeof(*X.who));
		done += k;
	}
}

static void model_write(const struct op *o)
{
	for (uint64_t i = 0; i < o->len; i++)
		X.good[o->off + i] = o->arg ? 0 : pattern(o->seq, o->off + i);
	set_who(o->off, o->off + o->len, o->seq);
	if (o->off + o->len > X.size)
		X.size = o->off + o->len;
}

static void model_zero(const struct op *o, uint64_t from, uint64_t to)
{
	if (from >= to)
		return;
	memset(X.good + from, 0, to - from);
	set_who(from, to, o->seq);
}

/* The new size: bytes cut off must read as zeros if the file grows again. */
static void model_resize(const struct op *o, uint64_t size)
{
	if (size < X.size)
		model_zero(o, size, X.size);
	else
		model_zero(o, X.size, size);
	X.size = size;
}

/* ---- the operations ---- */

static void do_open(void)
{
	X.fd = open(X.path, O_RDWR);
	if (X.fd < 0)
		fail_errno("open");
}

static void full_pwrite(const void *buf, uint64_t len, uint64_t off)
{
	const uint8_t *p = buf;

	while (len) {
		ssize_t n = pwrite(X.fd, p, len, (off_t)off);

		if (n < 0)
			fail_errno("pwrite");
		if (n == 0)
			fail("pwrite wrote nothing at %" PRIu64, off);
		p += n;
		off += (uint64_t)n;
		len -= (uint64_t)n;
	}
}

/* Reads [off, off+len) as pread gives it (short at end of file); returns the count. */
static uint64_t full_pread(void *buf, uint64_t len, uint64_t off)
{
	uint8_t *p = buf;
	uint64_t got = 0;

	while (got < len) {
		ssize_t n = pread(X.fd, p + got, len - got, (off_t)(off + got));

		if (n < 0)
			fail_errno("pread");
		if (n == 0)
			break;
		got += (uint64_t)n;
	}
	return got;
}

static void op_read(const struct op *o)
{
	uint64_t want = o->off >= X.size ? 0 : min64(o->len, X.size - o->off);
	uint64_t got = full_pread(X.buf, o->len, o->off);

	if (got != want)
		fail("read at %" PRIu64 " len %" PRIu64 " gave %" PRIu64 " bytes, expected %" PRIu64
		     " (size %" PRIu64 ")",
		     o->off, o->len, got, want, X.size);
	check_bytes(X.buf, o->off, got, "read");
}

static void fill(const struct op *o, uint8_t *p)
{
	for (uint64_t i = 0; i < o->len; i++)
		p[i] = o->arg ? 0 : pattern(o->seq, o->off + i);
}

static void op_write(const struct op *o)
{
	fill(o, X.buf);
	full_pwrite(X.buf, o->len, o->off);
	model_write(o);
}

/* mmap faults past the end of file raise SIGBUS: turn that into a report. */
static sigjmp_buf bus_jmp;
static volatile sig_atomic_t bus_armed;

static void on_sigbus(int sig)
{
	(void)sig;
	if (bus_armed)
		siglongjmp(bus_jmp, 1);
	signal(SIGBUS, SIG_DFL);
	raise(SIGBUS);
}

static uint8_t *map(const struct op *o, int prot, uint64_t *pg, uint64_t *maplen)
{
	void *p;

	*pg = o->off & ~(uint64_t)(X.page - 1);
	*maplen = o->off + o->len - *pg;
	p = mmap(NULL, *maplen, prot, MAP_SHARED, X.fd, (off_t)*pg);
	if (p == MAP_FAILED)
		fail_errno("mmap");
	return p;
}

static void op_mapread(const struct op *o)
{
	uint64_t pg, maplen;
	uint8_t *p = map(o, PROT_READ, &pg, &maplen);

	if (sigsetjmp(bus_jmp, 1)) {
		bus_armed = 0;
		fail("SIGBUS reading the mapping at %" PRIu64 " len %" PRIu64 " (size %" PRIu64 ")",
		     o->off, o->len, X.size);
	}
	bus_armed = 1;
	memcpy(X.buf, p + (o->off - pg), o->len);
	bus_armed = 0;
	if (munmap(p, maplen))
		fail_errno("munmap");
	check_bytes(X.buf, o->off, o->len, "mapread");
}

static void op_mapwrite(const struct op *o)
{
	uint64_t pg, maplen;
	uint8_t *p;

	if (o->off + o->len > X.size) {
		if (ftruncate(X.fd, (off_t)(o->off + o->len)))
			fail_errno("ftruncate before mapwrite");
		model_resize(o, o->off + o->len);
	}
	p = map(o, PROT_READ | PROT_WRITE, &pg, &maplen);
	fill(o, X.buf);
	if (sigsetjmp(bus_jmp, 1)) {
		bus_armed = 0;
		fail("SIGBUS writing the mapping at %" PRIu64 " len %" PRIu64 " (size %" PRIu64 ")",
		     o->off, o->len, X.size);
	}
	bus_armed = 1;
	memcpy(p + (o->off - pg), X.buf, o->len);
	bus_armed = 0;
	if (msync(p, maplen, MS_SYNC))
		fail_errno("msync");
	if (munmap(p, maplen))
		fail_errno("munmap");
	model_write(o);
}

/*
 * A filesystem may have fallocate but not ZERO_RANGE (tmpfs): a refused
 * zero range turns off only itself. The message is what a campaign looks
 * for to tell that an operation never ran.
 */
static void disable_falloc(int mode, const char *why)
{
	if (mode & FALLOC_FL_ZERO_RANGE) {
		if (weights[OP_ZERO] && !X.quiet)
			printf("fsx: zero range not supported here (%s): zero off\n", why);
		weights[OP_ZERO] = 0;
	} else if (weights[OP_FALLOC] || weights[OP_PUNCH]) {
		if (!X.quiet)
			printf("fsx: fallocate not supported here (%s): falloc and punch off\n",
			       why);
		weights[OP_FALLOC] = weights[OP_PUNCH] = 0;
	}
}

/* fallocate; 1 when the filesystem does not support it (nothing changed). */
static int falloc(int mode, uint64_t off, uint64_t len)
{
	if (fallocate(X.fd, mode, (off_t)off, (off_t)len) == 0)
		return 0;
	if (errno == EOPNOTSUPP || errno == ENOSYS) {
		disable_falloc(mode, strerror(errno));
		return 1;
	}
	fail_errno("fallocate");
}

static void op_falloc(const struct op *o)
{
	if (falloc(o->arg, o->off, o->len))
		return;
	if (!(o->arg & FALLOC_FL_KEEP_SIZE) && o->off + o->len > X.size)
		model_resize(o, o->off + o->len);
}

static void op_punch(const struct op *o)
{
	if (falloc(FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, o->off, o->len))
		return;
	if (o->off < X.size)
		model_zero(o, o->off, min64(o->off + o->len, X.size));
}

static void op_zero(const struct op *o)
{
	if (falloc(o->arg, o->off, o->len))
		return;
	if (o->off < X.size)
		model_zero(o, o->off, min64(o->off + o->len, X.size));
	if (!(o->arg & FALLOC_FL_KEEP_SIZE) && o->off + o->len > X.size)
		model_resize(o, o->off + o->len);
}

static void op_truncate(const struct op *o)
{
	if (ftruncate(X.fd, (off_t)o->off))
		fail_errno("ftruncate");
	model_resize(o, o->off);
}

static void op_fsync(const struct op *o)
{
	if (o->arg ? fdatasync(X.fd) : fsync(X.fd))
		fail_errno(o->arg ? "fdatasync" : "fsync");
}

static void op_invalidate(void)
{
	int rc;

	if (fdatasync(X.fd))
		fail_errno("fdatasync");
	rc = posix_fadvise(X.fd, 0, 0, POSIX_FADV_DONTNEED);
	if (rc) {
		errno = rc;
		fail_errno("posix_fadvise(DONTNEED)");
	}
}

static void op_reopen(void)
{
	if (close(X.fd))
		fail_errno("close");
	do_open();
}

static void check_size(const char *when)
{
	struct stat st;

	if (fstat(X.fd, &st))
		fail_errno("fstat");
	if ((uint64_t)st.st_size != X.size)
		fail("size is %lld %s, expected %" PRIu64, (long long)st.st_size, when, X.size);
}

/* Compares the whole file, and that nothing is read past its end. */
static void check_all(const char *when)
{
	for (uint64_t off = 0; off < X.size; off += X.maxop) {
		uint64_t len = min64(X.maxop, X.size - off);
		uint64_t got = full_pread(X.buf, len, off);

		if (got != len)
			fail("reading the whole file %s: %" PRIu64 " bytes at %" PRIu64
			     ", expected %" PRIu64,
			     when, got, off, len);
		check_bytes(X.buf, off, len, when);
	}
	if (full_pread(X.buf, 1, X.size) != 0)
		fail("a byte read past the end (size %" PRIu64 ") %s", X.size, when);
}

/* The model's contents, for a comparison after a remount. */
static void write_expected(void)
{
	FILE *f = fopen(X.expect_path, "w");

	if (!f || fwrite(X.good, 1, X.size, f) != X.size || fclose(f)) {
		perror(X.expect_path);
		exit(2);
	}
}

/* ---- choosing, tracing, running ---- */

static int pick_kind(void)
{
	int total = 0, k;
	uint64_t r;

	for (k = 0; k < OP_COUNT; k++)
		total += weights[k];
	r = below((uint64_t)total);
	for (k = 0; k < OP_COUNT; k++) {
		if (r < (uint64_t)weights[k])
			break;
		r -= (uint64_t)weights[k];
	}
	return k;
}

/* Offset and length of a range that may grow the file up to maxlen. */
static void pick_range(struct op *o)
{
	o->off = maybe_align(below(X.maxlen));
	o->len = 1 + below(min64(X.maxop, X.maxlen - o->off));
	if (below(4) == 0 && o->len >= 4096)
		o->len &= ~(uint64_t)4095;
}

/* -s: 1..8192 bytes at an offset that no sector, page or chunk boundary starts. */
static void pick_small(struct op *o)
{
	o->len = 1 + below(min64(min64(8192, X.maxop), X.maxlen));
	o->off = below(X.maxlen - o->len + 1);
	if (o->off % 512 == 0 && o->off + o->len < X.maxlen)
		o->off++;
}

static void choose(struct op *o, uint64_t seq)
{
	memset(o, 0, sizeof(*o));
	o->seq = seq;
	o->kind = pick_kind();
	/* mmap needs something to map */
	if (o->kind == OP_MAPREAD && X.size == 0)
		o->kind = OP_READ;
	switch (o->kind) {
	case OP_READ:
		o->off = X.size ? maybe_align(below(X.size + X.size / 16 + 1)) : 0;
		o->len = 1 + below(X.maxop);
		break;
	case OP_MAPREAD:
		o->off = maybe_align(below(X.size));
		o->len = 1 + below(min64(X.maxop, X.size - o->off));
		break;
	case OP_WRITE:
	case OP_MAPWRITE:
		if (X.small && o->kind == OP_WRITE && below(8))
			pick_small(o);
		else
			pick_range(o);
		o->arg = below(10) == 0;
		break;
	case OP_FALLOC:
		pick_range(o);
		o->arg = below(3) == 0 ? FALLOC_FL_KEEP_SIZE : 0;
		break;
	case OP_PUNCH:
		o->off = maybe_align(below(X.size + X.size / 8 + 1));
		o->len = 1 + below(X.maxop);
		break;
	case OP_ZERO:
		/* mostly where there is data to zero, sometimes past the end; never past maxlen */
		o->off = maybe_align(below(min64(X.size + X.size / 8 + 1, X.maxlen)));
		o->len = 1 + below(min64(X.maxop, X.maxlen - o->off));
		o->arg = FALLOC_FL_ZERO_RANGE | (below(2) ? FALLOC_FL_KEEP_SIZE : 0);
		break;
	case OP_TRUNCATE:
		if (X.small && below(8)) {
			/* -s: the file stays large, its size moves by up to maxop */
			o->off = X.size - min64(X.size, X.maxop / 2) + below(X.maxop + 1);
			o->off = min64(o->off, X.maxlen);
			break;
		}
		/* down more often than up, else the file just sits at maxlen */
		o->off = maybe_align(below(2) ? below(X.size + 1) : below(X.maxlen + 1));
		break;
	case OP_FSYNC:
		o->arg = (int)below(2);
		break;
	default:
		break;
	}
}

static void trace_op(const struct op *o)
{
	if (!X.trace)
		return;
	fprintf(X.trace, "%" PRIu64 " %s %" PRIu64 " %" PRIu64 " %d\n", o->seq, op_names[o->kind],
		o->off, o->len, o->arg);
}

static void run(const struct op *o)
{
	X.hist[o->seq % HISTORY] = *o;
	trace_op(o);
	if (X.debug) {
		char line[160];

		describe(line, sizeof(line), o);
		printf("%8" PRIu64 " %s\n", o->seq, line);
	}
	switch (o->kind) {
	case OP_READ:
		op_read(o);
		break;
	case OP_WRITE:
		op_write(o);
		break;
	case OP_MAPREAD:
		op_mapread(o);
		break;
	case OP_MAPWRITE:
		op_mapwrite(o);
		break;
	case OP_TRUNCATE:
		op_truncate(o);
		break;
	case OP_FALLOC:
		op_falloc(o);
		break;
	case OP_PUNCH:
		op_punch(o);
		break;
	case OP_ZERO:
		op_zero(o);
		break;
	case OP_FSYNC:
		op_fsync(o);
		break;
	case OP_INVAL:
		op_invalidate();
		break;
	case OP_REOPEN:
		op_reopen();
		break;
	default:
		fail("unknown operation kind %d", o->kind);
	}
	check_size("after the operation");
	X.counts[o->kind]++;
	X.done = o->seq;
}

/* Parses one trace line; 0 at a valid op, 1 for a comment, -1 at a bad line. */
static int parse_line(const char *line, struct op *o)
{
	char name[32];
	unsigned long long seq, off, len;
	int arg;

	if (line[0] == '#' || line[0] == '\n')
		return 1;
	if (sscanf(line, "%llu %31s %llu %llu %d", &seq, name, &off, &len, &arg) != 5)
		return -1;
	memset(o, 0, sizeof(*o));
	for (o->kind = 0; o->kind < OP_COUNT; o->kind++)
		if (strcmp(name, op_names[o->kind]) == 0)
			break;
	if (o->kind == OP_COUNT)
		return -1;
	o->seq = seq;
	o->off = off;
	o->len = len;
	o->arg = arg;
	return 0;
}

/* Operations must stay inside the buffers this run allocated. */
static int op_fits(const struct op *o)
{
	switch (o->kind) {
	case OP_READ:
	case OP_PUNCH:
		return o->len <= X.maxop && o->len > 0;
	case OP_MAPREAD:
		return o->len > 0 && o->len <= X.maxop && o->off + o->len <= X.size;
	case OP_WRITE:
	case OP_MAPWRITE:
	case OP_FALLOC:
		return o->len > 0 && o->len <= X.maxop && o->off + o->len <= X.maxlen;
	case OP_ZERO:
		return o->len > 0 && o->len <= X.maxop && o->off + o->len <= X.maxlen &&
		       (o->arg == FALLOC_FL_ZERO_RANGE ||
			o->arg == (FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE));
	case OP_TRUNCATE:
		return o->off <= X.maxlen;
	default:
		return 1;
	}
}

/* Reads the header's maxlen and maxop, so the replay sizes its buffers as the run did. */
static void replay_header(FILE *f)
{
	char line[256];
	unsigned long long seed, maxlen, maxop;

	if (fgets(line, sizeof(line), f) &&
	    sscanf(line, "# fsx trace: seed %llu maxlen %llu maxop %llu", &seed, &maxlen, &maxop) ==
		    3) {
		X.seed = seed;
		X.maxlen = maxlen;
		X.maxop = maxop;
	}
	rewind(f);
}

static void replay(FILE *f, uint64_t limit, uint64_t check_every)
{
	char line[256];
	struct op o;
	uint64_t n = 0, lineno = 0;

	while (n < limit && fgets(line, sizeof(line), f)) {
		int rc = parse_line(line, &o);

		lineno++;
		if (rc > 0)
			continue;
		if (rc < 0 || o.seq != X.done + 1 || !op_fits(&o)) {
			fprintf(stderr,
				"fsx: %s:%" PRIu64 ": not an operation this run can replay\n",
				X.replay_path, lineno);
			exit(2);
		}
		run(&o);
		n++;
		if (check_every && n % check_every == 0)
			check_all("in the periodic check");
	}
}

static void set_weight(const char *spec)
{
	const char *eq = strchr(spec, '=');

	for (int k = 0; eq && k < OP_COUNT; k++) {
		if (strlen(op_names[k]) == (size_t)(eq - spec) &&
		    strncmp(spec, op_names[k], (size_t)(eq - spec)) == 0) {
			weights[k] = atoi(eq + 1);
			return;
		}
	}
	fprintf(stderr, "fsx: -w wants op=weight with op one of:");
	for (int k = 0; k < OP_COUNT; k++)
		fprintf(stderr, " %s", op_names[k]);
	fputc('\n', stderr);
	exit(2);
}

static void usage(void)
{
	fprintf(stderr, "usage: fsx [-S seed] [-N ops] [-l maxlen] [-o maxop] [-c n] [-w op=n]... "
			"[-RWFZs] [-t trace | -r trace] [-E file] [-p n] [-dq] FILE\n");
	exit(2);
}

int main(int argc, char **argv)
{
	uint64_t nops = 10000, check_every = 1000, progress = 0;
	FILE *replay_file = NULL;
	struct timespec t0, t1;
	int c, total = 0;

	X.maxlen = 256 * 1024;
	X.maxop = 64 * 1024;
	while ((c = getopt(argc, argv, "S:N:l:o:c:w:RWFZst:r:E:p:dq")) != -1) {
		switch (c) {
		case 'S':
			X.seed = strtoull(optarg, NULL, 0);
			break;
		case 'N':
			nops = strtoull(optarg, NULL, 0);
			break;
		case 'l':
			X.maxlen = strtoull(optarg, NULL, 0);
			break;
		case 'o':
			X.maxop = strtoull(optarg, NULL, 0);
			break;
		case 'c':
			check_every = strtoull(optarg, NULL, 0);
			break;
		case 'w':
			set_weight(optarg);
			break;
		case 'R':
			weights[OP_MAPREAD] = 0;
			break;
		case 'W':
			weights[OP_MAPWRITE] = 0;
			break;
		case 'F':
			weights[OP_FALLOC] = weights[OP_PUNCH] = weights[OP_ZERO] = 0;
			break;
		case 'Z':
			weights[OP_ZERO] = 0;
			break;
		case 's':
			X.small = 1;
			break;
		case 't':
			X.trace_path = optarg;
			break;
		case 'r':
			X.replay_path = optarg;
			break;
		case 'E':
			X.expect_path = optarg;
			break;
		case 'p':
			progress = strtoull(optarg, NULL, 0);
			break;
		case 'd':
			X.debug = 1;
			break;
		case 'q':
			X.quiet = 1;
			break;
		default:
			usage();
		}
	}
	if (optind != argc - 1)
		usage();
	X.path = argv[optind];
	if (X.replay_path) {
		replay_file = fopen(X.replay_path, "r");
		if (!replay_file) {
			perror(X.replay_path);
			return 2;
		}
		replay_header(replay_file);
	} else if (!X.seed) {
		clock_gettime(CLOCK_REALTIME, &t0);
		X.seed = ((uint64_t)t0.tv_sec * 1000000007u) ^ (uint64_t)t0.tv_nsec ^
			 ((uint64_t)getpid() << 32);
	}
	for (int k = 0; k < OP_COUNT; k++)
		total += weights[k];
	if (X.maxlen < 1 || X.maxop < 1 || X.maxlen > (1ull << 32) || total <= 0 || weights[0] < 0)
		usage();
	X.rng = X.seed ? X.seed : 1;
	X.page = sysconf(_SC_PAGESIZE);
	X.good = calloc(X.maxlen + 1, 1);
	X.who = calloc(X.maxlen + 1, sizeof(*X.who));
	X.buf = malloc(X.maxop + 1);
	if (!X.good || !X.who || !X.buf) {
		fprintf(stderr, "fsx: out of memory\n");
		return 2;
	}
	signal(SIGBUS, on_sigbus);
	if (X.trace_path) {
		X.trace = fopen(X.trace_path, "w");
		if (!X.trace) {
			perror(X.trace_path);
			return 2;
		}
		setvbuf(X.trace, NULL, _IOLBF, 0);
		fprintf(X.trace,
			"# fsx trace: seed %" PRIu64 " maxlen %" PRIu64 " maxop %" PRIu64 "\n",
			X.seed, X.maxlen, X.maxop);
	}
	if (!X.quiet) {
		if (X.replay_path)
			printf("fsx: replaying %s on %s\n", X.replay_path, X.path);
		else
			printf("fsx: seed %" PRIu64 ", %" PRIu64
			       " operations on %s, maxlen %" PRIu64 ", maxop %" PRIu64 "\n",
			       X.seed, nops, X.path, X.maxlen, X.maxop);
		fflush(stdout);
	}
	X.fd = open(X.path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (X.fd < 0) {
		perror(X.path);
		return 2;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (replay_file) {
		replay(replay_file, nops, check_every);
		fclose(replay_file);
	} else {
		for (uint64_t seq = 1; seq <= nops; seq++) {
			struct op o;

			choose(&o, seq);
			run(&o);
			if (check_every && seq % check_every == 0)
				check_all("in the periodic check");
			if (progress && seq % progress == 0 && !X.quiet) {
				printf("fsx: %" PRIu64 " operations done, size %" PRIu64 "\n", seq,
				       X.size);
				fflush(stdout);
			}
		}
	}
	/* The end: what a fresh open, with nothing cached, finds. */
	op_reopen();
	op_invalidate();
	check_size("after the last reopen");
	check_all("after the last reopen");
	if (close(X.fd))
		fail_errno("close");
	if (X.expect_path)
		write_expected();
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (X.trace)
		fclose(X.trace);
	if (!X.quiet) {
		printf("fsx: %" PRIu64 " operations passed in %.1f s (seed %" PRIu64 "):", X.done,
		       (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9,
		       X.seed);
		for (int k = 0; k < OP_COUNT; k++)
			printf(" %s %" PRIu64, op_names[k], X.counts[k]);
		printf("\n");
	}
	free(X.good);
	free(X.who);
	free(X.buf);
	return 0;
}
