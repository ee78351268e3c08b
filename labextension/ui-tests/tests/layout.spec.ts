/**
 * The side panel where it lives: at JupyterLab's default side-bar width (never widened first)
 * and at 400 px, in the light and the dark theme. Nothing may overflow sideways, and message
 * text must reach a WCAG AA contrast of 4.5:1 against the background it is drawn on.
 */
import { expect, IJupyterLabPageFixture, test } from '@jupyterlab/galata';
import * as path from 'path';

import { ARTIFACTS, openFromSideBar, panel, sidePanelWorkbench, waitForForm } from './helpers';

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
async function overflowing(page: IJupyterLabPageFixture): Promise<string[]> {
  return page.locator('#mai-widgets-panel').evaluate((root, skip) => {
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
async function contrasts(page: IJupyterLabPageFixture): Promise<{ text: string; ratio: number }[]> {
  return page.locator('#mai-widgets-panel').evaluate((root, selector) => {
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

      await form.typeSwrPath('swr.example.com/Team/app');
      await expect(form.swrError).toContainText('SWR path');
      await expect(form.register).toBeDisabled();
      await page.waitForTimeout(300); // let the layout settle after the messages appear

      const name = `layout-${theme}-${width}`;
      await panel(page).screenshot({ path: path.join(ARTIFACTS, `${name}.png`) });
      expect(await overflowing(page)).toEqual([]);
      const measured = await contrasts(page);
      console.log(`${name} contrast: ${JSON.stringify(measured)}`);
      expect(measured.length).toBeGreaterThan(2);
      for (const { text, ratio } of measured) {
        expect(ratio, `contrast of "${text}"`).toBeGreaterThanOrEqual(4.5);
      }

      // The two tabs work at this width too.
      const bench = sidePanelWorkbench(page);
      await bench.tab('Images').click();
      await expect(bench.browser).toBeVisible();
      await page.waitForTimeout(500);
      await panel(page).screenshot({ path: path.join(ARTIFACTS, `${name}-images.png`) });
      expect(await overflowing(page)).toEqual([]);
      await bench.tab('Register').click();
      await expect(form.register).toBeVisible();
    });
  }
}
