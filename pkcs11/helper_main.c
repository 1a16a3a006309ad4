/*
 * signet-pkcs11-helper MODULE_PATH
 *
 * Loads one PKCS#11 module and serves it over fd 3 (pkcs11/wire.h), so
 * that vendor code never runs inside the agent (DESIGN.md, principle 2).
 * Startup failures exit with HELPER_EXIT_STARTUP and one line on stderr.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pkcs11/helper.h"

CK_FUNCTION_LIST *helper_p11;

/* Set when the module refused CKF_OS_LOCKING_OK: it then expects one call
 * at a time, so every job runs under this mutex. */
static bool helper_p11_serialize;
static pthread_mutex_t helper_p11_mutex = PTHREAD_MUTEX_INITIALIZER;

void
helper_p11_lock(void)
{
	if (helper_p11_serialize)
		pthread_mutex_lock(&helper_p11_mutex);
}

void
helper_p11_unlock(void)
{
	if (helper_p11_serialize)
		pthread_mutex_unlock(&helper_p11_mutex);
}

static void __attribute__((noreturn, format(printf, 1, 2)))
startup_fail(const char *fmt, ...)
{
	char msg[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	helper_log("%s", msg);
	_exit(HELPER_EXIT_STARTUP);
}

/* No core dumps and no ptrace by our uid: PINs pass through here. */
static void
harden(void)
{
	struct rlimit rl = { 0, 0 };

	if (setrlimit(RLIMIT_CORE, &rl) != 0)
		startup_fail("setrlimit(RLIMIT_CORE): %s", strerror(errno));
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
		startup_fail("prctl(PR_SET_DUMPABLE): %s", strerror(errno));
	/* A closed agent shows up as EPIPE from send(), not as a signal. */
	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
		startup_fail("signal(SIGPIPE): %s", strerror(errno));
}

/*
 * fd 3 is the only channel to the agent. stdin is /dev/null, and stdout
 * (where some vendor modules chatter) goes to stderr, so nothing a module
 * prints can reach fd 3 or be read from the agent's terminal.
 */
static void
setup_fds(void)
{
	int fd, nul;

	if (fcntl(P11W_FD, F_GETFD) < 0)
		startup_fail("fd %d (the agent's socket) is not open", P11W_FD);
	/* Processes a module spawns must not inherit the agent's channel. */
	if (fcntl(P11W_FD, F_SETFD, FD_CLOEXEC) != 0)
		startup_fail("fcntl(fd %d): %s", P11W_FD, strerror(errno));
	if ((nul = open("/dev/null", O_RDWR | O_CLOEXEC)) < 0)
		startup_fail("/dev/null: %s", strerror(errno));
	for (fd = STDIN_FILENO; fd <= STDERR_FILENO; fd++)
		if (fcntl(fd, F_GETFD) < 0 && dup2(nul, fd) < 0)
			startup_fail("dup2: %s", strerror(errno));
	if (dup2(nul, STDIN_FILENO) < 0 ||
	    dup2(STDERR_FILENO, STDOUT_FILENO) < 0)
		startup_fail("dup2: %s", strerror(errno));
	if (nul > STDERR_FILENO && nul != P11W_FD)
		close(nul);
}

/*
 * The module runs with our privileges: it must be a regular file that only
 * root or we can change. The resolved path is what gets loaded.
 */
static char *
check_module(const char *path)
{
	struct stat st;
	char *real;

	if ((real = realpath(path, NULL)) == NULL)
		startup_fail("module %s: %s", path, strerror(errno));
	if (stat(real, &st) != 0)
		startup_fail("module %s: %s", real, strerror(errno));
	if (!S_ISREG(st.st_mode))
		startup_fail("module %s: not a regular file", real);
	if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0)
		startup_fail("module %s: writable by group or others (mode %04o)",
		    real, (unsigned)(st.st_mode & 07777));
	if (st.st_uid != 0 && st.st_uid != getuid())
		startup_fail("module %s: owned by uid %u, not root or %u",
		    real, (unsigned)st.st_uid, (unsigned)getuid());
	return real;
}

static void
load_module(const char *path)
{
	CK_C_GetFunctionList getlist;
	CK_C_INITIALIZE_ARGS args;
	const char *e;
	void *dl;
	CK_RV rv;

	if ((dl = dlopen(path, RTLD_NOW | RTLD_LOCAL)) == NULL) {
		e = dlerror();
		startup_fail("dlopen %s: %s", path, e ? e : "failed");
	}
	*(void **)&getlist = dlsym(dl, "C_GetFunctionList");
	if (getlist == NULL)
		startup_fail("module %s: no C_GetFunctionList", path);
	if ((rv = getlist(&helper_p11)) != CKR_OK || helper_p11 == NULL)
		startup_fail("module %s: C_GetFunctionList: 0x%lx", path,
		    (unsigned long)rv);
	if (helper_p11->version.major < 2)
		startup_fail("module %s: Cryptoki version %u.%u", path,
		    helper_p11->version.major, helper_p11->version.minor);
	/* Our workers call in parallel: ask for the OS's locking. */
	memset(&args, 0, sizeof(args));
	args.flags = CKF_OS_LOCKING_OK;
	rv = helper_p11->C_Initialize(&args);
	if (rv == CKR_CANT_LOCK) {
		helper_log("module %s cannot lock; calls are serialized",
		    path);
		helper_p11_serialize = true;
		rv = helper_p11->C_Initialize(NULL);
	}
	if (rv != CKR_OK && rv != CKR_CRYPTOKI_ALREADY_INITIALIZED)
		startup_fail("module %s: C_Initialize: 0x%lx", path,
		    (unsigned long)rv);
}

int
main(int argc, char **argv)
{
	char *module;
	int status;

	if (argc != 2)
		startup_fail("usage: signet-pkcs11-helper MODULE_PATH "
		    "(started by signetd, socket on fd %d)", P11W_FD);
	harden();
	setup_fds();
	module = check_module(argv[1]);
	load_module(module);
	if (sched_start() != 0)
		startup_fail("cannot start a worker thread: %s",
		    strerror(errno));

	status = serve_loop(P11W_FD);

	/* Every worker is joined before the module is finalized. */
	sched_stop(status != HELPER_EXIT_OK);
	(void)helper_p11->C_Finalize(NULL);
	free(module);
	return status;
}
