// Runs the static Space's preprocessing (companion/templates/static/preprocess.js) on cases written by Python and
// compares with what Pillow / numpy / torch gave. Usage: node check_preprocess.js cases.json  -> prints a JSON report.
'use strict';
const fs = require('fs'), path = require('path');
const P = require(path.join(__dirname, '..', '..', 'companion', 'templates', 'static', 'preprocess.js'));

const bytes = b64 => new Uint8Array(Buffer.from(b64, 'base64'));
const floats = b64 => { const b = Buffer.from(b64, 'base64'); return new Float32Array(b.buffer, b.byteOffset, b.length / 4); };

function run(cs) {
  const img = { data: bytes(cs.input), w: cs.w, h: cs.h, c: cs.c };
  switch (cs.kind) {
    case 'resize': return P.resizePIL(img, cs.ow, cs.oh, cs.resample).data;
    case 'item': return P.itemSteps(img, { mode: cs.mode, item: cs.steps }).data;
    case 'composite': return P.rgbaToRGB(img.data, cs.w, cs.h).image.data;
    case 'batch': {
      const x = { data: floats(cs.input), c: cs.c, h: cs.h, w: cs.w };
      let y = x;
      for (const s of cs.steps) y = ({ div: P.div, normalize: P.normalize, crop_ratio: P.cropRatio, resample: P.resample })[s.op](y, s);
      return y.data;
    }
    case 'preprocess': return P.preprocess(img, cs.prep).data;
    default: throw new Error('unknown case ' + cs.kind);
  }
}

const cases = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const report = { n: cases.length, failures: [], max_abs: 0 };
for (const cs of cases) {
  let got;
  try { got = run(cs); } catch (e) { report.failures.push({ id: cs.id, error: String(e) }); continue; }
  const want = cs.kind === 'batch' || cs.kind === 'preprocess' ? floats(cs.expected) : bytes(cs.expected);
  if (got.length !== want.length) { report.failures.push({ id: cs.id, error: `length ${got.length} != ${want.length}` }); continue; }
  let worst = 0, at = -1;
  for (let i = 0; i < got.length; i++) { const d = Math.abs(got[i] - want[i]); if (d > worst) { worst = d; at = i; } }
  if (cs.kind === 'batch' || cs.kind === 'preprocess') report.max_abs = Math.max(report.max_abs, worst);
  if (worst > (cs.atol || 0)) report.failures.push({ id: cs.id, max_abs: worst, at, got: got[at], want: want[at] });
}
console.log(JSON.stringify(report));
