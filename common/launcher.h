/* Local process launching: starts `minispark <role> ...` children from the
 * running binary, reaps them and describes how they ended. Every child is
 * tracked by PID; nothing is ever signalled by name. */
#ifndef MS_LAUNCHER_H
#define MS_LAUNCHER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "common/err.h"

/* Starts this binary with argv (argv[0] is the role, e.g. "executor").
 * own_group puts the child in a process group of its own so that a
 * terminal's Ctrl-C does not reach it. Returns the PID, or <0. */
pid_t ms_launch_self(char *const argv[], bool own_group, ms_error_t *err);

/* The same for an executor, with its launch's one-time token (common/
 * auth.h) in its environment: other local users read command lines, not
 * environments. */
pid_t ms_launch_executor(char *const argv[], bool own_group, const char *token,
                         ms_error_t *err);

/* For a child started with --parent-pid: asks for SIGTERM (so that it
 * still cleans up) when its parent dies, then checks that parent is still
 * its parent, closing the race with a parent that died first. Returns 0,
 * or -1 when the parent is gone. parent 0: nothing to follow. */
int ms_follow_parent(pid_t parent);

/* Non-blocking (block=false) or blocking reap of pid: 1 when it ended
 * (*status set), 0 when still running, <0 on error (e.g. not our child). */
int ms_reap(pid_t pid, bool block, int *status);

/* "exited with code 1", "killed by signal 9 (Killed)". */
void ms_describe_exit(int status, char *buf, size_t size);

/* Asks pid to stop with SIGTERM, waits up to grace_ms, then SIGKILLs and
 * reaps it. Returns the exit status. */
int ms_stop_child(pid_t pid, int grace_ms);

#endif
