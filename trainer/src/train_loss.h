/* Issue-21 losses and schedules of fer-train beyond the backends' own loss (train_loss.c):
 * --loss ldam with --drw_epoch (deferred re-weighting), --drs_epoch (deferred re-sampling) and
 * --teacher (knowledge distillation, distill.c). Every epoch-dependent switch is a pure function
 * of the epoch index and the stored settings, so a resumed run switches where the
 * uninterrupted run did. */
#ifndef FER_TRAIN_LOSS_H
#define FER_TRAIN_LOSS_H
#include "trainer.h"

/* The ensemble of teacher checkpoints of --teacher (distill.c). */
typedef struct fer_teacher fer_teacher;

/* list: "CKPT[,CKPT...]". Every member is loaded on backend (folded, eval mode only) and must
 * take 1x48x48 input normalised as norm and predict n_classes classes; errors name the file. */
fer_status fer_teacher_new(const char *list, fer_backend *backend, int max_batch, int n_classes,
                           const fer_norm *norm, fer_teacher **out);
void fer_teacher_free(fer_teacher *t);
int fer_teacher_size(const fer_teacher *t);
/* probs (n x n_classes): the members' softmax(logits / T), averaged. x: n normalised images. */
fer_status fer_teacher_probs(fer_teacher *t, const float *x, int n, float T, float *probs);

/* After the data, model and loss are set up (training runs only): LDAM margins, the DRW class
 * weights, the teacher and the host buffers. */
fer_status fer_trainer_setup_methods(fer_trainer *t);
/* Releases what fer_trainer_setup_methods made (backend memory: before the backend). */
void fer_trainer_free_methods(fer_trainer *t);
/* The sampler of epoch index e (0-based): --drs_epoch E switches to balanced for e >= E. */
fer_sampler_kind fer_trainer_epoch_sampler(const fer_trainer *t, int e);
/* --teacher: the teacher's tempered probabilities of the batch x (n images); run before the
 * student's forward pass. No-op without a teacher. */
fer_status fer_trainer_teacher_batch(fer_trainer *t, const float *x, int n);
/* After the student's training forward pass (t->logits holds its n x classes logits): the
 * batch loss of epoch e and its gradient into the model. targets: soft targets or NULL. */
fer_status fer_trainer_loss(fer_trainer *t, int e, int n, const int32_t *labels,
                            const float *targets, float *loss);
#endif
