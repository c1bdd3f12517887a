#!/usr/bin/python3
"""The seed's training recipe in PyTorch (CPU), to compare learning curves with fer-train.

Issue 8 asks why a row falls short of the seed; this runs the recipe the issues describe with
PyTorch's own layers, optimiser and scheduler, so fer-train's per-epoch history.jsonl can be
laid next to it. Network: bench/torch_ref.py's build(). Recipe: batch 256, Adam 1e-3, cosine
(T_max = epochs, stepped per epoch), clip_grad_norm_ 5.0, CE; augmentation as torchvision does
it on PIL images (flip p 0.5, rotate +-15 deg nearest with black fill, pad 4 + random crop 44,
bilinear resize to 48, (x/255 - 0.5)/0.5); sampler default (shuffle) or balanced (with
replacement, per-sample weight count^-0.5). Selects on val macro-F1 like fer-train.

--draws fer replaces PyTorch's random draws by fer-train's (trainer/src/rng.h, via
torch_replay.py): initial weights, sampling order, augmentation parameters and dropout masks are
then exactly those of `fer-train --seed N`, so the two trainers differ only in float rounding.
--fer_draws takes them one kind at a time (e.g. `--fer_draws init,augment,dropout`: everything
fer-train's but PyTorch's sampling order), to find which kind of draw moves a result.

Checkpoints every epoch to OUT/last.pt and resumes from it, so it can run across sessions:
  nohup bench/torch_train_ref.py --data_root ../shared/fer2013 --out /work/runs/torch_E5_s40 \
        --sampler balanced --seed 40 > /work/runs/torch_E5_s40.log 2>&1 &
Writes OUT/history.jsonl (one line per epoch) and, when all epochs are done, OUT/test.json
(the best-val model on test: accuracy, macro-F1, per-class F1).
"""
import argparse
import json
import math
import os
import random
import sys
import time

CLASSES = ["angry", "disgust", "fear", "happy", "neutral", "sad", "surprise"]


def load_split(root, split, np, Image):
    xs, ys = [], []
    for c, name in enumerate(CLASSES):
        d = os.path.join(root, split, name)
        for f in sorted(os.listdir(d)):
            with Image.open(os.path.join(d, f)) as im:
                xs.append(np.asarray(im.convert("L"), dtype=np.uint8))
            ys.append(c)
    return np.stack(xs), np.array(ys, dtype=np.int64)


def augment(img, rnd, Image):
    """torchvision's RandomHorizontalFlip, RandomRotation(15), RandomCrop(44, padding=4),
    Resize(48) on a PIL image, with parameters from rnd."""
    if rnd.random() < 0.5:
        img = img.transpose(Image.FLIP_LEFT_RIGHT)
    img = img.rotate(rnd.uniform(-15.0, 15.0), resample=Image.NEAREST, fillcolor=0)
    padded = Image.new("L", (56, 56), 0)
    padded.paste(img, (4, 4))
    top, left = rnd.randint(0, 12), rnd.randint(0, 12)
    img = padded.crop((left, top, left + 44, top + 44))
    return img.resize((48, 48), Image.BILINEAR)


def normalized(np, torch, x):
    return torch.from_numpy((x.astype(np.float32) / 255.0 - 0.5) / 0.5).unsqueeze(1)


def predict(model, torch, x):
    """argmax of the eval-mode model over x (N, 1, 48, 48), in chunks of 512."""
    model.eval()
    with torch.no_grad():
        return torch.cat([model(x[i:i + 512].contiguous(memory_format=torch.channels_last)).argmax(1)
                          for i in range(0, len(x), 512)]).numpy()


def predict_split(root, split, model, torch, np, Image):
    x, y = load_split(root, split, np, Image)
    return y, predict(model, torch, normalized(np, torch, x))


def scores(np, y, pred):
    cm = np.zeros((7, 7), dtype=np.int64)
    np.add.at(cm, (y, pred), 1)
    tp = np.diag(cm).astype(float)
    denom = cm.sum(0) + cm.sum(1)
    f1 = np.where(denom > 0, 2 * tp / np.maximum(denom, 1), 0.0)
    return float(tp.sum() / len(y)), float(f1.mean()), [round(float(v), 4) for v in f1]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data_root", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--sampler", choices=["default", "balanced"], default="default")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--stop_after", type=int, default=0, help="stop after this many epochs (0: all)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--draws", choices=["torch", "fer"], default="torch",
                    help="random draws: PyTorch's generators, or fer-train's for the same seed")
    ap.add_argument("--fer_draws", default=None,
                    help="comma list of the draws taken from fer-train (init, sampler, augment, "
                         "dropout); the others are PyTorch's. Overrides --draws")
    args = ap.parse_args()
    kinds = {"init", "sampler", "augment", "dropout"}
    if args.fer_draws is None:
        fer = kinds if args.draws == "fer" else set()
    else:
        fer = {k for k in args.fer_draws.split(",") if k}
        if not fer <= kinds:
            print(f"torch_train_ref.py: --fer_draws: unknown kind(s) {sorted(fer - kinds)} "
                  f"(expected some of {sorted(kinds)})", file=sys.stderr)
            return 2
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from torch_ref import build, import_torch_numpy_pil
    modules = import_torch_numpy_pil("torch_train_ref.py")
    if modules is None:
        return 3
    np, torch, Image = modules
    import torch_replay as fer_draws

    torch.set_num_threads(args.threads)
    os.makedirs(args.out, exist_ok=True)
    t0 = time.time()
    xtr, ytr = load_split(args.data_root, "train", np, Image)
    xva, yva = load_split(args.data_root, "val", np, Image)
    print(f"loaded {len(ytr)} train, {len(yva)} val in {time.time() - t0:.1f} s", flush=True)

    torch.manual_seed(args.seed)
    if fer:  # make_golden's Net: same layers, fer's tensor order and dropout masks
        import make_golden
        model = make_golden.Net("softmax")  # PyTorch's default init, drawn as build()'s
        if "init" in fer:
            model.init_fer(args.seed)
        if "dropout" not in fer:
            model.use_torch_dropout()
    else:
        model = build(torch)
    model = model.to(memory_format=torch.channels_last)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=args.epochs)
    gen = torch.Generator().manual_seed(args.seed)
    rnd = random.Random(args.seed)
    start, best = 0, -1.0
    ckpt = os.path.join(args.out, "last.pt")
    if os.path.exists(ckpt):
        st = torch.load(ckpt)
        model.load_state_dict(st["model"])
        opt.load_state_dict(st["opt"])
        sched.load_state_dict(st["sched"])
        gen.set_state(st["gen"])
        rnd.setstate(st["rnd"])
        torch.set_rng_state(st["torch_rng"])
        start, best = st["epoch"], st["best"]
        print(f"resumed at epoch {start}", flush=True)

    counts = np.bincount(ytr, minlength=7)
    sample_w = torch.tensor(counts[ytr] ** -0.5, dtype=torch.double)
    xva_t = normalized(np, torch, xva)
    loss_fn = torch.nn.CrossEntropyLoss()
    stop = args.epochs if args.stop_after <= 0 else min(args.epochs, start + args.stop_after)
    for epoch in range(start, stop):
        t_epoch = time.time()
        if "sampler" in fer:
            order = np.array(fer_draws.fer_order(args.sampler, ytr.tolist(), 0.5, args.seed, epoch))
        elif args.sampler == "balanced":
            order = torch.multinomial(sample_w, len(ytr), replacement=True, generator=gen).numpy()
        else:
            order = torch.randperm(len(ytr), generator=gen).numpy()
        model.train()
        loss_sum, correct, seen = 0.0, 0, 0
        for b in range(0, len(order), 256):
            idx = order[b:b + 256]
            if "augment" in fer:
                imgs = fer_draws.fer_augmented(xtr, idx, args.seed, epoch, b, np, Image)
            else:
                imgs = np.stack([np.asarray(augment(Image.fromarray(xtr[i]), rnd, Image)) for i in idx])
            if "dropout" in fer:
                model.set_dropout_seed(fer_draws.fer_dropout_seed(args.seed, epoch, b // 256))
            x = normalized(np, torch, imgs).contiguous(memory_format=torch.channels_last)
            y = torch.from_numpy(ytr[idx])
            logits = model(x)
            loss = loss_fn(logits, y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            opt.step()
            loss_sum += float(loss) * len(idx)
            correct += int((logits.argmax(1) == y).sum())
            seen += len(idx)
        lr = opt.param_groups[0]["lr"]
        sched.step()
        acc, mf1, per_class = scores(np, yva, predict(model, torch, xva_t))
        if mf1 > best:
            best = mf1
            torch.save(model.state_dict(), os.path.join(args.out, "best.pt.tmp"))
            os.replace(os.path.join(args.out, "best.pt.tmp"), os.path.join(args.out, "best.pt"))
        rec = {"epoch": epoch + 1, "train_loss": loss_sum / seen, "train_acc": correct / seen,
               "val_acc": acc, "val_macro_f1": mf1, "val_per_class_f1": per_class, "lr": lr,
               "seconds": round(time.time() - t_epoch, 1)}
        with open(os.path.join(args.out, "history.jsonl"), "a") as f:
            f.write(json.dumps(rec) + "\n")
        print(json.dumps(rec), flush=True)
        st = {"model": model.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict(),
              "gen": gen.get_state(), "rnd": rnd.getstate(), "torch_rng": torch.get_rng_state(),
              "epoch": epoch + 1, "best": best}
        torch.save(st, ckpt + ".tmp")
        os.replace(ckpt + ".tmp", ckpt)
    if stop == args.epochs:  # finished: the best-val model on test, as fer-train does
        model.load_state_dict(torch.load(os.path.join(args.out, "best.pt")))
        acc, mf1, per_class = scores(np, *predict_split(args.data_root, "test", model, torch, np, Image))
        rec = {"split": "test", "accuracy": acc, "macro_f1": mf1, "per_class_f1": per_class}
        with open(os.path.join(args.out, "test.json.tmp"), "w") as f:
            json.dump(rec, f, indent=1)
        os.replace(os.path.join(args.out, "test.json.tmp"), os.path.join(args.out, "test.json"))
        print(json.dumps(rec), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
