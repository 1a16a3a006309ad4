/*
 * Exit status of the signet CLI; documented in signet(1). The values sit
 * in the sysexits range but carry Signet's own meanings above 64.
 */
#ifndef SIGNET_CLIENT_EXIT_H
#define SIGNET_CLIENT_EXIT_H

#define SIGNET_EXIT_OK          0
#define SIGNET_EXIT_USAGE       64 /* bad command line; bad selector or digest */
#define SIGNET_EXIT_REFUSED     65 /* peer or policy refused (-32001) */
#define SIGNET_EXIT_AUTH        66 /* login needed, PIN problems (-32002) */
#define SIGNET_EXIT_TOKEN       67 /* not found (-32003), token failed (-32004),
                                    * unsupported_key */
#define SIGNET_EXIT_VERIFY      68 /* signet verify: signature not valid */
#define SIGNET_EXIT_UNREACHABLE 69 /* cannot connect, or the agent went away */
#define SIGNET_EXIT_INTERNAL    70 /* anything else: agent bug, protocol
                                    * error, local I/O */

#endif
