/* minispark: one binary for every role. This file only picks the role's
 * entry point from the first argument; each role parses its own options. */
#include <stdio.h>
#include <string.h>

#include "bench/bench.h"
#include "datasets/gen.h"
#include "driver/driver.h"
#include "driver/report.h"
#include "executor/executor.h"
#include "shuffle/server.h"
#include "worker/worker.h"

#define MS_VERSION "0.1.0"

static const struct {
    const char *name;
    int (*main)(int argc, char **argv);
    const char *help; /* NULL: internal, not listed */
} s_commands[] = {
    {"run", ms_driver_main, "run a job file (driver, executors, shuffle)"},
    {"shuffle-server", ms_shuffle_server_main,
     "serve shuffle files of this host (external shuffle service)"},
    {"worker", ms_worker_main,
     "start executors on this host for drivers (LAN mode, workers://)"},
    {"gen", ms_gen_main, "generate the synthetic events CSV"},
    {"bench", ms_bench_main,
     "time the data path in-process (bench scan FILE | bench shuffle)"},
    {"report", ms_report_main,
     "draw a finished run's event log as an SVG or HTML timeline"},
    {"executor", ms_executor_main, NULL},
};

static void s_usage(FILE *out)
{
    fputs("usage: minispark COMMAND [options]\n\ncommands:\n", out);
    for (size_t i = 0; i < sizeof s_commands / sizeof s_commands[0]; i++)
        if (s_commands[i].help)
            fprintf(out, "  %-16s %s\n", s_commands[i].name,
                    s_commands[i].help);
    fputs("\n`minispark COMMAND --help` describes a command's options.\n"
          "minispark --version prints the version.\n",
          out);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        s_usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        s_usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("minispark %s\n", MS_VERSION);
        return 0;
    }
    for (size_t i = 0; i < sizeof s_commands / sizeof s_commands[0]; i++)
        if (strcmp(argv[1], s_commands[i].name) == 0)
            return s_commands[i].main(argc - 1, argv + 1);
    fprintf(stderr, "minispark: unknown command '%s'\n\n", argv[1]);
    s_usage(stderr);
    return 2;
}
