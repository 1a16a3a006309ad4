/*
 * streebog_bench: Streebog (GOST R 34.11-2012) over a large document by
 * descriptor, through the agent's own document path -- agent/docread.c on
 * agent/loop.c, 1 MiB per loop turn into an EVP_MD_CTX, the gost engine
 * loaded by agent/gost.c -- exactly what `sign` does with an fd before the
 * token is asked anything. The document digest does not depend on the key,
 * so no token (SoftHSM2 has no GOST) is needed to measure it.
 *
 * usage: streebog_bench FILE [256|512] [RUNS]
 * prints: bytes=N runs=R best_s=S rate_mib_s=M digest=HEX
 * bench/streebog_bench.sh holds it against `openssl dgst -engine gost`.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "agent/docread.h"
#include "agent/gost.h"
#include "agent/loop.h"

struct run {
	struct loop *loop;
	int err;
};

static void
done(void *arg, int err, const char *why)
{
	struct run *r = arg;

	r->err = err;
	if (err != 0)
		fprintf(stderr, "streebog_bench: %s\n", why);
	loop_stop(r->loop);
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int
main(int argc, char **argv)
{
	const char *mdname = "md_gost12_256", *why = NULL;
	unsigned char dig[EVP_MAX_MD_SIZE];
	unsigned int dl = 0, i;
	double best = 0, t;
	uint64_t size = 0;
	int runs = 3, k, fd;
	struct run r;
	const EVP_MD *md;
	EVP_MD_CTX *ctx;

	if (argc < 2 || argc > 4) {
		fprintf(stderr, "usage: streebog_bench FILE [256|512] [RUNS]\n");
		return 2;
	}
	if (argc >= 3 && strcmp(argv[2], "512") == 0)
		mdname = "md_gost12_512";
	if (argc == 4 && (runs = atoi(argv[3])) <= 0)
		runs = 1;
	if (gost_init(NULL) != 0 || (md = EVP_get_digestbyname(mdname)) ==
	    NULL) {
		fprintf(stderr, "streebog_bench: no gost engine\n");
		return 1;
	}
	if ((ctx = EVP_MD_CTX_new()) == NULL)
		return 1;
	for (k = 0; k < runs; k++) {
		memset(&r, 0, sizeof(r));
		size = 0;
		if (loop_new(&r.loop) != 0 ||
		    EVP_DigestInit_ex(ctx, md, NULL) != 1)
			return 1;
		if ((fd = open(argv[1], O_RDONLY | O_CLOEXEC)) < 0) {
			perror(argv[1]);
			return 1;
		}
		t = now();
		if (docread_start(r.loop, fd, ctx, &size, done, &r, &why) == NULL ||
		    loop_run(r.loop) != 0 || r.err != 0 ||
		    EVP_DigestFinal_ex(ctx, dig, &dl) != 1)
			return 1;
		t = now() - t;
		if (k == 0 || t < best)
			best = t;
		loop_free(r.loop);
	}
	printf("bytes=%llu runs=%d best_s=%.3f rate_mib_s=%.1f digest=",
	    (unsigned long long)size, runs, best,
	    (double)size / (1024.0 * 1024.0) / best);
	for (i = 0; i < dl; i++)
		printf("%02x", dig[i]);
	printf("\n");
	EVP_MD_CTX_free(ctx);
	return 0;
}
