/*-------------------------------------------------------------------------
 *
 * fuzz_driver.h
 *	  What the plain drivers of the fuzz targets share (built with
 *	  -DFUZZ_DRIVER): a seeded random sequence, and running the corpus
 *	  files and directories named on the command line through
 *	  LLVMFuzzerTestOneInput.
 *
 * Included once, by a target's driver section, after its
 * LLVMFuzzerTestOneInput.
 *
 *-------------------------------------------------------------------------
 */
#ifndef QUEUE_FUZZ_DRIVER_H
#define QUEUE_FUZZ_DRIVER_H

#include <dirent.h>
#include <sys/stat.h>

static uint64_t rng_state;

static uint32_t
rng(void)
{
	/* xorshift64*: the same sequence everywhere for a given seed */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (uint32_t) ((rng_state * UINT64_C(2685821657736338717)) >> 32);
}

static int
run_file(const char *path)
{
	FILE	   *f = fopen(path, "rb");
	uint8_t    *buf;
	long		size;

	if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 ||
		fseek(f, 0, SEEK_SET) != 0)
	{
		perror(path);
		exit(2);
	}
	buf = malloc(size + 1);
	if (buf == NULL || fread(buf, 1, size, f) != (size_t) size)
	{
		perror(path);
		exit(2);
	}
	fclose(f);
	LLVMFuzzerTestOneInput(buf, size);
	free(buf);
	return 1;
}

static int
run_path(const char *path)
{
	struct stat st;
	DIR		   *d;
	struct dirent *e;
	int			n = 0;

	if (stat(path, &st) != 0)
	{
		perror(path);
		exit(2);
	}
	if (!S_ISDIR(st.st_mode))
		return run_file(path);
	if ((d = opendir(path)) == NULL)
	{
		perror(path);
		exit(2);
	}
	while ((e = readdir(d)) != NULL)
	{
		char		sub[4096];

		if (e->d_name[0] == '.')
			continue;
		snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name);
		n += run_path(sub);
	}
	closedir(d);
	return n;
}

#endif							/* QUEUE_FUZZ_DRIVER_H */
