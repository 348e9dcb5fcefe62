import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FloeError } from '@floe/errors';
import { tempDir } from './temp-dir.js';
import { parseDatasetUri, resolveDataPath } from '../src/index.js';

const kind = (fn: () => unknown) => {
  try {
    fn();
  } catch (e) {
    return (e as FloeError).kind;
  }
  return 'ok';
};

test('dataset URIs: builtin names are checked, schemes are required', () => {
  assert.deepEqual(parseDatasetUri('builtin:mnist'), { scheme: 'builtin', name: 'mnist' });
  assert.deepEqual(parseDatasetUri('file:a/b.txt'), { scheme: 'file', path: 'a/b.txt' });
  assert.equal(
    kind(() => parseDatasetUri('builtin:imagenet')),
    'not_found',
  );
  assert.equal(
    kind(() => parseDatasetUri('s3://x')),
    'invalid_argument',
  );
  assert.equal(
    kind(() => parseDatasetUri('')),
    'invalid_argument',
  );
});

test('file paths resolve only under the data roots, symlinks included', () => {
  const dir = tempDir();
  try {
    const root = join(dir.path, 'root');
    mkdirSync(join(root, 'sub'), { recursive: true });
    writeFileSync(join(root, 'sub', 'a.txt'), 'x');
    writeFileSync(join(dir.path, 'outside.txt'), 'secret');
    symlinkSync(join(dir.path, 'outside.txt'), join(root, 'link.txt'));
    assert.equal(resolveDataPath('sub/a.txt', [root]), join(root, 'sub', 'a.txt'));
    assert.equal(resolveDataPath(join(root, 'sub', 'a.txt'), [root]), join(root, 'sub', 'a.txt'));
    assert.equal(
      kind(() => resolveDataPath('../outside.txt', [root])),
      'permission_denied',
    );
    assert.equal(
      kind(() => resolveDataPath(join(dir.path, 'outside.txt'), [root])),
      'permission_denied',
    );
    assert.equal(
      kind(() => resolveDataPath('link.txt', [root])),
      'permission_denied',
    );
    assert.equal(
      kind(() => resolveDataPath('nope.txt', [root])),
      'not_found',
    );
    assert.equal(
      kind(() => resolveDataPath('/etc/passwd', [])),
      'permission_denied',
    );
  } finally {
    dir.remove();
  }
});
