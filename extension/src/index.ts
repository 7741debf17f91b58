/**
 * pellucid-jupyterlab: the ipywidgets front ends of `pellucid_widgets`, the Pellucid side panel
 * that follows the active notebook's kernel, and its commands. The MIME renderer for saved
 * graphs lives in `mime.ts` (a separate rendermime extension).
 */
import { ILayoutRestorer, JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import { ExportMap, IJupyterWidgetRegistry } from '@jupyter-widgets/base';
import { applyMessage, emptyState, PANEL_ID, PanelState, PellucidPanel, pellucidIcon, registerPanelTarget, requestLatest } from './panel';
import { StepAction } from './stepper';
import { MODULE_NAME, MODULE_VERSION } from './version';

const widgetsPlugin: JupyterFrontEndPlugin<void> = {
  id: 'pellucid-jupyterlab:widgets',
  description: 'Registers the pellucid_widgets views with ipywidgets.',
  autoStart: true,
  requires: [IJupyterWidgetRegistry],
  activate: (_app: JupyterFrontEnd, registry: IJupyterWidgetRegistry) => {
    registry.registerWidget({
      name: MODULE_NAME,
      version: MODULE_VERSION,
      // the views load on first use, not with the page
      exports: async (): Promise<ExportMap> => {
        const m = await import('./widgets');
        return {
          GraphModel: m.GraphModel,
          GraphView: m.GraphView,
          StepperModel: m.StepperModel,
          StepperView: m.StepperView,
          GradientModel: m.GradientModel,
          GradientView: m.GradientView
        };
      }
    });
  }
};

export const CommandIDs = {
  open: 'pellucid:open-panel',
  next: 'pellucid:panel-step-next',
  prev: 'pellucid:panel-step-prev',
  first: 'pellucid:panel-step-first',
  last: 'pellucid:panel-step-last'
};

const panelPlugin: JupyterFrontEndPlugin<void> = {
  id: 'pellucid-jupyterlab:panel',
  description: "A side panel with the latest recording of the active notebook's kernel.",
  autoStart: true,
  optional: [INotebookTracker, ICommandPalette, ILayoutRestorer],
  activate: (
    app: JupyterFrontEnd,
    tracker: INotebookTracker | null,
    palette: ICommandPalette | null,
    restorer: ILayoutRestorer | null
  ) => {
    const panel = new PellucidPanel();
    app.shell.add(panel, 'left', { rank: 900 });
    restorer?.add(panel, PANEL_ID);

    const states = new Map<NotebookPanel, PanelState>();
    const handlers = new Map<NotebookPanel, (kernel: unknown, data: unknown) => void>();
    // kernels asked for their latest recording since they (re)started
    const asked = new Set<string>();
    const refresh = () => {
      const nb = tracker ? tracker.currentWidget : null;
      panel.display(nb ? states.get(nb) || null : null, nb ? nb.title.label : '');
    };
    // a panel shown with nothing for the active notebook (after a page reload, or for a
    // notebook whose recording was made before the panel existed) asks the kernel once
    const askIfEmpty = () => {
      const nb = tracker ? tracker.currentWidget : null;
      const onData = nb ? handlers.get(nb) : undefined;
      const kernel = nb && nb.sessionContext.session ? nb.sessionContext.session.kernel : null;
      if (!nb || !onData || !kernel || !panel.isVisible || asked.has(kernel.id) || (states.get(nb) || emptyState()).received) {
        return;
      }
      asked.add(kernel.id);
      try {
        requestLatest(kernel, onData);
      } catch (err) {
        console.warn('pellucid: could not ask the kernel for its latest recording', err);
      }
    };
    panel.onShown = askIfEmpty;
    const watch = (nb: NotebookPanel) => {
      const ctx = nb.sessionContext;
      const onData = (_kernel: unknown, data: unknown) => {
        const st = states.get(nb) || emptyState();
        if (applyMessage(st, data)) {
          states.set(nb, st);
          if (!tracker || tracker.currentWidget === nb) {
            refresh();
          }
        }
      };
      handlers.set(nb, onData);
      // registering again on the same kernel only replaces the callback, so every signal that
      // may bring a new kernel (start, change, restart, reconnect) simply registers
      const register = () => {
        const kernel = ctx.session ? ctx.session.kernel : null;
        if (kernel) {
          registerPanelTarget(kernel, onData);
          if (kernel.status === 'restarting' || kernel.status === 'autorestarting') {
            asked.delete(kernel.id);
          }
        }
      };
      ctx.kernelChanged.connect(register);
      ctx.sessionChanged.connect(register);
      ctx.statusChanged.connect(register);
      void ctx.ready.then(() => {
        register();
        askIfEmpty();
      });
      register();
      nb.disposed.connect(() => {
        states.delete(nb);
        handlers.delete(nb);
        refresh();
      });
    };
    if (tracker) {
      tracker.forEach(watch);
      tracker.widgetAdded.connect((_, nb) => watch(nb));
      tracker.currentChanged.connect(() => {
        refresh();
        askIfEmpty();
      });
    }

    const { commands } = app;
    commands.addCommand(CommandIDs.open, {
      label: 'Pellucid: Open Panel',
      caption: 'Show the latest pellucid recording of the active notebook',
      icon: pellucidIcon,
      execute: () => app.shell.activateById(PANEL_ID)
    });
    const stepCommand = (id: string, action: StepAction, label: string) =>
      commands.addCommand(id, {
        label,
        isEnabled: () => !!panel.stepper.controls.graph,
        execute: () => {
          panel.stepper.act(action);
          return panel.stepper.controls.current.cursor;
        }
      });
    stepCommand(CommandIDs.next, 'next', 'Pellucid: Next Step in Panel');
    stepCommand(CommandIDs.prev, 'prev', 'Pellucid: Previous Step in Panel');
    stepCommand(CommandIDs.first, 'first', 'Pellucid: First Step in Panel');
    stepCommand(CommandIDs.last, 'last', 'Pellucid: Last Step in Panel');
    if (palette) {
      for (const command of Object.values(CommandIDs)) {
        palette.addItem({ command, category: 'Pellucid' });
      }
    }
    refresh();
  }
};

export default [widgetsPlugin, panelPlugin];
