/**
 * The ModelArts images side panel in a real JupyterLab and a real Chromium, against the
 * local ModelArts emulator (servers.py starts both). Galata shuts down, after each test, the
 * sessions the test created, so every test starts the panel's kernel from nothing.
 */
import { expect, galata, test } from '@jupyterlab/galata';
import * as path from 'path';

import {
  ARTIFACTS,
  CATALOGUE_IMAGE,
  KERNEL_TIMEOUT,
  LISTED_IMAGE,
  onlyPanelSession,
  openFromPalette,
  openFromSideBar,
  panel,
  panelSessions,
  RegisterForm,
  runningKernelIds,
  sidePanelWorkbench,
  waitForForm,
  waitForPhase,
  widenSideBar
} from './helpers';

test.describe('ModelArts images side panel', () => {
  test('opens from the side bar and shows the Python form', async ({ page }) => {
    await openFromSideBar(page);
    await expect(panel(page).locator('.mai-panel-title')).toHaveText('ModelArts images');
    const form = await waitForForm(page);
    await expect(form.register).toBeVisible();
    // The form says where it sends requests: the emulator, never the cloud, in tests.
    await expect(panel(page).locator('.mai-endpoint')).toContainText('local ModelArts emulator');
    await expect(panel(page).locator('.mai-panel-kernel')).toContainText('Python 3');
  });

  test('opens from the command palette', async ({ page }) => {
    await openFromPalette(page);
    await waitForForm(page);
  });

  test('registers an image from the catalogue until it is ACTIVE', async ({ page }) => {
    await openFromSideBar(page);
    await widenSideBar(page);
    const form = await waitForForm(page);

    await form.arch.selectOption('AARCH64');
    await form.checkbox('GPU').check();
    await form.checkbox('SSH').check();
    await form.typeSwrPath(CATALOGUE_IMAGE);
    await expect(form.register).toBeEnabled();
    await form.pressRegister();

    await expect(form.badge).toContainText('ACTIVE', { timeout: KERNEL_TIMEOUT });
    await expect(form.recordId).toContainText(/[0-9a-f]{8}-?[0-9a-f]{4}/i);
    await panel(page).screenshot({ path: path.join(ARTIFACTS, 'side-panel-active.png') });
  });

  test('has three tabs, Register, Images and Save notebook', async ({ page }) => {
    await openFromSideBar(page);
    await waitForForm(page);
    const bench = sidePanelWorkbench(page);
    await expect(bench.tabs).toHaveText(['Register', 'Images', 'Save notebook']);
    await expect(bench.tab('Register')).toHaveClass(/lm-mod-current/);
  });

  test('the Images tab lists an image registered from the Register tab', async ({ page }) => {
    await openFromSideBar(page);
    await widenSideBar(page);
    const form = await waitForForm(page);
    await form.typeSwrPath(LISTED_IMAGE);
    await expect(form.register).toBeEnabled();
    await form.pressRegister();
    await expect(form.recordId).toContainText(/[0-9a-f]{8}-?[0-9a-f]{4}/i, { timeout: KERNEL_TIMEOUT });

    const bench = sidePanelWorkbench(page);
    await bench.tab('Images').click();
    const row = bench.rowNames.filter({ hasText: 'sklearn:1.5.0' });
    await expect(row).toHaveCount(1, { timeout: KERNEL_TIMEOUT });
    await expect(bench.browser.locator('.mai-browser-summary')).toContainText('Loaded');
    // Selecting it shows its live status and actions.
    await row.click();
    await expect(bench.browser.locator('.mai-image-detail .mai-status-badge')).toContainText('ACTIVE', {
      timeout: KERNEL_TIMEOUT
    });
    await expect(bench.browser.locator('.mai-action-delete')).toBeVisible();
    await panel(page).screenshot({ path: path.join(ARTIFACTS, 'side-panel-images-tab.png') });
  });

  test('an invalid swr_path shows the field message and disables Register', async ({ page }) => {
    await openFromSideBar(page);
    await widenSideBar(page);
    const form = await waitForForm(page);

    await form.typeSwrPath('swr.cn-north-4.myhuaweicloud.com/mai-demo/not a tagged image');
    await expect(form.swrError).toContainText(/\S/);
    await expect(form.register).toBeDisabled();
    await panel(page).screenshot({ path: path.join(ARTIFACTS, 'side-panel-field-error.png') });

    // Correcting it enables Register again: the message followed the value.
    await form.typeSwrPath(CATALOGUE_IMAGE);
    await expect(form.swrError).toHaveText('');
    await expect(form.register).toBeEnabled();
  });

  test('restarting the kernel from the panel brings the form back by itself', async ({ page }) => {
    await openFromSideBar(page);
    const form = await waitForForm(page);
    const before = await onlyPanelSession(page.request);

    await panel(page).locator('.mai-panel-restart').click();
    await waitForPhase(page, 'restarting', 30_000).catch(() => undefined); // may be too quick to see
    await waitForForm(page);
    await form.typeSwrPath('still not a path');
    await expect(form.swrError).toContainText(/\S/);
    await expect(form.register).toBeDisabled();
    // Same session and kernel: restarted, not replaced.
    expect(await onlyPanelSession(page.request)).toEqual(before);
  });

  test('a restart started elsewhere is recovered from without a click', async ({ page }) => {
    await openFromSideBar(page);
    const form = await waitForForm(page);
    await form.typeSwrPath('typed before the restart');
    const { kernelId } = await onlyPanelSession(page.request);

    // Another client (here the REST API, as the Running panel would) restarts the kernel.
    const response = await page.request.post(`/api/kernels/${kernelId}/restart`);
    expect(response.ok()).toBe(true);

    // The old form (its kernel-side widgets are gone) is replaced by a fresh, working one.
    await expect(form.swrPath).toHaveValue('', { timeout: KERNEL_TIMEOUT });
    await waitForForm(page);
    await form.typeSwrPath(CATALOGUE_IMAGE);
    await expect(form.register).toBeEnabled();
  });

  test('a kernel shut down elsewhere is replaced by one button', async ({ page }) => {
    await openFromSideBar(page);
    await waitForForm(page);
    const { kernelId } = await onlyPanelSession(page.request);

    const response = await page.request.delete(`/api/kernels/${kernelId}`);
    expect(response.ok()).toBe(true);
    await waitForPhase(page, 'dead');
    await expect(panel(page).locator('.mai-register-panel')).toHaveCount(0);
    const button = panel(page).locator('.mai-panel-action');
    await expect(button).toHaveCount(1);
    await button.click();

    const form = await waitForForm(page);
    await form.typeSwrPath(CATALOGUE_IMAGE);
    await expect(form.register).toBeEnabled();
    const after = await onlyPanelSession(page.request);
    expect(after.kernelId).not.toBe(kernelId);
  });

  test('a page reload reconnects to the same kernel', async ({ page }) => {
    await openFromSideBar(page);
    await waitForForm(page);
    const before = await onlyPanelSession(page.request);

    await page.reload({ waitUntil: 'domcontentloaded' });
    await page.waitForSelector('#jupyterlab-splash', { state: 'detached', timeout: KERNEL_TIMEOUT });
    await openFromSideBar(page);
    await waitForForm(page);
    expect(await panelSessions(page.request)).toEqual([before]);
  });

  test('a page reload shows the last registration, not a blank form', async ({ page }) => {
    await openFromSideBar(page);
    const form = await waitForForm(page);
    await form.typeSwrPath(CATALOGUE_IMAGE);
    await expect(form.register).toBeEnabled();
    await form.pressRegister();
    await expect(form.badge).toContainText('ACTIVE', { timeout: KERNEL_TIMEOUT });
    // At the default side-bar width, the result shows right under the Register button clicked.
    await expect(form.badge).toBeInViewport();
    await panel(page).screenshot({ path: path.join(ARTIFACTS, 'side-panel-default-width-result.png') });
    const imageId = (await form.recordId.textContent()) ?? '';

    await page.reload({ waitUntil: 'domcontentloaded' });
    await page.waitForSelector('#jupyterlab-splash', { state: 'detached', timeout: KERNEL_TIMEOUT });
    await openFromSideBar(page);
    const again = await waitForForm(page);
    await expect(again.swrPath).toHaveValue(CATALOGUE_IMAGE);
    await expect(again.badge).toContainText('ACTIVE');
    await expect(again.recordId).toHaveText(imageId);
    await panel(page).screenshot({ path: path.join(ARTIFACTS, 'side-panel-after-reload.png') });
  });

  test('closing the panel shuts its kernel down', async ({ page }) => {
    const kernelsBefore = await runningKernelIds(page.request);
    await openFromSideBar(page);
    await waitForForm(page);
    const { kernelId } = await onlyPanelSession(page.request);

    await panel(page).locator('.mai-panel-shutdown').click();
    await waitForPhase(page, 'closed');
    await expect.poll(() => panelSessions(page.request), { timeout: 60_000 }).toEqual([]);
    await expect.poll(() => runningKernelIds(page.request), { timeout: 60_000 }).toEqual(kernelsBefore);
    expect(kernelsBefore).not.toContain(kernelId);

    // Opening it again starts a new kernel.
    await panel(page).locator('.mai-panel-action[data-action="start"]').click();
    await waitForForm(page);
  });
});

test.describe('kernel setting', () => {
  test.use({
    mockSettings: {
      ...galata.DEFAULT_SETTINGS,
      'mai-widgets:plugin': { kernelName: 'python3-without-mai-widgets' }
    }
  });

  test('a kernel without mai_widgets says what to install where', async ({ page }) => {
    await openFromSideBar(page);
    await widenSideBar(page);
    await waitForPhase(page, 'missing-package');
    const message = panel(page).locator('.mai-panel-message');
    await expect(message).toContainText('"mai-widgets" is not installed');
    await expect(message).toContainText('Python 3 (without mai-widgets)');
    await expect(panel(page).locator('.mai-panel-install')).toHaveText(/\S+python\S* -m pip install mai-widgets$/);
    await expect(panel(page).locator('.mai-panel-kernel')).toContainText('without mai-widgets');
    // No traceback in the user's face.
    await expect(panel(page)).not.toContainText('Traceback');
    await panel(page).screenshot({ path: path.join(ARTIFACTS, 'side-panel-missing-package.png') });
  });
});

test.describe('in a notebook', () => {
  test('%register_image renders the panel in the cell', async ({ page }) => {
    await page.notebook.createNew();
    await page.notebook.setCell(0, 'code', '%load_ext mai_widgets\n%register_image');
    await page.notebook.runCell(0);
    const output = page.locator('.jp-Notebook .jp-Cell').first().locator('.jp-OutputArea');
    const form = new RegisterForm(output.locator('.mai-register-panel'));
    await expect(form.swrPath).toBeVisible({ timeout: KERNEL_TIMEOUT });
    await form.typeSwrPath('bad path');
    await expect(form.swrError).toContainText(/\S/);
    await expect(form.register).toBeDisabled();
  });
});
