// Plots of explanations, as Vega-Lite specs (rendered by @floe/plots): waterfall and bar for one or many
// instances, a beeswarm of every value, an image overlay, a hidden-attention heat map, and the
// before/after shift of two models.
import type { TopLevelSpec } from '@floe/plots';
import type { FeatureShift } from './compare.js';

const WIDTH = 480;

/** One instance: from the base value, each feature's φ in order of |φ| (the rest grouped), to f(x). */
export function waterfallSpec(
  names: string[],
  values: ArrayLike<number>,
  base: number,
  output: number,
  top = 10,
): TopLevelSpec {
  const order = Array.from(values, (v, i) => [v, i] as const).sort((a, b) => Math.abs(b[0]) - Math.abs(a[0]));
  const shown = order.slice(0, top);
  const rest = order.slice(top).reduce((s, [v]) => s + v, 0);
  const steps = [
    ...shown.map(([v, i]) => ({ feature: names[i]!, value: v })),
    ...(order.length > top ? [{ feature: `${order.length - top} other features`, value: rest }] : []),
  ];
  let at = base;
  const rows = steps.map((s, k) => {
    const row = {
      feature: s.feature,
      start: at,
      end: at + s.value,
      value: s.value,
      order: k,
      sign: s.value >= 0 ? 'raises' : 'lowers',
    };
    at += s.value;
    return row;
  });
  return {
    title: {
      text: 'Attribution of one prediction',
      subtitle: `base value ${base.toPrecision(4)} → output ${output.toPrecision(4)}`,
    },
    width: WIDTH,
    data: { values: rows },
    mark: 'bar',
    encoding: {
      y: { field: 'feature', type: 'nominal', sort: { field: 'order' }, title: null },
      x: { field: 'start', type: 'quantitative', title: 'model output', scale: { zero: false } },
      x2: { field: 'end' },
      color: {
        field: 'sign',
        type: 'nominal',
        scale: { domain: ['raises', 'lowers'], range: ['#d62728', '#1f77b4'] },
        title: null,
      },
      tooltip: [{ field: 'feature' }, { field: 'value', format: '.4g' }],
    },
  };
}

/** Mean |φ| per feature over the instances, largest first. */
export function barSpec(names: string[], rows: ArrayLike<number>[]): TopLevelSpec {
  const data = names.map((feature, f) => ({
    feature,
    importance: rows.reduce((s, r) => s + Math.abs(r[f]!), 0) / rows.length,
  }));
  return {
    title: 'Mean |attribution| per feature',
    width: WIDTH,
    data: { values: data },
    mark: 'bar',
    encoding: {
      y: { field: 'feature', type: 'nominal', sort: '-x', title: null },
      x: { field: 'importance', type: 'quantitative', title: 'mean |φ|' },
    },
  };
}

/** Every φ of every instance, one row per feature, coloured by the feature's value (low → high). */
export function beeswarmSpec(names: string[], rows: ArrayLike<number>[], inputs: ArrayLike<number>[]): TopLevelSpec {
  const m = names.length;
  const lo = new Array<number>(m).fill(Infinity);
  const hi = new Array<number>(m).fill(-Infinity);
  for (const x of inputs)
    for (let f = 0; f < m; f++) {
      lo[f] = Math.min(lo[f]!, x[f]!);
      hi[f] = Math.max(hi[f]!, x[f]!);
    }
  // A deterministic jitter spreads points that share a row.
  const data = rows.flatMap((r, k) =>
    names.map((feature, f) => ({
      feature,
      value: r[f]!,
      level: hi[f]! > lo[f]! ? (inputs[k]![f]! - lo[f]!) / (hi[f]! - lo[f]!) : 0.5,
      jitter: ((k * 0.618034) % 1) - 0.5,
    })),
  );
  return {
    title: 'Attributions of every instance',
    width: WIDTH,
    height: { step: 28 },
    data: { values: data },
    mark: { type: 'circle', size: 24, opacity: 0.8 },
    encoding: {
      y: { field: 'feature', type: 'nominal', title: null },
      yOffset: { field: 'jitter', type: 'quantitative', scale: { domain: [-0.7, 0.7] } },
      x: { field: 'value', type: 'quantitative', title: 'φ (impact on the output)' },
      color: {
        field: 'level',
        type: 'quantitative',
        scale: { scheme: 'redblue', reverse: true },
        title: 'feature value',
      },
    },
  };
}

/** An image (grey levels in [0, 1], height × width) under its per-pixel attributions (red up, blue down). */
export function imageOverlaySpec(
  height: number,
  width: number,
  pixels: ArrayLike<number>,
  attribution: ArrayLike<number>,
): TopLevelSpec {
  const cells = [];
  let peak = 0;
  for (let k = 0; k < height * width; k++) peak = Math.max(peak, Math.abs(attribution[k]!));
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++)
      cells.push({ x, y, grey: pixels[y * width + x]!, phi: attribution[y * width + x]! });
  const axis = { labels: false, ticks: false, title: null, grid: false };
  return {
    title: 'Attribution over the image',
    width: 8 * width,
    height: 8 * height,
    data: { values: cells },
    encoding: {
      x: { field: 'x', type: 'ordinal', axis },
      y: { field: 'y', type: 'ordinal', axis },
    },
    resolve: { scale: { color: 'independent' } },
    layer: [
      {
        mark: 'rect',
        encoding: {
          color: { field: 'grey', type: 'quantitative', scale: { scheme: 'greys', domain: [0, 1] }, legend: null },
        },
      },
      {
        mark: { type: 'rect', opacity: 0.6 },
        encoding: {
          color: {
            field: 'phi',
            type: 'quantitative',
            scale: { scheme: 'redblue', reverse: true, domain: [-peak || -1, peak || 1] },
            title: 'φ',
          },
        },
      },
    ],
  };
}

/** A steps × steps attention map (row i attends to column j ≤ i), averaged down to at most `cells` a side. */
export function attentionHeatmapSpec(map: ArrayLike<number>, steps: number, title: string, cells = 96): TopLevelSpec {
  const bin = Math.max(1, Math.ceil(steps / cells));
  const side = Math.ceil(steps / bin);
  const data = [];
  for (let bi = 0; bi < side; bi++)
    for (let bj = 0; bj <= bi; bj++) {
      let s = 0;
      let n = 0;
      for (let i = bi * bin; i < Math.min(steps, (bi + 1) * bin); i++)
        for (let j = bj * bin; j < Math.min(steps, (bj + 1) * bin); j++) {
          s += map[i * steps + j]!;
          n++;
        }
      data.push({ query: bi * bin, key: bj * bin, attention: s / n });
    }
  return {
    title: { text: title, subtitle: bin > 1 ? `${bin}×${bin} positions per cell` : undefined },
    width: 360,
    height: 360,
    data: { values: data },
    mark: 'rect',
    encoding: {
      x: { field: 'key', type: 'ordinal', title: 'attended position', axis: { labelOverlap: true } },
      y: { field: 'query', type: 'ordinal', title: 'position', axis: { labelOverlap: true } },
      color: { field: 'attention', type: 'quantitative', scale: { scheme: 'viridis' } },
    },
  };
}

/** Before/after importance per feature with ±2 standard errors of the shift. */
export function shiftSpec(shifts: FeatureShift[], labels: [string, string] = ['before', 'after']): TopLevelSpec {
  const data = shifts.flatMap((s) => [
    {
      feature: s.feature,
      model: labels[0],
      importance: s.importanceBefore,
      lo: s.importanceBefore,
      hi: s.importanceBefore,
    },
    {
      feature: s.feature,
      model: labels[1],
      importance: s.importanceAfter,
      lo: s.importanceAfter - 2 * s.shiftStderr,
      hi: s.importanceAfter + 2 * s.shiftStderr,
    },
  ]);
  const y = {
    field: 'feature',
    type: 'nominal' as const,
    title: null,
    sort: { field: 'importance', op: 'max' as const, order: 'descending' as const },
  };
  return {
    title: { text: 'What changed', subtitle: 'mean |φ| per feature; bars: ±2 standard errors of the shift' },
    width: WIDTH,
    data: { values: data },
    layer: [
      {
        mark: { type: 'line', color: '#999' },
        encoding: {
          y,
          x: { field: 'importance', type: 'quantitative', title: 'mean |φ|' },
          detail: { field: 'feature' },
        },
      },
      {
        mark: 'rule',
        encoding: {
          y,
          x: { field: 'lo', type: 'quantitative' },
          x2: { field: 'hi' },
          color: { field: 'model', type: 'nominal' },
        },
      },
      {
        mark: { type: 'point', filled: true, size: 60 },
        encoding: {
          y,
          x: { field: 'importance', type: 'quantitative' },
          color: { field: 'model', type: 'nominal', title: null },
        },
      },
    ],
  };
}
