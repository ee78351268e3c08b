/**
 * Saving the notebook instance as an image from the side panel's "Save notebook" tab, at the side
 * bar's default width (never widened), against the emulator's demo instance. servers.py gives
 * the kernels no MAI_WIDGETS_NOTEBOOK_ID, as inside ModelArts: the tab tells the demo instance
 * by its address. Each run saves under a fresh name, so no other test meets its image.
 */
import { expect, test } from '@jupyterlab/galata';
import * as path from 'path';

import {
  ARTIFACTS,
  brokenWords,
  contrasts,
  DEMO_NOTEBOOK,
  KERNEL_TIMEOUT,
  openFromSideBar,
  overflowing,
  panel,
  recordTexts,
  recordedTexts,
  sidePanelSaveTab,
  sidePanelWorkbench,
  waitForForm
} from './helpers';

/** What the tab says in words once a save ended: the live state lines and the image's record. */
const SAVE_TEXT = '.mai-save-notebook-state, .mai-save-image-state, .mai-save-reason, .mai-status-state, .mai-badge';

for (const theme of ['light', 'dark'] as const) {
  test(`saves the demo instance: both states move live to ACTIVE, a notification, the Images tab (${theme} theme)`, async ({
    page
  }) => {
    if (theme === 'dark') {
      await page.theme.setDarkTheme();
    }
    await openFromSideBar(page);
    await waitForForm(page);
    const bench = sidePanelWorkbench(page);
    await bench.tab('Save notebook').click();
    const save = sidePanelSaveTab(page);

    // The RUNNING instances only (servers.py seeds a STOPPED one too); this kernel's own, told by
    // its address, is preselected and says so.
    await expect(save.instanceOptions).toHaveCount(2, { timeout: KERNEL_TIMEOUT });
    // (an option's value is its label with plain spaces; its text has no-break spaces)
    expect((await save.instanceOptions.evaluateAll(o => o.map(e => (e as HTMLOptionElement).value))).sort()).toEqual([
      'mai-colleague-notebook',
      `${DEMO_NOTEBOOK} · this one`
    ]);
    await expect(save.instance).toHaveValue(`${DEMO_NOTEBOOK} · this one`);
    // What a save does not keep, and that the instance is unavailable meanwhile, said before Save.
    for (const where of ['/home/ma-user/work', '/data', '/cache']) {
      await expect(save.root).toContainText(where);
    }
    // The defaults: the instance's image name, a date-and-time tag.
    await expect(save.name).not.toHaveValue('');
    await expect(save.tag).toHaveValue(/^\d{8}-\d{4}(-\d+)?$/);

    await save.pickOrganization('mai-demo');
    const name = `saved-env-${Date.now().toString(36)}`;
    await save.name.fill(name);
    await save.description.fill('pip-installed extras');
    await expect(save.save).toBeEnabled();
    await panel(page).screenshot({ path: path.join(ARTIFACTS, `save-notebook-${theme}-before.png`) });
    expect(await overflowing(panel(page))).toEqual([]);
    expect(await brokenWords(panel(page))).toEqual([]);

    // Each state the two lines' badges show, caught as the page changes (the first poll comes
    // after about a second; the emulator keeps the instance SNAPSHOTTING for 8 s).
    const badges = { notebook: '.mai-save-notebook-state .mai-badge', image: '.mai-save-image-state .mai-badge' };
    await recordTexts(save.root, badges);
    await save.save.click();
    await expect(save.imageState.locator('.mai-badge')).toHaveText('ACTIVE', { timeout: KERNEL_TIMEOUT });
    await expect(save.notebookState.locator('.mai-badge')).toHaveText('RUNNING', { timeout: KERNEL_TIMEOUT });
    const seen = await recordedTexts(save.root);
    console.log(`save states seen: ${JSON.stringify(seen)}`);
    expect(seen.notebook).toEqual(['SNAPSHOTTING', 'RUNNING']);
    expect(seen.image).toEqual(['INIT', 'CREATING', 'ACTIVE']);
    // and the lines keep the way they went, for a user who looked away
    await expect(save.notebookState).toContainText(`${DEMO_NOTEBOOK}: RUNNING SNAPSHOTTING → RUNNING`);
    // The tag: the default, a date-and-time one (looked up again for the typed name, so it is read
    // from the result rather than before Save).
    const saved = new RegExp(`Image ${name}:(\\d{8}-\\d{4}(?:-\\d+)?): ACTIVE INIT → CREATING → ACTIVE`);
    await expect(save.imageState).toHaveText(saved);
    const tag = saved.exec(((await save.imageState.textContent()) ?? '').replace(/\s+/g, ' '))![1];
    await panel(page).screenshot({ path: path.join(ARTIFACTS, `save-notebook-${theme}-active.png`) });
    expect(await overflowing(panel(page))).toEqual([]);
    expect(await brokenWords(panel(page))).toEqual([]);
    // every character of the state lines reads at 4.5:1, the badges' and the arrows' included
    const measured = await contrasts(save.root, SAVE_TEXT);
    console.log(`save-notebook-${theme} contrast: ${JSON.stringify(measured)}`);
    expect(measured.some(m => m.text.includes('→'))).toBe(true);
    for (const { text, ratio } of measured) {
      expect(ratio, `contrast of "${text}"`).toBeGreaterThanOrEqual(4.5);
    }

    // The host says so, as for registrations; the image is selected in the Images tab.
    const toast = page.locator('.Toastify__toast').filter({ hasText: `${name}:${tag} is ACTIVE` });
    await expect(toast).toBeVisible({ timeout: KERNEL_TIMEOUT });
    await page.waitForTimeout(500); // the toast slides in
    await page.screenshot({ path: path.join(ARTIFACTS, `save-notebook-${theme}-notification.png`) });
    await bench.tab('Images').click();
    const selected = bench.browser.locator('.mai-image-row-selected .mai-image-row-name');
    await expect(selected).toHaveText(`${name}:${tag}`, { timeout: KERNEL_TIMEOUT });
    await expect(bench.browser.locator('.mai-image-detail .mai-status-badge')).toContainText('ACTIVE');
    await panel(page).screenshot({ path: path.join(ARTIFACTS, `save-notebook-${theme}-images.png`) });
  });
}
