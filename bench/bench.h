/* `minispark bench`: in-process measurements of the engine's data path,
 * using the same planner and task code as real runs. It sits above the
 * driver and executor layers (like main.c), so it may use both. */
#ifndef MS_BENCH_H
#define MS_BENCH_H

/* argv[0] is "bench"; `bench scan FILE [--job JOB.json] [--runs N]` or
 * `bench shuffle [options]`. */
int ms_bench_main(int argc, char **argv);
/* `bench shuffle` (argv[1] is "shuffle"). */
int ms_bench_shuffle_main(int argc, char **argv);

#endif
