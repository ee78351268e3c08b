/** What the browser tests and benchmarks share: selectors, waits and REST look-ups. */
import { expect, IJupyterLabPageFixture } from '@jupyterlab/galata';
import { APIRequestContext, Locator } from '@playwright/test';
import { execFileSync } from 'child_process';
import * as path from 'path';

export const PANEL_ID = 'mai-widgets-panel';
export const PANEL = `#${PANEL_ID}`;
export const SESSION_PATH = 'mai-widgets/modelarts-images-panel';
export const OPEN_COMMAND = 'mai-widgets:open';
export const OPEN_LABEL = 'ModelArts: Register a custom image';
export const ARTIFACTS = path.resolve(__dirname, '..', 'artifacts');

/** In the emulator's demo SWR catalogue (mai_widgets/emulator/defaults.py), so it reaches ACTIVE. */
export const CATALOGUE_IMAGE = 'swr.cn-north-4.myhuaweicloud.com/mai-demo/mindspore-ascend:2.3.0-aarch64';
/** Another catalogue image, registered only by the Images tab's test. */
export const LISTED_IMAGE = 'swr.cn-north-4.myhuaweicloud.com/mai-demo/sklearn:1.5.0';

// Waits are generous: a loaded 2-core CI machine may take long to start a kernel.
export const KERNEL_TIMEOUT = 120_000;

export function panel(page: IJupyterLabPageFixture): Locator {
  return page.locator(PANEL);
}

/** The Python RegisterPanel, rendered inside a given container (the side panel or a cell output). */
export class RegisterForm {
  constructor(readonly root: Locator) {}

  // Inputs are found by their labels (the widgets' descriptions), as a person finds them.
  get swrPath(): Locator {
    return this.root.getByRole('textbox', { name: 'SWR path', exact: true });
  }
  get arch(): Locator {
    return this.root.getByRole('combobox', { name: 'Architecture', exact: true });
  }
  /** A resource category or service checkbox, e.g. 'GPU' or 'SSH'. */
  checkbox(label: string): Locator {
    return this.root.getByRole('checkbox', { name: label, exact: true });
  }
  get register(): Locator {
    return this.root.locator('.mai-register-button');
  }
  get swrError(): Locator {
    return this.root.locator('.mai-field-error-swr-path');
  }
  get badge(): Locator {
    return this.root.locator('.mai-status-badge');
  }
  get recordId(): Locator {
    return this.root.locator('.mai-record-id');
  }

  async typeSwrPath(value: string): Promise<void> {
    await this.swrPath.fill(value);
  }

  /**
   * Press Register, which waits for the path's checks; where one warns (the image is registered
   * already, or runs as root), answer "Register anyway", as a user who read it would.
   */
  async pressRegister(): Promise<void> {
    await this.register.click();
    // (the confirm box is always in the page, hidden until a check warns)
    const confirm = this.root.locator('.mai-preflight-confirm:visible');
    const sent = this.root.locator('.mai-status-badge:visible').filter({ hasNotText: 'EDITING' });
    await expect(confirm.or(sent).first()).toBeVisible({ timeout: KERNEL_TIMEOUT });
    if (await confirm.isVisible()) {
      await confirm.click();
    }
  }
}

/** The side panel's Python Workbench: its tabs ("Register", "Images") and the image list. */
export class Workbench {
  constructor(readonly root: Locator) {}

  /** Its own tabs only (the form's request preview has tabs too). */
  get tabs(): Locator {
    return this.root.locator(':scope > .lm-TabBar .lm-TabBar-tab');
  }
  tab(title: string): Locator {
    return this.tabs.filter({ hasText: title });
  }
  get browser(): Locator {
    return this.root.locator('.mai-image-browser');
  }
  /** The name:tag buttons of the listed images. */
  get rowNames(): Locator {
    return this.browser.locator('.mai-image-row .mai-image-row-name');
  }
}

export function sidePanelWorkbench(page: IJupyterLabPageFixture): Workbench {
  return new Workbench(page.locator(`${PANEL} .mai-workbench`));
}

export function sidePanelForm(page: IJupyterLabPageFixture): RegisterForm {
  return new RegisterForm(page.locator(`${PANEL} .mai-register-panel`));
}

export async function waitForPhase(
  page: IJupyterLabPageFixture,
  phase: string,
  timeout = KERNEL_TIMEOUT
): Promise<void> {
  await expect(page.locator(`${PANEL}[data-mai-phase="${phase}"]`)).toBeAttached({ timeout });
}

/** The form is there and can be typed into. */
export async function waitForForm(page: IJupyterLabPageFixture): Promise<RegisterForm> {
  await waitForPhase(page, 'ready');
  const form = sidePanelForm(page);
  await expect(form.swrPath).toBeVisible({ timeout: KERNEL_TIMEOUT });
  await expect(form.swrPath).toBeEditable();
  return form;
}

export async function openFromSideBar(page: IJupyterLabPageFixture): Promise<void> {
  const tab = page.locator(`.jp-SideBar .lm-TabBar-tab[data-id="${PANEL_ID}"]`);
  await expect(tab).toHaveAttribute('title', 'ModelArts images');
  if (!(await panel(page).isVisible())) {
    await tab.click(); // a click on the tab of an open panel would close it
  }
  await expect(panel(page)).toBeVisible();
}

export async function openFromPalette(page: IJupyterLabPageFixture): Promise<void> {
  await page.keyboard.press('Control+Shift+C');
  const input = page.locator('.lm-CommandPalette-input');
  await expect(input).toBeVisible();
  await input.fill('Register a custom image');
  const item = page.locator('.lm-CommandPalette-item').filter({ hasText: OPEN_LABEL });
  await expect(item).toHaveCount(1);
  await item.click();
  await expect(panel(page)).toBeVisible();
}

/** The side bar is narrow by default; a wider one makes readable screenshots. */
export async function widenSideBar(page: IJupyterLabPageFixture, fraction = 0.5): Promise<void> {
  await page.evaluate(f => {
    const shell = (window as any).jupyterapp.shell;
    shell._hsplitPanel?.setRelativeSizes([f, 1 - f, 0]);
  }, fraction);
}

export interface PanelSession {
  sessionId: string;
  kernelId: string;
}

export async function panelSessions(request: APIRequestContext): Promise<PanelSession[]> {
  const response = await request.get('/api/sessions');
  expect(response.ok()).toBe(true);
  const sessions = (await response.json()) as { id: string; path: string; kernel: { id: string } | null }[];
  return sessions
    .filter(s => s.path === SESSION_PATH && s.kernel)
    .map(s => ({ sessionId: s.id, kernelId: s.kernel!.id }));
}

export async function runningKernelIds(request: APIRequestContext): Promise<string[]> {
  const response = await request.get('/api/kernels');
  expect(response.ok()).toBe(true);
  return ((await response.json()) as { id: string }[]).map(k => k.id);
}

export async function onlyPanelSession(request: APIRequestContext): Promise<PanelSession> {
  let sessions: PanelSession[] = [];
  await expect.poll(async () => (sessions = await panelSessions(request)).length, { timeout: KERNEL_TIMEOUT }).toBe(1);
  return sessions[0];
}

/** Run Python with the emulator's settings (servers.py passes them on, with MAI_PYTHON). */
function python(args: string[]): string {
  return execFileSync(process.env.MAI_PYTHON ?? 'python', args, {
    encoding: 'utf-8',
    timeout: KERNEL_TIMEOUT
  }).trim();
}

/** Register an image as a user's script would (not through the panel); waits until it settles. */
export function registerByScript(swrPath: string): { id: string; status: string } {
  const [id, status] = python([path.resolve(__dirname, '..', 'fixtures', 'register_by_script.py'), swrPath]).split(' ');
  return { id, status };
}

/** Push a small image to the emulator's SWR, as `docker push` would to SWR. */
export function pushImage(swrPath: string): void {
  expect(python(['-m', 'mai_widgets.emulator.push', swrPath])).toMatch(/^pushed /);
}

/**
 * An SWR path no earlier test used (each test leaves its images in the emulator), not pushed;
 * with `register`, a script registers it first (ModelArts ends it CREATE_FAILED).
 */
export function freshSwrPath(name: string, options: { register?: boolean } = {}): { swrPath: string; nameTag: string } {
  const nameTag = `${name}-${Date.now()}:1.0`;
  const swrPath = `swr.cn-north-4.myhuaweicloud.com/mai-demo/${nameTag}`;
  if (options.register) {
    expect(registerByScript(swrPath).status).toBe('CREATE_FAILED');
  }
  return { swrPath, nameTag };
}

/**
 * Words (two or more letters) that the layout cut across two lines, in text people read: none
 * expected. Text boxes and code are left out; a long value breaks after its "/" and "." instead.
 */
export async function brokenWords(root: Locator): Promise<string[]> {
  return root.evaluate(element => {
    const found: string[] = [];
    const walker = document.createTreeWalker(element, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      const parent = node.parentElement;
      if (!parent || parent.offsetParent === null || parent.closest('input, textarea, select, pre, code')) {
        continue;
      }
      const text = node.textContent ?? '';
      for (const match of text.matchAll(/\p{L}{2,}/gu)) {
        const range = document.createRange();
        range.setStart(node, match.index ?? 0);
        range.setEnd(node, (match.index ?? 0) + match[0].length);
        const lines = new Set(
          Array.from(range.getClientRects())
            .filter(r => r.width > 0)
            .map(r => Math.round(r.top))
        );
        if (lines.size > 1) {
          found.push(`"${match[0]}" in "${text.trim().slice(0, 60)}"`);
        }
      }
    }
    return found;
  });
}
