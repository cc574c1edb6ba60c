/*
 * fuzz_manifest.c — MANIFEST recovery (lsm_vset_recover, lsm/version.h) of a
 * directory whose CURRENT names a MANIFEST holding the input, lenient and
 * with paranoid_checks. Recovery must either fail cleanly or produce a
 * version whose levels keep their promises (L0 newest first, deeper levels
 * sorted and disjoint).
 */
#include "fuzz.h"

#include "error.h"
#include "version.h"

static void check_version(const lsm_version *v)
{
	for (int level = 0; level < LSM_MAX_LEVELS; level++) {
		FUZZ_ASSERT(v->nfiles[level] >= 0);
		for (int i = 0; i < v->nfiles[level]; i++) {
			const lsm_file_meta *m = v->files[level][i];
			lsm_slice s = lsm_slice_of(m->smallest.data, m->smallest.len);
			lsm_slice l = lsm_slice_of(m->largest.data, m->largest.len);
			FUZZ_ASSERT(s.len >= LSM_TRAILER && l.len >= LSM_TRAILER);
			if (i == 0)
				continue;
			const lsm_file_meta *p = v->files[level][i - 1];
			if (level == 0) {
				FUZZ_ASSERT(p->number > m->number);
			} else {
				lsm_slice pl = lsm_slice_of(p->largest.data, p->largest.len);
				FUZZ_ASSERT(lsm_ikey_compare(pl, s) < 0);
			}
		}
	}
}

static void recover(const char *dir, int paranoid)
{
	lsm_version_set vs;
	lsm_options opts;
	int rc;

	lsm_options_init(&opts);
	opts.paranoid_checks = paranoid;
	memset(&vs, 0, sizeof(vs));
	rc = lsm_vset_recover(&vs, lsm_env_posix(), dir, &opts);
	if (rc) {
		FUZZ_ASSERT(rc < 0);
		(void)lsm_errmsg();
		return;
	}
	FUZZ_ASSERT(vs.current != NULL);
	check_version(vs.current);
	for (int level = 0; level < LSM_MAX_LEVELS; level++)
		for (int i = 0; i < vs.current->nfiles[level]; i++)
			FUZZ_ASSERT(lsm_vset_is_live(&vs, vs.current->files[level][i]->number));
	lsm_vset_destroy(&vs);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char current[] = "MANIFEST-000001\n";
	char path[4200];

	fuzz_write_file("CURRENT", current, sizeof(current) - 1, path, sizeof(path));
	fuzz_write_file("MANIFEST-000001", data, size, path, sizeof(path));
	recover(fuzz_dir(), 0);
	recover(fuzz_dir(), 1);
	return 0;
}
