import { LabIcon } from '@jupyterlab/ui-components';

// A container (an image) with an upward arrow: "register an image". `jp-icon3` follows the theme.
const svg =
  '<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24"><g class="jp-icon3" fill="#616161"><path d="M3 9h18v11a1 1 0 0 1-1 1H4a1 1 0 0 1-1-1zm2 2v8h14v-8z"/><path d="M6 12h2v6H6zm5 0h2v6h-2zm5 0h2v6h-2z"/><path d="M12 1l5 5h-3.5v2h-3V6H7z"/></g></svg>';

export const modelartsIcon = new LabIcon({ name: 'mai-widgets:modelarts', svgstr: svg });
