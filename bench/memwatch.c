/*
 * memwatch.c — peak anonymous RSS, sampled (see memwatch.h).
 *
 * /proc/self/statm gives resident and shared pages; shared counts the
 * file-backed and shmem pages, so resident - shared is the anonymous
 * part. The kernel keeps no high-water mark of it, hence the sampling:
 * a peak shorter than the period can be missed, a bound the table states.
 */
#include <config.h>

#include "memwatch.h"

#include <pthread.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

static pthread_t watcher;
static volatile int stop_flag;
static long peak_pages = -1;

static void sample(void)
{
	long size, resident, shared;
	FILE *f = fopen("/proc/self/statm", "r");
	if (!f)
		return;
	if (fscanf(f, "%ld %ld %ld", &size, &resident, &shared) == 3 &&
	    resident - shared > peak_pages)
		peak_pages = resident - shared;
	fclose(f);
}

static void *watch(void *arg)
{
	const struct timespec period = {0, 5 * 1000 * 1000};
	(void)arg;
	while (!__atomic_load_n(&stop_flag, __ATOMIC_ACQUIRE)) {
		sample();
		nanosleep(&period, NULL);
	}
	return NULL;
}

int memwatch_start(void)
{
	stop_flag = 0;
	peak_pages = -1;
	sample();
	return pthread_create(&watcher, NULL, watch, NULL) ? -1 : 0;
}

long memwatch_stop(void)
{
	__atomic_store_n(&stop_flag, 1, __ATOMIC_RELEASE);
	pthread_join(watcher, NULL);
	sample();
	return peak_pages < 0 ? -1 : peak_pages * (sysconf(_SC_PAGESIZE) / 1024);
}
