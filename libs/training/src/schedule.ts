// Learning-rate schedules: linear warm-up to the peak, then constant, linear or cosine decay to
// min_ratio × peak at the end of the budget. Re-warming on resume is the caller's choice (a new segment).

export interface ScheduleConfig {
  kind: 'constant' | 'linear' | 'cosine';
  warmupSteps: number;
  minRatio: number;
}

export function learningRateAt(step: number, peak: number, total: number, s: ScheduleConfig): number {
  if (s.warmupSteps > 0 && step <= s.warmupSteps) return (peak * step) / s.warmupSteps;
  if (s.kind === 'constant' || total <= s.warmupSteps) return peak;
  const progress = Math.min(1, (step - s.warmupSteps) / Math.max(1, total - s.warmupSteps));
  const floor = peak * s.minRatio;
  if (s.kind === 'linear') return floor + (peak - floor) * (1 - progress);
  return floor + (peak - floor) * 0.5 * (1 + Math.cos(Math.PI * progress));
}
