// Replays a pin trace through the harness's SDRAM chip model (sim/sdram_chip.h), for the test
// that holds it to the Python model (dure.sim.verif.sdram_chip), cycle by cycle.
//
//   sdram_chip_replay < trace > out
//
// Input: one header line `t_ck t_init t_ref refresh_rows clock_inverted`, then one line per
// cycle `cke cs ras cas we ba a dqm dq_o dq_oe` (decimal). Output: per cycle the value the chip
// drives in the next cycle (-1: none); at the first violation a line `VIOLATION <message>`
// instead, and the program stops (exit status 0 either way; 2 for a malformed trace).

#include <cstdio>
#include <iostream>

#include "../sdram_chip.h"

int main() {
    dure::SdramDatasheet ds;
    double t_ck;
    int inverted;
    if (!(std::cin >> t_ck >> ds.t_init >> ds.t_ref >> ds.refresh_rows >> inverted)) {
        std::fprintf(stderr, "sdram_chip_replay: bad header line\n");
        return 2;
    }
    dure::SdramChip chip(t_ck, ds, inverted != 0);
    int v[10];
    while (std::cin >> v[0] >> v[1] >> v[2] >> v[3] >> v[4] >> v[5] >> v[6] >> v[7] >> v[8] >>
           v[9]) {
        dure::SdramPins p{v[0] != 0, v[1] != 0, v[2] != 0, v[3] != 0, v[4] != 0,
                          unsigned(v[5]), unsigned(v[6]), unsigned(v[7]), unsigned(v[8]),
                          v[9] != 0};
        try {
            std::printf("%d\n", chip.step(p));
        } catch (const dure::SdramViolation& violation) {
            std::printf("VIOLATION %s\n", violation.what());
            return 0;
        }
    }
    return 0;
}
