/** What the browser tests and benchmarks share: selectors, waits and REST look-ups. */
import { expect, IJupyterLabPage, IJupyterLabPageFixture } from '@jupyterlab/galata';
import { APIRequestContext, Locator, Page } from '@playwright/test';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

export const PANEL_ID = 'mai-widgets-panel';
export const PANEL = `#${PANEL_ID}`;
export const SESSION_PATH = 'mai-widgets/modelarts-images-panel';
export const OPEN_COMMAND = 'mai-widgets:open';
export const OPEN_LABEL = 'ModelArts: Register a custom image';
export const ARTIFACTS = path.resolve(__dirname, '..', 'artifacts');

/**
 * The words a person reads, in the language a test runs JupyterLab in: `words('Images')` is that
 * msgid's translation in the catalogue mai-widgets ships (mai_widgets/locale/<lang>/…/.po, which
 * the kernel's gettext and the side panel read too), the msgid itself when the catalogue has no
 * translation of it (yet) or the language is English.
 */
export type Words = (msgid: string) => string;

export const ENGLISH: Words = msgid => msgid;

/** The languages the browser tests run JupyterLab in, and its setting for each. */
export const LANGUAGES = ['en', 'zh_CN'] as const;
export type Language = (typeof LANGUAGES)[number];

export function wordsFor(language: Language): Words {
  if (language === 'en') {
    return ENGLISH;
  }
  const po = path.resolve(
    __dirname,
    '..',
    '..',
    '..',
    'mai_widgets',
    'locale',
    language,
    'LC_MESSAGES',
    'mai_widgets.po'
  );
  const catalogue = readPo(fs.readFileSync(po, 'utf-8'));
  return msgid => catalogue.get(msgid) || msgid;
}

/** msgid → msgstr of a .po's translated, not fuzzy, singular entries. */
function readPo(text: string): Map<string, string> {
  const entries = new Map<string, string>();
  for (const block of text.split(/\n\s*\n/)) {
    if (/^#,.*fuzzy/m.test(block)) {
      continue;
    }
    const parts: Record<string, string> = {};
    let key: string | null = null;
    for (const line of block.split('\n')) {
      const start = /^(msgid|msgstr|msgid_plural|msgctxt|msgstr\[\d+\]) (".*")$/.exec(line);
      if (start) {
        key = start[1];
        parts[key] = JSON.parse(start[2]);
      } else if (key && line.startsWith('"')) {
        parts[key] += JSON.parse(line);
      } else {
        key = null;
      }
    }
    if (parts.msgid && parts.msgstr && parts.msgctxt === undefined) {
      entries.set(parts.msgid, parts.msgstr);
    }
  }
  return entries;
}

/** Galata's settings with JupyterLab's language (Settings › Language) set. */
export function settingsIn(language: Language, defaults: Record<string, unknown>): Record<string, unknown> {
  return {
    ...defaults,
    '@jupyterlab/translation-extension:plugin': { locale: language === 'en' ? 'en' : language }
  };
}

/**
 * A new notebook, as File › New › Notebook makes it, in any language (Galata's `notebook.createNew`
 * clicks the English menu): the same command, and the kernel dialog's default answered.
 */
export async function createNotebook(page: IJupyterLabPageFixture): Promise<void> {
  await page.evaluate(() => void (window as any).jupyterapp.commands.execute('notebook:create-new'));
  await page.locator('.jp-Dialog').waitFor();
  await page.click('.jp-Dialog .jp-mod-accept');
  await page.locator('.jp-NotebookPanel').first().waitFor({ state: 'visible' });
}

type WaitForApplication = (page: Page, helpers: IJupyterLabPage) => Promise<void>;

/**
 * Galata's `waitForApplication` fixture for JupyterLab in any language: Galata's own waits for a
 * tab titled "Launcher", which JupyterLab in Chinese calls 启动页; this one waits for the launcher.
 */
// (Playwright reads the fixtures a function needs from its first argument: an empty pattern)
// eslint-disable-next-line no-empty-pattern
export async function waitForLauncher({}: object, use: (wait: WaitForApplication) => Promise<void>): Promise<void> {
  await use(async page => {
    await page.locator('#jupyterlab-splash').waitFor({ state: 'detached' });
    await page.locator('.jp-Launcher').first().waitFor({ state: 'visible' });
  });
}

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
  constructor(
    readonly root: Locator,
    readonly words: Words = ENGLISH
  ) {}

  // Inputs are found by their labels (the widgets' descriptions), as a person finds them.
  get swrPath(): Locator {
    return this.root.getByRole('textbox', { name: this.words('SWR path'), exact: true });
  }
  get arch(): Locator {
    return this.root.getByRole('combobox', { name: this.words('Architecture'), exact: true });
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
  constructor(
    readonly root: Locator,
    readonly words: Words = ENGLISH
  ) {}

  /** Its own tabs only (the form's request preview has tabs too). */
  get tabs(): Locator {
    return this.root.locator(':scope > .lm-TabBar .lm-TabBar-tab');
  }
  /** A tab by its English title, in the workbench's language: the whole title (镜像 is also in 保存镜像). */
  tab(title: string): Locator {
    const words = this.words(title).replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    return this.tabs.filter({ hasText: new RegExp(`^\\s*${words}\\s*$`) });
  }
  get browser(): Locator {
    return this.root.locator('.mai-image-browser');
  }
  /** The name:tag buttons of the listed images. */
  get rowNames(): Locator {
    return this.browser.locator('.mai-image-row .mai-image-row-name');
  }
}

/** The emulator's demo notebook instance (mai_widgets/emulator/defaults.py), RUNNING on 127.0.0.1. */
export const DEMO_NOTEBOOK = 'mai-demo-notebook';

/** The Workbench's "Save notebook" tab (mai_widgets/widgets/save_tab.py). */
export class SaveTab {
  constructor(
    readonly root: Locator,
    readonly words: Words = ENGLISH
  ) {}

  get instance(): Locator {
    return this.root.getByRole('combobox', { name: this.words('Instance'), exact: true });
  }
  get instanceOptions(): Locator {
    return this.instance.locator('option');
  }
  /** A text box with the organizations these credentials can read as its suggestions (a datalist). */
  get organization(): Locator {
    return this.root.getByRole('combobox', { name: this.words('Organization'), exact: true });
  }
  get organizationOptions(): Locator {
    return this.root.locator('.mai-save-organization datalist option');
  }
  get name(): Locator {
    return this.root.getByRole('textbox', { name: this.words('Name'), exact: true });
  }
  get tag(): Locator {
    return this.root.getByRole('textbox', { name: this.words('Tag'), exact: true });
  }
  get description(): Locator {
    return this.root.getByRole('textbox', { name: this.words('Description'), exact: true });
  }
  /** (by class: the icon's glyph is part of its accessible name, as the Register button's) */
  get save(): Locator {
    return this.root.locator('.mai-save-button');
  }
  get notebookState(): Locator {
    return this.root.locator('.mai-save-notebook-state');
  }
  get imageState(): Locator {
    return this.root.locator('.mai-save-image-state');
  }

  /** Take one of the suggested organizations, as typing its first letters and picking it does. */
  async pickOrganization(namespace: string): Promise<void> {
    await expect(this.organizationOptions.and(this.root.locator(`[value="${namespace}"]`))).toHaveCount(1, {
      timeout: KERNEL_TIMEOUT
    });
    await this.organization.fill(namespace);
  }
}

export function sidePanelSaveTab(page: IJupyterLabPageFixture, words: Words = ENGLISH): SaveTab {
  return new SaveTab(page.locator(`${PANEL} .mai-save-notebook`), words);
}

/**
 * Record, from now on, each text the elements matching `selectors` (by key) show under `root`, in
 * order, as the page changes (a MutationObserver: a state shown for an instant is caught too).
 */
export async function recordTexts(root: Locator, selectors: Record<string, string>): Promise<void> {
  await root.evaluate((element, selectors) => {
    const seen: Record<string, string[]> = {};
    const note = () => {
      for (const [key, selector] of Object.entries(selectors)) {
        const text = (element.querySelector(selector)?.textContent ?? '').trim();
        const texts = (seen[key] ??= []);
        if (text && texts[texts.length - 1] !== text) {
          texts.push(text);
        }
      }
    };
    note();
    new MutationObserver(note).observe(element, { subtree: true, childList: true, characterData: true });
    (element as any).maiRecordedTexts = seen;
  }, selectors);
}

export async function recordedTexts(root: Locator): Promise<Record<string, string[]>> {
  return root.evaluate(element => (element as any).maiRecordedTexts as Record<string, string[]>);
}

export function sidePanelWorkbench(page: IJupyterLabPageFixture, words: Words = ENGLISH): Workbench {
  return new Workbench(page.locator(`${PANEL} .mai-workbench`), words);
}

export function sidePanelForm(page: IJupyterLabPageFixture, words: Words = ENGLISH): RegisterForm {
  return new RegisterForm(page.locator(`${PANEL} .mai-register-panel`), words);
}

export async function waitForPhase(
  page: IJupyterLabPageFixture,
  phase: string,
  timeout = KERNEL_TIMEOUT
): Promise<void> {
  await expect(page.locator(`${PANEL}[data-mai-phase="${phase}"]`)).toBeAttached({ timeout });
}

/** The form is there and can be typed into. */
export async function waitForForm(page: IJupyterLabPageFixture, words: Words = ENGLISH): Promise<RegisterForm> {
  await waitForPhase(page, 'ready');
  const form = sidePanelForm(page, words);
  await expect(form.swrPath).toBeVisible({ timeout: KERNEL_TIMEOUT });
  await expect(form.swrPath).toBeEditable();
  return form;
}

export async function openFromSideBar(page: IJupyterLabPageFixture, words: Words = ENGLISH): Promise<void> {
  const tab = page.locator(`.jp-SideBar .lm-TabBar-tab[data-id="${PANEL_ID}"]`);
  await expect(tab).toHaveAttribute('title', words('ModelArts images'));
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
 * Chinese (and Japanese, Korean) text has no spaces and breaks between any two characters: only
 * runs of letters of other scripts count as words.
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
      for (const match of text.matchAll(/(?:(?![\p{sc=Han}\p{sc=Hiragana}\p{sc=Katakana}\p{sc=Hangul}])\p{L}){2,}/gu)) {
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

/**
 * Elements that scroll sideways on purpose: text inputs, text areas and drop-downs; and the
 * panel's live region, which is not drawn (a 1 px clipped box that screen readers read).
 */
const SCROLLS_ON_PURPOSE = 'input, textarea, select, .mai-panel-announcer';

/**
 * Descriptions of the elements under `root` wider than their box (none expected). A box that can
 * scroll sideways gets no slack at all: one pixel more and it scrolls, and what it holds is cut at
 * its edge. Other boxes get one pixel, for text that sub-pixel rounding makes a hair wider.
 */
export async function overflowing(root: Locator): Promise<string[]> {
  return root.evaluate((root, skip) => {
    const found: string[] = [];
    for (const el of [root, ...Array.from(root.querySelectorAll('*'))] as HTMLElement[]) {
      if (el.matches(skip) || el.closest('.widget-textarea, select')) {
        continue;
      }
      const overflowX = getComputedStyle(el).overflowX;
      const slack = overflowX === 'auto' || overflowX === 'scroll' ? 0 : 1;
      if (el.clientWidth > 0 && el.scrollWidth > el.clientWidth + slack) {
        found.push(
          `${el.tagName}.${el.className} ${el.scrollWidth}>${el.clientWidth} "${(el.textContent ?? '').slice(0, 40)}"`
        );
      }
    }
    return found;
  }, SCROLLS_ON_PURPOSE);
}

/**
 * Descriptions of the elements matching `selector` that are not shown whole sideways (none
 * expected): each one's box, borders included, must lie inside the visible area of every
 * ancestor up to `root` that clips or scrolls, and must not scroll sideways itself.
 */
export async function cutOff(root: Locator, selector: string): Promise<string[]> {
  return root.evaluate((root, selector) => {
    const found: string[] = [];
    const name = (el: Element) => `${el.tagName}.${String(el.className).trim().split(/\s+/).join('.')}`;
    for (const el of Array.from(root.querySelectorAll(selector)) as HTMLElement[]) {
      if (!el.checkVisibility()) {
        continue;
      }
      if (el.scrollWidth !== el.clientWidth) {
        found.push(`${name(el)} scrolls sideways: ${el.scrollWidth} > ${el.clientWidth}`);
      }
      const box = el.getBoundingClientRect();
      for (let up = el.parentElement; up; up = up.parentElement) {
        if (getComputedStyle(up).overflowX !== 'visible') {
          // the visible area: inside the borders, without a vertical scroll bar
          const outer = up.getBoundingClientRect();
          const left = outer.left + up.clientLeft;
          const right = left + up.clientWidth;
          if (box.left < left - 0.01 || box.right > right + 0.01) {
            found.push(
              `${name(el)} [${box.left.toFixed(1)}, ${box.right.toFixed(1)}] is cut by ${name(up)} [${left.toFixed(1)}, ${right.toFixed(1)}]`
            );
          }
        }
        if (up === root) {
          break;
        }
      }
    }
    return found;
  }, selector);
}

/**
 * Drop-downs under `root` whose chosen option is drawn cut (none expected): its text, in the
 * drop-down's font, wider than the box inside its padding (the arrow sits in the padding).
 */
export async function cutSelections(root: Locator): Promise<string[]> {
  return root.evaluate(root => {
    const found: string[] = [];
    const context = document.createElement('canvas').getContext('2d')!;
    for (const select of Array.from(
      root.querySelectorAll('select:not([multiple]):not([size])')
    ) as HTMLSelectElement[]) {
      const option = select.selectedOptions[0];
      if (!option || !select.checkVisibility()) {
        continue;
      }
      const style = getComputedStyle(select);
      context.font = style.font;
      const text = option.text;
      const width = context.measureText(text).width;
      const room = select.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
      if (width > room + 0.5) {
        found.push(`"${text}" is ${width.toFixed(1)} px in a ${room.toFixed(1)} px drop-down`);
      }
    }
    return found;
  });
}

/**
 * The contrast ratio of every character of each visible message matching `selector`, glyphs
 * included, as a user sees it: each run of text in its own element's colour (a coloured icon
 * inside a message is measured in its colour, not the message's), the text a ::before or ::after
 * adds in the pseudo-element's colour, each against the background under it.
 */
export async function contrasts(root: Locator, selector: string): Promise<{ text: string; ratio: number }[]> {
  return root.evaluate((root, selector) => {
    /** A computed colour: rgb()/rgba(), or color(srgb …) as color-mix() computes to. */
    const parse = (c: string): number[] => {
      const rgb = c.match(/^rgba?\(([^)]+)\)$/);
      const srgb = c.match(/^color\(srgb ([^)]+)\)$/);
      const m = rgb ?? srgb;
      if (!m) {
        throw new Error(`a colour this check cannot read: ${c}`);
      }
      const p = m[1]
        .split(/[ ,/]+/)
        .filter(Boolean)
        .map(Number);
      const scale = rgb ? 1 : 255;
      return [p[0] * scale, p[1] * scale, p[2] * scale, p.length > 3 ? p[3] : 1];
    };
    const over = (top: number[], under: number[]): number[] => {
      const a = top[3];
      return [0, 1, 2].map(i => top[i] * a + under[i] * (1 - a)).concat([1]);
    };
    /** The colour under an element (or one of its pseudo-elements, whose own background is on top). */
    const background = (el: Element, pseudo: CSSStyleDeclaration | null): number[] => {
      const layers: number[][] = [];
      const styles = pseudo ? [pseudo] : [];
      for (let e: Element | null = el; e; e = e.parentElement) {
        styles.push(getComputedStyle(e));
      }
      for (const style of styles) {
        const c = parse(style.backgroundColor);
        if (c[3] > 0) {
          layers.push(c);
          if (c[3] >= 1) {
            break;
          }
        }
      }
      let colour = [255, 255, 255, 1];
      for (const layer of layers.reverse()) {
        colour = over(layer, colour);
      }
      return colour;
    };
    const luminance = (c: number[]): number => {
      const [r, g, b] = c.slice(0, 3).map(v => {
        const s = v / 255;
        return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
      });
      return 0.2126 * r + 0.7152 * g + 0.0722 * b;
    };
    const ratio = (colour: string, bg: number[]): number => {
      const fg = over(parse(colour), bg);
      const [hi, lo] = [luminance(fg), luminance(bg)].sort((a, b) => b - a);
      return Math.round(((hi + 0.05) / (lo + 0.05)) * 100) / 100;
    };
    /** The text a computed `content` draws: its quoted strings ('none' and 'normal' draw none). */
    const drawn = (content: string): string =>
      Array.from(content.matchAll(/"((?:[^"\\]|\\.)*)"/g))
        .map(m => m[1].replace(/\\(.)/g, '$1'))
        .join('');
    const results: { text: string; ratio: number }[] = [];
    for (const message of Array.from(root.querySelectorAll(selector)) as HTMLElement[]) {
      const whole = (message.textContent ?? '').trim();
      if (!whole || message.offsetParent === null) {
        continue;
      }
      const where = (piece: string) => (piece === whole.slice(0, 60) ? piece : `"${piece}" in "${whole.slice(0, 40)}"`);
      for (const el of [message, ...Array.from(message.querySelectorAll('*'))]) {
        if (!el.checkVisibility()) {
          continue;
        }
        for (const which of ['::before', '::after']) {
          const style = getComputedStyle(el, which);
          const text = drawn(style.content).trim();
          if (text) {
            results.push({ text: `${which} ${where(text)}`, ratio: ratio(style.color, background(el, style)) });
          }
        }
        const own = Array.from(el.childNodes)
          .filter(n => n.nodeType === Node.TEXT_NODE)
          .map(n => n.textContent ?? '')
          .join('')
          .trim();
        if (own) {
          results.push({
            text: where(own.slice(0, 60)),
            ratio: ratio(getComputedStyle(el).color, background(el, null))
          });
        }
      }
    }
    return results;
  }, selector);
}
