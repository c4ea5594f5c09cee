/* libFuzzer harness for the job file parser: any bytes must give either a
 * spec or an error, never a crash, a leak or a read past the buffer. */
#include <stddef.h>
#include <stdint.h>

#include "driver/jobfile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ms_error_t err;
    ms_job_spec_t *spec = NULL;
    int rc =
        ms_job_spec_parse(&spec, (const char *)data, size, "fuzz.json", &err);
    /* Success and failure are both fine; a half-built spec is not. */
    if ((rc == 0) != (spec != NULL)) __builtin_trap();
    ms_job_spec_destroy(&spec);
    return 0;
}
