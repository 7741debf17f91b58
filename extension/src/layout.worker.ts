/**
 * Graphviz (WebAssembly) in a Web Worker: DOT in, SVG out, so laying out large graphs never
 * blocks the page. The WebAssembly module is loaded once, on the first request.
 *
 * The browser first runs WebAssembly with baseline code and optimises the functions that turn
 * out hot; a large graph laid out on cold code takes 2-5 times longer. So once the first request
 * is answered the worker lays out a few small synthetic graphs while idle, and the first large
 * graph meets optimised code.
 */
import { Graphviz } from '@hpcc-js/wasm-graphviz';

interface LayoutRequest {
  id: number;
  dot: string;
}

interface WorkerScope {
  postMessage(message: unknown): void;
  onmessage: ((ev: MessageEvent<LayoutRequest>) => void) | null;
}

const scope = self as unknown as WorkerScope;
let graphviz: Promise<Graphviz> | null = null;
let requests = 0;

const WARM_UP_ROUNDS = 4;
const WARM_UP_NODES = 60;

/** A graph shaped like a recording: a chain of ops with shape labels, skip connections, tensor
 * nodes and a module cluster. */
function warmUpDot(n: number): string {
  const lines = ['digraph { graph [splines=polyline]; node [shape=box, style="rounded,filled"];', 'subgraph cluster_m { label="m";'];
  for (let i = 0; i < n / 2; i++) {
    lines.push(`n${i} [label="op ${i}\\n3x4"];`);
  }
  lines.push('}');
  for (let i = n / 2; i < n; i++) {
    lines.push(`n${i} [shape=ellipse, label="t${i}"];`);
  }
  for (let i = 1; i < n; i++) {
    lines.push(`n${i - 1} -> n${i} [label="3x4"];`);
    if (i >= 4 && i % 4 === 0) {
      lines.push(`n${i - 3} -> n${i};`);
    }
  }
  lines.push('}');
  return lines.join('\n');
}

async function warmUp(gv: Graphviz): Promise<void> {
  const dot = warmUpDot(WARM_UP_NODES);
  for (let round = 0; round < WARM_UP_ROUNDS; round++) {
    // give waiting requests their turn between rounds; real work warms the code up as well
    await new Promise(resolve => setTimeout(resolve, 0));
    if (requests > 1) {
      return;
    }
    gv.layout(dot, 'svg', 'dot');
  }
}

scope.onmessage = async (ev: MessageEvent<LayoutRequest>) => {
  const { id, dot } = ev.data;
  requests++;
  try {
    const t0 = performance.now();
    if (!graphviz) {
      graphviz = Graphviz.load();
    }
    const gv = await graphviz;
    const t1 = performance.now();
    const svg = gv.layout(dot, 'svg', 'dot');
    scope.postMessage({ id, svg, loadMs: t1 - t0, layoutMs: performance.now() - t1 });
    if (requests === 1) {
      void warmUp(gv);
    }
  } catch (err) {
    scope.postMessage({ id, error: err instanceof Error ? err.message : String(err) });
  }
};
