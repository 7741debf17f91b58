/**
 * The page side of the layout worker: one worker shared by every view, requests answered in
 * order, and a small cache so re-showing a drawing (undoing an expand, re-running a cell with the
 * same graph) costs nothing.
 */

export interface LayoutResult {
  svg: string;
  /** Time spent loading the WebAssembly module (first request only). */
  loadMs: number;
  /** Time Graphviz spent laying out and writing SVG. */
  layoutMs: number;
  cached: boolean;
}

interface Pending {
  resolve: (r: LayoutResult) => void;
  reject: (e: Error) => void;
}

const CACHE_SIZE = 12;

class LayoutClient {
  private worker: Worker | null = null;
  private nextId = 1;
  private pending = new Map<number, Pending>();
  private cache = new Map<string, LayoutResult>();

  layout(dot: string): Promise<LayoutResult> {
    const hit = this.cache.get(dot);
    if (hit) {
      // refresh its place in the LRU order
      this.cache.delete(dot);
      this.cache.set(dot, hit);
      return Promise.resolve({ ...hit, loadMs: 0, layoutMs: 0, cached: true });
    }
    const worker = this.ensureWorker();
    const id = this.nextId++;
    return new Promise<LayoutResult>((resolve, reject) => {
      this.pending.set(id, {
        resolve: r => {
          this.cache.set(dot, r);
          while (this.cache.size > CACHE_SIZE) {
            this.cache.delete(this.cache.keys().next().value as string);
          }
          resolve(r);
        },
        reject
      });
      worker.postMessage({ id, dot });
    });
  }

  private ensureWorker(): Worker {
    if (!this.worker) {
      // webpack turns this into a separate worker bundle that carries Graphviz
      const w = new Worker(new URL('./layout.worker.js', import.meta.url));
      w.onmessage = (ev: MessageEvent) => {
        const data = ev.data as { id: number; svg?: string; error?: string; loadMs?: number; layoutMs?: number };
        const p = this.pending.get(data.id);
        if (!p) {
          return;
        }
        this.pending.delete(data.id);
        if (data.error !== undefined || data.svg === undefined) {
          p.reject(new Error(data.error || 'Graphviz returned no drawing'));
        } else {
          p.resolve({ svg: data.svg, loadMs: data.loadMs || 0, layoutMs: data.layoutMs || 0, cached: false });
        }
      };
      w.onerror = (ev: ErrorEvent) => {
        const err = new Error(`the graph layout worker failed: ${ev.message || 'unknown error'}`);
        for (const p of this.pending.values()) {
          p.reject(err);
        }
        this.pending.clear();
        w.terminate();
        this.worker = null;
      };
      this.worker = w;
    }
    return this.worker;
  }
}

let client: LayoutClient | null = null;

/** Lay out DOT text in the shared worker. */
export function layoutDot(dot: string): Promise<LayoutResult> {
  if (!client) {
    client = new LayoutClient();
  }
  return client.layout(dot);
}
