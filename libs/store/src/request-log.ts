// Idempotent state-changing RPCs: the first answer to a request id is stored, and a retry with the same
// id gets that answer again — marked as a replay — without doing anything, even when the resource has
// moved on since (a run paused again). Retries that arrive while the first call still runs wait for it.
// A request id names one request forever (as Temporal's workflow ids under REJECT_DUPLICATE): reusing it
// for a different request is INVALID_ARGUMENT on `request_id`.
import { createHash } from 'node:crypto';
import { invalidArgument } from '@floe/errors';
import type { MetadataStore } from './types.js';

/** A message type of the contracts (ts-proto): how a response is stored and read back. */
export interface JsonCodec<T> {
  toJSON(message: T): unknown;
  fromJSON(json: unknown): T;
}

export interface Idempotent<T> {
  response: T;
  /** True when this is the stored answer to an earlier call with the same request id. */
  replayed: boolean;
}

function fingerprint(request: Record<string, unknown>): string {
  const { requestId: _id, ...rest } = request;
  return createHash('sha256').update(JSON.stringify(rest)).digest('hex');
}

export class RequestLog {
  private readonly inflight = new Map<string, Promise<unknown>>();

  constructor(private readonly store: MetadataStore) {}

  /**
   * Runs `work` once per (method, request id); without a request id it always runs. `requestJson` is the
   * request's JSON form (hashed without its request id, so the same id with other fields is refused).
   */
  async once<T>(
    method: string,
    requestId: string,
    requestJson: unknown,
    codec: JsonCodec<T>,
    work: () => Promise<T> | T,
  ): Promise<Idempotent<T>> {
    if (!requestId) return { response: await work(), replayed: false };
    const id = requestId;
    const print = fingerprint(requestJson as Record<string, unknown>);
    const key = `${method}\u0000${id}`;
    for (let running = this.inflight.get(key); running; running = this.inflight.get(key))
      await running.catch(() => undefined);
    const stored = this.store.findRequest(method, id);
    if (stored) {
      if (stored.fingerprint !== print)
        throw invalidArgument('request_id', `was first used for a different ${method} request; use a new id`);
      return { response: codec.fromJSON(stored.response), replayed: true };
    }
    const p = (async () => {
      const response = await work();
      this.store.recordRequest(method, id, { fingerprint: print, response: codec.toJSON(response) });
      return response;
    })();
    this.inflight.set(key, p);
    try {
      return { response: await p, replayed: false };
    } finally {
      if (this.inflight.get(key) === p) this.inflight.delete(key);
    }
  }

  /**
   * An idempotent RPC's whole answer: `work` runs once per request id (`once`), and the response it gives —
   * every field but `replayed` — comes back with `replayed` saying whether this call was a retry.
   */
  async answer<Req extends { requestId: string }, Res extends { replayed: boolean }>(
    method: string,
    request: Req,
    messages: { request: JsonCodec<Req>; response: JsonCodec<Res> },
    work: () => Promise<Omit<Res, 'replayed'>> | Omit<Res, 'replayed'>,
  ): Promise<Res> {
    const r = await this.once(
      method,
      request.requestId,
      messages.request.toJSON(request),
      messages.response,
      async () => ({ ...(await work()), replayed: false }) as Res,
    );
    return { ...r.response, replayed: r.replayed };
  }
}
