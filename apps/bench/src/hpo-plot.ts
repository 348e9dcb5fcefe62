// bench:hpo's plot: every rule's mean normalised regret against revealed steps, on a log axis, one line
// each; rules known only at a few budgets (Optuna's anchor) as dashed lines through those points.
import { renderSvg } from '@floe/plots';

export interface RegretSeries {
  method: string;
  points: { step: number; regret: number }[];
  /** Known only at a few budgets: drawn dashed through them. */
  sparse?: boolean;
}

/** The mean of `regretAt(replay, step)` over `replays` replays at each of `steps`. */
export function meanRegretAt(
  replays: number,
  regretAt: (replay: number, step: number) => number,
  steps: number[],
): { step: number; regret: number }[] {
  return steps.map((step) => {
    let sum = 0;
    for (let i = 0; i < replays; i++) sum += regretAt(i, step);
    return { step, regret: Number((sum / replays).toFixed(4)) };
  });
}

/** meanRegretAt every `every` steps up to `budget`: the plotted curve. */
export function meanRegretCurve(
  replays: number,
  regretAt: (replay: number, step: number) => number,
  budget: number,
  every = 10,
): { step: number; regret: number }[] {
  return meanRegretAt(
    replays,
    regretAt,
    Array.from({ length: Math.floor(budget / every) }, (_, k) => (k + 1) * every),
  );
}

export function regretPlot(series: RegretSeries[], title: string): Promise<string> {
  const values = series.flatMap((s) => s.points.map((p) => ({ ...p, method: s.method, sparse: s.sparse === true })));
  return renderSvg({
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
