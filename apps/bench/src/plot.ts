// A labelled scatter plot as standalone SVG (no dependencies): benchmarks write one beside their numbers.

export interface ScatterPoint {
  label: string;
  x: number;
  y: number;
  /** Half-height of a vertical error bar, when known. */
  error?: number;
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function ticks(lo: number, hi: number, n = 5): number[] {
  const step = 10 ** Math.floor(Math.log10((hi - lo) / n || 1));
  const nice = [1, 2, 5, 10].map((m) => m * step).find((s) => (hi - lo) / s <= n) ?? step * 10;
  const out: number[] = [];
  for (let v = Math.ceil(lo / nice) * nice; v <= hi + 1e-12; v += nice) out.push(Number(v.toPrecision(6)));
  return out;
}

export function scatterSvg(o: {
  title: string;
  xLabel: string;
  yLabel: string;
  points: ScatterPoint[];
  width?: number;
  height?: number;
}): string {
  const W = o.width ?? 720;
  const H = o.height ?? 480;
  const m = { left: 80, right: 30, top: 50, bottom: 60 };
  const xs = o.points.map((p) => p.x);
  const ys = o.points.flatMap((p) => [p.y - (p.error ?? 0), p.y + (p.error ?? 0)]);
  const pad = (lo: number, hi: number) => [lo - 0.08 * (hi - lo || 1), hi + 0.08 * (hi - lo || 1)] as const;
  const [x0, x1] = pad(Math.min(...xs), Math.max(...xs));
  const [y0, y1] = pad(Math.min(0, ...ys), Math.max(...ys));
  const sx = (x: number) => m.left + ((x - x0) / (x1 - x0)) * (W - m.left - m.right);
  const sy = (y: number) => H - m.bottom - ((y - y0) / (y1 - y0)) * (H - m.top - m.bottom);
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="24" text-anchor="middle" font-size="15">${esc(o.title)}</text>`,
    `<line x1="${m.left}" y1="${H - m.bottom}" x2="${W - m.right}" y2="${H - m.bottom}" stroke="black"/>`,
    `<line x1="${m.left}" y1="${m.top}" x2="${m.left}" y2="${H - m.bottom}" stroke="black"/>`,
    ...ticks(x0, x1).map(
      (t) =>
        `<line x1="${sx(t)}" y1="${H - m.bottom}" x2="${sx(t)}" y2="${H - m.bottom + 5}" stroke="black"/><text x="${sx(t)}" y="${H - m.bottom + 18}" text-anchor="middle">${t}</text>`,
    ),
    ...ticks(y0, y1).map(
      (t) =>
        `<line x1="${m.left - 5}" y1="${sy(t)}" x2="${m.left}" y2="${sy(t)}" stroke="black"/><text x="${m.left - 8}" y="${sy(t) + 4}" text-anchor="end">${t}</text><line x1="${m.left}" y1="${sy(t)}" x2="${W - m.right}" y2="${sy(t)}" stroke="#eee"/>`,
    ),
    `<text x="${(m.left + W - m.right) / 2}" y="${H - 18}" text-anchor="middle">${esc(o.xLabel)}</text>`,
    `<text transform="translate(20 ${(m.top + H - m.bottom) / 2}) rotate(-90)" text-anchor="middle">${esc(o.yLabel)}</text>`,
  ];
  for (const p of o.points) {
    if (p.error)
      parts.push(
        `<line x1="${sx(p.x)}" y1="${sy(p.y - p.error)}" x2="${sx(p.x)}" y2="${sy(p.y + p.error)}" stroke="#555"/>`,
      );
    parts.push(
      `<circle cx="${sx(p.x)}" cy="${sy(p.y)}" r="5" fill="#1f77b4"/><text x="${sx(p.x) + 8}" y="${sy(p.y) - 8}">${esc(p.label)}</text>`,
    );
  }
  parts.push('</svg>');
  return parts.join('\n');
}
