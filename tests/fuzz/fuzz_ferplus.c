/* Fuzz target: the FER+ votes file (`fer-train --labels ferplus_*`, trainer/src/ferplus.c)
 * through fer_ferplus_load, as the trainer calls it with ../shared/ferplus/votes.tsv.
 *
 * Findings besides crashes: an accepted file whose tables break the format's invariants
 * (ferplus.h): a row number outside 0..FER_FERPLUS_MAX_ROW, more than FER_FERPLUS_MAX_VOTES
 * votes in a row, a row listed twice (fewer present rows than listed ones), votes on a row the
 * file does not list, or no row at all. */
#include <stdint.h>

#include "ferplus.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_write_file("votes.tsv", data, size);
    fer_ferplus fp;
    fer_status st = fer_ferplus_load(path, &fp);
    fuzz_note("load", st);
    if (st != FER_OK)
        return 0;
    if (fp.n_rows < 1 || fp.n_rows > FER_FERPLUS_MAX_ROW + 1)
        fuzz_fail("accepted votes file spans %d rows, outside 1..%d", fp.n_rows,
                  FER_FERPLUS_MAX_ROW + 1);
    if (!fp.present || !fp.votes)
        fuzz_fail("accepted votes file without tables");
    int n_present = 0;
    for (int r = 0; r < fp.n_rows; r++) {
        const uint8_t *v = fp.votes + (size_t)r * FER_FERPLUS_EMOTIONS;
        int total = 0;
        for (int k = 0; k < FER_FERPLUS_EMOTIONS; k++)
            total += v[k];
        if (fp.present[r] > 1)
            fuzz_fail("row %d: present flag %d, not 0 or 1", r, fp.present[r]);
        n_present += fp.present[r];
        if (total > FER_FERPLUS_MAX_VOTES)
            fuzz_fail("row %d holds %d votes, more than %d", r, total, FER_FERPLUS_MAX_VOTES);
        if (!fp.present[r] && total != 0)
            fuzz_fail("row %d is not listed but holds %d votes", r, total);
    }
    if (!fp.present[fp.n_rows - 1])
        fuzz_fail("n_rows %d is not the largest listed row + 1", fp.n_rows);
    if (n_present != fp.n_listed)
        fuzz_fail("%d rows listed but %d distinct rows present (a duplicate was accepted)",
                  fp.n_listed, n_present);
    fer_ferplus_free(&fp);
    return 0;
}
