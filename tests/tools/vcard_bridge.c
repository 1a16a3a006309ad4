/*
 * vcard_bridge: a virtual CAC smart card for the PC/SC tests.
 *
 * The card is libcacard's CAC emulation in soft mode over an NSS database
 * (its certificate and RSA key; the card PIN is the database password).
 * It reaches pcscd through the vsmartcard vpcd reader driver: vpcd listens
 * on a TCP port, a card connects to it; connected = card inserted,
 * disconnected = card removed. The test's pcscd runs with
 * nodelay_preload.so, which also keeps vpcd's port on 127.0.0.1.
 *
 * (vpcd's other mode, DEVICENAME HOST:PORT with vpcd as the client, would
 * need no listening port at all, but Debian 12's build aborts pcscd on the
 * first reconnect: it select()s on fd -1.)
 *
 * vpcd wire protocol, both ways: a 2-byte big-endian length N, then N
 * bytes. N = 1 from vpcd is a control byte: 00 power off, 01 power on,
 * 02 reset (no reply to these), 04 get ATR (reply: the ATR). N > 1 is a
 * command APDU; the reply is the response APDU with SW1 SW2.
 *
 * Control, one command per line on stdin, each acknowledged on stdout:
 *   insert   -> "inserted"  (connects now and again whenever the
 *                            connection drops, e.g. pcscd restarted)
 *   remove   -> "removed"
 *   status   -> "inserted connected" | "inserted waiting" | "removed"
 *   quit     -> "bye" (also on end of input: the test harness went away)
 * After start-up it prints "ready". Diagnostics go to stderr.
 *
 * usage: vcard_bridge --db sql:DIR --cert NICKNAME --port PORT
 *                     [--addr 127.0.0.1] [--inserted]
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <libcacard.h>

/* vpcd frames carry a 16-bit length. */
#define VPCD_MAX_MSG 0xffff
#define VPCD_CTRL_OFF 0x00
#define VPCD_CTRL_ON 0x01
#define VPCD_CTRL_RESET 0x02
#define VPCD_CTRL_ATR 0x04

/* A control line longer than this is not one of ours. */
#define MAX_LINE 64
/* A frame that starts must finish within this; vpcd sends it at once. */
#define RECV_TIMEOUT_S 5
/* While inserted but not connected (pcscd not up yet, or restarting). */
#define RECONNECT_MS 100
#define READER_NAME "VirtCAC"

struct bridge {
	VReader *reader;
	struct sockaddr_in addr;
	int conn_fd;
	bool inserted;
	unsigned char atr[64];
	int atr_len;
	unsigned char in[VPCD_MAX_MSG];
	unsigned char out[VPCD_MAX_MSG + 2];
};

static void
ack(const char *s)
{
	printf("%s\n", s);
	fflush(stdout);
}

/* libcacard queues an event per insertion/removal; nobody reads them. */
static void
drain_vevents(void)
{
	VEvent *ev;
	int n = 0;

	while (n++ < 1024 && (ev = vevent_get_next_vevent()) != NULL)
		vevent_delete(ev);
}

/* One attempt; vpcd on loopback answers or refuses at once. */
static void
try_connect(struct bridge *b)
{
	struct timeval tv = { .tv_sec = RECV_TIMEOUT_S };
	int fd, one = 1;

	if (!b->inserted || b->conn_fd >= 0)
		return;
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	if (connect(fd, (const struct sockaddr *)&b->addr, sizeof b->addr)
	    != 0) {
		close(fd);
		return;
	}
	b->conn_fd = fd;
}

static void
drop_conn(struct bridge *b)
{
	if (b->conn_fd < 0)
		return;
	close(b->conn_fd);
	b->conn_fd = -1;
	/* The card lost its reader: power it down, which also logs it
	 * out, as a real card forgets its PIN when it loses power. */
	if (b->inserted)
		(void)vreader_power_off(b->reader);
}

static int
do_insert(struct bridge *b)
{
	if (b->inserted)
		return 0;
	if (vcard_emul_force_card_insert(b->reader) != VCARD_EMUL_OK) {
		fprintf(stderr, "vcard_bridge: card insert failed\n");
		return -1;
	}
	drain_vevents();
	b->inserted = true;
	try_connect(b);
	return 0;
}

static void
do_remove(struct bridge *b)
{
	if (!b->inserted)
		return;
	drop_conn(b);
	(void)vcard_emul_force_card_remove(b->reader);
	drain_vevents();
	b->inserted = false;
}

static int
recv_all(int fd, unsigned char *p, size_t n)
{
	size_t got = 0;
	ssize_t r;

	while (got < n) {
		r = recv(fd, p + got, n - got, 0);
		if (r == 0)
			return 0;
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		got += (size_t)r;
	}
	return 1;
}

/* frame[2..] holds the body; the length goes in front, all in one send:
 * the peer's delayed ACK never waits on a second segment. */
static int
send_frame(int fd, unsigned char *frame, size_t body_len)
{
	size_t off = 0, n = body_len + 2;
	ssize_t r;

	frame[0] = (unsigned char)(body_len >> 8);
	frame[1] = (unsigned char)body_len;
	while (off < n) {
		r = send(fd, frame + off, n - off, MSG_NOSIGNAL);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		off += (size_t)r;
	}
	return 0;
}

/* One frame from vpcd. Returns 0, or -1 when the connection must go. */
static int
serve_frame(struct bridge *b)
{
	unsigned char hdr[2];
	size_t n;
	int rlen, atr_len;
	VReaderStatus st;

	if (recv_all(b->conn_fd, hdr, sizeof hdr) <= 0)
		return -1;
	n = (size_t)hdr[0] << 8 | hdr[1];
	if (n == 0 || recv_all(b->conn_fd, b->in, n) <= 0)
		return -1;

	if (n == 1) {
		switch (b->in[0]) {
		case VPCD_CTRL_OFF:
			(void)vreader_power_off(b->reader);
			return 0;
		case VPCD_CTRL_ON:
		case VPCD_CTRL_RESET:
			atr_len = (int)sizeof b->atr;
			(void)vreader_power_on(b->reader, b->atr, &atr_len);
			return 0;
		case VPCD_CTRL_ATR:
			memcpy(b->out + 2, b->atr, (size_t)b->atr_len);
			return send_frame(b->conn_fd, b->out,
			    (size_t)b->atr_len);
		default:
			fprintf(stderr, "vcard_bridge: unknown control byte "
			    "%02x\n", b->in[0]);
			return 0;
		}
	}

	rlen = VPCD_MAX_MSG;
	st = vreader_xfr_bytes(b->reader, b->in, (int)n, b->out + 2, &rlen);
	if (st != VREADER_OK || rlen < 2) {
		/* SW 6F00: no precise diagnosis. */
		b->out[2] = 0x6f;
		b->out[3] = 0x00;
		rlen = 2;
	}
	return send_frame(b->conn_fd, b->out, (size_t)rlen);
}

/* Returns 1 to go on, 0 to quit. */
static int
command(struct bridge *b, const char *line)
{
	if (strcmp(line, "insert") == 0) {
		if (do_insert(b) != 0) {
			ack("error");
			return 1;
		}
		ack("inserted");
	} else if (strcmp(line, "remove") == 0) {
		do_remove(b);
		ack("removed");
	} else if (strcmp(line, "status") == 0) {
		ack(!b->inserted ? "removed" : b->conn_fd >= 0 ?
		    "inserted connected" : "inserted waiting");
	} else if (strcmp(line, "quit") == 0) {
		return 0;
	} else if (line[0] != '\0') {
		ack("error unknown command");
	}
	return 1;
}

/* Reads what stdin has and runs every complete line. 0 means quit. */
static int
read_commands(struct bridge *b, char *buf, size_t *len)
{
	ssize_t r;
	char *nl;
	size_t used;

	r = read(STDIN_FILENO, buf + *len, MAX_LINE - *len);
	if (r < 0)
		return errno == EINTR || errno == EAGAIN ? 1 : 0;
	if (r == 0)
		return 0;
	*len += (size_t)r;
	while ((nl = memchr(buf, '\n', *len)) != NULL) {
		*nl = '\0';
		if (nl > buf && nl[-1] == '\r')
			nl[-1] = '\0';
		if (!command(b, buf))
			return 0;
		used = (size_t)(nl - buf) + 1;
		memmove(buf, nl + 1, *len - used);
		*len -= used;
	}
	if (*len == MAX_LINE) {
		ack("error line too long");
		*len = 0;
	}
	return 1;
}

static void
usage(void)
{
	fprintf(stderr, "usage: vcard_bridge --db sql:DIR --cert NICKNAME "
	    "--port PORT [--addr 127.0.0.1] [--inserted]\n");
	exit(2);
}

static int
init_card(struct bridge *b, const char *db, const char *cert)
{
	VCardEmulOptions *opts;
	char args[1024];
	int n;

	/* The option parser has no escapes: refuse what would break it. */
	if (strpbrk(db, "\" ()") != NULL || strpbrk(cert, "\" (),") != NULL) {
		fprintf(stderr, "vcard_bridge: unusable --db or --cert\n");
		return -1;
	}
	n = snprintf(args, sizeof args,
	    "db=\"%s\" use_hw=no soft=(," READER_NAME ",CAC,,%s)", db, cert);
	if (n < 0 || (size_t)n >= sizeof args)
		return -1;
	opts = vcard_emul_options(args);
	if (opts == NULL || vcard_emul_init(opts) != VCARD_EMUL_OK) {
		fprintf(stderr, "vcard_bridge: cannot emulate a card from %s "
		    "(certificate %s)\n", db, cert);
		return -1;
	}
	b->reader = vreader_get_reader_by_name(READER_NAME);
	if (b->reader == NULL) {
		fprintf(stderr, "vcard_bridge: no reader %s\n", READER_NAME);
		return -1;
	}
	/* The ATR is fixed for the emulation; keep it so presence polls
	 * (get ATR) need not power-cycle the card, which would log it out. */
	b->atr_len = (int)sizeof b->atr;
	if (vreader_power_on(b->reader, b->atr, &b->atr_len) != VREADER_OK ||
	    b->atr_len <= 0) {
		fprintf(stderr, "vcard_bridge: no ATR\n");
		return -1;
	}
	(void)vreader_power_off(b->reader);
	/* vcard_emul_init inserts the soft card; start "removed". */
	(void)vcard_emul_force_card_remove(b->reader);
	drain_vevents();
	return 0;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "db", required_argument, NULL, 'd' },
		{ "cert", required_argument, NULL, 'c' },
		{ "port", required_argument, NULL, 'p' },
		{ "addr", required_argument, NULL, 'a' },
		{ "inserted", no_argument, NULL, 'i' },
		{ NULL, 0, NULL, 0 },
	};
	static struct bridge b;
	const char *db = NULL, *cert = NULL, *addr = "127.0.0.1";
	char line[MAX_LINE];
	size_t line_len = 0;
	bool start_inserted = false;
	unsigned long port = 0;
	char *end;
	int c, rc = 1;

	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'd': db = optarg; break;
		case 'c': cert = optarg; break;
		case 'a': addr = optarg; break;
		case 'i': start_inserted = true; break;
		case 'p':
			errno = 0;
			port = strtoul(optarg, &end, 10);
			if (errno != 0 || *end != '\0' || port == 0 ||
			    port > 65535)
				usage();
			break;
		default: usage();
		}
	}
	if (db == NULL || cert == NULL || port == 0 || optind != argc)
		usage();

	/* A test harness that dies without "quit" must not leave us. */
	(void)prctl(PR_SET_PDEATHSIG, SIGTERM);
	signal(SIGPIPE, SIG_IGN);

	b.conn_fd = -1;
	b.addr.sin_family = AF_INET;
	b.addr.sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, addr, &b.addr.sin_addr) != 1)
		usage();
	if (init_card(&b, db, cert) != 0)
		goto out;
	if (start_inserted && do_insert(&b) != 0)
		goto out;
	ack("ready");

	for (;;) {
		struct pollfd pfd[2];
		nfds_t n = 0;
		int timeout = -1, conn_i = -1;

		pfd[n++] = (struct pollfd){ .fd = STDIN_FILENO,
		    .events = POLLIN };
		if (b.conn_fd >= 0) {
			pfd[n] = (struct pollfd){ .fd = b.conn_fd,
			    .events = POLLIN };
			conn_i = (int)n++;
		} else if (b.inserted) {
			timeout = RECONNECT_MS;
		}
		if (poll(pfd, n, timeout) < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "vcard_bridge: poll: %s\n",
			    strerror(errno));
			goto out;
		}
		if (conn_i >= 0 && pfd[conn_i].revents != 0 &&
		    serve_frame(&b) != 0)
			drop_conn(&b);
		if (pfd[0].revents != 0 && !read_commands(&b, line, &line_len))
			break;
		try_connect(&b);
	}
	rc = 0;
out:
	do_remove(&b);
	if (b.reader != NULL)
		vreader_free(b.reader);
	ack(rc == 0 ? "bye" : "failed");
	return rc;
}
