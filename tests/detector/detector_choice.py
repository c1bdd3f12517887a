#!/usr/bin/env python3
"""Recall and precision of ferfacedetect's CNN models on data/samples/faces.json, per image, at
IoU >= 0.5 (face_recall's criterion) and >= 0.3 (boxes drawn to another convention still count),
plus the median side ratio found / recorded of the matched boxes (docs/results/detector_choice.md).

  tests/detector/detector_choice.py BUILD_DIR [NAME=PROPS ...]

Runs BUILD_DIR/tests/gst/detect/face_recall --print --props PROPS for each configuration
(default: BlazeFace and TinyFaceDetector at their packages' defaults, from data/models/) and
matches its boxes to faces.json's the way face_recall does (one to one, greedy by IoU)."""
import json
import os
import re
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEFAULTS = [
    ("BlazeFace", "method=cnn model=data/models/blazeface.fer"),
    ("TinyFaceDetector", "method=cnn model=data/models/tinyfacedetector.fer min-score=0.5 "
     "nms-iou=0.4"),
]


def truth_boxes():
    with open(os.path.join(ROOT, "data/samples/faces.json")) as f:
        images = json.load(f)["images"]
    out = {}
    for img in images:
        label = img["file"]
        scale = 1.0
        if "width" in img:
            label += "@%d" % img["width"]
            scale = img["width"] / img["size"][0]
        if "frame" in img:
            label += "#%d" % img["frame"]
        out[label] = [[int(v * scale + 0.5) for v in box] for box in img["faces"]]
    return out


def iou(a, b):
    x0, y0 = max(a[0], b[0]), max(a[1], b[1])
    x1, y1 = min(a[0] + a[2], b[0] + b[2]), min(a[1] + a[3], b[1] + b[3])
    inter = max(0, x1 - x0) * max(0, y1 - y0)
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


def match(truth, found, min_iou):
    pairs = sorted(((iou(t, f), i, j) for i, t in enumerate(truth) for j, f in enumerate(found)
                    if iou(t, f) >= min_iou), reverse=True)
    used_t, used_f, matched = set(), set(), []
    for v, i, j in pairs:
        if i not in used_t and j not in used_f:
            used_t.add(i)
            used_f.add(j)
            matched.append((truth[i], found[j]))
    return matched


def run(build, props):
    env = dict(os.environ, FER_BUILD_DIR=os.path.abspath(build),
               GST_REGISTRY_1_0=os.path.join(os.path.abspath(build), "detector-choice.bin"))
    res = subprocess.run([os.path.join(build, "tests/gst/detect/face_recall"), "--print",
                          "--props", props], cwd=ROOT, env=env, capture_output=True, text=True,
                         check=True)
    found = {}
    for line in res.stdout.splitlines():
        m = re.match(r"\s+(\S+)\s+faces\s+\d+ found\s+\d+ matched\s+\d+\s*(.*)$", line)
        if m:
            found[m.group(1)] = [[int(v) for v in b.split()]
                                 for b in re.findall(r"\[([-\d ]+)\]", m.group(2))]
    return found


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    build = sys.argv[1]
    configs = [tuple(a.split("=", 1)) for a in sys.argv[2:]] or DEFAULTS
    truth = truth_boxes()
    for name, props in configs:
        found = run(build, props)
        print("== %s: ferfacedetect %s" % (name, props))
        print("| image | faces | found | matched IoU>=0.5 | matched IoU>=0.3 |")
        print("|---|---|---|---|---|")
        tot = {"t": 0, "f": 0, 5: 0, 3: 0}
        ratios = []
        for label, boxes in found.items():
            t = truth.get(label, [])
            m5, m3 = match(t, boxes, 0.5), match(t, boxes, 0.3)
            ratios += [((f[2] * f[3]) / (g[2] * g[3])) ** 0.5 for g, f in m3]
            for key, n in (("t", len(t)), ("f", len(boxes)), (5, len(m5)), (3, len(m3))):
                tot[key] += n
            print("| %s | %d | %d | %d | %d |" % (label, len(t), len(boxes), len(m5), len(m3)))
        for k, what in ((5, "0.5"), (3, "0.3")):
            print("IoU >= %s: recall %d/%d = %.3f, precision %d/%d = %.3f" %
                  (what, tot[k], tot["t"], tot[k] / max(1, tot["t"]), tot[k], tot["f"],
                   tot[k] / max(1, tot["f"])))
        if ratios:
            print("matched boxes (IoU >= 0.3): median side found / recorded %.2f" %
                  statistics.median(ratios))
        print()


if __name__ == "__main__":
    main()
