// LeNet-5 (Caffe variant: conv 5×5 ×20, max-pool, conv 5×5 ×50, max-pool, dense 500 + ReLU, dense 10)
// and an MLP. PyTorch's default initialisation: uniform ±1/√fan_in.
import * as tf from '@tensorflow/tfjs-core';
import { makeParam } from './params.js';
import { linear } from './layers.js';
import type { Block } from './types.js';

export interface LeNetConfig {
  /** Height of the images it reads (and their width, unless `inputWidth` says otherwise). */
  inputSize: number;
  inputWidth?: number;
  inChannels: number;
  conv1: number;
  conv2: number;
  hidden: number;
  classes: number;
}

export interface MlpConfig {
  inputs: number;
  hidden: number[];
  outputs: number;
  /**
   * Each input's centre and spread, read from the table the model was first trained on: the first layer sees
   * (x − shift) / scale, so columns in grams and in fractions train alike (absent in older checkpoints: raw x).
   */
  inputShift?: number[];
  inputScale?: number[];
  /**
   * Per input, the number of categories of a categorical column the first layer reads one-hot (0: a number). A
   * missing or unknown category (any code outside 0…k−1, e.g. −1) reads as no category.
   */
  inputCategories?: number[];
  /** A regression target's mean and spread: the head predicts the standardised target, returned as h·scale + shift. */
  outputShift?: number[];
  outputScale?: number[];
}

const bound = (fanIn: number) => ({ uniform: 1 / Math.sqrt(fanIn) });

function convBlock(seed: number, id: string, k: number, cin: number, cout: number): Block {
  const w = makeParam(seed, `${id}.w`, [k, k, cin, cout], bound(k * k * cin));
  const b = makeParam(seed, `${id}.b`, [cout], bound(k * k * cin));
  return {
    id,
    kind: 'conv',
    params: [w, b],
    trainable: true,
    forward: (x) =>
      tf.maxPool(
        tf.add(tf.conv2d(x as tf.Tensor4D, w.variable as tf.Tensor4D, 1, 'valid'), b.variable) as tf.Tensor4D,
        2,
        2,
        'valid',
      ),
  };
}

function denseBlock(
  seed: number,
  id: string,
  fanIn: number,
  fanOut: number,
  relu: boolean,
  kind: 'dense' | 'head' = 'dense',
): Block {
  const w = makeParam(seed, `${id}.w`, [fanIn, fanOut], bound(fanIn));
  const b = makeParam(seed, `${id}.b`, [fanOut], bound(fanIn));
  return {
    id,
    kind,
    params: [w, b],
    trainable: true,
    forward: (x) => {
      const flat = x.shape.length > 2 ? tf.reshape(x, [x.shape[0]!, -1]) : x;
      const y = linear(flat, w.variable, b.variable);
      return relu ? tf.relu(y) : y;
    },
  };
}

/** The side of LeNet's feature map after both conv (5×5, valid) and pool (2×2, valid) stages. */
export const lenetFeatureSide = (input: number) => Math.floor((Math.floor((input - 4) / 2) - 4) / 2);

/** The smallest image side LeNet reads: both stages leave at least one pixel. */
export const LENET_MIN_SIDE = 16;

export function lenetBlocks(cfg: LeNetConfig, seed: number): Block[] {
  const features = lenetFeatureSide(cfg.inputSize) * lenetFeatureSide(cfg.inputWidth ?? cfg.inputSize);
  return [
    convBlock(seed, 'conv1', 5, cfg.inChannels, cfg.conv1),
    convBlock(seed, 'conv2', 5, cfg.conv1, cfg.conv2),
    denseBlock(seed, 'fc1', features * cfg.conv2, cfg.hidden, true),
    denseBlock(seed, 'head', cfg.hidden, cfg.classes, false, 'head'),
  ];
}

export function mlpBlocks(cfg: MlpConfig, seed: number): Block[] {
  const blocks: Block[] = [];
  // The first layer reads one column per number and one per category of each one-hot column.
  let fanIn = mlpInputWidth(cfg);
  cfg.hidden.forEach((h, i) => {
    blocks.push(denseBlock(seed, `dense.${i}`, fanIn, h, true));
    fanIn = h;
  });
  blocks.push(denseBlock(seed, 'head', fanIn, cfg.outputs, false, 'head'));
  if ((cfg.inputShift && cfg.inputScale) || cfg.inputCategories?.some((k) => k >= 2)) {
    const first = blocks[0]!;
    blocks[0] = { ...first, forward: (x, ctx) => first.forward(encodeInputs(x, cfg), ctx) };
  }
  if (cfg.outputShift && cfg.outputScale) {
    const [shift, scale] = [cfg.outputShift, cfg.outputScale];
    const head = blocks.at(-1)!;
    blocks[blocks.length - 1] = { ...head, forward: (h, ctx) => affine(head.forward(h, ctx), shift, scale, 'restore') };
  }
  return blocks;
}

/** How many categories input j is read as one-hot; 0 for an input read as a number. */
const oneHotWidth = (cfg: MlpConfig, j: number): number => {
  const k = cfg.inputCategories?.[j] ?? 0;
  return k >= 2 ? k : 0;
};

/**
 * Where each input lands among the first layer's rows (as encodeInputs lays them out): the numeric columns
 * first, in order, one row each, then each one-hot column's categories.
 */
export function mlpInputRows(cfg: MlpConfig): { start: number; width: number }[] {
  const rows = new Array<{ start: number; width: number }>(cfg.inputs);
  let next = 0;
  for (let j = 0; j < cfg.inputs; j++) if (!oneHotWidth(cfg, j)) rows[j] = { start: next++, width: 1 };
  for (let j = 0; j < cfg.inputs; j++) {
    const width = oneHotWidth(cfg, j);
    if (width) rows[j] = { start: next, width };
    next += width;
  }
  return rows;
}

/** The first layer's rows: one per numeric input, one per category of each one-hot input. */
export const mlpInputWidth = (cfg: MlpConfig): number => mlpInputRows(cfg).reduce((a, r) => a + r.width, 0);

/**
 * What the first layer reads of a batch of rows [B, inputs]: the numeric columns standardised (when the config
 * records their centre and spread), then each one-hot column's categories. A category is read through hat
 * functions max(0, 1 − |code − c|): exactly one-hot at a whole code, and piecewise linear between codes, so
 * integrated gradients along a path from a background mean still attribute to the column.
 */
function encodeInputs(x: tf.Tensor, cfg: MlpConfig): tf.Tensor {
  const numeric = Array.from({ length: cfg.inputs }, (_, j) => j).filter((j) => !oneHotWidth(cfg, j));
  // Without one-hot columns every column is numeric, read in place (no gather).
  const columns = numeric.length === cfg.inputs ? x : tf.gather(x, numeric, 1);
  const parts: tf.Tensor[] = [];
  if (numeric.length)
    parts.push(
      cfg.inputShift && cfg.inputScale
        ? affine(
            columns,
            numeric.map((j) => cfg.inputShift![j]!),
            numeric.map((j) => cfg.inputScale![j]!),
            'standardise',
          )
        : columns,
    );
  for (let j = 0; j < cfg.inputs; j++) {
    const k = oneHotWidth(cfg, j);
    if (!k) continue;
    const code = tf.slice(x, [0, j], [-1, 1]);
    parts.push(tf.relu(tf.sub(1, tf.abs(tf.sub(code, tf.range(0, k, 1, 'float32'))))));
  }
  return parts.length === 1 ? parts[0]! : tf.concat(parts, 1);
}

/**
 * (x − shift) / scale per column, or its inverse x·scale + shift. The constants are made per call, as every other
 * intermediate of a forward pass, and go with the caller's tidy (the backward pass of a product still reads them).
 */
function affine(x: tf.Tensor, shift: number[], scale: number[], way: 'standardise' | 'restore'): tf.Tensor {
  const [s, k] = [tf.tensor1d(shift), tf.tensor1d(scale)];
  return way === 'standardise' ? tf.div(tf.sub(x, s), k) : tf.add(tf.mul(x, k), s);
}
