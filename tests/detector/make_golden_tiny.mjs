// Golden fixture for the converted TinyFaceDetector (@vladmandic/face-api 1.7.15, MIT): runs the
// package's own network code (dist/face-api.esm-nobundle.js) on TensorFlow.js's pure-JavaScript
// CPU backend (@tensorflow/tfjs 4.22.0, never tfjs-node) on a 416x416 crop of
// data/samples/astronaut.png (columns 48..463, rows 0..415: the network's input size, so no
// resize or padding happens on either side), and writes tests/detector/golden/tinyface_golden.json:
//   raw: the 13x13x25 output in TF.js (NHWC) order;
//   faces: the package's detect() at its defaults (score > 0.5, NMS IoU 0.4), box in crop pixels;
//   preact_min: the smallest pre-activation value feeding each "SAME" max pool that pads (the
//     converter's padding mask, -1e5, must stay below it; see fer_convert_tfjs.c).
// Run through tests/detector/make_golden_tiny.sh.
import fs from 'node:fs';
import path from 'node:path';
import process from 'node:process';
import { PNG } from 'pngjs';
import * as faceapi from './fa.mjs';

const [root, modelDir] = process.argv.slice(2);
const tf = faceapi.tf;
await tf.setBackend('cpu');
await tf.ready();

const SIZE = 416, CROP_X = 48, CROP_Y = 0;
const manifest = JSON.parse(fs.readFileSync(path.join(modelDir, 'tiny_face_detector_model-weights_manifest.json')));
const bin = fs.readFileSync(path.join(modelDir, manifest[0].paths[0]));
const weightMap = tf.io.decodeWeights(new Uint8Array(bin).buffer, manifest[0].weights);
const net = new faceapi.TinyFaceDetector();
net.loadFromWeightMap(weightMap);

const png = PNG.sync.read(fs.readFileSync(path.join(root, 'data/samples/astronaut.png')));
const rgb = new Float32Array(SIZE * SIZE * 3);
for (let y = 0; y < SIZE; y++)
  for (let x = 0; x < SIZE; x++)
    for (let c = 0; c < 3; c++)
      rgb[(y * SIZE + x) * 3 + c] = png.data[((y + CROP_Y) * png.width + x + CROP_X) * 4 + c];
const image = tf.tensor3d(rgb, [SIZE, SIZE, 3]);

const input = await faceapi.toNetInput(image);
const out = net.forwardInput(input, SIZE);
const raw = Array.from(await out.data()).map((v) => Number(v.toPrecision(8)));

// pre-activations at the two padding max pools, as runMobilenet computes them
const p = net.params;
const x0 = tf.div(tf.sub(image.expandDims(0), tf.tensor1d([117.001, 114.697, 97.404])), 255);
const z0 = tf.add(tf.conv2d(x0, p.conv0.filters, [1, 1], 'valid'), p.conv0.bias);
const leaky = (t) => { const m = tf.mul(t, tf.scalar(0.10000000149011612)); return tf.add(tf.relu(tf.sub(t, m)), m); };
let h = tf.maxPool(leaky(z0), [2, 2], [2, 2], 'same');
const sep = (t, q) => tf.add(tf.separableConv2d(tf.pad(t, [[0, 0], [1, 1], [1, 1], [0, 0]]), q.depthwise_filter, q.pointwise_filter, [1, 1], 'valid'), q.bias);
const z1 = sep(h, p.conv1);
h = tf.maxPool(leaky(z1), [2, 2], [2, 2], 'same');
for (const q of [p.conv2, p.conv3, p.conv4]) h = tf.maxPool(leaky(sep(h, q)), [2, 2], [2, 2], 'same');
const z5 = sep(h, p.conv5);
const preactMin = [z1.min().dataSync()[0], z5.min().dataSync()[0]];

const dets = await net.locateFaces(image, { inputSize: SIZE, scoreThreshold: 0.5 });
const faces = dets.map((d) => ({ score: d.score, box: [d.box.x, d.box.y, d.box.width, d.box.height] }));
const golden = { about: 'make_golden_tiny.mjs: @vladmandic/face-api 1.7.15 TinyFaceDetector on @tensorflow/tfjs 4.22.0 (cpu)',
  image: 'astronaut.png', crop: [CROP_X, CROP_Y, SIZE, SIZE], size: SIZE, min_score: 0.5, nms_iou: 0.4,
  preact_min: preactMin, faces, raw_shape: out.shape, raw };
fs.writeFileSync(path.join(root, 'tests/detector/golden/tinyface_golden.json'), JSON.stringify(golden) + '\n');
console.log(`tinyface_golden.json: ${faces.length} faces`, faces, 'preact_min', preactMin);
