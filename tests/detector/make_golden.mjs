// Golden fixtures for the CNN face detector: runs @vladmandic/human's own BlazeFace model with
// TensorFlow.js's pure-JavaScript CPU backend (@tensorflow/tfjs, never tfjs-node) and decodes it
// as human 3.3.6's src/face/blazeface.ts does, on the project's sample images; the C test
// (test_detector_golden.c) runs our converted .fer on the same frames and compares.
//
// Run through tests/detector/make_golden.sh (installs the pinned npm packages into a scratch
// folder and extracts the video frame); it writes into tests/detector/golden/:
//   sample5_256.png, cap13_f200_256.png   frames shrunk to 256 px on their longest side (8-bit
//       RGB, area average); astronaut.png is read from data/samples as it is (512x512)
//   blazeface_golden.json   per frame: the 896 raw score logits, the 16 regressors of selected
//       anchors, and the faces after sigmoid, threshold and NMS (box and 6 keypoints in frame
//       pixels, network letterboxed as fer_face_letterbox_rgb does)
import fs from 'node:fs';
import path from 'node:path';
import process from 'node:process';
import * as tf from '@tensorflow/tfjs';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';

const [root, frameDir] = process.argv.slice(2);
if (!root || !frameDir) {
  console.error('usage: node make_golden.mjs REPO_ROOT DIR_WITH_f00200.png');
  process.exit(2);
}
const outDir = path.join(root, 'tests/detector/golden');
const modelDir = path.join(root, 'data/models/blazeface');
const SIZE = 256;
const MIN_SCORE = 0.5; // (FER_FACE_DEFAULT_MIN_SCORE is 0.6; 0.5 keeps more boxes to compare)
const NMS_IOU = 0.3;   // FER_FACE_DEFAULT_NMS_IOU
const MAX_FACES = 20;

function readImage(file) {
  const buf = fs.readFileSync(file);
  if (file.endsWith('.png')) {
    const png = PNG.sync.read(buf);
    return rgbaToRgb(png.data, png.width, png.height);
  }
  const j = jpeg.decode(buf, { useTArray: true, formatAsRGBA: true });
  return rgbaToRgb(j.data, j.width, j.height);
}

function rgbaToRgb(data, w, h) {
  const rgb = new Uint8Array(w * h * 3);
  for (let i = 0; i < w * h; i++) for (let c = 0; c < 3; c++) rgb[3 * i + c] = data[4 * i + c];
  return { w, h, rgb };
}

// Area-average resize (box filter) of an RGB image to dw x dh, in float64; the same windows as
// fer_face_letterbox_rgb: output i covers source [i/scale, (i+1)/scale).
function areaResize(img, dw, dh, scale) {
  const out = new Float64Array(dw * dh * 3);
  const taps = (n, len) => {
    const list = [];
    for (let i = 0; i < n; i++) {
      const a = i / scale, b = Math.min((i + 1) / scale, len);
      const f = Math.min(Math.floor(a), len - 1);
      const ws = [];
      let sum = 0;
      for (let k = f; k < len && k < b; k++) {
        const c = Math.max(0, Math.min(k + 1, b) - Math.max(k, a));
        ws.push([k, c]);
        sum += c;
      }
      if (sum <= 0) { ws.length = 0; ws.push([f, 1]); sum = 1; }
      list.push(ws.map(([k, c]) => [k, c / sum]));
    }
    return list;
  };
  const tx = taps(dw, img.w), ty = taps(dh, img.h);
  for (let y = 0; y < dh; y++)
    for (let x = 0; x < dw; x++)
      for (let c = 0; c < 3; c++) {
        let v = 0;
        for (const [sy, wy] of ty[y])
          for (const [sx, wx] of tx[x]) v += wy * wx * img.rgb[(sy * img.w + sx) * 3 + c];
        out[(y * dw + x) * 3 + c] = v;
      }
  return out;
}

// An image shrunk to SIZE on its longest side, rounded to 8 bits, as a PNG fixture.
function shrinkTo256(img, file) {
  const scale = SIZE / Math.max(img.w, img.h);
  const w = Math.round(img.w * scale), h = Math.round(img.h * scale);
  const v = areaResize(img, w, h, scale);
  const png = new PNG({ width: w, height: h });
  for (let i = 0; i < w * h; i++) {
    for (let c = 0; c < 3; c++) png.data[4 * i + c] = Math.min(255, Math.max(0, Math.round(v[3 * i + c])));
    png.data[4 * i + 3] = 255;
  }
  fs.writeFileSync(file, PNG.sync.write(png, { colorType: 2 }));
  return readImage(file);
}

// The network input [1, SIZE, SIZE, 3]: letterboxed (centred on black), (v/255 - 0.5)/0.5.
function letterbox(img) {
  const scale = SIZE / Math.max(img.w, img.h);
  const cw = Math.min(SIZE, Math.max(1, Math.round(img.w * scale)));
  const ch = Math.min(SIZE, Math.max(1, Math.round(img.h * scale)));
  const ox = Math.floor((SIZE - cw) / 2), oy = Math.floor((SIZE - ch) / 2);
  const v = areaResize(img, cw, ch, scale);
  const x = new Float32Array(SIZE * SIZE * 3).fill(-1);
  for (let y = 0; y < ch; y++)
    for (let xx = 0; xx < cw; xx++)
      for (let c = 0; c < 3; c++) x[((oy + y) * SIZE + ox + xx) * 3 + c] = (v[(y * cw + xx) * 3 + c] / 255 - 0.5) / 0.5;
  return { tensor: tf.tensor4d(x, [1, SIZE, SIZE, 3]), scale, ox, oy };
}

// human's facemeshutil.generateAnchors for a 256 input
function anchors() {
  const list = [];
  for (const [stride, n] of [[SIZE / 16, 2], [SIZE / 8, 6]]) {
    const grid = Math.floor((SIZE + stride - 1) / stride);
    for (let gy = 0; gy < grid; gy++)
      for (let gx = 0; gx < grid; gx++)
        for (let k = 0; k < n; k++) list.push([stride * (gx + 0.5), stride * (gy + 0.5)]);
  }
  return list;
}

async function loadModel() {
  const json = JSON.parse(fs.readFileSync(path.join(modelDir, 'blazeface.json'), 'utf8'));
  const bin = fs.readFileSync(path.join(modelDir, 'blazeface.bin'));
  const weightData = bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength);
  return tf.loadGraphModel({
    load: async () => ({
      modelTopology: json.modelTopology,
      weightSpecs: json.weightsManifest.flatMap((g) => g.weights),
      weightData,
      format: json.format,
      generatedBy: json.generatedBy,
      convertedBy: json.convertedBy,
      userDefinedMetadata: json.userDefinedMetadata,
    }),
  });
}

async function run(model, anchorList, name, framePath, img) {
  const lb = letterbox(img);
  // the four outputs by name; human sorts them by size and concatenates [512 rows, 384 rows]
  const [cls512, cls384, reg512, reg384] = model.execute(lb.tensor, ['Identity', 'Identity_1', 'Identity_2', 'Identity_3']);
  const batch = tf.squeeze(tf.concat([tf.concat([cls512, reg512], 2), tf.concat([cls384, reg384], 2)], 1), [0]);
  const rows = await batch.array(); // 896 x 17
  const logits = rows.map((r) => r[0]);
  // human's decodeBoxes: centre = anchor + (r1, r2), size (r3, r4); corners in input pixels
  const boxes = rows.map((r, i) => {
    const cx = anchorList[i][0] + r[1], cy = anchorList[i][1] + r[2];
    return [cx - r[3] / 2, cy - r[4] / 2, cx + r[3] / 2, cy + r[4] / 2];
  });
  const scores = logits.map((v) => 1 / (1 + Math.exp(-v)));
  const keep = await (await tf.image.nonMaxSuppressionAsync(tf.tensor2d(boxes), tf.tensor1d(scores), MAX_FACES, NMS_IOU, MIN_SCORE)).array();
  const toFrame = (x, y) => [(x - lb.ox) / lb.scale, (y - lb.oy) / lb.scale];
  const faces = keep.filter((i) => scores[i] >= MIN_SCORE).map((i) => {
    const [x0, y0] = toFrame(boxes[i][0], boxes[i][1]);
    const [x1, y1] = toFrame(boxes[i][2], boxes[i][3]);
    const kp = [];
    for (let j = 0; j < 6; j++) kp.push(toFrame(anchorList[i][0] + rows[i][5 + 2 * j], anchorList[i][1] + rows[i][6 + 2 * j]));
    return { anchor: i, score: scores[i], box: [x0, y0, x1 - x0, y1 - y0], keypoints: kp };
  });
  // regressors of the 24 best anchors and of every 16th anchor
  const order = logits.map((v, i) => [v, i]).sort((a, b) => b[0] - a[0]).slice(0, 24).map((p) => p[1]);
  const picked = [...new Set([...order, ...anchorList.map((_, i) => i).filter((i) => i % 16 === 0)])].sort((a, b) => a - b);
  const round = (v) => Number(v.toPrecision(7));
  console.log(`${name}: ${img.w}x${img.h}, ${faces.length} faces, best score ${Math.max(...scores).toFixed(4)}`);
  return {
    name,
    frame: framePath,
    size: [img.w, img.h],
    logits: logits.map(round),
    regressors: picked.map((i) => ({ anchor: i, values: rows[i].slice(1).map(round) })),
    faces: faces.map((f) => ({ anchor: f.anchor, score: round(f.score), box: f.box.map(round), keypoints: f.keypoints.map((p) => p.map(round)) })),
  };
}

await tf.setBackend('cpu');
await tf.ready();
fs.mkdirSync(outDir, { recursive: true });
const model = await loadModel();
const anchorList = anchors();
const frames = [
  ['astronaut', 'data/samples/astronaut.png', readImage(path.join(root, 'data/samples/astronaut.png'))],
  ['sample5', 'tests/detector/golden/sample5_256.png',
    shrinkTo256(readImage(path.join(root, 'data/samples/sample5.jpg')), path.join(outDir, 'sample5_256.png'))],
  ['cap13_f200', 'tests/detector/golden/cap13_f200_256.png',
    shrinkTo256(readImage(path.join(frameDir, 'f00200.png')), path.join(outDir, 'cap13_f200_256.png'))],
];
const results = [];
for (const [name, file, img] of frames) results.push(await run(model, anchorList, name, file, img));
const golden = {
  about: 'BlazeFace (@vladmandic/human 3.3.6 models/blazeface.json) run by @tensorflow/tfjs 4.22.0 (cpu backend) and decoded as human does; written by tests/detector/make_golden.mjs',
  input_size: SIZE,
  min_score: MIN_SCORE,
  nms_iou: NMS_IOU,
  anchor_order: 'rows of Identity/Identity_2 (16x16 grid, 2 per cell) then Identity_1/Identity_3 (8x8, 6 per cell); regressor values are columns 1..16 of human\'s 17-column batch',
  frames: results,
};
fs.writeFileSync(path.join(outDir, 'blazeface_golden.json'), JSON.stringify(golden) + '\n');
console.log(`wrote ${path.join(outDir, 'blazeface_golden.json')}`);
