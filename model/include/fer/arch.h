/* Architectures are data: a JSON graph of layer nodes (cJSON) or a built-in preset.
 *
 * JSON form (fer_arch_to_json writes it, fer_arch_from_json reads it):
 * {"name":"simplecnn","input":[1,48,48],"classes":7,
 *  "layers":[{"type":"conv2d","out":32,"k":3,"stride":1,"pad":1,"bias":false},
 *            {"type":"conv2d","out":64,"k":3,"pad":1,"groups":32},  (not in simplecnn: "groups",
 *             default 1 and written only when != 1, is >= 1 and divides the in and out channels;
 *             weight [out, in/groups, k, k] as nn.Conv2d(groups=...); groups == in: depthwise)
 *            {"type":"batchnorm2d"},{"type":"relu"},{"type":"maxpool2d","k":2,"stride":2},
 *            {"type":"flatten"},{"type":"linear","out":256},{"type":"dropout","p":0.3}, ...],
 *  "head":{"type":"softmax"} | {"type":"arcface","s":30,"m":0.5}}
 *
 * Graphs. Every node may carry a "name" (letters, digits, '_', '-', '.'; unique; not "input")
 * and "inputs", a list of node names ("input" is the network input); a node without "inputs"
 * takes the node before it in the list (the network input for the first), so a plain list is the
 * sequential network it always was. The nodes form a DAG evaluated in topological order: a file
 * may list them in any order that has no cycle; they are stored sorted (stable: an ordered file
 * keeps its order, and tensor names layers.<i>.* use the stored index). The last node of the
 * file is the output: it must be a flat feature vector, and every node must lead to it.
 * {"name":"b1_add","type":"add","inputs":["b1_bn2","stem_relu"]}
 *
 * Layer kinds (PyTorch semantics; fields other than "type", "name" and "inputs" are optional):
 *   {"type":"leaky_relu","slope":0.01}  slope finite, 0..1 (default 0.01)
 *   {"type":"relu6"} {"type":"hardswish"} {"type":"sigmoid"}  element-wise, any input
 *   {"type":"prelu"}  nn.PReLU(C): one learned slope per channel (per feature when flat), 0.25
 *   {"type":"avgpool2d","k":2,"stride":2,"pad":0}  stride defaults to k, pad to 0, pad <= k/2;
 *       padding counts in the divisor (count_include_pad=True, ceil_mode=False)
 *   {"type":"global_avgpool"}  C x H x W -> C x 1 x 1 (AdaptiveAvgPool2d(1)); a flatten after it
 *       gives the C features
 *   {"type":"batchnorm1d"}  nn.BatchNorm1d on a flat feature vector
 *   {"type":"add","inputs":[a,b]}  a + b, same shapes (residual connections)
 *   {"type":"concat","inputs":[a,b,...]}  2..8 image inputs of one plane size, along channels
 *   {"type":"mul","inputs":[x,g]}  x * g, g of x's shape or C values per sample (C flat
 *       features or C x 1 x 1) broadcast over the plane (squeeze-excitation gates)
 *   {"type":"channel_pad","out":C2}  appends C2 - C zero channels (skip paths that widen)
 *   {"type":"pad2d","top":0,"left":0,"bottom":1,"right":1}  zero rows/columns around every
 *       plane, each 0..FER_MAX_CONV_KERNEL (TensorFlow's "SAME" padding, which pads after more
 *       than before: pad2d then a conv2d with the symmetric part)
 * Image layers (conv2d, batchnorm2d, the pools, channel_pad, pad2d) are refused after a
 * flatten; concat takes image inputs of one plane size or flat vectors only (then its output
 * is flat: several heads' outputs in one vector). */
#ifndef FER_ARCH_H
#define FER_ARCH_H
#include <stdio.h>

#include "fer/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define FER_MAX_LAYERS 256 /* graph nodes (BlazeFace, converted, has ~150) */
#define FER_MAX_INPUTS 8    /* inputs of one node (concat) */
#define FER_INPUT_NODE (-1) /* an input index naming the network input */
#define FER_MAX_CLASSES 16
#define FER_NAME_LEN 32

/* Hard caps on what an architecture may ask for. Every architecture (preset, JSON file,
 * checkpoint header) is checked against them with overflow-free 64-bit arithmetic before
 * anything is allocated, so a hostile file is refused instead of wrapping a size. */
#define FER_MAX_INPUT_DIM 4096         /* input channels, height, width each */
#define FER_MAX_WIDTH 65536            /* conv2d / linear "out" */
#define FER_MAX_CONV_KERNEL 64         /* conv2d k and stride; pad at most k */
#define FER_MAX_POOL 4096              /* maxpool2d, avgpool2d k and stride; avgpool pad <= k/2 */
#define FER_MAX_SAMPLE_FLOATS (1 << 24) /* one sample's input or one layer's output (64 MiB) */
#define FER_MAX_PARAMS (1 << 26)       /* parameters + buffers of the whole network (256 MiB) */
#define FER_MAX_MACS ((long long)1 << 34) /* multiply-adds of one sample's forward pass */
#define FER_MAX_ARC_SCALE 1024.0f      /* arcface s */
/* A model's activation arena for its largest batch (fer_model_new); SimpleCNN at batch 256
 * needs about 0.5 GiB. */
#define FER_MAX_ACTIVATION_BYTES ((size_t)8 << 30)

typedef enum fer_layer_kind {
    FER_LAYER_CONV2D = 0,
    FER_LAYER_BATCHNORM2D,
    FER_LAYER_RELU,
    FER_LAYER_MAXPOOL2D,
    FER_LAYER_FLATTEN,
    FER_LAYER_LINEAR,
    FER_LAYER_DROPOUT,
    FER_LAYER_LEAKY_RELU,
    FER_LAYER_RELU6,
    FER_LAYER_HARDSWISH,
    FER_LAYER_SIGMOID,
    FER_LAYER_GLOBAL_AVGPOOL,
    FER_LAYER_AVGPOOL2D,
    FER_LAYER_ADD,
    FER_LAYER_CONCAT,
    FER_LAYER_MUL,
    FER_LAYER_CHANNEL_PAD,
    FER_LAYER_PRELU,
    FER_LAYER_BATCHNORM1D,
    FER_LAYER_PAD2D
} fer_layer_kind;

typedef struct fer_layer_spec {
    fer_layer_kind kind;
    char name[FER_NAME_LEN]; /* "" when unnamed */
    int n_inputs;            /* 0: the node before (the network input for node 0) */
    int inputs[FER_MAX_INPUTS]; /* earlier node indices or FER_INPUT_NODE */
    int out;              /* conv2d: output channels; linear: output features; channel_pad */
    int k, stride, pad;   /* conv2d, maxpool2d (k, stride), avgpool2d */
    int bias;             /* conv2d, linear */
    int groups;           /* conv2d: >= 1, divides in and out channels (in: depthwise) */
    float p;              /* dropout */
    float slope;          /* leaky_relu: negative slope */
    int pad_top, pad_left, pad_bottom, pad_right; /* pad2d */
    /* conv2d in a folded inference model only (fer_model_fold; never read from or written to
     * JSON): the activation node it absorbed (relu, relu6, leaky_relu with slope, hardswish,
     * sigmoid) runs on its output */
    int has_act;
    fer_layer_kind act_kind;
} fer_layer_spec;

typedef enum fer_head_kind { FER_HEAD_SOFTMAX = 0, FER_HEAD_ARCFACE } fer_head_kind;

typedef struct fer_arch {
    char name[FER_NAME_LEN];
    int in_c, in_h, in_w;
    int n_layers;
    fer_layer_spec layers[FER_MAX_LAYERS];
    fer_head_kind head;
    int n_classes;
    float arc_s, arc_m; /* arcface only */
} fer_arch;

/* What a valid architecture needs, from fer_arch_sizes. */
typedef struct fer_arch_size_info {
    long long params;       /* learned parameters (floats) */
    long long buffers;      /* batch-norm running statistics and counters (floats) */
    int n_tensors;          /* entries of the tensor table (parameters + buffers, head included) */
    long long max_floats;   /* largest per-sample tensor: the input or a layer's output */
    long long macs;         /* multiply-adds of one sample's forward pass */
} fer_arch_size_info;

/* Validates an architecture against the caps above (one-line error naming origin and the layer)
 * and reports its sizes; info may be NULL. */
fer_status fer_arch_sizes(const fer_arch *a, const char *origin, fer_arch_size_info *info);

/* Writes a table of the validated architecture to out: each layer's fields, output shape,
 * parameters (with buffers) and multiply-adds per image, the head and the totals. */
fer_status fer_arch_describe(const fer_arch *a, const char *origin, FILE *out);

/* "simplecnn" (the seed's network), "tiny" (a small net for tests and demos), "vgg_gap"
 * (four ConvBlocks 32..256 with global average pooling, 1.2 M parameters) and "resnet_s" (a
 * residual network with global pooling, see arch.c). */
#define FER_ARCH_PRESETS "simplecnn, tiny, vgg_gap or resnet_s"
fer_status fer_arch_preset(const char *name, fer_head_kind head, fer_arch *out);
/* origin names the source in error messages (a path, or "<config>"). */
fer_status fer_arch_from_json(const char *json_text, const char *origin, fer_arch *out);
/* A preset name, or a path to a JSON file. */
fer_status fer_arch_load(const char *name_or_path, fer_head_kind head, fer_arch *out);
/* malloc'd JSON text; free() it. NULL on allocation failure. */
char *fer_arch_to_json(const fer_arch *a);
/* The inputs of node i with the default resolved (node i-1, or FER_INPUT_NODE for node 0):
 * their count; out holds FER_MAX_INPUTS entries. */
int fer_arch_node_inputs(const fer_arch *a, int i, int *out);
/* 1 when both describe the same parameter shapes and graph (node names aside). */
int fer_arch_equal(const fer_arch *a, const fer_arch *b);

#ifdef __cplusplus
}
#endif
#endif
