// DataProfilerService handlers. Requests are validated and dataset references resolved against the data
// roots now (so access rules hold from day one); the profiling itself comes with the data-profiler issue.
import { SERVICE_NAMES, commonV1, dataProfilerV1 as dp } from '@floe/contracts';
import { unimplemented } from '@floe/errors';
import { checkDatasetRef, checkModelRef, defineService, validate, type FloeConfig, type HostedService, type Logger } from '@floe/service-kit';
import { parseDatasetUri, resolveDataPath } from '@floe/data';

const PENDING = 'dataset profiling, drift, block scores and plans (data-profiler issue)';

export function createDataProfilerService(opts: { config: FloeConfig; log: Logger }): HostedService {
  /** Checks that a dataset exists and may be read; file: paths outside the roots are PERMISSION_DENIED. */
  const resolveDataset = (field: string, ref: commonV1.DatasetRef | undefined) => {
    if (!ref) return;
    const parsed = parseDatasetUri(ref.uri, `${field}.uri`);
    if (parsed.scheme === 'file') resolveDataPath(parsed.path, opts.config.dataRoots);
  };

  return defineService(
    SERVICE_NAMES.dataProfiler,
    dp.DataProfilerServiceService,
    {
      async *profileDataset(req) {
        validate((v) => {
          checkDatasetRef(v, 'dataset', req.dataset);
          v.number('bins', req.bins, { min: 0, max: 1000, integer: true });
        });
        resolveDataset('dataset', req.dataset);
        throw unimplemented(PENDING);
      },
      async *compareDatasets(req) {
        validate((v) => {
          checkDatasetRef(v, 'reference', req.reference);
          checkDatasetRef(v, 'current', req.current);
          v.number('bins', req.bins, { min: 0, max: 1000, integer: true });
          const t = req.thresholds;
          if (t) {
            v.number('thresholds.psi_moderate', t.psiModerate, { min: 0 });
            v.number('thresholds.psi_shifted', t.psiShifted, { min: 0 });
            v.number('thresholds.ks_p_value', t.ksPValue, { min: 0, max: 1 });
            v.number('thresholds.js_distance', t.jsDistance, { min: 0, max: 1 });
          }
        });
        resolveDataset('reference', req.reference);
        resolveDataset('current', req.current);
        throw unimplemented(PENDING);
      },
      async *scoreBlocks(req) {
        validate((v) => {
          checkModelRef(v, 'model', req.model);
          checkDatasetRef(v, 'dataset', req.dataset);
          checkDatasetRef(v, 'reference', req.reference, { required: false });
          v.number('calibration_batches', req.calibrationBatches, { min: 0, max: 10_000, integer: true });
          v.number('batch_size', req.batchSize, { min: 0, max: 4096, integer: true });
          v.number('sequence_length', req.sequenceLength, { min: 0, max: 65536, integer: true });
        });
        resolveDataset('dataset', req.dataset);
        resolveDataset('reference', req.reference);
        throw unimplemented(PENDING);
      },
      async *planAdaptation(req) {
        validate((v) => {
          checkModelRef(v, 'model', req.model);
          checkDatasetRef(v, 'dataset', req.dataset);
          checkDatasetRef(v, 'reference', req.reference);
          v.number('max_expansions', req.maxExpansions, { min: 0, max: 64, integer: true });
        });
        resolveDataset('dataset', req.dataset);
        resolveDataset('reference', req.reference);
        throw unimplemented(PENDING);
      },
    },
    { log: opts.log },
  );
}
