/*
 * p11_sign_loop: the baseline Signet is measured against. It signs a fixed
 * SHA-256 hash straight through a PKCS#11 module, with no agent, no helper
 * process, no CMS: the rate a token delivers when nothing stands between
 * the caller and C_Sign.
 *
 * usage: p11_sign_loop MODULE TOKEN_LABEL PIN KEY_ID_HEX rsa|ecdsa SECONDS
 *                      [THREADS]
 *
 * Each thread opens its own session and runs C_SignInit + C_Sign until the
 * time is up. RSA signs the hash wrapped in a DigestInfo with CKM_RSA_PKCS
 * (what a CMS signer does); EC signs the bare hash with CKM_ECDSA.
 * Prints one line: signs=N seconds=S rate=R/s
 *
 * A benchmark, not a test: it is built but never run by ctest.
 */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <p11-kit/pkcs11.h>

#include "common/err.h"

#define MAX_THREADS  64
#define MAX_KEY_ID   64    /* bytes of CKA_ID */
#define MAX_SIG      1024  /* RSA-8192 fits */
#define MAX_SECONDS  3600

/* DER prefix of DigestInfo { sha256, NULL } for a 32-byte hash (RFC 8017). */
static const unsigned char sha256_digestinfo[] = {
	0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
	0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20,
};

/* SHA-256("signet benchmark"), fixed so every run signs the same input. */
static const unsigned char bench_hash[32] = {
	0x5d, 0x1b, 0x5c, 0x3a, 0x0e, 0x58, 0x4d, 0x8e, 0x6c, 0x9a, 0x4f,
	0x21, 0x7e, 0x0f, 0x33, 0x92, 0xb1, 0x44, 0xc7, 0x6a, 0x15, 0xd0,
	0x8b, 0x2e, 0x9f, 0x61, 0x03, 0xaa, 0x7c, 0xe4, 0x52, 0x18,
};

struct bench {
	CK_FUNCTION_LIST_PTR p11;
	CK_SLOT_ID slot;
	CK_BYTE key_id[MAX_KEY_ID];
	CK_ULONG key_id_len;
	CK_MECHANISM_TYPE mech;
	const unsigned char *input;
	CK_ULONG input_len;
	struct timespec deadline;
};

struct worker {
	pthread_t thread;
	const struct bench *b;
	unsigned long signs;
	CK_RV rv;              /* first failure, CKR_OK if none */
	const char *what;      /* which call failed */
};

static void __attribute__((format(printf, 1, 2), noreturn))
die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "p11_sign_loop: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static double
ts_seconds(const struct timespec *t)
{
	return (double)t->tv_sec + (double)t->tv_nsec / 1e9;
}

static int
ts_before(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec < b->tv_sec ||
	    (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static MUST_CHECK int
parse_hex(const char *hex, CK_BYTE *out, size_t cap, CK_ULONG *outlen)
{
	size_t n = strlen(hex), i;
	int hi, lo;

	if (n == 0 || n % 2 != 0 || n / 2 > cap)
		return SIGNET_ERR_FORMAT;
	for (i = 0; i < n / 2; i++) {
		hi = hexval(hex[2 * i]);
		lo = hexval(hex[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return SIGNET_ERR_FORMAT;
		out[i] = (CK_BYTE)(hi << 4 | lo);
	}
	*outlen = (CK_ULONG)(n / 2);
	return 0;
}

static MUST_CHECK int
parse_ulong(const char *s, unsigned long lo, unsigned long hi,
    unsigned long *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	if (*s < '0' || *s > '9')
		return SIGNET_ERR_FORMAT;
	v = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < lo || v > hi)
		return SIGNET_ERR_FORMAT;
	*out = v;
	return 0;
}

/* Token labels are 32 bytes, blank padded, not NUL terminated. */
static int
label_matches(const CK_UTF8CHAR label[32], const char *want)
{
	size_t n = strlen(want), i;

	if (n > 32 || memcmp(label, want, n) != 0)
		return 0;
	for (i = n; i < 32; i++)
		if (label[i] != ' ')
			return 0;
	return 1;
}

static MUST_CHECK int
find_slot(CK_FUNCTION_LIST_PTR p11, const char *label, CK_SLOT_ID *out)
{
	CK_SLOT_ID *slots = NULL;
	CK_ULONG n = 0, i;
	CK_TOKEN_INFO ti;
	int r = SIGNET_ERR_NOTFOUND;

	if (p11->C_GetSlotList(CK_TRUE, NULL, &n) != CKR_OK || n == 0)
		goto out;
	if ((slots = calloc(n, sizeof(*slots))) == NULL) {
		r = SIGNET_ERR_NOMEM;
		goto out;
	}
	if (p11->C_GetSlotList(CK_TRUE, slots, &n) != CKR_OK)
		goto out;
	for (i = 0; i < n; i++) {
		if (p11->C_GetTokenInfo(slots[i], &ti) != CKR_OK)
			continue;
		if (label_matches(ti.label, label)) {
			*out = slots[i];
			r = 0;
			goto out;
		}
	}
 out:
	free(slots);
	return r;
}

static CK_RV
find_key(const struct bench *b, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE *key)
{
	CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
	CK_ATTRIBUTE tmpl[] = {
		{ CKA_CLASS, &cls, sizeof(cls) },
		{ CKA_ID, (void *)b->key_id, b->key_id_len },
	};
	CK_ULONG found = 0;
	CK_RV rv, rv2;

	rv = b->p11->C_FindObjectsInit(s, tmpl, 2);
	if (rv != CKR_OK)
		return rv;
	rv = b->p11->C_FindObjects(s, key, 1, &found);
	rv2 = b->p11->C_FindObjectsFinal(s);
	if (rv == CKR_OK)
		rv = rv2;
	if (rv == CKR_OK && found != 1)
		rv = CKR_KEY_HANDLE_INVALID;
	return rv;
}

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	const struct bench *b = w->b;
	CK_FUNCTION_LIST_PTR p11 = b->p11;
	CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
	CK_OBJECT_HANDLE key;
	CK_MECHANISM mech = { b->mech, NULL, 0 };
	CK_BYTE sig[MAX_SIG];
	CK_ULONG siglen;
	struct timespec now;

	w->rv = p11->C_OpenSession(b->slot, CKF_SERIAL_SESSION, NULL, NULL, &s);
	if (w->rv != CKR_OK) {
		w->what = "C_OpenSession";
		return NULL;
	}
	if ((w->rv = find_key(b, s, &key)) != CKR_OK) {
		w->what = "finding the private key";
		goto out;
	}
	for (;;) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (!ts_before(&now, &b->deadline))
			break;
		if ((w->rv = p11->C_SignInit(s, &mech, key)) != CKR_OK) {
			w->what = "C_SignInit";
			break;
		}
		siglen = sizeof(sig);
		w->rv = p11->C_Sign(s, (CK_BYTE_PTR)b->input, b->input_len,
		    sig, &siglen);
		if (w->rv != CKR_OK) {
			w->what = "C_Sign";
			break;
		}
		w->signs++;
	}
 out:
	p11->C_CloseSession(s);
	return NULL;
}

int
main(int argc, char **argv)
{
	struct bench b;
	struct worker *workers = NULL;
	unsigned char input[sizeof(sha256_digestinfo) + sizeof(bench_hash)];
	unsigned long seconds, nthreads = 1, total = 0, i, started = 0;
	CK_C_GetFunctionList getfl;
	CK_C_INITIALIZE_ARGS init = { .flags = CKF_OS_LOCKING_OK };
	CK_SESSION_HANDLE login_s = CK_INVALID_HANDLE;
	struct timespec t0, t1;
	void *dl;
	char *pin;
	CK_RV rv;
	double elapsed;
	int failed = 0;

	if (argc != 7 && argc != 8) {
		fprintf(stderr, "usage: %s MODULE TOKEN_LABEL PIN KEY_ID_HEX "
		    "rsa|ecdsa SECONDS [THREADS]\n", argv[0]);
		return 2;
	}
	memset(&b, 0, sizeof(b));
	pin = argv[3];
	if (parse_hex(argv[4], b.key_id, sizeof(b.key_id), &b.key_id_len) != 0)
		die("bad key id '%s' (hex bytes, e.g. 01)", argv[4]);
	if (strcmp(argv[5], "rsa") == 0) {
		b.mech = CKM_RSA_PKCS;
		memcpy(input, sha256_digestinfo, sizeof(sha256_digestinfo));
		memcpy(input + sizeof(sha256_digestinfo), bench_hash,
		    sizeof(bench_hash));
		b.input_len = sizeof(input);
	} else if (strcmp(argv[5], "ecdsa") == 0) {
		b.mech = CKM_ECDSA;
		memcpy(input, bench_hash, sizeof(bench_hash));
		b.input_len = sizeof(bench_hash);
	} else
		die("mechanism must be rsa or ecdsa, not '%s'", argv[5]);
	b.input = input;
	if (parse_ulong(argv[6], 1, MAX_SECONDS, &seconds) != 0)
		die("bad SECONDS '%s' (1..3600)", argv[6]);
	if (argc == 8 && parse_ulong(argv[7], 1, MAX_THREADS, &nthreads) != 0)
		die("bad THREADS '%s' (1..64)", argv[7]);

	if ((dl = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL)) == NULL)
		die("dlopen: %s", dlerror());
	getfl = (CK_C_GetFunctionList)dlsym(dl, "C_GetFunctionList");
	if (getfl == NULL || getfl(&b.p11) != CKR_OK)
		die("%s: no C_GetFunctionList", argv[1]);
	if ((rv = b.p11->C_Initialize(&init)) != CKR_OK) {
		fprintf(stderr, "p11_sign_loop: C_Initialize: 0x%lx\n", rv);
		return 1;
	}
	if (find_slot(b.p11, argv[2], &b.slot) != 0)
		die("no token labelled '%s'", argv[2]);

	/* A login belongs to the application, not the session: one login
	 * session kept open covers every worker's session. */
	rv = b.p11->C_OpenSession(b.slot, CKF_SERIAL_SESSION, NULL, NULL,
	    &login_s);
	if (rv == CKR_OK)
		rv = b.p11->C_Login(login_s, CKU_USER, (CK_UTF8CHAR_PTR)pin,
		    (CK_ULONG)strlen(pin));
	explicit_bzero(pin, strlen(pin));
	if (rv != CKR_OK && rv != CKR_USER_ALREADY_LOGGED_IN) {
		fprintf(stderr, "p11_sign_loop: login: 0x%lx\n", rv);
		failed = 1;
		goto out;
	}

	if ((workers = calloc(nthreads, sizeof(*workers))) == NULL)
		die("out of memory");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	b.deadline = t0;
	b.deadline.tv_sec += (time_t)seconds;
	for (i = 0; i < nthreads; i++) {
		workers[i].b = &b;
		if (pthread_create(&workers[i].thread, NULL, worker_main,
		    &workers[i]) != 0) {
			fprintf(stderr, "p11_sign_loop: pthread_create failed\n");
			failed = 1;
			break;
		}
		started++;
	}
	for (i = 0; i < started; i++) {
		pthread_join(workers[i].thread, NULL);
		total += workers[i].signs;
		if (workers[i].rv != CKR_OK) {
			fprintf(stderr, "p11_sign_loop: thread %lu: %s: 0x%lx\n",
			    i, workers[i].what, workers[i].rv);
			failed = 1;
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	elapsed = ts_seconds(&t1) - ts_seconds(&t0);
	/* A run that failed part way has no rate worth reporting. */
	if (!failed)
		printf("signs=%lu seconds=%.3f rate=%.1f/s\n", total, elapsed,
		    elapsed > 0 ? (double)total / elapsed : 0.0);
 out:
	free(workers);
	if (login_s != CK_INVALID_HANDLE) {
		b.p11->C_Logout(login_s);
		b.p11->C_CloseSession(login_s);
	}
	b.p11->C_Finalize(NULL);
	dlclose(dl);
	return failed;
}
