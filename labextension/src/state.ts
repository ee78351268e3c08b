/**
 * What the side panel shows, as plain data: kernel events in, a phase out, and the
 * words for each phase. No JupyterLab imports here, so jest tests it without a browser.
 */

/** Kernel execution states as JupyterLab reports them (a subset of Kernel.Status). */
export type KernelStatus =
  'unknown' | 'starting' | 'idle' | 'busy' | 'terminating' | 'restarting' | 'autorestarting' | 'dead';

/** Where the panel is in its life, one of a closed set. */
export type Phase =
  | { kind: 'closed' }
  | { kind: 'starting'; kernel: string }
  | { kind: 'loading' }
  | { kind: 'ready' }
  | { kind: 'restarting' }
  | { kind: 'dead' }
  /** `requested` is the kernelName setting; '' when none was set and no kernel is a Python one. */
  | { kind: 'no-kernelspec'; requested: string; available: string[] }
  | {
      kind: 'missing-package';
      module: string;
      pkg: string;
      kernel: string;
      python: string | null;
    }
  | { kind: 'outdated-package'; detail: string; kernel: string; python: string | null }
  | { kind: 'failed'; ename: string; evalue: string };

export type PhaseKind = Phase['kind'];

/** The one button a phase may offer, and what pressing it does. */
export type Action = 'start' | 'restart' | 'retry';

export interface IPhaseView {
  text: string;
  /** A command the user can copy (an install command), or null. */
  code: string | null;
  action: { id: Action; label: string } | null;
  /** Whether something is under way (the panel shows a busy marker, not a button). */
  busy: boolean;
}

/**
 * Next phase after a kernel status change, and whether the form must be rendered again
 * (the kernel-side widgets are gone after any restart, whoever started it).
 */
export function afterKernelStatus(phase: Phase, status: KernelStatus): { phase: Phase; render: boolean } {
  if (phase.kind === 'closed' || phase.kind === 'no-kernelspec') {
    return { phase, render: false };
  }
  switch (status) {
    case 'restarting':
    case 'autorestarting':
      return { phase: { kind: 'restarting' }, render: false };
    case 'dead':
      return { phase: { kind: 'dead' }, render: false };
    case 'idle':
      if (phase.kind === 'restarting' || phase.kind === 'starting') {
        return { phase: { kind: 'loading' }, render: true };
      }
      return { phase, render: false };
    default:
      return { phase, render: false };
  }
}

/** Python package that provides a top-level module, for the install hint. */
export function packageForModule(module: string): string {
  const top = module.split('.')[0];
  const known: Record<string, string> = {
    mai_widgets: 'mai-widgets',
    ipywidgets: 'ipywidgets',
    huaweicloudsdkcore: 'huaweicloudsdkcore'
  };
  return known[top] ?? top.replace(/_/g, '-');
}

/**
 * Phase for a failed run of the panel code, from the error's name and value as the kernel
 * sent them. An import failure names the package and the Python to install it into.
 */
export function phaseForError(ename: string, evalue: string, kernel: string, python: string | null): Phase {
  if (ename === 'ModuleNotFoundError') {
    const match = /No module named '([^']+)'/.exec(evalue);
    if (match) {
      const module = match[1].split('.')[0];
      return { kind: 'missing-package', module, pkg: packageForModule(module), kernel, python };
    }
  }
  if (ename === 'ImportError' && /mai_widgets/.test(evalue)) {
    return { kind: 'outdated-package', detail: evalue, kernel, python };
  }
  return { kind: 'failed', ename, evalue };
}

/** `pip install` into exactly the kernel's Python when it is known. */
export function installCommand(pkg: string, python: string | null, upgrade = false): string {
  const flags = upgrade ? 'install --upgrade' : 'install';
  if (!python) {
    return `pip ${flags} ${pkg}`;
  }
  const exe = /^[\w@%+=:,./-]+$/.test(python) ? python : `'${python.replace(/'/g, "'\\''")}'`;
  return `${exe} -m pip ${flags} ${pkg}`;
}

/**
 * The part of JupyterLab's TranslationBundle the words need: `__(msgid, ...args)`, where `%1`,
 * `%2`… in the msgid stand for the arguments. Every msgid below is a whole sentence written out
 * literally, so translation tools find it and translators see the sentence, not fragments.
 */
export interface ITranslate {
  __(msgid: string, ...args: unknown[]): string;
}

/** Words, an optional command and an optional button for each phase, in the user's language. */
export function describePhase(phase: Phase, trans: ITranslate): IPhaseView {
  const retry = { id: 'retry' as const, label: trans.__('Try again') };
  switch (phase.kind) {
    case 'closed':
      return {
        text: trans.__('The panel is closed and its kernel is shut down.'),
        code: null,
        action: { id: 'start', label: trans.__('Start') },
        busy: false
      };
    case 'starting':
      return {
        text: trans.__('Starting the kernel (%1)…', phase.kernel),
        code: null,
        action: null,
        busy: true
      };
    case 'loading':
      return { text: trans.__('Loading the registration form…'), code: null, action: null, busy: true };
    case 'ready':
      return { text: '', code: null, action: null, busy: false };
    case 'restarting':
      return {
        text: trans.__('The kernel is restarting; the form comes back by itself.'),
        code: null,
        action: null,
        busy: true
      };
    case 'dead':
      return {
        text: trans.__('The panel’s kernel has died.'),
        code: null,
        action: { id: 'restart', label: trans.__('Start a new kernel') },
        busy: false
      };
    case 'no-kernelspec':
      return {
        text: !phase.requested
          ? phase.available.length
            ? trans.__(
                'No Python kernel is installed (only: %1). Install one with mai-widgets in its environment, or set "kernelName" in Settings › ModelArts images.',
                phase.available.join(', ')
              )
            : trans.__('No Python kernel is installed. No kernels are installed at all.')
          : phase.available.length
            ? trans.__(
                'No kernel named "%1" is installed. Set "kernelName" in Settings › ModelArts images to one of: %2, or leave it empty for the default Python kernel.',
                phase.requested,
                phase.available.join(', ')
              )
            : trans.__('No kernel named "%1" is installed. No kernels are installed at all.', phase.requested),
        code: null,
        action: retry,
        busy: false
      };
    case 'missing-package':
      return {
        text: phase.python
          ? trans.__(
              'The Python package "%1" is not installed in the environment of kernel "%2" (%3) ("No module named \'%4\'"). Install it there, then try again:',
              phase.pkg,
              phase.kernel,
              phase.python,
              phase.module
            )
          : trans.__(
              'The Python package "%1" is not installed in the environment of kernel "%2" ("No module named \'%3\'"). Install it there, then try again:',
              phase.pkg,
              phase.kernel,
              phase.module
            ),
        code: installCommand(phase.pkg, phase.python),
        action: retry,
        busy: false
      };
    case 'outdated-package':
      return {
        text: phase.python
          ? trans.__(
              'The "mai-widgets" package in the environment of kernel "%1" (%2) is too old for this panel (%3). Upgrade it there, then try again:',
              phase.kernel,
              phase.python,
              phase.detail
            )
          : trans.__(
              'The "mai-widgets" package in the environment of kernel "%1" is too old for this panel (%2). Upgrade it there, then try again:',
              phase.kernel,
              phase.detail
            ),
        code: installCommand('mai-widgets', phase.python, true),
        action: retry,
        busy: false
      };
    case 'failed':
      return {
        text: trans.__('The form could not be loaded: %1: %2', phase.ename, phase.evalue),
        code: null,
        action: retry,
        busy: false
      };
  }
}

/**
 * Kernel to use: the setting if given, else the default kernel if it is Python, else any Python
 * one. `missing` names the kernel the setting asked for, or is '' when no Python kernel exists.
 */
export function chooseKernel(
  setting: string,
  specs: { default: string; kernels: { name: string; language: string }[] }
): { name: string } | { missing: string; available: string[] } {
  const names = specs.kernels.map(k => k.name);
  const wanted = setting.trim();
  if (wanted) {
    return names.includes(wanted) ? { name: wanted } : { missing: wanted, available: names };
  }
  const byName = new Map(specs.kernels.map(k => [k.name, k]));
  const isPython = (name: string) => (byName.get(name)?.language ?? '').toLowerCase() === 'python';
  if (isPython(specs.default)) {
    return { name: specs.default };
  }
  const python = specs.kernels.find(k => isPython(k.name));
  if (python) {
    return { name: python.name };
  }
  return { missing: '', available: names };
}

/**
 * Whether an iopub message shows that the kernel process changed under the panel. A restart
 * asked of the server by another client (the Running panel, a REST call) sends this
 * connection no "restarting" status; but every kernel process signs its messages with a
 * session id of its own, so a new id means a new process and a form whose widgets are gone.
 * Status messages other than busy/idle may be made by the server itself: they are ignored.
 */
export function trackKernelProcess(
  known: string | null,
  message: { session: string; msgType: string; executionState?: string }
): { known: string | null; changed: boolean } {
  if (!message.session) {
    return { known, changed: false };
  }
  if (message.msgType === 'status' && message.executionState !== 'busy' && message.executionState !== 'idle') {
    return { known, changed: false };
  }
  return { known: message.session, changed: known !== null && known !== message.session };
}

/** Phases in which a new kernel process means the form must be rendered again. */
export function needsRenderAfterNewProcess(phase: Phase): boolean {
  return !['closed', 'no-kernelspec', 'starting', 'restarting', 'dead'].includes(phase.kind);
}

/**
 * Whether a Jupyter Server event says that the given kernel was restarted. The server emits
 * one for every restart, whoever asked for it: the panel hears of restarts started elsewhere
 * even when its own connection sees no message of the new kernel process.
 */
export function isRestartEvent(event: { [key: string]: unknown }, kernelId: string | null): boolean {
  return (
    !!kernelId &&
    typeof event.schema_id === 'string' &&
    event.schema_id.endsWith('/jupyter_server/kernel_actions/v1') &&
    event.action === 'restart' &&
    event.status === 'success' &&
    event.kernel_id === kernelId
  );
}
