// The commands by name, with the one line `floe --help` shows; each command's module is imported only when it
// runs. `floe up` loads the five services (with TensorFlow.js), and plots load Vega: imported eagerly they made
// every `floe` call take ~2.4 s to start.
import type { Command } from '../args.js';
import { SUMMARIES, type CommandName } from './summaries.js';

export interface CatalogEntry {
  name: CommandName;
  summary: string;
  load: () => Promise<Command>;
}

const entry = (name: CommandName, load: () => Promise<Command>): CatalogEntry => ({
  name,
  summary: SUMMARIES[name],
  load,
});

export const CATALOG: readonly CatalogEntry[] = [
  entry('up', async () => (await import('./up.js')).up),
  entry('health', async () => (await import('./health.js')).health),
  entry('adapt', async () => (await import('./adapt.js')).adaptCommand),
  entry('train', async () => (await import('./train.js')).train),
  entry('profile', async () => (await import('./profile.js')).profile),
  entry('drift', async () => (await import('./profile.js')).drift),
  entry('plan', async () => (await import('./profile.js')).plan),
  entry('eval', async () => (await import('./eval.js')).evaluate),
  entry('predict', async () => (await import('./predict.js')).predict),
  entry('generate', async () => (await import('./generate.js')).generate),
  entry('hpo', async () => (await import('./hpo.js')).hpoCommand),
  entry('explain', async () => (await import('./explain.js')).explainCommand),
];
