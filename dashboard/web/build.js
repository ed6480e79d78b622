// Builds dist/: the dashboard's page, its script (uPlot bundled in) and its stylesheet, served by the dashboard
// process itself (no CDN: the page works offline).
import { build } from 'esbuild'
import { copyFileSync, mkdirSync } from 'node:fs'

mkdirSync('dist', { recursive: true })
await build({
  entryPoints: ['src/dashboard.js'],
  outdir: 'dist',
  bundle: true,
  minify: true,
  format: 'iife',
  target: ['es2020'],
  logLevel: 'warning',
})
copyFileSync('src/index.html', 'dist/index.html')
