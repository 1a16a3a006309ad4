#ifndef SIGNET_CKR_H
#define SIGNET_CKR_H

#include <stdint.h>

/* "CKR_PIN_INCORRECT" for 0xa0; "CKR_0x..." in a static buffer otherwise
 * (not thread-safe for unknown values; the agent is single-threaded). */
const char *ckr_name(uint64_t rv);

#endif
