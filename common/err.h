/*
 * One error convention for the whole code base: a fallible function returns
 * 0 on success or a negative SIGNET_ERR_* value, and is declared MUST_CHECK
 * so a dropped error is a compiler warning (an error under -Werror).
 */
#ifndef SIGNET_ERR_H
#define SIGNET_ERR_H

#define MUST_CHECK __attribute__((warn_unused_result))

enum signet_err {
	SIGNET_OK = 0,
	SIGNET_ERR_NOMEM = -1,     /* allocation failed */
	SIGNET_ERR_LIMIT = -2,     /* a length or count over its cap */
	SIGNET_ERR_FORMAT = -3,    /* malformed input */
	SIGNET_ERR_IO = -4,        /* read/write failed, errno kept by caller */
	SIGNET_ERR_CRYPTO = -5,    /* OpenSSL failed */
	SIGNET_ERR_NOTFOUND = -6,
	SIGNET_ERR_UNSUPPORTED = -7,
	SIGNET_ERR_CLOSED = -8,    /* peer went away */
	SIGNET_ERR_AGAIN = -9,     /* not complete yet, call again */
};

const char *signet_strerror(int err);

#endif
