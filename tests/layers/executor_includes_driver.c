/* Built only by the layers test, as part of the executor layer: the
 * driver is above it, so this include must not be found. */
#include "driver/app.h"
