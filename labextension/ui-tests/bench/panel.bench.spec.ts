/**
 * Benchmark rows for `make bench` (run.sh bench), not assertions: timings vary with the
 * machine's load, so they are printed and written to artifacts/bench.json.
 *
 * - command → interactive form, cold: no kernel for the panel yet (kernel start, import of
 *   mai_widgets, the widgets' creation and rendering all included), beside a bare kernel's own
 *   start (a session of the same kernel, to its kernel_info reply) measured in the same run: the
 *   difference is what the panel adds;
 * - the same, warm: the panel's kernel is running and the side bar is collapsed;
 * - the size of the extension's own built JavaScript (shared packages are not in it).
 */
import { expect, IJupyterLabPageFixture, test } from '@jupyterlab/galata';
import * as fs from 'fs';
import * as path from 'path';
import * as zlib from 'zlib';

import { ARTIFACTS, panelSessions } from '../tests/helpers';

const COLD_RUNS = 5;
const WARM_RUNS = 5;
const STATIC_DIR = path.resolve(__dirname, '..', '..', '..', 'mai_widgets', 'labextension', 'static');

interface Row {
  name: string;
  value: number;
  unit: string;
  goal: string;
  runs?: number[];
}

/** One open, in milliseconds from running the command: when the panel's code was sent (the kernel
 * idle), when its reply came (every widget model sent), and when the form took typing. */
interface IOpen {
  total: number;
  sent: number;
  replied: number;
}

/** Runs the open command and times it in the page (phases from the panel's data-mai-phase). */
async function commandToForm(page: IJupyterLabPageFixture): Promise<IOpen> {
  return page.evaluate(async () => {
    const app = (window as any).jupyterapp;
    const start = performance.now();
    let sent = NaN;
    let replied = NaN;
    void app.commands.execute('mai-widgets:open');
    return new Promise<IOpen>(resolve => {
      const check = () => {
        const panel = document.getElementById('mai-widgets-panel');
        const phase = panel?.dataset.maiPhase;
        if (phase === 'loading' && isNaN(sent)) {
          sent = performance.now() - start;
        }
        if (phase === 'ready' && isNaN(replied)) {
          replied = performance.now() - start;
        }
        const input = panel?.querySelector('.mai-swr-path input') as HTMLInputElement | null;
        if (phase === 'ready' && input && !input.disabled && input.offsetParent !== null) {
          resolve({ total: performance.now() - start, sent, replied });
        } else {
          setTimeout(check, 2);
        }
      };
      check();
    });
  });
}

/** Milliseconds to start a bare kernel like the panel's (a session, to its kernel_info reply); shut down after. */
async function kernelStart(page: IJupyterLabPageFixture): Promise<number> {
  return page.evaluate(async () => {
    const services = (window as any).jupyterapp.serviceManager;
    await services.kernelspecs.ready;
    const start = performance.now();
    const session = await services.sessions.startNew({
      path: 'mai-widgets-bench/bare-kernel',
      type: 'mai-widgets-bench',
      name: 'bare kernel',
      kernel: { name: services.kernelspecs.specs.default }
    });
    await session.kernel.info;
    const elapsed = performance.now() - start;
    await session.shutdown();
    session.dispose();
    return elapsed;
  });
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function bundleSize(): { raw: number; gzip: number; files: string[] } {
  const files = fs.readdirSync(STATIC_DIR).filter(f => f.endsWith('.js'));
  let raw = 0;
  let gzip = 0;
  for (const file of files) {
    const bytes = fs.readFileSync(path.join(STATIC_DIR, file));
    raw += bytes.length;
    gzip += zlib.gzipSync(bytes, { level: 9 }).length;
  }
  return { raw, gzip, files };
}

test('side panel benchmark', async ({ page }) => {
  test.setTimeout(600_000);
  const cold: number[] = [];
  const sent: number[] = [];
  const replied: number[] = [];
  const bare: number[] = [];
  const warm: number[] = [];

  // Alternating, so both see the same load of a shared machine.
  for (let i = 0; i < COLD_RUNS; i++) {
    await page.evaluate(() => (window as any).jupyterapp.commands.execute('mai-widgets:shutdown'));
    await expect.poll(() => panelSessions(page.request), { timeout: 60_000 }).toEqual([]);
    bare.push(await kernelStart(page));
    const open = await commandToForm(page);
    cold.push(open.total);
    sent.push(open.sent);
    replied.push(open.replied);
  }
  const added = cold.map((c, i) => c - bare[i]);
  for (let i = 0; i < WARM_RUNS; i++) {
    await page.evaluate(() => (window as any).jupyterapp.shell.collapseLeft());
    await expect(page.locator('#mai-widgets-panel')).toBeHidden();
    warm.push((await commandToForm(page)).total);
  }
  const size = bundleSize();

  const rows: Row[] = [
    {
      name: 'side panel: command → interactive form, cold (kernel start included), median',
      value: median(cold) / 1000,
      unit: 's',
      goal: '≤ 1.0 s',
      runs: cold
    },
    {
      name: 'bare kernel start (a session to its kernel_info reply), same run, median',
      value: median(bare) / 1000,
      unit: 's',
      goal: '',
      runs: bare
    },
    {
      name: 'side panel: cold open minus the kernel start, per run, median',
      value: median(added) / 1000,
      unit: 's',
      goal: '≤ 0.3 s',
      runs: added
    },
    {
      name: 'cold open, split: command → panel code sent (kernel started), median',
      value: median(sent) / 1000,
      unit: 's',
      goal: '',
      runs: sent
    },
    {
      name: 'cold open, split: panel code sent → its reply (import, build, models sent), median',
      value: median(replied.map((r, i) => r - sent[i])) / 1000,
      unit: 's',
      goal: '',
      runs: replied.map((r, i) => r - sent[i])
    },
    {
      name: 'cold open, split: reply → form takes typing (the browser renders), median',
      value: median(cold.map((c, i) => c - replied[i])) / 1000,
      unit: 's',
      goal: '',
      runs: cold.map((c, i) => c - replied[i])
    },
    {
      name: 'side panel: command → interactive form, warm (kernel running), median',
      value: median(warm) / 1000,
      unit: 's',
      goal: '≤ 0.3 s',
      runs: warm
    },
    {
      name: `side panel: built JavaScript, own code only (${size.files.length} files)`,
      value: size.raw / 1024,
      unit: 'KiB',
      goal: '≤ 40 KiB'
    },
    { name: 'side panel: built JavaScript, gzipped', value: size.gzip / 1024, unit: 'KiB', goal: '' }
  ];
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  fs.writeFileSync(path.join(ARTIFACTS, 'bench.json'), JSON.stringify(rows, null, 1));
  for (const row of rows) {
    const runs = row.runs ? `  runs: ${row.runs.map(r => (r / 1000).toFixed(3)).join(', ')} s` : '';
    console.log(`BENCH | ${row.name} | ${row.value.toFixed(3)} ${row.unit} | goal ${row.goal || '-'} |${runs}`);
  }
});
