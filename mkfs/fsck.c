/*
 * fsck.c — fsck.lsmfs: checks, and with -y repairs, an lsmfs data directory
 * that is not mounted.
 *
 *	fsck.lsmfs [-n | -y] [--progress | --no-progress] DATA_DIR
 *
 * The work is lsmfs_check's (fs/fsck/); this program chooses the mode,
 * prints each problem with its repair as a question answered "yes" (-y) or
 * "no" (-n, or neither flag: report only), shows progress on a terminal,
 * and exits with e2fsck's codes, OR'ed together:
 *
 *	0 clean, 1 errors fixed, 4 errors left uncorrected,
 *	8 operational error (usage, cannot open, in use).
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fs/fsck/fscheck.h"
#include "fs/lsmfs.h"

enum { EXIT_CLEAN = 0, EXIT_FIXED = 1, EXIT_UNCORRECTED = 4, EXIT_OPERATIONAL = 8 };

#define BAR_WIDTH  24
#define LINE_WIDTH 80 /* wider than any progress line */

struct ui {
	int repair;
	int progress; /* draw the progress line on stderr */
	int shown;    /* a progress line is on the screen */
	int phase, pct;
};

static void fsck_usage(FILE *f)
{
	fprintf(f, "usage: fsck.lsmfs [-n | -y] [--progress | --no-progress] DATA_DIR\n");
}

static void fsck_help(void)
{
	fsck_usage(stdout);
	printf("\n"
	       "Checks the lsmfs filesystem in DATA_DIR, which must not be mounted: the\n"
	       "engine's tables and WAL, then every inode, entry, chunk and count.\n"
	       "\n"
	       "  -n, --no           report only; open read-only and change nothing\n"
	       "  -y, --yes          repair every problem that can be repaired\n"
	       "      --progress     show phases and a percentage on stderr (the default\n"
	       "                     when stderr is a terminal)\n"
	       "      --no-progress  do not\n"
	       "  -h, --help         print this help\n"
	       "  -V, --version      print the version\n"
	       "\n"
	       "Without -n or -y it reports as -n does and says how to repair.\n"
	       "Exit status (added together): 0 clean, 1 errors fixed, 4 errors left\n"
	       "uncorrected, 8 operational error (usage, cannot open, in use).\n");
}

static void progress_clear(struct ui *u)
{
	if (!u->shown)
		return;
	fprintf(stderr, "\r%*s\r", LINE_WIDTH, "");
	fflush(stderr);
	u->shown = 0;
}

static void show_progress(void *arg, int phase, int nphases, const char *what, uint64_t done,
			  uint64_t total)
{
	struct ui *u = arg;
	int pct = total ? (int)(done >= total ? 100 : done * 100 / total) : -1;
	char bar[BAR_WIDTH + 1];

	if (!u->progress || (phase == u->phase && pct == u->pct))
		return;
	u->phase = phase;
	u->pct = pct;
	if (pct < 0) {
		fprintf(stderr, "\r[%d/%d] %-40.40s%*s", phase, nphases, what, BAR_WIDTH + 8, "");
	} else {
		int fill = pct * BAR_WIDTH / 100;

		memset(bar, '#', (size_t)fill);
		memset(bar + fill, '.', (size_t)(BAR_WIDTH - fill));
		bar[BAR_WIDTH] = '\0';
		fprintf(stderr, "\r[%d/%d] %-40.40s [%s] %3d%%", phase, nphases, what, bar, pct);
	}
	fflush(stderr);
	u->shown = 1;
}

static void print_report(void *arg, const lsmfs_check_report *r)
{
	struct ui *u = arg;

	progress_clear(u);
	switch (r->kind) {
	case LSMFS_CK_PROBLEM:
		if (r->fix)
			printf("%s. %s? %s\n", r->what, r->fix, u->repair ? "yes" : "no");
		else
			printf("%s. (fsck.lsmfs cannot repair this)\n", r->what);
		break;
	case LSMFS_CK_NOTE:
		if (u->repair && r->fix)
			printf("note: %s. %s? yes\n", r->what, r->fix);
		else
			printf("note: %s.\n", r->what);
		break;
	default:
		printf("    lost: %s\n", r->what);
		break;
	}
	fflush(stdout);
}

static void print_summary(const char *dir, const lsmfs_check_result *res)
{
	printf("%s: %" PRIu64 " inode%s (%" PRIu64 " director%s, %" PRIu64 " file%s, %" PRIu64
	       " symlink%s), %" PRIu64 " chunk%s (%.1f MiB), %" PRIu64 " keys\n",
	       dir, res->inodes, res->inodes == 1 ? "" : "s", res->dirs,
	       res->dirs == 1 ? "y" : "ies", res->files, res->files == 1 ? "" : "s", res->symlinks,
	       res->symlinks == 1 ? "" : "s", res->chunks, res->chunks == 1 ? "" : "s",
	       (double)res->chunk_bytes / (1024.0 * 1024.0), res->keys);
}

/* The exit status of a check that ran, and its last lines. */
static int conclude(const char *dir, const lsmfs_check_result *res, int repair, int asked,
		    const char *msg)
{
	uint64_t left = res->errors - res->fixed;
	int code = EXIT_CLEAN;

	if (res->incomplete)
		printf("%s: %s\n", dir, msg ? msg : "the filesystem was not checked");
	else
		print_summary(dir, res);
	/* Not a problem, so no question: only what it means for st_blocks, and who fixes it. */
	if (res->old_inodes && !res->incomplete) {
		const char *s = res->old_inodes == 1 ? "" : "s";

		if (repair && res->modified)
			printf("%s: %" PRIu64 " file%s written by an older build now count%s "
			       "stored bytes in st_blocks\n",
			       dir, res->old_inodes, s, res->old_inodes == 1 ? "s" : "");
		else if (!repair)
			printf("%s: %" PRIu64 " file%s written by an older build count%s whole "
			       "chunks in st_blocks (fsck.lsmfs -y counts stored bytes)\n",
			       dir, res->old_inodes, s, res->old_inodes == 1 ? "s" : "");
	}
	if (res->fixed || res->finished)
		code |= EXIT_FIXED;
	if (left || res->incomplete)
		code |= EXIT_UNCORRECTED;
	if (res->errors == 0 && !res->incomplete) {
		printf("%s: clean", dir);
		if (res->finished)
			printf("; %" PRIu64 " orphan%s freed", res->finished,
			       res->finished == 1 ? "" : "s");
		else if (res->notes)
			printf(" (%" PRIu64 " note%s above)", res->notes,
			       res->notes == 1 ? "" : "s");
		printf("\n");
	} else if (repair) {
		printf("%s: %" PRIu64 " problem%s, %" PRIu64 " fixed%s\n", dir, res->errors,
		       res->errors == 1 ? "" : "s", res->fixed,
		       res->modified ? "; the filesystem was modified" : "");
	} else {
		printf("%s: %" PRIu64 " problem%s, none fixed (%s)\n", dir, res->errors,
		       res->errors == 1 ? "" : "s", asked ? "-n" : "report only");
		if (res->errors > res->unfixable && !res->incomplete)
			printf("%s: run 'fsck.lsmfs -y %s' to repair %s\n", dir, dir,
			       res->unfixable ? "what can be repaired" : "them");
	}
	return code;
}

int main(int argc, char *argv[])
{
	enum { OPT_PROGRESS = 256, OPT_NO_PROGRESS };
	static const struct option longopts[] = {
		{"no", no_argument, NULL, 'n'},
		{"yes", no_argument, NULL, 'y'},
		{"progress", no_argument, NULL, OPT_PROGRESS},
		{"no-progress", no_argument, NULL, OPT_NO_PROGRESS},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	struct ui u = {.phase = -1, .pct = -2};
	lsmfs_check_opts o;
	lsmfs_check_result res;
	const char *msg = NULL, *dir;
	int c, rc, no = 0, yes = 0, progress = -1, code;

	while ((c = getopt_long(argc, argv, "nyhV", longopts, NULL)) != -1) {
		switch (c) {
		case 'n':
			no = 1;
			break;
		case 'y':
			yes = 1;
			break;
		case OPT_PROGRESS:
			progress = 1;
			break;
		case OPT_NO_PROGRESS:
			progress = 0;
			break;
		case 'h':
			fsck_help();
			return EXIT_CLEAN;
		case 'V':
			printf("fsck.lsmfs %s, format version %d\n", PACKAGE_VERSION,
			       LSMFS_FORMAT_VERSION);
			return EXIT_CLEAN;
		default:
			fsck_usage(stderr);
			return EXIT_OPERATIONAL;
		}
	}
	if (optind != argc - 1 || (no && yes)) {
		if (no && yes)
			fprintf(stderr, "fsck.lsmfs: -n and -y exclude each other\n");
		fsck_usage(stderr);
		return EXIT_OPERATIONAL;
	}
	dir = argv[optind];
	u.repair = yes;
	u.progress = progress >= 0 ? progress : isatty(STDERR_FILENO);
	memset(&o, 0, sizeof(o));
	o.repair = yes;
	o.report = print_report;
	o.progress = show_progress;
	o.arg = &u;
	printf("fsck.lsmfs: checking %s (%s)\n", dir,
	       yes  ? "-y: repairing"
	       : no ? "-n: read-only, nothing will be changed"
		    : "report only: nothing will be changed; -y repairs");
	fflush(stdout);
	rc = lsmfs_check(dir, &o, &res, &msg);
	progress_clear(&u);
	if (rc) {
		fprintf(stderr, "fsck.lsmfs: %s\n", msg ? msg : strerror(-rc));
		code = EXIT_OPERATIONAL;
		/* A failed repair leaves the problems it found uncorrected. */
		if (res.errors)
			code |= EXIT_UNCORRECTED;
		return code;
	}
	return conclude(dir, &res, yes, no, msg);
}
