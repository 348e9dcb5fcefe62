// floe generate — a language model continues a prompt, the text printed as it is made (the evaluator's Generate).
import { evaluatorV1 as ev } from '@floe/contracts';
import { createClient, loadConfig } from '@floe/service-kit';
import { num, str, type Command } from '../args.js';
import { modelRef } from './profile.js';
import { summaryOf } from './summaries.js';

export const generate: Command = {
  name: 'generate',
  summary: summaryOf('generate'),
  usage: [
    'floe generate --model run:RUN_ID[@step|@best]|artifact:ID|transformer-lm/tiny[:seed] --prompt TEXT',
    '              [--max-bytes 256] [--greedy | --temperature 1 --top-k 0 --seed 0] [--stop "\\n",…] [--window N]',
    '  --window: bytes the model reads each step (default the longest sequence it trained on, else its context).',
    '',
    "The continuation goes to stdout as it is made (the prompt not repeated); why it stopped and the model's mean",
    'log-probability per byte to stderr. --json prints one object (text, stop reason, mean log-probability).',
  ].join('\n'),
  options: {
    model: { type: 'string' },
    prompt: { type: 'string' },
    'max-bytes': { type: 'string' },
    greedy: { type: 'boolean', default: false },
    temperature: { type: 'string' },
    'top-k': { type: 'string' },
    seed: { type: 'string' },
    stop: { type: 'string' },
    window: { type: 'string' },
  },
  async run(args) {
    const address = str(args, 'address') || loadConfig().address;
    const client = createClient(ev.EvaluatorServiceClient, address, {}, loadConfig().security);
    try {
      const stream = client.generate({
        model: modelRef(str(args, 'model')),
        prompt: str(args, 'prompt'),
        maxBytes: num(args, 'max-bytes', 0),
        greedy: args.values.greedy === true,
        temperature: num(args, 'temperature', 0),
        topK: num(args, 'top-k', 0),
        seed: num(args, 'seed', 0),
        windowBytes: num(args, 'window', 0),
        // Comma-separated, spaces kept; escapes as a shell user writes them: --stop '\n'.
        stopSequences: str(args, 'stop')
          .split(',')
          .filter((s) => s !== '')
          .map((s) => s.replace(/\\n/g, '\n').replace(/\\t/g, '\t')),
      });
      let done: ev.Generation | undefined;
      for await (const m of stream as AsyncIterable<ev.GenerateResponse>) {
        if (m.event?.$case === 'text' && !args.json) process.stdout.write(m.event.value.text);
        else if (m.event?.$case === 'generation') done = m.event.value;
      }
      if (!done) throw new Error('the stream ended without the whole text');
      const reason = ev.stopReasonToJSON(done.stopReason).replace('STOP_REASON_', '').toLowerCase();
      if (args.json)
        process.stdout.write(
          JSON.stringify({
            text: done.text,
            stopReason: reason,
            meanLogProb: done.meanLogProb,
            contextBytes: done.contextBytes,
          }) + '\n',
        );
      else
        process.stderr.write(
          `\n[${done.raw.length} bytes, stopped by ${reason.replace('_', ' ')}; mean log-probability ${done.meanLogProb.toFixed(3)} nats per byte]\n`,
        );
      return 0;
    } catch (err) {
      const e = err as { details?: string; message: string };
      process.stderr.write(`floe generate: ${e.details ?? e.message}\n`);
      return 1;
    } finally {
      client.close();
    }
  },
};
