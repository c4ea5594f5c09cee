/* The self-pipe trick: a signal handler makes the event loop's next poll
 * return at once, whichever thread the signal landed on (a flag alone is
 * seen only when the poll times out). One pipe per process. */
#ifndef MS_WAKE_H
#define MS_WAKE_H

/* Opens the pipe (once); its read end, to poll, or -1 if it cannot be. */
int ms_wake_fd(void);
/* From a signal handler: async-signal-safe, keeps errno. */
void ms_wake_notify(void);
/* Empties the pipe after the poll saw it readable. */
void ms_wake_drain(void);

#endif
