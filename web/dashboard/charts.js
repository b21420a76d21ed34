// Small SVG line charts over the sampler's history: time on x (the last few minutes), one line per series,
// a legend with each series' latest value. Drawn at the container's pixel width so text stays crisp.
import { h, hhmm, num, s } from './util.js';

function niceMax(v) {
  if (v <= 0) return 1;
  const p = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 2, 4, 8, 10]) if (m * p >= v) return m * p; // quarters stay round
  return 10 * p;
}

/**
 * @param series  [{ name, cls, points: [[t, v|null], …] }]
 * @param opts    { now, windowMs, unit, width, height, format }
 */
export function lineChart(title, series, opts) {
  const width = Math.max(240, opts.width ?? 420);
  const height = opts.height ?? 150;
  const m = { l: 46, r: 10, t: 8, b: 20 };
  const x0 = opts.now - opts.windowMs;
  const fmt = opts.format ?? ((v) => num(v, Number.isInteger(v) ? 0 : 1));
  const values = series.flatMap((se) => se.points.filter(([t, v]) => t >= x0 && v !== null).map(([, v]) => v));
  // At least 0…4 so a quiet chart reads "0" on a sensible axis rather than 0, 0.25, 0.5…
  const yMax = niceMax(Math.max(4, ...values));
  const X = (t) => m.l + ((t - x0) / opts.windowMs) * (width - m.l - m.r);
  const Y = (v) => m.t + (1 - v / yMax) * (height - m.t - m.b);

  const grid = [];
  for (let i = 0; i <= 4; i++) {
    const v = (yMax * i) / 4;
    grid.push(s('line', { class: 'grid', x1: m.l, x2: width - m.r, y1: Y(v), y2: Y(v) }));
    grid.push(s('text', { class: 'axis', x: m.l - 6, y: Y(v) + 4, 'text-anchor': 'end' }, fmt(v)));
  }
  const ticks = 4;
  for (let i = 0; i <= ticks; i++) {
    const t = x0 + (opts.windowMs * i) / ticks;
    grid.push(s('text', { class: 'axis', x: X(t), y: height - 4, 'text-anchor': i === 0 ? 'start' : i === ticks ? 'end' : 'middle' }, i === ticks ? 'now' : hhmm(t)));
  }

  const lines = series.map((se) => {
    // Gaps (null: the sample failed) break the line instead of drawing a false zero.
    const parts = [];
    let cur = [];
    for (const [t, v] of se.points) {
      if (t < x0) continue;
      if (v === null || v === undefined) {
        if (cur.length) parts.push(cur);
        cur = [];
      } else cur.push(`${X(t).toFixed(1)},${Y(v).toFixed(1)}`);
    }
    if (cur.length) parts.push(cur);
    return s('g', { class: `series ${se.cls}` }, parts.map((p) => (p.length === 1 ? s('circle', { cx: p[0].split(',')[0], cy: p[0].split(',')[1], r: 2 }) : s('polyline', { points: p.join(' ') }))));
  });

  const legend = h(
    'div',
    { class: 'legend' },
    series.map((se) => {
      const last = [...se.points].reverse().find(([, v]) => v !== null && v !== undefined);
      return h('span', { class: `key ${se.cls}` }, h('i'), `${se.name} `, h('b', {}, last ? fmt(last[1]) : '—'), opts.unit ? ` ${opts.unit}` : '');
    }),
  );
  return h(
    'figure',
    { class: 'chart', 'data-chart': title },
    h('figcaption', {}, title),
    legend,
    s('svg', { width, height, viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': title }, grid, lines),
  );
}
