// The explainer through a real server: attributions of a builtin MLP on iris (exact, kernel, gradient
// methods) with their guarantees in the reply, LeNet on MNIST patches, what changed between two models,
// the hidden attention of a Mamba model, and INVALID_ARGUMENT naming the field for bad input.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { commonV1, explainerV1 as ex } from '@floe/contracts';
import { collect, createClient, type FloeServer } from '@floe/service-kit';
import { quietLog, rejectsWith, startTestServer, tempDir, testConfig } from '@floe/testing';
import { createExplainerService } from '../src/index.js';

const home = tempDir();
let server: FloeServer;
let client: ex.ExplainerServiceClient;

before(async () => {
  const config = testConfig(home.path);
  server = await startTestServer([createExplainerService({ config, log: quietLog })], config);
  client = createClient(ex.ExplainerServiceClient, server.address);
});

after(async () => {
  client.close();
  await server.shutdown();
  home.remove();
});

const builtin = (architecture: commonV1.ModelArchitecture, size: string, seed = 1): commonV1.ModelRef => ({
  source: { $case: 'builtin', value: { architecture, size, seed } },
});
const mlp = (seed = 1) => builtin(commonV1.ModelArchitecture.MODEL_ARCHITECTURE_MLP, 'small', seed);
const iris = { uri: 'builtin:iris' };

async function explain(req: ex.ExplainRequest): Promise<{ result: ex.Explanation; progress: number }> {
  const messages = await collect(client.explain(req));
  const last = messages.at(-1)!.event!;
  assert.equal(last.$case, 'explanation');
  return {
    result: last.value as ex.Explanation,
    progress: messages.filter((m) => m.event?.$case === 'progress').length,
  };
}

test('exact Shapley of an MLP on iris: instances × features values, efficiency within 1e-6, progress streamed', async () => {
  const { result, progress } = await explain(
    ex.ExplainRequest.fromPartial({
      model: mlp(),
      dataset: iris,
      options: { method: ex.Method.METHOD_EXACT, instances: 5, background: 20, outputIndex: 2, seed: 3 },
    }),
  );
  assert.deepEqual(result.featureNames, ['sepal_length', 'sepal_width', 'petal_length', 'petal_width']);
  assert.equal(result.values!.rows, 5);
  assert.equal(result.values!.cols, 4);
  assert.equal(result.deltas.length, 5);
  assert.ok(result.efficiencyGap <= 1e-6, `efficiency gap ${result.efficiencyGap}`);
  result.outputs.forEach((fx, k) => {
    const phi = result.values!.values.slice(k * 4, k * 4 + 4).reduce((s, v) => s + v, 0);
    assert.ok(Math.abs(phi - (fx - result.baseValues[k]!)) < 1e-6);
    assert.ok(fx >= 0 && fx <= 1, 'a class probability');
  });
  assert.equal(result.standardErrors, undefined, 'exact: no standard errors');
  assert.equal(result.evaluations, 5 * 16);
  assert.ok(progress >= 1);
});

test('KernelSHAP and integrated gradients on the same instances: the same seed, the same answer', async () => {
  const options = { method: ex.Method.METHOD_KERNEL, instances: 3, background: 10, budget: 12, seed: 9 };
  const a = await explain(ex.ExplainRequest.fromPartial({ model: mlp(), dataset: iris, options }));
  const b = await explain(ex.ExplainRequest.fromPartial({ model: mlp(), dataset: iris, options }));
  assert.deepEqual(a.result.values, b.result.values);
  assert.ok(a.result.efficiencyGap < 1e-4);
  const ig = await explain(
    ex.ExplainRequest.fromPartial({
      model: mlp(),
      dataset: iris,
      options: { method: ex.Method.METHOD_INTEGRATED_GRADIENTS, instances: 3, background: 10, steps: 64, seed: 9 },
    }),
  );
  assert.ok(ig.result.efficiencyGap < 1e-2, `convergence delta ${ig.result.efficiencyGap}`);
});

test('LeNet on MNIST: Shapley values over 9 patches of 10 pixels, with plots', async () => {
  const { result } = await explain(
    ex.ExplainRequest.fromPartial({
      model: builtin(commonV1.ModelArchitecture.MODEL_ARCHITECTURE_LENET5, 'small'),
      dataset: { uri: 'builtin:mnist' },
      includePlots: true,
      options: { method: ex.Method.METHOD_EXACT, instances: 2, background: 8, patchSize: 10, outputIndex: 7 },
    }),
  );
  assert.equal(result.values!.cols, 9);
  assert.ok(result.efficiencyGap <= 1e-6);
  assert.deepEqual(
    result.plots.map((p) => p.name),
    ['waterfall', 'bar', 'image'],
  );
  for (const p of result.plots) assert.match(p.svg, /^<svg/);
});

test('a language model on e-mails: byte spans of a window explain log p(the next byte), efficiency exact', async () => {
  const { result } = await explain(
    ex.ExplainRequest.fromPartial({
      model: builtin(commonV1.ModelArchitecture.MODEL_ARCHITECTURE_TRANSFORMER_LM, 'tiny'),
      dataset: { uri: 'builtin:spam-assassin' },
      options: { method: ex.Method.METHOD_EXACT, instances: 2, spans: 8, seed: 4 },
      includePlots: true,
    }),
  );
  assert.equal(result.values!.cols, 8);
  assert.match(result.featureNames[0]!, /^span 0 "/);
  assert.ok(result.efficiencyGap <= 1e-6);
  for (const fx of result.outputs) assert.ok(fx < 0, 'a log-probability');
  await rejectsWith(
    collect(
      client.explain(
        ex.ExplainRequest.fromPartial({
          model: builtin(commonV1.ModelArchitecture.MODEL_ARCHITECTURE_TRANSFORMER_LM, 'tiny'),
          dataset: { uri: 'builtin:spam-assassin' },
          options: { method: ex.Method.METHOD_INTEGRATED_GRADIENTS },
        }),
      ),
    ),
    grpc.status.INVALID_ARGUMENT,
    'options.method',
  );
});

test('CompareExplanations: per-feature shifts with standard errors, ranks and their correlation', async () => {
  const messages = await collect(
    client.compareExplanations(
      ex.CompareExplanationsRequest.fromPartial({
        baseModel: mlp(1),
        adaptedModel: mlp(2),
        dataset: iris,
        options: { method: ex.Method.METHOD_EXACT, instances: 12, background: 16, seed: 1 },
        includePlots: true,
      }),
    ),
  );
  const c = messages.at(-1)!.event!;
  assert.equal(c.$case, 'comparison');
  const cmp = c.value as ex.ExplanationComparison;
  assert.equal(cmp.shifts.length, 4);
  for (const s of cmp.shifts) {
    assert.ok(Math.abs(s.shift - (s.importanceAfter - s.importanceBefore)) < 1e-12);
    assert.ok(s.shiftStderr >= 0);
  }
  assert.ok(cmp.rankCorrelation >= -1 && cmp.rankCorrelation <= 1);
  for (const f of cmp.gained) assert.ok(cmp.shifts.find((s) => s.feature === f)!.shift > 0);
  for (const f of cmp.lost) assert.ok(cmp.shifts.find((s) => s.feature === f)!.shift < 0);
  assert.deepEqual(
    cmp.plots.map((p) => p.name),
    ['shift'],
  );
  assert.deepEqual(
    cmp.before!.plots.map((p) => p.name),
    ['waterfall', 'bar', 'beeswarm'],
  );
});

test('ImplicitAttention of a Mamba LM: one causal map per layer, α·x rebuilds the scan to 1e-4', async () => {
  const input = Buffer.from('Subject: the meeting moved to Thursday afternoon');
  const messages = await collect(
    client.implicitAttention(
      ex.ImplicitAttentionRequest.fromPartial({
        model: builtin(commonV1.ModelArchitecture.MODEL_ARCHITECTURE_MAMBA_LM, 'tiny'),
        input,
      }),
    ),
  );
  const last = messages.at(-1)!.event!;
  assert.equal(last.$case, 'maps');
  const maps = last.value as ex.AttentionMaps;
  assert.deepEqual(maps.layers, [0, 1]);
  assert.ok(maps.reconstructionError < 1e-4, `reconstruction error ${maps.reconstructionError}`);
  const t = input.length;
  for (const m of maps.maps) {
    assert.equal(m.rows, t);
    for (let i = 0; i < t; i++) for (let j = i + 1; j < t; j++) assert.equal(m.values[i * t + j], 0);
  }
  const rolled = await collect(
    client.implicitAttention(
      ex.ImplicitAttentionRequest.fromPartial({
        model: builtin(commonV1.ModelArchitecture.MODEL_ARCHITECTURE_MAMBA_LM, 'tiny'),
        input,
        aggregation: ex.Aggregation.AGGREGATION_ROLLOUT,
        includePlots: true,
      }),
    ),
  );
  const rollout = rolled.at(-1)!.event!.value as ex.AttentionMaps;
  assert.equal(rollout.maps.length, 1);
  assert.equal(rollout.plots.length, 1);
  assert.match(rollout.plots[0]!.svg, /^<svg/);
  const attr = await collect(
    client.implicitAttention(
      ex.ImplicitAttentionRequest.fromPartial({
        model: builtin(commonV1.ModelArchitecture.MODEL_ARCHITECTURE_MAMBA_LM, 'tiny'),
        input,
        aggregation: ex.Aggregation.AGGREGATION_ATTR,
      }),
    ),
  );
  const weighted = (attr.at(-1)!.event!.value as ex.AttentionMaps).maps[0]!;
  assert.equal(weighted.rows, t);
  for (let i = 0; i < t; i++) {
    const row = weighted.values.slice(i * t, (i + 1) * t).reduce((s, v) => s + v, 0);
    assert.ok(Math.abs(row - 1) < 1e-4, `Mamba-Attr row ${i} sums to ${row}`);
  }
  assert.notDeepEqual(weighted.values, rollout.maps[0]!.values, 'the gradient weights change the rollout');
});

test('bad input: INVALID_ARGUMENT naming the field', async () => {
  const explainCall = (req: ex.ExplainRequest) => collect(client.explain(req));
  // More features than exact allows: 16 patches of 7 pixels.
  await rejectsWith(
    explainCall(
      ex.ExplainRequest.fromPartial({
        model: builtin(commonV1.ModelArchitecture.MODEL_ARCHITECTURE_LENET5, 'small'),
        dataset: { uri: 'builtin:mnist' },
        options: { method: ex.Method.METHOD_EXACT, instances: 1, background: 2 },
      }),
    ),
    grpc.status.INVALID_ARGUMENT,
    'options.method',
  );
  await rejectsWith(
    explainCall(
      ex.ExplainRequest.fromPartial({
        model: mlp(),
        dataset: iris,
        options: { method: ex.Method.METHOD_KERNEL, budget: 5 },
      }),
    ),
    grpc.status.INVALID_ARGUMENT,
    'options.budget',
  );
  // A background whose rows do not have the model's shape (penguins has more columns than iris).
  await rejectsWith(
    explainCall(
      ex.ExplainRequest.fromPartial({
        model: mlp(),
        dataset: iris,
        backgroundDataset: { uri: 'builtin:penguins' },
        options: { method: ex.Method.METHOD_EXACT },
      }),
    ),
    grpc.status.INVALID_ARGUMENT,
    'background_dataset',
  );
  await rejectsWith(
    explainCall(
      ex.ExplainRequest.fromPartial({
        model: mlp(),
        dataset: iris,
        options: { method: ex.Method.METHOD_EXACT, outputIndex: 3 },
      }),
    ),
    grpc.status.INVALID_ARGUMENT,
    'options.output_index',
  );
  await rejectsWith(
    collect(
      client.implicitAttention(
        ex.ImplicitAttentionRequest.fromPartial({
          model: builtin(commonV1.ModelArchitecture.MODEL_ARCHITECTURE_TRANSFORMER_LM, 'tiny'),
          input: Buffer.from('hello'),
        }),
      ),
    ),
    grpc.status.INVALID_ARGUMENT,
    'model',
  );
  // The server still answers after every refusal.
  const { result } = await explain(
    ex.ExplainRequest.fromPartial({
      model: mlp(),
      dataset: iris,
      options: { method: ex.Method.METHOD_EXACT, instances: 1 },
    }),
  );
  assert.equal(result.values!.rows, 1);
});
