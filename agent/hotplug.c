#include <stdlib.h>
#include <sys/epoll.h>

#include "agent/events.h"
#include "agent/hotplug.h"
#include "agent/log.h"
#include "agent/registry.h"
#include "pkcs11/pcsc_monitor.h"

struct hotplug {
	struct agent *agent;
	struct pcsc_monitor *mon;
	struct watch *watch;
	uint64_t dropped;
	bool lost;               /* the service went away and is not back */
};

static void
hotplug_ready(void *arg, uint32_t events)
{
	struct hotplug *h = arg;
	struct pcsc_event ev[32];
	uint64_t dropped;
	bool changed = false, back = false;
	int n, i;

	(void)events;
	while ((n = pcsc_monitor_read(h->mon, ev, sizeof(ev) / sizeof(ev[0]))) > 0) {
		for (i = 0; i < n; i++) {
			log_info("pcsc: %s%s%s", pcsc_event_name(ev[i].type),
			    ev[i].reader[0] != '\0' ? " " : "", ev[i].reader);
			switch (ev[i].type) {
			case PCSC_EV_SERVICE_LOST:
				h->lost = true;
				break;
			case PCSC_EV_SERVICE_BACK:
				back = h->lost;
				h->lost = false;
				break;
			default:
				break;
			}
			changed = true;
		}
	}
	if ((dropped = pcsc_monitor_dropped(h->mon)) != h->dropped) {
		h->dropped = dropped;
		changed = true; /* some events were lost: read everything */
	}
	if (back)
		registry_restart_pcsc(h->agent->reg);
	if (changed)
		events_poke(h->agent->events);
}

struct hotplug *
hotplug_start(struct agent *a)
{
	struct hotplug *h = calloc(1, sizeof(*h));

	if (h == NULL)
		return NULL;
	h->agent = a;
	if (pcsc_monitor_start(&h->mon) != 0) {
		log_warn("pcsc: monitor not started; tokens are polled instead");
		free(h);
		return NULL;
	}
	h->watch = loop_watch(a->loop, pcsc_monitor_fd(h->mon), EPOLLIN,
	    hotplug_ready, h);
	if (h->watch == NULL) {
		pcsc_monitor_stop(h->mon);
		free(h);
		return NULL;
	}
	return h;
}

void
hotplug_stop(struct hotplug *h)
{
	if (h == NULL)
		return;
	loop_unwatch(h->watch);
	pcsc_monitor_stop(h->mon);
	free(h);
}
