// floe explain run | compare | attention — the explainer from a terminal: attributions with their
// guarantees, what changed between two models, and the hidden attention of a Mamba model; --svg writes
// the plots.
import { readFileSync, writeFileSync } from 'node:fs';
import { explainerV1 as ex } from '@floe/contracts';
import { createClient, loadConfig } from '@floe/service-kit';
import { list, num, output, str, TABLE_OPTIONS, tableColumns, type Command, type ParsedArgs } from '../args.js';
import { follow } from '../progress.js';
import { modelRef } from './profile.js';
import { padDisplay } from '../text-width.js';
import { summaryOf } from './summaries.js';

const METHODS: Record<string, ex.Method> = {
  exact: ex.Method.METHOD_EXACT,
  kernel: ex.Method.METHOD_KERNEL,
  permutation: ex.Method.METHOD_PERMUTATION,
  ig: ex.Method.METHOD_INTEGRATED_GRADIENTS,
  gradient: ex.Method.METHOD_GRADIENT,
};

function options(args: ParsedArgs): ex.ExplainOptions {
  const name = str(args, 'method', 'kernel');
  const method = METHODS[name];
  if (method === undefined)
    throw new Error(`--method: expected one of ${Object.keys(METHODS).join(', ')}, not ${name}`);
  return ex.ExplainOptions.fromPartial({
    method,
    instances: num(args, 'instances', 0),
    background: num(args, 'background-rows', 0),
    budget: num(args, 'budget', 0),
    outputIndex: num(args, 'output', 0),
    steps: num(args, 'steps', 0),
    seed: num(args, 'seed', 0),
    patchSize: num(args, 'patch', 0),
  });
}

/** The first plot to FILE, each further one beside it as FILE-NAME.svg; returns the paths written. */
function writePlots(file: string, plots: ex.Plot[]): string[] {
  return plots.map((p, i) => {
    const path = i === 0 ? file : `${file.replace(/\.svg$/i, '')}-${p.name}.svg`;
    writeFileSync(path, p.svg);
    return path;
  });
}

function table(e: ex.Explanation): string {
  const m = e.values!;
  const mean = e.featureNames.map((_, f) => {
    let s = 0;
    for (let k = 0; k < m.rows; k++) s += Math.abs(m.values[k * m.cols + f]!);
    return s / Math.max(1, m.rows);
  });
  const order = mean.map((v, f) => [v, f] as const).sort((a, b) => b[0] - a[0]);
  return [
    `${m.rows} instances, ${m.cols} features; base value ${e.baseValue.toPrecision(4)}; largest |Σφ − (f(x) − φ0)| ${e.efficiencyGap.toExponential(2)}; ${e.evaluations} evaluations in ${e.wallMs.toFixed(0)} ms`,
    'feature                     mean |φ|',
    ...order.slice(0, 20).map(([v, f]) => `${padDisplay(e.featureNames[f]!, 26)} ${v.toPrecision(4)}`),
  ].join('\n');
}

export const explainCommand: Command = {
  name: 'explain',
  summary: summaryOf('explain'),
  usage: [
    'floe explain run --model MODEL --data URI [--method exact|kernel|permutation|ig|gradient] [--instances 16]',
    '                 [--background URI] [--background-rows 64] [--budget N] [--output 0] [--steps N] [--target COLUMN]',
    '                 [--ignore A,B]',
    '                 [--patch 7] [--seed 0] [--svg FILE]',
    'floe explain compare --base MODEL --adapted MODEL --data URI [same options] [--svg FILE]',
    'floe explain attention --model MODEL --text TEXT | --file FILE [--layers 0,1] [--rollout] [--svg FILE]',
    '',
    'MODEL is run:RUN_ID[@step], artifact:ID or ARCH/SIZE[:seed]. --svg writes the first plot to FILE and',
    'the others beside it (FILE-bar.svg, FILE-beeswarm.svg, …).',
  ].join('\n'),
  options: {
    model: { type: 'string' },
    base: { type: 'string' },
    adapted: { type: 'string' },
    data: { type: 'string' },
    ...TABLE_OPTIONS,
    background: { type: 'string' },
    method: { type: 'string' },
    instances: { type: 'string' },
    'background-rows': { type: 'string' },
    budget: { type: 'string' },
    output: { type: 'string' },
    steps: { type: 'string' },
    patch: { type: 'string' },
    seed: { type: 'string' },
    svg: { type: 'string' },
    text: { type: 'string' },
    file: { type: 'string' },
    layers: { type: 'string' },
    rollout: { type: 'boolean' },
  },
  async run(args) {
    const [sub] = args.positionals;
    const client = createClient(
      ex.ExplainerServiceClient,
      str(args, 'address') || loadConfig().address,
      {},
      loadConfig().security,
    );
    const svg = str(args, 'svg');
    const wrote = (plots: ex.Plot[]) => {
      if (svg && !args.json) process.stderr.write(`wrote ${writePlots(svg, plots).join(', ')}\n`);
      else if (svg) writePlots(svg, plots);
    };
    try {
      const dataset = { uri: str(args, 'data'), ...tableColumns(args) };
      const backgroundDataset = str(args, 'background')
        ? { uri: str(args, 'background'), ...tableColumns(args) }
        : undefined;
      switch (sub) {
        case 'run': {
          const e = await follow<ex.Explanation>(
            client.explain(
              ex.ExplainRequest.fromPartial({
                model: modelRef(str(args, 'model')),
                dataset,
                backgroundDataset,
                options: options(args),
                includePlots: Boolean(svg),
              }),
            ),
            'explanation',
            args.json,
          );
          wrote(e.plots);
          output(args, ex.Explanation.toJSON({ ...e, plots: [] }), () => table(e));
          return 0;
        }
        case 'compare': {
          const c = await follow<ex.ExplanationComparison>(
            client.compareExplanations(
              ex.CompareExplanationsRequest.fromPartial({
                baseModel: modelRef(str(args, 'base')),
                adaptedModel: modelRef(str(args, 'adapted')),
                dataset,
                backgroundDataset,
                options: options(args),
                includePlots: Boolean(svg),
              }),
            ),
            'comparison',
            args.json,
          );
          wrote(c.plots);
          output(args, ex.ExplanationComparison.toJSON({ ...c, plots: [] }), () =>
            [
              `rank correlation ${c.rankCorrelation.toFixed(3)}; gained: ${c.gained.join(', ') || 'none'}; lost: ${c.lost.join(', ') || 'none'}`,
              'feature                     before     after      shift ± se',
              ...[...c.shifts]
                .sort((a, b) => Math.abs(b.shift) - Math.abs(a.shift))
                .map(
                  (s) =>
                    `${padDisplay(s.feature, 26)} ${s.importanceBefore.toPrecision(4).padEnd(10)} ${s.importanceAfter.toPrecision(4).padEnd(10)} ${s.shift.toPrecision(3)} ± ${s.shiftStderr.toPrecision(2)}`,
                ),
            ].join('\n'),
          );
          return 0;
        }
        case 'attention': {
          const text = str(args, 'file') ? readFileSync(str(args, 'file')) : Buffer.from(str(args, 'text'));
          const maps = await follow<ex.AttentionMaps>(
            client.implicitAttention(
              ex.ImplicitAttentionRequest.fromPartial({
                model: modelRef(str(args, 'model')),
                input: text,
                layers: list(args, 'layers').map(Number),
                aggregation: args.values.rollout ? ex.Aggregation.AGGREGATION_ROLLOUT : ex.Aggregation.AGGREGATION_MEAN,
                includePlots: Boolean(svg),
              }),
            ),
            'maps',
            args.json,
          );
          wrote(maps.plots);
          output(args, ex.AttentionMaps.toJSON({ ...maps, plots: [] }), () =>
            [
              `${maps.maps.length} map(s) of ${text.length}×${text.length} for layer(s) ${maps.layers.join(', ')}; α·x rebuilds the scan to ${maps.reconstructionError.toExponential(2)}`,
              ...maps.maps.map((m, k) => {
                // Where the last position looks: its three most attended earlier positions.
                const t = m.rows;
                const row = m.values.slice((t - 1) * t, t * t);
                const top = row
                  .map((v, j) => [v, j] as const)
                  .sort((a, b) => b[0] - a[0])
                  .slice(0, 3)
                  .map(([v, j]) => `${JSON.stringify(String.fromCharCode(text[j]!))}@${j} ${v.toFixed(3)}`);
                return `layer ${maps.layers[k]}: the last byte attends most to ${top.join(', ')}`;
              }),
            ].join('\n'),
          );
          return 0;
        }
        default:
          process.stderr.write(
            `floe explain: unknown subcommand ${JSON.stringify(sub ?? '')}\n\n${explainCommand.usage}\n`,
          );
          return 2;
      }
    } catch (err) {
      const e = err as { details?: string; message: string };
      process.stderr.write(`floe explain ${sub}: ${e.details ?? e.message}\n`);
      return 1;
    } finally {
      client.close();
    }
  },
};
