// The rule of the house for heavy compute: TF.js work runs in a worker thread, never on a server's event
// loop (native kernels and wasm run synchronously on the calling thread). A service names a task entry
// (a TypeScript file that calls serveTask) and awaits runTask; progress flows back as messages, and a
// FloeError thrown in the worker arrives as the same kind of error, so it maps to the same gRPC code.
import { Worker, parentPort, workerData } from 'node:worker_threads';
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
  artifactsDir: string;
  dataRoots: string[];
  maxDatasetBytes: number;
}

/** The compute environment from a server's configuration (FloeConfig has these fields). */
export function computeEnv(config: {
  tfBackend: BackendChoice;
  threads: number;
  computePriority: ComputePriority;
  home: string;
  dataRoots: string[];
  maxDatasetBytes: number;
}): ComputeEnv {
  return {
    backend: config.tfBackend,
    threads: config.threads,
    priority: config.computePriority,
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

/** Runs the task at `entry` on `input` in a new worker thread; aborting `signal` terminates it. */
export function runTask<I, O, P = unknown>(
  entry: URL,
  input: I,
  opts: { onProgress?: (p: P) => void; signal?: AbortSignal; priority?: ComputePriority } = {},
): Promise<O> {
  return new Promise<O>((resolve, reject) => {
    const worker = spawnWorker(entry, input, opts.priority);
    let settled = false;
    const settle = (fn: () => void) => {
      if (settled) return;
      settled = true;
      opts.signal?.removeEventListener('abort', onAbort);
      fn();
      void worker.terminate();
    };
    const onAbort = () =>
      settle(() => reject(opts.signal!.reason ?? new FloeError('cancelled', 'the caller cancelled the call')));
    if (opts.signal?.aborted) return onAbort();
    opts.signal?.addEventListener('abort', onAbort);
    worker.on('message', (m: TaskMessage<O, P>) => {
      if (m.type === 'progress') opts.onProgress?.(m.value);
      else if (m.type === 'result') settle(() => resolve(m.value));
      else
        settle(() =>
          reject(
            m.violations?.length
              ? new InvalidArgumentError(m.violations, m.message)
              : m.kind
                ? new FloeError(m.kind, m.message)
                : new Error(m.message),
          ),
        );
    });
    worker.on('error', (err) => settle(() => reject(err)));
    worker.on('exit', (code) =>
      settle(() => reject(new Error(`the task worker (${entry.pathname}) exited with ${code} before answering`))),
    );
  });
}

/** The worker side: runs `fn` on the task's input and posts its progress and its result (or error). */
export function serveTask<I, O, P = unknown>(fn: (input: I, progress: (p: P) => void) => Promise<O> | O): void {
  const post = (m: TaskMessage<O, P>) => parentPort!.postMessage(m);
  void (async () => {
    try {
      post({
        type: 'result',
        value: await fn((workerData as { job: I }).job, (value) => post({ type: 'progress', value })),
      });
    } catch (err) {
      const floe = err instanceof FloeError ? err : undefined;
      post({ type: 'error', kind: floe?.kind, message: (err as Error).message, violations: floe?.violations });
    }
  })();
}

type Reply<O> =
  | { id: number; type: 'result'; value: O }
  | { id: number; type: 'error'; kind?: ErrorKind; message: string; violations?: FieldViolation[] };

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
        const floe = err instanceof FloeError ? err : undefined;
        parentPort!.postMessage({
          id: m.id,
          type: 'error',
          kind: floe?.kind,
          message: (err as Error).message,
          violations: floe?.violations,
        } satisfies Reply<O>);
      }
    });
  });
}
