/**
 * From a graph document to what Graphviz lays out: modules collapsed per `depth` / `expanded`,
 * edges merged onto collapsed modules, and DOT text in which every user string is escaped.
 *
 * DOT node names are generated (`n0`, `n1`, ...), never user text, and the DOT carries structure
 * and labels only: colours and states are applied to the SVG afterwards, so moving the cursor or
 * changing `color_by` restyles the drawing without a new layout.
 */
import { fmtShape, GraphDoc, GraphNode } from './schema';

export interface CollapseOptions {
  /** Modules deeper than this are drawn as one node; -1 expands everything. */
  depth: number;
  /** Module paths the user expanded (open even when deeper than `depth`). */
  expanded: string[];
  /** Module paths the user closed in this view (closed even when within `depth`). */
  closed?: Set<string> | string[];
  /** Direction of the data flow: top to bottom, or left to right (for wide views). */
  rankdir?: 'TB' | 'LR';
}

export interface VisNode {
  gid: string;
  /** Node id from the document, or `mod:<path>` for a collapsed module. */
  id: string;
  kind: string;
  /** Label lines (plain text; escaped when written to DOT). */
  lines: string[];
  /** Document nodes drawn as this one (one, or all members of a collapsed module). */
  members: GraphNode[];
  /** The module path of a collapsed module node. */
  path?: string;
}

export interface VisCluster {
  gid: string;
  path: string;
}

export interface VisModel {
  dot: string;
  nodes: Map<string, VisNode>;
  clusters: Map<string, VisCluster>;
  /** Document node id -> the drawn node that shows it. */
  visOf: Map<string, VisNode>;
  /** Drawn edges, by DOT edge name `nA->nB`, with the tensor keys they carry. */
  edges: Map<string, string[]>;
  nodeCount: number;
}

/** Beyond this many drawn nodes, edges lose their shape labels (each one costs layout time). */
export const EDGE_LABEL_LIMIT = 250;
/** Beyond this many drawn nodes, edges are routed as polylines (spline routing dominates). */
export const CHEAP_LAYOUT_LIMIT = 600;
const MAX_LABEL = 40;

/** One line of label text as the body of a DOT string: quotes and backslashes escaped, `&`
 * written as an entity so Graphviz cannot read user text as one, control characters dropped. */
export function dotEscape(text: string): string {
  let t = String(text);
  if (t.length > MAX_LABEL) {
    t = t.slice(0, MAX_LABEL - 1) + '…';
  }
  return t
    .replace(/\\/g, '\\\\')
    .replace(/"/g, '\\"')
    .replace(/&/g, '&amp;')
    .replace(/[\r\n\u2028\u2029]+/g, ' ')
    .replace(/[\u0000-\u001f\u007f]/g, '\uFFFD');
}

/** A quoted DOT label from plain-text lines. */
export function dotLabel(lines: string[]): string {
  return '"' + lines.map(dotEscape).join('\\n') + '"';
}

export function moduleDepth(path: string): number {
  return path ? path.split('.').length : 0;
}

function prefixes(path: string): string[] {
  if (!path) {
    return [];
  }
  const parts = path.split('.');
  const out: string[] = [];
  for (let i = 1; i <= parts.length; i++) {
    out.push(parts.slice(0, i).join('.'));
  }
  return out;
}

function parentOf(path: string): string {
  const i = path.lastIndexOf('.');
  return i < 0 ? '' : path.slice(0, i);
}

function lastPart(path: string): string {
  const i = path.lastIndexOf('.');
  return i < 0 ? path : path.slice(i + 1);
}

/** Whether module `path` is drawn collapsed, given the view's options and the document's own
 * `collapsed` flags. */
export function isCollapsed(
  path: string,
  opts: CollapseOptions,
  docCollapsed: Set<string>
): boolean {
  const closed = opts.closed instanceof Set ? opts.closed : new Set(opts.closed || []);
  if (closed.has(path)) {
    return true;
  }
  if (opts.expanded.includes(path)) {
    return false;
  }
  if (docCollapsed.has(path)) {
    return true;
  }
  return opts.depth >= 0 && moduleDepth(path) > opts.depth;
}

function nodeLines(doc: GraphDoc, n: GraphNode): string[] {
  if (n.kind === 'op') {
    return [n.label || n.op || n.id];
  }
  const t = n.tensor ? doc.tensors[n.tensor] : undefined;
  const lines = [n.label || n.id];
  if (t && t.shape) {
    lines.push(fmtShape(t.shape));
  }
  return lines;
}

const SHAPES: { [kind: string]: string } = {
  op: 'shape=box, style="rounded,filled"',
  param: 'shape=ellipse, style=filled',
  input: 'shape=ellipse, style=filled',
  leaf: 'shape=ellipse, style=filled',
  output: 'shape=ellipse, style=filled, peripheries=2',
  module: 'shape=box3d, style=filled'
};

/** The drawn graph for `doc` under the collapse options, with its DOT text. */
export function buildVisModel(doc: GraphDoc, opts: CollapseOptions): VisModel {
  const docCollapsed = new Set((doc.clusters || []).filter(c => c.collapsed).map(c => c.path));
  const paths = new Set<string>();
  for (const c of doc.clusters || []) {
    if (c.path) {
      prefixes(c.path).forEach(p => paths.add(p));
    }
  }
  for (const n of doc.nodes) {
    prefixes(n.module || '').forEach(p => paths.add(p));
  }
  const collapsedCache = new Map<string, boolean>();
  const collapsed = (p: string) => {
    let v = collapsedCache.get(p);
    if (v === undefined) {
      v = isCollapsed(p, opts, docCollapsed);
      collapsedCache.set(p, v);
    }
    return v;
  };
  // the outermost collapsed module around a path, or null when all of it is open
  const hiddenIn = (path: string): string | null => {
    for (const p of prefixes(path)) {
      if (collapsed(p)) {
        return p;
      }
    }
    return null;
  };

  const nodes = new Map<string, VisNode>();
  const visOf = new Map<string, VisNode>();
  const byContainer = new Map<string, VisNode[]>();
  const modNodes = new Map<string, VisNode>();
  let counter = 0;
  const place = (container: string, v: VisNode) => {
    let list = byContainer.get(container);
    if (!list) {
      byContainer.set(container, (list = []));
    }
    list.push(v);
  };
  for (const n of doc.nodes) {
    const m = n.module || '';
    const hid = m ? hiddenIn(m) : null;
    if (hid !== null) {
      let v = modNodes.get(hid);
      if (!v) {
        v = { gid: `n${counter++}`, id: 'mod:' + hid, kind: 'module', lines: [], members: [], path: hid };
        modNodes.set(hid, v);
        nodes.set(v.gid, v);
        place(parentOf(hid), v);
      }
      v.members.push(n);
      visOf.set(n.id, v);
      continue;
    }
    const v: VisNode = { gid: `n${counter++}`, id: n.id, kind: n.kind, lines: nodeLines(doc, n), members: [n] };
    nodes.set(v.gid, v);
    visOf.set(n.id, v);
    place(m, v);
  }
  for (const v of modNodes.values()) {
    const ops = v.members.filter(m => m.kind === 'op');
    const name = lastPart(v.path || '');
    v.lines = ops.length === 1 ? [name, ops[0].label || ops[0].op || ''] : [name, `${ops.length} ops`];
  }

  const many = nodes.size > CHEAP_LAYOUT_LIMIT;
  const out: string[] = [];
  out.push('digraph pellucid {');
  out.push(
    `graph [rankdir=${opts.rankdir === 'LR' ? 'LR' : 'TB'}, fontname="Helvetica", fontsize=10, nodesep=0.2, ranksep=0.3, pad=0.15, bgcolor="transparent"${
      many ? ', splines=polyline, nslimit=4, mclimit=0.5, searchsize=20' : ''
    }];`
  );
  out.push('node [fontname="Helvetica", fontsize=10, height=0.3, margin="0.08,0.03", fillcolor="#ffffff", color="#777777"];');
  out.push('edge [fontname="Helvetica", fontsize=8, arrowsize=0.6, color="#888888"];');

  const clusters = new Map<string, VisCluster>();
  // child modules drawn as clusters, by parent path
  const childClusters = new Map<string, string[]>();
  for (const p of paths) {
    if (hiddenIn(p) !== null) {
      continue;
    }
    const parent = parentOf(p);
    let list = childClusters.get(parent);
    if (!list) {
      childClusters.set(parent, (list = []));
    }
    list.push(p);
  }
  const hasContent = (p: string): boolean =>
    (byContainer.get(p) || []).length > 0 || (childClusters.get(p) || []).some(hasContent);

  const emit = (path: string, indent: string) => {
    for (const v of byContainer.get(path) || []) {
      out.push(`${indent}${v.gid} [${SHAPES[v.kind] || SHAPES.op}, label=${dotLabel(v.lines)}];`);
    }
    for (const child of (childClusters.get(path) || []).sort()) {
      if (!hasContent(child)) {
        continue;
      }
      const c: VisCluster = { gid: `c${clusters.size}`, path: child };
      clusters.set(c.gid, c);
      out.push(`${indent}subgraph cluster_${c.gid} {`);
      out.push(`${indent}  label=${dotLabel([lastPart(child)])}; style="rounded,dashed"; color="#999999"; fontsize=9;`);
      emit(child, indent + '  ');
      out.push(`${indent}}`);
    }
  };
  emit('', '  ');

  const labels = nodes.size <= EDGE_LABEL_LIMIT;
  const edges = new Map<string, string[]>();
  for (const e of doc.edges) {
    const a = visOf.get(e.source);
    const b = visOf.get(e.target);
    if (!a || !b || a === b) {
      continue;
    }
    const key = `${a.gid}->${b.gid}`;
    const seen = edges.get(key);
    if (seen) {
      if (!seen.includes(e.tensor)) {
        seen.push(e.tensor);
      }
      continue;
    }
    edges.set(key, [e.tensor]);
    out.push(labels ? `  ${a.gid} -> ${b.gid} [label=${dotLabel([fmtShape(e.shape)])}];` : `  ${a.gid} -> ${b.gid};`);
  }
  out.push('}');
  return { dot: out.join('\n'), nodes, clusters, visOf, edges, nodeCount: nodes.size };
}
