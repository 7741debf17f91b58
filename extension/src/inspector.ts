/**
 * The inspector panel: what a clicked node holds (shape, dtype, device, value and gradient
 * summaries), a histogram, and a heatmap of 1-D/2-D values when the kernel sent one.
 *
 * Widgets get `inspector` from Python (which can read snapshots); the side panel and saved
 * notebooks build the same structure from the graph document alone (no heatmap there).
 */
import { clear, h, s } from './dom';
import { fmt, fmtShape, GraphDoc, GraphNode, Histogram, Num, SourceRef, sourceName, Summary, TensorInfo, toNumber } from './schema';

export interface Heatmap {
  rows: number;
  cols: number;
  values: Num[][];
  lo: Num;
  hi: Num;
}

export interface TensorBrief {
  key: string;
  name?: string | null;
  shape?: number[] | null;
  dtype?: string | null;
}

/** What the kernel's `inspector` trait holds (`pellucid_widgets.inspector.inspect`); the page
 * builds the same from a document. A module has `cluster` instead of `node`. */
export interface InspectorData {
  node?: (Partial<GraphNode> & { id?: string }) | null;
  tensor?: Partial<TensorInfo> | null;
  summary?: Summary | null;
  grad?: Summary | null;
  histogram?: Histogram | null;
  grad_histogram?: Histogram | null;
  heatmap?: Heatmap | null;
  grad_heatmap?: Heatmap | null;
  source_text?: string;
  inputs?: TensorBrief[];
  outputs?: TensorBrief[];
  cluster?: { id?: string; path: string; label?: string; depth?: number } | null;
  ops?: number;
  params?: { key: string; shape?: number[] | null; grad_norm?: Num }[];
  note?: string;
  error?: string;
}

/** Inspector data from the document alone (no snapshots, so no heatmaps). */
export function localInspector(doc: GraphDoc | null, nodeId: string): InspectorData | null {
  if (!doc || !nodeId) {
    return null;
  }
  if (nodeId.startsWith('mod:')) {
    const path = nodeId.slice(4);
    const inner = doc.nodes.filter(n => (n.module || '') === path || (n.module || '').startsWith(path + '.'));
    return {
      node: null,
      cluster: { id: path, path, label: path.split('.').pop(), depth: path.split('.').length },
      ops: inner.filter(n => n.kind === 'op').length,
      params: inner
        .filter(n => n.kind === 'param' && n.tensor)
        .map(n => {
          const t = doc.tensors[n.tensor as string];
          return { key: n.tensor as string, shape: t ? t.shape : null, grad_norm: t && t.grad && t.grad_arrived ? t.grad.norm : null };
        }),
      note: 'double-click the module to expand it'
    };
  }
  const node = doc.nodes.find(n => n.id === nodeId);
  if (!node) {
    return null;
  }
  const key = node.kind === 'op' ? (node.outputs || [])[0] : node.tensor;
  const tensor = key ? doc.tensors[key] || null : null;
  const brief = (k: string): TensorBrief => {
    const t = doc.tensors[k];
    return { key: k, name: t ? t.name : null, shape: t ? t.shape : null, dtype: t ? t.dtype : null };
  };
  const step = node.kind === 'op' && typeof node.step === 'number' ? (doc.steps || [])[node.step] : undefined;
  const computed = !!tensor && (tensor.computed !== false || node.state === 'computed');
  const value = tensor && computed ? tensor.summary || null : null;
  const grad = tensor && tensor.grad_arrived !== false ? tensor.grad || null : null;
  return {
    node,
    tensor,
    summary: value,
    grad,
    histogram: value ? value.hist || null : null,
    grad_histogram: grad ? grad.hist || null : null,
    inputs: step ? (step.inputs || []).filter((k): k is string => !!k).map(brief) : undefined,
    outputs: node.kind === 'op' ? (node.outputs || []).map(brief) : undefined
  };
}

function histOf(h: Histogram | null | undefined): Histogram | null {
  return h && Array.isArray(h.counts) && h.counts.length ? h : null;
}

/** A small bar chart of a summary histogram: `svg.pellucid-hist`. */
export function histogramSvg(hist: Histogram, title: string, width = 220, height = 64): SVGElement {
  const counts = hist.counts.map(c => Math.max(0, Number(c) || 0));
  const peak = Math.max(1, ...counts);
  const pad = 12;
  const plotH = height - pad;
  const bw = width / Math.max(1, counts.length);
  const svg = s('svg', {
    class: 'pellucid-hist',
    width,
    height: height + 4,
    viewBox: `0 0 ${width} ${height + 4}`,
    role: 'img'
  });
  svg.appendChild(s('title', {}, title));
  counts.forEach((c, i) => {
    const bh = c ? Math.max(1, (c / peak) * (plotH - 2)) : 0;
    const bar = s('rect', {
      class: 'pellucid-hist-bar',
      x: (i * bw + 0.5).toFixed(2),
      y: (plotH - bh).toFixed(2),
      width: Math.max(1, bw - 1).toFixed(2),
      height: bh.toFixed(2)
    });
    bar.appendChild(s('title', {}, String(c)));
    svg.appendChild(bar);
  });
  svg.appendChild(s('line', { class: 'pellucid-hist-axis', x1: 0, x2: width, y1: plotH + 0.5, y2: plotH + 0.5 }));
  svg.appendChild(s('text', { class: 'pellucid-hist-tick', x: 0, y: height + 2, 'text-anchor': 'start' }, fmt(hist.lo, 3)));
  svg.appendChild(s('text', { class: 'pellucid-hist-tick', x: width, y: height + 2, 'text-anchor': 'end' }, fmt(hist.hi, 3)));
  return svg;
}

const HEAT_NEG = [59, 76, 192];
const HEAT_MID = [242, 242, 242];
const HEAT_POS = [180, 4, 38];
const SEQ = [
  [68, 1, 84],
  [59, 82, 139],
  [33, 145, 140],
  [94, 201, 98],
  [253, 231, 37]
];

function mix(a: number[], b: number[], t: number): number[] {
  return a.map((x, i) => x + (b[i] - x) * t);
}

/** RGB for one heatmap cell: diverging around 0 when the range spans it, sequential otherwise. */
export function heatColor(v: number, lo: number, hi: number): number[] {
  if (!Number.isFinite(v)) {
    return Number.isNaN(v) ? [255, 0, 255] : v > 0 ? [255, 255, 0] : [0, 255, 255];
  }
  if (lo < 0 && hi > 0) {
    const m = Math.max(-lo, hi);
    const t = Math.max(-1, Math.min(1, v / m));
    return t < 0 ? mix(HEAT_MID, HEAT_NEG, -t) : mix(HEAT_MID, HEAT_POS, t);
  }
  const t = hi > lo ? Math.max(0, Math.min(1, (v - lo) / (hi - lo))) : 0.5;
  const x = t * (SEQ.length - 1);
  const i = Math.min(SEQ.length - 2, Math.floor(x));
  return mix(SEQ[i], SEQ[i + 1], x - i);
}

/** The values of a 1-D/2-D tensor as coloured cells: `canvas.pellucid-heatmap`. */
export function heatmapCanvas(hm: Heatmap, maxWidth = 240): HTMLCanvasElement {
  const rows = Math.max(1, Math.min(Number(hm.rows) || hm.values.length, hm.values.length));
  const cols = Math.max(1, Number(hm.cols) || (hm.values[0] || []).length);
  const canvas = h('canvas', { class: 'pellucid-heatmap', width: cols, height: rows });
  let lo = toNumber(hm.lo);
  let hi = toNumber(hm.hi);
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) {
    lo = Infinity;
    hi = -Infinity;
    for (const row of hm.values) {
      for (const x of row) {
        const v = toNumber(x);
        if (Number.isFinite(v)) {
          lo = Math.min(lo, v);
          hi = Math.max(hi, v);
        }
      }
    }
  }
  const ctx = canvas.getContext('2d');
  if (ctx) {
    const img = ctx.createImageData(cols, rows);
    for (let r = 0; r < rows; r++) {
      const row = hm.values[r] || [];
      for (let c = 0; c < cols; c++) {
        const [R, G, B] = heatColor(toNumber(row[c]), lo, hi);
        const o = (r * cols + c) * 4;
        img.data[o] = R;
        img.data[o + 1] = G;
        img.data[o + 2] = B;
        img.data[o + 3] = 255;
      }
    }
    ctx.putImageData(img, 0, 0);
  }
  const cell = Math.max(1, Math.min(24, Math.floor(maxWidth / cols)));
  canvas.style.width = `${cols * cell}px`;
  canvas.style.height = `${Math.min(rows * cell, 240)}px`;
  canvas.title = `${rows}×${cols} values, ${fmt(lo)} to ${fmt(hi)}`;
  return canvas;
}

const STAT_KEYS: (keyof Summary)[] = ['count', 'min', 'max', 'mean', 'std', 'norm', 'nan', 'inf', 'sampled'];

function summaryTable(value: Summary | null | undefined, grad: Summary | null | undefined): HTMLTableElement | null {
  if (!value && !grad) {
    return null;
  }
  const table = h('table', { class: 'pellucid-summary' });
  table.appendChild(h('thead', {}, h('tr', {}, h('th', {}, ''), h('th', {}, 'value'), h('th', {}, 'gradient'))));
  const body = h('tbody');
  for (const k of STAT_KEYS) {
    const a = value ? value[k] : undefined;
    const b = grad ? grad[k] : undefined;
    if ((a === undefined || a === null) && (b === undefined || b === null)) {
      continue;
    }
    const row = h('tr', { 'data-stat': k }, h('th', {}, k), h('td', {}, fmt(a as Num)), h('td', {}, fmt(b as Num)));
    if ((k === 'nan' || k === 'inf') && (Number(a) > 0 || Number(b) > 0)) {
      row.classList.add('pellucid-bad');
    }
    body.appendChild(row);
  }
  table.appendChild(body);
  return table;
}

function sourceLine(src: SourceRef | null | undefined): HTMLElement | null {
  if (!src || !src.file) {
    return null;
  }
  const text = `${sourceName(src)}:${src.line}${src.function ? ` in ${src.function}` : ''}`;
  return h('div', { class: 'pellucid-inspector-source', title: `${src.file}:${src.line}` }, text);
}

function briefList(title: string, items: TensorBrief[] | undefined): HTMLElement | null {
  if (!items || !items.length) {
    return null;
  }
  const list = h('div', { class: 'pellucid-inspector-io' }, h('span', { class: 'pellucid-muted' }, `${title} `));
  items.forEach((t, i) => {
    list.append(i ? ', ' : '', h('span', { title: t.key }, `${t.name || t.key} ${fmtShape(t.shape)}`));
  });
  return list;
}

/** Fill `el` (a `.pellucid-inspector`) with `data`; a hint when nothing is selected. */
export function renderInspector(el: HTMLElement, data: InspectorData | null | undefined): void {
  clear(el);
  const d = data && typeof data === 'object' ? data : null;
  if (!d || (!d.node && !d.cluster && !d.tensor && !d.error && !d.note)) {
    el.appendChild(h('div', { class: 'pellucid-inspector-empty' }, 'Click a node to inspect it.'));
    el.classList.add('pellucid-inspector-idle');
    return;
  }
  el.classList.remove('pellucid-inspector-idle');
  if (d.error) {
    el.appendChild(h('div', { class: 'pellucid-error' }, String(d.error)));
  }
  const meta = h('table', { class: 'pellucid-inspector-meta' });
  const add = (k: string, v: string | null | undefined, cls?: string) => {
    if (v === null || v === undefined || v === '') {
      return;
    }
    meta.appendChild(h('tr', {}, h('th', {}, k), h('td', cls ? { class: cls } : {}, v)));
  };
  if (d.cluster) {
    const c = d.cluster;
    el.appendChild(h('div', { class: 'pellucid-inspector-title' }, h('strong', {}, c.path), h('span', { class: 'pellucid-muted' }, ' module')));
    add('ops', d.ops !== undefined ? String(d.ops) : null);
    el.appendChild(meta);
    if (d.params && d.params.length) {
      const table = h('table', { class: 'pellucid-summary' });
      table.appendChild(h('thead', {}, h('tr', {}, h('th', {}, 'parameter'), h('th', {}, 'shape'), h('th', {}, 'grad norm'))));
      const body = h('tbody');
      for (const p of d.params) {
        body.appendChild(h('tr', {}, h('th', {}, p.key.replace(/^param:/, '')), h('td', {}, fmtShape(p.shape)), h('td', {}, fmt(p.grad_norm))));
      }
      table.appendChild(body);
      el.appendChild(table);
    }
    if (d.note) {
      el.appendChild(h('div', { class: 'pellucid-muted pellucid-inspector-note' }, String(d.note)));
    }
    return;
  }
  const node = d.node || {};
  const t = d.tensor || null;
  const title = String(node.label || (t && t.name) || node.id || '');
  const kind = [node.kind, node.op && node.op !== node.label ? node.op : null].filter(Boolean).join(' · ');
  if (title) {
    el.appendChild(h('div', { class: 'pellucid-inspector-title' }, h('strong', {}, title), kind ? h('span', { class: 'pellucid-muted' }, ` ${kind}`) : null));
  }
  if (node.module) {
    add('module', String(node.module));
  }
  if (typeof node.step === 'number') {
    add('step', `${node.step}${typeof node.backward_step === 'number' ? ` (backward ${node.backward_step})` : ''}`);
  }
  if (t) {
    if (t.name && t.name !== title) {
      add('tensor', String(t.name));
    }
    add('shape', fmtShape(t.shape), 'pellucid-shape-value');
    add('dtype', t.dtype ? String(t.dtype) : null, 'pellucid-dtype-value');
    add('device', t.device ? String(t.device) : null, 'pellucid-device-value');
    if (t.requires_grad !== undefined) {
      add('requires_grad', String(!!t.requires_grad));
    }
  }
  if (typeof node.relu_dead === 'number') {
    add('dead units', `${(node.relu_dead * 100).toFixed(1)}%`);
  }
  if (typeof node.nonfinite === 'number' && node.nonfinite > 0) {
    add('non-finite', String(node.nonfinite), 'pellucid-bad');
  }
  el.appendChild(meta);
  const src = sourceLine(node.source as SourceRef | undefined);
  if (src) {
    if (d.source_text) {
      src.append(' ', h('code', { class: 'pellucid-source-text' }, d.source_text));
    }
    el.appendChild(src);
  }
  for (const part of [briefList('inputs', d.inputs), briefList('outputs', d.outputs)]) {
    if (part) {
      el.appendChild(part);
    }
  }
  const table = summaryTable(d.summary, d.grad);
  if (table) {
    el.appendChild(table);
  }
  const charts = h('div', { class: 'pellucid-inspector-charts' });
  const vh = histOf(d.histogram) || histOf(d.summary && d.summary.hist);
  if (vh) {
    charts.appendChild(h('figure', {}, histogramSvg(vh, 'value histogram'), h('figcaption', {}, 'values')));
  }
  const gh = histOf(d.grad_histogram) || histOf(d.grad && d.grad.hist);
  if (gh) {
    charts.appendChild(h('figure', {}, histogramSvg(gh, 'gradient histogram'), h('figcaption', {}, 'gradient')));
  }
  for (const [hm, what] of [
    [d.heatmap, 'values'],
    [d.grad_heatmap, 'gradient']
  ] as [Heatmap | null | undefined, string][]) {
    if (hm && Array.isArray(hm.values) && hm.values.length) {
      const canvas = heatmapCanvas(hm);
      canvas.dataset.what = what;
      charts.appendChild(h('figure', {}, canvas, h('figcaption', {}, `${what} ${hm.rows}×${hm.cols}`)));
    }
  }
  if (charts.childNodes.length) {
    el.appendChild(charts);
  }
  if (d.note) {
    el.appendChild(h('div', { class: 'pellucid-muted pellucid-inspector-note' }, String(d.note)));
  }
}
