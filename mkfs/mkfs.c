/*
 * mkfs.c — mkfs.lsmfs: creates an lsmfs data directory.
 *
 *	mkfs.lsmfs [--chunk-size BYTES] [--force] DATA_DIR
 *
 * The work is lsmfs_mkfs's (one batch: superblock and root inode); this
 * program checks the arguments so that a mistake is named before anything
 * is touched, and says what it made. The root directory belongs to whoever
 * runs it, as with mkfs.ext4's root_owner default.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fs/lsmfs.h"

enum { EXIT_OK = 0, EXIT_REFUSED = 1, EXIT_USAGE = 2 };

static void mkfs_usage(FILE *f)
{
	fprintf(f, "usage: mkfs.lsmfs [--chunk-size BYTES] [--force] DATA_DIR\n");
}

static void mkfs_help(void)
{
	mkfs_usage(stdout);
	printf("\n"
	       "Creates an lsmfs filesystem in DATA_DIR (made, mode 0700, if missing),\n"
	       "to be mounted with 'lsmfs DATA_DIR MOUNTPOINT'.\n"
	       "\n"
	       "  -c, --chunk-size BYTES  size of the pieces file data is cut into: a power\n"
	       "                          of two from 4K to 1M (default %uK; K and M suffixes)\n"
	       "  -f, --force             re-create over an existing lsmfs data directory,\n"
	       "                          destroying everything it held\n"
	       "  -h, --help              print this help\n"
	       "  -V, --version           print the version\n"
	       "\n"
	       "Exit status: 0 created, 1 refused or failed, 2 usage error.\n",
	       LSMFS_DEFAULT_CHUNK / 1024);
}

/* Parses BYTES with an optional binary suffix K or M. */
static int mkfs_parse_chunk(const char *s, uint32_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (end == s || errno || *s == '-' || v > LSMFS_MAX_CHUNK)
		return -1;
	if (*end == 'k' || *end == 'K') {
		v <<= 10;
		end++;
	} else if (*end == 'm' || *end == 'M') {
		v <<= 20;
		end++;
	}
	if (*end != '\0')
		return -1;
	if (v < LSMFS_MIN_CHUNK || v > LSMFS_MAX_CHUNK || (v & (v - 1)) != 0)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

/* What the user can do about a refusal, when the core gave no message. */
static const char *mkfs_hint(int rc)
{
	switch (-rc) {
	case ENOTEMPTY:
		return " (it is not empty and holds no lsmfs; nothing was changed)";
	case EEXIST:
		return " (it holds an lsmfs already: --force re-creates it, destroying its "
		       "contents)";
	case EBUSY:
		return " (it is in use: unmount it first)";
	}
	return "";
}

int main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{"chunk-size", required_argument, NULL, 'c'},
		{"force", no_argument, NULL, 'f'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	lsmfs_mkfs_opts o = {.chunk_size = LSMFS_DEFAULT_CHUNK};
	const char *msg = NULL;
	int c, rc;

	while ((c = getopt_long(argc, argv, "c:fhV", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			if (mkfs_parse_chunk(optarg, &o.chunk_size) != 0) {
				fprintf(stderr,
					"mkfs.lsmfs: bad chunk size '%s': it must be a power of "
					"two "
					"from %u to %u bytes\n",
					optarg, LSMFS_MIN_CHUNK, LSMFS_MAX_CHUNK);
				return EXIT_USAGE;
			}
			break;
		case 'f':
			o.force = 1;
			break;
		case 'h':
			mkfs_help();
			return EXIT_OK;
		case 'V':
			printf("mkfs.lsmfs %s, format version %d\n", PACKAGE_VERSION,
			       LSMFS_FORMAT_VERSION);
			return EXIT_OK;
		default:
			mkfs_usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind != argc - 1) {
		mkfs_usage(stderr);
		return EXIT_USAGE;
	}
	o.root_uid = getuid();
	o.root_gid = getgid();
	rc = lsmfs_mkfs(argv[optind], &o, &msg);
	/* The core's messages name the directory and the way out. */
	if (rc != 0) {
		if (msg)
			fprintf(stderr, "mkfs.lsmfs: %s%s\n", msg,
				rc == -EEXIST ? " (with --force)" : "");
		else
			fprintf(stderr, "mkfs.lsmfs: %s: %s%s\n", argv[optind], strerror(-rc),
				mkfs_hint(rc));
		return EXIT_REFUSED;
	}
	if (msg)
		printf("mkfs.lsmfs: %s\n", msg);
	else
		printf("mkfs.lsmfs: created an lsmfs filesystem in %s\n", argv[optind]);
	printf("  format version %d, root directory owned by uid %u, gid %u\n",
	       LSMFS_FORMAT_VERSION, (unsigned)o.root_uid, (unsigned)o.root_gid);
	return EXIT_OK;
}
