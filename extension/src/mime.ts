/**
 * A rendermime extension for `application/vnd.pellucid.graph+json`, so a saved notebook shows its
 * recorded graphs without a kernel: the graph, its inspector (built from the document) and pan,
 * zoom and expand. It renders data only (no code runs), so it is safe in untrusted notebooks.
 * The output's metadata may carry view options: depth, color_by, expanded, height.
 */
import { IRenderMime } from '@jupyterlab/rendermime-interfaces';
import { Widget } from '@lumino/widgets';
import { h } from './dom';
import { asColorBy } from './colors';
import { GraphView, GraphViewOptions } from './graphview';
import { localInspector, renderInspector } from './inspector';
import { MIME_TYPE } from './schema';

export class GraphMimeRenderer extends Widget implements IRenderMime.IRenderer {
  private readonly view: GraphView;
  private readonly inspector: HTMLDivElement;

  constructor() {
    super();
    this.addClass('pellucid-mime');
    this.inspector = h('div', { class: 'pellucid-inspector' });
    this.view = new GraphView({ select: id => renderInspector(this.inspector, localInspector(this.view.graph, id)) }, { height: 420 });
    this.node.appendChild(h('div', { class: 'pellucid-graph-layout' }, this.view.node, this.inspector));
    renderInspector(this.inspector, null);
  }

  renderModel(model: IRenderMime.IMimeModel): Promise<void> {
    // view options may come with the output: {"application/vnd.pellucid.graph+json": {"depth": 2}}
    const meta = (model.metadata && model.metadata[MIME_TYPE]) as { [k: string]: unknown } | undefined;
    if (meta && typeof meta === 'object') {
      const opts: Partial<GraphViewOptions> = {};
      if (typeof meta.depth === 'number') {
        opts.depth = Math.trunc(meta.depth);
      }
      if (typeof meta.color_by === 'string') {
        opts.colorBy = asColorBy(meta.color_by);
      }
      if (Array.isArray(meta.expanded)) {
        opts.expanded = meta.expanded.map(String);
      }
      if (typeof meta.height === 'number') {
        opts.height = meta.height;
      }
      this.view.update(opts);
    }
    this.view.setGraph(model.data[MIME_TYPE]);
    return Promise.resolve();
  }

  dispose(): void {
    this.view.dispose();
    super.dispose();
  }
}

export const rendererFactory: IRenderMime.IRendererFactory = {
  safe: true,
  mimeTypes: [MIME_TYPE],
  createRenderer: () => new GraphMimeRenderer()
};

const extension: IRenderMime.IExtension = {
  id: 'pellucid-jupyterlab:mime',
  description: 'Renders recorded pellucid graphs in notebooks and output files.',
  rendererFactory,
  // ahead of the SVG fallback that the same output also carries
  rank: 0,
  dataType: 'json'
};

export default extension;
