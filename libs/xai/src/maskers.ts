// Maskers turn a coalition of features into model inputs, giving the value function v(S) the Shapley
// methods explain. Tabular: interventional — absent features take a background row's values, and v(S)
// averages over the background. Image: features are square patches; absent patches come from a baseline
// image (a constant or a blurred copy). Text: features are byte spans; absent spans become a fill byte.
import type { BatchModel, ValueFunction } from './types.js';

/** Rows per model call, so that a value-function batch never builds one huge array. */
const ROWS_PER_CALL = 8192;

function predictChunked(model: BatchModel, rows: Float32Array, count: number): Float64Array {
  const d = model.inputs;
  const out = new Float64Array(count);
  for (let start = 0; start < count; start += ROWS_PER_CALL) {
    const n = Math.min(ROWS_PER_CALL, count - start);
    out.set(model.predict(rows.subarray(start * d, (start + n) * d), n), start);
  }
  return out;
}

/** v(S) = mean over background rows b of f(x_S, b_rest). `background` holds rows of model.inputs values. */
export function tabularValue(model: BatchModel, x: Float32Array, background: Float32Array): ValueFunction {
  const m = model.inputs;
  if (x.length !== m) throw new RangeError(`the instance has ${x.length} values, the model takes ${m}`);
  if (background.length === 0 || background.length % m !== 0)
    throw new RangeError(`the background must hold whole rows of ${m} values, not ${background.length}`);
  const b = background.length / m;
  return (masks, count) => {
    const rows = new Float32Array(count * b * m);
    for (let k = 0; k < count; k++) {
      for (let r = 0; r < b; r++) {
        const at = (k * b + r) * m;
        for (let i = 0; i < m; i++) rows[at + i] = masks[k * m + i] ? x[i]! : background[r * m + i]!;
      }
    }
    const outputs = predictChunked(model, rows, count * b);
    const v = new Float64Array(count);
    for (let k = 0; k < count; k++) {
      let s = 0;
      for (let r = 0; r < b; r++) s += outputs[k * b + r]!;
      v[k] = s / b;
    }
    return v;
  };
}

export interface ImageGeometry {
  height: number;
  width: number;
  channels: number;
}

/** Patch index of each pixel (row-major), for square patches of `patch` pixels; returns the patch count. */
export function imagePatches(g: ImageGeometry, patch: number): { pixelPatch: Int32Array; patches: number } {
  const across = Math.ceil(g.width / patch);
  const down = Math.ceil(g.height / patch);
  const pixelPatch = new Int32Array(g.height * g.width);
  for (let y = 0; y < g.height; y++)
    for (let x = 0; x < g.width; x++)
      pixelPatch[y * g.width + x] = Math.floor(y / patch) * across + Math.floor(x / patch);
  return { pixelPatch, patches: across * down };
}

/** A box blur of radius r per channel (HWC): a baseline that keeps coarse structure. */
export function boxBlur(image: Float32Array, g: ImageGeometry, r: number): Float32Array {
  const out = new Float32Array(image.length);
  for (let y = 0; y < g.height; y++)
    for (let x = 0; x < g.width; x++)
      for (let c = 0; c < g.channels; c++) {
        let s = 0;
        let n = 0;
        for (let dy = -r; dy <= r; dy++)
          for (let dx = -r; dx <= r; dx++) {
            const yy = y + dy;
            const xx = x + dx;
            if (yy < 0 || yy >= g.height || xx < 0 || xx >= g.width) continue;
            s += image[(yy * g.width + xx) * g.channels + c]!;
            n++;
          }
        out[(y * g.width + x) * g.channels + c] = s / n;
      }
  return out;
}

/** v(S) = f(image with absent patches taken from `baseline`), one model row per coalition. */
export function imageValue(
  model: BatchModel,
  image: Float32Array,
  baseline: Float32Array,
  g: ImageGeometry,
  pixelPatch: Int32Array,
  patches: number,
): ValueFunction {
  const size = g.height * g.width * g.channels;
  if (image.length !== size || baseline.length !== size || model.inputs !== size)
    throw new RangeError(`image, baseline and model must all hold ${size} values`);
  return (masks, count) => {
    const rows = new Float32Array(count * size);
    for (let k = 0; k < count; k++)
      for (let p = 0; p < g.height * g.width; p++) {
        const source = masks[k * patches + pixelPatch[p]!] ? image : baseline;
        for (let c = 0; c < g.channels; c++) rows[k * size + p * g.channels + c] = source[p * g.channels + c]!;
      }
    return predictChunked(model, rows, count);
  };
}

/** Splits `length` bytes into `spans` contiguous spans as even as possible: span index per byte. */
export function byteSpans(length: number, spans: number): Int32Array {
  const n = Math.max(1, Math.min(spans, length));
  return Int32Array.from({ length }, (_, i) => Math.floor((i * n) / length));
}

/**
 * v(S) = f(text with the bytes of absent spans replaced by `fill`); the model reads bytes as values
 * (a language model's adapter turns them back into tokens).
 */
export function textValue(
  model: BatchModel,
  text: Uint8Array,
  spanOf: Int32Array,
  spans: number,
  fill = 0x20,
): ValueFunction {
  if (model.inputs !== text.length)
    throw new RangeError(`the model takes ${model.inputs} bytes, the text has ${text.length}`);
  return (masks, count) => {
    const rows = new Float32Array(count * text.length);
    for (let k = 0; k < count; k++)
      for (let i = 0; i < text.length; i++) rows[k * text.length + i] = masks[k * spans + spanOf[i]!] ? text[i]! : fill;
    return predictChunked(model, rows, count);
  };
}
