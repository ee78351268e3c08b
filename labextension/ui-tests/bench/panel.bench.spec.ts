/**
 * Benchmark rows for `make bench` (run.sh bench), not assertions: timings vary with the
 * machine's load, so they are printed and written to artifacts/bench.json.
 *
 * - command → interactive form, cold: no kernel for the panel yet (kernel start, import of
 *   mai_widgets, the widgets' creation and rendering all included). What the panel adds is that
 *   minus its kernel's own start, from the request for its session to the kernel's kernel_info
 *   reply (seen on the wire, in the same run). A bare kernel's start (a session of the same
 *   kernel, to its kernel_info reply), alternating with the panel's, is printed beside it;
 * - the same, warm: the panel's kernel is running and the side bar is collapsed;
 * - the size of the extension's own built JavaScript (shared packages are not in it).
 */
import { expect, IJupyterLabPageFixture, test } from '@jupyterlab/galata';
import * as fs from 'fs';
import * as path from 'path';
import * as zlib from 'zlib';

import { ARTIFACTS, panelSessions } from '../tests/helpers';

const COLD_RUNS = 9; // a kernel start varies by ±0.1 s: more runs, a steadier median
const WARM_RUNS = 5;
const STATIC_DIR = path.resolve(__dirname, '..', '..', '..', 'mai_widgets', 'labextension', 'static');

interface Row {
  name: string;
  value: number;
  unit: string;
  goal: string;
  runs?: number[];
}

/** One open, in milliseconds from running the command (at `started`, epoch ms): when its reply
 * came (every widget model sent), and when the form took typing. */
interface IOpen {
  started: number;
  total: number;
  replied: number;
}

/** Epoch ms of what the page sent and got: session requests, and kernel_info replies. */
class Wire {
  constructor(page: IJupyterLabPageFixture) {
    page.on('request', request => {
      if (request.method() === 'POST' && /\/api\/sessions(\?|$)/.test(request.url())) {
        this.sessionPosts.push(Date.now());
      }
    });
    page.on('websocket', socket => {
      socket.on('framereceived', frame => {
        if (String(frame.payload).includes('"kernel_info_reply"')) {
          this.infoReplies.push(Date.now());
        }
      });
    });
  }

  /** From the first session request after `since` to the first kernel_info reply after it. */
  kernelStart(since: number): { requested: number; ready: number } {
    const requested = this.sessionPosts.find(t => t >= since) ?? NaN;
    const ready = this.infoReplies.find(t => t >= requested) ?? NaN;
    return { requested, ready };
  }

  sessionPosts: number[] = [];
  infoReplies: number[] = [];
}

/** Runs the open command and times it in the page (phases from the panel's data-mai-phase). */
async function commandToForm(page: IJupyterLabPageFixture): Promise<IOpen> {
  return page.evaluate(async () => {
    const app = (window as any).jupyterapp;
    const start = performance.now();
    const started = performance.timeOrigin + start;
    let replied = NaN;
    void app.commands.execute('mai-widgets:open');
    return new Promise<IOpen>(resolve => {
      const check = () => {
        const panel = document.getElementById('mai-widgets-panel');
        const phase = panel?.dataset.maiPhase;
        if (phase === 'ready' && isNaN(replied)) {
          replied = performance.now() - start;
        }
        const input = panel?.querySelector('.mai-swr-path input') as HTMLInputElement | null;
        if (phase === 'ready' && input && !input.disabled && input.offsetParent !== null) {
          resolve({ started, total: performance.now() - start, replied });
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
  const wire = new Wire(page);
  const cold: number[] = [];
  const own: number[] = []; // the panel's kernel's own start
  const requested: number[] = []; // command → its session requested
  const ready: number[] = []; // command → its kernel's kernel_info reply
  const replied: number[] = [];
  const bare: number[] = [];
  const warm: number[] = [];

  // Alternating, so both see the same load of a shared machine.
  for (let i = 0; i < COLD_RUNS; i++) {
    await page.evaluate(() => (window as any).jupyterapp.commands.execute('mai-widgets:shutdown'));
    await expect.poll(() => panelSessions(page.request), { timeout: 60_000 }).toEqual([]);
    bare.push(await kernelStart(page));
    const open = await commandToForm(page);
    const kernel = wire.kernelStart(open.started);
    cold.push(open.total);
    replied.push(open.replied);
    requested.push(kernel.requested - open.started);
    ready.push(kernel.ready - open.started);
    own.push(kernel.ready - kernel.requested);
  }
  const added = cold.map((c, i) => c - own[i]);
  const addedToBare = cold.map((c, i) => c - bare[i]);
  for (let i = 0; i < WARM_RUNS; i++) {
    await page.evaluate(() => (window as any).jupyterapp.shell.collapseLeft());
    await expect(page.locator('#mai-widgets-panel')).toBeHidden();
    warm.push((await commandToForm(page)).total);
  }
  const size = bundleSize();

  /** A timing row: the median of `runs` (milliseconds), printed in seconds. */
  const timed = (name: string, runs: number[], goal = ''): Row => ({
    name: `${name}, median`,
    value: median(runs) / 1000,
    unit: 's',
    goal,
    runs
  });
  const rows: Row[] = [
    timed('side panel: command → interactive form, cold (kernel start included)', cold, '≤ 1.0 s'),
    timed('bare kernel start (a session to its kernel_info reply), same run', bare),
    timed("the panel's kernel's own start (its session request → kernel_info reply)", own),
    timed("side panel: cold open minus its kernel's own start, per run", added, '≤ 0.3 s'),
    timed('side panel: cold open minus the bare kernel start, per run', addedToBare),
    timed('cold open, split: command → session requested', requested),
    timed(
      "cold open, split: kernel_info reply → panel code's reply (import, build, models sent)",
      replied.map((r, i) => r - ready[i])
    ),
    timed(
      'cold open, split: reply → form takes typing (the browser renders)',
      cold.map((c, i) => c - replied[i])
    ),
    timed('side panel: command → interactive form, warm (kernel running)', warm, '≤ 0.3 s'),
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
