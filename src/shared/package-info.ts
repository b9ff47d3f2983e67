/** The package's own version, for the CLI's --version and the OpenAPI document. */
import { readFileSync } from 'node:fs';

// src/shared/ and dist/shared/ both sit two levels below the package root.
const manifest = JSON.parse(
  readFileSync(new URL('../../package.json', import.meta.url), 'utf8'),
) as { version: string };

export const PACKAGE_VERSION = manifest.version;
