// The one list of span names and attribute keys. Dashboards and tests depend on these strings.

/** Phases of floe's work; each gets one span. */
export const SpanName = {
  // trainer
  loadData: 'floe.load_data',
  buildModel: 'floe.build_model',
  applyStrategy: 'floe.apply_strategy',
  trainSegment: 'floe.train_segment',
  evaluate: 'floe.evaluate',
  checkpoint: 'floe.checkpoint',
  // data-profiler
  profile: 'floe.profile',
  drift: 'floe.drift',
  scoreBlocks: 'floe.score_blocks',
  plan: 'floe.plan',
  // PlanAdaptation in SEARCH mode: the pilots through the hpo-surrogate
  planSearch: 'floe.plan_search',
  // hpo-surrogate: one span per decision and one per trial segment (a fidelity step of one trial)
  studyDecision: 'floe.study_decision',
  studySegment: 'floe.study_segment',
  // explainer
  explain: 'floe.explain',
  // evaluator: Predict and Generate, one span per call
  predict: 'floe.predict',
  generate: 'floe.generate',
  // `floe adapt`: the whole flow, and one span per stage under it
  adapt: 'floe.adapt',
  adaptStage: 'floe.adapt_stage',
} as const;
export type SpanNameValue = (typeof SpanName)[keyof typeof SpanName];

/** Span attribute keys, namespaced under `floe.`. */
export const Attr = {
  runId: 'floe.run.id',
  studyId: 'floe.study.id',
  trialId: 'floe.trial.id',
  phase: 'floe.phase',
  strategy: 'floe.strategy',
  trainableParams: 'floe.params.trainable',
  totalParams: 'floe.params.total',
  step: 'floe.step',
  dataset: 'floe.dataset',
  model: 'floe.model',
  method: 'floe.explain.method',
  suite: 'floe.suite',
  loss: 'floe.loss',
  learningRate: 'floe.learning_rate',
  validationLoss: 'floe.validation_loss',
  adaptationId: 'floe.adaptation.id',
  adaptStage: 'floe.adapt.stage',
  rpcMethod: 'rpc.method',
  rpcService: 'rpc.service',
  rpcSystem: 'rpc.system',
  rpcStatusCode: 'rpc.grpc.status_code',
} as const;

/** Span event names (steps and epochs are events on a phase's span, not spans). */
export const EventName = {
  step: 'floe.step',
} as const;

/** An attribute key of the list above. */
export type AttrKey = (typeof Attr)[keyof typeof Attr];

/** Metric names. Dashboards and alerts depend on these strings. */
export const MetricName = {
  /** Every RPC served: its duration in seconds, by service, method and status code (OpenTelemetry's RPC name). */
  rpcServerCallDuration: 'rpc.server.call.duration',
  /** Training steps taken, by strategy. */
  trainingSteps: 'floe.training.steps',
  /** One training step's duration in seconds (forward, backward and update), by strategy. */
  trainingStepDuration: 'floe.training.step.duration',
  /** Runs training in this process now. */
  trainingRunsActive: 'floe.training.runs.active',
  /** Runs that stopped training, by how: completed, paused, cancelled, failed. */
  trainingRunsStopped: 'floe.training.runs.stopped',
  /** Freeze-thaw decisions made, by optimizer and kind (a new trial, or a paused one thawed). */
  hpoDecisions: 'floe.hpo.decisions',
  /** One decision's duration in seconds (the surrogate's forward pass and the acquisition). */
  hpoDecisionDuration: 'floe.hpo.decision.duration',
} as const;

/** Metric attribute keys beyond the span attributes (Attr). */
export const MetricAttr = {
  outcome: 'floe.outcome',
  optimizer: 'floe.hpo.optimizer',
  decision: 'floe.hpo.decision',
} as const;
