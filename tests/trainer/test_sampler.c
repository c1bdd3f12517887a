/* Samplers: default is a permutation per epoch; balanced draws class c with probability
 * count_c^(1-p) / sum_k count_k^(1-p) (per-sample weight count^-p); frequencies are checked
 * against that formula within 5 standard deviations. Both are pure functions of (seed, epoch). */
#include <math.h>
#include <string.h>
#include "fer/sampler.h"
#include "fixtures.h"

#define N_CLASSES 7
static const int counts[N_CLASSES] = {3995, 436, 4097, 7215, 4965, 4830, 3171}; /* FER train */

int main(void)
{
    int n = 0;
    for (int c = 0; c < N_CLASSES; c++) n += counts[c];
    int32_t *labels = malloc(sizeof(int32_t) * (size_t)n);
    int32_t *order = malloc(sizeof(int32_t) * (size_t)n);
    int32_t *again = malloc(sizeof(int32_t) * (size_t)n);
    char *seen = calloc((size_t)n, 1);
    CHECK(labels && order && again && seen);
    for (int c = 0, k = 0; c < N_CLASSES; c++)
        for (int i = 0; i < counts[c]; i++) labels[k++] = c;
    int64_t cc[N_CLASSES];
    for (int c = 0; c < N_CLASSES; c++) cc[c] = counts[c];

    /* default: a permutation, different per epoch, reproducible */
    CHECK(fer_sampler_epoch(FER_SAMPLER_DEFAULT, 0.5f, labels, n, N_CLASSES, 42, 0, order) == FER_OK);
    for (int i = 0; i < n; i++) {
        CHECK(order[i] >= 0 && order[i] < n && !seen[order[i]]);
        seen[order[i]] = 1;
    }
    CHECK(fer_sampler_epoch(FER_SAMPLER_DEFAULT, 0.5f, labels, n, N_CLASSES, 42, 0, again) == FER_OK);
    CHECK(!memcmp(order, again, sizeof(int32_t) * (size_t)n));
    CHECK(fer_sampler_epoch(FER_SAMPLER_DEFAULT, 0.5f, labels, n, N_CLASSES, 42, 1, again) == FER_OK);
    CHECK(memcmp(order, again, sizeof(int32_t) * (size_t)n) != 0);

    /* balanced, several powers: pooled over epochs, class frequencies match the formula */
    const float powers[3] = {0.5f, 1.0f, 0.0f};
    for (int pi = 0; pi < 3; pi++) {
        double probs[N_CLASSES], hist[N_CLASSES] = {0};
        fer_sampler_class_probs(FER_SAMPLER_BALANCED, powers[pi], cc, N_CLASSES, probs);
        double expect_sum = 0;
        for (int c = 0; c < N_CLASSES; c++) {
            double w = pow(counts[c], 1.0 - powers[pi]);
            expect_sum += w;
        }
        for (int c = 0; c < N_CLASSES; c++)
            CHECK(fabs(probs[c] - pow(counts[c], 1.0 - powers[pi]) / expect_sum) < 1e-12);
        const int epochs = 4;
        for (int e = 0; e < epochs; e++) {
            CHECK(fer_sampler_epoch(FER_SAMPLER_BALANCED, powers[pi], labels, n, N_CLASSES, 7, e,
                                    order) == FER_OK);
            for (int i = 0; i < n; i++) {
                CHECK(order[i] >= 0 && order[i] < n);
                hist[labels[order[i]]]++;
            }
        }
        double draws = (double)n * epochs;
        for (int c = 0; c < N_CLASSES; c++) {
            double sd = sqrt(draws * probs[c] * (1 - probs[c]));
            if (fabs(hist[c] - draws * probs[c]) > 5 * sd) {
                fprintf(stderr, "power %.1f class %d: %.0f draws, expected %.1f +- %.1f\n",
                        powers[pi], c, hist[c], draws * probs[c], sd);
                return 1;
            }
        }
    }
    /* with replacement: the seed's sampler repeats images within an epoch */
    memset(seen, 0, (size_t)n);
    int repeats = 0;
    fer_sampler_epoch(FER_SAMPLER_BALANCED, 0.5f, labels, n, N_CLASSES, 1, 0, order);
    for (int i = 0; i < n; i++) repeats += seen[order[i]]++ > 0;
    CHECK(repeats > n / 10);
    /* issue 8's full-scale check: a 30-epoch seed-40 run draws every image, and within a class
     * every image equally often (per-image counts Poisson-like: variance ~ mean; the first and
     * second halves of a class's index range within 5 sd of each other) */
    int *per_image = calloc((size_t)n, sizeof(int));
    CHECK(per_image != NULL);
    for (int e = 0; e < 30; e++) {
        CHECK(fer_sampler_epoch(FER_SAMPLER_BALANCED, 0.5f, labels, n, N_CLASSES, 40, e, order) ==
              FER_OK);
        for (int i = 0; i < n; i++) per_image[order[i]]++;
    }
    for (int c = 0, first = 0; c < N_CLASSES; first += counts[c], c++) {
        double sum = 0, sum2 = 0, half[2] = {0, 0};
        for (int i = first; i < first + counts[c]; i++) {
            CHECK(per_image[i] > 0);
            sum += per_image[i];
            sum2 += (double)per_image[i] * per_image[i];
            half[i - first >= counts[c] / 2] += per_image[i];
        }
        double mean = sum / counts[c], var = sum2 / counts[c] - mean * mean;
        double sd_half_diff = sqrt(sum); /* difference of two ~Poisson halves */
        if (fabs(var / mean - 1.0) > 0.25 || fabs(half[0] - half[1]) > 5 * sd_half_diff + 2 * mean) {
            fprintf(stderr, "class %d: per-image draws mean %.2f variance %.2f, halves %.0f / %.0f\n",
                    c, mean, var, half[0], half[1]);
            return 1;
        }
    }
    free(per_image);
    fer_sampler_kind k;
    CHECK(fer_sampler_parse("balanced", &k) == FER_OK && k == FER_SAMPLER_BALANCED);
    CHECK(fer_sampler_parse("weighted", &k) != FER_OK);
    free(labels);
    free(order);
    free(again);
    free(seen);
    printf("test_sampler: ok\n");
    return 0;
}
