/*
 * signetd: command line, listening socket (own or systemd's), signals,
 * and the event loop.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "agent/agent.h"
#include "agent/audit.h"
#include "agent/audit_setup.h"
#include "agent/audited.h"
#include "agent/config.h"
#include "common/audit_chain.h"
#include "agent/events.h"
#include "agent/facts.h"
#include "agent/gost.h"
#include "agent/hotplug.h"
#include "agent/jsonmem.h"
#include "agent/log.h"
#include "agent/policy.h"
#include "agent/policy_conf.h"
#include "agent/registry.h"

#define EXIT_USAGE 64
#define EXIT_CONFIG 78

static const char *default_modules[] = {
	"/usr/lib/x86_64-linux-gnu/p11-kit-proxy.so",
	"/usr/lib/aarch64-linux-gnu/p11-kit-proxy.so",
	"/usr/lib/p11-kit-proxy.so",
	"/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so",
	"/usr/lib/aarch64-linux-gnu/opensc-pkcs11.so",
	"/usr/lib/opensc-pkcs11.so",
};

struct listener {
	struct agent *agent;
	int fd;
	struct watch *watch;
	char *path;            /* ours to unlink at exit; NULL when inherited */
};

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: signetd [--socket PATH] [--module PATH]... [--config FILE]\n"
	    "               [--user | --system] [--audit-dir DIR]\n"
	    "               [--check-config [FILE]]\n"
	    "               [--foreground] [--debug] [--version]\n");
}

/* The helper beside our own binary (build tree), else the installed one. */
static char *
helper_path(void)
{
	char self[PATH_MAX], *slash, *p;
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	if (n > 0) {
		self[n] = '\0';
		if ((slash = strrchr(self, '/')) != NULL) {
			*slash = '\0';
			if (asprintf(&p, "%s/signet-pkcs11-helper", self) > 0) {
				if (access(p, X_OK) == 0)
					return p;
				free(p);
			}
		}
	}
	return strdup(SIGNET_LIBEXECDIR "/signet-pkcs11-helper");
}

static const char *
default_module(void)
{
	size_t i;

	for (i = 0; i < sizeof(default_modules) / sizeof(default_modules[0]); i++)
		if (access(default_modules[i], R_OK) == 0)
			return default_modules[i];
	return NULL;
}

/* The default configuration file, when it exists: /etc/signet/signet.conf
 * in system mode, $XDG_CONFIG_HOME/signet/signet.conf in user mode. */
static char *
default_config_path(bool system_mode)
{
	const char *x = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
	char *p = NULL;

	if (system_mode)
		p = strdup("/etc/signet/signet.conf");
	else if (x != NULL && x[0] == '/') {
		if (asprintf(&p, "%s/signet/signet.conf", x) < 0)
			p = NULL;
	} else if (home != NULL && home[0] == '/') {
		if (asprintf(&p, "%s/.config/signet/signet.conf", home) < 0)
			p = NULL;
	}
	if (p != NULL && access(p, F_OK) != 0) {
		free(p);
		p = NULL;
	}
	return p;
}

static char *
default_socket(void)
{
	const char *rt = getenv("XDG_RUNTIME_DIR");
	char *p;

	if (rt == NULL || rt[0] != '/')
		return NULL;
	if (asprintf(&p, "%s/%s/%s", rt, SIGNET_SOCKET_DIR_NAME, SIGNET_SOCKET_NAME) < 0)
		return NULL;
	return p;
}

/* The socket's directory: created 0700, or an existing one that only we
 * can enter (anyone else could swap the socket under us). */
static int
socket_dir(const char *path)
{
	char dir[PATH_MAX], *slash;
	struct stat st;

	if (strlen(path) >= sizeof(dir))
		return -1;
	strcpy(dir, path);
	if ((slash = strrchr(dir, '/')) == NULL || slash == dir)
		return 0;
	*slash = '\0';
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		log_err("cannot create %s: %s", dir, strerror(errno));
		return -1;
	}
	if (lstat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
		log_err("%s is not a directory", dir);
		return -1;
	}
	if (st.st_uid != getuid() && st.st_uid != 0) {
		log_err("%s belongs to uid %u, not to us", dir, (unsigned)st.st_uid);
		return -1;
	}
	return 0;
}

static int
listen_own(struct listener *ls, const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	mode_t old;
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		log_err("socket path too long: %s", path);
		return -1;
	}
	strcpy(sa.sun_path, path);
	if (socket_dir(path) != 0)
		return -1;
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0)
		return -1;
	/* A live agent answers; a dead one left a stale socket to replace. */
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
		log_err("another agent is already listening on %s", path);
		close(fd);
		return -1;
	}
	close(fd);
	unlink(path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0)
		return -1;
	old = umask(0177); /* the socket is born 0600 */
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		umask(old);
		log_err("bind %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	umask(old);
	if (listen(fd, 128) != 0) {
		log_err("listen: %s", strerror(errno));
		close(fd);
		unlink(path);
		return -1;
	}
	ls->fd = fd;
	ls->path = strdup(path);
	return 0;
}

/* systemd's socket, when we were started by socket activation. */
static int
listen_activated(struct listener *ls)
{
	int n = sd_listen_fds(1), fl;

	if (n <= 0)
		return n == 0 ? 1 : -1;
	if (n > 1 || sd_is_socket_unix(SD_LISTEN_FDS_START, SOCK_STREAM, 1, NULL, 0) <= 0) {
		log_err("socket activation: expected one listening Unix stream socket");
		return -1;
	}
	ls->fd = SD_LISTEN_FDS_START;
	if ((fl = fcntl(ls->fd, F_GETFL)) < 0 ||
	    fcntl(ls->fd, F_SETFL, fl | O_NONBLOCK) != 0 ||
	    fcntl(ls->fd, F_SETFD, FD_CLOEXEC) != 0)
		return -1;
	ls->path = NULL;
	return 0;
}

#define ACCEPT_PAUSE_MS 100u

static void
listen_resume(void *arg)
{
	struct listener *ls = arg;

	if (loop_watch_set(ls->watch, EPOLLIN) != 0)
		log_err("cannot watch the listening socket again");
}

/* Out of descriptors, accept fails at once and the socket stays readable:
 * stop watching it for a moment rather than spin; clients wait in the
 * backlog meanwhile. */
static void
on_listen(void *arg, uint32_t events)
{
	struct listener *ls = arg;

	(void)events;
	if (conn_accept(ls->agent, ls->fd) == SIGNET_ERR_LIMIT &&
	    loop_watch_set(ls->watch, 0) == 0 &&
	    loop_timer(ls->agent->loop, ACCEPT_PAUSE_MS, listen_resume, ls) == NULL)
		listen_resume(ls);
}

struct sigctx {
	struct agent *agent;
	int fd;
	const char *config_file;  /* what SIGHUP re-reads; NULL: none */
};

/*
 * SIGHUP: read the configuration again and swap in its policy whole. A
 * file that does not parse keeps the old policy (and says why); the
 * socket, modules and mode stay as they are until a restart.
 */
static void
reload_policy(struct sigctx *sc)
{
	struct agent *a = sc->agent;
	struct config cfg;
	struct policy *p = NULL, *old;
	json_t *ev = audit_event_new("policy_reload");
	int err = SIGNET_ERR_NOTFOUND;

	config_init(&cfg);
	if (sc->config_file != NULL &&
	    (err = config_load(&cfg, sc->config_file)) == 0 &&
	    (p = malloc(sizeof(*p))) != NULL) {
		*p = cfg.policy;          /* moved: cfg no longer owns it */
		policy_init(&cfg.policy);
		if (cfg.system_mode != a->system_mode)
			log_warn("reload: mode changes only at restart");
		old = a->policy;
		a->policy = p;
		facts_chain_forget(); /* the bundle may have changed too */
		policy_clear(old);
		free(old);
		events_rearm(a->events);
		log_info("reload: policy from %s in force", sc->config_file);
	} else
		log_err("reload: %s; the old policy stays in force",
		    sc->config_file == NULL ? "no configuration file" :
		    err != 0 ? "the file has errors (above)" : "out of memory");
	if (ev != NULL) {
		json_object_set_new(ev, "result", json_string(p != NULL ? "ok" : "error"));
		if (sc->config_file != NULL)
			json_object_set_new(ev, "file", json_string(sc->config_file));
	}
	audited_note(a, ev);
	config_clear(&cfg);
}

static void
on_signal(void *arg, uint32_t events)
{
	struct sigctx *sc = arg;
	struct signalfd_siginfo si;

	(void)events;
	while (read(sc->fd, &si, sizeof(si)) == sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGTERM:
		case SIGINT:
			log_info("signal %u: stopping", si.ssi_signo);
			sc->agent->stopping = true;
			loop_stop(sc->agent->loop);
			break;
		case SIGHUP:
			reload_policy(sc);
			break;
		}
	}
}

static void
audit_agent_event(struct agent *a, const char *type, const char *reason)
{
	json_t *ev = audit_event_new(type);

	if (ev == NULL)
		return;
	json_object_set_new(ev, "reason", json_string(reason));
	json_object_set_new(ev, "version", json_string(SIGNET_VERSION));
	audited_note(a, ev);
}

/* No core dumps or ptrace of a process that handles PINs. */
static void
harden(void)
{
	struct rlimit rl = { 0, 0 };

	setrlimit(RLIMIT_CORE, &rl);
	prctl(PR_SET_DUMPABLE, 0);
	/* Many clients at once: use the hard descriptor limit. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "module", required_argument, NULL, 'm' },
		{ "config", required_argument, NULL, 'c' },
		{ "foreground", no_argument, NULL, 'f' },
		{ "system", no_argument, NULL, 'S' },
		{ "user", no_argument, NULL, 'U' },
		{ "audit-dir", required_argument, NULL, 'a' },
		{ "check-config", no_argument, NULL, 'C' },
		{ "debug", no_argument, NULL, 'd' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct config cfg;
	struct agent agent = { 0 };
	struct listener ls = { .fd = -1 };
	struct sigctx sc = { .fd = -1 };
	const char *config_file = NULL, *m;
	char *helper = NULL, *sock = NULL, *audit_dir = NULL;
	char *default_config = NULL;
	bool check_only = false;
	struct hotplug *hotplug = NULL;
	sigset_t mask;
	bool foreground = false, debug = false;
	int ch, r, status = 1;

	config_init(&cfg);
	while ((ch = getopt_long(argc, argv, "s:m:c:fdVh", opts, NULL)) != -1) {
		switch (ch) {
		case 'S':
		case 'U':
			cfg.system_mode = ch == 'S';
			cfg.mode_set = true;
			break;
		case 'a':
			free(cfg.audit_dir);
			cfg.audit_dir = strdup(optarg);
			break;
		case 'C':
			check_only = true;
			break;
		case 's':
			free(cfg.socket);
			cfg.socket = strdup(optarg);
			break;
		case 'm':
			if (config_add_module(&cfg, optarg, true) != 0) {
				fprintf(stderr, "signetd: at most %u modules\n",
				    AGENT_MAX_MODULES);
				status = EXIT_USAGE;
				goto out;
			}
			break;
		case 'c':
			config_file = optarg;
			break;
		case 'f':
			foreground = true;
			break;
		case 'd':
			debug = true;
			break;
		case 'V':
			printf("signetd %s (protocol %d)\n", SIGNET_VERSION,
			    SIGNET_PROTOCOL_VERSION);
			status = 0;
			goto out;
		case 'h':
			usage(stdout);
			status = 0;
			goto out;
		default:
			usage(stderr);
			status = EXIT_USAGE;
			goto out;
		}
	}
	if (check_only && optind + 1 == argc && config_file == NULL)
		config_file = argv[optind++];
	if (optind != argc) {
		usage(stderr);
		status = EXIT_USAGE;
		goto out;
	}
	log_init("signetd", debug);
	/* The command line wins over the file. */
	status = EXIT_CONFIG;
	if (config_file == NULL)
		config_file = default_config = default_config_path(cfg.system_mode);
	if (config_file != NULL && config_load(&cfg, config_file) != 0)
		goto out;
	if (check_only) {
		printf("# effective policy%s%s (%s mode)\n",
		    config_file != NULL ? " of " : "",
		    config_file != NULL ? config_file : " (no file: defaults)",
		    cfg.system_mode ? "system" : "user");
		status = policy_print(&cfg.policy, cfg.system_mode ?
		    POLICY_MODE_SYSTEM : POLICY_MODE_USER, getuid(), stdout) == 0 ?
		    0 : EXIT_CONFIG;
		goto out;
	}
	if (cfg.nmodules == 0) {
		if ((m = default_module()) == NULL)
			log_err("no PKCS#11 module found: give --module");
		if (m == NULL || config_add_module(&cfg, m, false) != 0)
			goto out;
	}
	status = 1;
	harden();
	jsonmem_init();
	/* Before any thread: the engine registers GOST digests and keys
	 * process-wide (issue 7); RSA and EC work without it. */
	if (gost_init(NULL) == 0)
		log_info("gost engine: %s", gost_source());
	else
		log_info("no gost engine: GOST keys and Streebog unsupported");
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);

	if ((r = listen_activated(&ls)) < 0)
		goto out;
	if (r == 1) {
		sock = cfg.socket != NULL ? strdup(cfg.socket) : default_socket();
		if (sock == NULL) {
			log_err("no socket path: give --socket or set XDG_RUNTIME_DIR");
			goto out;
		}
		if (listen_own(&ls, sock) != 0)
			goto out;
	}
	if (!foreground && ls.path != NULL && daemon(0, 1) != 0) {
		log_err("daemon: %s", strerror(errno));
		goto out;
	}
	agent.uid = getuid();
	agent.system_mode = cfg.system_mode;
	if ((agent.policy = malloc(sizeof(*agent.policy))) == NULL)
		goto out;
	*agent.policy = cfg.policy;       /* moved: the agent owns it now */
	policy_init(&cfg.policy);
	sc.config_file = config_file;
	agent.listen_fd = ls.fd;
	ls.agent = &agent;
	agent.line_timeout_ms = cfg.line_timeout * 1000u;
	if ((helper = helper_path()) == NULL || loop_new(&agent.loop) != 0 ||
	    registry_new(&agent.reg, agent.loop, helper, cfg.modules, cfg.nmodules) != 0) {
		log_err("cannot set up the agent");
		goto out;
	}
	if (events_new(&agent.events, &agent) != 0)
		goto out;
	audit_dir = cfg.audit_dir != NULL ? strdup(cfg.audit_dir) :
	    audit_default_dir(cfg.system_mode);
	audit_setup(&agent, audit_dir, cfg.audit_max_file, cfg.system_mode);
	audit_agent_event(&agent, "agent_start", "start");
	registry_set_listener(agent.reg, events_on_snapshot, agent.events);
	/* Learn the tokens present at start, so events report changes. */
	events_poke(agent.events);
	hotplug = hotplug_start(&agent);
	if ((sc.fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC)) < 0)
		goto out;
	sc.agent = &agent;
	if (loop_watch(agent.loop, sc.fd, EPOLLIN, on_signal, &sc) == NULL ||
	    (ls.watch = loop_watch(agent.loop, ls.fd, EPOLLIN, on_listen, &ls)) == NULL)
		goto out;
	for (size_t i = 0; i < cfg.nmodules; i++)
		log_info("module %s", cfg.modules[i]);
	log_info("listening on %s (pid %d)", ls.path != NULL ? ls.path : "systemd socket",
	    (int)getpid());
	sd_notify(0, "READY=1");
	if (loop_run(agent.loop) != 0) {
		log_err("event loop failed: %s", strerror(errno));
		goto out;
	}
	sd_notify(0, "STOPPING=1");
	status = 0;
out:
	/* Stop taking clients first, then let the helpers log out, then
	 * write the last record. */
	if (ls.fd >= 0)
		close(ls.fd);
	if (ls.path != NULL)
		unlink(ls.path);
	conn_close_all(&agent);
	hotplug_stop(hotplug);
	registry_free(agent.reg);
	if (agent.audit != NULL) {
		audit_agent_event(&agent, "agent_stop", status == 0 ? "stop" : "error");
		audit_close(agent.audit);
	}
	events_free(agent.events);
	facts_chain_forget();
	if (agent.policy != NULL) {
		policy_clear(agent.policy);
		free(agent.policy);
	}
	free(audit_dir);
	free(default_config);
	loop_free(agent.loop);
	if (sc.fd >= 0)
		close(sc.fd);
	free(ls.path);
	free(sock);
	free(helper);
	config_clear(&cfg);
	return status;
}
