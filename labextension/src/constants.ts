/** Names shared by the plugin, the panel and the tests: each written once. */

/**
 * The Python the panel runs in its own kernel: the whole workbench (a "Register" tab and an
 * "Images" tab) is written in Python, once. `shared()` returns the kernel's workbench when it
 * has one, so a page reload shows the registration and the Images tab as they were.
 */
export const PANEL_CODE = 'from mai_widgets import Workbench; Workbench.shared()';

/** Evaluated after a failure, to say which Python the missing package must go into. */
export const PYTHON_EXECUTABLE_EXPRESSION = "__import__('sys').executable";

export const PLUGIN_ID = 'mai-widgets:plugin';
export const PANEL_ID = 'mai-widgets-panel';
export const PANEL_TITLE = 'ModelArts images';

/** A fixed session path, so a page reload finds and reconnects to the same kernel. */
export const SESSION_PATH = 'mai-widgets/modelarts-images-panel';
export const SESSION_NAME = 'ModelArts images panel';
export const SESSION_TYPE = 'mai-widgets';

export namespace CommandIDs {
  export const open = 'mai-widgets:open';
  export const restart = 'mai-widgets:restart-kernel';
  export const close = 'mai-widgets:shutdown';
}

export const COMMAND_CATEGORY = 'ModelArts';
export const OPEN_LABEL = 'ModelArts: Register a custom image';
