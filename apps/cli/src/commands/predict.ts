// floe predict — a trained model's predictions for the rows of a table, as CSV (the evaluator's Predict).
import { createWriteStream, type WriteStream } from 'node:fs';
import { evaluatorV1 as ev } from '@floe/contracts';
import { createClient, loadConfig } from '@floe/service-kit';
import { num, str, type Command } from '../args.js';
import { csvLine } from '../csv.js';
import { drawProgress } from '../progress.js';
import { datasetRef, modelRef } from './profile.js';
import { summaryOf } from './summaries.js';

/** Whether the model reads images (it reads no columns). */
const images = (h: ev.PredictionHeader) => h.columnsRead.length === 0;

/** The CSV's columns for what the header says follows. */
function csvHeader(h: ev.PredictionHeader, idColumn: string): string[] {
  // Images come with their paths.
  const id = idColumn ? [idColumn] : images(h) ? ['file'] : [];
  if (h.taskKind === ev.TaskKind.TASK_KIND_CLASSIFICATION) {
    const target = h.targetNames[0] ?? 'class';
    return ['row', ...id, `predicted_${target}`, ...h.classNames.map((c) => `p_${c}`)];
  }
  return ['row', ...id, ...h.outputNames.map((n) => `predicted_${n}`)];
}

function csvRow(p: ev.Prediction, withId: boolean, classification: boolean): unknown[] {
  const id = withId ? [p.id] : [];
  return classification
    ? [p.row, ...id, p.predictedClass, ...p.probabilities.map((v) => Number(v.toPrecision(6)))]
    : [p.row, ...id, ...p.values.map((v) => Number(v.toPrecision(7)))];
}

/** What the table did not tell the model, in words; empty when nothing. */
function gaps(h: ev.PredictionHeader): string[] {
  const rows = (n: number | bigint) => `${n} row${Number(n) === 1 ? '' : 's'}`;
  return [
    ...Object.entries(h.unknownCategories).map(
      ([c, n]) => `${c}: ${rows(n)} with a value the model never saw (read as missing)`,
    ),
    ...Object.entries(h.missingValues).map(([c, n]) => `${c}: ${rows(n)} missing`),
  ];
}

/** --rows: a JSON object or an array of them (column → value). */
function parseRows(text: string): Record<string, unknown>[] {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new Error('--rows: not JSON (an object, or an array of objects, of column → value)');
  }
  const rows = Array.isArray(value) ? value : [value];
  if (!rows.every((r) => typeof r === 'object' && r !== null && !Array.isArray(r)))
    throw new Error('--rows: each row is an object of column → value');
  return rows as Record<string, unknown>[];
}

/** Writes `text` to `out`, waiting when its buffer is full (a large table's rows must not pile up in memory). */
const write = (out: NodeJS.WritableStream, text: string) =>
  out.write(text) ? Promise.resolve() : new Promise<void>((resolve) => out.once('drain', resolve));

export const predict: Command = {
  name: 'predict',
  summary: summaryOf('predict'),
  usage: [
    'floe predict --model run:RUN_ID[@step|@best]|artifact:ID --data file:new.csv[@split] [--id-column COLUMN]',
    '             [--out predictions.csv] [--limit N] [--batch 256]',
    'floe predict --model MODEL --rows \'[{"colour":"red","size":1.5}, …]\'   (rows sent with the request)',
    '',
    "A classification or regression model's predictions for every row of a table (CSV, TSV, JSON lines,",
    'Parquet) or every image of a folder; rows need no target (columns the model does not read are ignored),',
    "images no class folders. Writes CSV — the row's position, the --id-column (to join on; for images the",
    "image's path), the predicted class and each class's probability, or the predicted values — to --out, or to",
    'stdout. @split picks the rows a training run put in that split; --limit caps the rows. --json prints what',
    'the model read and, without --out, the predictions.',
  ].join('\n'),
  options: {
    model: { type: 'string' },
    data: { type: 'string' },
    'id-column': { type: 'string' },
    out: { type: 'string' },
    limit: { type: 'string' },
    batch: { type: 'string' },
    rows: { type: 'string' },
  },
  async run(args) {
    const address = str(args, 'address') || loadConfig().address;
    const client = createClient(ev.EvaluatorServiceClient, address, {}, loadConfig().security);
    const idColumn = str(args, 'id-column');
    const outPath = str(args, 'out');
    let file: WriteStream | undefined;
    try {
      const rows = str(args, 'rows') ? parseRows(str(args, 'rows')) : [];
      const dataset = rows.length ? undefined : datasetRef(str(args, 'data'), '--data');
      if (dataset) dataset.maxExamples = num(args, 'limit', 0);
      const stream = client.predict({
        model: modelRef(str(args, 'model')),
        dataset,
        idColumn,
        batchSize: num(args, 'batch', 0),
        rows,
      });
      if (outPath) file = createWriteStream(outPath);
      // CSV goes to the file, or to stdout unless --json asked for one JSON document.
      const csv = file ?? (args.json ? undefined : process.stdout);
      const showBar = Boolean(file) && !args.json;
      let header: ev.PredictionHeader | undefined;
      const kept: ev.Prediction[] = [];
      let written = 0;
      let withId = false;
      for await (const m of stream as AsyncIterable<ev.PredictResponse>) {
        const e = m.event;
        if (e?.$case === 'header') {
          header = e.value;
          withId = Boolean(idColumn) || images(header);
          if (csv) await write(csv, csvLine(csvHeader(header, idColumn)));
        } else if (e?.$case === 'batch') {
          const classification = header!.taskKind === ev.TaskKind.TASK_KIND_CLASSIFICATION;
          if (csv)
            await write(csv, e.value.predictions.map((p) => csvLine(csvRow(p, withId, classification))).join(''));
          else kept.push(...e.value.predictions);
          written += e.value.predictions.length;
        } else if (e?.$case === 'progress' && showBar) drawProgress(e.value);
      }
      if (file)
        await new Promise<void>((resolve, reject) =>
          file!.end((err?: Error | null) => (err ? reject(err) : resolve())),
        );
      if (showBar) process.stderr.write('\n');
      if (!header) throw new Error('the stream ended without a header');
      if (args.json) {
        process.stdout.write(
          JSON.stringify(
            {
              header: ev.PredictionHeader.toJSON(header),
              rows: written,
              ...(outPath ? { out: outPath } : { predictions: kept.map((p) => ev.Prediction.toJSON(p)) }),
            },
            null,
            2,
          ) + '\n',
        );
      } else {
        // The summary goes where it does not mix with the CSV.
        const notes = [
          images(header)
            ? `${written} image${written === 1 ? '' : 's'} predicted${outPath ? ` → ${outPath}` : ''}`
            : `${written} row${written === 1 ? '' : 's'} predicted${outPath ? ` → ${outPath}` : ''}; the model read ${header.columnsRead.join(', ')}${header.columnsIgnored.length ? `; ignored ${header.columnsIgnored.join(', ')}` : ''}`,
          ...gaps(header),
        ];
        (outPath ? process.stdout : process.stderr).write(notes.join('\n') + '\n');
      }
      return 0;
    } catch (err) {
      file?.destroy();
      const e = err as { details?: string; message: string };
      process.stderr.write(`floe predict: ${e.details ?? e.message}\n`);
      return 1;
    } finally {
      client.close();
    }
  },
};
