/**
 * The Pellucid side panel. The kernel (`pellucid_widgets.panel`) opens comm `pellucid.panel` and
 * sends `{"type": "graph", "graph": ...}` and `{"type": "gradients", ...}` after each cell; the
 * panel keeps the latest of each per notebook and shows the active notebook's: the graph with a
 * stepper over its steps (answered in the page), the inspector, and gradient health.
 */
import { LabIcon } from '@jupyterlab/ui-components';
import { Kernel, KernelMessage } from '@jupyterlab/services';
import { Message } from '@lumino/messaging';
import { Widget } from '@lumino/widgets';
import { h } from './dom';
import { asGradientData, GradientData, GradientTable } from './gradients';
import { asGraphDoc, GraphDoc } from './schema';
import { LocalStepper } from './stepper';

export const PANEL_ID = 'pellucid-panel';
export const COMM_TARGET = 'pellucid.panel';

export const pellucidIcon = new LabIcon({
  name: 'pellucid-jupyterlab:icon',
  svgstr:
    '<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 16 16">' +
    '<g class="jp-icon3" fill="#616161"><circle cx="3" cy="3" r="2"/><circle cx="13" cy="3" r="2"/>' +
    '<circle cx="8" cy="13" r="2"/></g><g class="jp-icon3" fill="none" stroke="#616161" stroke-width="1.2">' +
    '<path d="M3 3 L8 13 M13 3 L8 13 M3 3 L13 3"/></g></svg>'
});

/** What one notebook's kernel has sent. */
export interface PanelState {
  graph: GraphDoc | null;
  gradients: GradientData | null;
  received: number;
}

export function emptyState(): PanelState {
  return { graph: null, gradients: null, received: 0 };
}

/** Fold one comm message into a notebook's state; false when the message is not ours. */
export function applyMessage(state: PanelState, data: unknown): boolean {
  if (!data || typeof data !== 'object') {
    return false;
  }
  const d = data as { [k: string]: unknown };
  if (d.type === 'graph') {
    let g = d.graph;
    if (typeof g === 'string') {
      try {
        g = JSON.parse(g);
      } catch {
        return false;
      }
    }
    state.graph = asGraphDoc(g);
  } else if (d.type === 'gradients') {
    state.gradients = asGradientData(d.gradients && typeof d.gradients === 'object' ? d.gradients : d);
  } else if (d.type === 'clear') {
    state.graph = null;
    state.gradients = null;
  } else {
    return false;
  }
  state.received++;
  return true;
}

export class PellucidPanel extends Widget {
  readonly stepper: LocalStepper;
  private readonly gradients: GradientTable;
  private readonly header: HTMLDivElement;
  private readonly placeholder: HTMLDivElement;
  private readonly content: HTMLDivElement;
  private readonly gradientSection: HTMLElement;
  private lastGraph: GraphDoc | null = null;
  /** Called whenever the panel is shown (the plugin asks the kernel for what it missed). */
  onShown: (() => void) | null = null;

  protected onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    this.onShown?.();
  }

  constructor() {
    super();
    this.id = PANEL_ID;
    this.addClass('pellucid-panel');
    this.title.icon = pellucidIcon;
    this.title.caption = 'Pellucid';
    this.header = h('div', { class: 'pellucid-panel-header' });
    this.placeholder = h(
      'div',
      { class: 'pellucid-placeholder' },
      h('div', { class: 'pellucid-placeholder-title' }, 'No recording yet'),
      h('div', { class: 'pellucid-muted' }, 'Import pellucid_widgets in the notebook and run code inside pellucid.debug.record(): the latest recording shows up here.')
    );
    this.stepper = new LocalStepper({}, { height: 360, depth: 1 });
    this.gradients = new GradientTable();
    this.gradientSection = h('section', { class: 'pellucid-panel-section' }, h('h3', {}, 'Gradients'), this.gradients.node);
    this.content = h(
      'div',
      { class: 'pellucid-panel-content' },
      h('section', { class: 'pellucid-panel-section' }, h('h3', {}, 'Graph'), this.stepper.node),
      this.gradientSection
    );
    this.node.append(this.header, this.placeholder, this.content);
    this.display(null, '');
  }

  /** Show a notebook's state (null: no notebook, or nothing received from its kernel yet). */
  display(state: PanelState | null, title: string): void {
    this.header.textContent = title;
    const graph = state ? state.graph : null;
    const grads = state ? state.gradients : null;
    const hasGrads = !!grads && Object.keys(grads.norms).length + Object.keys(grads.flags).length > 0;
    this.placeholder.style.display = graph || hasGrads ? 'none' : '';
    this.content.style.display = graph || hasGrads ? '' : 'none';
    this.node.dataset.state = graph ? 'graph' : hasGrads ? 'gradients' : 'empty';
    if (graph !== this.lastGraph) {
      // a new recording: the stepper starts over at the document's cursor
      this.stepper.setGraph(graph);
      this.lastGraph = graph;
    }
    this.gradients.setData(grads || {});
    this.gradientSection.style.display = hasGrads ? '' : 'none';
  }
}

type CommHandler = (kernel: Kernel.IKernelConnection, data: unknown) => void;

/** Ask a kernel for its latest recording by opening the comm from the page (a kernel without
 * pellucid_widgets just closes it). The kernel answers with its usual messages; the comm is closed
 * once they arrived, since the kernel's own comm carries everything after that. */
export function requestLatest(kernel: Kernel.IKernelConnection, onData: CommHandler): void {
  const comm = kernel.createComm(COMM_TARGET);
  let closing = 0;
  comm.onMsg = (msg: KernelMessage.ICommMsgMsg) => {
    onData(kernel, msg.content.data);
    if (!closing) {
      closing = window.setTimeout(() => {
        if (!comm.isDisposed) {
          comm.close();
        }
      }, 1000);
    }
  };
  comm.open({ type: 'request' });
}

/** Register the panel's comm target on a kernel (again after every change of kernel). */
export function registerPanelTarget(kernel: Kernel.IKernelConnection, onData: CommHandler): void {
  kernel.registerCommTarget(COMM_TARGET, (comm: Kernel.IComm, open: KernelMessage.ICommOpenMsg) => {
    onData(kernel, open.content.data);
    comm.onMsg = (msg: KernelMessage.ICommMsgMsg) => onData(kernel, msg.content.data);
  });
}
