/* Built only by the layers test, as part of the executor layer: the
 * shuffle layer is below it, so this include is found (the control for
 * executor_includes_driver.c). */
#include "shuffle/files.h"
