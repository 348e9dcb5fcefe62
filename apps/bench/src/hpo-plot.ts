// bench:hpo's plot: every rule's mean normalised regret against revealed steps, on a log axis, one line
// each; rules known only at a few budgets (Optuna's anchor) as dashed lines through those points.
import { renderSvg } from '@floe/plots';

export interface RegretSeries {
  method: string;
  points: { step: number; regret: number }[];
  /** Known only at a few budgets: drawn dashed through them. */
  sparse?: boolean;
}

/** The mean of `regretAt(trace, step)` over the traces, every `every` steps up to `budget`. */
export function meanRegretCurve(
  traces: number[][],
  regretAt: (traceIndex: number, step: number) => number,
  budget: number,
  every = 10,
): { step: number; regret: number }[] {
  const points: { step: number; regret: number }[] = [];
  for (let step = every; step <= budget; step += every) {
    let sum = 0;
    traces.forEach((_, i) => (sum += regretAt(i, step)));
    points.push({ step, regret: Number((sum / traces.length).toFixed(4)) });
  }
  return points;
}

export function regretPlot(series: RegretSeries[], title: string): Promise<string> {
  const values = series.flatMap((s) => s.points.map((p) => ({ ...p, method: s.method, sparse: s.sparse === true })));
  return renderSvg({
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title,
    width: 560,
    height: 300,
    data: { values },
    mark: { type: 'line' },
    encoding: {
      x: { field: 'step', type: 'quantitative', scale: { type: 'log' }, title: 'revealed steps (budget)' },
      y: { field: 'regret', type: 'quantitative', scale: { domain: [0, 1] }, title: 'mean normalised regret' },
      color: { field: 'method', type: 'nominal', legend: { labelLimit: 240 } },
      strokeDash: { condition: { test: 'datum.sparse', value: [4, 3] }, value: [1, 0] },
    },
  });
}
