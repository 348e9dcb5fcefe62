// The surrogate's resident worker (the house rule: TF.js work never runs on the server's event loop): it
// loads the trained PFN once, then answers decisions and curve predictions in turn. Every rule's decision
// runs here, so a study's bookkeeping has one path whatever its rule.
import { workerData } from 'node:worker_threads';
import { initBackend } from '@floe/ml-runtime';
import type { BackendChoice } from '@floe/ml-runtime/choices';
import { Rng } from '@floe/random';
import {
  Ifbo,
  createOptimizer,
  loadPfn,
  needsSurrogate,
  type CurvePfn,
  type CurveQueryPoint,
  type Decision,
  type OptimizerName,
  type PointPrediction,
  type TrialCurve,
} from '@floe/surrogate';
import { serveRequests } from '@floe/training';

export interface SurrogateTaskData {
  backend: BackendChoice;
  threads: number;
}

export type SurrogateRequest =
  | {
      kind: 'decide';
      optimizer: OptimizerName;
      /** The rule's saved bookkeeping (stateful rules), undefined at the first decision. */
      state?: unknown;
      trials: TrialCurve[];
      maxFidelity: number;
      budgetLeft: number;
      newCandidates: number[][];
      randomCandidates: number;
      seed: number;
      /** The objective's bound on the "lower is better" scale, when known (ifBO's CurveScale lo). */
      scaleFloor?: number;
    }
  | {
      kind: 'predict';
      trials: TrialCurve[];
      maxFidelity: number;
      queries: CurveQueryPoint[];
      seed: number;
      threshold?: number;
      scaleFloor?: number;
    };

export type SurrogateReply =
  | { kind: 'decide'; decision: Decision; state?: unknown; contextSize: number }
  | { kind: 'predict'; predictions: PointPrediction[]; contextSize: number };

const job = (workerData as { job: SurrogateTaskData }).job;
await initBackend(job.backend, { threads: job.threads });
let pfn: CurvePfn | undefined;
const surrogate = () => (pfn ??= loadPfn().model);

serveRequests<SurrogateRequest, SurrogateReply>((req) => {
  if (req.kind === 'predict') {
    const ifbo = new Ifbo(surrogate(), { anchors: { lo: req.scaleFloor } });
    const predictions = ifbo.predict(req.trials, req.maxFidelity, req.queries, req.seed, req.threshold);
    return { kind: 'predict', predictions, contextSize: ifbo.lastContextSize };
  }
  const optimizer = createOptimizer(req.optimizer, needsSurrogate(req.optimizer) ? surrogate() : undefined, {
    anchors: { lo: req.scaleFloor },
  });
  if (req.state !== undefined) optimizer.loadState?.(req.state);
  const decision = optimizer.decide({
    trials: req.trials,
    maxFidelity: req.maxFidelity,
    budgetLeft: req.budgetLeft,
    newCandidates: req.newCandidates,
    randomCandidates: req.randomCandidates,
    rng: new Rng(req.seed),
  });
  const contextSize = optimizer instanceof Ifbo ? optimizer.lastContextSize : 0;
  return { kind: 'decide', decision, state: optimizer.saveState?.(), contextSize };
});
