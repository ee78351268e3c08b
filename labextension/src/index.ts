import { ILabShell, ILayoutRestorer, JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ICommandPalette, Notification } from '@jupyterlab/apputils';
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';

import { COMMAND_CATEGORY, CommandIDs, PANEL_ID, PLUGIN_ID, SESSION_PATH } from './constants';
import { modelartsIcon } from './icon';
import { ModelArtsPanel } from './panel';

const plugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description: 'A side panel that registers custom images with Huawei Cloud ModelArts.',
  autoStart: true,
  requires: [IRenderMimeRegistry],
  optional: [ICommandPalette, ISettingRegistry, ILayoutRestorer, ILabShell, ITranslator],
  activate: (
    app: JupyterFrontEnd,
    rendermime: IRenderMimeRegistry,
    palette: ICommandPalette | null,
    settingRegistry: ISettingRegistry | null,
    restorer: ILayoutRestorer | null,
    labShell: ILabShell | null,
    translator: ITranslator | null
  ): void => {
    const trans = (translator ?? nullTranslator).load('mai_widgets');
    let kernelName = '';
    const panel = new ModelArtsPanel({
      services: app.serviceManager,
      rendermime,
      kernelSetting: () => kernelName,
      translator
    });
    panel.title.icon = modelartsIcon;
    panel.title.caption = trans.__('ModelArts images');

    // A followed image settled: say so even when the side bar is collapsed, with a way to it.
    panel.imageSettled.connect((_, notice) => {
      Notification.emit(notice.text, notice.kind, {
        autoClose: notice.kind === 'success' ? 8000 : false,
        actions: [
          {
            label: trans.__('Show image'),
            caption: trans.__('Open the ModelArts images panel on this image'),
            callback: () => {
              app.shell.activateById(PANEL_ID);
              panel.openImage(notice.image_id);
            }
          }
        ]
      });
    });
    app.shell.add(panel, 'left', { rank: 900 });
    restorer?.add(panel, PANEL_ID);

    app.commands.addCommand(CommandIDs.open, {
      label: trans.__('ModelArts: Register a custom image'),
      caption: trans.__('Open the ModelArts images side panel'),
      icon: args => (args['isPalette'] ? undefined : modelartsIcon),
      execute: async () => {
        app.shell.activateById(PANEL_ID);
        panel.focusForm();
        await panel.start();
      }
    });
    app.commands.addCommand(CommandIDs.restart, {
      label: trans.__('ModelArts: Restart the image panel’s kernel'),
      execute: () => panel.restartKernel()
    });
    app.commands.addCommand(CommandIDs.close, {
      label: trans.__('ModelArts: Close the image panel (shut down its kernel)'),
      execute: async () => {
        await panel.shutdown();
        labShell?.collapseLeft();
      }
    });
    for (const command of [CommandIDs.open, CommandIDs.restart, CommandIDs.close]) {
      palette?.addItem({ command, category: COMMAND_CATEGORY });
    }

    if (settingRegistry) {
      void settingRegistry.load(PLUGIN_ID).then(settings => {
        kernelName = (settings.get('kernelName').composite as string) ?? '';
        settings.changed.connect(async () => {
          const next = (settings.get('kernelName').composite as string) ?? '';
          if (next === kernelName) {
            return;
          }
          kernelName = next;
          if (panel.sessionContext) {
            await panel.shutdown();
            await panel.start();
          }
        });
      });
    }

    // After a page reload, reconnect to the panel's kernel at once, whether or not the panel is open.
    void app.serviceManager.sessions.ready.then(async () => {
      const existing = await app.serviceManager.sessions.findByPath(SESSION_PATH);
      if (existing) {
        if (settingRegistry) {
          await settingRegistry.load(PLUGIN_ID);
        }
        await panel.start();
      }
    });
  }
};

export default plugin;
