// Builds dist/beacon.js: one minified file, an IIFE that defines nothing global but window.beacon.
import { build } from 'esbuild'
import { readFileSync } from 'node:fs'
import { gzipSync } from 'node:zlib'

// Property names used only inside the script, shortened like local variables to fit the size budget. Never
// list a name the page, the browser or the collector sees (event fields, DOM and Web APIs, window.beacon.q).
export const INTERNAL_PROPERTIES =
  /^(endpoint|cookieless|respectDnt|requireConsent|pingMs|store|persist|allowed|stamp|read|write|remove|anonymousId|setAnonymousId|erase|enqueue|adopt|discard|flush|active|visible|take|command|start)$/

await build({
  entryPoints: ['src/index.js'],
  outfile: 'dist/beacon.js',
  bundle: true,
  minify: true,
  mangleProps: INTERNAL_PROPERTIES,
  format: 'iife',
  target: ['es2020'],
  legalComments: 'none',
  logLevel: 'warning',
})
const script = readFileSync('dist/beacon.js')
console.log(`dist/beacon.js: ${script.length} bytes, ${gzipSync(script, { level: 9 }).length} bytes gzipped`)
