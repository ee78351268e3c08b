import * as fs from 'fs';
import * as path from 'path';

import { panelCode } from '../constants';
import {
  afterKernelStatus,
  chooseKernel,
  describePhase,
  installCommand,
  isRestartEvent,
  KernelStatus,
  needsRenderAfterNewProcess,
  packageForModule,
  Phase,
  PhaseKind,
  phaseForError,
  ITranslate,
  trackKernelProcess
} from '../state';

/** %1, %2… filled in, as JupyterLab's null translator does. */
function fill(msgid: string, args: unknown[]): string {
  return msgid.replace(/%(\d+)/g, (match, n) => (Number(n) <= args.length ? String(args[Number(n) - 1]) : match));
}

/** English, as a user without a language pack reads it. */
const english: ITranslate = { __: (msgid, ...args) => fill(msgid, args) };

/** A pseudo-language that marks each translated sentence and records the msgids asked for. */
class PseudoLanguage implements ITranslate {
  msgids: string[] = [];
  __(msgid: string, ...args: unknown[]): string {
    this.msgids.push(msgid);
    return `⟦${fill(msgid, args)}⟧`;
  }
}

const ALL_PHASES: Phase[] = [
  { kind: 'closed' },
  { kind: 'starting', kernel: 'Python 3 (ipykernel)' },
  { kind: 'loading' },
  { kind: 'ready' },
  { kind: 'restarting' },
  { kind: 'dead' },
  { kind: 'no-kernelspec', requested: 'julia', available: ['python3'] },
  { kind: 'no-kernelspec', requested: '', available: ['ir'] },
  { kind: 'missing-package', module: 'mai_widgets', pkg: 'mai-widgets', kernel: 'Python 3', python: '/e/bin/python' },
  { kind: 'outdated-package', detail: 'x', kernel: 'Python 3', python: null },
  { kind: 'failed', ename: 'ValueError', evalue: 'boom' }
];

describe('the code the panel runs', () => {
  const shown = (argument: string) =>
    `from IPython.display import display; from mai_widgets import Workbench; display(Workbench.shared(${argument}))`;

  it("is the one-line Workbench display, in JupyterLab's language", () => {
    expect(panelCode('zh-CN')).toBe(shown("host_language='zh-CN'"));
    expect(panelCode('zh_CN')).toBe(shown("host_language='zh_CN'"));
    expect(panelCode('en-US')).toBe(shown("host_language='en-US'"));
  });

  it('leaves the language to the kernel when JupyterLab names none', () => {
    for (const language of [null, undefined, '', '  ']) {
      expect(panelCode(language)).toBe(shown(''));
    }
  });

  it('puts nothing but a plain language tag into the code', () => {
    for (const language of [
      "zh'); import os; os.system('x",
      'zh CN',
      'zh\nCN',
      'zh.UTF-8',
      '"zh"',
      'zh\\',
      '-x',
      'a'.repeat(40)
    ]) {
      expect(panelCode(language)).toBe(shown(''));
    }
  });
});

describe('afterKernelStatus', () => {
  const ready: Phase = { kind: 'ready' };

  it.each(['restarting', 'autorestarting'] as KernelStatus[])('%s hides the form until the kernel is idle', s => {
    const restarting = afterKernelStatus(ready, s);
    expect(restarting).toEqual({ phase: { kind: 'restarting' }, render: false });
    const idle = afterKernelStatus(restarting.phase, 'idle');
    expect(idle).toEqual({ phase: { kind: 'loading' }, render: true });
  });

  it('renders once a started kernel is idle, and not again on later idles', () => {
    const first = afterKernelStatus({ kind: 'starting', kernel: 'k' }, 'idle');
    expect(first.render).toBe(true);
    expect(afterKernelStatus(first.phase, 'busy').render).toBe(false);
    expect(afterKernelStatus(first.phase, 'idle').render).toBe(false);
    expect(afterKernelStatus(ready, 'idle')).toEqual({ phase: ready, render: false });
  });

  it('a dead kernel offers a new one, from any running phase', () => {
    for (const phase of ALL_PHASES.filter(p => p.kind !== 'closed' && p.kind !== 'no-kernelspec')) {
      expect(afterKernelStatus(phase, 'dead').phase.kind).toBe('dead');
    }
    expect(describePhase({ kind: 'dead' }, english).action?.id).toBe('restart');
  });

  it('a closed panel ignores the status of a kernel it no longer owns', () => {
    for (const s of ['idle', 'restarting', 'dead'] as KernelStatus[]) {
      expect(afterKernelStatus({ kind: 'closed' }, s)).toEqual({ phase: { kind: 'closed' }, render: false });
    }
  });

  it('busy and unknown change nothing', () => {
    for (const phase of ALL_PHASES) {
      expect(afterKernelStatus(phase, 'busy')).toEqual({ phase, render: false });
      expect(afterKernelStatus(phase, 'unknown')).toEqual({ phase, render: false });
    }
  });
});

describe('phaseForError', () => {
  it('names the package and the Python for a missing mai_widgets', () => {
    const phase = phaseForError(
      'ModuleNotFoundError',
      "No module named 'mai_widgets'",
      'Python 3 (ipykernel)',
      '/opt/env/bin/python'
    );
    expect(phase).toEqual({
      kind: 'missing-package',
      module: 'mai_widgets',
      pkg: 'mai-widgets',
      kernel: 'Python 3 (ipykernel)',
      python: '/opt/env/bin/python'
    });
    const view = describePhase(phase, english);
    expect(view.text).toContain('"mai-widgets" is not installed');
    expect(view.text).toContain('kernel "Python 3 (ipykernel)" (/opt/env/bin/python)');
    expect(view.code).toBe('/opt/env/bin/python -m pip install mai-widgets');
    expect(view.action).toEqual({ id: 'retry', label: 'Try again' });
  });

  it('names a missing dependency by its own package, top-level module only', () => {
    const phase = phaseForError('ModuleNotFoundError', "No module named 'ipywidgets.widgets'", 'k', null);
    expect(phase).toMatchObject({ kind: 'missing-package', module: 'ipywidgets', pkg: 'ipywidgets' });
    expect(describePhase(phase, english).code).toBe('pip install ipywidgets');
  });

  it('an old mai_widgets without Workbench asks for an upgrade', () => {
    const phase = phaseForError(
      'ImportError',
      "cannot import name 'Workbench' from 'mai_widgets' (/x/mai_widgets/__init__.py)",
      'k',
      '/usr/bin/python3'
    );
    expect(phase.kind).toBe('outdated-package');
    expect(describePhase(phase, english).code).toBe('/usr/bin/python3 -m pip install --upgrade mai-widgets');
  });

  it('any other error is shown by name and value, without a traceback', () => {
    const phase = phaseForError('ConfigError', 'bad region', 'k', null);
    expect(phase).toEqual({ kind: 'failed', ename: 'ConfigError', evalue: 'bad region' });
    expect(describePhase(phase, english).text).toBe('The form could not be loaded: ConfigError: bad region');
  });
});

describe('installCommand', () => {
  it('quotes a Python path with spaces or quotes for the shell', () => {
    expect(installCommand('mai-widgets', '/home/a b/bin/python')).toBe(
      "'/home/a b/bin/python' -m pip install mai-widgets"
    );
    expect(installCommand('mai-widgets', "/o'k/python")).toBe("'/o'\\''k/python' -m pip install mai-widgets");
  });

  it('maps module names to package names', () => {
    expect(packageForModule('mai_widgets.widgets.panel')).toBe('mai-widgets');
    expect(packageForModule('some_pkg')).toBe('some-pkg');
  });
});

describe('describePhase', () => {
  it('says something for every phase but ready, and only busy phases have no button', () => {
    const seen = new Set<PhaseKind>();
    for (const phase of ALL_PHASES) {
      seen.add(phase.kind);
      const view = describePhase(phase, english);
      if (phase.kind === 'ready') {
        expect(view).toEqual({ text: '', code: null, action: null, busy: false });
        continue;
      }
      expect(view.text.length).toBeGreaterThan(10);
      expect(view.busy).toBe(view.action === null);
    }
    expect(seen.size).toBe(ALL_PHASES.length - 1); // no-kernelspec is there twice
  });

  it('passes every word a user reads through the translator, as whole sentences', () => {
    for (const phase of ALL_PHASES.filter(p => p.kind !== 'ready')) {
      const pseudo = new PseudoLanguage();
      const view = describePhase(phase, pseudo);
      expect(view.text).toMatch(/^⟦[^⟦⟧]+⟧$/);
      if (view.action) {
        expect(view.action.label).toMatch(/^⟦[^⟦⟧]+⟧$/);
      }
      // The command to copy is shell, not prose: never translated.
      expect(view.code ?? '').not.toContain('⟦');
      // Values go in through %N, so a msgid is the same whatever the kernel or package.
      for (const msgid of pseudo.msgids) {
        expect(msgid).not.toMatch(/Python 3|mai_widgets'|\/e\/bin|julia|boom/);
      }
    }
  });

  it('fills every placeholder, with and without the Python path', () => {
    for (const phase of [
      ...ALL_PHASES,
      { kind: 'missing-package', module: 'x', pkg: 'x', kernel: 'k', python: null } as Phase,
      { kind: 'outdated-package', detail: 'd', kernel: 'k', python: '/p' } as Phase,
      { kind: 'no-kernelspec', requested: 'julia', available: [] } as Phase,
      { kind: 'no-kernelspec', requested: '', available: [] } as Phase
    ]) {
      expect(describePhase(phase, english).text).not.toMatch(/%\d/);
    }
    expect(describePhase({ kind: 'no-kernelspec', requested: 'julia', available: [] }, english).text).toBe(
      'No kernel named "julia" is installed. No kernels are installed at all.'
    );
  });

  it('says the kernel is starting, with its name', () => {
    expect(describePhase({ kind: 'starting', kernel: 'Python 3 (ipykernel)' }, english).text).toBe(
      'Starting the kernel (Python 3 (ipykernel))…'
    );
  });
});

describe('chooseKernel', () => {
  const specs = {
    default: 'python3',
    kernels: [
      { name: 'python3', language: 'python' },
      { name: 'ir', language: 'R' },
      { name: 'py311', language: 'python' }
    ]
  };

  it('uses the default kernel when the setting is empty', () => {
    expect(chooseKernel('', specs)).toEqual({ name: 'python3' });
    expect(chooseKernel('  ', specs)).toEqual({ name: 'python3' });
  });

  it('uses the setting when that kernel exists', () => {
    expect(chooseKernel('py311', specs)).toEqual({ name: 'py311' });
  });

  it('says which kernels exist when the setting names none of them', () => {
    expect(chooseKernel('julia', specs)).toEqual({ missing: 'julia', available: ['python3', 'ir', 'py311'] });
  });

  it('falls back to a Python kernel when the default is not Python', () => {
    expect(chooseKernel('', { ...specs, default: 'ir' })).toEqual({ name: 'python3' });
    expect(chooseKernel('', { default: 'ir', kernels: [{ name: 'ir', language: 'R' }] })).toEqual({
      missing: '',
      available: ['ir']
    });
  });
});

describe('trackKernelProcess', () => {
  const msg = (session: string, msgType = 'status', executionState?: string) => ({ session, msgType, executionState });

  it('learns the first process without calling it a change', () => {
    expect(trackKernelProcess(null, msg('a', 'status', 'busy'))).toEqual({ known: 'a', changed: false });
    expect(trackKernelProcess('a', msg('a', 'stream'))).toEqual({ known: 'a', changed: false });
  });

  it('a message signed by another process is a restart', () => {
    expect(trackKernelProcess('a', msg('b', 'status', 'idle'))).toEqual({ known: 'b', changed: true });
    expect(trackKernelProcess('a', msg('b', 'comm_msg'))).toEqual({ known: 'b', changed: true });
  });

  it("ignores the server's own status messages and unsigned messages", () => {
    for (const state of ['restarting', 'dead', 'autorestarting', 'starting']) {
      expect(trackKernelProcess('a', msg('server', 'status', state))).toEqual({ known: 'a', changed: false });
    }
    expect(trackKernelProcess('a', msg(''))).toEqual({ known: 'a', changed: false });
  });

  it('re-renders after a new process only where a form was, or was tried', () => {
    const yes = ALL_PHASES.filter(needsRenderAfterNewProcess).map(p => p.kind);
    expect(yes.sort()).toEqual(['failed', 'loading', 'missing-package', 'outdated-package', 'ready']);
  });
});

describe('isRestartEvent', () => {
  const event = {
    schema_id: 'https://events.jupyter.org/jupyter_server/kernel_actions/v1',
    action: 'restart',
    status: 'success',
    kernel_id: 'k1',
    kernel_name: 'python3',
    msg: 'Kernel k1 was restarted.'
  };

  it("is true only for a successful restart of the panel's own kernel", () => {
    expect(isRestartEvent(event, 'k1')).toBe(true);
    expect(isRestartEvent(event, 'k2')).toBe(false);
    expect(isRestartEvent(event, null)).toBe(false);
    expect(isRestartEvent({ ...event, status: 'error' }, 'k1')).toBe(false);
    expect(isRestartEvent({ ...event, action: 'interrupt' }, 'k1')).toBe(false);
    expect(isRestartEvent({ ...event, schema_id: 'https://example.invalid/other/v1' }, 'k1')).toBe(false);
  });
});

/** The catalogue's msgid → msgstr (fuzzy and untranslated entries left out), read from a .po. */
function readPo(file: string): Map<string, string> {
  const unquote = (line: string) => JSON.parse(line.trim().replace(/^(msgid|msgstr)\s+/, '')) as string;
  const entries = new Map<string, string>();
  for (const block of fs.readFileSync(file, 'utf-8').split(/\n\s*\n/)) {
    if (/^#,.*fuzzy/m.test(block)) {
      continue;
    }
    const lines = block.split('\n').filter(l => !l.startsWith('#'));
    let key: 'msgid' | 'msgstr' | null = null;
    const parts = { msgid: '', msgstr: '' };
    for (const line of lines) {
      const start = /^(msgid|msgstr) /.exec(line);
      if (start) {
        key = start[1] as 'msgid' | 'msgstr';
      } else if (!line.startsWith('"')) {
        key = null;
        continue;
      }
      if (key) {
        parts[key] += unquote(line);
      }
    }
    if (parts.msgid && parts.msgstr) {
      entries.set(parts.msgid, parts.msgstr);
    }
  }
  return entries;
}

describe('the side panel in Simplified Chinese', () => {
  const root = path.resolve(__dirname, '..', '..', '..');
  const zh = readPo(path.join(root, 'mai_widgets', 'locale', 'zh_CN', 'LC_MESSAGES', 'mai_widgets.po'));
  const placeholders = (text: string) => (text.match(/%\d/g) ?? []).sort();

  it('has a translation, with the same placeholders, for every sentence of every phase', () => {
    const variants: Phase[] = [
      ...ALL_PHASES,
      { kind: 'missing-package', module: 'x', pkg: 'x', kernel: 'k', python: null },
      { kind: 'outdated-package', detail: 'd', kernel: 'k', python: '/p' },
      { kind: 'no-kernelspec', requested: 'julia', available: [] },
      { kind: 'no-kernelspec', requested: '', available: [] }
    ];
    const asked = new Set<string>();
    for (const phase of variants) {
      const pseudo = new PseudoLanguage();
      describePhase(phase, pseudo);
      pseudo.msgids.forEach(m => asked.add(m));
    }
    for (const msgid of asked) {
      const msgstr = zh.get(msgid);
      expect({ msgid, translated: msgstr !== undefined }).toEqual({ msgid, translated: true });
      expect(placeholders(msgstr!)).toEqual(placeholders(msgid));
    }
    const chinese: ITranslate = { __: (msgid, ...args) => fill(zh.get(msgid) ?? msgid, args) };
    const view = describePhase({ kind: 'no-kernelspec', requested: 'julia', available: ['python3', 'ir'] }, chinese);
    // the values stay as they are: kernel names, the setting's name
    expect(view.text).toContain('julia');
    expect(view.text).toContain('python3, ir');
    expect(view.text).toContain('kernelName');
    expect(view.text).toMatch(/[\u4e00-\u9fff]/);
  });

  it('marks only literal sentences in the sources, so the extractor sees every one', () => {
    const sources = fs.readdirSync(path.join(__dirname, '..')).filter(f => f.endsWith('.ts'));
    for (const file of sources) {
      const text = fs.readFileSync(path.join(__dirname, '..', file), 'utf-8');
      for (const call of text.matchAll(/\.(?:__|_n|_p)\(\s*([^\s])/g)) {
        expect({ file, first: call[1] }).toEqual({ file, first: "'" });
      }
    }
  });
});
