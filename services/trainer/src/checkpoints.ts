// A run's checkpoints: which it holds (with the validation loss measured at each one's step), which is its
// best, which it may delete under its CheckpointRetention, and which are pinned for good (exported, or the
// base model of another run). The store is the record; a checkpoint leaves the record and enters the trash in
// one transaction, and its artifact is deleted once its grace period is over: another service may have just
// resolved it (the evaluator reading a run that is still training), and a crash before the deletion leaves a
// trash record that the next collection finishes, never a listed checkpoint that is gone.
import { trainerV1 } from '@floe/contracts';
import { failedPrecondition, notFound, FloeError } from '@floe/errors';
import type { ArtifactStore, MetadataStore } from '@floe/store';

/** The store's record of a run's checkpoints (kind 'run-checkpoint', id the run's). */
const LEDGER = 'run-checkpoint';
/** Checkpoints kept whatever a retention says (kind 'checkpoint-pin', id the artifact's). */
const PIN = 'checkpoint-pin';
/** Checkpoints dropped from a record, deleted from disk when due (kind 'checkpoint-trash', id the artifact's). */
const TRASH = 'checkpoint-trash';

interface TrashBody {
  /** When the artifact may go (ms since the epoch). */
  dueAt: number;
}

export interface CheckpointEntry {
  step: number;
  artifactId: string;
  /** The validation loss measured at this step (the checkpoint's own weights), when the run evaluated there. */
  validationLoss?: number;
}

interface LedgerBody {
  /** The latest checkpoint (every version of the record has it). */
  checkpoint: string;
  step: number;
  /** Every checkpoint the run holds, oldest first; absent in records written before retention existed. */
  history?: CheckpointEntry[];
  /** The run wrote checkpoints before the record had a history: those are found by their artifacts' labels. */
  legacy?: boolean;
}

interface PinBody {
  exported?: boolean;
  /** Runs that started from this checkpoint. */
  baseOf?: string[];
}

type Retention = trainerV1.CheckpointRetention | undefined;
const R = trainerV1.CheckpointKeptReason;

/** The entry with the lowest validation loss (the earliest among equals); undefined when none was evaluated. */
export function bestOf(entries: CheckpointEntry[]): CheckpointEntry | undefined {
  let best: CheckpointEntry | undefined;
  for (const e of entries)
    if (e.validationLoss !== undefined && (best === undefined || e.validationLoss < best.validationLoss!)) best = e;
  return best;
}

export interface LedgerOptions {
  /**
   * How long a checkpoint a retention dropped stays on disk (FLOE_CHECKPOINT_GRACE_MS): a reader that
   * resolved it just before has this long to open it.
   */
  graceMs?: number;
  /** The clock (tests move it). */
  now?: () => number;
}

export class CheckpointLedger {
  private readonly graceMs: number;
  private readonly now: () => number;

  constructor(
    private readonly store: MetadataStore,
    private readonly artifacts: ArtifactStore,
    options: LedgerOptions = {},
  ) {
    this.graceMs = options.graceMs ?? 0;
    this.now = options.now ?? Date.now;
  }

  /** The run's checkpoints, oldest first (those of an old record found by their artifacts' labels). */
  async entries(runId: string): Promise<CheckpointEntry[]> {
    const body = this.store.get<LedgerBody>(LEDGER, runId)?.body;
    if (!body) return [];
    if (body.history && !body.legacy) return body.history;
    const recorded = body.history ?? [];
    const labelled = (await this.labelled(runId)).filter((e) => !recorded.some((r) => r.step === e.step));
    return [...labelled, ...recorded].sort((a, b) => a.step - b.step);
  }

  /** The run's checkpoint artifacts found by their labels (every artifact of the store is read). */
  private async labelled(runId: string): Promise<CheckpointEntry[]> {
    return (await this.artifacts.list('checkpoint'))
      .filter((a) => a.manifest.labels.run === runId)
      .map((a) => ({ step: Number(a.manifest.labels.step), artifactId: a.manifest.id }));
  }

  /**
   * Records a checkpoint the run just wrote and applies its retention (synchronously, so the run's record and
   * its events stay in order). Returns the best checkpoint held and the artifacts dropped — gone from the
   * record, in the trash until their grace period is over (`collect` deletes them then).
   */
  record(runId: string, entry: CheckpointEntry, retention: Retention): { best?: CheckpointEntry; dropped: string[] } {
    return this.store.transaction(() => {
      const existing = this.store.get<LedgerBody>(LEDGER, runId)?.body;
      const before = existing?.history ?? [];
      // A checkpoint written again at a step (a replay after a crash) replaces the older one in the record.
      const all = [...before.filter((e) => e.step !== entry.step), entry].sort((a, b) => a.step - b.step);
      const replaced = before.filter((e) => e.step === entry.step && e.artifactId !== entry.artifactId);
      const keep = new Set(this.retained(all, retention).map((e) => e.artifactId));
      for (const e of [...all, ...replaced]) if (this.pinOf(e.artifactId)) keep.add(e.artifactId);
      const kept = all.filter((e) => keep.has(e.artifactId));
      const dropped = retention?.keepLast
        ? [...all, ...replaced].filter((e) => !keep.has(e.artifactId)).map((e) => e.artifactId)
        : [];
      const body: LedgerBody = {
        checkpoint: entry.artifactId,
        step: entry.step,
        history: kept,
        legacy: existing !== undefined && (existing.history === undefined || existing.legacy) ? true : undefined,
      };
      if (existing) this.store.update(LEDGER, runId, '', body);
      else this.store.create(LEDGER, runId, '', body);
      this.trash(dropped, this.now() + this.graceMs);
      return { best: bestOf(kept), dropped };
    });
  }

  /** Puts artifacts in the trash, due at `dueAt` (inside the caller's transaction). */
  private trash(ids: string[], dueAt: number): void {
    for (const id of ids) {
      const body: TrashBody = { dueAt };
      if (this.store.get(TRASH, id)) this.store.update(TRASH, id, '', body);
      else this.store.create(TRASH, id, '', body);
    }
  }

  /** When the next checkpoint in the trash is due (ms since the epoch); undefined when the trash is empty. */
  nextDue(): number | undefined {
    let next: number | undefined;
    for (const r of this.trashed()) next = Math.min(next ?? Infinity, r.body.dueAt);
    return next;
  }

  private trashed() {
    return this.store.list<TrashBody>(TRASH, { limit: 1_000_000 }).items;
  }

  /**
   * Deletes from disk the checkpoints in the trash that are due (`only`: of those, these). One already gone is
   * no error; one pinned since (a run started from it in its grace period) stays, and leaves the trash.
   * Returns how many artifacts it deleted.
   */
  async collect(only?: readonly string[]): Promise<number> {
    const now = this.now();
    let deleted = 0;
    for (const r of this.trashed()) {
      if (r.body.dueAt > now || (only && !only.includes(r.id))) continue;
      if (!this.pinOf(r.id)) {
        try {
          await this.artifacts.delete(r.id);
          deleted++;
        } catch (err) {
          if (!(err instanceof FloeError && err.kind === 'not_found')) throw err;
        }
      }
      this.store.delete(TRASH, r.id);
    }
    return deleted;
  }

  /** What a retention keeps of `all` (oldest first), before pins: the newest keep_last, the latest, the best. */
  private retained(all: CheckpointEntry[], retention: Retention): CheckpointEntry[] {
    if (!retention?.keepLast) return all;
    const kept = new Set(all.slice(-retention.keepLast));
    kept.add(all.at(-1)!);
    const best = retention.keepBest ? bestOf(all) : undefined;
    if (best) kept.add(best);
    return all.filter((e) => kept.has(e));
  }

  private pinOf(artifactId: string): PinBody | undefined {
    return this.store.get<PinBody>(PIN, artifactId)?.body;
  }

  /** Keeps a checkpoint for good: it was exported, or another run starts from it. */
  pin(artifactId: string, why: { exported: true } | { baseOf: string }): void {
    this.store.transaction(() => {
      const body = this.pinOf(artifactId);
      const next: PinBody = { ...body };
      if ('exported' in why) next.exported = true;
      else next.baseOf = [...new Set([...(body?.baseOf ?? []), why.baseOf])];
      if (body) this.store.update(PIN, artifactId, '', next);
      else this.store.create(PIN, artifactId, '', next);
    });
  }

  /**
   * Puts in the trash, due at once, the checkpoint artifacts no record lists that were written before `before`
   * (ms since the epoch): a process that died between writing a checkpoint and recording it left them, and the
   * resumed run wrote that step again under a new id, so nothing will ever read them. Call it when no run
   * of this store was writing at `before` (a single process's start-up): a checkpoint written since may be one
   * its run is about to record. Pinned artifacts stay, and so does every artifact of a run whose record predates
   * the history (those are found by label). Returns the ids put in the trash.
   */
  async trashUnrecorded(before: number): Promise<string[]> {
    const recorded = new Set<string>();
    const byLabel = new Set<string>();
    for (const r of this.store.list<LedgerBody>(LEDGER, { limit: 1_000_000 }).items) {
      if (!r.body.history || r.body.legacy) byLabel.add(r.id);
      recorded.add(r.body.checkpoint);
      for (const e of r.body.history ?? []) recorded.add(e.artifactId);
    }
    const trashed = new Set(this.trashed().map((r) => r.id));
    const unrecorded = (await this.artifacts.list('checkpoint'))
      .filter(({ manifest: m }) => {
        const run = m.labels.run;
        return (
          run !== undefined &&
          !byLabel.has(run) &&
          !recorded.has(m.id) &&
          !trashed.has(m.id) &&
          Date.parse(m.createdAt) < before &&
          !this.pinOf(m.id)
        );
      })
      .map((a) => a.manifest.id);
    if (unrecorded.length) this.store.transaction(() => this.trash(unrecorded, this.now()));
    return unrecorded;
  }

  /** Every checkpoint artifact of a run: those its record lists and any it lost track of (by label). */
  async artifactsOf(runId: string): Promise<string[]> {
    const recorded = this.store.get<LedgerBody>(LEDGER, runId)?.body.history ?? [];
    return [...new Set([...recorded, ...(await this.labelled(runId))].map((e) => e.artifactId))];
  }

  /**
   * A deleted run's checkpoints (`ids`, from artifactsOf): its record goes, and so does its claim on the
   * checkpoint it started from; returns those to delete and those pinned (exported, or another run's base),
   * which stay. A base checkpoint that loses its last claim goes too when `ownerGone` says its own run was
   * deleted before (nothing else would ever delete it). Synchronous, to join the transaction that deletes the
   * run. Those to delete enter the trash due at once (deleting a run is an explicit act); the caller collects
   * them after.
   */
  forget(
    runId: string,
    baseArtifactId: string,
    ids: string[],
    ownerGone: () => boolean,
  ): { drop: string[]; kept: string[] } {
    return this.store.transaction(() => {
      this.store.delete(LEDGER, runId);
      const drop: string[] = [];
      const basePin = baseArtifactId ? this.pinOf(baseArtifactId) : undefined;
      if (basePin?.baseOf?.includes(runId)) {
        const next: PinBody = { ...basePin, baseOf: basePin.baseOf.filter((r) => r !== runId) };
        if (next.exported || next.baseOf!.length) this.store.update(PIN, baseArtifactId, '', next);
        else {
          this.store.delete(PIN, baseArtifactId);
          if (ownerGone()) drop.push(baseArtifactId);
        }
      }
      const kept = ids.filter((id) => this.pinOf(id));
      const all = [...drop, ...ids.filter((id) => !kept.includes(id))];
      this.trash(all, this.now());
      return { drop: all, kept };
    });
  }

  /** The checkpoint artifact at `step` (0: the latest), or the best one; NOT_FOUND for a step it does not hold. */
  async resolve(runId: string, step: number, best = false): Promise<string> {
    const latest = this.store.get<LedgerBody>(LEDGER, runId)?.body;
    if (!latest) throw failedPrecondition(`run ${runId} has no checkpoint yet`);
    if (best) {
      const found = bestOf(await this.entries(runId));
      if (!found)
        throw failedPrecondition(
          `run ${runId} has no checkpoint at a step where it measured its validation loss (eval_interval_steps), so none is best`,
        );
      return found.artifactId;
    }
    if (!step || step === latest.step) return latest.checkpoint;
    const found = (await this.entries(runId)).find((e) => e.step === step);
    if (!found) throw notFound('checkpoint', `${runId}@${step}`);
    return found.artifactId;
  }

  /** Why `e` of `entries` (the run's checkpoints, oldest first) is kept under `retention`, pins included. */
  private keptReasons(
    e: CheckpointEntry,
    entries: CheckpointEntry[],
    retention: Retention,
  ): trainerV1.CheckpointKeptReason[] {
    const pin = this.pinOf(e.artifactId);
    const recent = retention?.keepLast ? entries.slice(-retention.keepLast) : [];
    return [
      !retention?.keepLast && R.CHECKPOINT_KEPT_REASON_ALL,
      recent.includes(e) && R.CHECKPOINT_KEPT_REASON_RECENT,
      e === entries.at(-1) && R.CHECKPOINT_KEPT_REASON_LATEST,
      e === bestOf(entries) && retention?.keepBest && R.CHECKPOINT_KEPT_REASON_BEST,
      pin?.exported && R.CHECKPOINT_KEPT_REASON_EXPORTED,
      pin?.baseOf?.length && R.CHECKPOINT_KEPT_REASON_BASE_OF_RUN,
    ].filter((r): r is trainerV1.CheckpointKeptReason => typeof r === 'number');
  }

  /** ListCheckpoints: what the run holds, oldest first, with sizes and why each is kept. */
  async list(runId: string, retention: Retention): Promise<trainerV1.ListCheckpointsResponse> {
    const entries = await this.entries(runId);
    const checkpoints: trainerV1.CheckpointInfo[] = [];
    for (const e of entries) {
      const artifact = await this.artifacts.get(e.artifactId);
      if (!artifact) continue;
      checkpoints.push({
        step: e.step,
        artifactId: e.artifactId,
        sizeBytes: artifact.sizeBytes,
        validationLoss: e.validationLoss,
        keptBecause: this.keptReasons(e, entries, retention),
      });
    }
    return { checkpoints, bestStep: bestOf(entries)?.step ?? 0 };
  }

  /**
   * ReleaseExport: an export loses its exemption. A sparse export goes; a checkpoint goes unless its run still
   * holds it under its retention or another run started from it (then: why). `run`: the checkpoint's run, when
   * it exists — one still training only loses the pin, and its next checkpoint applies its retention (the
   * record is that replica's to write). What goes leaves the record and enters the trash, with the grace period.
   */
  release(
    artifactId: string,
    what: { sparse: boolean; run?: { id: string; retention: Retention; training: boolean } },
  ): { deleted: boolean; keptBecause: trainerV1.CheckpointKeptReason[] } {
    return this.store.transaction(() => {
      const released = `artifact_id: ${artifactId} was released already; it leaves the disk shortly`;
      if (this.store.get(TRASH, artifactId)) throw failedPrecondition(released);
      const runId = what.run?.id ?? '';
      const dueAt = this.now() + this.graceMs;
      if (what.sparse) {
        this.trash([artifactId], dueAt);
        return { deleted: true, keptBecause: [] };
      }
      const pin = this.pinOf(artifactId);
      if (!pin?.exported)
        throw failedPrecondition(`artifact_id: checkpoint ${artifactId} was not exported (or was released already)`);
      const { exported: _, ...rest } = pin;
      if (rest.baseOf?.length) this.store.update(PIN, artifactId, '', rest);
      else this.store.delete(PIN, artifactId);
      const record = runId ? this.store.get<LedgerBody>(LEDGER, runId)?.body : undefined;
      const history = record?.history ?? [];
      const entry = history.find((e) => e.artifactId === artifactId);
      const retention = what.run?.retention;
      // A record from before retention (no history) belongs to a run that keeps every checkpoint.
      const held =
        !!what.run && (!retention?.keepLast || (!!entry && this.retained(history, retention).includes(entry)));
      if (held || rest.baseOf?.length || what.run?.training) {
        const keptBecause = entry
          ? this.keptReasons(entry, history, retention)
          : [
              held && R.CHECKPOINT_KEPT_REASON_ALL,
              !!rest.baseOf?.length && R.CHECKPOINT_KEPT_REASON_BASE_OF_RUN,
            ].filter((r): r is trainerV1.CheckpointKeptReason => typeof r === 'number');
        return { deleted: false, keptBecause };
      }
      if (record && entry)
        this.store.update(LEDGER, runId, '', { ...record, history: history.filter((e) => e !== entry) });
      this.trash([artifactId], dueAt);
      return { deleted: true, keptBecause: [] };
    });
  }
}
