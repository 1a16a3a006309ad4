/*
 * pidfd_preload: pidfd_open(2) for programs run under Debian 12's valgrind.
 *
 * valgrind 3.19 does not know syscall 434 (pidfd_open) and fails it with
 * ENOSYS; signetd watches its PKCS#11 helpers through pidfds and gives a
 * helper up when it cannot watch it, so under valgrind no token would ever
 * appear. scripts/valgrind.sh preloads this library into signetd (and only
 * when it runs signetd under valgrind): it interposes syscall(3) and
 * answers SYS_pidfd_open with the read end of a pipe whose write end a
 * thread closes once the child has exited (waitid with WNOWAIT, so the
 * caller still reaps it with waitpid, as signetd does). What the caller
 * sees is what a pidfd gives it: a descriptor that polls readable when
 * the process ends. Every other system call goes through unchanged.
 *
 * Test scaffolding, never linked into a product program.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

typedef long (*syscall_fn)(long, ...);

struct waiter {
	pid_t pid;
	int wfd;
};

static void *
wait_exit(void *arg)
{
	struct waiter w = *(struct waiter *)arg;
	siginfo_t si;

	/* Freed before the wait: a thread still waiting when the program
	 * exits leaves nothing behind on the heap. */
	free(arg);
	while (waitid(P_PID, (id_t)w.pid, &si, WEXITED | WNOWAIT) != 0 &&
	    errno == EINTR)
		;
	close(w.wfd); /* the read end polls readable (EOF) */
	return NULL;
}

static long
emulate_pidfd_open(pid_t pid, unsigned flags)
{
	struct waiter *w;
	pthread_attr_t attr;
	pthread_t t;
	int p[2], err;

	if (flags != 0 || pid <= 0) {
		errno = EINVAL;
		return -1;
	}
	if (kill(pid, 0) != 0)
		return -1; /* ESRCH, as pidfd_open says */
	if (pipe2(p, O_CLOEXEC) != 0)
		return -1;
	if ((w = malloc(sizeof(*w))) == NULL) {
		close(p[0]);
		close(p[1]);
		errno = ENOMEM;
		return -1;
	}
	w->pid = pid;
	w->wfd = p[1];
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	err = pthread_create(&t, &attr, wait_exit, w);
	pthread_attr_destroy(&attr);
	if (err != 0) {
		free(w);
		close(p[0]);
		close(p[1]);
		errno = err;
		return -1;
	}
	return p[0];
}

long
syscall(long number, ...)
{
	static syscall_fn real;
	va_list ap;
	long a[6];
	int i;

	va_start(ap, number);
	/* As glibc's own syscall(): six argument registers, whatever the
	 * call passed. */
	for (i = 0; i < 6; i++)
		a[i] = va_arg(ap, long);
	va_end(ap);
	if (number == SYS_pidfd_open)
		return emulate_pidfd_open((pid_t)a[0], (unsigned)a[1]);
	if (real == NULL &&
	    (real = (syscall_fn)dlsym(RTLD_NEXT, "syscall")) == NULL) {
		errno = ENOSYS;
		return -1;
	}
	return real(number, a[0], a[1], a[2], a[3], a[4], a[5]);
}
