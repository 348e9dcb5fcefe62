// floe adapt: the whole adaptation in one command, through @floe/client's adapt(). Progress per stage
// on stderr (a bar and the stage's own numbers), one trace for the flow (a span per stage; the calls carry
// it to the services), finished stages kept in a journal beside the report so that the same command
// again resumes, and the report (HTML with its plots, and the JSON behind it) written at the end.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { context, trace, SpanStatusCode, type Context, type Span } from '@opentelemetry/api';
import { commonV1 } from '@floe/contracts';
import {
  FloeClient,
  FloeApiError,
  adapt as runAdaptation,
  readableNumber,
  type AdaptEvent,
  type AdaptJournal,
  type AdaptRequest,
  type AdaptResult,
  type AdaptStage,
} from '@floe/client';
import { loadConfig } from '@floe/service-kit';
import { Attr, SpanName, tracingClientInterceptor } from '@floe/telemetry';
import { startTelemetry } from '@floe/telemetry/sdk';
import { bar, list, num, str, TABLE_OPTIONS, type Command } from '../args.js';
import { LiveLine } from '../progress.js';
import { modelRef } from './profile.js';
import { writeReport } from '../report.js';
import { summaryOf } from './summaries.js';

/** The demo: a tiny transformer learns e-mails, then adapts to TypeScript declarations. */
export const DEMO = {
  model: 'transformer-lm/tiny',
  reference: 'builtin:spam-assassin',
  data: 'builtin:typescript-lib',
  pretrainSteps: 300,
  steps: 150,
  sequenceLength: 64,
} as const;

/** Finished stages as a JSON file: the same command again reuses them. */
function fileJournal(path: string): AdaptJournal {
  const state: Record<string, unknown> = existsSync(path) ? JSON.parse(readFileSync(path, 'utf8')) : {};
  return {
    get: (stage) => state[stage],
    set: (stage, value) => {
      state[stage] = value;
      // Written aside and renamed into place: a kill mid-write leaves the previous journal whole.
      writeFileSync(`${path}.tmp`, JSON.stringify(state));
      renameSync(`${path}.tmp`, path);
    },
  };
}

export const adaptCommand: Command = {
  name: 'adapt',
  summary: summaryOf('adapt'),
  usage: [
    'floe adapt --model M --data NEW --reference OLD [--steps 300] [--tune 1] [--id ID] [--out DIR]',
    '           [--batch 16] [--seq 128] [--seed 1] [--eval-samples 256] [--no-explain] [--json]',
    'floe adapt --demo [--steps 150] [--pretrain-steps 300]',
    '',
    '  --model run:ID | artifact:ID | ARCH/SIZE[:seed]   the model to adapt',
    '  --data, --reference   the new and the old domain (builtin:… or file:…)',
    '  --target COLUMN       tables: the column to learn (default: the one named label or target, else the last)',
    '  --ignore A,B          tables: columns to leave out (a key that repeats, a column that leaks the target)',
    "  --steps               the final run's steps; --tune: steps of the trials at other learning rates than",
    "                        the plan's, as a fraction of them (default 1; 0: no tuning)",
    '  --id                  the adaptation id (default: derived from the inputs); the same id resumes',
    '  --out                 where the report and the journal go (default $FLOE_HOME/adapt/ID)',
    '  --demo                a tiny transformer trained on e-mails adapts to TypeScript declarations',
    '',
    "--json prints {report, report_json, task, metric, stages, base, adapted} (each domain's score) on stdout.",
  ].join('\n'),
  options: {
    model: { type: 'string' },
    data: { type: 'string' },
    reference: { type: 'string' },
    ...TABLE_OPTIONS,
    steps: { type: 'string' },
    'pretrain-steps': { type: 'string' },
    tune: { type: 'string' },
    id: { type: 'string' },
    out: { type: 'string' },
    batch: { type: 'string' },
    seq: { type: 'string' },
    seed: { type: 'string' },
    'eval-samples': { type: 'string' },
    'no-explain': { type: 'boolean', default: false },
    demo: { type: 'boolean', default: false },
  },
  async run(args) {
    const config = loadConfig();
    const demo = args.values.demo === true;
    const reference = str(args, 'reference', demo ? DEMO.reference : '');
    const data = str(args, 'data', demo ? DEMO.data : '');
    const modelArg = str(args, 'model', demo ? DEMO.model : '');
    if (!reference || !data || !modelArg) {
      process.stderr.write(`floe adapt: --model, --data and --reference are required (or --demo)\n\n${this.usage}\n`);
      return 2;
    }
    let model: commonV1.ModelRef;
    try {
      model = modelRef(modelArg);
    } catch (err) {
      process.stderr.write(`floe adapt: ${(err as Error).message}\n`);
      return 2;
    }
    const steps = num(args, 'steps', demo ? DEMO.steps : 300);
    const builtin = model.source?.$case === 'builtin' ? model.source.value : undefined;
    const request: AdaptRequest = {
      id: '',
      model: builtin ? undefined : model,
      // A builtin architecture is untrained: the flow first trains it on the old domain (the demo does).
      pretrain: builtin
        ? {
            architecture: builtin.architecture,
            size: builtin.size,
            steps: num(args, 'pretrain-steps', DEMO.pretrainSteps),
          }
        : undefined,
      data,
      reference,
      ...(str(args, 'target') && { targetColumn: str(args, 'target') }),
      ...(list(args, 'ignore').length > 0 && { ignoreColumns: list(args, 'ignore') }),
      budgetSteps: steps,
      batchSize: num(args, 'batch', 16),
      sequenceLength: num(args, 'seq', demo ? DEMO.sequenceLength : 128),
      seed: num(args, 'seed', 1),
      tuneFraction: num(args, 'tune', 1),
      evalSamples: num(args, 'eval-samples', demo ? 128 : 256),
      explain: args.values['no-explain'] !== true,
    };
    for (const [flag, v] of [
      ['--steps', request.budgetSteps],
      ['--batch', request.batchSize],
      ['--seq', request.sequenceLength],
      ['--eval-samples', request.evalSamples],
    ] as const)
      if (!Number.isInteger(v) || v! < 1) {
        process.stderr.write(`floe adapt: ${flag} must be a positive integer\n`);
        return 2;
      }
    request.id =
      str(args, 'id') ||
      `${demo ? 'demo' : 'adapt'}-${createHash('sha256')
        .update(JSON.stringify({ ...request, id: '' }))
        .digest('hex')
        .slice(0, 12)}`;
    const out = resolve(str(args, 'out') || join(config.home, 'adapt', request.id));
    mkdirSync(out, { recursive: true });

    // Spans go over OTLP when an endpoint is configured; otherwise they are only kept in memory, which still
    // gives the flow a real trace id (the report names it, the services' logs carry it).
    const otlp = !!(process.env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ?? process.env.OTEL_EXPORTER_OTLP_ENDPOINT);
    const telemetry = startTelemetry({ serviceName: 'floe-cli', exporter: otlp ? 'otlp' : 'memory' });
    const security = config.security;
    const client = new FloeClient({
      address: str(args, 'address') || config.address,
      addresses: config.peers,
      tls: security.ca ? { ca: security.ca, cert: security.tls?.cert, key: security.tls?.key } : undefined,
      token: security.token,
      interceptors: [tracingClientInterceptor],
    });
    const tracer = trace.getTracer('floe-cli');
    const root = tracer.startSpan(SpanName.adapt, { attributes: { [Attr.adaptationId]: request.id } });
    const rootCtx = trace.setSpan(context.active(), root);
    const controller = new AbortController();
    const onSignal = () => controller.abort();
    process.once('SIGINT', onSignal);
    let stageSpan: { span: Span; ctx: Context } | undefined;
    let currentStage: AdaptStage | undefined;
    const line = new LiveLine(110);
    const it = runAdaptation(client, request, {
      journal: fileJournal(join(out, 'journal.json')),
      signal: controller.signal,
    });
    if (!args.json) process.stderr.write(`floe adapt ${request.id}: ${reference} → ${data}\n`);
    let result: AdaptResult;
    try {
      for (;;) {
        // Each step of the flow runs in its stage's span, so its calls join the one trace.
        const next = await context.with(stageSpan?.ctx ?? rootCtx, () => it.next());
        if (next.done) {
          result = next.value;
          break;
        }
        const e: AdaptEvent = next.value;
        // --json: stage events as JSON lines on stderr (stdout keeps the one summary).
        if (args.json && e.type === 'stage') process.stderr.write(JSON.stringify(e) + '\n');
        if (e.type === 'stage' && e.status === 'started') {
          currentStage = e.stage;
          const span = tracer.startSpan(SpanName.adaptStage, { attributes: { [Attr.adaptStage]: e.stage } }, rootCtx);
          stageSpan = { span, ctx: trace.setSpan(rootCtx, span) };
          if (!args.json) line.update(`  ${e.stage.padEnd(9)} …`, e.stage);
        } else if (e.type === 'stage') {
          stageSpan?.span.end();
          stageSpan = undefined;
          if (!args.json)
            line.settle(
              `  ${e.stage.padEnd(9)} ${e.status.padEnd(7)} ${e.seconds ? `${e.seconds.toFixed(1)} s  ` : ''}${e.summary}`,
            );
        } else if (!args.json) {
          const fraction = e.total ? e.done / e.total : 0;
          line.update(
            `  ${e.stage.padEnd(9)} ${e.total ? bar(fraction, 1, 20) : ''} ${e.message}`.slice(0, 110),
            e.stage,
          );
        }
      }
    } catch (err) {
      stageSpan?.span.setStatus({ code: SpanStatusCode.ERROR, message: String(err) }).end();
      root.setStatus({ code: SpanStatusCode.ERROR, message: String(err) }).end();
      client.close();
      await telemetry.shutdown();
      process.removeListener('SIGINT', onSignal);
      const message =
        err instanceof FloeApiError
          ? `${err.message}${err.violations.map((v) => `\n  ${v.field}: ${v.description}`).join('')}`
          : (err as Error).message;
      process.stderr.write(
        `\nfloe adapt: ${controller.signal.aborted ? 'stopped' : 'failed'} in ${currentStage ?? 'setup'}: ${message}\n` +
          `the same command resumes (finished stages are kept in ${join(out, 'journal.json')})\n`,
      );
      return controller.signal.aborted ? 130 : 1;
    }
    root.end();
    const traceId = root.spanContext().traceId;
    client.close();
    await telemetry.shutdown();
    process.removeListener('SIGINT', onSignal);

    const { html, json } = await writeReport(result, out, traceId);
    const domain = (d: 'new' | 'old') => result.evaluation?.domains.find((x) => x.domain === d);
    const metric = result.evaluation?.metric;
    // Each domain's score in the evaluation's metric; under the *_bpb keys too when it is bits per byte.
    const scores = (side: 'base' | 'adapted') => ({
      new_score: domain('new')?.[side],
      old_score: domain('old')?.[side],
      ...(metric === 'bits_per_byte' && { new_bpb: domain('new')?.[side], old_bpb: domain('old')?.[side] }),
    });
    const summary = {
      report: html,
      report_json: json,
      task: result.task,
      metric,
      stages: result.stages.map((s) => ({ stage: s.stage, status: s.status, seconds: s.seconds, summary: s.summary })),
      base: { model: result.base.model, ...scores('base') },
      adapted: {
        run_id: result.run?.runId,
        ...scores('adapted'),
        new_gain: domain('new')?.gain,
        new_gain_stderr: domain('new')?.gainStderr,
        forgetting: domain('old') ? -domain('old')!.gain : undefined,
        forgetting_stderr: domain('old')?.gainStderr,
      },
      trace_id: traceId,
    };
    if (args.json) process.stdout.write(JSON.stringify(summary) + '\n');
    else {
      const n = domain('new');
      const o = domain('old');
      const unit = metric === 'bits_per_byte' ? 'bits/byte' : metric;
      if (n && o)
        process.stdout.write(
          `new domain: ${readableNumber(n.base)} → ${readableNumber(n.adapted)} ${unit} (gain ${readableNumber(n.gain)} ± ${readableNumber(n.gainStderr)})\n` +
            `old domain: ${readableNumber(o.base)} → ${readableNumber(o.adapted)} ${unit} (forgetting ${readableNumber(-o.gain)} ± ${readableNumber(o.gainStderr)})\n`,
        );
      process.stdout.write(`report: ${html}\n`);
    }
    return 0;
  },
};
