/**
 * Types of the recorded-graph document (`pellucid.graph`, version 1; see docs/graph-schema.md)
 * and small helpers to read it. Every string in it is user controlled: the views only ever put
 * these strings into text nodes, attribute values or escaped DOT.
 */

/** A number as the document stores it: NaN and infinities are the strings "nan", "inf", "-inf". */
export type Num = number | string | null | undefined;

export interface Histogram {
  counts: number[];
  lo: Num;
  hi: Num;
}

export interface Summary {
  count?: number;
  min?: Num;
  max?: Num;
  mean?: Num;
  std?: Num;
  norm?: Num;
  nan?: number;
  inf?: number;
  sampled?: number;
  true?: number;
  hist?: Histogram;
}

export interface SourceRef {
  file: string;
  line: number;
  function?: string;
  /** "In[3]" for a notebook cell (whose file is a temporary name), else the base name */
  label?: string;
}

export interface TensorInfo {
  key: string;
  name?: string | null;
  kind?: string;
  shape?: number[];
  dtype?: string;
  device?: string;
  requires_grad?: boolean;
  produced_by?: number | null;
  summary?: Summary | null;
  grad?: Summary | null;
  grad_step?: number | null;
  computed?: boolean;
  grad_arrived?: boolean;
}

export interface GraphNode {
  id: string;
  kind: string;
  label: string;
  op?: string;
  module?: string;
  source?: SourceRef | null;
  step?: number | null;
  backward_step?: number | null;
  state?: string;
  backward_state?: string | null;
  wall?: number;
  outputs?: string[];
  nonfinite?: number;
  relu_dead?: number | null;
  tensor?: string;
}

export interface GraphEdge {
  source: string;
  target: string;
  tensor: string;
  shape?: number[];
}

export interface Cluster {
  id: string;
  path: string;
  label?: string;
  parent?: string;
  depth?: number;
  nodes?: string[];
  collapsed?: boolean;
}

export interface Step {
  index: number;
  phase: string;
  op: string;
  node?: string | null;
  module?: string;
  source?: SourceRef | null;
  forward_step?: number | null;
  nonfinite?: number;
  inputs?: (string | null)[];
  outputs?: (string | null)[];
  grads_out?: [string, Summary][];
  source_text?: string;
  /** The kernel's own label for the step ("step 7 / 21 · backward · MulBackward0"). */
  label?: string;
}

export interface GraphDoc {
  schema: string;
  version: number;
  iteration?: number;
  cursor?: number | null;
  loss?: Num;
  nodes: GraphNode[];
  edges: GraphEdge[];
  tensors: { [key: string]: TensorInfo };
  clusters?: Cluster[];
  steps?: Step[];
  dropped?: unknown[];
}

export const SCHEMA = 'pellucid.graph';
export const MIME_TYPE = 'application/vnd.pellucid.graph+json';

/** A graph document, or null when `x` is empty or not one (widgets start with `{}`). */
export function asGraphDoc(x: unknown): GraphDoc | null {
  if (!x || typeof x !== 'object') {
    return null;
  }
  const g = x as Partial<GraphDoc>;
  if (!Array.isArray(g.nodes) || !Array.isArray(g.edges)) {
    return null;
  }
  return {
    ...(g as GraphDoc),
    tensors: g.tensors && typeof g.tensors === 'object' ? g.tensors : {},
    clusters: Array.isArray(g.clusters) ? g.clusters : [],
    steps: Array.isArray(g.steps) ? g.steps : []
  };
}

export function toNumber(x: Num): number {
  if (typeof x === 'number') {
    return x;
  }
  if (x === 'nan') {
    return NaN;
  }
  if (x === 'inf') {
    return Infinity;
  }
  if (x === '-inf') {
    return -Infinity;
  }
  return NaN;
}

/** A short, readable number: 4 significant digits, exponent form when very large or small. */
export function fmt(x: Num, digits = 4): string {
  if (x === null || x === undefined) {
    return '–';
  }
  const v = toNumber(x);
  if (Number.isNaN(v)) {
    return 'nan';
  }
  if (!Number.isFinite(v)) {
    return v > 0 ? 'inf' : '-inf';
  }
  if (v === 0) {
    return '0';
  }
  const a = Math.abs(v);
  if (Number.isInteger(v) && a < 1e6) {
    return String(v);
  }
  if (a >= 1e5 || a < 1e-3) {
    return v.toExponential(Math.max(0, digits - 2));
  }
  return String(Number(v.toPrecision(digits)));
}

export function fmtShape(shape: number[] | null | undefined): string {
  if (!shape) {
    return '?';
  }
  return shape.length ? shape.join('×') : 'scalar';
}

/** How to name a source location: a notebook cell as In[n], a file by its base name. */
export function sourceName(src: SourceRef): string {
  return src.label || baseName(src.file);
}

/** The file name without its directories (the full path goes into a tooltip). */
export function baseName(file: string): string {
  const i = Math.max(file.lastIndexOf('/'), file.lastIndexOf('\\'));
  return i >= 0 ? file.slice(i + 1) : file;
}

/** The tensor a node stands for: its first output for an op, its own tensor otherwise. */
export function nodeTensor(doc: GraphDoc, node: GraphNode): TensorInfo | null {
  const key = node.kind === 'op' ? (node.outputs || [])[0] : node.tensor;
  return key ? doc.tensors[key] || null : null;
}

/** Label of a step as the stepper shows it: "step 7 / 21 · backward · MulBackward0". */
export function stepLabel(step: Step | null | undefined, cursor: number, nSteps: number): string {
  if (!nSteps || cursor < 0) {
    return 'no steps';
  }
  const parts = [`step ${cursor + 1} / ${nSteps}`];
  if (step) {
    parts.push(step.phase);
    parts.push(step.phase === 'forward' ? step.op : step.node || step.op);
  }
  return parts.join(' · ');
}
