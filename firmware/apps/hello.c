/* hello: prints a greeting and the SoC variant, then exits with pass. */
#include "dure_rt.h"

int main(void)
{
    printf("Hello from Dure (%s variant, RV32IM at %u Hz)\n", DURE_VARIANT, DURE_CLK_FREQ);
    return 0;
}
