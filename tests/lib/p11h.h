/*
 * Test-side driver for signet-pkcs11-helper: start it on a socketpair, send
 * wire.h requests, read responses, wait for its exit status. Shared by the
 * helper's tests (tests/p11helper_test.c, tests/p11helper_mock_test.c).
 */
#ifndef SIGNET_TESTS_P11H_H
#define SIGNET_TESTS_P11H_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include <p11-kit/pkcs11.h>

#include "common/buf.h"
#include "pkcs11/wire.h"

extern int p11h_failures;

#define CHECK(c) do {							\
	if (!(c)) {							\
		fprintf(stderr, "%s:%d: CHECK failed: %s\n",		\
		    __FILE__, __LINE__, #c);				\
		p11h_failures++;					\
	}								\
} while (0)

#define CHECK_RV(got, want) do {					\
	unsigned long _g = (unsigned long)(got);			\
	unsigned long _w = (unsigned long)(want);			\
	if (_g != _w) {							\
		fprintf(stderr, "%s:%d: %s = 0x%lx, want %s (0x%lx)\n",	\
		    __FILE__, __LINE__, #got, _g, #want, _w);		\
		p11h_failures++;					\
	}								\
} while (0)

/* Stop at once: nothing after this can run. */
#define REQUIRE(c) do {							\
	if (!(c)) {							\
		fprintf(stderr, "%s:%d: REQUIRE failed: %s\n",		\
		    __FILE__, __LINE__, #c);				\
		exit(1);						\
	}								\
} while (0)

struct p11h {
	pid_t pid;
	int fd;              /* our end of the socketpair */
	char errpath[512];   /* the helper's stderr */
};

/* Start `helper module` with the socketpair on fd 3 (or no fd 3). */
void p11h_start(struct p11h *h, const char *helper, const char *module,
    const char *errpath, bool with_fd3);
/* Wait up to ms for the helper to exit; its exit status, or -1 (killed
 * after the timeout, or died of a signal). */
int p11h_wait(struct p11h *h, int ms);
/* The helper's stderr, as one string (static buffer). */
const char *p11h_stderr(const struct p11h *h);

/* A request: buf_init'ed with 4 reserved bytes, id and type written. */
void p11h_req(struct buf *b, uint32_t id, uint8_t type);
/* Fill in the frame length and send it all; frees b. */
void p11h_send(struct p11h *h, struct buf *b);
/* Send raw bytes. */
void p11h_send_raw(struct p11h *h, const void *p, size_t n);
/* Read one response body into b (buf_init'ed by the callee) within ms;
 * false on timeout or EOF. The body's id, type and rv are read. */
bool p11h_recv(struct p11h *h, struct buf *b, int ms, uint32_t *id,
    uint8_t *type, uint64_t *rv);

/* Whole file into memory (NULL on error). */
uint8_t *p11h_slurp(const char *path, size_t *len);
/* Milliseconds on the monotonic clock. */
int64_t p11h_now_ms(void);

#endif
