/*
 * What every fuzz target (fuzz_<target>.c) defines, and a check that stops
 * the run when an invariant breaks. A failed check aborts, which libFuzzer
 * reports as a crash (with the input saved) and the corpus replay
 * (replay_main.c) as a failed test.
 */
#ifndef SIGNET_FUZZ_H
#define SIGNET_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* One input; returns 0 (libFuzzer reserves other values). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
/* Optional, once before the first input. */
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define FUZZ_CHECK(cond) do {                                           \
	if (!(cond)) {                                                  \
		fprintf(stderr, "%s:%d: %s: check failed: %s\n",        \
		    __FILE__, __LINE__, __func__, #cond);               \
		abort();                                                \
	}                                                               \
} while (0)

#endif
