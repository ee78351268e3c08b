/** Names shared by the plugin, the panel and the tests: each written once. */

/** What a language tag may be made of to be put in the panel's code: letters, '_' and '-'. */
const LANGUAGE_TAG = /^[A-Za-z][A-Za-z_-]{0,34}$/;

/**
 * The Python the panel runs in its own kernel: the whole workbench (a "Register" tab and an
 * "Images" tab) is written in Python, once. `shared()` returns the kernel's workbench when it
 * has one, so a page reload shows the registration and the Images tab as they were.
 *
 * The kernel cannot know JupyterLab's language: the host hands it over (`zh-CN`, `en-US`…), so
 * the workbench speaks the language the user chose in Settings › Language. Only a plain language
 * tag goes into the code; anything else (or none) leaves the choice to the kernel's own settings.
 *
 * The panel runs it silently (no history, no result hook: IPython's bookkeeping of a first cell
 * costs the opening about 15 ms), so the workbench is shown with `display()`.
 */
export function panelCode(language: string | null | undefined): string {
  const tag = (language ?? '').trim();
  const argument = LANGUAGE_TAG.test(tag) ? `host_language='${tag}'` : '';
  return `from IPython.display import display; from mai_widgets import Workbench; display(Workbench.shared(${argument}))`;
}

/** Evaluated after a failure, to say which Python the missing package must go into. */
export const PYTHON_EXECUTABLE_EXPRESSION = "__import__('sys').executable";

export const PLUGIN_ID = 'mai-widgets:plugin';
export const PANEL_ID = 'mai-widgets-panel';

/** A fixed session path, so a page reload finds and reconnects to the same kernel. */
export const SESSION_PATH = 'mai-widgets/modelarts-images-panel';
export const SESSION_NAME = 'ModelArts images panel';
export const SESSION_TYPE = 'mai-widgets';

export namespace CommandIDs {
  export const open = 'mai-widgets:open';
  export const restart = 'mai-widgets:restart-kernel';
  export const close = 'mai-widgets:shutdown';
}

/** A product name: the same in every language. */
export const COMMAND_CATEGORY = 'ModelArts';
