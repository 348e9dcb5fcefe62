// The contract's search space as the surrogate lib sees it.
import type { hpoSurrogateV1 as hpo } from '@floe/contracts';
import type { ParameterSpec } from '@floe/surrogate';

export function toParameterSpecs(space: hpo.SearchSpace | undefined): ParameterSpec[] {
  return (space?.parameters ?? []).map((p) => {
    const d = p.domain;
    if (!d) return { name: p.name, domain: undefined };
    if (d.$case === 'floatRange') {
      const { min, max, logScale, logOneMinus } = d.value;
      return { name: p.name, domain: { kind: 'float', min, max, log: logScale, logOneMinus } };
    }
    if (d.$case === 'intRange')
      return { name: p.name, domain: { kind: 'int', min: d.value.min, max: d.value.max, log: d.value.logScale } };
    return { name: p.name, domain: { kind: 'categorical', choices: d.value.choices } };
  });
}
