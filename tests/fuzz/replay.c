/* SPDX-License-Identifier: ISC */
/*
 * replay - a main() for fuzz targets built without libFuzzer: runs every file named on the
 * command line (directories: every regular file in them, in name order) through
 * LLVMFuzzerTestOneInput once. The ordinary build registers one such program per target as a
 * test over tests/fuzz/corpus/<target>, so every stored input (including regressions for
 * crashes the fuzzer found) is replayed by `meson test`, under the sanitizers in `make sanitize`.
 */
#include "fuzz.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define REPLAY_FILE_MAX (16u * 1024u * 1024u)

int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

/* run_file - read one input whole and run it; 0 or -1 when it cannot be read */
static int
run_file(const char *path)
{
	unsigned char *buf = NULL;
	struct stat st;
	size_t n = 0;
	FILE *f;

	f = fopen(path, "rb");
	if (f == NULL || fstat(fileno(f), &st) == -1 || st.st_size < 0 ||
	    (uint64_t)st.st_size > REPLAY_FILE_MAX) {
		fprintf(stderr, "replay: %s: cannot read: %s\n", path,
		        f == NULL ? strerror(errno) : "too large or not a file");
		if (f != NULL)
			fclose(f);
		return -1;
	}
	/* one spare byte so an empty file still gets a valid pointer */
	buf = malloc((size_t)st.st_size + 1);
	if (buf == NULL) {
		fclose(f);
		return -1;
	}
	n = fread(buf, 1, (size_t)st.st_size, f);
	fclose(f);
	LLVMFuzzerTestOneInput(buf, n);
	free(buf);
	return 0;
}

/* by_name - scandir order */
static int
by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

/* run_dir - every regular file of dir, in name order; returns files run or -1 */
static long
run_dir(const char *dir)
{
	struct dirent **ents;
	char path[4096];
	struct stat st;
	long done = 0;
	int n, i;

	n = scandir(dir, &ents, NULL, by_name);
	if (n < 0) {
		fprintf(stderr, "replay: %s: %s\n", dir, strerror(errno));
		return -1;
	}
	for (i = 0; i < n; i++) {
		if (done >= 0 && ents[i]->d_name[0] != '.' &&
		    snprintf(path, sizeof(path), "%s/%s", dir, ents[i]->d_name) <
		        (int)sizeof(path) &&
		    stat(path, &st) == 0 && S_ISREG(st.st_mode))
			done = run_file(path) == 0 ? done + 1 : -1;
		free(ents[i]);
	}
	free(ents);
	return done;
}

int
main(int argc, char **argv)
{
	struct stat st;
	long total = 0, r;
	int i;

	if (argc < 2) {
		fprintf(stderr, "usage: %s FILE|DIR...  (runs each input once)\n", argv[0]);
		return 2;
	}
	if (LLVMFuzzerInitialize != NULL)
		LLVMFuzzerInitialize(&argc, &argv);
	for (i = 1; i < argc; i++) {
		if (stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode))
			r = run_dir(argv[i]);
		else
			r = run_file(argv[i]) == 0 ? 1 : -1;
		if (r < 0)
			return 1;
		total += r;
	}
	printf("replay: %ld inputs, no crash\n", total);
	return 0;
}
