/* Starting our own binary in another role, and reaping. */
#include "common/launcher.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sodium.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/auth.h"

/* environ with the extra entries in front, without ours of their names;
 * free() the array (the strings are borrowed). */
static char **s_env_with(const char *const extra[])
{
    size_t n = 0, k = 0;
    while (environ[n])
        n++;
    while (extra && extra[k])
        k++;
    char **env = calloc(n + k + 1, sizeof *env);
    if (!env) return NULL;
    size_t out = 0;
    for (size_t i = 0; i < k; i++)
        env[out++] = (char *)extra[i];
    for (size_t i = 0; i < n; i++) {
        bool replaced = false;
        for (size_t j = 0; j < k && !replaced; j++) {
            size_t name = strcspn(extra[j], "=");
            replaced = strncmp(environ[i], extra[j], name + 1) == 0;
        }
        if (!replaced) env[out++] = environ[i];
    }
    return env;
}

static pid_t s_launch(char *const argv[], bool own_group,
                      const char *const extra_env[], ms_error_t *err)
{
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n < 0)
        return ms_error_set(err, MS_ERR_IO, "cannot find our own binary: %s",
                            strerror(errno));
    exe[n] = '\0';
    /* argv for exec: "minispark", role, args... */
    char *args[64];
    int argc = 0;
    args[argc++] = "minispark";
    for (int i = 0; argv[i] && argc < 63; i++)
        args[argc++] = argv[i];
    args[argc] = NULL;
    /* posix_spawn (vfork-fast, nothing of ours runs in the child): signals
     * we handle go back to their default actions, so a SIGTERM sent before
     * the child is ready still ends it; children report on stderr, and
     * stdout belongs to the driver's result. */
    posix_spawn_file_actions_t files;
    posix_spawnattr_t attr;
    sigset_t defaults;
    sigemptyset(&defaults);
    sigaddset(&defaults, SIGINT);
    sigaddset(&defaults, SIGTERM);
    sigaddset(&defaults, SIGCHLD);
    posix_spawn_file_actions_init(&files);
    posix_spawn_file_actions_addopen(&files, STDOUT_FILENO, "/dev/null",
                                     O_WRONLY, 0);
    posix_spawnattr_init(&attr);
    posix_spawnattr_setsigdefault(&attr, &defaults);
    posix_spawnattr_setpgroup(&attr, 0);
    posix_spawnattr_setflags(
        &attr, POSIX_SPAWN_SETSIGDEF | (own_group ? POSIX_SPAWN_SETPGROUP : 0));
    pid_t pid;
    char **env = s_env_with(extra_env);
    int rc = env ? posix_spawn(&pid, exe, &files, &attr, args, env) : ENOMEM;
    free(env);
    posix_spawnattr_destroy(&attr);
    posix_spawn_file_actions_destroy(&files);
    if (rc != 0)
        return ms_error_set(err, MS_ERR_IO, "cannot start %s: %s", exe,
                            strerror(rc));
    return pid;
}

pid_t ms_launch_self(char *const argv[], bool own_group, ms_error_t *err)
{
    return s_launch(argv, own_group, NULL, err);
}

pid_t ms_launch_executor(char *const argv[], bool own_group, const char *token,
                         ms_error_t *err)
{
    char entry[sizeof MS_AUTH_TOKEN_ENV + MS_AUTH_TOKEN_LEN + 1];
    snprintf(entry, sizeof entry, "%s=%s", MS_AUTH_TOKEN_ENV, token);
    const char *env[] = {entry, NULL};
    pid_t pid = s_launch(argv, own_group, env, err);
    sodium_memzero(entry, sizeof entry);
    return pid;
}

int ms_follow_parent(pid_t parent)
{
    if (!parent) return 0;
    if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0) return -1;
    return getppid() == parent ? 0 : -1;
}

int ms_reap(pid_t pid, bool block, int *status)
{
    for (;;) {
        pid_t r = waitpid(pid, status, block ? 0 : WNOHANG);
        if (r == pid) return 1;
        if (r == 0) return 0;
        if (errno != EINTR) return MS_ERR_IO;
    }
}

void ms_describe_exit(int status, char *buf, size_t size)
{
    if (WIFEXITED(status))
        snprintf(buf, size, "exited with code %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        snprintf(buf, size, "killed by signal %d (%s)", WTERMSIG(status),
                 strsignal(WTERMSIG(status)));
    else
        snprintf(buf, size, "ended with status %d", status);
}

int ms_stop_child(pid_t pid, int grace_ms)
{
    int status = 0;
    if (ms_reap(pid, false, &status) == 1) return status;
    kill(pid, SIGTERM);
    for (int waited = 0; waited < grace_ms; waited += 10) {
        if (ms_reap(pid, false, &status) == 1) return status;
        struct timespec ts = {0, 10 * 1000000};
        nanosleep(&ts, NULL);
    }
    kill(pid, SIGKILL);
    ms_reap(pid, true, &status);
    return status;
}
