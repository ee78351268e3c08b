/**
 * A failed registration and the ways out of it, in the side panel at its default width: the
 * Images tab's "Register again" (a notification says how it ended while the side bar is
 * collapsed) and the Register tab's "Delete and register again", before and after the missing
 * image is pushed to the emulator's SWR.
 */
import { expect, test } from '@jupyterlab/galata';
import * as path from 'path';

import {
  ARTIFACTS,
  brokenWords,
  freshSwrPath,
  KERNEL_TIMEOUT,
  openFromSideBar,
  panel,
  pushImage,
  registerByScript,
  sidePanelWorkbench,
  waitForForm
} from './helpers';

test.describe('a failed image', () => {
  test('Images tab: register again, hear of it with the side bar collapsed, push, register again until ACTIVE', async ({
    page
  }) => {
    // A script registered an image that was never pushed: ModelArts ended it CREATE_FAILED.
    const { swrPath, nameTag } = freshSwrPath('pushed-late');
    const first = registerByScript(swrPath);
    expect(first.status).toBe('CREATE_FAILED');

    await openFromSideBar(page);
    await waitForForm(page);
    const bench = sidePanelWorkbench(page);
    await bench.tab('Images').click();
    const row = bench.rowNames.filter({ hasText: nameTag });
    await expect(row).toHaveCount(1, { timeout: KERNEL_TIMEOUT });
    await row.click();
    const detail = bench.browser.locator('.mai-image-detail');
    const badge = detail.locator('.mai-status-badge');
    await expect(badge).toContainText('CREATE_FAILED', { timeout: KERNEL_TIMEOUT });
    await expect(detail.locator('.mai-record-id')).toContainText(first.id);
    // The record, at the side bar's width: each name whole, the long path broken after "/" and ".".
    expect(await brokenWords(panel(page))).toEqual([]);

    // "Register again…" asks once, naming the image and why it failed.
    const again = detail.locator('.mai-action-register-again');
    await again.click();
    const question = detail.locator('.mai-register-again-question');
    await expect(question).toContainText(nameTag);
    await expect(question).toContainText('was not found');
    await panel(page).screenshot({ path: path.join(ARTIFACTS, 'side-panel-register-again-question.png') });
    await detail.locator('.mai-register-again-confirm').click();

    // Still not pushed, so it fails again; the host says so while the side bar is collapsed.
    await page.evaluate(() => (window as any).jupyterapp.shell.collapseLeft());
    await expect(panel(page)).toBeHidden();
    const failedToast = page.locator('.Toastify__toast').filter({ hasText: `${nameTag} CREATE_FAILED: ` });
    await expect(failedToast).toBeVisible({ timeout: KERNEL_TIMEOUT });
    await page.waitForTimeout(500); // the toast slides in
    await page.screenshot({ path: path.join(ARTIFACTS, 'notification-create-failed.png') });
    // Its action opens the panel on the new record, in the Images tab.
    await failedToast.getByRole('button', { name: 'Show image' }).click();
    await expect(panel(page)).toBeVisible();
    await expect(bench.tab('Images')).toHaveClass(/lm-mod-current/);
    await expect(badge).toContainText('CREATE_FAILED');
    const secondId = /[0-9a-f-]{36}/.exec((await detail.locator('.mai-record-id').textContent()) ?? '')?.[0];
    expect(secondId).toBeTruthy();
    expect(secondId).not.toBe(first.id);
    // The failed record was deleted, not left beside the new one.
    await expect(row).toHaveCount(1);

    // The user pushes the image; Register again now reaches ACTIVE.
    pushImage(swrPath);
    await again.click();
    await detail.locator('.mai-register-again-confirm').click();
    await expect(badge).toContainText('ACTIVE', { timeout: KERNEL_TIMEOUT });
    await expect(detail.locator('.mai-record-id')).not.toContainText(secondId!);
    await expect(page.locator('.Toastify__toast').filter({ hasText: `${nameTag} is ACTIVE` })).toBeVisible({
      timeout: KERNEL_TIMEOUT
    });
    await expect(row).toHaveCount(1);
    await expect(again).toBeHidden(); // offered for failed images only
    await panel(page).screenshot({ path: path.join(ARTIFACTS, 'side-panel-register-again-active.png') });
  });

  test('Register tab: the checks name the failed record, and "Delete and register again" reaches ACTIVE', async ({
    page
  }) => {
    const { swrPath, nameTag } = freshSwrPath('fixed-after-failing');
    const first = registerByScript(swrPath);
    expect(first.status).toBe('CREATE_FAILED');
    pushImage(swrPath);

    await openFromSideBar(page);
    const form = await waitForForm(page);
    await form.typeSwrPath(swrPath);
    const checks = form.root.locator('.mai-preflight-list');
    await expect(checks.locator('.mai-check-pass[data-check="exists"]')).toBeVisible({ timeout: KERNEL_TIMEOUT });
    const registered = checks.locator('.mai-check-warn[data-check="registered"]');
    await expect(registered).toContainText(`${first.id}, which ended CREATE_FAILED`);

    await form.register.click();
    await form.root.locator('.mai-preflight-confirm').click(); // "Register anyway": it warned
    const offer = form.root.locator('.mai-register-again-offer');
    await expect(offer).toContainText('ended CREATE_FAILED', { timeout: KERNEL_TIMEOUT });
    await expect(offer).toContainText(first.id);
    await panel(page).screenshot({ path: path.join(ARTIFACTS, 'side-panel-delete-and-register-again.png') });
    await offer.locator('.mai-register-again-offer-button').click();

    await expect(form.badge).toContainText('ACTIVE', { timeout: KERNEL_TIMEOUT });
    await expect(form.recordId).not.toContainText(first.id);
    expect(await brokenWords(panel(page))).toEqual([]);
    await expect(offer).toBeHidden();
    // The Images tab lists the new record only.
    const bench = sidePanelWorkbench(page);
    await bench.tab('Images').click();
    await expect(bench.rowNames.filter({ hasText: nameTag })).toHaveCount(1, { timeout: KERNEL_TIMEOUT });
  });
});
