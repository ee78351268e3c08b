/**
 * Picking the image from SWR in the side panel (the panel at its default width), and preflight's
 * architecture warning fixed in one click, then registered until ACTIVE, against the emulator's
 * demo SWR catalogue (mai_widgets/emulator/defaults.py).
 */
import { expect, test } from '@jupyterlab/galata';
import { Locator } from '@playwright/test';
import * as path from 'path';

import { ARTIFACTS, CATALOGUE_IMAGE, KERNEL_TIMEOUT, openFromSideBar, panel, waitForForm } from './helpers';

/** Pick the option of an ipywidgets Select named `name` (labels may add ` · size · date`). */
async function pick(list: Locator, name: string): Promise<void> {
  // The option's value attribute is its label with plain spaces (its text has no-break spaces).
  const option = list.locator(`option[value="${name}"], option[value^="${name} ·"]`);
  await expect(option).toHaveCount(1);
  const value = await option.getAttribute('value');
  await list.locator('select').selectOption(value ?? '');
}

test.describe('SWR picker and preflight', () => {
  test('pick organization, repository and tag; fix the arch in one click; register until ACTIVE', async ({ page }) => {
    await openFromSideBar(page);
    const form = await waitForForm(page);
    const root = form.root;

    await root.locator('.mai-swr-browse').click();
    const namespaces = root.locator('.mai-swr-namespaces-list');
    await expect(namespaces.locator('option')).not.toHaveCount(0, { timeout: KERNEL_TIMEOUT });
    await pick(namespaces, 'mai-demo');
    const repositories = root.locator('.mai-swr-repositories-list');
    await expect(repositories.locator('option').first()).toBeAttached();
    await pick(repositories, 'mindspore-ascend');
    const tags = root.locator('.mai-swr-tags-list');
    await expect(tags.locator('option')).toHaveCount(1);
    await expect(tags.locator('option')).toContainText('9.2 GB');
    await pick(tags, '2.3.0-aarch64');
    await expect(form.swrPath).toHaveValue(CATALOGUE_IMAGE);
    await root.locator('.mai-swr-browse').click(); // fold the lists away again

    // Preflight: the image is arm64-only, the form says X86_64.
    const checks = root.locator('.mai-preflight-list');
    const arch = checks.locator('.mai-check-warn[data-check="architecture"]');
    await expect(arch).toContainText('exec format error', { timeout: KERNEL_TIMEOUT });
    await expect(checks.locator('.mai-check-pass[data-check="exists"]')).toBeVisible();
    // the mark and the bar are coloured by the theme, not by a fixed colour: the bar in
    // --jp-warn-color1 (#f57c00 in the light theme), the mark in that colour moved 30% toward the
    // theme's text colour --jp-ui-font-color0 (#000) so that it reads at 4.5:1; the sentence keeps
    // the theme's text colour, for contrast
    await expect(arch.locator('.mai-check-mark')).toHaveCSS('color', 'color(srgb 0.672549 0.340392 0)');
    await expect(arch).toHaveCSS('border-left-color', 'rgb(245, 124, 0)');
    await panel(page).screenshot({ path: path.join(ARTIFACTS, 'side-panel-swr-arch-warning.png') });

    const useArch = root.locator('.mai-preflight-use-arch');
    await expect(useArch).toHaveText('Use AARCH64');
    await useArch.click();
    await expect(form.arch).toHaveValue('AARCH64');
    await expect(checks.locator('.mai-check-pass[data-check="architecture"]')).toBeVisible({
      timeout: KERNEL_TIMEOUT
    });
    await expect(useArch).toBeHidden();

    // Another spec may have registered this image on the same emulator: then preflight says so
    // and Register asks once.
    const registered = checks.locator('[data-check="registered"]');
    await expect(registered).toBeVisible();
    const already = (await checks.locator('.mai-check-warn[data-check="registered"]').count()) > 0;
    await expect(form.register).toBeEnabled();
    await form.register.click();
    if (already) {
      await root.locator('.mai-preflight-confirm').click();
    }
    await expect(form.badge).toContainText('ACTIVE', { timeout: KERNEL_TIMEOUT });
    await panel(page).screenshot({ path: path.join(ARTIFACTS, 'side-panel-swr-active.png') });
  });
});
