// The rule of the house for heavy compute: TF.js work runs in a worker thread, never on a server's event
// loop (native kernels and wasm run synchronously on the calling thread). A service names a task entry
// (a TypeScript file that calls serveTask) and awaits runTask; progress flows back as messages, and a
// FloeError thrown in the worker arrives as the same kind of error, so it maps to the same gRPC code. A
// task's worker stays up a while after it answers, for the next call of the same task.
import { Worker, parentPort } from 'node:worker_threads';
import type { BackendChoice, ComputePriority } from '@floe/ml-runtime/choices';
import { floeDirs } from '@floe/store';
import { FloeError, InvalidArgumentError, type ErrorKind, type FieldViolation } from '@floe/errors';

type TaskMessage<O, P> =
  | { type: 'progress'; value: P }
  | { type: 'result'; value: O }
  | { type: 'error'; kind?: ErrorKind; message: string; violations?: FieldViolation[] };

/** What a compute task needs from the server's configuration to open models and data on its own. */
export interface ComputeEnv {
  backend: BackendChoice;
  threads: number;
  /** How the task's worker yields the CPU (FLOE_COMPUTE_PRIORITY). */
  priority: ComputePriority;
  /** How long the task's worker waits, idle, for the next call (FLOE_TASK_WORKER_IDLE_MS). */
  workerIdleMs: number;
  artifactsDir: string;
  dataRoots: string[];
  maxDatasetBytes: number;
}

/** How a service's model calls run their workers (runTask's options): its priority and idle time. */
export function taskWorkerOptions(env: ComputeEnv): { priority: ComputePriority; idleMs: number } {
  return { priority: env.priority, idleMs: env.workerIdleMs };
}

/** The compute environment from a server's configuration (FloeConfig has these fields). */
export function computeEnv(config: {
  tfBackend: BackendChoice;
  threads: number;
  computePriority: ComputePriority;
  taskWorkerIdleMs: number;
  home: string;
  dataRoots: string[];
  maxDatasetBytes: number;
}): ComputeEnv {
  return {
    backend: config.tfBackend,
    threads: config.threads,
    priority: config.computePriority,
    workerIdleMs: config.taskWorkerIdleMs,
    artifactsDir: floeDirs(config.home).artifacts,
    dataRoots: config.dataRoots,
    maxDatasetBytes: config.maxDatasetBytes,
  };
}

const bootstrap = new URL('./worker-bootstrap.mjs', import.meta.url);

/**
 * Starts a worker thread running `entry` (a file URL) with `data` as its workerData.job, its priority
 * lowered as `priority` says (compute-priority.ts).
 */
export function spawnWorker(entry: URL, data: unknown, priority: ComputePriority = 'idle'): Worker {
  return new Worker(bootstrap, { workerData: { entry: entry.href, job: data, priority } });
}

/**
 * How long a task's worker stays up, idle, for the next call of the same task when the caller does not say
 * (FLOE_TASK_WORKER_IDLE_MS). Starting one (tsx, TF.js, the kernels) costs ~0.6 s here, which a Predict of a few
 * rows (~15 ms in a warm worker) — or a test file of many calls — would otherwise pay each time.
 */
const DEFAULT_IDLE_MS = 60_000;
/** A worker retires after this many calls: whatever a task leaves behind (a tensor not disposed) stays bounded. */
const JOBS_PER_WORKER = 64;
/**
 * Idle workers kept per task: a burst of calls at once leaves this many up, not one per call (each holds TF.js and
 * what its task cached, a few hundred MB).
 */
const IDLE_WORKERS_PER_TASK = 2;

interface TaskWorker {
  worker: Worker;
  key: string;
  jobs: number;
  idleTimer?: NodeJS.Timeout;
}
const idleWorkers = new Map<string, TaskWorker[]>();

function takeIdle(key: string): TaskWorker | undefined {
  const list = idleWorkers.get(key);
  const taken = list?.pop();
  if (taken) clearTimeout(taken.idleTimer);
  return taken;
}

function dropIdle(tw: TaskWorker): void {
  const list = idleWorkers.get(tw.key);
  const i = list?.indexOf(tw) ?? -1;
  if (i >= 0) list!.splice(i, 1);
  clearTimeout(tw.idleTimer);
}

/** A worker for `entry` at `priority`: an idle one of its kind when `reuse`, else a new one. */
function acquireTaskWorker(entry: URL, priority: ComputePriority, reuse: boolean): TaskWorker {
  const key = `${priority} ${entry.href}`;
  const idle = reuse ? takeIdle(key) : undefined;
  if (idle) {
    idle.worker.ref();
    return idle;
  }
  const tw: TaskWorker = { worker: spawnWorker(entry, undefined, priority), key, jobs: 0 };
  // A worker that dies while idle leaves the pool; one that dies in a call fails that call (runTask).
  tw.worker.on('exit', () => dropIdle(tw));
  tw.worker.on('error', () => dropIdle(tw));
  return tw;
}

/** Back to the pool after a call that answered; it exits after `wait` ms without another. */
function releaseTaskWorker(tw: TaskWorker, wait: number): void {
  const list = idleWorkers.get(tw.key) ?? [];
  if (tw.jobs >= JOBS_PER_WORKER || wait === 0 || list.length >= IDLE_WORKERS_PER_TASK) {
    void tw.worker.terminate();
    return;
  }
  tw.worker.unref();
  tw.idleTimer = setTimeout(() => {
    dropIdle(tw);
    void tw.worker.terminate();
  }, wait);
  tw.idleTimer.unref();
  list.push(tw);
  idleWorkers.set(tw.key, list);
}

/**
 * Ends every idle task worker now (tests that need fresh workers). A process need not call it to exit: idle
 * workers do not hold it up.
 */
export async function closeIdleTaskWorkers(): Promise<void> {
  const all = [...idleWorkers.values()].flat();
  idleWorkers.clear();
  await Promise.all(all.map((tw) => (clearTimeout(tw.idleTimer), tw.worker.terminate())));
}

/**
 * Runs the task at `entry` on `input` in a worker thread — an idle one left by an earlier call of the same
 * task, else a new one; aborting `signal` terminates it. Calls never share a worker at the same time.
 */
export function runTask<I, O, P = unknown>(
  entry: URL,
  input: I,
  opts: {
    /**
     * Each progress message; a promise it returns holds the worker back (its `caughtUp`) until it settles, so
     * a consumer slower than the task — a client reading predictions — keeps only a few messages queued.
     */
    onProgress?: (p: P) => void | Promise<void>;
    signal?: AbortSignal;
    priority?: ComputePriority;
    /** How long the worker waits, idle, for the next call once this one answers (0: it ends). */
    idleMs?: number;
  } = {},
): Promise<O> {
  return new Promise<O>((resolve, reject) => {
    if (opts.signal?.aborted)
      return reject(opts.signal.reason ?? new FloeError('cancelled', 'the caller cancelled the call'));
    const idleMs = opts.idleMs ?? DEFAULT_IDLE_MS;
    // A caller that keeps no worker idle takes none either: 0 means a worker per call.
    const tw = acquireTaskWorker(entry, opts.priority ?? 'idle', idleMs > 0);
    const { worker } = tw;
    tw.jobs++;
    let settled = false;
    // reusable: the worker answered and may serve the next call; otherwise it is ended.
    const settle = (fn: () => void, reusable: boolean) => {
      if (settled) return;
      settled = true;
      opts.signal?.removeEventListener('abort', onAbort);
      worker.off('message', onMessage);
      worker.off('error', onError);
      worker.off('exit', onExit);
      if (reusable) releaseTaskWorker(tw, idleMs);
      else void worker.terminate();
      fn();
    };
    const onAbort = () =>
      settle(() => reject(opts.signal!.reason ?? new FloeError('cancelled', 'the caller cancelled the call')), false);
    const onMessage = (m: TaskMessage<O, P>) => {
      if (m.type === 'progress') {
        // Acknowledged once handled; none after the call settles (the worker may serve another by then).
        const ack = () => {
          if (!settled) worker.postMessage({ type: 'ack' });
        };
        const handled = opts.onProgress?.(m.value);
        if (handled) handled.then(ack, ack);
        else ack();
      } else if (m.type === 'result') settle(() => resolve(m.value), true);
      else settle(() => reject(toError(m)), true);
    };
    const onError = (err: Error) => settle(() => reject(err), false);
    const onExit = (code: number) =>
      settle(
        () => reject(new Error(`the task worker (${entry.pathname}) exited with ${code} before answering`)),
        false,
      );
    opts.signal?.addEventListener('abort', onAbort);
    worker.on('message', onMessage);
    worker.on('error', onError);
    worker.on('exit', onExit);
    worker.postMessage({ type: 'job', job: input });
  });
}

/** Progress messages a task may have posted that its caller has not yet handled, before caughtUp waits. */
const PROGRESS_WINDOW = 8;

/**
 * The worker side: runs `fn` on each job the worker is sent (one at a time: runTask sends the next only
 * after the answer) and posts its progress and its result (or error). A task that streams results as
 * progress awaits `caughtUp()` between them: it resolves while fewer than PROGRESS_WINDOW are unhandled.
 */
export function serveTask<I, O, P = unknown>(
  fn: (input: I, progress: (p: P) => void, caughtUp: () => Promise<void>) => Promise<O> | O,
): void {
  const post = (m: TaskMessage<O, P>) => parentPort!.postMessage(m);
  let unhandled = 0;
  let waiting: (() => void)[] = [];
  const caughtUp = () =>
    unhandled < PROGRESS_WINDOW ? Promise.resolve() : new Promise<void>((resolve) => waiting.push(resolve));
  parentPort!.on('message', (m: { type: 'job'; job: I } | { type: 'ack' }) => {
    if (m?.type === 'ack') {
      unhandled = Math.max(0, unhandled - 1);
      if (unhandled < PROGRESS_WINDOW) for (const resolve of waiting.splice(0)) resolve();
      return;
    }
    if (m?.type !== 'job') return;
    unhandled = 0;
    waiting = [];
    const progress = (value: P) => {
      unhandled++;
      post({ type: 'progress', value });
    };
    void (async () => {
      try {
        post({ type: 'result', value: await fn(m.job, progress, caughtUp) });
      } catch (err) {
        post({ type: 'error', ...errorFields(err) });
      }
    })();
  });
}

type Reply<O> =
  | { id: number; type: 'result'; value: O }
  | { id: number; type: 'error'; kind?: ErrorKind; message: string; violations?: FieldViolation[] };

/** What crosses from a worker for an error: its kind and violations when it is a FloeError (toError rebuilds it). */
function errorFields(err: unknown): { kind?: ErrorKind; message: string; violations?: FieldViolation[] } {
  const floe = err instanceof FloeError ? err : undefined;
  return { kind: floe?.kind, message: (err as Error).message, violations: floe?.violations };
}

function toError(m: { kind?: ErrorKind; message: string; violations?: FieldViolation[] }): Error {
  if (m.violations?.length) return new InvalidArgumentError(m.violations, m.message);
  return m.kind ? new FloeError(m.kind, m.message) : new Error(m.message);
}

/**
 * A worker thread that stays up and answers requests in turn — for work that is quick once its model is
 * loaded (a surrogate's forward pass), where a worker per call would cost more than the call. Started on
 * the first call; if it dies, pending calls fail and the next call starts a new one.
 */
export class ResidentTask<I, O> {
  private worker: Worker | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: O) => void; reject: (e: Error) => void }>();

  constructor(
    private readonly entry: URL,
    private readonly data: unknown,
    private readonly priority: ComputePriority = 'idle',
  ) {}

  private start(): Worker {
    const worker = spawnWorker(this.entry, this.data, this.priority);
    const failAll = (err: Error) => {
      if (this.worker === worker) this.worker = undefined;
      for (const p of this.pending.values()) p.reject(err);
      this.pending.clear();
    };
    worker.on('message', (m: Reply<O>) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (m.type === 'result') p.resolve(m.value);
      else p.reject(toError(m));
    });
    worker.on('error', failAll);
    worker.on('exit', (code) => failAll(new Error(`the resident worker (${this.entry.pathname}) exited with ${code}`)));
    worker.unref();
    return worker;
  }

  call(input: I): Promise<O> {
    this.worker ??= this.start();
    const id = this.nextId++;
    return new Promise<O>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker!.postMessage({ id, input });
    });
  }

  async close(): Promise<void> {
    const w = this.worker;
    this.worker = undefined;
    if (w) await w.terminate();
  }
}

/** The worker side of a ResidentTask: answers each request with `handle`, one at a time, in order. */
export function serveRequests<I, O>(handle: (input: I) => Promise<O> | O): void {
  let queue = Promise.resolve();
  parentPort!.on('message', (m: { id: number; input: I }) => {
    queue = queue.then(async () => {
      try {
        parentPort!.postMessage({ id: m.id, type: 'result', value: await handle(m.input) } satisfies Reply<O>);
      } catch (err) {
        parentPort!.postMessage({ id: m.id, type: 'error', ...errorFields(err) } satisfies Reply<O>);
      }
    });
  });
}
