#ifndef SIGNET_JSONMEM_H
#define SIGNET_JSONMEM_H

/*
 * Makes jansson wipe every block it frees. A PIN arrives inside a JSON
 * string; jansson copies it into its own allocations, which the agent
 * cannot otherwise reach to wipe (STYLE.md: secrets wiped on every path).
 */
void jsonmem_init(void);

#endif
