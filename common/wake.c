/* The process's wake-up pipe (see wake.h). */
#include "common/wake.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

static int s_pipe[2] = {-1, -1};

int ms_wake_fd(void)
{
    if (s_pipe[0] < 0 && pipe2(s_pipe, O_NONBLOCK | O_CLOEXEC) < 0)
        s_pipe[0] = s_pipe[1] = -1;
    return s_pipe[0];
}

void ms_wake_notify(void)
{
    int saved = errno;
    if (s_pipe[1] >= 0 && write(s_pipe[1], "", 1) < 0) {
        /* full: a wake-up is already pending */
    }
    errno = saved;
}

void ms_wake_drain(void)
{
    char buf[64];
    while (s_pipe[0] >= 0 && read(s_pipe[0], buf, sizeof buf) > 0) {
    }
}
