#!/usr/bin/env node
'use strict';
// Builds the page into console/dist: web/app.js bundled with uPlot (one
// script, no module loading, nothing from the internet), uPlot's CSS and
// web/style.css in one stylesheet, and web/index.html.
//
//   node build.js      prints nothing on success; errors go to stderr (exit 1)

const fs = require('fs');
const path = require('path');

const root = __dirname;
const web = path.join(root, 'web');
const dist = path.join(root, 'dist');

// Write a file only when its content changes (a second build touches nothing).
function put(file, content) {
  const buf = Buffer.isBuffer(content) ? content : Buffer.from(content);
  try {
    if (fs.readFileSync(file).equals(buf)) return;
  } catch {
    // missing: written below
  }
  fs.writeFileSync(file, buf);
}

async function build({ outdir = dist } = {}) {
  const esbuild = require('esbuild');
  fs.mkdirSync(outdir, { recursive: true });
  const result = await esbuild.build({
    entryPoints: [path.join(web, 'app.js')],
    bundle: true,
    format: 'iife',
    minify: true,
    target: 'es2020',
    platform: 'browser',
    legalComments: 'eof',
    charset: 'utf8',
    write: false,
    outfile: path.join(outdir, 'app.js'),
    logLevel: 'silent',
  });
  for (const f of result.outputFiles) put(f.path, Buffer.from(f.contents));
  const css = [
    fs.readFileSync(require.resolve('uplot/dist/uPlot.min.css'), 'utf8').trim(),
    fs.readFileSync(path.join(web, 'style.css'), 'utf8').trim(),
  ].join('\n') + '\n';
  put(path.join(outdir, 'style.css'), css);
  put(path.join(outdir, 'index.html'), fs.readFileSync(path.join(web, 'index.html')));
}

function describe(e) {
  if (Array.isArray(e.errors) && e.errors.length) {
    return e.errors.map((m) => {
      const at = m.location ? `${m.location.file}:${m.location.line}:${m.location.column}: ` : '';
      return `${at}${m.text}`;
    }).join('\n');
  }
  return e.message || String(e);
}

if (require.main === module) {
  build().catch((e) => {
    process.stderr.write(`build.js: ${describe(e)}\n`);
    process.exit(1);
  });
}

module.exports = { build };
