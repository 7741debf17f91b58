/**
 * Graphviz (WebAssembly) in a Web Worker: DOT in, SVG out, so laying out large graphs never
 * blocks the page. The WebAssembly module is loaded once, on the first request.
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

scope.onmessage = async (ev: MessageEvent<LayoutRequest>) => {
  const { id, dot } = ev.data;
  try {
    const t0 = performance.now();
    if (!graphviz) {
      graphviz = Graphviz.load();
    }
    const gv = await graphviz;
    const t1 = performance.now();
    const svg = gv.layout(dot, 'svg', 'dot');
    scope.postMessage({ id, svg, loadMs: t1 - t0, layoutMs: performance.now() - t1 });
  } catch (err) {
    scope.postMessage({ id, error: err instanceof Error ? err.message : String(err) });
  }
};
