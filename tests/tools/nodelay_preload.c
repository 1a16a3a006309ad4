/*
 * nodelay_preload.so: LD_PRELOAD into the test's pcscd only.
 *
 * Debian 12's vpcd driver writes each frame's 2-byte length and its body
 * in two send() calls. With Nagle on, the body waits for the ACK of the
 * length, which the card side delays by ~40 ms: every APDU then costs
 * ~40 ms and `pkcs11-tool -L` on the virtual CAC ~11 s. Setting
 * TCP_NODELAY on pcscd's side of the socket removes the wait (upstream
 * vsmartcard fixed this in 2023 by sending one buffer).
 *
 * vpcd gets its socket from accept() when it listens (DEVICENAME
 * /dev/null:PORT, what the tests use) or from connect() when it is the
 * client (DEVICENAME HOST:PORT), so both are wrapped.
 *
 * vpcd also binds its port on INADDR_ANY, with no option to change it;
 * the tests' traffic must stay on loopback, so bind() of a TCP socket to
 * the wildcard address becomes a bind to 127.0.0.1 (::1 for IPv6).
 *
 * Only TCP sockets are touched; pcscd's own Unix socket passes through.
 * SIGNET_PRELOAD_NODELAY=0 in pcscd's environment keeps Nagle on (the
 * loopback binding stays), so a test can measure what the fix is worth.
 */
#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

typedef int (*accept_fn)(int, struct sockaddr *, socklen_t *);
typedef int (*accept4_fn)(int, struct sockaddr *, socklen_t *, int);
typedef int (*connect_fn)(int, const struct sockaddr *, socklen_t);
typedef int (*bind_fn)(int, const struct sockaddr *, socklen_t);

static int want_nodelay = 1;

__attribute__((constructor)) static void
init(void)
{
	const char *e = getenv("SIGNET_PRELOAD_NODELAY");

	want_nodelay = !(e != NULL && strcmp(e, "0") == 0);
}

static int
is_tcp(int fd)
{
	int domain = 0, type = 0, saved = errno, r = 0;
	socklen_t len = sizeof domain;

	if (fd >= 0 &&
	    getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) == 0 &&
	    (domain == AF_INET || domain == AF_INET6)) {
		len = sizeof type;
		r = getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0 &&
		    type == SOCK_STREAM;
	}
	errno = saved;
	return r;
}

static void
nodelay(int fd)
{
	int one = 1, saved = errno;

	if (want_nodelay && is_tcp(fd))
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
		    sizeof one);
	errno = saved;
}

int
bind(int fd, const struct sockaddr *addr, socklen_t addrlen)
{
	bind_fn real = (bind_fn)dlsym(RTLD_NEXT, "bind");
	struct sockaddr_in in4;
	struct sockaddr_in6 in6;

	if (real == NULL) {
		errno = ENOSYS;
		return -1;
	}
	if (addr != NULL && is_tcp(fd)) {
		if (addr->sa_family == AF_INET && addrlen >= sizeof in4) {
			memcpy(&in4, addr, sizeof in4);
			if (in4.sin_addr.s_addr == htonl(INADDR_ANY)) {
				in4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
				return real(fd, (struct sockaddr *)&in4,
				    sizeof in4);
			}
		} else if (addr->sa_family == AF_INET6 &&
		    addrlen >= sizeof in6) {
			memcpy(&in6, addr, sizeof in6);
			if (IN6_IS_ADDR_UNSPECIFIED(&in6.sin6_addr)) {
				in6.sin6_addr = in6addr_loopback;
				return real(fd, (struct sockaddr *)&in6,
				    sizeof in6);
			}
		}
	}
	return real(fd, addr, addrlen);
}

int
accept(int fd, struct sockaddr *addr, socklen_t *addrlen)
{
	accept_fn real = (accept_fn)dlsym(RTLD_NEXT, "accept");
	int r;

	if (real == NULL) {
		errno = ENOSYS;
		return -1;
	}
	r = real(fd, addr, addrlen);
	nodelay(r);
	return r;
}

int
accept4(int fd, struct sockaddr *addr, socklen_t *addrlen, int flags)
{
	accept4_fn real = (accept4_fn)dlsym(RTLD_NEXT, "accept4");
	int r;

	if (real == NULL) {
		errno = ENOSYS;
		return -1;
	}
	r = real(fd, addr, addrlen, flags);
	nodelay(r);
	return r;
}

int
connect(int fd, const struct sockaddr *addr, socklen_t addrlen)
{
	connect_fn real = (connect_fn)dlsym(RTLD_NEXT, "connect");

	if (real == NULL) {
		errno = ENOSYS;
		return -1;
	}
	/* The option holds from before the handshake on. */
	nodelay(fd);
	return real(fd, addr, addrlen);
}
