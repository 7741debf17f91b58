/**
 * Gradient health: per-parameter gradient norms over iterations as sparklines, the latest norm,
 * vanishing / exploding / no-gradient flags, dead ReLU shares, and each parameter's latest
 * gradient histogram.
 */
import { clear, h, s } from './dom';
import { histogramSvg } from './inspector';
import { fmt, Histogram, Num, toNumber } from './schema';

export interface GradientData {
  norms: { [param: string]: [number, Num][] };
  flags: { [param: string]: string | null };
  dead_relu: { [module: string]: Num };
  hist: { [param: string]: Histogram | null };
}

export function emptyGradients(): GradientData {
  return { norms: {}, flags: {}, dead_relu: {}, hist: {} };
}

/** Gradient data from either the widget's traits or `GradientHealth.to_dict()` (`params`). */
export function asGradientData(x: unknown): GradientData {
  const out = emptyGradients();
  if (!x || typeof x !== 'object') {
    return out;
  }
  const d = x as { [k: string]: any };
  const obj = (v: unknown) => (v && typeof v === 'object' && !Array.isArray(v) ? (v as { [k: string]: any }) : {});
  Object.assign(out.norms, obj(d.norms));
  Object.assign(out.flags, obj(d.flags));
  Object.assign(out.dead_relu, obj(d.dead_relu));
  Object.assign(out.hist, obj(d.hist));
  for (const [name, p] of Object.entries(obj(d.params))) {
    const q = obj(p);
    if (Array.isArray(q.norms) && !(name in out.norms)) {
      out.norms[name] = q.norms;
    }
    if (!(name in out.flags)) {
      out.flags[name] = typeof q.flag === 'string' ? q.flag : null;
    }
    if (q.hist && !(name in out.hist)) {
      out.hist[name] = q.hist;
    }
  }
  return out;
}

const SPARK_W = 120;
const SPARK_H = 24;

/** log10 of gradient norms against iterations, as a small line. */
export function sparkline(points: [number, Num][]): SVGElement {
  const svg = s('svg', { class: 'pellucid-sparkline', width: SPARK_W, height: SPARK_H, viewBox: `0 0 ${SPARK_W} ${SPARK_H}` });
  const pts = points
    .map(([it, v]) => [Number(it), toNumber(v)] as [number, number])
    .filter(([it, v]) => Number.isFinite(it) && Number.isFinite(v) && v >= 0)
    .map(([it, v]) => [it, Math.log10(v + 1e-30)] as [number, number]);
  if (!pts.length) {
    return svg;
  }
  const xs = pts.map(p => p[0]);
  const ys = pts.map(p => p[1]);
  const [x0, x1] = [Math.min(...xs), Math.max(...xs)];
  const [y0, y1] = [Math.min(...ys), Math.max(...ys)];
  const px = (x: number) => (x1 > x0 ? ((x - x0) / (x1 - x0)) * (SPARK_W - 4) + 2 : SPARK_W / 2);
  const py = (y: number) => (y1 > y0 ? SPARK_H - 3 - ((y - y0) / (y1 - y0)) * (SPARK_H - 6) : SPARK_H / 2);
  const d = pts.map((p, i) => `${i ? 'L' : 'M'}${px(p[0]).toFixed(1)},${py(p[1]).toFixed(1)}`).join(' ');
  svg.appendChild(s('title', {}, `gradient norm from ${fmt(Math.pow(10, y0))} to ${fmt(Math.pow(10, y1))} over ${pts.length} iterations`));
  svg.appendChild(s('path', { class: 'pellucid-sparkline-line', d }));
  const last = pts[pts.length - 1];
  svg.appendChild(s('circle', { class: 'pellucid-sparkline-dot', cx: px(last[0]).toFixed(1), cy: py(last[1]).toFixed(1), r: 2 }));
  return svg;
}

export class GradientTable {
  readonly node: HTMLDivElement;
  private data: GradientData = emptyGradients();

  constructor() {
    this.node = h('div', { class: 'pellucid-gradients' });
    this.render();
  }

  /** Replace what the table shows (a parameter missing from `data` disappears). */
  setData(data: unknown): void {
    this.data = asGradientData(data);
    this.render();
  }

  private render(): void {
    clear(this.node);
    const { norms, flags, dead_relu, hist } = this.data;
    const names = Array.from(new Set([...Object.keys(norms), ...Object.keys(flags)]));
    if (!names.length) {
      this.node.appendChild(h('div', { class: 'pellucid-muted pellucid-placeholder' }, 'No gradients recorded yet.'));
      return;
    }
    const flagged = names.filter(n => flags[n]);
    this.node.appendChild(
      h('div', { class: 'pellucid-gradients-summary' }, `${names.length} parameters`, flagged.length ? `, ${flagged.length} flagged` : ', no flags')
    );
    const table = h('table', { class: 'pellucid-grad-table' });
    table.appendChild(
      h('thead', {}, h('tr', {}, h('th', {}, 'parameter'), h('th', {}, 'norm over iterations'), h('th', {}, 'latest'), h('th', {}, 'flag'), h('th', {}, 'latest gradient')))
    );
    const body = h('tbody');
    for (const name of names) {
      const pts = norms[name] || [];
      const flag = flags[name] || null;
      const last = pts.length ? pts[pts.length - 1][1] : null;
      const row = h('tr', { class: 'pellucid-grad-row', 'data-param': name });
      if (flag) {
        row.classList.add(`pellucid-flag-${flag.replace(/[^a-z]+/gi, '-').toLowerCase()}`);
      }
      const hh = hist[name];
      row.append(
        h('td', { class: 'pellucid-grad-name', title: flag ? `${name}: ${flag}` : name }, name, flag ? h('span', { class: 'pellucid-flag pellucid-flag-inline' }, flag) : ''),
        h('td', {}, sparkline(pts)),
        h('td', { class: 'pellucid-grad-latest' }, fmt(last, 3)),
        h('td', {}, flag ? h('span', { class: 'pellucid-flag' }, flag) : ''),
        h('td', {}, hh && Array.isArray(hh.counts) ? histogramSvg(hh, `latest gradient of ${name}`, 90, 22) : '')
      );
      body.appendChild(row);
    }
    table.appendChild(body);
    this.node.appendChild(table);
    const dead = Object.entries(dead_relu).filter(([, v]) => Number.isFinite(toNumber(v)));
    if (dead.length) {
      const list = h('div', { class: 'pellucid-dead-relu' }, 'dead ReLU units: ');
      dead.forEach(([mod, v], i) => {
        const share = toNumber(v);
        const item = h('span', { class: share > 0.5 ? 'pellucid-bad' : '' }, `${mod || '(top level)'} ${(share * 100).toFixed(0)}%`);
        list.append(i ? ', ' : '', item);
      });
      this.node.appendChild(list);
    }
  }
}
