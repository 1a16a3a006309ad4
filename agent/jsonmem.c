#include <malloc.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "agent/jsonmem.h"

/*
 * Plain malloc, so memory jansson hands out (json_dumps) may be released
 * with free() anywhere; only jansson's own frees wipe, sized by the
 * allocator itself.
 */
static void *
jsonmem_malloc(size_t n)
{
	return malloc(n);
}

static void
jsonmem_free(void *p)
{
	if (p == NULL)
		return;
	explicit_bzero(p, malloc_usable_size(p));
	free(p);
}

void
jsonmem_init(void)
{
	json_set_alloc_funcs(jsonmem_malloc, jsonmem_free);
}
