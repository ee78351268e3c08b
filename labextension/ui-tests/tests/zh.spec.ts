/**
 * JupyterLab in Simplified Chinese (Settings › Language: 中文, the zh-CN language pack installed):
 * the side panel's own words (title, tooltips, status lines, buttons, the command and the
 * notification's action) are Chinese, JupyterLab hands its language to the panel's kernel, and a
 * registration still runs to ACTIVE, whose status name stays English (an enum value). Switching
 * JupyterLab's language from its menu and reloading turns an open panel Chinese, its form kept.
 * The Python workbench's words come from the same catalogue (`wordsFor`), whatever part of it is
 * translated.
 */
import { expect, galata, IJupyterLabPageFixture, test } from '@jupyterlab/galata';
import * as path from 'path';

import {
  ARTIFACTS,
  CATALOGUE_IMAGE,
  freshSwrPath,
  KERNEL_TIMEOUT,
  OPEN_COMMAND,
  openFromSideBar,
  panel,
  pushImage,
  recordedTexts,
  recordTexts,
  SESSION_PATH,
  settingsIn,
  sidePanelWorkbench,
  waitForForm,
  waitForLauncher,
  waitForPhase,
  widenSideBar,
  wordsFor
} from './helpers';

const words = wordsFor('zh_CN');

test.use({ mockSettings: settingsIn('zh_CN', galata.DEFAULT_SETTINGS), waitForApplication: waitForLauncher });

/** The language the panel's workbench speaks, asked of its kernel (a second connection, no comms). */
async function workbenchLanguage(page: IJupyterLabPageFixture): Promise<string> {
  return page.evaluate(async sessionPath => {
    const services = (window as any).jupyterapp.serviceManager;
    const model = await services.sessions.findByPath(sessionPath);
    const kernel = services.kernels.connectTo({ model: model.kernel, handleComms: false });
    try {
      const reply = await kernel.requestExecute({
        code: '',
        silent: true,
        store_history: false,
        user_expressions: { language: "__import__('mai_widgets').Workbench._shared.language" }
      }).done;
      return reply.content.user_expressions.language.data['text/plain'] as string;
    } finally {
      kernel.dispose();
    }
  }, SESSION_PATH);
}

test.describe('JupyterLab in 中文', () => {
  test('the side panel speaks Chinese and registers an image to ACTIVE', async ({ page }) => {
    // JupyterLab itself is in Chinese: the page's language and its own menus.
    await expect.poll(() => page.evaluate(() => document.documentElement.lang)).toBe('zh-CN');
    await expect(page.locator('.lm-MenuBar-itemLabel', { hasText: /^文件$/ })).toBeVisible();

    // The side bar's tab and the panel's title.
    const tab = page.locator('.jp-SideBar .lm-TabBar-tab[data-id="mai-widgets-panel"]');
    await expect(tab).toHaveAttribute('title', 'ModelArts 镜像');
    // Every status line the panel shows while it starts, caught as it changes.
    await recordTexts(panel(page), { message: '.mai-panel-message-text' });
    await tab.click();
    await expect(panel(page)).toBeVisible();
    await expect(panel(page).locator('.mai-panel-title')).toHaveText('ModelArts 镜像');
    await expect(panel(page).getByTitle('重启侧边栏的内核', { exact: true })).toHaveCount(1);
    await expect(panel(page).getByTitle('关闭侧边栏：关闭其内核', { exact: true })).toHaveCount(1);

    await widenSideBar(page);
    const form = await waitForForm(page, words);
    // (the first may be the closed panel's, from before the click)
    const { message } = await recordedTexts(panel(page));
    expect(message.filter(text => text.startsWith('正在')).length, 'a status line while starting').toBeGreaterThan(0);
    for (const text of message) {
      expect(text).toMatch(/^(正在(启动内核（.+）|加载注册表单)…|侧边栏已关闭，其内核已关闭。)$/);
    }
    // The kernel's name and JupyterLab's own word for its state (空闲: idle).
    await expect(panel(page).locator('.mai-panel-kernel')).toContainText('Python 3');
    await expect(panel(page).locator('.mai-panel-kernel')).toContainText('空闲');

    // JupyterLab's language reached the kernel: the workbench speaks Simplified Chinese.
    expect(await workbenchLanguage(page)).toBe("'zh_CN'");
    const bench = sidePanelWorkbench(page, words);
    await expect(bench.tabs).toHaveText([words('Register'), words('Images'), words('Save notebook')]);

    // A registration runs to ACTIVE (the status name stays English), and says so in a notification:
    // an image pushed now (one registered before would just be shown, with no notification).
    const { swrPath, nameTag } = freshSwrPath('zh-image');
    pushImage(swrPath);
    await form.typeSwrPath(swrPath);
    await expect(form.register).toBeEnabled({ timeout: KERNEL_TIMEOUT });
    await form.pressRegister();
    await expect(form.badge).toContainText('ACTIVE', { timeout: KERNEL_TIMEOUT });
    await expect(form.recordId).toContainText(/[0-9a-f]{8}-?[0-9a-f]{4}/i);
    await panel(page).screenshot({ path: path.join(ARTIFACTS, 'zh-side-panel-active.png') });
    const toast = page.locator('.Toastify__toast').filter({ hasText: nameTag });
    await expect(toast).toBeVisible({ timeout: KERNEL_TIMEOUT });
    await expect(toast).toContainText('ACTIVE');
    const show = toast.getByRole('button', { name: '查看镜像' });
    await expect(show).toBeVisible();
    await page.screenshot({ path: path.join(ARTIFACTS, 'zh-notification.png') });
    await show.click();
    await expect(bench.tab('Images')).toHaveClass(/lm-mod-current/);
  });

  test('the command, and the status line and button of a closed panel, are Chinese', async ({ page }) => {
    // The command palette lists the command under its Chinese label.
    await page.keyboard.press('Control+Shift+C');
    const input = page.locator('.lm-CommandPalette-input');
    await expect(input).toBeVisible();
    await input.fill('ModelArts');
    const item = page.locator('.lm-CommandPalette-item').filter({ hasText: 'ModelArts：注册自定义镜像' });
    await expect(item).toHaveCount(1);
    await item.click();
    await waitForForm(page, words);

    // Closing the panel: its status line and the button that starts it again.
    await panel(page).locator('.mai-panel-shutdown').click();
    await waitForPhase(page, 'closed');
    await expect(panel(page).locator('.mai-panel-message-text')).toHaveText('侧边栏已关闭，其内核已关闭。');
    await expect(panel(page).locator('.mai-panel-kernel')).toHaveText('无内核');
    const start = panel(page).locator('.mai-panel-action[data-action="start"]');
    await expect(start).toHaveText('启动');
    await panel(page).screenshot({ path: path.join(ARTIFACTS, 'zh-side-panel-closed.png') });
    await start.click();
    await waitForForm(page, words);
    // the command itself is still there under its id, whatever its label
    expect(await page.evaluate(id => (window as any).jupyterapp.commands.hasCommand(id), OPEN_COMMAND)).toBe(true);
  });
});

test.describe('switching JupyterLab to 中文', () => {
  test.use({ mockSettings: settingsIn('en', galata.DEFAULT_SETTINGS) });

  test('Settings › Language › 中文 and the reload: the open panel speaks Chinese, its form kept', async ({ page }) => {
    // In English first, with a path typed into the form (the kernel and its workbench outlive the page).
    await openFromSideBar(page);
    const english = await waitForForm(page);
    await expect(sidePanelWorkbench(page).tabs).toHaveText(['Register', 'Images', 'Save notebook']);
    expect(await workbenchLanguage(page)).toBe("'en'");
    await english.typeSwrPath(CATALOGUE_IMAGE);
    await expect(english.register).toBeEnabled({ timeout: KERNEL_TIMEOUT });

    // What the Settings › Language menu runs: it asks, stores the setting and reloads the page.
    void page.evaluate(() => (window as any).jupyterapp.commands.execute('jupyterlab-translation:zh_CN'));
    const dialog = page.locator('.jp-Dialog');
    await expect(dialog).toBeVisible();
    await Promise.all([page.waitForEvent('load'), dialog.locator('.jp-mod-accept').click()]);
    await page.locator('#jupyterlab-splash').waitFor({ state: 'detached' });
    await expect.poll(() => page.evaluate(() => document.documentElement.lang)).toBe('zh-CN');

    await openFromSideBar(page, words);
    const form = await waitForForm(page, words);
    const tabs = [words('Register'), words('Images'), words('Save notebook')];
    await expect(sidePanelWorkbench(page, words).tabs).toHaveText(tabs);
    expect(await workbenchLanguage(page)).toBe("'zh_CN'");
    await expect(form.swrPath).toHaveValue(CATALOGUE_IMAGE);
    await expect(form.register).toBeEnabled({ timeout: KERNEL_TIMEOUT });
  });
});
