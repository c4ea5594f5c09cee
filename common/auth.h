/* Spark's spark.authenticate for minispark's ZeroMQ sockets: every TCP
 * socket speaks CURVE with keys derived from the shared secret, and server
 * sockets log the connections they refuse. It is not a user or permission
 * system: whoever holds the secret is trusted with everything.
 *
 * Why it is safe without sending anything secret: two X25519 keypairs, one
 * for servers and one for clients, are derived from the secret. The server
 * public key is never sent on the wire: a client must already know it to
 * complete the CURVE handshake, so a peer without the secret can neither
 * connect to a server socket nor pose as one to a client, and all traffic
 * is encrypted. On top of that, a ZAP handler pins the client key, so
 * knowing the server public key alone (it is public by design) is not
 * enough to be served.
 *
 * The state is process-wide (one process, one identity): sockets are made
 * deep inside many modules, and passing an object to all of them would buy
 * nothing. Set it once at startup, before threads that make sockets. */
#ifndef MS_AUTH_H
#define MS_AUTH_H

#include <stdbool.h>
#include <stddef.h>

#include "common/conf.h"
#include "common/err.h"

/* How a parent hands the secret to the processes it starts: inherited
 * through the environment, never on a command line (Spark's
 * _SPARK_AUTH_SECRET). */
#define MS_AUTH_ENV "MINISPARK_AUTH_SECRET"

/* Derives the keys from secret (the secret itself is not kept). NULL or ""
 * disables authentication. A secret shorter than 8 bytes is MS_ERR_USAGE;
 * the state is then left as it was. */
int ms_auth_set_secret(const char *secret, ms_error_t *err);

bool ms_auth_enabled(void);

/* Reads spark.authenticate (default false) and the secret: from
 * spark.authenticate.secret, else spark.authenticate.secret.file (its
 * content, trailing newlines stripped), else MINISPARK_AUTH_SECRET. With
 * spark.authenticate false, a secret in the environment still turns it on:
 * this process was started by an authenticated parent. When enabled, sets
 * MINISPARK_AUTH_SECRET so children inherit it (setenv: call before
 * starting threads). MS_ERR_USAGE when authentication is on without a
 * secret, or the secret is too short; MS_ERR_IO when the file is
 * unreadable. */
int ms_auth_conf(const ms_conf_t *conf, ms_error_t *err);

/* Makes sock a CURVE server with the derived key; call before zmq_bind. A
 * no-op when disabled. */
int ms_auth_server(void *sock, ms_error_t *err);

/* Makes sock a CURVE client of the derived server key, with the derived
 * client keypair; call before zmq_connect. A no-op when disabled. */
int ms_auth_client(void *sock, ms_error_t *err);

/* Checks and logs the peers of server socket sock (after ms_auth_server,
 * before zmq_bind, from the thread that owns sock): a ZAP handler for zctx
 * refuses clients whose CURVE key is not the derived client key, and a
 * monitor on sock reports handshakes that failed before ZAP (no secret, or
 * another one). Both print one line per refusal to stderr, naming what
 * ("driver", "shuffle server"). This takes one thread per context (ZAP)
 * and one per guarded socket (monitor); they end by themselves when the
 * socket is closed or zctx terminated, and never hold up zmq_ctx_term. A
 * no-op when disabled. */
int ms_auth_guard(void *zctx, void *sock, const char *what, ms_error_t *err);

/* Launch tokens. Every executor launch carries a random one-time token that
 * its REGISTER must present: the driver accepts a registration only with
 * the token of a launch it made and that no executor has used yet. It
 * travels in the executor's environment (MS_AUTH_TOKEN_ENV), which only
 * its user and root can read, never on its command line, which every
 * local user can. */
#define MS_AUTH_TOKEN_ENV "MINISPARK_EXECUTOR_TOKEN"
/* 128 random bits as lower-case hex. */
#define MS_AUTH_TOKEN_LEN 32

/* A fresh token (MS_AUTH_TOKEN_LEN hex digits and a NUL) in out. */
int ms_auth_token_new(char out[MS_AUTH_TOKEN_LEN + 1], ms_error_t *err);

/* True when the len bytes at got are the token want, compared in constant
 * time (a timing difference must not tell a forger how much matched). */
bool ms_auth_token_eq(const char *want, const void *got, size_t len);

/* Moves this process's token from the environment into out and wipes it
 * there (so /proc/PID/environ no longer shows it). False when there is
 * none or it is not a token. */
bool ms_auth_token_take(char out[MS_AUTH_TOKEN_LEN + 1]);

#endif
