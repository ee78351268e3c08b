/**
 * The side panel: its own kernel session, its own widget manager, and the Python
 * Workbench (Register and Images tabs) rendered in it. What it shows for each kernel
 * state comes from ./state.
 */
import * as widgetsBase from '@jupyter-widgets/base';
import { JUPYTER_CONTROLS_VERSION } from '@jupyter-widgets/controls/lib/version';
import { KernelWidgetManager, output as labOutput, WidgetRenderer } from '@jupyter-widgets/jupyterlab-manager';
import { SessionContext, translateKernelStatuses } from '@jupyterlab/apputils';
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { CommsOverSubshells, Event, Kernel, KernelMessage, ServiceManager, SessionAPI } from '@jupyterlab/services';
import { refreshIcon, stopIcon, ToolbarButton } from '@jupyterlab/ui-components';
import { ITranslator, nullTranslator, TranslationBundle } from '@jupyterlab/translation';
import { Message } from '@lumino/messaging';
import { ISignal, Signal } from '@lumino/signaling';
import { Panel, Widget } from '@lumino/widgets';

import {
  PANEL_ID,
  panelCode,
  PYTHON_EXECUTABLE_EXPRESSION,
  SESSION_NAME,
  SESSION_PATH,
  SESSION_TYPE
} from './constants';
import {
  Action,
  afterKernelStatus,
  chooseKernel,
  describePhase,
  KernelStatus,
  needsRenderAfterNewProcess,
  Phase,
  isRestartEvent,
  phaseForError,
  trackKernelProcess
} from './state';

const WIDGET_VIEW_MIMETYPE = 'application/vnd.jupyter.widget-view+json';

/** What the Python Workbench says (its `notice` trait) when an image it follows settles. */
export interface IImageNotice {
  image_id: string;
  status: string;
  text: string;
  kind: 'success' | 'error' | 'info';
  seq: string;
}

/**
 * What the Python Workbench says for screen readers (its `announcement` trait): `text` once per
 * change of a status, never per poll; `focus`, a selector inside the panel where keyboard focus
 * goes (a status that was sent, settled or opened), or ''.
 */
export interface IAnnouncement {
  text: string;
  seq: string;
  focus: string;
}

/** The first field a keyboard user fills, focused when the panel is opened. */
const FIRST_FIELD = '.mai-workbench .mai-register-panel .mai-swr-path input';
/** How long a focus request waits for its element to be drawn (the widget views render after the kernel's message). */
const FOCUS_WAIT_MS = 5000;

export interface IModelArtsPanelOptions {
  services: ServiceManager.IManager;
  rendermime: IRenderMimeRegistry;
  /** The kernel setting, read at each start ('' = the default Python kernel). */
  kernelSetting: () => string;
  translator?: ITranslator | null;
}

export class ModelArtsPanel extends Panel {
  constructor(options: IModelArtsPanelOptions) {
    super();
    this.id = PANEL_ID;
    this.addClass('mai-panel');
    this._services = options.services;
    this._kernelSetting = options.kernelSetting;
    const translator = (this._translator = options.translator ?? nullTranslator);
    const trans = (this._trans = translator.load('mai_widgets'));
    this._kernelStatuses = translateKernelStatuses(translator);

    this._rendermime = options.rendermime;

    this._header = new Panel();
    this._header.addClass('mai-panel-header');
    const title = new Widget({ node: document.createElement('h2') });
    title.addClass('mai-panel-title');
    title.node.textContent = trans.__('ModelArts images');
    const kernelLabel = new Widget({ node: document.createElement('span') });
    kernelLabel.addClass('mai-panel-kernel');
    this._kernelLabel = kernelLabel.node;
    this._header.addWidget(title);
    this._header.addWidget(kernelLabel);
    const restart = new ToolbarButton({
      icon: refreshIcon,
      tooltip: trans.__('Restart the panel’s kernel'),
      className: 'mai-panel-restart',
      onClick: () => void this.restartKernel()
    });
    const stop = new ToolbarButton({
      icon: stopIcon,
      tooltip: trans.__('Close the panel: shut down its kernel'),
      className: 'mai-panel-shutdown',
      onClick: () => void this.shutdown()
    });
    this._header.addWidget(restart);
    this._header.addWidget(stop);

    this._message = new Widget({ node: document.createElement('div') });
    this._message.addClass('mai-panel-message');
    this._message.node.setAttribute('role', 'status');

    // The workbench's view: the panel code displays one widget and nothing else is shown (an
    // error becomes a phase), so a widget renderer bound to the panel's manager is all it takes.
    this._output = new Panel();
    this._output.addClass('mai-panel-output');

    // One live region that stays in the page: its text changes once per status change, so a
    // screen reader says each change once (a region inside a widget's HTML is made anew on
    // every update, and is not reliably announced).
    this._announcer = new Widget({ node: document.createElement('div') });
    this._announcer.addClass('mai-panel-announcer');
    this._announcer.node.setAttribute('role', 'status');
    this._announcer.node.setAttribute('aria-live', 'polite');
    this._announcer.node.setAttribute('aria-atomic', 'true');

    this.addWidget(this._header);
    this.addWidget(this._announcer);
    this.addWidget(this._message);
    this.addWidget(this._output);
    this._show({ kind: 'closed' });
    this._services.events.stream.connect(this._onServerEvent, this);
  }

  /** An image the Python Workbench follows reached a terminal status (also while collapsed). */
  get imageSettled(): ISignal<this, IImageNotice> {
    return this._imageSettled;
  }

  /** Ask the Python Workbench to open its Images tab on an image (a notification's action). */
  openImage(imageId: string): void {
    const model = this._workbenchModel;
    if (model) {
      model.set('open_image', imageId);
      model.save_changes();
    }
  }

  /** Listen to the displayed Workbench's `notice`: the host says it with a notification. */
  private async _watchWorkbench(modelId: string): Promise<void> {
    const manager = this._manager;
    if (!manager) {
      return;
    }
    let model: widgetsBase.WidgetModel;
    try {
      model = await manager.get_model(modelId);
    } catch {
      return; // not a model of this kernel's manager (any more): nothing to listen to
    }
    if (this._manager !== manager || !model.get || model.get('notice') === undefined) {
      return;
    }
    this._workbenchModel?.off('change:notice', this._onNotice, this);
    this._workbenchModel?.off('change:announcement', this._onAnnouncement, this);
    this._workbenchModel = model;
    model.on('change:notice', this._onNotice, this);
    model.on('change:announcement', this._onAnnouncement, this);
    if (this._formFocusFrom !== false) {
      this._focusWhenDrawn(FIRST_FIELD, this._formFocusFrom);
    }
  }

  /** Say the Workbench's announcement in the live region, and move focus where it asks. */
  private _onAnnouncement(model: widgetsBase.WidgetModel): void {
    const announcement = model.get('announcement') as IAnnouncement | undefined;
    if (!announcement) {
      return;
    }
    if (announcement.text) {
      this._announcer.node.textContent = announcement.text;
    }
    if (announcement.focus) {
      this._focusWhenDrawn(announcement.focus, null);
    }
  }

  /** The text the live region says now (tests). */
  get announced(): string {
    return this._announcer.node.textContent ?? '';
  }

  /**
   * Focus the element `selector` names once it is drawn and shown (a widget view renders a moment
   * after the kernel's message), unless the user has taken focus elsewhere meanwhile: focus moves
   * only from inside the panel, from nowhere, or from `from` (where focus was when the user asked
   * for the panel), never out of a notebook the user went to since.
   * An element that is not a control is made focusable by script only (tabindex -1).
   */
  private _focusWhenDrawn(selector: string, from: Element | null): void {
    const request = ++this._focusRequest;
    const started = Date.now();
    const attempt = () => {
      if (request !== this._focusRequest || this.isDisposed) {
        return; // a newer request replaced this one
      }
      const active = document.activeElement;
      if (active && active !== document.body && active !== from && !this.node.contains(active)) {
        return;
      }
      const target = this.node.querySelector<HTMLElement>(selector);
      if (target && target.checkVisibility()) {
        if (!target.matches('input, select, textarea, button, [tabindex]')) {
          target.tabIndex = -1;
        }
        target.focus();
        if (selector === FIRST_FIELD) {
          this._formFocusFrom = false;
        }
        return;
      }
      if (Date.now() - started < FOCUS_WAIT_MS) {
        window.setTimeout(attempt, 50);
      }
    };
    attempt();
  }

  /**
   * Shown from the side bar, the command palette or a notification: keyboard focus comes into
   * the panel, on the SWR path (once the form is there; the panel itself until then).
   */
  protected onActivateRequest(msg: Message): void {
    super.onActivateRequest(msg);
    if (this.node.contains(document.activeElement) && document.activeElement !== this.node) {
      return; // already working in the panel
    }
    const first = this.node.querySelector<HTMLElement>(FIRST_FIELD);
    if (first && first.checkVisibility()) {
      first.focus();
      return;
    }
    this.node.tabIndex = -1;
    this.node.focus();
    this._formFocusFrom = this.node;
    this._focusWhenDrawn(FIRST_FIELD, this.node);
  }

  /**
   * The user asked for the form (the "Register a custom image" command): focus goes to its first
   * field once it is drawn. Asked after the command palette has given focus back to where it was,
   * which it does once a command ran; from there focus moves into the panel.
   */
  focusForm(): void {
    window.setTimeout(() => {
      this._formFocusFrom = document.activeElement;
      this._focusWhenDrawn(FIRST_FIELD, this._formFocusFrom);
    }, 50);
  }

  private _onNotice(model: widgetsBase.WidgetModel): void {
    const notice = model.get('notice') as IImageNotice | undefined;
    if (notice && notice.text && notice.image_id) {
      this._imageSettled.emit(notice);
    }
  }

  get phase(): Phase {
    return this._phase;
  }

  get sessionContext(): SessionContext | null {
    return this._session;
  }

  /** Start (or reconnect to) the panel's kernel session and show the form. Safe to call twice. */
  start(): Promise<void> {
    if (this._session || this.isDisposed) {
      return Promise.resolve();
    }
    // One start at a time: the command and the panel being shown both ask for it.
    if (!this._starting) {
      this._starting = this._start().finally(() => {
        this._starting = null;
      });
    }
    return this._starting;
  }

  private async _start(): Promise<void> {
    // The widgets' code is fetched while the kernel starts, not when its first model arrives.
    void Private.controls();
    const specsManager = this._services.kernelspecs;
    await specsManager.ready;
    const specs = specsManager.specs;
    const choice = chooseKernel(this._kernelSetting(), {
      default: specs?.default ?? '',
      kernels: Object.values(specs?.kernelspecs ?? {}).map(s => ({
        name: s?.name ?? '',
        language: s?.language ?? ''
      }))
    });
    if ('missing' in choice) {
      this._show({ kind: 'no-kernelspec', requested: choice.missing, available: choice.available });
      return;
    }
    const displayName = specs?.kernelspecs[choice.name]?.display_name ?? choice.name;
    this._show({ kind: 'starting', kernel: displayName });
    // The session is asked for at once: the SessionContext would first list the running sessions,
    // a round trip after the side bar is drawn. The server answers a path that has a session
    // with that session, and the context below finds it by path (a failure: it tries itself).
    const asked = SessionAPI.startSession(
      { path: SESSION_PATH, name: SESSION_NAME, type: SESSION_TYPE, kernel: { name: choice.name } },
      this._services.serverSettings
    ).catch(() => undefined);

    const session = new SessionContext({
      sessionManager: this._services.sessions,
      specsManager,
      path: SESSION_PATH,
      name: SESSION_NAME,
      type: SESSION_TYPE,
      kernelPreference: {
        name: choice.name,
        shouldStart: true,
        canStart: true,
        autoStartDefault: false,
        shutdownOnDispose: true,
        skipKernelRestartDialog: true
      }
    });
    this._session = session;
    session.kernelChanged.connect(this._onKernelChanged, this);
    session.statusChanged.connect(this._onStatus, this);
    session.connectionStatusChanged.connect(this._onConnectionStatus, this);
    try {
      await asked;
      await session.initialize();
      // A reconnected session may run another kernel than the setting now names.
      const kernel = session.session?.kernel;
      if (!kernel || kernel.name !== choice.name) {
        await session.changeKernel({ name: choice.name });
      }
      await session.ready;
    } catch (reason) {
      if (this._session === session) {
        this._show({ kind: 'failed', ename: this._trans.__('Kernel start failed'), evalue: String(reason) });
      }
      return;
    }
    // The form was asked for when the kernel came (_onKernelChanged).
  }

  /** Restart the kernel; the status handler brings the form back. */
  async restartKernel(): Promise<void> {
    const kernel = this._session?.session?.kernel;
    if (!kernel || kernel.isDisposed) {
      return this._act('restart');
    }
    this._clearOutput();
    await this._session!.restartKernel();
  }

  /** Shut the kernel down and forget the session: nothing keeps running for the panel. */
  async shutdown(): Promise<void> {
    this._show({ kind: 'closed' });
    await this._dropSession();
  }

  /** Forget the session after shutting it down on the server (waited for, so a new start cannot find it). */
  private async _dropSession(): Promise<void> {
    const session = this._session;
    this._session = null;
    this._setManager(null);
    this._clearOutput();
    this._updateKernelLabel(); // "no kernel", not the last state of the kernel being shut down
    if (!session) {
      return;
    }
    session.kernelChanged.disconnect(this._onKernelChanged, this);
    session.statusChanged.disconnect(this._onStatus, this);
    session.connectionStatusChanged.disconnect(this._onConnectionStatus, this);
    const id = session.session?.id;
    if (id) {
      // Already gone when its kernel was shut down elsewhere: nothing to do then.
      await this._services.sessions.shutdown(id).catch(() => undefined);
    }
    session.dispose();
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this._services.events.stream.disconnect(this._onServerEvent, this);
    // shutdownOnDispose: disposing the session context shuts its kernel down.
    const session = this._session;
    this._session = null;
    this._setManager(null);
    session?.dispose();
    super.dispose();
  }

  protected onAfterShow(): void {
    if (!this._session && this._phase.kind === 'closed') {
      void this.start();
    }
  }

  private _onKernelChanged(
    _: unknown,
    change: { oldValue: Kernel.IKernelConnection | null; newValue: Kernel.IKernelConnection | null }
  ): void {
    const kernel = change.newValue;
    this._clearOutput();
    if (!kernel) {
      this._setManager(null);
      return;
    }
    // The panel's handlers stay on the kernel's main thread, away from subshells.
    kernel.commsOverSubshells = CommsOverSubshells.Disabled;
    this._kernelProcess = null;
    kernel.iopubMessage.connect(this._onIOPub, this);
    // The manager first: its restore request is answered before the panel's widgets exist, so
    // its snapshot can never overwrite what the user typed in the new form.
    this._setManager(kernel);
    if (this._phase.kind !== 'closed') {
      // Sent now, the code waits in the connection's queue and runs as soon as the kernel
      // answers, while the session is still being set up here.
      void this._render(kernel);
    }
  }

  private _onStatus(_: unknown, status: Kernel.Status): void {
    this._updateKernelLabel();
    const next = afterKernelStatus(this._phase, status as KernelStatus);
    if (next.phase !== this._phase) {
      if (next.phase.kind === 'restarting' || next.phase.kind === 'dead') {
        this._clearOutput(); // the kernel-side widgets are gone: never leave a frozen form
      }
      this._show(next.phase);
    }
    if (next.render) {
      void this._render();
    }
  }

  /** A restart from another client shows only as messages from a new kernel process. */
  private _onIOPub(kernel: Kernel.IKernelConnection, msg: KernelMessage.IIOPubMessage): void {
    if (kernel !== this._session?.session?.kernel) {
      return;
    }
    const tracked = trackKernelProcess(this._kernelProcess, {
      session: msg.header.session,
      msgType: msg.header.msg_type,
      executionState: (msg.content as { execution_state?: string }).execution_state
    });
    this._kernelProcess = tracked.known;
    if (tracked.changed) {
      this._onNewKernelProcess();
    }
  }

  /** The server says the panel's kernel was restarted (by anyone). */
  private _onServerEvent(_: unknown, event: Event.Emission): void {
    const kernel = this._session?.session?.kernel;
    if (kernel && isRestartEvent(event, kernel.id)) {
      this._kernelProcess = null; // the new process's messages are then learnt, not taken for another restart
      this._onNewKernelProcess();
    }
  }

  /** The kernel-side widgets are gone: drop the stale form and show a fresh one once the kernel is idle. */
  private _onNewKernelProcess(): void {
    const kernel = this._session?.session?.kernel;
    if (!kernel || !needsRenderAfterNewProcess(this._phase)) {
      return;
    }
    this._clearOutput();
    this._show({ kind: 'restarting' });
    if (kernel.status === 'idle') {
      void this._render();
    } // else the next idle status renders (afterKernelStatus)
  }

  private _onConnectionStatus(_: unknown, status: Kernel.ConnectionStatus): void {
    this._updateKernelLabel();
    if (status === 'disconnected' && this._phase.kind !== 'closed') {
      this._clearOutput();
      this._show({ kind: 'dead' });
    }
  }

  /** Run the panel code and put its display (the widget view) in the output area. */
  private async _render(kernel = this._session?.session?.kernel): Promise<void> {
    if (!kernel || kernel.isDisposed) {
      return;
    }
    this._clearOutput(); // also ends any older render: its outputs and reply are ignored
    const generation = ++this._generation;
    this._show({ kind: 'loading' });
    const future = kernel.requestExecute({
      code: panelCode(this._language()),
      silent: true, // see panelCode
      store_history: false,
      allow_stdin: false,
      stop_on_error: true
    });
    future.onIOPub = msg => {
      if (generation === this._generation) {
        this._handleIOPub(msg);
      }
    };
    let reply: KernelMessage.IExecuteReplyMsg;
    try {
      reply = await future.done;
    } catch {
      return; // cancelled by a restart or a dead kernel: the status handler takes over
    }
    if (generation !== this._generation) {
      return;
    }
    const content = reply.content;
    if (content.status === 'ok') {
      this._show({ kind: 'ready' });
      return;
    }
    const ename = content.status === 'error' ? content.ename : this._trans.__('Aborted');
    const evalue = content.status === 'error' ? content.evalue : this._trans.__('the kernel aborted the request');
    const python = await this._pythonExecutable(kernel);
    if (generation === this._generation) {
      this._show(phaseForError(ename, evalue, this._kernelDisplayName(), python));
    }
  }

  /** The panel code's display: the workbench's view, rendered by the panel's widget manager. */
  private _handleIOPub(msg: KernelMessage.IIOPubMessage): void {
    const data = (msg.content as any).data;
    const view = data?.[WIDGET_VIEW_MIMETYPE];
    if (this._manager && typeof view?.model_id === 'string') {
      const renderer = new WidgetRenderer({ mimeType: WIDGET_VIEW_MIMETYPE } as any, this._manager);
      this._output.addWidget(renderer);
      void renderer.renderModel({ data } as any);
      void this._watchWorkbench(view.model_id);
    }
  }

  private async _pythonExecutable(kernel: Kernel.IKernelConnection): Promise<string | null> {
    try {
      const reply = await kernel.requestExecute({
        code: '',
        silent: true,
        store_history: false,
        user_expressions: { python: PYTHON_EXECUTABLE_EXPRESSION }
      }).done;
      const result = (reply.content as any).user_expressions?.python;
      const text: unknown = result?.status === 'ok' ? result.data?.['text/plain'] : null;
      return typeof text === 'string' ? text.replace(/^'(.*)'$/, '$1') : null;
    } catch {
      return null;
    }
  }

  private _setManager(kernel: Kernel.IKernelConnection | null): void {
    this._workbenchModel?.off('change:notice', this._onNotice, this);
    this._workbenchModel?.off('change:announcement', this._onAnnouncement, this);
    this._workbenchModel = null;
    this._manager?.dispose();
    this._manager = null;
    if (!kernel) {
      return;
    }
    const manager = new KernelWidgetManager(kernel, this._rendermime);
    Private.registerWidgetModules(manager);
    this._manager = manager;
  }

  private async _act(action: Action): Promise<void> {
    switch (action) {
      case 'start':
        return this.start();
      case 'restart':
        // The old kernel is dead (and its session maybe gone with it): start afresh at the same path.
        this._show({ kind: 'starting', kernel: this._kernelDisplayName() });
        await this._dropSession();
        return this.start();
      case 'retry':
        if (!this._session) {
          return this.start();
        }
        if (this._session.session?.kernel?.status === 'idle') {
          return this._render();
        }
        return this._act('restart');
    }
  }

  /**
   * JupyterLab's language, handed to the kernel with the panel's code: the translator's
   * (Settings › Language), else the page's own `lang` when there is no translator.
   */
  private _language(): string | null {
    if (this._translator !== nullTranslator) {
      return this._translator.languageCode;
    }
    return document.documentElement.lang || null;
  }

  private _kernelDisplayName(): string {
    const name = this._session?.session?.kernel?.name ?? this._session?.kernelPreference.name ?? '';
    return this._services.kernelspecs.specs?.kernelspecs[name]?.display_name ?? name;
  }

  private _updateKernelLabel(): void {
    const kernel = this._session?.session?.kernel;
    this._kernelLabel.textContent = kernel
      ? `${this._kernelDisplayName()} · ${this._kernelStatuses[kernel.status] ?? kernel.status}`
      : this._trans.__('no kernel');
  }

  private _clearOutput(): void {
    this._generation++;
    for (const view of [...this._output.widgets]) {
      view.dispose();
    }
  }

  private _show(phase: Phase): void {
    this._phase = phase;
    this.node.dataset.maiPhase = phase.kind;
    this._updateKernelLabel();
    const view = describePhase(phase, this._trans);
    const node = this._message.node;
    node.replaceChildren();
    node.classList.toggle('mai-panel-busy', view.busy);
    node.hidden = !view.text;
    if (view.text) {
      const text = document.createElement('p');
      text.className = 'mai-panel-message-text';
      text.textContent = view.text;
      node.appendChild(text);
    }
    if (view.code) {
      const code = document.createElement('pre');
      code.className = 'mai-panel-install';
      code.textContent = view.code;
      node.appendChild(code);
    }
    if (view.action) {
      const action = view.action;
      const button = document.createElement('button');
      button.className = 'jp-mod-styled jp-mod-accept mai-panel-action';
      button.dataset.action = action.id;
      button.textContent = action.label;
      button.onclick = () => void this._act(action.id);
      node.appendChild(button);
    }
    this._output.setHidden(phase.kind !== 'ready' && phase.kind !== 'loading');
  }

  private _services: ServiceManager.IManager;
  private _kernelSetting: () => string;
  private _rendermime: IRenderMimeRegistry;
  private _manager: KernelWidgetManager | null = null;
  private _workbenchModel: widgetsBase.WidgetModel | null = null;
  private _imageSettled = new Signal<this, IImageNotice>(this);
  private _translator: ITranslator;
  private _trans: TranslationBundle;
  /** JupyterLab's own words for kernel states ('idle', 'busy'…), in the user's language. */
  private _kernelStatuses: Record<string, string>;
  private _session: SessionContext | null = null;
  private _phase: Phase = { kind: 'closed' };
  private _generation = 0;
  private _starting: Promise<void> | null = null;
  private _kernelProcess: string | null = null;
  private _header: Panel;
  private _announcer: Widget;
  /** The latest focus request: an older one still waiting for its element gives up. */
  private _focusRequest = 0;
  /** The form was asked for before it was drawn (false: it was not): where focus was then. */
  private _formFocusFrom: Element | null | false = false;
  private _kernelLabel: HTMLElement;
  private _message: Widget;
  private _output: Panel;
}

namespace Private {
  /** The controls' module (a chunk JupyterLab loads on first use). */
  export const controls = (): Promise<any> => import('@jupyter-widgets/controls');

  /**
   * A bare KernelWidgetManager knows no widget modules: the core ones, registered here. A module
   * is looked up by a model's or view's class name, so its whole namespace serves as exports.
   */
  export function registerWidgetModules(manager: KernelWidgetManager): void {
    manager.register({
      name: '@jupyter-widgets/base',
      version: widgetsBase.JUPYTER_WIDGETS_VERSION,
      exports: widgetsBase as any
    });
    manager.register({
      name: '@jupyter-widgets/controls',
      version: JUPYTER_CONTROLS_VERSION,
      exports: controls
    });
    manager.register({
      name: '@jupyter-widgets/output',
      version: labOutput.OUTPUT_WIDGET_VERSION,
      exports: labOutput as any
    });
  }
}
