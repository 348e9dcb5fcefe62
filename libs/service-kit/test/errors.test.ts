import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { FloeError, InvalidArgumentError, notFound } from '@floe/errors';
import { Validator, createLogger, fieldViolations, toServiceError } from '../src/index.js';

test('INVALID_ARGUMENT carries every field violation in grpc-status-details-bin', () => {
  const status = toServiceError(
    new InvalidArgumentError([
      { field: 'spec.batch_size', description: 'must be >= 1' },
      { field: 'spec.seed', description: 'x' },
    ]),
  );
  assert.equal(status.code, grpc.status.INVALID_ARGUMENT);
  assert.deepEqual(
    fieldViolations(status).map((v) => v.field),
    ['spec.batch_size', 'spec.seed'],
  );
});

test('domain errors keep their code; unexpected errors become a generic INTERNAL without the stack', () => {
  assert.equal(toServiceError(notFound('run', 'x')).code, grpc.status.NOT_FOUND);
  assert.equal(toServiceError(new FloeError('resource_exhausted', 'too big')).code, grpc.status.RESOURCE_EXHAUSTED);
  const lines: string[] = [];
  const status = toServiceError(
    new Error('secret path /home/x at line 3'),
    createLogger('error', {}, (l) => lines.push(l)),
  );
  assert.equal(status.code, grpc.status.INTERNAL);
  assert.doesNotMatch(status.details!, /secret/);
  assert.match(lines[0]!, /secret path/, 'the cause is logged');
});

test('violations and messages are clipped so they fit in trailers', () => {
  const many = Array.from({ length: 500 }, (_, i) => ({ field: `f${i}`, description: 'y'.repeat(5000) }));
  const status = toServiceError(new InvalidArgumentError(many));
  assert.ok(status.details!.length <= 1000);
  assert.equal(fieldViolations(status).length, 20);
});

test('Validator: numbers, enums, strings, ids', () => {
  const v = new Validator();
  v.number('a', NaN);
  v.number('b', -1, { min: 0 });
  v.number('c', 1.5, { integer: true });
  v.enumValue('d', 99, { X_UNSPECIFIED: 0, X_A: 1 });
  v.enumValue('e', 0, { X_UNSPECIFIED: 0, X_A: 1 });
  v.string('f', 'z'.repeat(5000));
  v.id('g', '../etc');
  v.number('ok', 3, { min: 0, max: 5, integer: true });
  assert.deepEqual(
    v.violations.map((x) => x.field),
    ['a', 'b', 'c', 'd', 'e', 'f', 'g'],
  );
});
