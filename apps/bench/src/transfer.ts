// npm run bench:transfer [-- --json] [-- --quick]
//
// The Atlantic-blocking design at small scale ("Explainable AI and Transfer Learning for Atlantic
// blocking"): pre-train on plentiful simulator data, transfer to scarce observations, compare with
// training on the observations alone, and explain what the transfer changed.
//
// The event: a persistent high anomaly at site 0 of Lorenz-96 — its observed value stays above the
// domain's 70th percentile for the next 3 samples (15 integration steps). Persistence is what makes a
// block a block: a single exceedance is weather, a persistent one is a regime, and it is harder to
// predict than one step ahead. Inputs are the current state of all 8 sites, standardised per domain
// (each domain's own climatology, as anomalies are). The simulator (`builtin:lorenz96-sim`, forcing 8,
// exact) has 20,000 samples; the observations (`builtin:lorenz96-obs`, forcing 8.8, noisy, biased) 1,000,
// of which 150 train, drawn per seed from the first 600; samples 650 on are held out.
//
// Arms, per seed (model initialisation and the 150 training rows): pre-trained only; transferred
// (pre-trained, then fine-tuned on the 150 rows); direct (the same initialisation trained on the 150
// rows alone with the same number of steps, its learning rate the best of three on the held-out rows —
// an optimistic bound for direct). Skill: ROC AUC on the held-out observations (and the Brier skill
// score). Then exact Shapley values of the pre-trained and the transferred model on held-out
// observations: which sites the simulator's bias made the model over- or under-use.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { loadBuiltin, type TabularDataset } from '@floe/data';
import { brierSkillScore, meanWithStandardError, rocAuc } from '@floe/metrics';
import { initBackend } from '@floe/ml-runtime';
import { buildModel, type BlockModel } from '@floe/models';
import { renderSvg } from '@floe/plots';
import { rngFor, type Rng } from '@floe/random';
import { batchModel, compareAttributions, explainRows, shiftSpec } from '@floe/xai';

const json = process.argv.includes('--json');
const quick = process.argv.includes('--quick');
const log = (s: string) => process.stderr.write(s + '\n');
const round = (x: number, d = 4) => Math.round(x * 10 ** d) / 10 ** d;

const SITE = Number(process.env.FLOE_TRANSFER_SITE ?? 0);
/** The event window starts LEAD samples ahead and lasts PERSIST samples. */
const LEAD = Number(process.env.FLOE_TRANSFER_LEAD ?? 3);
const PERSIST = 3;
const QUANTILE = 0.7;
const OBS_POOL = 600;
const OBS_TEST_FROM = 650;
const OBS_TRAIN = 150;
const OBS_VALIDATION = 100;
const SEEDS = quick ? 3 : 6;
const PRETRAIN_STEPS = quick ? 300 : 1500;
const FINETUNE_STEPS = quick ? 100 : 300;
/** Both arms pick their learning rate from this grid by AUC on validation rows drawn from the pool. */
const LEARNING_RATES = [3e-4, 1e-3, 3e-3, 1e-2];
const EXPLAIN_INSTANCES = quick ? 16 : 40;

interface Domain {
  x: Float32Array;
  y: Int32Array;
  rows: number;
}

/** Labels and standardised inputs of every row whose event window is inside the data; statistics from rows [0, statsRows). */
function prepare(d: TabularDataset, statsRows: number): Domain & { rate: number } {
  const m = d.features.length;
  const site = Array.from({ length: statsRows }, (_, t) => d.x[t * m + SITE]!).sort((a, b) => a - b);
  const threshold = site[Math.floor(QUANTILE * (statsRows - 1))]!;
  const horizon = LEAD + PERSIST - 1;
  const rows = d.rows - horizon;
  const mean = new Float64Array(m);
  const sd = new Float64Array(m);
  for (let t = 0; t < statsRows; t++) for (let i = 0; i < m; i++) mean[i]! += d.x[t * m + i]! / statsRows;
  for (let t = 0; t < statsRows; t++)
    for (let i = 0; i < m; i++) sd[i]! += (d.x[t * m + i]! - mean[i]!) ** 2 / statsRows;
  const x = new Float32Array(rows * m);
  const y = new Int32Array(rows);
  let positives = 0;
  for (let t = 0; t < rows; t++) {
    for (let i = 0; i < m; i++) x[t * m + i] = (d.x[t * m + i]! - mean[i]!) / Math.sqrt(sd[i]!);
    let persistent = 1;
    for (let k = LEAD; k <= horizon; k++) if (d.x[(t + k) * m + SITE]! <= threshold) persistent = 0;
    y[t] = persistent;
    if (t < statsRows) positives += persistent;
  }
  return { x, y, rows, rate: positives / statsRows };
}

function subset(d: Domain, rows: number[]): Domain {
  const m = d.x.length / d.rows;
  const x = new Float32Array(rows.length * m);
  rows.forEach((r, k) => x.set(d.x.subarray(r * m, (r + 1) * m), k * m));
  return { x, y: Int32Array.from(rows, (r) => d.y[r]!), rows: rows.length };
}

function train(model: BlockModel, data: Domain, steps: number, lr: number, batch: number, rng: Rng): void {
  const m = data.x.length / data.rows;
  const optimizer = tf.train.adam(lr);
  const vars = model.trainableParams().map((p) => p.variable);
  for (let s = 0; s < steps; s++) {
    const idx = Array.from({ length: batch }, () => rng.int(data.rows));
    const xs = new Float32Array(batch * m);
    idx.forEach((r, k) => xs.set(data.x.subarray(r * m, (r + 1) * m), k * m));
    tf.tidy(() => {
      const x = tf.tensor2d(xs, [batch, m]);
      const y = tf.tensor1d(
        Int32Array.from(idx, (r) => data.y[r]!),
        'int32',
      );
      optimizer.minimize(() => model.loss({ x, y }), false, vars);
    });
  }
  optimizer.dispose();
}

function probabilities(model: BlockModel, data: Domain): Float64Array {
  const m = data.x.length / data.rows;
  return batchModel(model, m, { index: 1 }).predict(data.x, data.rows);
}

function copyOf(model: BlockModel): BlockModel {
  const copy = buildModel('mlp', model.spec.size, model.spec.seed, model.spec.config);
  copy.params().forEach((p, i) => p.variable.assign(model.params()[i]!.variable));
  return copy;
}

const meanSe = (xs: number[]) => {
  const { mean, se } = meanWithStandardError(xs);
  return { mean: round(mean), se: round(se) };
};

const backend = await initBackend('auto');
const simData = loadBuiltin('lorenz96-sim') as TabularDataset;
const obsData = loadBuiltin('lorenz96-obs') as TabularDataset;
const sim = prepare(simData, simData.rows - LEAD - PERSIST);
const obs = prepare(obsData, OBS_POOL);
const test = subset(
  obs,
  Array.from({ length: obs.rows - OBS_TEST_FROM }, (_, i) => OBS_TEST_FROM + i),
);
const testRate = test.y.reduce((s, v) => s + v, 0) / test.rows;
log(
  `event: site ${SITE} above its ${QUANTILE * 100}th percentile for ${PERSIST} samples from ${LEAD} ahead; base rate sim ${sim.rate.toFixed(3)}, obs ${obs.rate.toFixed(3)} (held out ${testRate.toFixed(3)}); backend ${backend.name}`,
);

const arms: Record<'pretrained' | 'transfer' | 'direct', { auc: number[]; bss: number[] }> = {
  pretrained: { auc: [], bss: [] },
  transfer: { auc: [], bss: [] },
  direct: { auc: [], bss: [] },
};
const chosenLearningRates: { transfer: number[]; direct: number[] } = { transfer: [], direct: [] };
const before: Float64Array[] = [];
const after: Float64Array[] = [];
const config = { inputs: 8, hidden: [64, 64], outputs: 2 };
const t0 = performance.now();
for (let seed = 1; seed <= SEEDS; seed++) {
  const rng = rngFor(seed, 'transfer');
  const pool = rng.shuffle(Array.from({ length: OBS_POOL - LEAD - PERSIST }, (_, i) => i));
  const trainRows = pool.slice(0, OBS_TRAIN);
  const scarce = subset(obs, trainRows);
  const validation = subset(obs, pool.slice(OBS_TRAIN, OBS_TRAIN + OBS_VALIDATION));
  const score = (model: BlockModel, arm: keyof typeof arms) => {
    const p = probabilities(model, test);
    arms[arm].auc.push(rocAuc(p, test.y));
    arms[arm].bss.push(brierSkillScore(p, test.y, obs.rate));
  };
  /** Trains a copy of `start` (or a fresh initialisation) at each learning rate; keeps the best on validation. */
  const fit = (start: BlockModel | undefined): { model: BlockModel; lr: number } => {
    let best: { model: BlockModel; lr: number; auc: number } | undefined;
    for (const lr of LEARNING_RATES) {
      const model = start ? copyOf(start) : buildModel('mlp', 'small', seed, config);
      train(model, scarce, FINETUNE_STEPS, lr, 32, rngFor(seed, 'finetune'));
      const auc = rocAuc(probabilities(model, validation), validation.y);
      if (!best || auc > best.auc) {
        best?.model.dispose();
        best = { model, lr, auc };
      } else model.dispose();
    }
    return best!;
  };

  const pretrained = buildModel('mlp', 'small', seed, config);
  train(pretrained, sim, PRETRAIN_STEPS, 3e-3, 128, rngFor(seed, 'pretrain'));
  score(pretrained, 'pretrained');
  const transferred = fit(pretrained);
  score(transferred.model, 'transfer');
  chosenLearningRates.transfer.push(transferred.lr);
  const direct = fit(undefined);
  score(direct.model, 'direct');
  chosenLearningRates.direct.push(direct.lr);
  direct.model.dispose();

  // What the transfer changed: exact Shapley values of both models on the same held-out observations.
  const instances = subset(
    test,
    rngFor(seed, 'explain')
      .shuffle(Array.from({ length: test.rows }, (_, i) => i))
      .slice(0, EXPLAIN_INSTANCES),
  );
  const background = subset(obs, trainRows.slice(0, 32));
  const explain = (model: BlockModel) =>
    explainRows(batchModel(model, 8, { index: 1 }), instances.x, background.x, { method: 'exact' }).map(
      (r) => r.values,
    );
  before.push(...explain(pretrained));
  after.push(...explain(transferred.model));
  log(
    `seed ${seed}: AUC pre-trained ${arms.pretrained.auc.at(-1)!.toFixed(3)}, transferred ${arms.transfer.auc.at(-1)!.toFixed(3)}, direct ${arms.direct.auc.at(-1)!.toFixed(3)} (learning rates ${transferred.lr}, ${direct.lr}) — ${((performance.now() - t0) / 1000).toFixed(0)} s`,
  );
  pretrained.dispose();
  transferred.model.dispose();
}

const sites = Array.from({ length: 8 }, (_, i) => `x${i}`);
const shift = compareAttributions(sites, before, after);
const differences = arms.transfer.auc.map((a, i) => a - arms.direct.auc[i]!);
const difference = meanSe(differences);
const bySize = [...shift.shifts].sort((a, b) => Math.abs(b.shift) - Math.abs(a.shift));
const home = resolve(
  process.env.FLOE_BENCH_HOME ?? join(new URL('../../..', import.meta.url).pathname, '.floe', 'bench-transfer'),
);
mkdirSync(home, { recursive: true });
const plot = join(home, 'transfer-shift.svg');
writeFileSync(
  plot,
  await renderSvg(shiftSpec(shift.shifts, ['pre-trained on the simulator', 'transferred to observations'])),
);

const result = {
  event: `site x${SITE} above its ${QUANTILE * 100}th percentile for ${PERSIST} samples from ${LEAD} ahead`,
  skill_metric: 'roc_auc',
  skill: {
    transfer: meanSe(arms.transfer.auc),
    direct: meanSe(arms.direct.auc),
    pretrained_only: meanSe(arms.pretrained.auc),
  },
  brier_skill: {
    transfer: meanSe(arms.transfer.bss),
    direct: meanSe(arms.direct.bss),
    pretrained_only: meanSe(arms.pretrained.bss),
  },
  transfer_minus_direct: difference,
  transfer_beats_direct: difference.mean > 2 * difference.se,
  learning_rates: chosenLearningRates,
  seeds: SEEDS,
  observations: { train: OBS_TRAIN, test: test.rows },
  shift: {
    top_features: bySize.slice(0, 3).map((s) => s.feature),
    rank_correlation: round(shift.rankCorrelation),
    gained: shift.gained,
    lost: shift.lost,
    per_feature: Object.fromEntries(
      shift.shifts.map((s) => [
        s.feature,
        {
          before: round(s.importanceBefore),
          after: round(s.importanceAfter),
          shift: round(s.shift),
          se: round(s.shiftStderr),
        },
      ]),
    ),
  },
  plot,
  wall_s: round((performance.now() - t0) / 1000, 1),
};

if (json) process.stdout.write(JSON.stringify(result, null, 2) + '\n');
else {
  const f = (s: { mean: number; se: number }) => `${s.mean.toFixed(3)} ± ${s.se.toFixed(3)}`;
  log(`\n${result.event}; ${SEEDS} seeds, ${OBS_TRAIN} training observations, ${test.rows} held out`);
  log(
    `ROC AUC   transferred ${f(result.skill.transfer)}   direct ${f(result.skill.direct)}   pre-trained only ${f(result.skill.pretrained_only)}`,
  );
  log(
    `Brier SS  transferred ${f(result.brier_skill.transfer)}   direct ${f(result.brier_skill.direct)}   pre-trained only ${f(result.brier_skill.pretrained_only)}`,
  );
  log(
    `transferred − direct: ${f(difference)} AUC → ${result.transfer_beats_direct ? 'transfer wins (more than 2 standard errors)' : 'no clear win'}`,
  );
  log(
    `what the transfer changed (mean |φ| of P(event), pre-trained → transferred; rank correlation ${result.shift.rank_correlation}):`,
  );
  for (const s of bySize)
    log(
      `  ${s.feature}  ${s.importanceBefore.toFixed(4)} → ${s.importanceAfter.toFixed(4)}  (${s.shift >= 0 ? '+' : ''}${s.shift.toFixed(4)} ± ${s.shiftStderr.toFixed(4)})`,
    );
  log(
    `over-used by the simulator-trained model: ${shift.lost.join(', ') || 'none'}; under-used: ${shift.gained.join(', ') || 'none'}`,
  );
  log(`plot: ${plot}`);
}
