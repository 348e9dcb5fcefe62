// Tables of user-named columns stay aligned in a terminal: wide characters count two cells, combining marks none.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { displayWidth, padDisplay } from '../src/text-width.js';

test('display width: ASCII one cell, CJK and full-width two, combining marks none; padding counts cells', () => {
  assert.equal(displayWidth('price'), 5);
  assert.equal(displayWidth('é列 1'), 5, 'é 1, 列 2, space 1, digit 1');
  assert.equal(displayWidth('가격'), 4);
  assert.equal(displayWidth('ＡＢ'), 4);
  assert.equal(displayWidth('e\u0301'), 1, 'e and a combining acute accent');
  assert.equal(displayWidth('𠀀'), 2, 'outside the basic plane');
  for (const name of ['price', 'é列 1', '가격', 'e\u0301x']) assert.equal(displayWidth(padDisplay(name, 12)), 12, name);
  assert.equal(padDisplay('a very long column name', 4), 'a very long column name');
});
