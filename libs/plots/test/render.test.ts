// Rendering needs no browser: a bar chart comes back as an SVG document with one bar per row.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renderSvg } from '../src/index.js';

test('a Vega-Lite bar chart renders to SVG with one bar per value', async () => {
  const svg = await renderSvg({
    data: {
      values: [
        { f: 'a', v: 1 },
        { f: 'b', v: -2 },
        { f: 'c', v: 3 },
      ],
    },
    mark: 'bar',
    encoding: { y: { field: 'f', type: 'nominal' }, x: { field: 'v', type: 'quantitative' } },
  });
  assert.match(svg, /^<svg/);
  assert.equal(svg.match(/aria-roledescription="bar"/g)?.length, 3);
});
