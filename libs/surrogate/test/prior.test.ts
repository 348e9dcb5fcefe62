// The FT-PFN prior's invariants: each basis family starts at Y0 (x → 0), reaches 1 − 1/PREC of the way to
// Yinf at its saturation point (pow, exp, hill), and the mixture stays between them before saturation;
// sequences are seeded, in range, with contexts before queries and queries of unseen curves marked 0.
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '@floe/random';
import {
  FtPfnTask,
  MAX_DIMS,
  curveValue,
  sampleFtPfnSequence,
  sampleLcPfnCurve,
  type CurveParams,
} from '../src/index.js';

const close = (a: number, b: number, tol: number, what = '') =>
  assert.ok(Math.abs(a - b) <= tol, `${what} ${a} vs ${b}`);

function only(kind: number, p: Omit<CurveParams, 'w'>): CurveParams {
  return { ...p, w: [0, 1, 2, 3].map((k) => (k === kind ? 1 : 0)) };
}

test('each basis family starts at Y0 and at Xsat has closed 1 − 1/PREC of the gap to Yinf (pow, exp, hill)', () => {
  const base = {
    y0: 0.2,
    yInf: 0.9,
    alpha: [1.5, 0.8, 1.02, 1.3],
    xSat: [0.5, 0.5, 0.5, 0.5],
    prec: [50, 50, 50, 50],
    rpSat: [1, 1, 1, 1],
    sigma: 0,
  };
  for (const kind of [0, 1, 2, 3]) close(curveValue(only(kind, base), 1e-12), 0.2, 1e-6, `family ${kind} at 0`);
  for (const kind of [0, 1, 3]) {
    const y = curveValue(only(kind, base), 0.5);
    close((0.9 - y) / (0.9 - 0.2), 1 / 50, 1e-9, `family ${kind} at Xsat`);
  }
});

test('prior curves are seeded, within [0, 1], and their tasks map nearby configurations to nearby curves', () => {
  const a = sampleFtPfnSequence(new Rng(9), 300, 120);
  const b = sampleFtPfnSequence(new Rng(9), 300, 120);
  assert.deepEqual(a, b);
  for (const seed of [1, 2, 3, 4, 5]) {
    const s = sampleFtPfnSequence(new Rng(seed), 200, 80);
    assert.equal(s.length, 200);
    assert.equal(s.nContext, 80);
    assert.equal(s.config.length, 200 * MAX_DIMS);
    for (let i = 0; i < s.length; i++) {
      assert.ok(s.y[i]! >= 0 && s.y[i]! <= 1 && s.t[i]! > 0 && s.t[i]! <= 1);
      if (i < s.nContext) assert.ok(s.curveId[i]! > 0, 'context tokens name their curve');
    }
    // A query of a curve with observations carries that curve's id; one without carries 0.
    const seen = new Set(Array.from(s.curveId.subarray(0, s.nContext)));
    for (let i = s.nContext; i < s.length; i++) if (s.curveId[i]! !== 0) assert.ok(seen.has(s.curveId[i]!));
  }
  const task = new FtPfnTask(new Rng(12), 3);
  const at = (c: number[]) => Array.from({ length: 20 }, (_, k) => curveValue(task.params(c), (k + 1) / 20));
  const near = at([0.5, 0.5, 0.5]).map((v, k) => Math.abs(v - at([0.501, 0.5, 0.5])[k]!));
  assert.ok(Math.max(...near) < 0.05, `a 0.001 step in configuration moves the curve by ${Math.max(...near)}`);
});

test('every extension of the prior, off (the default), draws nothing extra: the reference stream holds', () => {
  // So the reference prior's trained weights hold too.
  const reference = sampleFtPfnSequence(new Rng(9), 300, 120);
  for (const off of [{ stallingTasks: 0 }, { lateOnsetTasks: 0 }, { relevanceTasks: 0 }])
    assert.deepEqual(sampleFtPfnSequence(new Rng(9), 300, 120, undefined, off), reference, JSON.stringify(off));
});

test("the reference prior's stream is pinned: the committed weights were trained on exactly these draws", () => {
  // A change to the sampler that moves a single bit (an order of summation, one extra draw) breaks
  // train:surrogate's promise to reproduce libs/surrogate/weights; change this hash only with new weights.
  const hash = createHash('sha256');
  for (const seed of [9, 10, 11]) {
    const s = sampleFtPfnSequence(new Rng(seed), 300, 120);
    for (const a of [s.curveId, s.t, s.config, s.y]) hash.update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
  }
  assert.equal(hash.digest('hex'), '530a43c8e1b2fd8054712ee020aa6c8003bc9e6fc1a3b25999f033f4ff573521');
});

test('stalling tasks: a region of configurations stays at the start, contiguous', () => {
  const rng = new Rng(21);
  let stalled = 0;
  let total = 0;
  let stallingTasks = 0;
  for (let t = 0; t < 200; t++) {
    const task = new FtPfnTask(rng, 1 + rng.int(4), { stallingTasks: 0.5 });
    if (task.stallingShare > 0) stallingTasks++;
    else {
      // Without a stalling region no curve's asymptote is its start (the reference's uniform law).
      const p = task.params([rng.next()]);
      assert.ok(p.yInf > p.y0);
    }
    for (let c = 0; c < 20; c++) {
      const config = Array.from({ length: task.dims }, () => rng.next());
      const p = task.params(config);
      if (p.yInf !== p.y0) continue;
      assert.ok(task.stallingShare > 0, 'only a stalling task has stalled curves');
      // A stalled curve is flat at its start, at every step.
      for (const x of [0.01, 0.3, 1]) close(curveValue(p, x), p.y0, 1e-6, 'stalled curve');
      stalled++;
    }
    total += 20;
  }
  close(stallingTasks / 200, 0.5, 0.1, 'share of stalling tasks');
  // Each stalling task stalls a U(0, 0.9) share of its configuration space: about 0.5 × 0.45 of all curves.
  close(stalled / total, 0.225, 0.08, 'share of stalled curves');
  // Contiguous: on a stalling task, configurations next to a stalled one mostly stall too.
  const task = Array.from({ length: 50 }, (_, s) => new FtPfnTask(new Rng(100 + s), 2, { stallingTasks: 1 })).find(
    (t) => t.stallingShare > 0.3,
  )!;
  let agree = 0;
  let pairs = 0;
  for (let i = 0; i < 400; i++) {
    const c = [rng.next(), rng.next()];
    const d = [Math.min(1, c[0]! + 0.01), c[1]!];
    const a = task.params(c);
    const b = task.params(d);
    agree += Number((a.yInf === a.y0) === (b.yInf === b.y0));
    pairs++;
  }
  assert.ok(agree / pairs > 0.9, `neighbours agree on stalling ${agree}/${pairs}`);
});

test('LC-PFN prior curves improve, stay in [0, 1], and are seeded', () => {
  for (let seed = 0; seed < 50; seed++) {
    const c = sampleLcPfnCurve(new Rng(seed), 40);
    assert.ok(c.values.every((v) => v >= 0 && v <= 1));
    assert.ok(c.mean[39]! > c.mean[0]!, 'the noiseless curve improves');
    for (let i = 1; i < 40; i++)
      assert.ok(c.mean[i]! >= c.mean[i - 1]! - 1e-12, 'each family is monotone, so is their mix');
  }
  assert.deepEqual(sampleLcPfnCurve(new Rng(3), 20), sampleLcPfnCurve(new Rng(3), 20));
});

test('late-onset tasks: curves hold their start until an onset smooth in the configuration', () => {
  const rng = new Rng(33);
  let lateTasks = 0;
  for (let t = 0; t < 200; t++) {
    const task = new FtPfnTask(rng, 1 + rng.int(4), { lateOnsetTasks: 0.5 });
    const config = Array.from({ length: task.dims }, () => rng.next());
    const p = task.params(config);
    if (task.maxOnset === 0) {
      assert.equal(p.onset, undefined, 'a task without late onset keeps the reference curve');
      continue;
    }
    lateTasks++;
    assert.ok(task.maxOnset >= 0.01 && task.maxOnset <= 0.5 + 1e-12, `max onset ${task.maxOnset}`);
    const onset = p.onset!;
    assert.ok(onset > 0 && onset < task.maxOnset, `onset ${onset} within (0, ${task.maxOnset})`);
    // Flat at the start up to the onset, then the reference curve shifted by it.
    for (const f of [0.1, 0.5, 1]) assert.equal(curveValue(p, f * onset), p.y0);
    const reference = { ...p, onset: 0 };
    for (const x of [0.2, 0.6, 1])
      if (x > onset) close(curveValue(p, x), curveValue(reference, x - onset), 1e-12, 'shifted curve');
    // Smooth: a 0.001 step in the configuration barely moves the onset.
    const moved = task.params(config.map((v, j) => (j === 0 ? Math.min(1, v + 0.001) : v))).onset!;
    assert.ok(Math.abs(moved - onset) < 0.02 * task.maxOnset, `onset ${onset} → ${moved}`);
  }
  close(lateTasks / 200, 0.5, 0.1, 'share of late-onset tasks');
});

test('relevance tasks: inputs weigh unequally, the curves vary as much in all', () => {
  const rng = new Rng(57);
  let relevanceTasks = 0;
  // Rank agreement between an input's relevance and how far moving it alone moves the asymptote.
  let concordant = 0;
  let pairs = 0;
  for (let t = 0; t < 200; t++) {
    const dims = 2 + rng.int(5);
    const task = new FtPfnTask(rng, dims, { relevanceTasks: 0.5 });
    if (!task.relevance) continue;
    relevanceTasks++;
    const r = task.relevance;
    close(
      r.reduce((a, v) => a + v * v, 0),
      dims,
      1e-9,
      'squared relevances sum to the inputs',
    );
    const spread = Array.from({ length: dims }, (_, d) => {
      let s = 0;
      for (let c = 0; c < 20; c++) {
        const config = Array.from({ length: dims }, () => rng.next());
        const lo = task.params(config.map((v, j) => (j === d ? 0.2 : v))).yInf;
        const hi = task.params(config.map((v, j) => (j === d ? 0.8 : v))).yInf;
        s += Math.abs(hi - lo);
      }
      return s;
    });
    for (let a = 0; a < dims; a++)
      for (let b = a + 1; b < dims; b++) {
        if (Math.abs(Math.log10(r[a]! / r[b]!)) < 1) continue; // a decade apart at least
        pairs++;
        if (r[a]! > r[b]! === spread[a]! > spread[b]!) concordant++;
      }
  }
  close(relevanceTasks / 200, 0.5, 0.1, 'share of relevance tasks');
  // An input a decade more relevant moves the curves more, nearly always.
  assert.ok(pairs > 100 && concordant / pairs > 0.85, `concordant ${concordant} of ${pairs}`);
});
