/* int8 inference (opt-in: fer-eval --precision int8, fer_classifier_new_precision, ferclassify
 * precision=int8) for a folded model (fer_model_fold):
 *   - weights: per output channel symmetric s8 (scale = max |w| / 127), derived at load;
 *   - activations: u8 per tensor, channels-last, with the scales calibrated on images
 *     (fer_int8_calibrate) and stored in the checkpoint's optional "int8" block: zero point 0
 *     after a ReLU (scale = range / 255), 128 elsewhere (scale = range / 127);
 *   - conv2d (groups 1, no activation or ReLU, any k / stride / pad: im2col, or none for 1x1
 *     stride 1), linear (+ ReLU), add (+ ReLU), relu, maxpool2d, global_avgpool, flatten and
 *     dropout run in int8: u8 x s8 products summed in int32 (vpdpbusd with AVX512_VNNI or
 *     AVX-VNNI, else portable C), the input zero point folded into a per-channel correction,
 *     bias, BN and ReLU folded into one requantising epilogue; the last feature layer is
 *     written as float and the head runs in float.
 * Any other node (depthwise or grouped conv, other activations, concat, batchnorm1d, ...) runs
 * its FP32 layer (the layer table's forward, in the folded model's host memory) on its inputs
 * dequantised, and its output is requantised with its calibrated range: FP32 per node, int8
 * around it; fer_int8_covers names the first such node, the net's note counts them. */
#ifndef FER_QUANT_H
#define FER_QUANT_H
#include "fer/arch.h"
#include "fer/model.h"

#ifdef __cplusplus
extern "C" {
#endif

#define FER_INT8_CALIB_VERSION 1
#define FER_INT8_MAX_RANGE 1e6f /* a calibrated |activation| range beyond this is refused */

/* Activation ranges of one folded graph: ranges[i] = the clipped max |y| of node i's output
 * (the given percentile of |y| over every element of every calibration image). */
typedef struct fer_int8_calib {
    int n_nodes;                  /* nodes of the folded graph */
    float input_range;            /* max |x| of the normalised input */
    float ranges[FER_MAX_LAYERS];
    float percentile;             /* 50..100; 100: the plain max */
    int images;                   /* calibration images */
} fer_int8_calib;

/* Checks a calibration block read from `origin` (a path) against a folded graph of n_nodes
 * nodes: version, node count, every range finite and in 0..FER_INT8_MAX_RANGE, the input range
 * > 0. FER_ERR_FORMAT with a one-line message naming origin. */
fer_status fer_int8_calib_check(const fer_int8_calib *c, int n_nodes, const char *origin);

/* NULL when every node of folded graph a runs in int8, else a description of the first that
 * runs in FP32 ("node 3 'x' (hardswish)"), in buf. */
const char *fer_int8_covers(const fer_arch *a, char *buf, size_t cap);

/* Runs the folded model (on a host backend: cpu or ref) over n normalised inputs in batches of
 * its max_batch and measures every node's output range (two passes: the max, then a histogram
 * of |y| for the percentile). */
fer_status fer_int8_calibrate(fer_model *folded, const float *x, int n, float percentile,
                              fer_int8_calib *out);

/* A copy of checkpoint in_path (weights, meta; no optimiser state or EMA) with calib as its
 * "int8" block, written to out_path (temp file + rename). */
fer_status fer_int8_write_calibrated(const char *in_path, const fer_int8_calib *calib,
                                     const char *out_path);

typedef struct fer_int8_net fer_int8_net;

/* The int8 network of folded model m (its weights are read now; the head's at every forward,
 * so later head changes are seen) for batches up to max_batch on `threads` threads (<= 0: all
 * cores). Kernel set: FER_ISA (avx512 -> avx512_vnni, avx2 -> avx_vnni when the CPU has it,
 * else portable; portable) or the best this CPU runs. FER_ERR_UNSUPPORTED when a node needs
 * the FP32 fallback and m is on the cuda backend. m must outlive the net. */
fer_status fer_int8_net_new(fer_model *m, const fer_int8_calib *calib, int max_batch,
                            int threads, fer_int8_net **out);
void fer_int8_net_free(fer_int8_net *q);
/* x: n x in_c x in_h x in_w normalised floats (n <= max_batch); logits: n x classes. */
fer_status fer_int8_net_forward(fer_int8_net *q, const float *x, int n, float *logits);
/* "int8: avx512_vnni kernels, 2 threads, 12 nodes (6 conv, 2 linear)" */
const char *fer_int8_net_note(const fer_int8_net *q);
/* Forces the kernel set of nets made afterwards ("avx512_vnni", "avx_vnni", "portable", or
 * NULL/"auto" for FER_ISA's choice); FER_ERR_UNSUPPORTED naming the missing CPU feature. For
 * tests and benchmarks. */
fer_status fer_int8_force_kernels(const char *name);

#ifdef __cplusplus
}
#endif
#endif
