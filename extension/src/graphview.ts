/**
 * The graph view: a recorded graph laid out by Graphviz in a worker, drawn as the SVG Graphviz
 * wrote (which escapes all text), with pan and zoom, collapsible module clusters, node colours
 * from a statistic, node states as of a cursor, and click-to-select.
 *
 * Structure changes (new nodes, expanding a module) need a new layout; everything else (cursor,
 * colours, selection, a new document with the same structure) only restyles the drawing, so
 * stepping through a recording stays smooth and keeps the zoom and pan.
 */
import { asColorBy, COLOR_BY, COLOR_BY_LABEL, ColorBy, nodeMetric, scaleColor, scaleGradientCss, themed } from './colors';
import { captureKeys, clear, h } from './dom';
import { buildVisModel, isCollapsed, moduleDepth, VisModel, VisNode } from './dot';
import { layoutDot } from './layout';
import { asGraphDoc, fmt, fmtShape, GraphDoc, GraphNode, nodeTensor } from './schema';

export interface GraphViewOptions {
  depth: number;
  expanded: string[];
  colorBy: ColorBy;
  cursor: number | null;
  selected: string;
  height: number;
  /** 'auto': left to right in a view much wider than tall, else top to bottom (chosen at the
   * first drawing and kept, so later drawings do not turn around). */
  rankdir: 'auto' | 'TB' | 'LR';
}

export interface GraphViewEvents {
  /** A node was clicked (its document id; '' when the background was clicked). */
  select?(id: string): void;
  /** The user opened or closed modules: the new list of explicitly expanded paths. */
  expandedChanged?(expanded: string[]): void;
  colorByChanged?(colorBy: ColorBy): void;
  depthChanged?(depth: number): void;
  /** A drawing is on screen (timings in milliseconds). */
  rendered?(timing: RenderTiming): void;
}

export interface RenderTiming {
  nodes: number;
  drawnNodes: number;
  buildMs: number;
  loadMs: number;
  layoutMs: number;
  insertMs: number;
  totalMs: number;
  cached: boolean;
}

const DEFAULTS: GraphViewOptions = { depth: 1, expanded: [], colorBy: 'grad', cursor: null, selected: '', height: 420, rankdir: 'auto' };
const MIN_SCALE = 0.02;
/** Below this scale labels are unreadable: `fit` shows part of the drawing instead. */
const MIN_FIT_SCALE = 0.3;
const MAX_SCALE = 8;
const DRAG_THRESHOLD = 4;
const DROPPED_TAGS = ['script', 'foreignObject', 'iframe', 'image', 'use', 'a', 'style'];

/** Remove anything but plain drawing from Graphviz's SVG: no scripts, links, event handlers. */
function sanitize(root: Element): void {
  for (const tag of DROPPED_TAGS) {
    for (const el of Array.from(root.getElementsByTagName(tag))) {
      if (tag === 'a') {
        // keep a link's drawing, drop the link
        while (el.firstChild) {
          el.parentNode!.insertBefore(el.firstChild, el);
        }
      }
      el.remove();
    }
  }
  const all = [root, ...Array.from(root.getElementsByTagName('*'))];
  for (const el of all) {
    for (const attr of Array.from(el.attributes)) {
      const n = attr.name.toLowerCase();
      if (n.startsWith('on') || n === 'href' || n === 'xlink:href' || n === 'style') {
        el.removeAttribute(attr.name);
      }
    }
  }
}

function shapeOf(g: Element): SVGElement | null {
  for (const child of Array.from(g.children)) {
    const t = child.tagName.toLowerCase();
    if (t === 'path' || t === 'polygon' || t === 'ellipse') {
      return child as SVGElement;
    }
  }
  return null;
}

function tooltip(doc: GraphDoc, v: VisNode): string {
  if (v.kind === 'module') {
    const ops = v.members.filter(m => m.kind === 'op').length;
    return `${v.path} (module, ${ops} ops, ${v.members.length - ops} tensors)\ndouble-click to expand`;
  }
  const n = v.members[0];
  const t = nodeTensor(doc, n);
  const lines = [n.kind === 'op' ? `${n.label} (op ${n.step})` : `${n.label} (${n.kind})`];
  if (n.module) {
    lines.push(`module ${n.module}`);
  }
  if (t) {
    lines.push(`${fmtShape(t.shape)} ${t.dtype || ''} ${t.device || ''}`.trim());
    if (t.summary && t.summary.mean !== undefined) {
      lines.push(`mean ${fmt(t.summary.mean)}  std ${fmt(t.summary.std)}`);
    }
    if (t.grad && t.grad.norm !== undefined) {
      lines.push(`grad norm ${fmt(t.grad.norm)}`);
    }
  }
  if (n.source && n.source.file) {
    lines.push(`${n.source.label && n.source.label.startsWith('In[') ? n.source.label : n.source.file}:${n.source.line}`);
  }
  return lines.join('\n');
}

interface NodeState {
  pending: boolean;
  current: boolean;
  grad: boolean;
  nonfinite: boolean;
}

function memberState(doc: GraphDoc, n: GraphNode, k: number | null): NodeState {
  const keys = n.kind === 'op' ? n.outputs || [] : n.tensor ? [n.tensor] : [];
  const tensors = keys.map(key => doc.tensors[key]).filter(t => !!t);
  // at the document's own cursor its states are exact (the kernel computed them); elsewhere
  // (the side panel's stepper) they are derived from step indices
  const own = k === null || k === doc.cursor;
  let pending: boolean;
  let current: boolean;
  let grad: boolean;
  if (own) {
    pending = n.state === 'pending';
    current = n.state === 'current' || n.backward_state === 'current' || (n.kind !== 'op' && k !== null && n.backward_step === k);
    grad = tensors.some(t => !!t.grad_arrived);
  } else {
    const kk = k as number;
    if (n.kind === 'op') {
      pending = typeof n.step === 'number' && n.step > kk;
      current = n.step === kk || n.backward_step === kk;
    } else if (n.kind === 'output') {
      const by = tensors.length && typeof tensors[0].produced_by === 'number' ? (tensors[0].produced_by as number) : null;
      pending = by !== null && by > kk;
      current = false;
    } else {
      pending = false;
      current = n.backward_step === kk;
    }
    grad = tensors.some(t => typeof t.grad_step === 'number' && t.grad_step <= kk);
  }
  const t = nodeTensor(doc, n);
  const s = t && t.summary;
  const bad = (n.nonfinite || 0) > 0 || !!(s && ((s.nan || 0) > 0 || (s.inf || 0) > 0));
  return { pending, current, grad, nonfinite: bad && !pending };
}

export class GraphView {
  readonly node: HTMLDivElement;
  private readonly events: GraphViewEvents;
  private readonly viewport: HTMLDivElement;
  private readonly stage: HTMLDivElement;
  private readonly message: HTMLDivElement;
  private readonly statusEl: HTMLSpanElement;
  private readonly legend: HTMLDivElement;
  private readonly colorSelect: HTMLSelectElement;
  private readonly depthLabel: HTMLSpanElement;
  private opts: GraphViewOptions;
  private doc: GraphDoc | null = null;
  /** Modules the user closed that would otherwise be open (kept in the view only). */
  private closed = new Set<string>();
  private model: VisModel | null = null;
  private modelDoc: GraphDoc | null = null;
  private svg: SVGSVGElement | null = null;
  private nodeEls = new Map<string, SVGGElement>();
  private edgeEls = new Map<string, SVGGElement>();
  private size = { w: 0, h: 0 };
  private t = { x: 0, y: 0, k: 1 };
  private userMoved = false;
  private scheduled = false;
  private busy = false;
  private queued = false;
  private disposed = false;
  private drag: { x: number; y: number; tx: number; ty: number; moved: boolean; id: number } | null = null;
  private resizeObserver: ResizeObserver | null = null;
  private renderStart = 0;
  /** The node id `followCurrent` last brought into view. */
  private followed = '';
  /** A render skipped while hidden, done when the view gets a size. */
  private deferred = false;
  private rankdir: 'TB' | 'LR' | null = null;
  private readonly releaseKeys: () => void;
  private drawingMatrix: DOMMatrix | SVGMatrix | null = null;
  lastTiming: RenderTiming | null = null;

  constructor(events: GraphViewEvents = {}, options: Partial<GraphViewOptions> = {}) {
    this.events = events;
    this.opts = { ...DEFAULTS, ...options };
    this.node = h('div', { class: 'pellucid-graph' });
    this.colorSelect = h('select', { class: 'pellucid-color-by', title: 'Colour nodes by' });
    for (const c of COLOR_BY) {
      this.colorSelect.appendChild(h('option', { value: c }, COLOR_BY_LABEL[c]));
    }
    this.colorSelect.value = this.opts.colorBy;
    this.colorSelect.addEventListener('change', () => {
      const c = asColorBy(this.colorSelect.value);
      this.update({ colorBy: c });
      this.events.colorByChanged?.(c);
    });
    this.depthLabel = h('span', { class: 'pellucid-depth-value' });
    const button = (action: string, text: string, title: string) => {
      const b = h('button', { class: 'pellucid-tool', 'data-graph-action': action, title, type: 'button' }, text);
      b.addEventListener('click', () => this.toolbarAction(action));
      return b;
    };
    this.statusEl = h('span', { class: 'pellucid-graph-status' });
    const toolbar = h(
      'div',
      { class: 'pellucid-graph-toolbar' },
      h('label', {}, 'colour ', this.colorSelect),
      h('span', { class: 'pellucid-depth' }, 'depth ', button('depth-down', '−', 'Collapse one level'), this.depthLabel, button('depth-up', '+', 'Expand one level')),
      h('span', { class: 'pellucid-zoom' }, 'zoom ', button('zoom-out', '−', 'Zoom out (-)'), button('zoom-in', '+', 'Zoom in (+)'), button('fit', 'fit', 'Fit the graph into the view (0)')),
      this.statusEl
    );
    this.stage = h('div', { class: 'pellucid-graph-stage' });
    this.message = h('div', { class: 'pellucid-graph-message' });
    this.viewport = h('div', { class: 'pellucid-graph-viewport', tabindex: 0 }, this.stage, this.message);
    this.legend = h('div', { class: 'pellucid-legend' });
    this.node.append(toolbar, this.viewport, this.legend);
    this.viewport.addEventListener('wheel', this.onWheel, { passive: false });
    this.viewport.addEventListener('pointerdown', this.onPointerDown);
    this.viewport.addEventListener('pointermove', this.onPointerMove);
    this.viewport.addEventListener('pointerup', this.onPointerUp);
    this.viewport.addEventListener('pointercancel', this.onPointerUp);
    this.viewport.addEventListener('dblclick', this.onDoubleClick);
    this.releaseKeys = captureKeys(this.viewport, this.onKeyDown);
    if (typeof ResizeObserver !== 'undefined') {
      this.resizeObserver = new ResizeObserver(() => {
        if (this.deferred && this.viewport.clientWidth > 0) {
          this.deferred = false;
          this.requestRender();
        } else if (!this.userMoved) {
          this.fit();
        }
      });
      this.resizeObserver.observe(this.viewport);
    }
    this.applyHeight();
    this.updateDepthLabel();
    this.showMessage('No graph yet.');
  }

  /** The document to draw (anything that is not a graph document clears the view). */
  setGraph(graph: unknown): void {
    this.doc = asGraphDoc(graph);
    this.requestRender();
  }

  get graph(): GraphDoc | null {
    return this.doc;
  }

  get options(): GraphViewOptions {
    return { ...this.opts };
  }

  update(partial: Partial<GraphViewOptions>): void {
    const before = this.opts;
    this.opts = { ...before, ...partial };
    if (partial.colorBy !== undefined) {
      this.colorSelect.value = this.opts.colorBy;
    }
    if (partial.height !== undefined && partial.height !== before.height) {
      this.applyHeight();
    }
    if (partial.depth !== undefined && partial.depth !== before.depth) {
      // a new depth is a fresh start for what the user closed by hand
      this.closed.clear();
      this.updateDepthLabel();
    }
    this.requestRender();
  }

  /** Scale and centre the drawing so all of it is visible; a drawing too big to read that way
   * is shown from its top (or around the current step) at a readable scale instead. */
  fit(): void {
    const vw = this.viewport.clientWidth;
    const vh = this.viewport.clientHeight;
    if (!this.svg || !vw || !vh || !this.size.w || !this.size.h) {
      return;
    }
    let k = Math.min(1.5, (vw - 16) / this.size.w, (vh - 16) / this.size.h);
    if (k < MIN_FIT_SCALE) {
      k = Math.max(MIN_FIT_SCALE, Math.min(1, (vw - 16) / this.size.w));
      this.t = { k, x: Math.max(8, (vw - this.size.w * k) / 2), y: 8 };
    } else {
      this.t = { k, x: (vw - this.size.w * k) / 2, y: Math.max(8, (vh - this.size.h * k) / 2) };
    }
    this.applyTransform();
  }

  /** Pan so the current step's node is in view when it moved out of it (stepping through a
   * large graph follows the computation). */
  private followCurrent(): void {
    if (!this.svg || this.drag) {
      return;
    }
    let current: SVGGElement | null = null;
    for (const g of this.nodeEls.values()) {
      if (g.classList.contains('pellucid-current')) {
        current = g;
        break;
      }
    }
    const id = current ? current.getAttribute('data-node-id') || '' : '';
    if (!current || id === this.followed) {
      return;
    }
    this.followed = id;
    // the label's anchor is the node's centre in Graphviz's coordinates: no layout needed to
    // find it (getBBox would force one on a freshly inserted drawing)
    const text = current.querySelector('text');
    if (!text) {
      return;
    }
    let cx = parseFloat(text.getAttribute('x') || '0');
    let cy = parseFloat(text.getAttribute('y') || '0');
    const m = this.drawingMatrix;
    if (m) {
      [cx, cy] = [m.a * cx + m.c * cy + m.e, m.b * cx + m.d * cy + m.f];
    }
    const vw = this.viewport.clientWidth;
    const vh = this.viewport.clientHeight;
    const sx = this.t.x + cx * this.t.k;
    const sy = this.t.y + cy * this.t.k;
    const margin = 24;
    if (sx >= margin && sx <= vw - margin && sy >= margin && sy <= vh - margin) {
      return;
    }
    const k = this.t.k;
    // centre it, without showing empty space beyond the drawing's edges
    const clamp = (want: number, view: number, size: number) =>
      size * k + 16 <= view ? (view - size * k) / 2 : Math.min(8, Math.max(view - 8 - size * k, want));
    this.t = { k, x: clamp(vw / 2 - cx * k, vw, this.size.w), y: clamp(vh / 2 - cy * k, vh, this.size.h) };
    this.applyTransform();
  }

  dispose(): void {
    this.disposed = true;
    this.releaseKeys();
    this.resizeObserver?.disconnect();
    this.node.remove();
  }

  /** Open (expand) or close (collapse) a module, as a double-click does. */
  toggleModule(path: string, open: boolean): void {
    const expanded = this.opts.expanded.filter(p => p !== path);
    if (open) {
      this.closed.delete(path);
      if (!this.currentlyOpen(path)) {
        expanded.push(path);
      }
    } else if (this.currentlyOpen(path, expanded)) {
      this.closed.add(path);
    }
    const changed = expanded.length !== this.opts.expanded.length || expanded.some((p, i) => p !== this.opts.expanded[i]);
    this.opts = { ...this.opts, expanded };
    if (changed) {
      this.events.expandedChanged?.(expanded);
    }
    this.requestRender();
  }

  private currentlyOpen(path: string, expanded = this.opts.expanded): boolean {
    const docCollapsed = new Set(((this.doc && this.doc.clusters) || []).filter(c => c.collapsed).map(c => c.path));
    return !isCollapsed(path, { depth: this.opts.depth, expanded, closed: this.closed }, docCollapsed);
  }

  private toolbarAction(action: string): void {
    const vw = this.viewport.clientWidth;
    const vh = this.viewport.clientHeight;
    switch (action) {
      case 'fit':
        this.userMoved = false;
        this.fit();
        break;
      case 'zoom-in':
        this.zoomAt(vw / 2, vh / 2, 1.25);
        break;
      case 'zoom-out':
        this.zoomAt(vw / 2, vh / 2, 0.8);
        break;
      case 'depth-up':
      case 'depth-down': {
        const maxDepth = this.maxModuleDepth();
        let d = this.opts.depth < 0 ? maxDepth : this.opts.depth;
        d = action === 'depth-up' ? d + 1 : Math.max(0, d - 1);
        if (d >= maxDepth && action === 'depth-up') {
          d = -1;
        }
        this.update({ depth: d, expanded: [] });
        this.events.expandedChanged?.([]);
        this.events.depthChanged?.(d);
        break;
      }
    }
  }

  private maxModuleDepth(): number {
    let m = 0;
    for (const n of (this.doc && this.doc.nodes) || []) {
      m = Math.max(m, moduleDepth(n.module || ''));
    }
    return m;
  }

  private updateDepthLabel(): void {
    this.depthLabel.textContent = this.opts.depth < 0 ? 'all' : String(this.opts.depth);
  }

  private applyHeight(): void {
    this.viewport.style.height = `${Math.max(120, this.opts.height || DEFAULTS.height)}px`;
  }

  private showMessage(text: string, isError = false): void {
    this.message.textContent = text;
    this.message.classList.toggle('pellucid-error', isError);
    this.message.style.display = text ? '' : 'none';
  }

  private requestRender(): void {
    if (this.scheduled || this.disposed) {
      return;
    }
    this.scheduled = true;
    queueMicrotask(() => {
      this.scheduled = false;
      void this.render();
    });
  }

  private async render(): Promise<void> {
    if (this.disposed) {
      return;
    }
    const doc = this.doc;
    if (!doc) {
      this.model = null;
      this.modelDoc = null;
      this.svg = null;
      clear(this.stage);
      clear(this.legend);
      this.statusEl.textContent = '';
      this.showMessage('No graph yet.');
      return;
    }
    if (this.busy) {
      this.queued = true;
      return;
    }
    if (this.resizeObserver && this.viewport.clientWidth === 0) {
      // hidden (a closed side panel, a cell scrolled out of the notebook's window): lay out
      // when it is shown, instead of competing with visible views now
      this.deferred = true;
      return;
    }
    const t0 = performance.now();
    if (!this.rankdir) {
      const r = this.opts.rankdir;
      this.rankdir = r === 'auto' ? (this.viewport.clientWidth > 1.6 * this.viewport.clientHeight ? 'LR' : 'TB') : r;
      this.node.dataset.rankdir = this.rankdir;
    }
    const model = buildVisModel(doc, { depth: this.opts.depth, expanded: this.opts.expanded, closed: this.closed, rankdir: this.rankdir });
    if (this.svg && this.model && model.dot === this.model.dot) {
      this.model = model;
      this.modelDoc = doc;
      this.restyle();
      this.followCurrent();
      return;
    }
    this.busy = true;
    this.renderStart = t0;
    const t1 = performance.now();
    if (!this.svg) {
      this.showMessage(`Laying out ${model.nodeCount} nodes…`);
    }
    this.node.classList.add('pellucid-busy');
    try {
      const r = await layoutDot(model.dot);
      if (this.disposed) {
        return;
      }
      const t2 = performance.now();
      this.install(r.svg, model, doc);
      // the drawing counts as shown once the browser has laid it out
      void this.node.offsetWidth;
      const t3 = performance.now();
      this.lastTiming = {
        nodes: doc.nodes.length,
        drawnNodes: model.nodeCount,
        buildMs: t1 - t0,
        loadMs: r.loadMs,
        layoutMs: r.layoutMs,
        insertMs: t3 - t2,
        totalMs: t3 - this.renderStart,
        cached: r.cached
      };
      // timings for benchmarks and tests, read from the page
      const ds = this.node.dataset;
      ds.renderMs = this.lastTiming.totalMs.toFixed(1);
      ds.buildMs = this.lastTiming.buildMs.toFixed(1);
      ds.loadMs = this.lastTiming.loadMs.toFixed(1);
      ds.layoutMs = this.lastTiming.layoutMs.toFixed(1);
      ds.workerMs = (t2 - t1).toFixed(1);
      ds.insertMs = this.lastTiming.insertMs.toFixed(1);
      ds.drawnNodes = String(model.nodeCount);
      this.statusEl.textContent = `${model.nodeCount} of ${doc.nodes.length} nodes drawn`;
      this.statusEl.title = `layout ${r.layoutMs.toFixed(0)} ms, total ${this.lastTiming.totalMs.toFixed(0)} ms`;
      this.showMessage('');
      this.events.rendered?.(this.lastTiming);
      this.node.dispatchEvent(new CustomEvent('pellucid-rendered', { detail: this.lastTiming }));
    } catch (err) {
      this.showMessage(`Could not draw the graph: ${err instanceof Error ? err.message : String(err)}`, true);
    } finally {
      this.busy = false;
      this.node.classList.remove('pellucid-busy');
      if (this.queued) {
        this.queued = false;
        this.requestRender();
      }
    }
  }

  /** Put Graphviz's SVG on the page: parsed as XML (never as HTML), stripped of anything active,
   * with generated ids replaced by `data-*` attributes set through the DOM. */
  private install(svgText: string, model: VisModel, doc: GraphDoc): void {
    const parsed = new DOMParser().parseFromString(svgText, 'image/svg+xml');
    const root = parsed.documentElement;
    if (root.nodeName.toLowerCase() !== 'svg' || parsed.getElementsByTagName('parsererror').length) {
      throw new Error('Graphviz produced an unreadable drawing');
    }
    sanitize(root);
    // everything below works on the detached drawing: the page restyles and lays out once
    const svg = document.adoptNode(root) as unknown as SVGSVGElement;
    const vb = (svg.getAttribute('viewBox') || '').trim().split(/[\s,]+/).map(Number);
    const w = vb.length === 4 && vb[2] > 0 ? vb[2] : parseFloat(svg.getAttribute('width') || '0');
    const hgt = vb.length === 4 && vb[3] > 0 ? vb[3] : parseFloat(svg.getAttribute('height') || '0');
    svg.setAttribute('width', String(w));
    svg.setAttribute('height', String(hgt));
    svg.removeAttribute('id');
    svg.classList.add('pellucid-svg');
    const nodeEls = new Map<string, SVGGElement>();
    const edgeEls = new Map<string, SVGGElement>();
    const top = Array.from(svg.children).find(c => c.tagName.toLowerCase() === 'g');
    this.drawingMatrix = null;
    if (top) {
      top.removeAttribute('id');
      const list = (top as SVGGElement).transform ? (top as SVGGElement).transform.baseVal : null;
      const t = list && list.numberOfItems ? list.consolidate() : null;
      this.drawingMatrix = t ? t.matrix : null;
      // Graphviz paints a background; the theme provides one
      for (const c of Array.from(top.children)) {
        const tag = c.tagName.toLowerCase();
        if (tag === 'title' || tag === 'polygon') {
          c.remove();
          continue;
        }
        if (tag !== 'g') {
          continue;
        }
        const g = c as SVGGElement;
        const cls = g.getAttribute('class') || '';
        let titleEl: Element | null = null;
        for (const x of Array.from(g.children)) {
          if (x.tagName.toLowerCase() === 'title') {
            titleEl = x;
            break;
          }
        }
        const name = titleEl ? titleEl.textContent || '' : '';
        if (titleEl) {
          // tooltips after the drawing, so a search for a label's text finds the visible text first
          g.appendChild(titleEl);
        }
        g.removeAttribute('id');
        if (cls === 'node') {
          const v = model.nodes.get(name);
          if (!v) {
            continue;
          }
          g.setAttribute('data-node-id', v.id);
          g.setAttribute('data-kind', v.kind);
          if (v.path !== undefined) {
            g.setAttribute('data-module', v.path);
          }
          shapeOf(g)?.classList.add('pellucid-shape');
          if (titleEl) {
            titleEl.textContent = tooltip(doc, v);
          }
          nodeEls.set(v.gid, g);
        } else if (cls === 'cluster') {
          const cl = model.clusters.get(name.replace(/^cluster_/, ''));
          if (!cl) {
            continue;
          }
          g.setAttribute('data-module', cl.path);
          shapeOf(g)?.classList.add('pellucid-cluster-shape');
          if (titleEl) {
            titleEl.textContent = `${cl.path}\ndouble-click to collapse`;
          }
        } else if (cls === 'edge') {
          const keys = model.edges.get(name);
          if (!keys) {
            continue;
          }
          if (titleEl) {
            titleEl.textContent = keys
              .map(k => {
                const t = doc.tensors[k];
                return t ? `${t.name || k} ${fmtShape(t.shape)}` : k;
              })
              .join('\n');
          }
          edgeEls.set(name, g);
        }
      }
    }
    this.svg = svg;
    this.model = model;
    this.modelDoc = doc;
    this.nodeEls = nodeEls;
    this.edgeEls = edgeEls;
    this.size = { w, h: hgt };
    this.followed = '';
    this.restyle();
    if (!this.userMoved) {
      this.fit();
    } else {
      this.applyTransform();
    }
    clear(this.stage);
    this.stage.appendChild(svg);
    this.followCurrent();
  }

  /** Classes and colours for the current cursor, statistic and selection. */
  private restyle(): void {
    const doc = this.modelDoc;
    const model = this.model;
    if (!doc || !model) {
      return;
    }
    const k = this.opts.cursor !== null && this.opts.cursor !== undefined ? this.opts.cursor : typeof doc.cursor === 'number' ? doc.cursor : null;
    const colorBy = this.opts.colorBy;
    const metrics = new Map<string, number>();
    let lo = Infinity;
    let hi = -Infinity;
    for (const [gid, v] of model.nodes) {
      let m: number | null = null;
      for (const n of v.members) {
        const x = nodeMetric(doc, n, colorBy);
        if (x !== null && (m === null || x > m)) {
          m = x;
        }
      }
      if (m !== null) {
        metrics.set(gid, m);
        lo = Math.min(lo, m);
        hi = Math.max(hi, m);
      }
    }
    const sel = this.opts.selected;
    const stateOf = new Map<string, NodeState>();
    for (const [gid, v] of model.nodes) {
      const el = this.nodeEls.get(gid);
      const states = v.members.map(n => memberState(doc, n, k));
      // a collapsed module is pending until one of its ops ran (its parameters always exist)
      const opStates = states.filter((_, i) => v.members[i].kind === 'op');
      const st: NodeState = {
        pending: opStates.length > 0 ? opStates.every(x => x.pending) : states.length > 0 && states.every(x => x.pending),
        current: states.some(x => x.current),
        grad: states.some(x => x.grad),
        nonfinite: states.some(x => x.nonfinite)
      };
      stateOf.set(gid, st);
      if (!el) {
        continue;
      }
      const classes = ['node', `pellucid-kind-${v.kind}`];
      if (st.pending) {
        classes.push('pellucid-pending');
      } else {
        classes.push('pellucid-computed');
      }
      if (st.current) {
        classes.push('pellucid-current');
      }
      if (st.grad) {
        classes.push('pellucid-grad');
      }
      if (st.nonfinite) {
        classes.push('pellucid-nonfinite');
      }
      if (sel && (v.id === sel || v.members.some(n => n.id === sel))) {
        classes.push('pellucid-selected');
      }
      el.setAttribute('class', classes.join(' '));
      const shape = el.querySelector('.pellucid-shape') as SVGElement | null;
      const m = metrics.get(gid);
      if (shape && m !== undefined) {
        // mixed with the theme's background, so the theme's text colour stays readable on it
        shape.style.fill = themed(scaleColor(hi > lo ? (m - lo) / (hi - lo) : 0.5));
        el.setAttribute('data-metric', String(m));
      } else {
        if (shape) {
          shape.style.fill = '';
        }
        el.removeAttribute('data-metric');
      }
    }
    for (const [name, g] of this.edgeEls) {
      const keys = model.edges.get(name) || [];
      const [a] = name.split('->');
      const src = stateOf.get(a);
      const own = k === null || k === doc.cursor;
      const arrived = keys.some(key => {
        const t = doc.tensors[key];
        if (!t) {
          return false;
        }
        return own ? !!t.grad_arrived : typeof t.grad_step === 'number' && t.grad_step <= (k as number);
      });
      const classes = ['edge'];
      if (src && src.pending) {
        classes.push('pellucid-pending');
      }
      if (arrived) {
        classes.push('pellucid-grad');
      }
      g.setAttribute('class', classes.join(' '));
    }
    this.renderLegend(colorBy, lo, hi);
  }

  private renderLegend(colorBy: ColorBy, lo: number, hi: number): void {
    clear(this.legend);
    if (colorBy === 'none' || !Number.isFinite(lo)) {
      if (colorBy !== 'none') {
        this.legend.appendChild(h('span', { class: 'pellucid-muted' }, `no ${COLOR_BY_LABEL[colorBy]} recorded`));
      }
      return;
    }
    const log = colorBy === 'grad' || colorBy === 'norm';
    const show = (x: number) => fmt(log ? Math.pow(10, x) : x, 3);
    const bar = h('span', { class: 'pellucid-legend-bar' });
    bar.style.background = scaleGradientCss(true);
    this.legend.append(
      h('span', {}, COLOR_BY_LABEL[colorBy] + ' '),
      h('span', { class: 'pellucid-legend-lo' }, show(lo)),
      bar,
      h('span', { class: 'pellucid-legend-hi' }, show(hi))
    );
  }

  private applyTransform(): void {
    this.stage.style.transform = `translate(${this.t.x}px, ${this.t.y}px) scale(${this.t.k})`;
    this.node.dataset.zoom = this.t.k.toFixed(4);
  }

  private zoomAt(px: number, py: number, factor: number): void {
    const k = Math.max(MIN_SCALE, Math.min(MAX_SCALE, this.t.k * factor));
    const f = k / this.t.k;
    this.t = { k, x: px - (px - this.t.x) * f, y: py - (py - this.t.y) * f };
    this.userMoved = true;
    this.applyTransform();
  }

  private onWheel = (ev: WheelEvent): void => {
    if (!this.svg) {
      return;
    }
    ev.preventDefault();
    const r = this.viewport.getBoundingClientRect();
    const scale = ev.deltaMode === 1 ? 16 : ev.deltaMode === 2 ? 100 : 1;
    this.zoomAt(ev.clientX - r.left, ev.clientY - r.top, Math.exp(-ev.deltaY * scale * 0.0015));
  };

  private onPointerDown = (ev: PointerEvent): void => {
    if (ev.button !== 0) {
      return;
    }
    this.drag = { x: ev.clientX, y: ev.clientY, tx: this.t.x, ty: this.t.y, moved: false, id: ev.pointerId };
  };

  private onPointerMove = (ev: PointerEvent): void => {
    const d = this.drag;
    if (!d || d.id !== ev.pointerId) {
      return;
    }
    const dx = ev.clientX - d.x;
    const dy = ev.clientY - d.y;
    if (!d.moved && Math.hypot(dx, dy) < DRAG_THRESHOLD) {
      return;
    }
    if (!d.moved) {
      d.moved = true;
      // capture only once it is a drag, so clicks and double-clicks keep their targets
      this.viewport.setPointerCapture(ev.pointerId);
      this.node.classList.add('pellucid-dragging');
    }
    this.t = { ...this.t, x: d.tx + dx, y: d.ty + dy };
    this.userMoved = true;
    this.applyTransform();
  };

  private onPointerUp = (ev: PointerEvent): void => {
    const d = this.drag;
    this.drag = null;
    if (!d || d.id !== ev.pointerId) {
      return;
    }
    if (d.moved) {
      this.node.classList.remove('pellucid-dragging');
      if (this.viewport.hasPointerCapture(ev.pointerId)) {
        this.viewport.releasePointerCapture(ev.pointerId);
      }
      return;
    }
    this.viewport.focus({ preventScroll: true });
    const g = (ev.target as Element).closest ? (ev.target as Element).closest('g.node') : null;
    if (!g) {
      return;
    }
    // a collapsed module is selected as `mod:<path>`: the inspector lists what it holds
    const id = g.getAttribute('data-node-id') || '';
    this.update({ selected: id });
    this.events.select?.(id);
  };

  private onDoubleClick = (ev: MouseEvent): void => {
    const target = ev.target as Element;
    if (!target.closest) {
      return;
    }
    const node = target.closest('g.node');
    if (node) {
      const path = node.getAttribute('data-module');
      if (node.getAttribute('data-kind') === 'module' && path !== null) {
        ev.preventDefault();
        this.toggleModule(path, true);
      }
      return;
    }
    const cluster = target.closest('g.cluster');
    const path = cluster && cluster.getAttribute('data-module');
    if (path) {
      ev.preventDefault();
      this.toggleModule(path, false);
    }
  };

  private onKeyDown = (ev: KeyboardEvent): boolean => {
    if (ev.altKey || ev.ctrlKey || ev.metaKey) {
      return false;
    }
    const vw = this.viewport.clientWidth;
    const vh = this.viewport.clientHeight;
    if (ev.key === '+' || ev.key === '=') {
      this.zoomAt(vw / 2, vh / 2, 1.25);
    } else if (ev.key === '-') {
      this.zoomAt(vw / 2, vh / 2, 0.8);
    } else if (ev.key === '0') {
      this.userMoved = false;
      this.fit();
    } else {
      return false;
    }
    return true;
  };
}
