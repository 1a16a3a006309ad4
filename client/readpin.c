/*
 * Reading a PIN: from the controlling terminal with echo off, or from a
 * descriptor a program hands us. Bytes go straight from read(2) into
 * locked memory; no stdio buffer ever holds them.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "client/cmd.h"
#include "client/secmem.h"

static volatile sig_atomic_t pin_caught;

static void
pin_on_signal(int sig)
{
	pin_caught = sig;
}

/* One line, a byte at a time; a too-long line is read to its end so the
 * rest of it is not taken for the next input. */
static int
read_line(int fd, struct secbuf *sb, size_t *len)
{
	size_t o = 0, cap = SIGNET_MAX_PIN_LEN + 1; /* room for a '\r' */
	bool nl = false, toolong = false;
	unsigned char ch = 0;
	int r;

	*len = 0;
	if (sb->len < cap)
		return PIN_E_IO;
	for (;;) {
		ssize_t n;

		if (pin_caught) {
			r = PIN_E_INTR;
			goto out;
		}
		if ((n = read(fd, &ch, 1)) < 0) {
			if (errno == EINTR)
				continue;
			r = PIN_E_IO;
			goto out;
		}
		if (n == 0)
			break;
		if (ch == '\n') {
			nl = true;
			break;
		}
		if (o < cap)
			sb->p[o++] = (char)ch;
		else
			toolong = true;
	}
	if (nl && o > 0 && sb->p[o - 1] == '\r')
		o--;
	if (toolong || o > SIGNET_MAX_PIN_LEN)
		r = PIN_E_TOOLONG;
	else if (!nl && o == 0)
		r = PIN_E_EOF;
	else {
		*len = o;
		r = PIN_OK;
	}
 out:
	explicit_bzero(&ch, sizeof(ch));
	if (r != PIN_OK)
		explicit_bzero(sb->p, sb->len);
	return r;
}

int
pin_read_fd(int fd, struct secbuf *sb, size_t *len)
{
	pin_caught = 0;
	return read_line(fd, sb, len);
}

static const int pin_signals[] = {
	SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGTSTP, SIGTTIN, SIGTTOU,
};
#define NSIG_PIN (sizeof(pin_signals) / sizeof(pin_signals[0]))

static void
write_str(int fd, const char *s)
{
	size_t off = 0, n = strlen(s);

	while (off < n) {
		ssize_t w = write(fd, s + off, n - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		off += (size_t)w;
	}
}

int
pin_read_tty(const char *prompt, struct secbuf *sb, size_t *len)
{
	struct sigaction sa, old_sa[NSIG_PIN];
	struct termios old, noecho;
	bool restore = false;
	size_t i;
	int fd, r, sig;

	*len = 0;
	if ((fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC)) < 0)
		return PIN_E_NOTTY;
	if (tcgetattr(fd, &old) != 0) {
		(void)close(fd);
		return PIN_E_NOTTY;
	}
	/* No SA_RESTART: a signal must end the read() so the terminal gets
	 * its echo back before the signal takes effect. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = pin_on_signal;
	sigemptyset(&sa.sa_mask);
	pin_caught = 0;
	for (i = 0; i < NSIG_PIN; i++)
		(void)sigaction(pin_signals[i], &sa, &old_sa[i]);
	write_str(fd, prompt);
	noecho = old;
	noecho.c_lflag &= ~(tcflag_t)(ECHO | ECHOE | ECHOK | ECHONL);
	if (tcsetattr(fd, TCSAFLUSH, &noecho) == 0)
		restore = true;
	r = read_line(fd, sb, len);
	if (restore)
		(void)tcsetattr(fd, TCSAFLUSH, &old);
	write_str(fd, "\n");
	(void)close(fd);
	for (i = 0; i < NSIG_PIN; i++)
		(void)sigaction(pin_signals[i], &old_sa[i], NULL);
	/* Now that the terminal is sane, let the signal do what it would
	 * have done. */
	if ((sig = pin_caught) != 0) {
		pin_caught = 0;
		explicit_bzero(sb->p, sb->len);
		*len = 0;
		(void)raise(sig);
		r = PIN_E_INTR;
	}
	return r;
}
