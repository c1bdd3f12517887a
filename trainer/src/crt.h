/* fer-train --crt: classifier re-training (cRT, Kang et al. 2020, "Decoupling representation
 * and classifier"): the features of a trained network stay as they are and only its linear head
 * trains again, with class-balanced sampling. crt.c. */
#ifndef FER_TRAIN_CRT_H
#define FER_TRAIN_CRT_H
#include "trainer.h"

/* 1 when --resume PATH continues a cRT run exactly: its stored settings say --crt and it holds
 * optimiser and trainer state (last.fer of a cRT run). Otherwise --crt starts afresh from
 * PATH's weights. */
int fer_crt_continues(const char *path, const fer_checkpoint_meta *meta);

/* fer_trainer_parse, after the checkpoint's stored settings are applied: a fresh cRT start
 * needs --exp from the command line or --config (its own folder, not the checkpoint's) and
 * takes the balanced sampler unless --sampler or --config chose one. */
fer_status fer_crt_settings(fer_cli *cli, const fer_checkpoint_meta *meta);

/* Set-up, before the --resume weights are loaded: for a fresh start with --crt_head reinit,
 * *head_out (malloc'd) keeps the head the seed initialised; NULL otherwise. */
fer_status fer_crt_save_initial_head(fer_trainer *t, const fer_checkpoint_meta *meta,
                                     float **head_out);
/* After loading: puts that head back (head may be NULL), freezes the features
 * (fer_model_freeze_features) and says what the run does. */
fer_status fer_crt_begin(fer_trainer *t, const fer_checkpoint_meta *meta, const float *head);
#endif
