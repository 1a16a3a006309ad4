/*
 * Follows the PC/SC service (pkcs11/pcsc_monitor.h) from the event loop:
 * any reader or card change makes the agent read its tokens again at once
 * (events.c then tells subscribers and forgets logins of tokens that
 * left). pcscd being absent, or restarted, is survived: when the service
 * comes back, the helpers of modules that use it are restarted, so their
 * PC/SC context is fresh (OpenSC keeps a context that died with pcscd).
 */
#ifndef SIGNET_HOTPLUG_H
#define SIGNET_HOTPLUG_H

#include "agent/agent.h"

struct hotplug;

/* NULL (and a log line) when the monitor cannot start; the agent then
 * relies on its poll. */
struct hotplug *hotplug_start(struct agent *a);
void hotplug_stop(struct hotplug *h);

#endif
