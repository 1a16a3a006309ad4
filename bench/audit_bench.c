/*
 * audit_bench: what durable audit costs (issue 5). Writes N records of a
 * realistic size (a sign record: client, token, certificate, one
 * document, signature digest) through the agent's writer (agent/audit.c
 * on the agent's event loop) with 1 and with 16 records in flight, the
 * way 1 or 16 concurrent signing clients would. Baselines: the record's
 * CPU cost alone (format, HMAC, key evolution; no I/O), and one write +
 * fdatasync per line on the same file system (what a writer without
 * group commit could do at best).
 *
 *   audit_bench [-n N] [-d PARENT_DIR]
 *
 * The logs go to a fresh directory under PARENT_DIR ($TMPDIR or /var/tmp
 * by default): run it on the file system the agent will use.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent/audit.h"
#include "agent/log.h"
#include "agent/loop.h"
#include "common/audit_chain.h"

static struct loop *loop;
static struct audit *aud;
static unsigned long total, submitted, completed, failed;

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static json_t *
event(unsigned long i)
{
	struct ucred peer = { .pid = 4242, .uid = 1000, .gid = 1000 };
	uint8_t d[32];
	json_t *ev = audit_event_new("sign"), *cert;

	memset(d, (int)(i & 0xff), sizeof(d));
	cert = json_pack("{s:s, s:s, s:s}", "sha256",
	    "a1a1a1a1a1a1a1a1b2b2b2b2b2b2b2b2c3c3c3c3c3c3c3c3d4d4d4d4d4d4d4d4",
	    "subject", "CN=Ivanov Ivan Ivanovich,O=Ministry of Examples,C=RU",
	    "serial", "0a1b2c3d4e5f");
	if (ev == NULL || cert == NULL ||
	    audit_event_str(ev, "decision", "allow") != 0 ||
	    audit_event_client(ev, &peer, "/usr/bin/edms-client") != 0 ||
	    audit_event_str(ev, "token", "0123456789abcdef") != 0 ||
	    json_object_set_new(ev, "cert", cert) != 0 ||
	    audit_event_document(ev, "sha256", d, sizeof(d), 123456) != 0 ||
	    audit_event_str(ev, "result", "ok") != 0 ||
	    audit_event_signature(ev, d, sizeof(d)) != 0) {
		fprintf(stderr, "audit_bench: cannot build an event\n");
		exit(1);
	}
	return ev;
}

static void done(void *arg, int status);

static void
submit_next(void)
{
	if (submitted < total) {
		submitted++;
		audit_submit(aud, event(submitted), done, NULL);
	}
}

static void
done(void *arg, int status)
{
	(void)arg;
	if (status != 0)
		failed++;
	completed++;
	if (completed == total)
		loop_stop(loop);
	else
		submit_next();
}

static char *
fresh_dir(const char *parent, const char *name)
{
	struct audit_vkey vk;
	char *d;

	if (asprintf(&d, "%s/%s", parent, name) < 0)
		exit(1);
	if (audit_dir_init(d, 1, &vk) != 0) {
		fprintf(stderr, "audit_bench: cannot set up %s\n", d);
		exit(1);
	}
	explicit_bzero(&vk, sizeof(vk));
	return d;
}

/* Records per second through the writer with `inflight` outstanding. */
static double
run_writer(const char *parent, unsigned long n, unsigned inflight)
{
	char name[32], *d;
	double t0, t;
	unsigned k;

	snprintf(name, sizeof(name), "writer-%u", inflight);
	d = fresh_dir(parent, name);
	if (audit_open(&aud, loop, d, 0) != 0 || audit_set_journal(aud, NULL))
		exit(1);
	total = n;
	submitted = completed = failed = 0;
	t0 = now_s();
	for (k = 0; k < inflight; k++)
		submit_next();
	if (loop_run(loop) != 0)
		exit(1);
	t = now_s() - t0;
	audit_close(aud);
	free(d);
	if (failed) {
		fprintf(stderr, "audit_bench: %lu records failed\n", failed);
		exit(1);
	}
	return (double)n / t;
}

/* The record's CPU work without I/O. */
static double
run_cpu(unsigned long n)
{
	struct timespec ts;
	uint8_t key[AUDIT_KEY_LEN] = { 1 }, prev[AUDIT_HASH_LEN] = { 0 };
	char *line = malloc(AUDIT_MAX_LINE), *body;
	size_t len, blen;
	unsigned long i;
	double t0;

	t0 = now_s();
	for (i = 0; i < n; i++) {
		json_t *ev = event(i);

		if (audit_event_body(ev, &body, &blen) != 0)
			exit(1);
		json_decref(ev);
		clock_gettime(CLOCK_REALTIME, &ts);
		if (audit_line_make(line, AUDIT_MAX_LINE, &len, i + 1, &ts, prev,
		    body, blen, key) != 0 || audit_key_evolve(key) != 0)
			exit(1);
		audit_line_hash(line, len - 1, prev);
		free(body);
	}
	free(line);
	return (double)n / (now_s() - t0);
}

/* One write + fdatasync per line, nothing else. */
static double
run_raw(const char *parent, unsigned long n)
{
	char line[600], *p;
	unsigned long i;
	double t0;
	int fd;

	memset(line, 'x', sizeof(line) - 1);
	line[sizeof(line) - 1] = '\n';
	if (asprintf(&p, "%s/raw.log", parent) < 0 ||
	    (fd = open(p, O_WRONLY | O_CREAT | O_APPEND, 0600)) < 0)
		exit(1);
	t0 = now_s();
	for (i = 0; i < n; i++)
		if (write(fd, line, sizeof(line)) != (ssize_t)sizeof(line) ||
		    fdatasync(fd) != 0)
			exit(1);
	t0 = now_s() - t0;
	close(fd);
	free(p);
	return (double)n / t0;
}

int
main(int argc, char **argv)
{
	const char *parent = getenv("TMPDIR") ? getenv("TMPDIR") : "/var/tmp";
	unsigned long n = 2000;
	char tmpl[512], cmd[600];
	int c;

	while ((c = getopt(argc, argv, "n:d:")) != -1) {
		switch (c) {
		case 'n':
			n = strtoul(optarg, NULL, 10);
			break;
		case 'd':
			parent = optarg;
			break;
		default:
			fprintf(stderr, "usage: audit_bench [-n N] [-d DIR]\n");
			return 2;
		}
	}
	snprintf(tmpl, sizeof(tmpl), "%s/audit_bench.XXXXXX", parent);
	if (n == 0 || mkdtemp(tmpl) == NULL) {
		perror("audit_bench");
		return 1;
	}
	log_init("audit_bench", false);
	if (loop_new(&loop) != 0)
		return 1;
	printf("audit_bench: %lu records, logs in %s\n", n, tmpl);
	printf("  cpu only (format, HMAC, evolve) %10.0f records/s\n", run_cpu(n));
	printf("  write + fdatasync per line      %10.0f lines/s\n",
	    run_raw(tmpl, n));
	printf("  writer, 1 in flight             %10.0f records/s\n",
	    run_writer(tmpl, n, 1));
	printf("  writer, 16 in flight            %10.0f records/s\n",
	    run_writer(tmpl, n, 16));
	printf("  writer, 64 in flight            %10.0f records/s\n",
	    run_writer(tmpl, n, 64));
	loop_free(loop);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpl);
	return system(cmd) == 0 ? 0 : 1;
}
