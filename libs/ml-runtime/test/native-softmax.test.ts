// The native row softmax (float32) against its definition in double precision, to float32 accuracy, on each
// instruction set's path (vector bodies, scalar tails: 129 columns): rows with a leading dimension wider
// than the row (the gap untouched), a scale, large values (no overflow: the maximum is subtracted), every
// row summing to 1, and a bad geometry refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { native } from '@floe/native';

const skip = native ? false : 'the native addon was not built (FLOE_NATIVE=0)';

for (const isa of ['avx512', 'avx2', 'portable'] as const)
  test(
    `native softmax rows match exp(s·x − max)/Σ in place, leaving the gaps between rows alone (${isa})`,
    { skip },
    () => {
      native!.forceIsa(isa);
      try {
        const rows = 37;
        const cols = 129;
        const ld = 131;
        const scale = 0.7;
        const x = Float32Array.from({ length: rows * ld }, (_, i) => Math.sin(i * 12.9898) * (i % 5 === 0 ? 300 : 4));
        const before = x.slice();
        native!.softmax(x, rows, cols, ld, scale);
        for (let r = 0; r < rows; r++) {
          const row = Array.from(before.subarray(r * ld, r * ld + cols), (v) => v * scale);
          const max = Math.max(...row);
          const sum = row.reduce((s, v) => s + Math.exp(v - max), 0);
          let total = 0;
          for (let j = 0; j < cols; j++) {
            const want = Math.exp(row[j]! - max) / sum;
            assert.ok(
              Math.abs(x[r * ld + j]! - want) <= 2e-5 * want + 1e-7,
              `row ${r} col ${j}: ${x[r * ld + j]} vs ${want}`,
            );
            total += x[r * ld + j]!;
          }
          assert.ok(Math.abs(total - 1) < 1e-5);
          for (let j = cols; j < ld; j++) assert.equal(x[r * ld + j], before[r * ld + j], 'the gap is untouched');
        }
        assert.throws(() => native!.softmax(x, rows + 1, cols, ld, 1), /exceeds/);
      } finally {
        native!.forceIsa('avx512');
      }
    },
  );
