/* fork/exec of our own binary, and reaping. */
#include "driver/launcher.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

pid_t ms_launch_self(char *const argv[], bool own_group, ms_error_t *err)
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
    for (int i = 0; argv[i] && argc < 63; i++) args[argc++] = argv[i];
    args[argc] = NULL;
    /* Until exec the child has our handlers, which only set a flag: a
     * SIGTERM meant for it would be lost. Block signals across fork and
     * restore the default actions in the child before unblocking. */
    sigset_t all, old;
    sigfillset(&all);
    sigprocmask(SIG_BLOCK, &all, &old);
    pid_t pid = fork();
    if (pid == 0) {
        static const int sigs[] = {SIGINT, SIGTERM, SIGCHLD};
        for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
            signal(sigs[i], SIG_DFL);
        sigprocmask(SIG_SETMASK, &old, NULL);
        /* Children report on stderr; stdout belongs to the driver's result. */
        int null = open("/dev/null", O_WRONLY);
        if (null >= 0) dup2(null, STDOUT_FILENO);
        if (own_group) setpgid(0, 0);
        execv(exe, args);
        _exit(127);
    }
    int fork_errno = errno;
    sigprocmask(SIG_SETMASK, &old, NULL);
    if (pid < 0)
        return ms_error_set(err, MS_ERR_IO, "fork failed: %s",
                            strerror(fork_errno));
    return pid;
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
