// The report of `floe adapt`: one self-contained HTML file (every plot an inline SVG rendered by Vega-Lite,
// the library the explainer uses; no script, no network) and the JSON behind it. Sections: drift, the plan
// with its reasons, the map of blocks, the tuning trials' curves with the incumbent, the final run's
// curves, gains and forgetting with standard errors, the explanation shift, and the stages as a waterfall.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readableNumber, type AdaptResult } from '@floe/client';
import type { TopLevelSpec } from '@floe/plots';

/** Vega, loaded when a report is written (not with every `floe` call). */
const renderSvg = async (spec: TopLevelSpec): Promise<string> => (await import('@floe/plots')).renderSvg(spec);

/** The sections, in order: id, title. A test checks that each rendered with its plot. */
export const REPORT_SECTIONS = [
  ['drift', 'What changed in the data'],
  ['plan', 'The plan and its reasons'],
  ['blocks', 'The blocks: frozen, tuned, expanded'],
  ['tuning', 'Tuning: every trial and the incumbent'],
  ['run', 'The final run'],
  ['evaluation', 'Gains and forgetting'],
  ['explanation', 'What the model looks at now'],
  ['trace', 'The stages'],
] as const;

const escape = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
// Three decimals by default, significant digits where those would hide the value (readableNumber).
const fixed = (x: number | undefined, digits?: number) =>
  x === undefined || !Number.isFinite(x) ? '–' : digits === undefined ? readableNumber(x) : x.toFixed(digits);

const WIDTH = 560;
const spec = (s: Record<string, unknown>): TopLevelSpec => ({ width: WIDTH, height: 220, ...s }) as TopLevelSpec;

interface PlanJson {
  freezeBlockIds?: string[];
  tuneBlockIds?: string[];
  expansions?: { afterBlockId: string; copies?: number }[];
  replayFraction?: number;
  learningRate?: number;
  budgetSteps?: number;
  decisions?: { blockId: string; action: string; reason: string; score?: number }[];
}

/** Writes report.html and report.json into `dir`; answers their paths. */
export async function writeReport(
  result: AdaptResult,
  dir: string,
  traceId: string,
): Promise<{ html: string; json: string }> {
  const sections: Record<string, { body: string; plot?: string; note?: string }> = {};
  const plan = (result.plan ?? {}) as PlanJson;
  const unit = result.lossUnit;

  // Drift: PSI per feature, coloured by verdict.
  if (result.drift) {
    const d = result.drift;
    sections.drift = {
      body:
        `<p>Verdict <b>${escape(d.verdict)}</b>, overall PSI ${fixed(d.overallPsi)} (${escape(result.reference)} → ${escape(result.data)}).` +
        (d.onlyInReference?.length ? ` Columns only in the old data: ${escape(d.onlyInReference.join(', '))}.` : '') +
        (d.onlyInCurrent?.length ? ` Columns only in the new data: ${escape(d.onlyInCurrent.join(', '))}.` : '') +
        `</p>`,
      plot: await renderSvg(
        spec({
          data: { values: d.features.slice(0, 20) },
          mark: 'bar',
          encoding: {
            y: { field: 'feature', type: 'nominal', sort: '-x', title: null },
            x: { field: 'psi', type: 'quantitative', title: 'population stability index' },
            color: { field: 'verdict', type: 'nominal' },
          },
        }),
      ),
    };
  }

  // The plan and a map of its blocks.
  const decisions = plan.decisions ?? [];
  if (decisions.length) {
    sections.plan = {
      body:
        `<p>Replay ${fixed(plan.replayFraction, 3)} of each batch from the old domain, learning rate ${plan.learningRate}, ` +
        `expansions after ${escape((plan.expansions ?? []).map((e) => e.afterBlockId).join(', ') || 'none')}.</p>` +
        `<table><tr><th>block</th><th>action</th><th>score</th><th>reason</th></tr>${decisions
          .map(
            (x) =>
              `<tr><td>${escape(x.blockId)}</td><td>${escape(x.action.replace(/^BLOCK_ACTION_/, '').toLowerCase())}</td><td>${fixed(x.score, 4)}</td><td>${escape(x.reason)}</td></tr>`,
          )
          .join('')}</table>`,
      plot: await renderSvg(
        spec({
          height: 60,
          data: {
            values: decisions.map((x, i) => ({
              block: x.blockId,
              order: i,
              action: x.action.replace(/^BLOCK_ACTION_/, '').toLowerCase(),
              score: x.score ?? 0,
            })),
          },
          mark: { type: 'bar' },
          encoding: {
            x: { field: 'block', type: 'nominal', sort: { field: 'order' }, title: 'block (input → output)' },
            y: { field: 'score', type: 'quantitative', title: 'score' },
            color: { field: 'action', type: 'nominal', title: 'action' },
          },
        }),
      ),
    };
    const copies = new Map((plan.expansions ?? []).map((e) => [e.afterBlockId, Math.max(1, e.copies ?? 1)]));
    const cells = decisions.flatMap((x, i) => {
      const action = x.action.replace(/^BLOCK_ACTION_/, '').toLowerCase();
      const state = (plan.freezeBlockIds ?? []).includes(x.blockId)
        ? 'frozen'
        : (plan.tuneBlockIds ?? []).includes(x.blockId)
          ? 'tuned'
          : action === 'expand'
            ? 'frozen'
            : action;
      const original = { block: x.blockId, position: i * 2, state, kind: 'original' };
      const added = Array.from({ length: copies.get(x.blockId) ?? 0 }, (_, k) => ({
        block: `${x.blockId} copy ${k + 1}`,
        position: i * 2 + 1,
        state: 'expanded (new)',
        kind: 'copy',
      }));
      return [original, ...added];
    });
    sections.blocks = {
      body: '<p>Left to right, input to output; a copy is inserted after the block it was made from.</p>',
      plot: await renderSvg(
        spec({
          height: 80,
          data: { values: cells },
          mark: { type: 'rect', stroke: 'white', strokeWidth: 2 },
          encoding: {
            x: { field: 'block', type: 'nominal', sort: { field: 'position' }, title: null },
            color: {
              field: 'state',
              type: 'nominal',
              scale: {
                domain: ['frozen', 'tuned', 'expanded (new)'],
                range: ['#9ca3af', '#2563eb', '#16a34a'],
              },
            },
          },
        }),
      ),
    };
  }

  // Tuning: each trial's curve; the incumbent thick.
  if (result.tuning) {
    const t = result.tuning;
    const values = t.trials.flatMap((trial) =>
      trial.curve.map((p) => ({
        step: p.step,
        bpb: p.value,
        trial: `${trial.trialId} (lr ${trial.learningRate.toPrecision(3)})`,
        incumbent: trial.trialId === t.incumbent.trialId,
      })),
    );
    sections.tuning = {
      body: `<p>Freeze-thaw over the learning rate (study ${escape(t.studyId)}): ${t.trials.length} trials, each the exact prefix of the final run; the incumbent (thick) is ${escape(t.incumbent.trialId)} at learning rate ${t.incumbent.learningRate.toPrecision(3)}, and the final run continues it.</p>`,
      plot: await renderSvg(
        spec({
          data: { values },
          mark: { type: 'line', point: true },
          encoding: {
            x: { field: 'step', type: 'quantitative' },
            y: {
              field: 'bpb',
              type: 'quantitative',
              title: `new-domain validation (${unit})`,
              scale: { zero: false },
            },
            color: { field: 'trial', type: 'nominal' },
            strokeWidth: { condition: { test: 'datum.incumbent', value: 4 }, value: 1.5 },
          },
        }),
      ),
    };
  }

  // The final run.
  if (result.run) {
    const r = result.run;
    const values = [
      ...r.trainLoss.map((p) => ({ step: p.step, bpb: p.value, curve: 'train (new + replay)' })),
      ...r.validationLoss.map((p) => ({ step: p.step, bpb: p.value, curve: 'new domain, validation' })),
      ...r.referenceValidationLoss.map((p) => ({ step: p.step, bpb: p.value, curve: 'old domain, validation' })),
    ];
    sections.run = {
      body: `<p>Run ${escape(r.runId)}: ${r.trainLoss.at(-1)?.step ?? 0} steps.</p>`,
      plot: await renderSvg(
        spec({
          data: { values },
          mark: { type: 'line' },
          encoding: {
            x: { field: 'step', type: 'quantitative' },
            y: { field: 'bpb', type: 'quantitative', title: `loss (${unit})`, scale: { zero: false } },
            color: { field: 'curve', type: 'nominal' },
          },
        }),
      ),
    };
  }

  // Gains and forgetting with standard errors.
  if (result.evaluation) {
    const e = result.evaluation;
    const rows = e.domains.map(
      (d) =>
        `<tr><td>${d.domain === 'new' ? 'new' : 'old'} (${escape(d.suite)})</td><td>${fixed(d.base)}</td><td>${fixed(d.adapted)}</td><td>${fixed(d.gain)} ± ${fixed(d.gainStderr)}</td></tr>`,
    );
    const values = e.domains.flatMap((d) => [
      { domain: `${d.domain} domain`, model: 'base', bpb: d.base, low: d.base, high: d.base },
      {
        domain: `${d.domain} domain`,
        model: 'adapted',
        bpb: d.adapted,
        low: d.adapted - 2 * d.gainStderr,
        high: d.adapted + 2 * d.gainStderr,
      },
    ]);
    const newD = e.domains.find((d) => d.domain === 'new');
    const oldD = e.domains.find((d) => d.domain === 'old');
    sections.evaluation = {
      body:
        `<p>Held-out test splits, ${escape(e.metric)} (${e.higherIsBetter ? 'higher' : 'lower'} is better); gains are the improvement (${e.higherIsBetter ? 'adapted − base' : 'base − adapted'}), paired over the same examples, ± one bootstrap standard error. ` +
        (newD && oldD
          ? `The adapted model is <b>${newD.gain > 0 ? 'better' : 'worse'}</b> on the new domain by ${fixed(Math.abs(newD.gain))} ± ${fixed(newD.gainStderr)} and forgot ${fixed(-oldD.gain)} ± ${fixed(oldD.gainStderr)} on the old.`
          : '') +
        `</p><table><tr><th>domain</th><th>base</th><th>adapted</th><th>gain ± s.e.</th></tr>${rows.join('')}</table>`,
      plot: await renderSvg(
        spec({
          data: { values },
          layer: [
            {
              mark: 'bar',
              encoding: {
                x: { field: 'domain', type: 'nominal', title: null },
                xOffset: { field: 'model', type: 'nominal' },
                y: {
                  field: 'bpb',
                  type: 'quantitative',
                  title: e.metric === 'bits_per_byte' ? 'bits per byte' : e.metric,
                },
                color: { field: 'model', type: 'nominal' },
              },
            },
            {
              mark: { type: 'rule', color: 'black' },
              encoding: {
                x: { field: 'domain', type: 'nominal' },
                xOffset: { field: 'model', type: 'nominal' },
                y: { field: 'low', type: 'quantitative' },
                y2: { field: 'high' },
              },
            },
          ],
        }),
      ),
    };
  }

  // The explanation shift.
  if (result.explanation) {
    const x = result.explanation;
    const shifts = [...x.shifts]
      .sort((a, b) => Math.abs(b.after - b.before) - Math.abs(a.after - a.before))
      .slice(0, 12);
    sections.explanation = {
      body:
        `<p>Attributions on the new domain before and after (rank correlation ${fixed(x.rankCorrelation)}); ` +
        `gained importance: ${escape(x.gained.join(', ') || 'none')}; lost: ${escape(x.lost.join(', ') || 'none')}.</p>` +
        x.plots.map((p) => `<figure class="plot">${p.svg}<figcaption>${escape(p.name)}</figcaption></figure>`).join(''),
      plot: await renderSvg(
        spec({
          data: {
            values: shifts.flatMap((s) => [
              { feature: s.feature, model: 'base', importance: s.before },
              { feature: s.feature, model: 'adapted', importance: s.after },
            ]),
          },
          mark: 'bar',
          encoding: {
            y: { field: 'feature', type: 'nominal', title: null },
            yOffset: { field: 'model', type: 'nominal' },
            x: { field: 'importance', type: 'quantitative', title: 'mean |attribution|' },
            color: { field: 'model', type: 'nominal' },
          },
        }),
      ),
    };
  }

  // The stages as a waterfall (the trace's shape; its id for the tracing backend).
  const t0 = Math.min(...result.stages.map((s) => s.startedAt));
  sections.trace = {
    body: `<p>Trace ${escape(traceId)}: one span per stage under <code>floe.adapt</code>; the services' spans join it. Reused stages were finished by an earlier attempt.</p>`,
    plot: await renderSvg(
      spec({
        height: 30 * Math.max(1, result.stages.length),
        data: {
          values: result.stages.map((s) => ({
            stage: s.stage,
            start: (s.startedAt - t0) / 1000,
            end: (s.startedAt - t0) / 1000 + Math.max(s.seconds, 0.05),
            status: s.status,
          })),
        },
        mark: 'bar',
        encoding: {
          y: { field: 'stage', type: 'nominal', sort: null, title: null },
          x: { field: 'start', type: 'quantitative', title: 'seconds since the start' },
          x2: { field: 'end' },
          color: { field: 'status', type: 'nominal' },
        },
      }),
    ),
  };

  const body = REPORT_SECTIONS.map(([id, title]) => {
    const s = sections[id];
    const content = s
      ? `${s.body}${s.plot ? `<figure class="plot main">${s.plot}</figure>` : ''}`
      : `<p class="skipped">Not run (${escape(result.stages.find((x) => x.stage === id)?.summary ?? 'stage skipped')}).</p>`;
    return `<section id="${id}"><h2>${escape(title)}</h2>${content}</section>`;
  }).join('\n');
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>floe adapt ${escape(result.id)}</title>
<style>
body{font:14px/1.5 system-ui,sans-serif;max-width:980px;margin:2em auto;padding:0 1em;color:#111}
h1{font-size:1.5em}h2{font-size:1.15em;border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ddd;padding:.2em .5em;text-align:left;vertical-align:top}
figure{margin:.5em 0}figure svg{max-width:100%;height:auto}.skipped{color:#888}
</style></head><body>
<h1>floe adapt ${escape(result.id)}</h1>
<p>${escape(result.reference)} → ${escape(result.data)}; stages: ${result.stages.map((s) => `${escape(s.stage)} ${escape(s.status)}`).join(', ')}.</p>
${body}
</body></html>
`;
  const htmlPath = join(dir, 'report.html');
  const jsonPath = join(dir, 'report.json');
  writeFileSync(htmlPath, html);
  writeFileSync(jsonPath, JSON.stringify({ ...result, traceId }, null, 2));
  return { html: htmlPath, json: jsonPath };
}
