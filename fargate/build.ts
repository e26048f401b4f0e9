// `npm run build`: bundles the media service (fargate/src/main.ts) into dist/media-service.mjs for plain `node`.
import { build, type BuildOptions } from 'esbuild';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

/** esbuild options for the media-service bundle; exported so tests can bundle the same way. */
export const mediaServiceBuild: BuildOptions = {
  absWorkingDir: root,
  entryPoints: ['fargate/src/main.ts'],
  outfile: 'dist/media-service.mjs',
  bundle: true,
  platform: 'node',
  target: 'node22',
  format: 'esm',
  minify: true,
  sourcemap: true,
  // twilio, pino and ws are CommonJS and call require() at run time; an ESM bundle has no `require`, so the
  // banner makes one (and __filename/__dirname for packages that look for files beside themselves).
  banner: {
    js: [
      "import { createRequire as __va_cr } from 'node:module';",
      "import { fileURLToPath as __va_fu } from 'node:url';",
      "import { dirname as __va_dn } from 'node:path';",
      'const require = __va_cr(import.meta.url);',
      'const __filename = __va_fu(import.meta.url);',
      'const __dirname = __va_dn(__filename);',
    ].join(''),
  },
  // Optional native add-ons of ws; it falls back to plain JS when they are absent.
  external: ['bufferutil', 'utf-8-validate'],
  logLevel: 'info',
};

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await build(mediaServiceBuild);
}
