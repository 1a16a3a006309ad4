#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "agent/jsonmem.h"

/* A size header in front of each block, kept 16-byte aligned. */
#define JSONMEM_HDR 16

static void *
jsonmem_malloc(size_t n)
{
	unsigned char *p;

	if (n > SIZE_MAX - JSONMEM_HDR || (p = malloc(n + JSONMEM_HDR)) == NULL)
		return NULL;
	memcpy(p, &n, sizeof(n));
	return p + JSONMEM_HDR;
}

static void
jsonmem_free(void *ptr)
{
	unsigned char *p;
	size_t n;

	if (ptr == NULL)
		return;
	p = (unsigned char *)ptr - JSONMEM_HDR;
	memcpy(&n, p, sizeof(n));
	explicit_bzero(p, n + JSONMEM_HDR);
	free(p);
}

void
jsonmem_init(void)
{
	json_set_alloc_funcs(jsonmem_malloc, jsonmem_free);
}
