#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "pkcs11/helper.h"

/*
 * PINs (and the small request bodies that carry them) live in their own
 * anonymous pages: locked so they are never swapped, excluded from core
 * dumps, wiped in a child after fork (vendor modules do fork), and wiped
 * before they are unmapped.
 *
 * Two kinds of users: the reader's one buffer for small frames
 * (helper_serve.c), mapped once for the helper's life and wiped frame by
 * frame, and each queued job's copy of its PIN (helper_req.c), mapped for
 * that job only. Nothing else is secret here, so nothing else pays for
 * mapping and locking pages.
 */

static atomic_bool secmem_warned;

static size_t
secmem_len(size_t n)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);

	if (n == 0)
		n = 1;
	return (n + page - 1) / page * page;
}

void *
secmem_alloc(size_t n)
{
	size_t len;
	void *p;

	/* The largest user is the read buffer: a frame header and body. */
	if (n > 4 + HELPER_LOCKED_MSG && n > HELPER_PIN_MAX + 1)
		return NULL;
	len = secmem_len(n);
	p = mmap(NULL, len, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	(void)madvise(p, len, MADV_DONTDUMP);
#ifdef MADV_WIPEONFORK
	(void)madvise(p, len, MADV_WIPEONFORK);
#endif
	/* Over RLIMIT_MEMLOCK we still work (core dumps are off anyway),
	 * but say so once. */
	if (mlock(p, len) != 0 && !atomic_exchange(&secmem_warned, true))
		helper_log("mlock failed, secrets may be swapped: %m");
	return p;
}

void
secmem_free(void *p, size_t n)
{
	size_t len;

	if (p == NULL)
		return;
	len = secmem_len(n);
	explicit_bzero(p, len);
	(void)munlock(p, len);
	(void)munmap(p, len);
}
