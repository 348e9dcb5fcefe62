// `floe hpo get|watch --csv FILE`: a row per trial, as Optuna's trials_dataframe — id, state, a column per
// hyperparameter, steps, best and last values, run and error — quoted where a field needs it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { commonV1, hpoSurrogateV1 as hpo } from '@floe/contracts';
import { trialsCsv } from '../src/commands/hpo.js';

test('a row per trial: parameters in the search space order, missing values empty, fields quoted as RFC 4180', () => {
  const study = hpo.Study.fromPartial({
    studyId: 'study-1',
    spec: {
      searchSpace: {
        parameters: [
          hpo.Parameter.fromPartial({ name: 'lr', domain: { $case: 'floatRange', value: { min: 1e-4, max: 1 } } }),
          hpo.Parameter.fromPartial({ name: 'layers', domain: { $case: 'intRange', value: { min: 1, max: 8 } } }),
          hpo.Parameter.fromPartial({
            name: 'norm',
            domain: { $case: 'categorical', value: { choices: ['layer', 'rms, scaled'] } },
          }),
        ],
      },
    },
    trials: [
      {
        trialId: 'trial-1',
        state: commonV1.RunState.RUN_STATE_PAUSED,
        configuration: [
          { name: 'norm', value: { $case: 'categoricalValue', value: 'rms, scaled' } },
          { name: 'lr', value: { $case: 'floatValue', value: 0.003 } },
          { name: 'layers', value: { $case: 'intValue', value: 4 } },
        ],
        observations: [
          { step: 10, value: 0.9 },
          { step: 20, value: 0.7 },
          { step: 30, value: 0.75 },
        ],
        bestValue: 0.7,
        targetStep: 30,
        runId: 'run-1',
      },
      {
        trialId: 'trial-2',
        state: commonV1.RunState.RUN_STATE_FAILED,
        configuration: [
          { name: 'lr', value: { $case: 'floatValue', value: 0.5 } },
          { name: 'layers', value: { $case: 'intValue', value: 1 } },
          { name: 'norm', value: { $case: 'categoricalValue', value: 'layer' } },
        ],
        targetStep: 10,
        error: 'loss is "NaN"',
      },
    ],
  });
  assert.equal(
    trialsCsv(study),
    [
      'trial_id,state,lr,layers,norm,steps,target_step,best_value,last_value,run_id,error',
      'trial-1,PAUSED,0.003,4,"rms, scaled",30,30,0.7,0.75,run-1,',
      'trial-2,FAILED,0.5,1,layer,0,10,,,,"loss is ""NaN"""',
      '',
    ].join('\n'),
  );
});
