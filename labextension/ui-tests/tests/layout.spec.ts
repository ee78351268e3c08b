/**
 * The workbench where it lives: in the side panel at JupyterLab's default side-bar width (never
 * widened first) and at 400 px, and in a full notebook cell, in the light and the dark theme.
 * Nothing may overflow sideways, message text must reach a WCAG AA contrast of 4.5:1 against the
 * background it is drawn on, and labels sit above their fields when narrow, on the left when wide.
 */
import { expect, IJupyterLabPageFixture, test } from '@jupyterlab/galata';
import { Locator } from '@playwright/test';
import * as path from 'path';

import {
  ARTIFACTS,
  brokenWords,
  freshSwrPath,
  KERNEL_TIMEOUT,
  openFromSideBar,
  panel,
  RegisterForm,
  sidePanelWorkbench,
  waitForForm,
  Workbench
} from './helpers';

/** Elements that scroll sideways on purpose: text inputs and text areas. */
const SCROLLS_ON_PURPOSE = 'input, textarea, select';
/** Where the form and the status say something in words. */
const MESSAGE_TEXT =
  '.mai-field-error .mai-message, .mai-register-reason .mai-message, .mai-status-state, .mai-endpoint-line, .mai-badge, .mai-check';

async function setSideBarWidth(page: IJupyterLabPageFixture, width: number): Promise<void> {
  await page.evaluate(w => {
    const shell = (window as any).jupyterapp.shell;
    const total = shell._hsplitPanel.node.clientWidth;
    shell._hsplitPanel.setRelativeSizes([w / total, 1 - w / total, 0]);
  }, width);
}

/** Descriptions of the panel's elements wider than their box (none expected). */
async function overflowing(root: Locator): Promise<string[]> {
  return root.evaluate((root, skip) => {
    const found: string[] = [];
    for (const el of [root, ...Array.from(root.querySelectorAll('*'))] as HTMLElement[]) {
      if (el.matches(skip) || el.closest('.widget-textarea, select')) {
        continue;
      }
      if (el.clientWidth > 0 && el.scrollWidth > el.clientWidth + 1) {
        found.push(
          `${el.tagName}.${el.className} ${el.scrollWidth}>${el.clientWidth} "${(el.textContent ?? '').slice(0, 40)}"`
        );
      }
    }
    return found;
  }, SCROLLS_ON_PURPOSE);
}

/** The contrast ratio of each visible message, its colour against the background under it. */
async function contrasts(root: Locator): Promise<{ text: string; ratio: number }[]> {
  return root.evaluate((root, selector) => {
    const parse = (c: string): number[] => {
      const m = c.match(/rgba?\(([^)]+)\)/);
      if (!m) {
        return [0, 0, 0, 0];
      }
      const p = m[1]
        .split(/[ ,/]+/)
        .filter(Boolean)
        .map(Number);
      return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1];
    };
    const over = (top: number[], under: number[]): number[] => {
      const a = top[3];
      return [0, 1, 2].map(i => top[i] * a + under[i] * (1 - a)).concat([1]);
    };
    const background = (el: Element | null): number[] => {
      const layers: number[][] = [];
      for (let e = el; e; e = e.parentElement) {
        const c = parse(getComputedStyle(e).backgroundColor);
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
    const results: { text: string; ratio: number }[] = [];
    for (const el of Array.from(root.querySelectorAll(selector)) as HTMLElement[]) {
      const text = (el.textContent ?? '').trim();
      if (!text || el.offsetParent === null) {
        continue;
      }
      const bg = background(el);
      const fg = over(parse(getComputedStyle(el).color), bg);
      const [hi, lo] = [luminance(fg), luminance(bg)].sort((a, b) => b - a);
      results.push({ text: text.slice(0, 60), ratio: Math.round(((hi + 0.05) / (lo + 0.05)) * 100) / 100 });
    }
    return results;
  }, MESSAGE_TEXT);
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
  const label = (text: string) => form.root.locator('.widget-label', { hasText: new RegExp(`^${text}$`) });
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
  await expect(form.swrError).toContainText('SWR path');
  await expect(form.register).toBeDisabled();
  await root.page().waitForTimeout(300); // let the layout settle after the messages appear
  await root.screenshot({ path: path.join(ARTIFACTS, `${name}.png`) });
  expect(await overflowing(root)).toEqual([]);
  expect(await brokenWords(root)).toEqual([]);
  const measured = await contrasts(root);
  console.log(`${name} contrast: ${JSON.stringify(measured)}`);
  expect(measured.length).toBeGreaterThan(2);
  for (const { text, ratio } of measured) {
    expect(ratio, `contrast of "${text}"`).toBeGreaterThanOrEqual(4.5);
  }
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

for (const theme of ['light', 'dark'] as const) {
  for (const width of ['default', 400] as const) {
    test(`fits and reads well: ${theme} theme, ${width === 'default' ? 'default side bar' : '400 px'}`, async ({
      page
    }) => {
      if (theme === 'dark') {
        await page.theme.setDarkTheme();
      }
      await openFromSideBar(page);
      if (width !== 'default') {
        await setSideBarWidth(page, width);
      }
      const form = await waitForForm(page);
      // An empty new form says nothing is wrong yet.
      await expect(panel(page).locator('.mai-field-error .mai-message')).toHaveCount(0);

      // Narrow: each label sits above its field, which takes the whole width.
      await expectPlaced(form, 'above');
      await checkForm(panel(page), form, `layout-${theme}-${width}`);

      // The two tabs work at this width too.
      await checkImagesTab(panel(page), sidePanelWorkbench(page), `layout-${theme}-${width}`);
      await expect(form.register).toBeVisible();
    });
  }

  test(`fits and reads well: ${theme} theme, a full notebook cell`, async ({ page }) => {
    if (theme === 'dark') {
      await page.theme.setDarkTheme();
    }
    await page.notebook.createNew();
    await page.notebook.setCell(0, 'code', 'from mai_widgets import Workbench\nWorkbench()');
    await page.notebook.runCell(0);
    const output = page.locator('.jp-Notebook .jp-Cell').first().locator('.jp-OutputArea-output');
    const form = new RegisterForm(output.locator('.mai-register-panel'));
    await expect(form.swrPath).toBeVisible({ timeout: KERNEL_TIMEOUT });
    await expect(output.locator('.mai-field-error .mai-message')).toHaveCount(0);
    // Wide: labels on the left of their fields, check boxes and toggle buttons included.
    await expectPlaced(form, 'left');
    await checkForm(output, form, `layout-${theme}-cell`);
    await checkImagesTab(output, new Workbench(output.locator('.mai-workbench')), `layout-${theme}-cell`);
  });
}
