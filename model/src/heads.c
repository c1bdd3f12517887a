/* Classification heads: softmax (a linear layer to the classes) and ArcFace (cosines between
 * L2-normalised features and L2-normalised class weights, additive angular margin on the true
 * class in training, plain s * cos at inference). Backward with dfeat NULL computes the head's
 * parameter gradients only (cRT: the features below are frozen). */
#include "model_internal.h"

fer_status fer_head_forward(fer_model *m, const float *feat, int n, fer_mode mode)
{
    fer_backend *b = m->b;
    int C = m->arch.n_classes, D = m->feat_dim;
    const float *w = m->tensors[m->t_head_weight].data;
    if (m->arch.head == FER_HEAD_SOFTMAX) {
        fer_linear_args a = {n, D, C, 1};
        return FER_OP(b, linear_forward, &a, feat, w, m->tensors[m->t_head_bias].data, m->logits);
    }
    FER_TRY(FER_OP(b, l2norm_rows_forward, n, D, feat, m->xnorm, m->xnorms));
    FER_TRY(FER_OP(b, l2norm_rows_forward, C, D, w, m->wnorm, m->wnorms));
    fer_linear_args a = {n, D, C, 0};
    FER_TRY(FER_OP(b, linear_forward, &a, m->xnorm, m->wnorm, NULL, m->cos));
    fer_arcface_args aa = {n, C, m->arch.arc_s, m->arch.arc_m};
    const int32_t *labels = mode == FER_MODE_TRAIN ? m->labels : NULL;
    return FER_OP(b, arcface_forward, &aa, m->cos, labels, m->logits);
}

fer_status fer_head_backward(fer_model *m, const float *feat, int n, float *dfeat)
{
    fer_backend *b = m->b;
    int C = m->arch.n_classes, D = m->feat_dim;
    fer_tensor *w = &m->tensors[m->t_head_weight];
    if (m->arch.head == FER_HEAD_SOFTMAX) {
        fer_linear_args a = {n, D, C, 1};
        return FER_OP(b, linear_backward, &a, feat, w->data, m->dlogits, dfeat, w->grad,
                      m->tensors[m->t_head_bias].grad);
    }
    fer_arcface_args aa = {n, C, m->arch.arc_s, m->arch.arc_m};
    FER_TRY(FER_OP(b, arcface_backward, &aa, m->cos, m->labels, m->dlogits, m->dcos));
    fer_linear_args a = {n, D, C, 0};
    FER_TRY(FER_OP(b, linear_backward, &a, m->xnorm, m->wnorm, m->dcos,
                   dfeat ? m->dxnorm : NULL, m->dwnorm, NULL));
    if (dfeat)
        FER_TRY(FER_OP(b, l2norm_rows_backward, n, D, feat, m->xnorms, m->dxnorm, dfeat));
    return FER_OP(b, l2norm_rows_backward, C, D, w->data, m->wnorms, m->dwnorm, w->grad);
}
