#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "client/secmem.h"

int
secbuf_alloc(struct secbuf *sb, size_t len)
{
	long page = sysconf(_SC_PAGESIZE);
	size_t pg = page > 0 ? (size_t)page : 4096, maplen;
	void *p;

	memset(sb, 0, sizeof(*sb));
	if (len == 0 || len > SIZE_MAX - pg)
		return SIGNET_ERR_NOMEM;
	maplen = (len + pg - 1) / pg * pg;
	/* Own pages: munlock() on a malloc'ed block would unlock whatever
	 * else shares its pages, and free() does not wipe. */
	p = mmap(NULL, maplen, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return SIGNET_ERR_NOMEM;
	(void)mlock(p, maplen);
	(void)madvise(p, maplen, MADV_DONTDUMP);
	sb->p = p;
	sb->len = len;
	sb->maplen = maplen;
	return SIGNET_OK;
}

void
secbuf_free(struct secbuf *sb)
{
	if (sb->p == NULL)
		return;
	explicit_bzero(sb->p, sb->maplen);
	(void)munlock(sb->p, sb->maplen);
	(void)munmap(sb->p, sb->maplen);
	memset(sb, 0, sizeof(*sb));
}
