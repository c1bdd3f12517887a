/* fer-train: a drop-in for the seed's `python -m src.train` (see trainer/README.md). */
#include <stdio.h>
#include "dist.h"
#include "trainer.h"

int main(int argc, char **argv)
{
    static fer_trainer t; /* large; zero-initialised */
    int done = 0;
    if (fer_dist_init(&argc, &argv)) { /* under mpirun: joins the job (dist.h) */
        fprintf(stderr, "fer-train: %s\n", fer_last_error());
        return FER_EXIT_ERROR;
    }
    int code = fer_trainer_parse(&t, argc, argv, &done);
    if (code != FER_EXIT_OK || done) {
        fer_dist_finalize();
        return code;
    }
    int interrupted = 0;
    fer_status s = fer_trainer_setup(&t);
    if (!s && !t.eval_only) s = fer_trainer_train(&t, &interrupted);
    if (!s && !interrupted) s = fer_trainer_finish(&t);
    if (s) {
        char rank[48] = ""; /* data-parallel: which rank failed */
        if (fer_dist_size() > 1)
            snprintf(rank, sizeof rank, "rank %d of %d: ", fer_dist_rank(), fer_dist_size());
        fprintf(stderr, "fer-train: %s%s\n", rank, fer_last_error()[0] ? fer_last_error()
                                                                      : fer_status_name(s));
        code = FER_EXIT_ERROR;
        fer_dist_abort(code); /* the other ranks would wait for this one forever */
    } else if (interrupted) {
        code = FER_EXIT_INTERRUPTED;
    }
    fer_trainer_free(&t);
    fer_dist_finalize();
    return code;
}
