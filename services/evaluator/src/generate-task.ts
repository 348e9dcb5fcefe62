// Generate's model passes in a worker thread: a byte-level language model continues a prompt one byte at a
// time, each step reading at most its context of the prompt and the text so far. The pieces go back to the
// handler as they are made.
import * as tf from '@tensorflow/tfjs';
import { invalidArgument } from '@floe/errors';
import { initBackend } from '@floe/ml-runtime';
import { Rng } from '@floe/random';
import { LocalArtifactStore } from '@floe/store';
import {
  noRunResolver,
  openModel,
  serveTask,
  trainedSequenceLength,
  type ComputeEnv,
  type ResolvedModelSource,
} from '@floe/training';

export interface GenerateTaskInput {
  env: ComputeEnv;
  model: ResolvedModelSource;
  prompt: Uint8Array;
  maxBytes: number;
  /** Bytes read each step; 0: the model's context (and never more). */
  windowBytes: number;
  /** Undefined: greedy. */
  sampling?: { temperature: number; topK: number; seed: number };
  stopSequences: Uint8Array[];
}

export interface GenerateTaskOutput {
  raw: Uint8Array;
  stoppedBy: 'max_bytes' | 'stop_sequence';
  meanLogProb: number;
  contextBytes: number;
}

/** Bytes made since the last piece; sent every PIECE_BYTES bytes and at the end. */
export type GenerateTaskProgress = { raw: Uint8Array };
const PIECE_BYTES = 16;

/** What an empty prompt reads as: the model starts after a line break (it has no start token). */
const EMPTY_PROMPT = new Uint8Array([10]);

/** Natural log-softmax of `logits` (float64, for sampling and the reported log-probability). */
function logSoftmax(logits: Float32Array): Float64Array {
  let max = -Infinity;
  for (const v of logits) max = Math.max(max, v);
  let sum = 0;
  for (const v of logits) sum += Math.exp(v - max);
  const logZ = max + Math.log(sum);
  return Float64Array.from(logits, (v) => v - logZ);
}

/**
 * The next byte: the likeliest (greedy; ties to the lower byte), or a draw from the distribution at
 * `temperature` restricted to the `topK` likeliest (0: all).
 */
export function chooseByte(
  logProbs: Float64Array,
  sampling: { temperature: number; topK: number } | undefined,
  rng: Rng,
): number {
  const order = Array.from(logProbs.keys()).sort((a, b) => logProbs[b]! - logProbs[a]! || a - b);
  if (!sampling) return order[0]!;
  const kept = sampling.topK > 0 ? order.slice(0, sampling.topK) : order;
  const top = logProbs[kept[0]!]!;
  const weights = kept.map((b) => Math.exp((logProbs[b]! - top) / sampling.temperature));
  const total = weights.reduce((a, w) => a + w, 0);
  let u = rng.next() * total;
  for (let i = 0; i < kept.length; i++) {
    u -= weights[i]!;
    if (u < 0) return kept[i]!;
  }
  return kept.at(-1)!;
}

/** Whether `bytes` ends with `suffix`. */
const endsWith = (bytes: Uint8Array, length: number, suffix: Uint8Array) =>
  length >= suffix.length && suffix.every((b, i) => bytes[length - suffix.length + i] === b);

serveTask<GenerateTaskInput, GenerateTaskOutput, GenerateTaskProgress>(async (input, progress) => {
  await initBackend(input.env.backend, { threads: input.env.threads });
  const model = await openModel('model', input.model, new LocalArtifactStore(input.env.artifactsDir), noRunResolver);
  try {
    if (model.task !== 'language-model')
      throw invalidArgument('model', `is a ${model.task} model; Generate continues text with a language model`);
    const modelContext = Number(model.spec.config.context);
    // Unless asked, the model reads as much as it trained on: positions past that it never learned.
    const asked = input.windowBytes > 0 ? input.windowBytes : (trainedSequenceLength(model) ?? modelContext);
    const context = Math.min(asked, modelContext);
    const prompt = input.prompt.length > 0 ? input.prompt : EMPTY_PROMPT;
    const text = new Uint8Array(prompt.length + input.maxBytes);
    text.set(prompt);
    let length = prompt.length;
    const rng = new Rng(input.sampling?.seed ?? 0);
    let logProbSum = 0;
    let sent = prompt.length;
    let stoppedBy: GenerateTaskOutput['stoppedBy'] = 'max_bytes';
    for (let made = 0; made < input.maxBytes; made++) {
      const window = text.subarray(Math.max(0, length - context), length);
      const last = tf.tidy(() => {
        const logits = model.forward(tf.tensor2d(Int32Array.from(window), [1, window.length], 'int32'), {
          training: false,
        });
        return tf.squeeze(tf.slice(logits, [0, window.length - 1, 0], [1, 1, -1]));
      });
      const logProbs = logSoftmax(last.dataSync() as Float32Array);
      last.dispose();
      const byte = chooseByte(logProbs, input.sampling, rng);
      logProbSum += logProbs[byte]!;
      text[length++] = byte;
      const stopped = input.stopSequences.some((s) =>
        endsWith(text.subarray(prompt.length), length - prompt.length, s),
      );
      if (stopped) stoppedBy = 'stop_sequence';
      if (stopped || length - sent >= PIECE_BYTES || made === input.maxBytes - 1) {
        progress({ raw: text.slice(sent, length) });
        sent = length;
        // Let the piece leave the worker before the next step's forward pass.
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
      if (stopped) break;
    }
    const made = length - prompt.length;
    return {
      raw: text.slice(prompt.length, length),
      stoppedBy,
      meanLogProb: made > 0 ? logProbSum / made : 0,
      contextBytes: context,
    };
  } finally {
    model.dispose();
  }
});
