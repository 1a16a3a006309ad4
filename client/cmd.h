/*
 * The signet CLI: one <name>_main per subcommand (cmd_<name>.c), and the
 * helpers they share (cmd_util.c, table.c).
 */
#ifndef SIGNET_CLIENT_CMD_H
#define SIGNET_CLIENT_CMD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <signet/client.h>

#include "client/exit.h"

/* --socket given before the subcommand, or NULL. */
extern const char *cmd_socket;

int info_main(int argc, char **argv);
int tokens_main(int argc, char **argv);
int certs_main(int argc, char **argv);
int login_main(int argc, char **argv);
int logout_main(int argc, char **argv);
int sign_main(int argc, char **argv);
int verify_main(int argc, char **argv);
int watch_main(int argc, char **argv);
int lock_main(int argc, char **argv);

/* "signet: <sub>: <message> (<reason>)" on stderr. */
void cmd_error(const char *sub, const char *reason, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* "signet: <sub>: <message>" on stderr. */
void cmd_warn(const char *sub, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* A usage error: the message, then "usage: <usage>"; returns 64. */
int cmd_usage_error(const char *sub, const char *usage, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The exit status for a libsignet failure (exit.h has the table). */
int cmd_exit_status(int status, const struct signet_error *err);
/* Prints a libsignet failure as one line, prefixed by what ("FILE: ")
 * when not NULL, and returns its exit status. */
int cmd_fail(const char *sub, const char *what, int status,
    const struct signet_error *err);

/* Connects to cmd_socket; on failure prints and returns the exit status. */
int cmd_connect(const char *sub, struct signet_conn **conn);
/* signet_call without params; prints failures. 0 or an exit status. */
int cmd_call(const char *sub, struct signet_conn *conn, const char *method,
    json_t *params, json_t **result);

/* cmd_call, then the result's array member key into *arr (borrowed from
 * *result); a reply without it is a bad reply. 0 or an exit status. */
int cmd_call_list(const char *sub, struct signet_conn *conn,
    const char *method, json_t *params, const char *key, json_t **result,
    json_t **arr);

/* Writes s with control characters (C0, DEL, C1) replaced by '?': text
 * from tokens and certificates must not drive the terminal. */
void cmd_put_text(FILE *f, const char *s);
/* Printable copy of s (as above); NULL on no memory. */
char *cmd_clean_text(const char *s);
/* Columns s takes: UTF-8 code points. */
size_t cmd_text_width(const char *s);
/* Prints v as indented JSON followed by a newline; 0 or an exit status. */
int cmd_print_json(const char *sub, json_t *v);

/* A plain text table: column widths fitted to the cells. */
struct table {
	size_t ncols, nrows, cap;
	char **cells; /* nrows * ncols, cleaned copies */
};
void table_init(struct table *t, size_t ncols);
/* Adds a row of ncols strings (NULL prints as "-"). 0 or -1 (no memory). */
int table_add(struct table *t, const char *const *row);
void table_print(const struct table *t, FILE *f);
void table_free(struct table *t);

/* Reading a PIN (readpin.c) into sb, which must hold at least
 * SIGNET_MAX_PIN_LEN + 1 bytes; *len excludes the line end (\n or
 * \r\n). */
enum pin_status {
	PIN_OK = 0,
	PIN_E_NOTTY = -1,   /* no terminal to ask on */
	PIN_E_IO = -2,      /* read failed; errno says why */
	PIN_E_EOF = -3,     /* nothing before end of input */
	PIN_E_TOOLONG = -4, /* over SIGNET_MAX_PIN_LEN bytes */
	PIN_E_INTR = -5,    /* a signal stopped the prompt */
};
struct secbuf;
/* One line from fd, read a byte at a time so nothing past it is taken. */
int pin_read_fd(int fd, struct secbuf *sb, size_t *len);
/* Prompts on /dev/tty and reads with echo off; the terminal is restored
 * on every path, including the signals that end the prompt. */
int pin_read_tty(const char *prompt, struct secbuf *sb, size_t *len);

/* Small accessors for reply objects: "" / false when absent. */
const char *jstr(json_t *o, const char *key);
bool jbool(json_t *o, const char *key);

#endif
