/* fer-train: a drop-in for the seed's `python -m src.train` (see trainer/README.md). */
#include <stdio.h>
#include "trainer.h"

int main(int argc, char **argv)
{
    static fer_trainer t; /* large; zero-initialised */
    int done = 0;
    int code = fer_trainer_parse(&t, argc, argv, &done);
    if (code != FER_EXIT_OK || done) return code;
    int interrupted = 0;
    fer_status s = fer_trainer_setup(&t);
    if (!s && !t.eval_only) s = fer_trainer_train(&t, &interrupted);
    if (!s && !interrupted) s = fer_trainer_finish(&t);
    if (s) {
        fprintf(stderr, "fer-train: %s\n", fer_last_error()[0] ? fer_last_error()
                                                                : fer_status_name(s));
        code = FER_EXIT_ERROR;
    } else if (interrupted) {
        code = FER_EXIT_INTERRUPTED;
    }
    fer_trainer_free(&t);
    return code;
}
