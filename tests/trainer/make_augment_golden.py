#!/usr/bin/python3
"""Regenerates augment_golden.bin: the seed's augmentation steps done by PIL (what torchvision
used for RandomHorizontalFlip, RandomRotation(15), RandomCrop(44, padding=4), Resize(48)) for
fixed parameters, so test_augment can compare fer_augment_apply without Python.
Run: /usr/bin/python3 tests/trainer/make_augment_golden.py  (needs python3-pil)."""
import os
from PIL import Image, ImageOps

# (flip, degrees, top, left) -- keep in sync with test_augment.c
CASES = [(0, 0.0, 4, 4), (1, 0.0, 4, 4), (0, 10.3, 0, 0), (1, -14.7, 12, 12),
         (0, 5.55, 3, 9), (1, -3.3, 7, 2), (0, 14.99, 6, 6), (0, -7.25, 11, 0)]

def pattern():
    return bytes(((x * 7 + y * 13 + (x * y) % 17 * 5) & 255) for y in range(48) for x in range(48))

def augment(img, flip, deg, top, left):
    if flip:
        img = img.transpose(Image.FLIP_LEFT_RIGHT)
    img = img.rotate(deg, resample=Image.NEAREST, expand=False, center=None, fillcolor=0)
    img = ImageOps.expand(img, border=4, fill=0)
    img = img.crop((left, top, left + 44, top + 44))
    return img.resize((48, 48), Image.BILINEAR)

def main():
    src = Image.frombytes("L", (48, 48), pattern())
    out = b"".join(augment(src, *c).tobytes() for c in CASES)
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "augment_golden.bin")
    with open(path, "wb") as f:
        f.write(out)
    print(f"wrote {path} ({len(out)} bytes)")

main()
