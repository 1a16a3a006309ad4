#include "common/err.h"

const char *
signet_strerror(int err)
{
	switch (err) {
	case SIGNET_OK: return "success";
	case SIGNET_ERR_NOMEM: return "out of memory";
	case SIGNET_ERR_LIMIT: return "length or count over its limit";
	case SIGNET_ERR_FORMAT: return "malformed input";
	case SIGNET_ERR_IO: return "input/output error";
	case SIGNET_ERR_CRYPTO: return "cryptographic library error";
	case SIGNET_ERR_NOTFOUND: return "not found";
	case SIGNET_ERR_UNSUPPORTED: return "not supported";
	case SIGNET_ERR_CLOSED: return "peer closed the connection";
	case SIGNET_ERR_AGAIN: return "not complete yet";
	}
	return "unknown error";
}
