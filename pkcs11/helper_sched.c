#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "pkcs11/helper.h"

/*
 * Queues and workers. One general worker, plus one worker per token serial,
 * created when a request first names that serial; each runs its queue in
 * FIFO order, so requests for one token run one at a time and in order,
 * and a slow token holds up nobody else. At most P11W_MAX_TOKENS token
 * workers exist; when the table is full, an idle worker without a session
 * (its serial named no present token) is retired to make room.
 *
 * One mutex guards the queues, the table and the published sessions; it is
 * never held across a module call.
 */

struct worker {
	pthread_t thread;
	pthread_cond_t wake;
	struct job *head, **tail;
	bool general;
	bool busy;      /* running a job */
	bool quit;      /* retire when the queue is empty */
	struct token tok;
};

static struct {
	pthread_mutex_t lock;
	pthread_cond_t room;    /* pending work dropped */
	struct worker general;
	struct worker *tokens[P11W_MAX_TOKENS];
	size_t ntokens;
	size_t pending_jobs, pending_bytes;
	bool stopping;
} sched = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.room = PTHREAD_COND_INITIALIZER,
};

static void
worker_run(struct worker *w, struct job *job)
{
	struct buf resp;

	if (serve_peer_gone())
		return;
	buf_init(&resp, 4 + P11W_MAX_MSG);
	helper_p11_lock();
	ops_run(w->general ? NULL : &w->tok, job, &resp);
	helper_p11_unlock();
	if (serve_send(&resp) != 0 && !serve_peer_gone())
		helper_log("response to request %u not sent", job->id);
	buf_free(&resp);
}

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	struct job *job;

	pthread_mutex_lock(&sched.lock);
	for (;;) {
		while (w->head == NULL && !w->quit && !sched.stopping)
			pthread_cond_wait(&w->wake, &sched.lock);
		if (w->head == NULL)
			break;
		job = w->head;
		if ((w->head = job->next) == NULL)
			w->tail = &w->head;
		w->busy = true;
		pthread_mutex_unlock(&sched.lock);

		worker_run(w, job);

		pthread_mutex_lock(&sched.lock);
		w->busy = false;
		sched.pending_jobs--;
		sched.pending_bytes -= job->cost;
		pthread_cond_signal(&sched.room);
		pthread_mutex_unlock(&sched.lock);
		job_free(job);
		pthread_mutex_lock(&sched.lock);
	}
	pthread_mutex_unlock(&sched.lock);
	/* Going away (EOF from the agent, or an error): leave no token
	 * logged in behind us, whatever the module does at C_Finalize. */
	if (!w->general && w->tok.session != CK_INVALID_HANDLE) {
		helper_p11_lock();
		(void)helper_p11->C_Logout(w->tok.session);
		token_forget(&w->tok);
		helper_p11_unlock();
	}
	return NULL;
}

static int
worker_start(struct worker *w, bool general)
{
	int e;

	w->general = general;
	w->head = NULL;
	w->tail = &w->head;
	w->tok.session = CK_INVALID_HANDLE;
	if ((e = pthread_cond_init(&w->wake, NULL)) != 0) {
		errno = e;
		return SIGNET_ERR_NOMEM;
	}
	if ((e = pthread_create(&w->thread, NULL, worker_main, w)) != 0) {
		pthread_cond_destroy(&w->wake);
		errno = e;
		return SIGNET_ERR_NOMEM;
	}
	return 0;
}

int
sched_start(void)
{
	return worker_start(&sched.general, true);
}

/* Retire an idle token worker without a session, if there is one. Called
 * and returns with the lock held; drops it while joining. */
static bool
sched_reclaim(void)
{
	struct worker *w = NULL;
	size_t i;

	for (i = 0; i < sched.ntokens; i++) {
		w = sched.tokens[i];
		if (w->head == NULL && !w->busy &&
		    w->tok.session == CK_INVALID_HANDLE)
			break;
	}
	if (i == sched.ntokens)
		return false;
	sched.tokens[i] = sched.tokens[--sched.ntokens];
	w->quit = true;
	pthread_cond_signal(&w->wake);
	pthread_mutex_unlock(&sched.lock);
	pthread_join(w->thread, NULL);
	pthread_cond_destroy(&w->wake);
	free(w);
	pthread_mutex_lock(&sched.lock);
	return true;
}

/* The worker for a job; with the lock held. NULL: no worker could be had. */
static struct worker *
sched_route(const struct job *job)
{
	struct worker *w;
	size_t i;
	int r;

	if (!job->has_serial)
		return &sched.general;
	for (i = 0; i < sched.ntokens; i++)
		if (strcmp(sched.tokens[i]->tok.serial, job->serial) == 0)
			return sched.tokens[i];
	if (sched.ntokens == P11W_MAX_TOKENS && !sched_reclaim()) {
		helper_log("more than %u tokens in use", P11W_MAX_TOKENS);
		return NULL;
	}
	if ((w = calloc(1, sizeof(*w))) == NULL)
		return NULL;
	memcpy(w->tok.serial, job->serial, sizeof(w->tok.serial));
	if ((r = worker_start(w, false)) != 0) {
		helper_log("cannot start a worker: %m");
		free(w);
		return NULL;
	}
	sched.tokens[sched.ntokens++] = w;
	return w;
}

void
sched_submit(struct job *job)
{
	struct worker *w;
	struct job *fail;

	pthread_mutex_lock(&sched.lock);
	/* Backpressure: stop reading while too much is queued. */
	while (sched.pending_jobs > 0 &&
	    (sched.pending_jobs >= HELPER_MAX_PENDING_JOBS ||
	    sched.pending_bytes + job->cost > HELPER_MAX_PENDING_BYTES))
		pthread_cond_wait(&sched.room, &sched.lock);
	if ((w = sched_route(job)) == NULL) {
		/* Answer it anyway, from the general worker. */
		if ((fail = job_new_early(job->id, job->type,
		    CKR_HOST_MEMORY)) != NULL) {
			job_free(job);
			job = fail;
		} else {
			job->early = true;
			job->early_rv = CKR_HOST_MEMORY;
			job->has_serial = false;
		}
		w = &sched.general;
	}
	job->next = NULL;
	*w->tail = job;
	w->tail = &job->next;
	sched.pending_jobs++;
	sched.pending_bytes += job->cost;
	pthread_cond_signal(&w->wake);
	pthread_mutex_unlock(&sched.lock);
}

static void
sched_drop_queue(struct worker *w)
{
	struct job *job;

	while ((job = w->head) != NULL) {
		w->head = job->next;
		sched.pending_jobs--;
		sched.pending_bytes -= job->cost;
		job_free(job);
	}
	w->tail = &w->head;
}

void
sched_stop(bool drop)
{
	size_t i;

	pthread_mutex_lock(&sched.lock);
	sched.stopping = true;
	if (drop) {
		sched_drop_queue(&sched.general);
		for (i = 0; i < sched.ntokens; i++)
			sched_drop_queue(sched.tokens[i]);
	}
	pthread_cond_broadcast(&sched.general.wake);
	for (i = 0; i < sched.ntokens; i++)
		pthread_cond_broadcast(&sched.tokens[i]->wake);
	pthread_mutex_unlock(&sched.lock);

	/* Only this thread adds workers, so the table is stable now. */
	pthread_join(sched.general.thread, NULL);
	for (i = 0; i < sched.ntokens; i++) {
		pthread_join(sched.tokens[i]->thread, NULL);
		pthread_cond_destroy(&sched.tokens[i]->wake);
		free(sched.tokens[i]);
	}
	sched.ntokens = 0;
}

bool
sched_token_session(const char *serial, size_t len, CK_SESSION_HANDLE *h)
{
	bool found = false;
	size_t i;

	*h = CK_INVALID_HANDLE;
	pthread_mutex_lock(&sched.lock);
	for (i = 0; i < sched.ntokens; i++) {
		if (strlen(sched.tokens[i]->tok.serial) == len &&
		    memcmp(sched.tokens[i]->tok.serial, serial, len) == 0) {
			*h = sched.tokens[i]->tok.session;
			found = *h != CK_INVALID_HANDLE;
			break;
		}
	}
	pthread_mutex_unlock(&sched.lock);
	return found;
}

void
sched_publish_session(struct token *t, CK_SESSION_HANDLE h)
{
	pthread_mutex_lock(&sched.lock);
	t->session = h;
	pthread_mutex_unlock(&sched.lock);
}
