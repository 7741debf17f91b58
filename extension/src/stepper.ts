/**
 * The stepper: buttons, a step slider and keyboard shortcuts to walk a recording forward and
 * backward, the current step's label and source line, and the graph with the current op
 * outlined. It only reports actions; who answers them (the kernel for the widget, the page for
 * the side panel) updates the state.
 */
import { captureKeys, h, s } from './dom';
import { GraphView, GraphViewEvents, GraphViewOptions } from './graphview';
import { localInspector, renderInspector } from './inspector';
import { asGraphDoc, GraphDoc, sourceName, Step, stepLabel } from './schema';

export type StepAction =
  | 'first'
  | 'prev'
  | 'next'
  | 'last'
  | 'step_over'
  | 'run'
  | 'run_back'
  | 'goto'
  | 'resume'
  | 'step_live'
  | 'stop';

export interface StepperState {
  cursor: number;
  nSteps: number;
  step: Step | null;
  status: string;
  pauseReason: string;
  breakpoints: string[];
}

// button icons as SVG path data in a 16x16 box (icon fonts and emoji are not always installed)
const ICONS: { [action: string]: string } = {
  first: 'M3 3h2v10H3z M13 3v10L6 8z',
  run_back: 'M8 3v10L2 8z M14 3v10L8 8z',
  prev: 'M11 3v10L4 8z',
  next: 'M5 3v10l7-5z',
  step_over: 'M2 11a6 6 0 0 1 11.2-3H15l-3 4-3-4h2.1A4 4 0 0 0 4 11z',
  run: 'M2 3v10l6-5z M8 3v10l6-5z',
  last: 'M3 3v10l7-5z M11 3h2v10h-2z'
};

const BUTTONS: [StepAction, string, string][] = [
  ['first', 'first', 'First step (Home)'],
  ['run_back', 'run back', 'Run back to the previous breakpoint'],
  ['prev', 'prev', 'Previous step (←)'],
  ['next', 'next', 'Next step (→)'],
  ['step_over', 'step over', 'Step over the current module (o)'],
  ['run', 'run', 'Run to the next breakpoint (r)'],
  ['last', 'last', 'Last step (End)']
];

const LIVE_BUTTONS: [StepAction, string, string][] = [
  ['resume', 'resume', 'Resume the paused run'],
  ['step_live', 'step', 'Run one more op of the paused run'],
  ['stop', 'stop', 'Stop the run']
];

const KEYS: { [key: string]: StepAction } = {
  ArrowRight: 'next',
  ArrowLeft: 'prev',
  Home: 'first',
  End: 'last',
  o: 'step_over',
  r: 'run'
};

/** Send slider moves at most this often (the final position is always sent). */
const SLIDER_INTERVAL_MS = 60;

export class StepperControls {
  readonly node: HTMLDivElement;
  readonly graphView: GraphView;
  private readonly onAction: (action: StepAction, k?: number) => void;
  private readonly buttons = new Map<StepAction, HTMLButtonElement>();
  private readonly slider: HTMLInputElement;
  private readonly label: HTMLDivElement;
  private readonly source: HTMLDivElement;
  private readonly statusEl: HTMLDivElement;
  private readonly breakpointsEl: HTMLDivElement;
  readonly inspector: HTMLDivElement;
  private state: StepperState = { cursor: 0, nSteps: 0, step: null, status: 'recorded', pauseReason: '', breakpoints: [] };
  private lastSlide = 0;
  private slideTimer: number | null = null;
  private readonly releaseKeys: () => void;

  constructor(onAction: (action: StepAction, k?: number) => void, graphEvents: GraphViewEvents = {}, graphOptions: Partial<GraphViewOptions> = {}) {
    this.onAction = onAction;
    this.node = h('div', { class: 'pellucid-stepper', tabindex: 0 });
    const bar = h('div', { class: 'pellucid-stepper-buttons' });
    for (const [action, text, title] of [...BUTTONS, ...LIVE_BUTTONS]) {
      const icon = ICONS[action];
      const b = h(
        'button',
        { type: 'button', class: 'pellucid-step-button', 'data-action': action, title, 'aria-label': title },
        icon ? s('svg', { class: 'pellucid-icon', width: 16, height: 16, viewBox: '0 0 16 16', 'aria-hidden': 'true' }, s('path', { d: icon })) : text
      );
      b.addEventListener('click', () => this.fire(action));
      this.buttons.set(action, b);
      bar.appendChild(b);
    }
    this.slider = h('input', { class: 'pellucid-step-slider', type: 'range', min: 0, max: 0, step: 1, value: 0, 'aria-label': 'step' });
    this.slider.addEventListener('input', () => this.onSlide(false));
    this.slider.addEventListener('change', () => this.onSlide(true));
    this.label = h('div', { class: 'pellucid-step-label' });
    this.statusEl = h('div', { class: 'pellucid-status' });
    this.source = h('div', { class: 'pellucid-source' });
    this.breakpointsEl = h('div', { class: 'pellucid-breakpoints' });
    this.inspector = h('div', { class: 'pellucid-inspector' });
    this.graphView = new GraphView(
      {
        ...graphEvents,
        select: id => {
          renderInspector(this.inspector, localInspector(this.graphView.graph, id));
          graphEvents.select?.(id);
        }
      },
      graphOptions
    );
    this.node.append(
      bar,
      h('div', { class: 'pellucid-stepper-row' }, this.slider, this.label),
      h('div', { class: 'pellucid-stepper-row' }, this.statusEl, this.breakpointsEl),
      this.source,
      this.graphView.node,
      this.inspector
    );
    renderInspector(this.inspector, null);
    this.releaseKeys = captureKeys(this.node, this.onKeyDown);
    this.render();
  }

  get current(): StepperState {
    return { ...this.state };
  }

  setGraph(graph: unknown): void {
    this.graphView.setGraph(graph);
  }

  get graph(): GraphDoc | null {
    return this.graphView.graph;
  }

  setState(partial: Partial<StepperState>): void {
    this.state = { ...this.state, ...partial };
    this.render();
  }

  dispose(): void {
    this.releaseKeys();
    if (this.slideTimer !== null) {
      window.clearTimeout(this.slideTimer);
    }
    this.graphView.dispose();
    this.node.remove();
  }

  private fire(action: StepAction, k?: number): void {
    if (action !== 'goto') {
      const b = this.buttons.get(action);
      if (b && (b.disabled || b.hidden)) {
        return;
      }
    }
    this.onAction(action, k);
  }

  private onSlide(final: boolean): void {
    const k = Number(this.slider.value);
    const now = performance.now();
    if (this.slideTimer !== null) {
      window.clearTimeout(this.slideTimer);
      this.slideTimer = null;
    }
    if (final || now - this.lastSlide >= SLIDER_INTERVAL_MS) {
      this.lastSlide = now;
      if (k !== this.state.cursor) {
        this.fire('goto', k);
      }
      return;
    }
    this.slideTimer = window.setTimeout(() => this.onSlide(true), SLIDER_INTERVAL_MS);
  }

  private onKeyDown = (ev: KeyboardEvent): boolean => {
    if (ev.altKey || ev.ctrlKey || ev.metaKey) {
      return false;
    }
    const target = ev.target as HTMLElement;
    // the slider moves itself (and reports through its input event); menus and fields keep keys
    if (target.tagName === 'SELECT' || target.tagName === 'INPUT' || target.tagName === 'TEXTAREA') {
      return false;
    }
    const action = KEYS[ev.key];
    if (!action) {
      return false;
    }
    this.fire(action);
    return true;
  };

  private render(): void {
    const { cursor, nSteps, step, status, pauseReason, breakpoints } = this.state;
    const has = nSteps > 0;
    const live = status === 'paused' || status === 'running';
    for (const [action, b] of this.buttons) {
      if (action === 'resume' || action === 'step_live') {
        b.hidden = status !== 'paused';
      } else if (action === 'stop') {
        b.hidden = !live;
      } else {
        const atStart = cursor <= 0;
        // a live run paused at its newest step goes on with next (one op) and run (resume)
        const atEnd = cursor >= nSteps - 1 && !(status === 'paused' && (action === 'next' || action === 'run'));
        b.disabled = !has || ((action === 'first' || action === 'prev' || action === 'run_back') && atStart) || ((action === 'next' || action === 'last' || action === 'step_over' || action === 'run') && atEnd);
      }
    }
    this.slider.max = String(Math.max(0, nSteps - 1));
    if (document.activeElement !== this.slider || !this.slideTimer) {
      this.slider.value = String(Math.max(0, cursor));
    }
    this.slider.disabled = !has;
    this.label.textContent = step && typeof step.label === 'string' && step.label ? step.label : stepLabel(step, cursor, nSteps);
    this.node.dataset.status = status;
    this.node.dataset.cursor = String(cursor);
    this.statusEl.textContent = pauseReason ? `${status}: ${pauseReason}` : status;
    this.statusEl.className = `pellucid-status pellucid-status-${status.replace(/[^a-z]/g, '')}`;
    this.breakpointsEl.textContent = breakpoints.length ? `breakpoints: ${breakpoints.join(', ')}` : '';
    this.source.textContent = '';
    const src = step && step.source;
    if (src && src.file) {
      this.source.append(
        h('span', { class: 'pellucid-source-loc', title: `${src.file}:${src.line}` }, `${sourceName(src)}:${src.line}`),
        src.function ? h('span', { class: 'pellucid-muted' }, ` in ${src.function}`) : '',
        step && step.source_text ? h('code', { class: 'pellucid-source-text' }, step.source_text.trim()) : ''
      );
    } else if (step) {
      this.source.append(h('span', { class: 'pellucid-muted' }, step.phase === 'forward' ? 'no source line recorded' : 'inside autograd (no source line)'));
    }
    this.graphView.update({ cursor: has ? cursor : null });
  }
}

/** A stepper over a document's own steps, answered in the page (no kernel): used by the side
 * panel, where the kernel only sends finished recordings. */
export class LocalStepper {
  readonly controls: StepperControls;
  private doc: GraphDoc | null = null;

  constructor(graphEvents: GraphViewEvents = {}, graphOptions: Partial<GraphViewOptions> = {}) {
    this.controls = new StepperControls((a, k) => this.act(a, k), graphEvents, graphOptions);
  }

  get node(): HTMLDivElement {
    return this.controls.node;
  }

  setGraph(graph: unknown): void {
    this.doc = asGraphDoc(graph);
    this.controls.setGraph(this.doc);
    const n = this.doc ? (this.doc.steps || []).length : 0;
    const start = this.doc && typeof this.doc.cursor === 'number' ? this.doc.cursor : n - 1;
    this.goto(Math.max(0, Math.min(n - 1, start)));
  }

  /** Apply an action as the kernel's stepper would, over the document's steps. */
  act(action: StepAction, k?: number): void {
    const steps = (this.doc && this.doc.steps) || [];
    const n = steps.length;
    const c = this.controls.current.cursor;
    switch (action) {
      case 'first':
        return this.goto(0);
      case 'last':
        return this.goto(n - 1);
      case 'next':
        return this.goto(c + 1);
      case 'prev':
        return this.goto(c - 1);
      case 'goto':
        return this.goto(k ?? c);
      case 'step_over': {
        // to the next step that is not inside the current step's module
        const mod = (steps[c] && steps[c].module) || '';
        let j = c + 1;
        while (j < n && mod && ((steps[j].module || '') === mod || (steps[j].module || '').startsWith(mod + '.'))) {
          j++;
        }
        return this.goto(Math.min(j, n - 1));
      }
      case 'run': {
        // no breakpoints here: run to the next op that produced NaN/Inf, else to the end
        let j = c + 1;
        while (j < n && !(steps[j].nonfinite || 0)) {
          j++;
        }
        return this.goto(Math.min(j, n - 1));
      }
      case 'run_back': {
        let j = c - 1;
        while (j > 0 && !(steps[j].nonfinite || 0)) {
          j--;
        }
        return this.goto(Math.max(j, 0));
      }
      default:
        return;
    }
  }

  private goto(k: number): void {
    const steps = (this.doc && this.doc.steps) || [];
    const n = steps.length;
    const cursor = n ? Math.max(0, Math.min(n - 1, k)) : 0;
    this.controls.setState({ cursor, nSteps: n, step: steps[cursor] || null, status: 'recorded', pauseReason: '', breakpoints: [] });
  }
}
