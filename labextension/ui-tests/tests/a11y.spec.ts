/**
 * The side panel without a mouse, and what axe-core finds in it.
 *
 * Keyboard only: open the panel from the command palette, fill the form, pick the image from SWR's
 * lists, answer the check's warning and register; open an image in the Images tab and delete it.
 * Focus is visible at every step and goes where the eye goes. The live region says each status
 * change once. axe (WCAG 2 A and AA rules) finds nothing serious or critical in any tab, in
 * both themes, at the default side-bar width, in English and in Chinese.
 *
 * The keyboard flows run in JupyterLab's language from MAI_UI_LOCALE (English by default); their
 * steps find controls by their place and class, not by their words.
 */
import AxeBuilder from '@axe-core/playwright';
import { expect, galata, IJupyterLabPageFixture, test } from '@jupyterlab/galata';
import { Locator } from '@playwright/test';
import * as fs from 'fs';
import * as path from 'path';

import {
  ARTIFACTS,
  CATALOGUE_IMAGE,
  freshSwrPath,
  KERNEL_TIMEOUT,
  Language,
  LANGUAGES,
  OPEN_COMMAND,
  openFromSideBar,
  panel,
  PANEL,
  RegisterForm,
  settingsIn,
  sidePanelForm,
  sidePanelWorkbench,
  waitForForm,
  waitForLauncher,
  wordsFor,
  Workbench
} from './helpers';

/** The keyboard flows' language: JupyterLab's, from MAI_UI_LOCALE (English by default). */
const LOCALE = (process.env.MAI_UI_LOCALE ?? 'en') as Language;
if (!LANGUAGES.includes(LOCALE)) {
  throw new Error(`MAI_UI_LOCALE=${LOCALE}: one of ${LANGUAGES.join(', ')}`);
}

/** The Workbench's tabs, by place: their titles are in the user's language. */
const REGISTER_TAB = 0;
const IMAGES_TAB = 1;
const SAVE_TAB = 2;
/** The live region the host keeps (labextension/src/panel.ts). */
const ANNOUNCER = `${PANEL} .mai-panel-announcer`;

/** A description of the focused element, and whether a focus indicator is drawn on it. */
async function focused(page: IJupyterLabPageFixture): Promise<{ what: string; inPanel: boolean; ring: boolean }> {
  return page.evaluate(selector => {
    const el = document.activeElement as HTMLElement | null;
    if (!el || el === document.body) {
      return { what: 'nothing', inPanel: false, ring: false };
    }
    const style = getComputedStyle(el);
    const ring =
      (style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) >= 1) ||
      (style.boxShadow !== 'none' && style.boxShadow !== '');
    const classes = String(el.className).trim().split(/\s+/).filter(Boolean).join('.');
    const parent = el.closest('[class*="mai-"]');
    const where = parent ? (String(parent.className).match(/mai-[\w-]+/)?.[0] ?? '') : '';
    return {
      what: `${el.tagName.toLowerCase()}${classes ? '.' + classes : ''} in ${where}`,
      inPanel: !!el.closest(selector),
      ring
    };
  }, PANEL);
}

/**
 * Press Tab (Shift+Tab with `back`) until `target` has focus; each stop on the way must stay in
 * the panel and show where focus is. Fails after `max` presses.
 */
async function tabTo(page: IJupyterLabPageFixture, target: Locator, options: { back?: boolean; max?: number } = {}) {
  const stops: string[] = [];
  for (let i = 0; i < (options.max ?? 80); i++) {
    await page.keyboard.press(options.back ? 'Shift+Tab' : 'Tab');
    const now = await focused(page);
    stops.push(now.what);
    expect(now.inPanel, `focus left the panel at ${now.what} (after ${stops.join(' → ')})`).toBe(true);
    expect(now.ring, `no focus indicator on ${now.what}`).toBe(true);
    if (await target.evaluate(el => el === document.activeElement || el.contains(document.activeElement))) {
      return stops;
    }
  }
  throw new Error(`never reached the target: ${stops.join(' → ')}`);
}

/** Record each text the live region says, as the page changes. */
async function recordAnnouncements(page: IJupyterLabPageFixture): Promise<void> {
  await page.locator(ANNOUNCER).evaluate(element => {
    const said: string[] = [];
    new MutationObserver(() => said.push(element.textContent ?? '')).observe(element, {
      subtree: true,
      childList: true,
      characterData: true
    });
    (window as any).maiAnnounced = said;
  });
}

async function announcements(page: IJupyterLabPageFixture): Promise<string[]> {
  return page.evaluate(() => (window as any).maiAnnounced as string[]);
}

/** Open the panel as a keyboard user does: the command palette, its command, Enter. */
async function openWithKeyboard(page: IJupyterLabPageFixture): Promise<RegisterForm> {
  await page.keyboard.press('Control+Shift+C');
  const input = page.locator('.lm-CommandPalette-input');
  await expect(input).toBeFocused();
  // the command's label is in the user's language: find it by its command id's item
  const label = await page.evaluate(id => (window as any).jupyterapp.commands.label(id), OPEN_COMMAND);
  await page.keyboard.type(label);
  await expect(page.locator('.lm-CommandPalette-item.lm-mod-active')).toContainText(label);
  await page.keyboard.press('Enter');
  await expect(panel(page)).toBeVisible();
  const form = await waitForForm(page);
  // Focus came into the panel, onto the first field, once the form was drawn.
  await expect(form.swrPath).toBeFocused({ timeout: KERNEL_TIMEOUT });
  return form;
}

test.describe('keyboard and screen reader', () => {
  test.use({ mockSettings: settingsIn(LOCALE, galata.DEFAULT_SETTINGS), waitForApplication: waitForLauncher });
  test('registers from the side panel with the keyboard only', async ({ page }) => {
    const form = await openWithKeyboard(page);
    await recordAnnouncements(page);

    // Browse SWR: the lists, each named, picked with arrow keys.
    const picker = form.root.locator('.mai-swr-picker');
    await tabTo(page, form.root.locator('.mai-swr-browse'));
    await page.keyboard.press('Space');
    await expect(picker).toBeVisible();
    const namespaces = picker.locator('.mai-swr-namespaces-list select');
    await expect(namespaces.locator('option[value="mai-demo"]')).toHaveCount(1, { timeout: KERNEL_TIMEOUT });
    await tabTo(page, namespaces);
    await page.keyboard.type('mai-demo'); // a list box picks by typing, as a drop-down does
    await expect(namespaces).toHaveValue('mai-demo');
    const repoFilter = picker.locator('.mai-swr-repositories-filter input');
    await tabTo(page, repoFilter);
    await page.keyboard.type('mindspore-ascend');
    const repositories = picker.locator('.mai-swr-repositories-list select');
    await expect(repositories.locator('option')).toHaveCount(1, { timeout: KERNEL_TIMEOUT });
    await tabTo(page, repositories);
    await page.keyboard.press('ArrowDown');
    const tags = picker.locator('.mai-swr-tags-list select');
    await expect(tags.locator('option')).toHaveCount(1, { timeout: KERNEL_TIMEOUT });
    await tabTo(page, tags);
    await page.keyboard.press('ArrowDown');
    await expect(form.swrPath).toHaveValue(CATALOGUE_IMAGE);

    // The architecture check warns (the image is AARCH64, the form says X86_64); Register asks,
    // focus goes to the answer, and Enter answers it.
    await expect(form.root.locator('.mai-check-warn[data-check="architecture"]')).toBeVisible({
      timeout: KERNEL_TIMEOUT
    });
    await tabTo(page, form.register);
    await page.keyboard.press('Enter');
    const confirm = form.root.locator('.mai-preflight-confirm');
    await expect(confirm).toBeFocused({ timeout: KERNEL_TIMEOUT });
    await page.keyboard.press('Enter');

    // Focus follows the registration to its status, and stays there when it settles.
    const state = form.root.locator('.mai-status-state');
    await expect(form.badge).toContainText('ACTIVE', { timeout: KERNEL_TIMEOUT });
    await expect(state).toBeFocused();
    expect((await focused(page)).ring, 'the focused status shows a focus ring').toBe(true);
    await panel(page).screenshot({ path: path.join(ARTIFACTS, `a11y-${LOCALE}-registered.png`) });

    // Each status was said once, in order, whatever the number of polls.
    const said = (await announcements(page)).filter(Boolean);
    console.log(`announced: ${JSON.stringify(said)}`);
    expect(said.length).toBeGreaterThanOrEqual(2);
    expect(new Set(said).size, 'no status said twice').toBe(said.length);
    expect(said[said.length - 1]).toContain('ACTIVE');
  });

  test('a failed attempt moves focus to the field to fix', async ({ page }) => {
    const form = await openWithKeyboard(page);
    // A path SWR does not have: Register, pressed before its checks end, waits for them; the
    // check fails, and focus goes back to the path.
    const { swrPath } = freshSwrPath('never-pushed');
    await page.keyboard.type(swrPath);
    await form.register.focus();
    await page.keyboard.press('Enter');
    await expect(form.root.locator('.mai-check-fail[data-check="exists"]')).toBeVisible({ timeout: KERNEL_TIMEOUT });
    await expect(form.swrPath).toBeFocused();
    await expect(form.register).toBeDisabled();
  });

  test('opens an image in the Images tab and deletes it with the keyboard only', async ({ page }) => {
    const { nameTag } = freshSwrPath('delete-by-keyboard', { register: true });
    const form = await openWithKeyboard(page);
    const bench = sidePanelWorkbench(page);

    // The tab bar comes before the form: back to it, then the arrow keys and Enter.
    await tabTo(page, bench.tabs.nth(REGISTER_TAB), { back: true });
    await page.keyboard.press('ArrowRight');
    await expect(bench.tabs.nth(IMAGES_TAB)).toBeFocused();
    await page.keyboard.press('Enter');
    await expect(bench.tabs.nth(IMAGES_TAB)).toHaveClass(/lm-mod-current/);
    await expect(form.root).toBeHidden();
    const row = bench.rowNames.filter({ hasText: nameTag });
    await expect(row).toHaveCount(1, { timeout: KERNEL_TIMEOUT });
    await recordAnnouncements(page);

    // Enter on the image opens it: focus goes to its status, which is said.
    await tabTo(page, row);
    await page.keyboard.press('Enter');
    const detail = bench.browser.locator('.mai-image-detail');
    await expect(detail.locator('.mai-status-badge')).toContainText('CREATE_FAILED', { timeout: KERNEL_TIMEOUT });
    await expect(detail.locator('.mai-status-state')).toBeFocused();
    await expect(page.locator(ANNOUNCER)).toContainText('CREATE_FAILED');

    // Delete… asks; focus is on the answer; Enter deletes; focus returns to the status.
    await tabTo(page, detail.locator('.mai-action-delete'));
    await page.keyboard.press('Enter');
    await expect(detail.locator('.mai-delete-confirm')).toBeFocused();
    await page.keyboard.press('Enter');
    await expect(detail.locator('.mai-status-badge')).toContainText('DELETED', { timeout: KERNEL_TIMEOUT });
    await expect(detail.locator('.mai-status-state')).toBeFocused();
    await expect(row).toHaveCount(0);
    const said = (await announcements(page)).filter(Boolean);
    console.log(`announced: ${JSON.stringify(said)}`);
    expect(said[said.length - 1]).toContain('DELETED');
    expect(new Set(said).size, 'no status said twice').toBe(said.length);
  });
});

/** Every WCAG 2 A and AA violation axe finds in the panel; the serious and critical ones returned. */
async function axe(page: IJupyterLabPageFixture, name: string): Promise<string[]> {
  await page.waitForTimeout(300); // let the layout settle
  const results = await new AxeBuilder({ page }).include(PANEL).withTags(['wcag2a', 'wcag2aa']).analyze();
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  fs.writeFileSync(path.join(ARTIFACTS, `axe-${name}.json`), JSON.stringify(results.violations, null, 2));
  const found = results.violations.map(
    v => `${v.impact} ${v.id}: ${v.nodes.length} × ${v.nodes.map(n => n.target.join(' ')).join(', ')}`
  );
  console.log(`axe ${name}: ${results.passes.length} rules pass; violations: ${JSON.stringify(found, null, 1)}`);
  return results.violations
    .filter(v => v.impact === 'serious' || v.impact === 'critical')
    .map(v => `${v.impact} ${v.id} (${v.help}): ${v.nodes.map(n => n.target.join(' ')).join(', ')}`);
}

/** The Register tab, its messages and checks showing, and the SWR picker open. */
async function fillRegister(form: RegisterForm): Promise<void> {
  await form.typeSwrPath('swr.example.com/Team/app');
  await expect(form.swrError).toContainText(/\S/);
  await form.root.locator('.mai-swr-browse').click();
  const namespaces = form.root.locator('.mai-swr-namespaces-list select');
  await expect(namespaces.locator('option[value="mai-demo"]')).toHaveCount(1, { timeout: KERNEL_TIMEOUT });
  await namespaces.selectOption('mai-demo');
  const repositories = form.root.locator('.mai-swr-repositories-list select');
  await expect(repositories.locator('option').first()).toBeAttached({ timeout: KERNEL_TIMEOUT });
}

/** The Images tab with an image opened (a failed one: its Register again shows too). */
async function openImage(bench: Workbench, nameTag: string): Promise<void> {
  await bench.tabs.nth(IMAGES_TAB).click();
  const row = bench.rowNames.filter({ hasText: nameTag });
  await expect(row).toHaveCount(1, { timeout: KERNEL_TIMEOUT });
  await row.click();
  await expect(bench.browser.locator('.mai-image-detail .mai-status-badge')).toContainText('CREATE_FAILED', {
    timeout: KERNEL_TIMEOUT
  });
  await bench.browser.locator('.mai-action-delete').click(); // the question and its check box show
  await expect(bench.browser.locator('.mai-delete-confirm')).toBeVisible();
}

// axe in every language the tests know (the words' lengths and the page's lang differ), both themes.
for (const language of LANGUAGES) {
  test.describe(`axe, ${language}`, () => {
    test.use({ mockSettings: settingsIn(language, galata.DEFAULT_SETTINGS), waitForApplication: waitForLauncher });
    const words = wordsFor(language);
    for (const theme of ['light', 'dark'] as const) {
      test(`axe finds nothing serious in any tab: ${theme} theme, ${language}`, async ({ page }) => {
        if (theme === 'dark') {
          await page.theme.setDarkTheme();
        }
        const { nameTag } = freshSwrPath(`axe-${theme}`, { register: true });
        await openFromSideBar(page, words); // the default side-bar width
        const form = await waitForForm(page, words);
        const bench = sidePanelWorkbench(page, words);
        const found: Record<string, string[]> = {};
        found.register = await axe(page, `${language}-${theme}-register`);
        await fillRegister(sidePanelForm(page, words));
        found.registerFilled = await axe(page, `${language}-${theme}-register-filled`);
        await openImage(bench, nameTag);
        found.images = await axe(page, `${language}-${theme}-images`);
        await bench.tabs.nth(SAVE_TAB).click();
        await expect(bench.root.locator('.mai-save-notebook .mai-save-button')).toBeVisible({
          timeout: KERNEL_TIMEOUT
        });
        await expect(bench.root.locator('.mai-save-notebook select').first()).not.toHaveValue('', {
          timeout: KERNEL_TIMEOUT
        });
        found.save = await axe(page, `${language}-${theme}-save`);
        await bench.tabs.nth(REGISTER_TAB).click();
        await expect(form.register).toBeVisible();
        expect(found).toEqual({ register: [], registerFilled: [], images: [], save: [] });
      });
    }
  });
}
