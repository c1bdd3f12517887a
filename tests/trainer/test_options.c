/* fer-train's command line: every seed flag with the seed's default, underscore and hyphen
 * spellings, --flag=value, every added flag, bad values, --config precedence. */
#include <string.h>
#include "fixtures.h"
#include "options.h"

static fer_cli parse(int argc, char **argv, fer_status expect)
{
    fer_cli cli;
    fer_options_defaults(&cli);
    fer_status s = fer_options_parse_args(&cli, argc, argv);
    if (s != expect) {
        fprintf(stderr, "parse %s...: status %d (%s), expected %d\n", argc ? argv[0] : "",
                s, fer_last_error(), expect);
        exit(1);
    }
    return cli;
}
#define PARSE(expect, ...)                                                          \
    ({                                                                              \
        char *av_[] = {__VA_ARGS__};                                                \
        parse((int)(sizeof av_ / sizeof av_[0]), av_, expect);                      \
    })

int main(void)
{
    /* the seed's defaults */
    fer_cli d = parse(0, NULL, FER_OK);
    fer_train_options *o = &d.opt;
    CHECK(!strcmp(o->data_root, "data/fer2013") && !strcmp(o->exp, "E0"));
    CHECK(!strcmp(o->head, "softmax") && !strcmp(o->loss, "ce"));
    CHECK(o->epochs == 30 && o->batch_size == 256 && o->lr == 1e-3 && o->seed == 42);
    CHECK(!o->amp && o->arc_s == 30.0 && o->arc_m == 0.5);
    CHECK(!strcmp(o->sampler, "default") && !strcmp(o->weight_mode, "inv_sqrt"));
    CHECK(o->beta == 0.999 && !o->resume[0]);
    /* ours */
    CHECK(!strcmp(o->optimizer, "adam") && !strcmp(o->scheduler, "cosine"));
    CHECK(o->clip_grad == 5.0 && o->label_smoothing == 0 && o->weight_decay == 0);
    CHECK(!strcmp(o->backend, "auto") && !strcmp(o->arch, "simplecnn"));
    CHECK(!strcmp(o->runs_dir, "runs") && o->sampler_power == 0.5 && !o->skip_bad);
    CHECK(o->threads == 0 && !o->nesterov && !o->config[0]);
    CHECK(!strcmp(o->init, "pytorch"));
    /* --isa: the cpu kernel set (auto leaves FER_ISA alone); other names refused */
    CHECK(!strcmp(o->isa, "auto"));
    CHECK(!strcmp(PARSE(FER_OK, "--isa", "avx2").opt.isa, "avx2"));
    PARSE(FER_ERR_ARG, "--isa", "sse4");
    fer_cli ci = PARSE(FER_OK, "--init", "counter");
    CHECK(!strcmp(ci.opt.init, "counter"));
    PARSE(FER_ERR_ARG, "--init", "xavier");
    /* issue 21 soft targets: off by default; parsed; focal refuses soft targets */
    CHECK(o->mixup == 0 && o->cutmix == 0 && o->mix_prob == 1 && o->remix_kappa == 0);
    CHECK(o->remix_tau == 0.5 && !strcmp(o->labels, "fer2013") && !o->ferplus[0]);
    CHECK(o->logit_adjust == 0);
    fer_cli cs = PARSE(FER_OK, "--mixup", "0.2", "--cutmix=1", "--mix-prob", "0.5",
                       "--remix_kappa", "3", "--remix_tau", "0.4", "--labels", "ferplus_majority",
                       "--ferplus", "v.tsv", "--logit_adjust", "1.5");
    CHECK(cs.opt.mixup == 0.2 && cs.opt.cutmix == 1 && cs.opt.mix_prob == 0.5);
    CHECK(cs.opt.remix_kappa == 3 && cs.opt.remix_tau == 0.4 && cs.opt.logit_adjust == 1.5);
    CHECK(!strcmp(cs.opt.labels, "ferplus_majority") && !strcmp(cs.opt.ferplus, "v.tsv"));
    CHECK(fer_options_validate(&cs.opt) == FER_OK);
    PARSE(FER_ERR_ARG, "--labels", "ferplus");
    cs = PARSE(FER_OK, "--mixup", "0.2", "--loss", "focal");
    CHECK(fer_options_validate(&cs.opt) == FER_ERR_ARG && strstr(fer_last_error(), "focal"));

    /* the seed's README command, verbatim */
    fer_cli c = PARSE(FER_OK, "--data_root", "data", "--exp", "E5_softmax_balanced_30ep", "--head",
                      "softmax", "--loss", "ce", "--sampler", "balanced", "--epochs", "30",
                      "--batch_size", "256", "--lr", "1e-3", "--amp");
    o = &c.opt;
    CHECK(!strcmp(o->data_root, "data") && !strcmp(o->exp, "E5_softmax_balanced_30ep"));
    CHECK(!strcmp(o->sampler, "balanced") && o->epochs == 30 && o->amp);
    CHECK(fer_options_validate(o) == FER_OK);

    /* every flag, underscore spelling */
    c = PARSE(FER_OK, "--data_root", "x.csv", "--exp", "e1", "--head", "arcface", "--loss", "focal",
              "--epochs", "7", "--batch_size", "16", "--lr", "0.01", "--seed", "5", "--amp",
              "--arc_s", "20", "--arc_m", "0.3", "--sampler", "balanced", "--weight_mode",
              "effective", "--beta", "0.99", "--resume", "r.fer", "--optimizer", "sgd",
              "--momentum", "0.8", "--nesterov", "--weight_decay", "1e-4", "--scheduler", "step",
              "--label_smoothing", "0.1", "--clip_grad", "2.5", "--threads", "3", "--backend",
              "ref", "--arch", "tiny", "--runs_dir", "out", "--config", "c.json",
              "--sampler_power", "1", "--skip_bad", "--eta_min", "1e-5", "--step_size", "4",
              "--step_gamma", "0.5", "--plateau_factor", "0.2", "--plateau_patience", "3",
              "--focal_gamma", "1.5", "--progress", "plain", "--interrupt_after", "9");
    o = &c.opt;
    CHECK(!strcmp(o->data_root, "x.csv") && !strcmp(o->exp, "e1") && !strcmp(o->head, "arcface"));
    CHECK(!strcmp(o->loss, "focal") && o->epochs == 7 && o->batch_size == 16 && o->lr == 0.01);
    CHECK(o->seed == 5 && o->amp && o->arc_s == 20 && o->arc_m == 0.3);
    CHECK(!strcmp(o->sampler, "balanced") && !strcmp(o->weight_mode, "effective"));
    CHECK(o->beta == 0.99 && !strcmp(o->resume, "r.fer") && !strcmp(o->optimizer, "sgd"));
    CHECK(o->momentum == 0.8 && o->nesterov && o->weight_decay == 1e-4);
    CHECK(!strcmp(o->scheduler, "step") && o->label_smoothing == 0.1 && o->clip_grad == 2.5);
    CHECK(o->threads == 3 && !strcmp(o->backend, "ref") && !strcmp(o->arch, "tiny"));
    CHECK(!strcmp(o->runs_dir, "out") && !strcmp(o->config, "c.json"));
    CHECK(o->sampler_power == 1 && o->skip_bad && o->eta_min == 1e-5 && o->step_size == 4);
    CHECK(o->step_gamma == 0.5 && o->plateau_factor == 0.2 && o->plateau_patience == 3);
    CHECK(o->focal_gamma == 1.5 && !strcmp(o->progress, "plain") && o->interrupt_after == 9);
    CHECK(fer_options_validate(o) == FER_OK);

    /* hyphenated spellings and --flag=value */
    c = PARSE(FER_OK, "--data-root=d", "--batch-size", "8", "--arc-s=10", "--arc-m", "0.1",
              "--weight-mode", "inv", "--weight-decay=0.5", "--label-smoothing", "0.2",
              "--clip-grad=0", "--runs-dir", "r", "--sampler-power", "0.25", "--skip-bad",
              "--amp=false", "--nesterov=true");
    o = &c.opt;
    CHECK(!strcmp(o->data_root, "d") && o->batch_size == 8 && o->arc_s == 10 && o->arc_m == 0.1);
    CHECK(!strcmp(o->weight_mode, "inv") && o->weight_decay == 0.5 && o->label_smoothing == 0.2);
    CHECK(o->clip_grad == 0 && !strcmp(o->runs_dir, "r") && o->sampler_power == 0.25);
    CHECK(o->skip_bad && !o->amp && o->nesterov);
    CHECK(!strcmp(fer_options_canonical("data-root"), "data_root"));

    /* errors name the flag */
    PARSE(FER_ERR_ARG, "--head", "linear");
    CHECK(strstr(fer_last_error(), "--head") && strstr(fer_last_error(), "softmax|arcface"));
    PARSE(FER_ERR_ARG, "--epochs", "ten");
    CHECK(strstr(fer_last_error(), "--epochs") && strstr(fer_last_error(), "integer"));
    PARSE(FER_ERR_ARG, "--lr", "fast");
    PARSE(FER_ERR_ARG, "--bogus", "1");
    CHECK(strstr(fer_last_error(), "--bogus") && strstr(fer_last_error(), "unknown option"));
    PARSE(FER_ERR_ARG, "--exp");
    CHECK(strstr(fer_last_error(), "expects a value"));
    PARSE(FER_ERR_ARG, "stray");
    PARSE(FER_ERR_ARG, "--amp=maybe");
    c = PARSE(FER_OK, "--epochs", "0");
    CHECK(fer_options_validate(&c.opt) != FER_OK && strstr(fer_last_error(), "--resume"));
    c = PARSE(FER_OK, "--batch_size", "0");
    CHECK(fer_options_validate(&c.opt) != FER_OK);
    c = PARSE(FER_OK, "--batch_size", "65537");
    CHECK(fer_options_validate(&c.opt) != FER_OK && strstr(fer_last_error(), "1..65536"));
    c = PARSE(FER_OK, "--epochs", "100001");
    CHECK(fer_options_validate(&c.opt) != FER_OK && strstr(fer_last_error(), "0..100000"));
    c = PARSE(FER_OK, "--help");
    CHECK(c.help);
    /* --exp is a plain folder name, so RUNS_DIR/EXP stays inside RUNS_DIR (issue 18, item 4) */
    const char *const bad_exp[] = {"..", ".", "", "a/b", "/abs"};
    for (size_t i = 0; i < sizeof bad_exp / sizeof bad_exp[0]; i++) {
        c = PARSE(FER_OK, "--exp", (char *)bad_exp[i]);
        CHECK(fer_options_validate(&c.opt) == FER_ERR_ARG &&
              strstr(fer_last_error(), "is not a plain folder name"));
    }
    c = PARSE(FER_OK, "--exp", "..x", "--csv_any_size");
    CHECK(fer_options_validate(&c.opt) == FER_OK && c.opt.csv_any_size);
    /* a checkpoint's stored output paths are never taken (defaults stay); a config file's are */
    c = PARSE(FER_OK);
    CHECK(fer_options_apply_json(&c, "{\"runs_dir\": \"/tmp/elsewhere\", \"exp\": \"..\","
                                 " \"epochs\": 5}", "ckpt", FER_SRC_CHECKPOINT, 1) == FER_OK);
    CHECK(!strcmp(c.opt.runs_dir, "runs") && !strcmp(c.opt.exp, "E0") && c.opt.epochs == 5);
    CHECK(fer_options_apply_json(&c, "{\"runs_dir\": \"out\", \"exp\": \"mine\"}", "cfg",
                                 FER_SRC_CONFIG, 0) == FER_OK);
    CHECK(!strcmp(c.opt.runs_dir, "out") && !strcmp(c.opt.exp, "mine"));

    /* --config: keys as flags; flags override the file */
    char *dir = fx_tempdir("opts");
    char path[4200];
    snprintf(path, sizeof path, "%s/c.json", dir);
    fx_write_text(path, "{\"epochs\": 3, \"lr\": 0.5, \"head\": \"arcface\", \"amp\": true,"
                        " \"batch-size\": 12}");
    char flag[4300];
    snprintf(flag, sizeof flag, "--config=%s", path);
    c = PARSE(FER_OK, flag, "--lr", "0.25");
    CHECK(fer_options_apply_config_file(&c) == FER_OK);
    CHECK(c.opt.epochs == 3 && c.opt.lr == 0.25 && !strcmp(c.opt.head, "arcface") && c.opt.amp);
    CHECK(c.opt.batch_size == 12);
    /* a checkpoint's stored config ranks below both */
    CHECK(fer_options_apply_json(&c, "{\"epochs\": 9, \"loss\": \"wce\", \"resume\": \"x\"}",
                                 "ckpt", FER_SRC_CHECKPOINT, 1) == FER_OK);
    CHECK(c.opt.epochs == 3 && !strcmp(c.opt.loss, "wce") && !c.opt.resume[0]);
    fx_write_text(path, "{\"epochs\": \"three\"}");
    c = PARSE(FER_OK, flag);
    CHECK(fer_options_apply_config_file(&c) != FER_OK && strstr(fer_last_error(), "epochs"));
    fx_write_text(path, "{\"unknown_key\": 1}");
    c = PARSE(FER_OK, flag);
    CHECK(fer_options_apply_config_file(&c) != FER_OK && strstr(fer_last_error(), "unknown_key"));
    fx_write_text(path, "[1,2");
    CHECK(fer_options_apply_config_file(&c) != FER_OK && strstr(fer_last_error(), "c.json"));
    /* text after the object, and a NUL byte that would hide a second object from the parser:
     * both refused with the file's name, no setting taken */
    fx_write_text(path, "{\"epochs\": 4} {\"lr\": 9}");
    c = PARSE(FER_OK, flag);
    CHECK(fer_options_apply_config_file(&c) != FER_OK && strstr(fer_last_error(), "c.json"));
    CHECK(c.opt.epochs == 30);
    {
        static const char with_nul[] = "{\"epochs\": 4}\0{\"lr\": 9}";
        FILE *f = fopen(path, "wb");
        CHECK(f && fwrite(with_nul, 1, sizeof with_nul - 1, f) == sizeof with_nul - 1);
        if (f)
            fclose(f);
        c = PARSE(FER_OK, flag);
        CHECK(fer_options_apply_config_file(&c) != FER_OK &&
              strstr(fer_last_error(), "c.json") && strstr(fer_last_error(), "NUL byte"));
        CHECK(c.opt.epochs == 30);
    }

    /* the JSON dump reads back to the same settings */
    c = PARSE(FER_OK, "--lr", "0.0123", "--exp", "round", "--nesterov");
    char *json = fer_options_to_json(&c.opt);
    CHECK(json);
    fer_cli back;
    fer_options_defaults(&back);
    CHECK(fer_options_apply_json(&back, json, "dump", FER_SRC_CONFIG, 0) == FER_OK);
    CHECK(!memcmp(&back.opt, &c.opt, sizeof c.opt));
    free(json);
    fer_options_usage(stdout);
    fx_rm_rf(dir);
    free(dir);
    printf("test_options: ok\n");
    return 0;
}
