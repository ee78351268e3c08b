// The stylesheet as a string (a `.raw.css` file: no style-loader runtime in the bundle), added once.
import css from './base.raw.css';

const style = document.createElement('style');
style.dataset.maiWidgets = '';
style.textContent = css;
document.head.appendChild(style);
