// Every explanation plot renders headless to SVG with the marks its data asks for.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renderSvg } from '@floe/plots';
import {
  attentionHeatmapSpec,
  barSpec,
  beeswarmSpec,
  compareAttributions,
  imageOverlaySpec,
  shiftSpec,
  waterfallSpec,
} from '../src/index.js';

const marks = (svg: string, kind: string) => svg.match(new RegExp(`aria-roledescription="${kind}"`, 'g'))?.length ?? 0;
const names = ['a', 'b', 'c', 'd', 'e'];
const rows = [
  Float64Array.of(0.5, -0.2, 0.1, 0, 0.05),
  Float64Array.of(0.3, -0.4, 0.2, 0.01, -0.05),
  Float64Array.of(0.1, 0.2, -0.3, 0.02, 0),
];

test('waterfall: one bar per shown feature and one for the rest; bar: one per feature', async () => {
  assert.equal(marks(await renderSvg(waterfallSpec(names, rows[0]!, 0.2, 0.65, 3)), 'bar'), 4);
  assert.equal(marks(await renderSvg(barSpec(names, rows)), 'bar'), 5);
});

test('beeswarm: one circle per value; image overlay: two layers of cells', async () => {
  const inputs = rows.map((r) => r.map((v) => v * 10));
  assert.equal(marks(await renderSvg(beeswarmSpec(names, rows, inputs)), 'circle'), 15);
  const svg = await renderSvg(
    imageOverlaySpec(
      4,
      4,
      new Float64Array(16).fill(0.5),
      new Float64Array(16).map((_, i) => i - 8),
    ),
  );
  assert.equal(marks(svg, 'rect mark'), 32);
});

test('attention heat map: the lower triangle of cells, averaged down for long inputs; shift plot renders', async () => {
  const t = 20;
  const map = new Float32Array(t * t).map((_, k) => (k % t <= Math.floor(k / t) ? 1 : 0));
  assert.equal(marks(await renderSvg(attentionHeatmapSpec(map, t, 'layer 0')), 'rect mark'), (t * (t + 1)) / 2);
  assert.equal(marks(await renderSvg(attentionHeatmapSpec(map, t, 'layer 0', 5)), 'rect mark'), 15);
  const shift = compareAttributions(
    names,
    rows,
    rows.map((r) => r.map((v) => v * 2)),
  );
  assert.match(await renderSvg(shiftSpec(shift.shifts)), /^<svg/);
});
