/* fer-convert-tfjs MODEL.json OUT.fer: the command line around fer_convert_tfjs_file. */
#include <stdio.h>

#include "fer_convert_tfjs.h"

int main(int argc, char **argv)
{
    if (argc != 3 || argv[1][0] == '-') {
        fprintf(stderr, "usage: fer-convert-tfjs MODEL.json OUT.fer\n"
                        "  converts a TensorFlow.js graph model (e.g. BlazeFace from "
                        "data/models/fetch.sh) into a .fer graph\n");
        return 2;
    }
    if (fer_convert_tfjs_file(argv[1], argv[2], stdout) != FER_OK) {
        fprintf(stderr, "fer-convert-tfjs: %s\n", fer_last_error());
        return 1;
    }
    return 0;
}
