// `floe hpo create --param`: each kind and scale becomes its contract domain; an unknown scale is refused
// instead of silently searching on a linear one. `--initial`: a configuration typed by those domains.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfiguration, parseParameter } from '../src/commands/hpo.js';

test('--param reads float, int and categorical domains with their scales', () => {
  assert.deepEqual(parseParameter('lr=float:1e-4:0.1:log').domain, {
    $case: 'floatRange',
    value: { min: 1e-4, max: 0.1, logScale: true },
  });
  assert.deepEqual(parseParameter('beta2=float:0.9:0.9999:log1m').domain, {
    $case: 'floatRange',
    value: { min: 0.9, max: 0.9999, logScale: false, logOneMinus: true },
  });
  assert.deepEqual(parseParameter('layers=int:1:8').domain, {
    $case: 'intRange',
    value: { min: 1, max: 8, logScale: false },
  });
  assert.deepEqual(parseParameter('norm=cat:layer,rms').domain, {
    $case: 'categorical',
    value: { choices: ['layer', 'rms'] },
  });
});

test('--param refuses a scale it does not know, naming the parameter', () => {
  assert.throws(() => parseParameter('lr=float:1e-4:0.1:lg'), /--param lr: the scale must be log or log1m, not "lg"/);
  assert.throws(() => parseParameter('layers=int:1:8:log1m'), /--param layers: the scale must be log, not "log1m"/);
  assert.throws(() => parseParameter('x=vec:1:2'), /--param x: kind must be float, int or cat/);
  // An int range's bounds are whole numbers an int64 carries exactly (they failed in serialisation, unnamed).
  for (const bad of ['n=int:0.5:3', 'n=int:0:9999999999999999999', 'n=int:1', 'n=int::3'])
    assert.throws(() => parseParameter(bad), /--param n: MIN and MAX of an int range must be whole numbers/, bad);
});

test('--initial reads a configuration, each value typed by its parameter; a name that is no --param is refused', () => {
  const params = [
    parseParameter('lr=float:1e-4:0.1:log'),
    parseParameter('layers=int:1:8'),
    parseParameter('norm=cat:layer,rms'),
  ];
  assert.deepEqual(parseConfiguration('lr=3e-3, layers=4,norm=rms', params), {
    values: [
      { name: 'lr', value: { $case: 'floatValue', value: 3e-3 } },
      { name: 'layers', value: { $case: 'intValue', value: 4 } },
      { name: 'norm', value: { $case: 'categoricalValue', value: 'rms' } },
    ],
  });
  assert.throws(() => parseConfiguration('lr=3e-3,depth=2', params), /"depth" is not a --param/);
  assert.throws(() => parseConfiguration('lr=fast', params), /--initial lr: "fast" is not a number/);
  assert.throws(() => parseConfiguration('lr', params), /is not a --param/);
  assert.throws(() => parseConfiguration('layers=2.5', params), /--initial layers: "2.5" is not a whole number/);
});
