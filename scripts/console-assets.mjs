// Copies the console's static files next to the console.js that `tsc -p tsconfig.console.json` wrote.
// Plain JavaScript run by node: the image's build stage installs no tsx (its esbuild is optional).
import { copyFile, mkdir } from 'node:fs/promises';

const from = new URL('../web/console/', import.meta.url);
const to = new URL('../dist/console-assets/', import.meta.url);

await mkdir(to, { recursive: true });
for (const file of ['index.html', 'console.css']) await copyFile(new URL(file, from), new URL(file, to));
