/**
 * ipywidgets 8 front ends of `pellucid_widgets`: GraphModel/GraphView, StepperModel/StepperView,
 * GradientModel/GradientView (module `pellucid-jupyterlab`). The kernel produces the data; these
 * views render it and report clicks, expansions and stepper actions back through traits and
 * custom messages.
 */
import { DOMWidgetModel, DOMWidgetView } from '@jupyter-widgets/base';
import { asColorBy } from './colors';
import { h } from './dom';
import { GradientTable } from './gradients';
import { GraphView as GraphDrawing, GraphViewEvents, GraphViewOptions } from './graphview';
import { InspectorData, localInspector, renderInspector } from './inspector';
import { StepAction, StepperControls } from './stepper';
import { MODULE_NAME, MODULE_VERSION } from './version';

function base(model: string, view: string) {
  return {
    _model_name: model,
    _model_module: MODULE_NAME,
    _model_module_version: MODULE_VERSION,
    _view_name: view,
    _view_module: MODULE_NAME,
    _view_module_version: MODULE_VERSION
  };
}

function intOr(x: unknown, d: number): number {
  return typeof x === 'number' && Number.isFinite(x) ? Math.trunc(x) : d;
}

function strList(x: unknown): string[] {
  return Array.isArray(x) ? x.map(String) : [];
}

export class GraphModel extends DOMWidgetModel {
  defaults() {
    return {
      ...super.defaults(),
      ...base('GraphModel', 'GraphView'),
      graph: {},
      cursor: null,
      depth: 1,
      expanded: [],
      color_by: 'grad',
      selected: '',
      inspector: {},
      height: 420
    };
  }
}

/** The graph traits shared by GraphModel and StepperModel (the stepper embeds a graph view),
 * wired to a drawing and an inspector element. */
class GraphBinding {
  private localSelection = '';

  constructor(
    private readonly view: DOMWidgetView,
    private readonly drawing: () => GraphDrawing | null,
    private readonly inspectorEl: () => HTMLElement | null
  ) {}

  get events(): GraphViewEvents {
    return {
      select: id => this.onSelect(id),
      expandedChanged: list => this.save({ expanded: list }),
      colorByChanged: c => this.save({ color_by: c }),
      depthChanged: d => this.save({ depth: d })
    };
  }

  options(): Partial<GraphViewOptions> {
    const m = this.view.model;
    const cursor = m.get('cursor');
    return {
      cursor: typeof cursor === 'number' ? cursor : null,
      depth: intOr(m.get('depth'), 1),
      expanded: strList(m.get('expanded')),
      colorBy: asColorBy(m.get('color_by')),
      selected: String(m.get('selected') || ''),
      height: intOr(m.get('height'), 420)
    };
  }

  /** Follow the model: graph, view options and the kernel's inspector. */
  listen(): void {
    const m = this.view.model;
    this.view.listenTo(m, 'change:graph', () => this.drawing()?.setGraph(m.get('graph')));
    this.view.listenTo(m, 'change:cursor change:depth change:expanded change:color_by change:selected change:height', () =>
      this.drawing()?.update(this.options())
    );
    this.view.listenTo(m, 'change:inspector', () => this.renderInspector());
  }

  private save(values: { [k: string]: unknown }): void {
    this.view.model.set(values);
    this.view.touch();
  }

  private onSelect(id: string): void {
    const el = this.inspectorEl();
    const drawing = this.drawing();
    if (!el || !drawing) {
      return;
    }
    // show what the page knows at once; the kernel's answer (with heatmaps) replaces it
    this.localSelection = id;
    renderInspector(el, localInspector(drawing.graph, id));
    if (String(this.view.model.get('selected') || '') === id) {
      this.localSelection = '';
      this.renderInspector();
    } else {
      this.save({ selected: id });
    }
  }

  renderInspector(): void {
    const el = this.inspectorEl();
    if (!el) {
      return;
    }
    const m = this.view.model;
    const data = m.get('inspector') as InspectorData | null;
    const selected = String(m.get('selected') || '');
    if (data && typeof data === 'object' && Object.keys(data).length) {
      this.localSelection = '';
      renderInspector(el, data);
    } else if (!this.localSelection) {
      const drawing = this.drawing();
      renderInspector(el, selected ? localInspector(drawing ? drawing.graph : null, selected) : null);
    }
  }
}

export class GraphView extends DOMWidgetView {
  private drawing: GraphDrawing | null = null;
  private inspectorEl: HTMLDivElement | null = null;

  render(): void {
    this.el.classList.add('pellucid-widget', 'pellucid-graph-widget');
    const binding = new GraphBinding(this, () => this.drawing, () => this.inspectorEl);
    this.inspectorEl = h('div', { class: 'pellucid-inspector' });
    this.drawing = new GraphDrawing(binding.events, binding.options());
    this.el.append(h('div', { class: 'pellucid-graph-layout' }, this.drawing.node, this.inspectorEl));
    this.drawing.setGraph(this.model.get('graph'));
    binding.renderInspector();
    binding.listen();
  }

  remove(): void {
    this.drawing?.dispose();
    this.drawing = null;
    super.remove();
  }
}

export class StepperModel extends DOMWidgetModel {
  defaults() {
    return {
      ...super.defaults(),
      ...base('StepperModel', 'StepperView'),
      graph: {},
      cursor: 0,
      n_steps: 0,
      step: {},
      status: 'recorded',
      pause_reason: '',
      breakpoints: []
    };
  }
}

export class StepperView extends DOMWidgetView {
  private controls: StepperControls | null = null;

  render(): void {
    this.el.classList.add('pellucid-widget', 'pellucid-stepper-widget');
    const binding = new GraphBinding(
      this,
      () => (this.controls ? this.controls.graphView : null),
      () => (this.controls ? this.controls.inspector : null)
    );
    this.controls = new StepperControls((action, k) => this.onAction(action, k), binding.events, binding.options());
    this.el.appendChild(this.controls.node);
    this.controls.setGraph(this.model.get('graph'));
    this.sync();
    binding.renderInspector();
    binding.listen();
    this.listenTo(this.model, 'change:cursor change:n_steps change:step change:status change:pause_reason change:breakpoints', () => this.sync());
  }

  remove(): void {
    this.controls?.dispose();
    this.controls = null;
    super.remove();
  }

  private sync(): void {
    const step = this.model.get('step');
    this.controls?.setState({
      cursor: intOr(this.model.get('cursor'), 0),
      nSteps: intOr(this.model.get('n_steps'), 0),
      step: step && typeof step === 'object' && Object.keys(step).length ? step : null,
      status: String(this.model.get('status') || 'recorded'),
      pauseReason: String(this.model.get('pause_reason') || ''),
      breakpoints: strList(this.model.get('breakpoints'))
    });
  }

  private onAction(action: StepAction, k?: number): void {
    this.send({ action, k: k ?? intOr(this.model.get('cursor'), 0) });
  }
}

export class GradientModel extends DOMWidgetModel {
  defaults() {
    return {
      ...super.defaults(),
      ...base('GradientModel', 'GradientView'),
      norms: {},
      flags: {},
      dead_relu: {},
      hist: {}
    };
  }
}

export class GradientView extends DOMWidgetView {
  private table: GradientTable | null = null;

  render(): void {
    this.el.classList.add('pellucid-widget', 'pellucid-gradients-widget');
    this.table = new GradientTable();
    this.el.appendChild(this.table.node);
    this.sync();
    this.listenTo(this.model, 'change:norms change:flags change:dead_relu change:hist', () => this.sync());
  }

  private sync(): void {
    this.table?.setData({
      norms: this.model.get('norms') || {},
      flags: this.model.get('flags') || {},
      dead_relu: this.model.get('dead_relu') || {},
      hist: this.model.get('hist') || {}
    });
  }
}
