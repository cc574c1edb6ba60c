/*
 * fsstress.h — what the files of the fsstress program share: messages and
 * paths, the random generator, the jobs main() runs, and the model of the
 * logged workload (fsstress_model.c), which its workload (fsstress_log.c)
 * and verifier (fsstress_verify.c) both use.
 */
#ifndef LSM_FSSTRESS_H
#define LSM_FSSTRESS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* -v: say more. */
extern int verbose;

/* Prints the message and exits 2. */
__attribute__((noreturn, format(printf, 1, 2))) void die(const char *fmt, ...);
/* A message into a fixed buffer: cut short if it must be. */
void say(char *out, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* A path into a fixed buffer: too long is a bug of the workload (dies). */
void path_fmt(char *out, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* xorshift64*: a seed means the same operations everywhere. */
struct rng {
	uint64_t s;
};

void rng_init(struct rng *r, uint64_t seed);
uint64_t rnd(struct rng *r);
/* Uniform in [0, n). */
uint64_t below(struct rng *r, uint64_t n);

/* Whether the filesystem under dir went away (ENOTCONN: its daemon was killed). */
int fs_gone(const char *dir);

/* The jobs; each returns the exit status (see fsstress.c). */
int shared_tree(const char *dir, int procs, uint64_t nops, uint64_t seed);
int check_tree(const char *dir);
int logged_workload(const char *dir, const char *log, uint64_t nops, uint64_t seed);
int verify_log(const char *dir, const char *log);

/* ---- the model of the logged workload ---- */

/*
 * The model: nodes (inodes) and entries (names). Node 0 is DIR itself,
 * present once the first operation ("mkroot") is done. A directory has
 * exactly one entry naming it; a file has one per hard link.
 */
#define KNODES 512
#define KENTS  1024
#define KNAME  8

enum { KT_FREE, KT_FILE, KT_DIR };

struct knode {
	int type;
	uint8_t *data;
	size_t size, cap;
	unsigned perm;
	char xv[24];   /* the value of user.k; "" = none */
	nlink_t nlink; /* scanned trees only: what stat said */
};

struct kent {
	int dir; /* the node of the directory holding it; -1 = unused */
	int node;
	char name[KNAME];
};

struct kmodel {
	int root; /* DIR exists */
	struct knode n[KNODES];
	struct kent e[KENTS];
};

enum {
	K_MKROOT,
	K_CREATE,
	K_WRITE,
	K_APPEND,
	K_TRUNC,
	K_RENAME,
	K_LINK,
	K_UNLINK,
	K_MKDIR,
	K_RMDIR,
	K_CHMOD,
	K_SETX,
	K_RMX,
	K_FSYNC,
	K_WSYNC,
	K_NKINDS
};

/* a, b, c: create len,-,dseed; write/wsync off,len,dseed; append -,len,dseed;
 * trunc size; chmod mode; setx value number. */
struct kop {
	uint64_t seq;
	int kind;
	char p[64], q[64];
	uint64_t a, b, c;
};

void km_init(struct kmodel *m);
void km_free(struct kmodel *m);
/* The bytes an operation writes: a stream from its data seed (0: zeros, a hole on lsmfs). */
void gen(uint64_t dseed, uint8_t *p, size_t n);
int km_new_node(struct kmodel *m, int type);
int km_new_ent(struct kmodel *m, int dir, const char *name, int node);
int km_find(const struct kmodel *m, int dir, const char *name);
int km_names(const struct kmodel *m, int node);
int km_subdirs(const struct kmodel *m, int dir);
int km_resolve(const struct kmodel *m, const char *path, int *parent, const char **last);
void km_dir_path(const struct kmodel *m, int dir, char *out, size_t cap);
void km_ent_path(const struct kmodel *m, int e, char *out, size_t cap);
int km_reserve(struct knode *n, size_t size);
int km_is_within(const struct kmodel *m, int node, int dir);
int km_apply(struct kmodel *m, const struct kop *o);
void kop_format(const struct kop *o, char *out, size_t cap);
int kop_parse(const char *s, struct kop *o);

#endif
