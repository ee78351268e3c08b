/**
 * The workbench where it lives: in the side panel at JupyterLab's default side-bar width (never
 * widened first) and at 400 px, and in a full notebook cell, in the light and the dark theme, with
 * JupyterLab in English and in Simplified Chinese (Settings › Language: the panel follows it).
 * Nothing may overflow sideways, message text must reach a WCAG AA contrast of 4.5:1 against the
 * background it is drawn on, and labels sit above their fields when narrow, on the left when wide.
 */
import { expect, galata, IJupyterLabPageFixture, test } from '@jupyterlab/galata';
import { Locator } from '@playwright/test';
import * as path from 'path';

import {
  ARTIFACTS,
  brokenWords,
  CATALOGUE_IMAGE,
  contrasts,
  createNotebook,
  cutOff,
  cutSelections,
  DEMO_NOTEBOOK,
  ENGLISH,
  freshSwrPath,
  KERNEL_TIMEOUT,
  Language,
  LANGUAGES,
  openFromSideBar,
  overflowing,
  panel,
  RegisterForm,
  SaveTab,
  settingsIn,
  sidePanelWorkbench,
  waitForForm,
  waitForLauncher,
  Words,
  wordsFor,
  Workbench
} from './helpers';

/**
 * A message that names something in English (`english`) says it; in another language only that it
 * says something (its exact words are the translators'; what matters here is where it is drawn).
 */
async function expectSays(message: Locator, english: string, words: Words): Promise<void> {
  if (words === ENGLISH) {
    await expect(message).toContainText(english, { timeout: KERNEL_TIMEOUT });
  } else {
    await expect(message).toBeVisible({ timeout: KERNEL_TIMEOUT });
    await expect(message).not.toBeEmpty();
  }
}

/** Where the forms and the status say something in words (the Register and Save notebook tabs). */
const MESSAGE_TEXT = [
  '.mai-field-error .mai-message, .mai-register-reason .mai-message, .mai-status-state, .mai-endpoint-line',
  '.mai-badge, .mai-check, .mai-save-not-kept, .mai-save-reason, .mai-save-listing'
].join(', ');
/** The Save notebook tab's fields, each box with its control. */
const SAVE_FIELDS =
  '.mai-save-notebook .mai-field-row, .mai-save-notebook :is(.widget-dropdown, .widget-text, .widget-combobox, .widget-textarea), .mai-save-notebook :is(input, select, textarea)';
/** The SWR picker's box and each of its lists (the ipywidgets Select and its <select>). */
const PICKER_PARTS = '.mai-swr-picker, .mai-swr-picker .widget-select, .mai-swr-picker select, .mai-swr-picker input';

async function setSideBarWidth(page: IJupyterLabPageFixture, width: number): Promise<void> {
  await page.evaluate(w => {
    const shell = (window as any).jupyterapp.shell;
    const total = shell._hsplitPanel.node.clientWidth;
    shell._hsplitPanel.setRelativeSizes([w / total, 1 - w / total, 0]);
  }, width);
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Where a field's label is drawn: on its left, above it, or (a defect) something else. */
async function placement(label: Locator, control: Locator): Promise<string> {
  const l = await label.boundingBox();
  const c = await control.boundingBox();
  if (!l || !c) {
    return 'not shown';
  }
  const overlapsVertically = l.y < c.y + c.height && c.y < l.y + l.height;
  if (l.x + l.width <= c.x + 1 && overlapsVertically) {
    return 'left';
  }
  if (l.y + l.height <= c.y + 1) {
    return 'above';
  }
  return `label ${JSON.stringify(l)} over control ${JSON.stringify(c)}`;
}

/** Each kind of field the form has: a text box, a drop-down, check boxes, toggle buttons. */
async function labelPlacements(form: RegisterForm): Promise<Record<string, string>> {
  const label = (text: string) =>
    form.root.locator('.widget-label', { hasText: new RegExp(`^${escapeRegExp(form.words(text))}$`) });
  return {
    'SWR path': await placement(label('SWR path'), form.swrPath),
    Architecture: await placement(label('Architecture'), form.arch),
    'Resource categories': await placement(label('Resource categories'), form.checkbox('CPU')),
    Visibility: await placement(label('Visibility'), form.root.locator('.mai-visibility button').first())
  };
}

async function expectPlaced(form: RegisterForm, where: 'left' | 'above'): Promise<void> {
  for (const [field, placed] of Object.entries(await labelPlacements(form))) {
    expect(placed, `the label of ${field}`).toBe(where);
  }
  // The SWR path box, the field that matters most, is as wide as the other inputs (Browse beside it).
  const swr = (await form.swrPath.boundingBox())!;
  const arch = (await form.arch.boundingBox())!;
  expect(swr.width, 'the SWR path box width').toBeGreaterThanOrEqual(0.8 * arch.width);
}

/** The form with a wrong path typed: its messages show, nothing overflows, everything reads well. */
async function checkForm(root: Locator, form: RegisterForm, name: string): Promise<void> {
  await form.typeSwrPath('swr.example.com/Team/app');
  await expectSays(form.swrError, 'SWR path', form.words);
  await expect(form.register).toBeDisabled();
  await root.page().waitForTimeout(300); // let the layout settle after the messages appear
  await root.screenshot({ path: path.join(ARTIFACTS, `${name}.png`) });
  expect(await overflowing(root)).toEqual([]);
  expect(await brokenWords(root)).toEqual([]);
  // the field message's ⚠ is measured in its own colour, as the words after it are
  await expectReadable(root, name, ['⚠']);
}

/**
 * Every character of every message under `root` reaches 4.5:1 against what is under it, each glyph
 * in `glyphs` among them (measured on its own, in its own colour).
 */
async function expectReadable(root: Locator, name: string, glyphs: string[]): Promise<void> {
  const measured = await contrasts(root, MESSAGE_TEXT);
  console.log(`${name} contrast: ${JSON.stringify(measured)}`);
  expect(measured.length).toBeGreaterThan(2);
  for (const glyph of glyphs) {
    expect(
      measured.some(m => m.text.startsWith(`"${glyph}" in`)),
      `${glyph} is measured`
    ).toBe(true);
  }
  for (const { text, ratio } of measured) {
    expect(ratio, `contrast of "${text}"`).toBeGreaterThanOrEqual(4.5);
  }
}

/**
 * "Browse SWR" open, its three lists filled (an organization and a repository picked): the picker
 * and each list fit their box exactly (nothing scrolls sideways, not by a pixel), every list's
 * borders are whole, nothing else overflows. Then the tag is picked and the lists fold away.
 */
async function checkPicker(root: Locator, form: RegisterForm, name: string): Promise<void> {
  const browse = form.root.locator('.mai-swr-browse');
  const picker = form.root.locator('.mai-swr-picker');
  await browse.click();
  await expect(picker).toBeVisible();
  const namespaces = picker.locator('.mai-swr-namespaces-list select');
  await expect(namespaces.locator('option[value="mai-demo"]')).toHaveCount(1, { timeout: KERNEL_TIMEOUT });
  await namespaces.selectOption('mai-demo');
  // an option's value is its label (name · size · time) with plain spaces
  const repositories = picker.locator('.mai-swr-repositories-list select');
  const repository = repositories.locator('option[value^="mindspore-ascend ·"]');
  await expect(repository).toHaveCount(1, { timeout: KERNEL_TIMEOUT });
  await repositories.selectOption((await repository.getAttribute('value')) ?? '');
  await expect(picker.locator('.mai-swr-tags-list option')).toHaveCount(1, { timeout: KERNEL_TIMEOUT });
  await root.page().waitForTimeout(300); // let the layout settle after the lists fill
  await root.screenshot({ path: path.join(ARTIFACTS, `${name}-swr-picker.png`) });
  expect(await cutOff(root, PICKER_PARTS)).toEqual([]);
  expect(await overflowing(root)).toEqual([]);
  expect(await brokenWords(root)).toEqual([]);

  // The tag writes its path; preflight's checklist follows, and its marks read as well as its words.
  await picker.locator('.mai-swr-tags-list select').selectOption({ index: 0 });
  await expect(form.swrPath).toHaveValue(CATALOGUE_IMAGE);
  await browse.click();
  await expect(picker).toBeHidden();
  const checks = form.root.locator('.mai-preflight-list');
  await expect(checks.locator('.mai-check-warn[data-check="architecture"]')).toBeVisible({ timeout: KERNEL_TIMEOUT });
  await expect(checks.locator('.mai-check-pass[data-check="exists"]')).toBeVisible();
  await root.page().waitForTimeout(300);
  await root.screenshot({ path: path.join(ARTIFACTS, `${name}-preflight.png`) });
  await expectReadable(root, `${name}-preflight`, ['✓', '⚠']);
}

/**
 * The Images tab at the same width, with a long-named image in it (a script registered it), and
 * that image's record opened: it opens, nothing overflows, no word is cut in two.
 */
async function checkImagesTab(root: Locator, bench: Workbench, name: string): Promise<void> {
  const { nameTag } = freshSwrPath('an-image-with-a-rather-long-name', { register: true });
  await bench.tab('Images').click();
  await expect(bench.browser).toBeVisible();
  const row = bench.rowNames.filter({ hasText: nameTag });
  await expect(row).toHaveCount(1, { timeout: KERNEL_TIMEOUT });
  await row.click();
  await expect(bench.browser.locator('.mai-image-detail .mai-status-badge')).toContainText('CREATE_FAILED', {
    timeout: KERNEL_TIMEOUT
  });
  await root.page().waitForTimeout(500);
  await root.screenshot({ path: path.join(ARTIFACTS, `${name}-images.png`) });
  expect(await overflowing(root)).toEqual([]);
  expect(await brokenWords(root)).toEqual([]);
  await bench.tab('Register').click();
}

/**
 * The Save notebook tab at the same width: the instance this kernel runs in preselected, the
 * organization's suggestions open (the organizations these credentials can read), then a
 * read-only organization and a name against the rules typed, so that a message shows under each:
 * every field whole, nothing overflows or is cut, no word cut in two, every message readable.
 */
async function checkSaveTab(
  root: Locator,
  bench: Workbench,
  name: string,
  width: 'default' | 400 | 'cell'
): Promise<void> {
  await bench.tab('Save notebook').click();
  const save = new SaveTab(bench.root.locator('.mai-save-notebook'), bench.words);
  // "<id> · this one" (in the workbench's language after the id)
  const thisOne = bench.words === ENGLISH ? `${DEMO_NOTEBOOK} · this one` : new RegExp(`^${DEMO_NOTEBOOK} · `);
  await expect(save.instance).toHaveValue(thisOne, { timeout: KERNEL_TIMEOUT });
  await expect(save.organization).not.toHaveValue('');
  await expect(save.name).not.toHaveValue('');
  await expect(save.tag).toHaveValue(/^\d{8}-\d{4}/, { timeout: KERNEL_TIMEOUT }); // looked up in SWR
  await expect(save.root.locator('.mai-save-not-kept')).toContainText('/home/ma-user/work');
  // The chosen instance reads whole, "this one" included, where there is room for a name this long
  // (not yet at the default side bar: there the drop-down cuts it, and nothing else names it).
  const cut = await cutSelections(save.root);
  if (width === 'default') {
    console.log(`${name}: drop-downs cut: ${JSON.stringify(cut)}`);
  } else {
    expect(cut, 'the instance shown whole').toEqual([]);
  }

  // The organization picker: a text box whose suggestions the browser lists under it once it is
  // emptied and focused (drawn by Chromium, outside the page: its lists are checked here).
  await save.organization.fill('');
  await save.organization.focus();
  const suggested = await save.organizationOptions.evaluateAll(o => o.map(e => (e as HTMLOptionElement).value));
  expect(suggested).toContain('mai-demo');
  expect(suggested).toContain('mai-shared'); // readable, listed after the writable ones
  expect(suggested.indexOf('mai-demo')).toBeLessThan(suggested.indexOf('mai-shared'));
  expect(suggested).not.toContain('someone-else'); // SWR refuses these credentials
  await save.organization.fill('mai-shared');
  await expectSays(save.root.locator('.mai-field-error-namespace'), 'read-only', bench.words);
  await save.name.fill('My environment');
  // one message per broken rule, one under the other (no blank line between them)
  const nameMessages = save.root.locator('.mai-field-error-name .mai-message');
  await expect(nameMessages).toHaveCount(2);
  const [first, second] = [(await nameMessages.nth(0).boundingBox())!, (await nameMessages.nth(1).boundingBox())!];
  expect(second.y - (first.y + first.height), 'the space between two messages').toBeLessThanOrEqual(4);
  await expect(save.save).toBeDisabled();
  await expectSays(save.root.locator('.mai-save-reason'), 'Save is disabled', bench.words);
  await root.page().waitForTimeout(300); // let the layout settle after the messages appear
  await root.screenshot({ path: path.join(ARTIFACTS, `${name}-save.png`) });
  expect(await cutOff(root, SAVE_FIELDS)).toEqual([]);
  expect(await overflowing(root)).toEqual([]);
  expect(await brokenWords(root)).toEqual([]);
  await expectReadable(root, `${name}-save`, ['⚠']);
}

for (const language of LANGUAGES as readonly Language[]) {
  const words = wordsFor(language);
  // English keeps the test names and screenshots it always had
  const suffix = language === 'en' ? '' : `, ${language}`;
  const shot = language === 'en' ? '' : `-${language}`;
  const group = (tests: () => void) => (language === 'en' ? tests() : test.describe(language, tests));
  group(() => {
    if (language !== 'en') {
      test.use({ mockSettings: settingsIn(language, galata.DEFAULT_SETTINGS), waitForApplication: waitForLauncher });
    }
    for (const theme of ['light', 'dark'] as const) {
      for (const width of ['default', 400] as const) {
        const where = width === 'default' ? 'default side bar' : '400 px';
        test(`fits and reads well: ${theme} theme, ${where}${suffix}`, async ({ page }) => {
          if (theme === 'dark') {
            await page.theme.setDarkTheme();
          }
          await openFromSideBar(page, words);
          if (width !== 'default') {
            await setSideBarWidth(page, width);
          }
          const form = await waitForForm(page, words);
          // An empty new form says nothing is wrong yet.
          await expect(panel(page).locator('.mai-field-error .mai-message')).toHaveCount(0);

          // Narrow: each label sits above its field, which takes the whole width.
          await expectPlaced(form, 'above');
          await checkForm(panel(page), form, `layout-${theme}-${width}${shot}`);
          await checkPicker(panel(page), form, `layout-${theme}-${width}${shot}`);

          // The other tabs work at this width too.
          const bench = sidePanelWorkbench(page, words);
          await checkImagesTab(panel(page), bench, `layout-${theme}-${width}${shot}`);
          await checkSaveTab(panel(page), bench, `layout-${theme}-${width}${shot}`, width);
          await bench.tab('Register').click();
          await expect(form.register).toBeVisible();
        });
      }

      test(`fits and reads well: ${theme} theme, a full notebook cell${suffix}`, async ({ page }) => {
        if (theme === 'dark') {
          await page.theme.setDarkTheme();
        }
        if (language === 'en') {
          await page.notebook.createNew();
        } else {
          await createNotebook(page);
        }
        // a notebook's widgets take their language from the kernel's settings, not JupyterLab's
        const make = language === 'en' ? 'Workbench()' : `Workbench(language='${language}')`;
        await page.notebook.setCell(0, 'code', `from mai_widgets import Workbench\n${make}`);
        if (language === 'en') {
          await page.notebook.runCell(0);
        } else {
          // (Galata's runCell waits for the English "Idle" in the status bar)
          await page.locator('.jp-Notebook .jp-Cell').first().locator('.jp-InputArea-editor').click();
          await page.keyboard.press('Shift+Enter');
        }
        const output = page.locator('.jp-Notebook .jp-Cell').first().locator('.jp-OutputArea-output');
        const form = new RegisterForm(output.locator('.mai-register-panel'), words);
        await expect(form.swrPath).toBeVisible({ timeout: KERNEL_TIMEOUT });
        await expect(output.locator('.mai-field-error .mai-message')).toHaveCount(0);
        // Wide: labels on the left of their fields, check boxes and toggle buttons included.
        await expectPlaced(form, 'left');
        await checkForm(output, form, `layout-${theme}-cell${shot}`);
        await checkPicker(output, form, `layout-${theme}-cell${shot}`);
        const bench = new Workbench(output.locator('.mai-workbench'), words);
        await checkImagesTab(output, bench, `layout-${theme}-cell${shot}`);
        await checkSaveTab(output, bench, `layout-${theme}-cell${shot}`, 'cell');
      });
    }
  });
}
