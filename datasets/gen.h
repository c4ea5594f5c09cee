/* The `gen` subcommand: writes a synthetic events CSV (event_id, event_time,
 * country, device, amount) for demos, tests and benchmarks. The output is a
 * pure function of the row count and the seed, byte for byte, on every
 * machine; it is not a general data faker. */
#ifndef MS_GEN_H
#define MS_GEN_H

/* argv[0] is "gen"; parses `--rows N [--seed S] OUT.csv` or `--help`.
 * Returns the process exit status: 0 ok, 2 usage error (message on stderr),
 * 3 when OUT cannot be written (no partial OUT is left behind). */
int ms_gen_main(int argc, char **argv);

#endif
