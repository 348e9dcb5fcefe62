// floe's main job on folders of the user's own images (a folder per class, PNG): adapt() pre-trains a LeNet
// shaped by the old images, profiles the new ones against them, plans, tunes, trains, evaluates both domains by
// accuracy and explains on the new images. The data-profiler reports what it read (resized images, class
// balance by the classes' names).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { commonV1, dataProfilerV1 } from '@floe/contracts';
import { type FloeServer } from '@floe/service-kit';
import { quietLog, startTestServer, tempDir, testConfig, writeDigitFolder } from '@floe/testing';
import { adapt, FloeClient, type AdaptEvent, type AdaptResult } from '@floe/client';
import { createTrainerService } from '@floe/trainer';
import { createDataProfilerService } from '@floe/data-profiler';
import { createHpoSurrogateService } from '@floe/hpo-surrogate';
import { createExplainerService } from '@floe/explainer';
import { createEvaluatorService } from '@floe/evaluator';

const home = tempDir();
let server: FloeServer;
let client: FloeClient;

before(async () => {
  const data = join(home.path, 'data');
  // Old: light strokes on a dark ground (as MNIST); new: the same four digits, other examples, inverted.
  writeDigitFolder(join(data, 'old'), { digits: [0, 1, 2, 3], perClass: 60 });
  writeDigitFolder(join(data, 'new'), { digits: [0, 1, 2, 3], perClass: 60, start: 100, invert: true });
  // A folder with a class missing and some images of another size.
  writeDigitFolder(join(data, 'partial'), { digits: [0, 1], perClass: 6, start: 300 });
  writeDigitFolder(join(data, 'partial'), { digits: [2], perClass: 3, start: 300, size: 36 });
  writeDigitFolder(join(data, 'ones-twos'), { digits: [1], perClass: 9, start: 400 });
  writeDigitFolder(join(data, 'ones-twos'), { digits: [2], perClass: 3, start: 400 });
  const config = testConfig(home.path);
  server = await startTestServer(
    [
      createTrainerService({ config, log: quietLog }),
      createDataProfilerService({ config, log: quietLog }),
      createHpoSurrogateService({ config, log: quietLog }),
      createExplainerService({ config, log: quietLog }),
      createEvaluatorService({ config, log: quietLog }),
    ],
    config,
  );
  client = new FloeClient({ address: server.address });
});

after(async () => {
  client.close();
  await server.shutdown();
  home.remove();
});

test(
  'adapt() on image folders: a LeNet of their shape, every stage, accuracy on both domains',
  { timeout: 300_000 },
  async () => {
    const flow = adapt(client, {
      id: 'images',
      data: 'file:new',
      reference: 'file:old',
      pretrain: { architecture: commonV1.ModelArchitecture.MODEL_ARCHITECTURE_LENET5, size: 'small', steps: 60 },
      budgetSteps: 30,
      tuneFraction: 0.4,
      batchSize: 16,
    });
    const summaries: string[] = [];
    let result: AdaptResult;
    for (;;) {
      const next = await flow.next();
      if (next.done) {
        result = next.value as AdaptResult;
        break;
      }
      const e = next.value as AdaptEvent;
      if (e.type === 'stage' && e.status !== 'started') summaries.push(`${e.stage}: ${e.status}: ${e.summary}`);
    }
    for (const stage of ['base', 'profile', 'plan', 'tune', 'train', 'evaluate', 'explain'])
      assert.ok(
        summaries.some((s) => s.startsWith(`${stage}: done`)),
        summaries.join('\n'),
      );
    assert.equal(result.task, 'classification');
    const e = result.evaluation!;
    assert.deepEqual([e.metric, e.higherIsBetter], ['accuracy', true]);
    const domain = (name: string) => e.domains.find((d) => d.domain === name)!;
    // The base model learned the old digits and reads the inverted ones wrongly; adapting learns them.
    assert.ok(domain('old').base > 0.8, `the base model on its own images: ${domain('old').base}`);
    assert.ok(
      domain('new').adapted > domain('new').base + 0.3,
      `the new images are learned: ${domain('new').base} → ${domain('new').adapted}`,
    );
  },
);

test(
  'the profile of an image folder: its size, the images resized to it, classes by name',
  { timeout: 60_000 },
  async () => {
    let profile: dataProfilerV1.DatasetProfile | undefined;
    for await (const m of client.dataProfiler.profileDataset({ dataset: { uri: 'file:partial' } }))
      if (m.event?.$case === 'profile') profile = m.event.value;
    const image = profile!.detail?.$case === 'image' ? profile!.detail.value : undefined;
    assert.ok(image, JSON.stringify(profile));
    assert.deepEqual([image.height, image.width, image.channels, image.resizedImages], [28, 28, 1, 3]);
    assert.deepEqual(image.classCounts, { '0': 6, '1': 6, '2': 3 });

    // Class balance compares classes by name: "ones-twos" holds only 1 and 2 (9 and 3 images), which it numbers
    // 0 and 1 where "partial" (6 / 6 / 3 of 0 / 1 / 2) numbers them 1 and 2.
    let report: dataProfilerV1.DriftReport | undefined;
    for await (const m of client.dataProfiler.compareDatasets({
      reference: { uri: 'file:partial' },
      current: { uri: 'file:ones-twos' },
    }))
      if (m.event?.$case === 'report') report = m.event.value;
    const label = report!.features.find((f) => f.feature === 'label')!;
    // By name: shares 0.4 / 0.4 / 0.2 against 0 / 0.75 / 0.25, L∞ 0.4 (by position it would be 0.35).
    assert.ok(Math.abs(label.linf - 0.4) < 1e-9, `label L∞ ${label.linf}`);
  },
);
