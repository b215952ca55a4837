/* companion static Space: the preprocessing steps of preprocess.json, in plain JavaScript.
 *
 * The same numbers as companion's Python runtime: an image is an {data, w, h, c} object with uint8 pixels stored row by
 * row (height, width, channels), like numpy.asarray(pil_image); a batch array is {data, c, h, w} float32, channels first.
 * Item steps reproduce Pillow (crop, numpy pad, Image.resize with its fixed-point two-pass filters) bit for bit;
 * batch steps reproduce numpy float32 arithmetic, and torch's grid_sample for fastai's GPU resize.
 * No DOM here: the file runs in the page (window.companionPreprocess) and in node (require) for the tests.
 */
(function (root, factory) {
  const api = factory();
  if (typeof module === 'object' && module.exports) module.exports = api;
  else root.companionPreprocess = api;
})(typeof self !== 'undefined' ? self : this, function () {
  'use strict';
  const f32 = Math.fround;

  // ---- Pillow's resampling filters (src/libImaging/Resample.c), by Pillow's resample number ----
  function sinc(x) { if (x === 0) return 1; x *= Math.PI; return Math.sin(x) / x; }
  const FILTERS = {
    1: { name: 'lanczos', support: 3, f: x => (-3 <= x && x < 3) ? sinc(x) * sinc(x / 3) : 0 },
    2: { name: 'bilinear', support: 1, f: x => { if (x < 0) x = -x; return x < 1 ? 1 - x : 0; } },
    3: { name: 'bicubic', support: 2, f: x => {
      const a = -0.5;
      if (x < 0) x = -x;
      if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
      if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
      return 0; } },
    4: { name: 'box', support: 0.5, f: x => (x > -0.5 && x <= 0.5) ? 1 : 0 },
    5: { name: 'hamming', support: 1, f: x => {
      if (x < 0) x = -x;
      if (x === 0) return 1;
      if (x >= 1) return 0;
      x *= Math.PI;
      return Math.sin(x) / x * (0.54 + 0.46 * Math.cos(x)); } },
  };
  const PRECISION_BITS = 22;              // 32 - 8 bits of pixel - 2 bits of headroom, as in Pillow
  const ONE = 1 << PRECISION_BITS;

  // For each output pixel: the first input pixel, how many it reads, and their weights in fixed point.
  function coefficients(inSize, outSize, filter) {
    const scale = inSize / outSize;
    const filterscale = Math.max(scale, 1);
    const support = filter.support * filterscale;
    const ksize = Math.ceil(support) * 2 + 1;
    const bounds = new Int32Array(outSize * 2), kk = new Int32Array(outSize * ksize), w = new Float64Array(ksize);
    const ss = 1 / filterscale;
    for (let xx = 0; xx < outSize; xx++) {
      const center = (xx + 0.5) * scale;
      let xmin = Math.trunc(center - support + 0.5); if (xmin < 0) xmin = 0;
      let xmax = Math.trunc(center + support + 0.5); if (xmax > inSize) xmax = inSize;
      xmax -= xmin;
      let total = 0;
      for (let x = 0; x < xmax; x++) { w[x] = filter.f((x + xmin - center + 0.5) * ss); total += w[x]; }
      for (let x = 0; x < xmax; x++) {
        const k = total !== 0 ? w[x] / total : w[x];
        kk[xx * ksize + x] = k < 0 ? Math.trunc(-0.5 + k * ONE) : Math.trunc(0.5 + k * ONE);   // round half away from zero
      }
      bounds[2 * xx] = xmin; bounds[2 * xx + 1] = xmax;
    }
    return { ksize, bounds, kk };
  }

  const clip8 = v => { v >>= PRECISION_BITS; return v < 0 ? 0 : v > 255 ? 255 : v; };

  // Image.resize((ow, oh), NEAREST): Pillow's affine scale with a running float source position.
  function resizeNearest(im, ow, oh) {
    const { data, w, h, c } = im, out = new Uint8Array(ow * oh * c);
    const ax = w / ow, ay = h / oh, xs = new Int32Array(ow);
    let xo = ax * 0.5;
    for (let x = 0; x < ow; x++) { xs[x] = xo < 0 ? -1 : Math.trunc(xo); xo += ax; }
    let yo = ay * 0.5;
    for (let y = 0; y < oh; y++) {
      const yi = yo < 0 ? -1 : Math.trunc(yo);
      yo += ay;
      if (yi < 0 || yi >= h) continue;
      for (let x = 0; x < ow; x++) {
        const xi = xs[x];
        if (xi < 0 || xi >= w) continue;
        for (let k = 0; k < c; k++) out[(y * ow + x) * c + k] = data[(yi * w + xi) * c + k];
      }
    }
    return { data: out, w: ow, h: oh, c };
  }

  /** PIL's `im.resize((ow, oh), resample)` for 8-bit images ('L', 'RGB'): bit-exact.
   * Horizontal pass first (only when the width changes, only over the rows the vertical pass reads), then vertical. */
  function resizePIL(im, ow, oh, resample = 2) {
    const { w, h, c } = im;
    if (ow === w && oh === h) return { data: im.data.slice(), w, h, c };
    if (resample === 0) return resizeNearest(im, ow, oh);
    const filter = FILTERS[resample];
    if (!filter) throw new Error(`unknown resample filter ${resample}`);
    const H = coefficients(w, ow, filter), V = coefficients(h, oh, filter);
    let src = im.data, sw = w, sh = h;
    if (ow !== w) {
      const first = V.bounds[0], last = V.bounds[2 * oh - 2] + V.bounds[2 * oh - 1];
      for (let i = 0; i < oh; i++) V.bounds[2 * i] -= first;
      const th = last - first, out = new Uint8Array(ow * th * c);
      for (let y = 0; y < th; y++) {
        const row = (y + first) * w;
        for (let x = 0; x < ow; x++) {
          const xmin = H.bounds[2 * x], xmax = H.bounds[2 * x + 1], k0 = x * H.ksize;
          for (let ch = 0; ch < c; ch++) {
            let ss = 1 << (PRECISION_BITS - 1);
            for (let i = 0; i < xmax; i++) ss += src[(row + xmin + i) * c + ch] * H.kk[k0 + i];
            out[(y * ow + x) * c + ch] = clip8(ss);
          }
        }
      }
      src = out; sw = ow; sh = th;
    }
    if (oh !== h) {
      const out = new Uint8Array(sw * oh * c);
      for (let y = 0; y < oh; y++) {
        const ymin = V.bounds[2 * y], ymax = V.bounds[2 * y + 1], k0 = y * V.ksize;
        for (let x = 0; x < sw; x++) {
          for (let ch = 0; ch < c; ch++) {
            let ss = 1 << (PRECISION_BITS - 1);
            for (let i = 0; i < ymax; i++) ss += src[((ymin + i) * sw + x) * c + ch] * V.kk[k0 + i];
            out[(y * sw + x) * c + ch] = clip8(ss);
          }
        }
      }
      src = out; sh = oh;
    }
    return { data: src, w: sw, h: sh, c };
  }

  // ---- crop and numpy-style pad ----
  function crop(im, l, t, r, b) {
    const { data, w, c } = im, cw = r - l, ch = b - t, out = new Uint8Array(cw * ch * c);
    for (let y = 0; y < ch; y++) out.set(data.subarray(((y + t) * w + l) * c, ((y + t) * w + r) * c), y * cw * c);
    return { data: out, w: cw, h: ch, c };
  }

  // Index into 0..n-1 for position i, like numpy.pad's 'reflect' (mirror without repeating the edge) and 'edge'.
  function padIndex(i, n, mode) {
    if (i >= 0 && i < n) return i;
    if (mode === 'constant') return -1;
    if (mode === 'edge' || n === 1) return i < 0 ? 0 : n - 1;
    const period = 2 * (n - 1);
    let j = ((i % period) + period) % period;
    return j >= n ? period - j : j;
  }

  const NP_PAD = { zeros: 'constant', border: 'edge', reflection: 'reflect' };
  function pad(im, l, t, r, b, padMode) {
    const mode = NP_PAD[padMode] || padMode;
    const { data, w, h, c } = im, ow = w + l + r, oh = h + t + b, out = new Uint8Array(ow * oh * c);
    for (let y = 0; y < oh; y++) {
      const sy = padIndex(y - t, h, mode);
      if (sy < 0) continue;
      for (let x = 0; x < ow; x++) {
        const sx = padIndex(x - l, w, mode);
        if (sx < 0) continue;
        for (let k = 0; k < c; k++) out[(y * ow + x) * c + k] = data[(sy * w + sx) * c + k];
      }
    }
    return { data: out, w: ow, h: oh, c };
  }

  // fastai's crop-then-pad rule (Resize with method crop/pad, CropPad): window (l, t, cw, ch) of a W×H image.
  function cropPadWindow(im, l, t, cw, ch, padMode) {
    const W = im.w, H = im.h;
    if (l >= 0 || t >= 0 || l + cw <= W || t + ch <= H) im = crop(im, Math.max(l, 0), Math.max(t, 0), Math.min(l + cw, W), Math.min(t + ch, H));
    if (l < 0 || t < 0 || l + cw >= W || t + ch >= H)
      im = pad(im, Math.max(-l, 0), Math.max(-t, 0), Math.max(cw - W + l, 0), Math.max(ch - H + t, 0), padMode);
    return im;
  }

  /** fastai `Resize(size, method, pad_mode)` at validation on an image; size is [h, w]. */
  function resizeItem(im, step) {
    const [h, w] = step.size, method = step.method || 'crop', resample = step.resample === undefined ? 2 : step.resample;
    if (method === 'squish') return resizePIL(im, w, h, resample);
    if (method !== 'crop' && method !== 'pad') throw new Error(`unknown resize method ${method}`);
    const W = im.w, H = im.h, rw = W / w, rh = H / h;
    const m = (method === 'pad' ? rw > rh : rw < rh) ? rw : rh;
    const cw = Math.trunc(m * w), ch = Math.trunc(m * h);
    const l = Math.trunc(0.5 * (W - cw)), t = Math.trunc(0.5 * (H - ch));
    return resizePIL(cropPadWindow(im, l, t, cw, ch, step.pad_mode || 'reflection'), w, h, resample);
  }

  /** A model trained without Resize (every image one size): squish an upload whose shape is close to the model's, else crop or pad it first. */
  /** As companion.runtime.squishes: whether a fit step squishes a w×h image (its aspect within the step's share of the model's). */
  function squishes(w, h, step) {
    const r = (w / h) / (step.size[1] / step.size[0]);
    return Math.max(r, 1 / r) <= 1 + (step.squish_within === undefined ? 0.1 : step.squish_within);
  }

  function fitItem(im, step) {
    const method = squishes(im.w, im.h, step) ? 'squish' : step.method;
    return resizeItem(im, { size: step.size, method, pad_mode: step.pad_mode || 'border', resample: step.resample });
  }

  /** As companion.runtime.size_note: a note when a fit step brings a w×h upload to the model's training size ('' otherwise). */
  function sizeNote(w, h, steps) {
    const s = (steps.item || []).find(o => o.op === 'fit');
    if (!s || (w === s.size[1] && h === s.size[0])) return '';
    const how = squishes(w, h, s) ? 'squished' : ({ pad: 'padded to its shape', crop: 'its centre cropped' }[s.method] || s.method);
    return `resized from ${w}×${h} to ${s.size[1]}×${s.size[0]} pixels (${how}), the size the model was trained at`;
  }

  /** As companion.images.border_level: the mean grey level of an RGB image's outermost rows and columns (corners count twice). */
  function borderLevel(im) {
    const g = toL(im).data, { w, h } = im;
    let sum = 0;
    for (let x = 0; x < w; x++) sum += g[x] + g[(h - 1) * w + x];
    for (let y = 0; y < h; y++) sum += g[y * w] + g[y * w + w - 1];
    return sum / (2 * w + 2 * h);
  }

  /** As companion.images.unlike_training, from training_bounds' numbers (config.json's `unlike`): a note when an RGB image
   * differs from the training images in background or (with sizes) far in size; '' otherwise or without bounds. */
  function unlikeTraining(im, b, sizes) {
    if (!b) return '';
    const notes = [], level = borderLevel(im);
    const bg = level < b.dark ? 'dark' : level > b.light ? 'light' : 'mixed';
    if ((bg === 'dark' && b.background === 'light') || (bg === 'light' && b.background === 'dark'))
      notes.push(`this picture has a ${bg} background, the training images a ${b.background} one: the model may read it wrongly (try inverting its colours)`);
    const { w, h } = im, lo = b.side_min, hi = b.side_max;
    if (sizes && (Math.max(w, h) > b.factor * hi || Math.min(w, h) * b.factor < lo))
      notes.push(`this picture is ${w}×${h} pixels, the training images ${lo !== hi ? `${lo} to ${hi}` : lo} pixels a side`);
    return notes.join('; ');
  }

  function cropPadItem(im, step) {
    const [h, w] = step.size;
    return cropPadWindow(im, Math.floor((im.w - w) / 2), Math.floor((im.h - h) / 2), w, h, step.pad_mode || 'zeros');
  }

  // ---- colour: PIL's convert('L') from RGB, and alpha compositing on white (Image.alpha_composite) ----
  function toL(im) {
    if (im.c === 1) return im;
    const n = im.w * im.h, out = new Uint8Array(n), d = im.data;
    for (let i = 0; i < n; i++) out[i] = (d[3 * i] * 19595 + d[3 * i + 1] * 38470 + d[3 * i + 2] * 7471 + 0x8000) >>> 16;
    return { data: out, w: im.w, h: im.h, c: 1 };
  }

  /** RGBA bytes (not premultiplied) -> RGB on a white background, as PIL's alpha_composite onto opaque white does.
   * Returns {image, transparent} where transparent says whether any pixel had alpha < 255. */
  function rgbaToRGB(rgba, w, h) {
    const n = w * h, out = new Uint8Array(n * 3);
    const div255 = v => (((v >>> 8) + v) >>> 8);
    let transparent = false;
    for (let i = 0; i < n; i++) {
      const a = rgba[4 * i + 3];
      for (let k = 0; k < 3; k++) {
        const v = rgba[4 * i + k];
        if (a === 255) out[3 * i + k] = v;
        else if (a === 0) out[3 * i + k] = 255;
        else out[3 * i + k] = div255(v * a * 128 + 255 * (255 - a) * 128 + (0x80 << 7)) >>> 7;
      }
      if (a !== 255) transparent = true;
    }
    return { image: { data: out, w, h, c: 3 }, transparent };
  }

  // ---- batch steps on float32 (C, H, W) ----
  function toFloat(im) {          // HWC uint8 -> CHW float32
    const { data, w, h, c } = im, out = new Float32Array(c * h * w);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) for (let k = 0; k < c; k++) out[(k * h + y) * w + x] = data[(y * w + x) * c + k];
    return { data: out, c, h, w };
  }

  function div(x, step) {
    const d = f32(step.div === undefined ? 255 : step.div), o = new Float32Array(x.data.length);
    for (let i = 0; i < o.length; i++) o[i] = x.data[i] / d;
    return { ...x, data: o };
  }

  function normalize(x, step) {
    const { c, h, w } = x, o = new Float32Array(x.data.length), n = h * w;
    for (let k = 0; k < c; k++) {
      const m = f32(step.mean[k % step.mean.length]), s = f32(step.std[k % step.std.length]);
      for (let i = k * n; i < (k + 1) * n; i++) o[i] = f32(x.data[i] - m) / s;
    }
    return { ...x, data: o };
  }

  function sliceCHW(x, top, left, ch, cw) {
    const o = new Float32Array(x.c * ch * cw);
    for (let k = 0; k < x.c; k++) for (let y = 0; y < ch; y++)
      o.set(x.data.subarray((k * x.h + top + y) * x.w + left, (k * x.h + top + y) * x.w + left + cw), (k * ch + y) * cw);
    return { data: o, c: x.c, h: ch, w: cw };
  }

  function cropRatio(x, step) {
    const [r0, r1] = step.ratio, s = step.scale === undefined ? 1 : step.scale, H = x.h, W = x.w;
    let ch, cw;
    if (W / H < r0) { ch = Math.trunc(W / r0); cw = W; } else if (W / H > r1) { ch = H; cw = Math.trunc(H * r1); } else { ch = H; cw = W; }
    ch = Math.trunc(ch * s); cw = Math.trunc(cw * s);
    return sliceCHW(x, Math.floor((H - ch) / 2), Math.floor((W - cw) / 2), ch, cw);
  }

  // torch adaptive_avg_pool2d to (oh, ow): window [floor(i*H/oh), ceil((i+1)*H/oh)).
  function areaPool(x, oh, ow) {
    const { c, h, w } = x, o = new Float32Array(c * oh * ow);
    for (let k = 0; k < c; k++) for (let i = 0; i < oh; i++) {
      const y0 = Math.floor(i * h / oh), y1 = Math.ceil((i + 1) * h / oh);
      for (let j = 0; j < ow; j++) {
        const x0 = Math.floor(j * w / ow), x1 = Math.ceil((j + 1) * w / ow);
        let s = 0;
        for (let y = y0; y < y1; y++) for (let xx = x0; xx < x1; xx++) s += x.data[(k * h + y) * w + xx];
        o[(k * oh + i) * ow + j] = s / ((y1 - y0) * (x1 - x0));
      }
    }
    return { data: o, c, h: oh, w: ow };
  }

  function reflect(v, lo2, hi2) {          // torch's reflect_coordinates on [lo2/2, hi2/2]
    if (lo2 === hi2) return 0;
    const mn = lo2 / 2, span = (hi2 - lo2) / 2;
    v = Math.abs(v - mn);
    const extra = v % span, flips = Math.floor(v / span);
    return flips % 2 === 0 ? extra + mn : span - extra + mn;
  }

  // Source position of grid coordinate g in [-1, 1] along an axis of `size` pixels, after torch's padding rule.
  function sourceIndex(g, size, padMode, alignCorners) {     // float32 steps, as torch's CPU grid_sample kernel rounds them
    let v = alignCorners ? f32(f32(g + 1) * f32((size - 1) / 2)) : f32(f32(f32(g + 1) * f32(size / 2)) - 0.5);
    if (padMode === 'border') v = Math.min(size - 1, Math.max(v, 0));
    else if (padMode === 'reflection') {
      v = alignCorners ? reflect(v, 0, 2 * (size - 1)) : reflect(v, -1, 2 * size - 1);
      v = Math.min(size - 1, Math.max(v, 0));
    }
    return v;
  }

  function linspace(n, alignCorners) {      // torch affine_grid's base coordinates: torch.linspace(-1, 1, n) in float32
    const g = new Float32Array(n), step = f32(2 / (n - 1));
    for (let i = 0; i < n; i++) {
      const v = n === 1 ? 0 : i < (n >> 1) ? f32(-1 + step * i) : f32(1 - step * (n - 1 - i));   // linspace fills from both ends
      g[i] = alignCorners ? v : f32(f32(v * (n - 1)) / n);
    }
    return g;
  }

  /** fastai's affine_coord with the identity matrix: torch F.affine_grid + grid_sample to (h, w), with fastai's
   * area pre-shrink (adaptive average pooling) when its test says a bilinear resize shrinks by more than 2x. */
  function resample(x, step) {
    const [oh, ow] = step.size || [x.h, x.w], mode = step.mode || 'bilinear', pm = step.pad_mode || 'reflection';
    const ac = step.align_corners === undefined ? true : !!step.align_corners;
    const gx = linspace(ow, ac), gy = linspace(oh, ac);
    if (mode === 'bilinear') {
      const all = [...gx, ...gy], mn = Math.min(...all), mx = Math.max(...all);
      const z = 1 / f32(mx - mn) * 2;
      // fastai computes the shrink factor from the grid's shape (n, h, w, 2): min(H / w, W / 2) / 2, not min(H / h, W / w) / 2
      const d = Math.min(x.h / ow, x.w / 2) / 2;
      if (d > 1 && d > z) x = areaPool(x, Math.floor(x.h * (1 / d)), Math.floor(x.w * (1 / d)));
    }
    const { c, h, w } = x, o = new Float32Array(c * oh * ow);
    const ix = Array.from(gx, g => sourceIndex(g, w, pm, ac)), iy = Array.from(gy, g => sourceIndex(g, h, pm, ac));
    const at = (k, yy, xx) => (yy >= 0 && yy < h && xx >= 0 && xx < w) ? x.data[(k * h + yy) * w + xx] : 0;
    for (let i = 0; i < oh; i++) for (let j = 0; j < ow; j++) {
      const sx = ix[j], sy = iy[i];
      for (let k = 0; k < c; k++) {
        let v;
        if (mode === 'nearest') v = at(k, nearestIndex(sy), nearestIndex(sx));
        else {
          const x0 = Math.floor(sx), y0 = Math.floor(sy), fx = sx - x0, fy = sy - y0;
          v = at(k, y0, x0) * (1 - fx) * (1 - fy) + at(k, y0, x0 + 1) * fx * (1 - fy) + at(k, y0 + 1, x0) * (1 - fx) * fy + at(k, y0 + 1, x0 + 1) * fx * fy;
        }
        o[(k * oh + i) * ow + j] = v;
      }
    }
    return { data: o, c, h: oh, w: ow };
  }
  function nearestIndex(v) { const r = Math.round(v); return (r - v === 0.5 && r % 2 !== 0) ? r - 1 : r; }   // round half to even, like nearbyint

  // ---- preprocess.json ----
  /** preprocess.json as {mode, size, item: [...], batch: [...], max_model_side} steps, for format 2 and for format 1 (resize/div/mean/std);
   *  `limits` is config.json's (companion.images.LIMITS): its max_model_side bounds preprocessing that fixes no size. */
  function preprocessSteps(prep, limits) {
    const max_model_side = (limits || {}).max_model_side;
    if (Array.isArray(prep.item) || Array.isArray(prep.batch))
      return { mode: prep.mode || 'RGB', size: prep.size, item: prep.item || [], batch: prep.batch || [], max_model_side };
    const item = [], batch = [];
    const r = prep.resize;
    if (r) item.push({ op: 'resize', size: r.size, method: r.method, pad_mode: r.pad_mode, resample: r.resample === undefined ? 2 : r.resample });
    if (prep.div) batch.push({ op: 'div', div: prep.div });
    if (prep.mean !== null && prep.mean !== undefined) batch.push({ op: 'normalize', mean: prep.mean, std: prep.std });
    return { mode: prep.mode || 'RGB', size: prep.size, item, batch, max_model_side };
  }

  const ITEM = { resize: resizeItem, crop_pad: cropPadItem, fit: fitItem };
  const BATCH = { div, normalize, crop_ratio: cropRatio, resample };

  function pyRound(x) { const f = Math.floor(x), d = x - f; return d > 0.5 ? f + 1 : d < 0.5 ? f : (f % 2 === 0 ? f : f + 1); }   // Python's round()

  /** As companion.runtime.bound_size: preprocessing that fixes no size gets images whose long side is at most 4x the training size,
   *  and at most steps.max_model_side (from config.json's limits; without one, no such cap). */
  function boundSize(im, steps) {
    const fixes = (steps.item || []).length > 0 || (steps.batch || []).some(s => s.op === "resample" && s.size);
    if (fixes) return im;
    const cap = steps.max_model_side || Infinity;
    const limit = Math.min(cap, 4 * Math.max(...(steps.size || [cap / 4])));
    if (Math.max(im.w, im.h) <= limit) return im;
    const k = limit / Math.max(im.w, im.h);
    return resizePIL(im, Math.max(1, pyRound(im.w * k)), Math.max(1, pyRound(im.h * k)), 2);
  }

  /** Run the item steps on an RGB image {data, w, h, c: 3}: returns the (possibly 'L') uint8 image. */
  function itemSteps(im, steps) {
    if (steps.mode === 'L') im = toL(im);
    return runSteps(boundSize(im, steps), steps.item, ITEM, 'item');
  }

  /** Apply each step of `list` to x with its function in `table` (ITEM or BATCH); a step the page doesn't run throws. */
  function runSteps(x, list, table, kind) {
    for (const s of list) {
      const fn = table[s.op];
      if (!fn) throw new Error(`preprocess.json's ${kind} step '${s.op}' is not supported by this page`);
      x = fn(x, s);
    }
    return x;
  }

  /** The float32 (C, H, W) array the model sees for an RGB image, following preprocess.json's steps. */
  function preprocess(im, prepOrSteps) {
    const steps = prepOrSteps.item && prepOrSteps.batch && !prepOrSteps.format ? prepOrSteps : preprocessSteps(prepOrSteps);
    return runSteps(toFloat(itemSteps(im, steps)), steps.batch, BATCH, 'batch');
  }

  // ---- image headers: format and size before decoding (decompression bombs are refused unopened) ----
  function imageInfo(b) {
    const u16be = i => (b[i] << 8) | b[i + 1], u16le = i => b[i] | (b[i + 1] << 8);
    const u32be = i => ((b[i] << 24) >>> 0) + (b[i + 1] << 16) + (b[i + 2] << 8) + b[i + 3];
    const i32le = i => (b[i] | (b[i + 1] << 8) | (b[i + 2] << 16) | (b[i + 3] << 24));
    const u24le = i => b[i] | (b[i + 1] << 8) | (b[i + 2] << 16);
    const str = (i, n) => String.fromCharCode(...b.subarray(i, i + n));
    if (b.length >= 8 && b[0] === 0x89 && str(1, 3) === 'PNG') {
      if (b.length < 24 || str(12, 4) !== 'IHDR') return { format: 'png', width: 0, height: 0, damaged: true };   // no header chunk
      return { format: 'png', width: u32be(16), height: u32be(20), bitDepth: b[24], colorType: b[25] };
    }
    if (b.length >= 10 && (str(0, 6) === 'GIF87a' || str(0, 6) === 'GIF89a')) return { format: 'gif', width: u16le(6), height: u16le(8) };
    if (b.length >= 26 && str(0, 2) === 'BM') {
      if (u16le(14) === 12) return { format: 'bmp', width: u16le(18), height: u16le(20) };
      return { format: 'bmp', width: Math.abs(i32le(18)), height: Math.abs(i32le(22)) };
    }
    if (b.length >= 30 && str(0, 4) === 'RIFF' && str(8, 4) === 'WEBP') {
      const kind = str(12, 4);
      if (kind === 'VP8 ') return { format: 'webp', width: u16le(26) & 0x3fff, height: u16le(28) & 0x3fff };
      if (kind === 'VP8L') return { format: 'webp', width: 1 + (((b[22] & 0x3f) << 8) | b[21]), height: 1 + (((b[24] & 0xf) << 10) | (b[23] << 2) | ((b[22] & 0xc0) >> 6)) };
      if (kind === 'VP8X') return { format: 'webp', width: 1 + u24le(24), height: 1 + u24le(27) };
      return { format: 'webp', width: 0, height: 0 };
    }
    if (b.length >= 4 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) {
      let i = 2;
      while (i + 9 < b.length) {
        if (b[i] !== 0xff) return { format: 'jpeg', width: 0, height: 0 };
        const m = b[i + 1];
        if (m === 0xff) { i++; continue; }
        if (m === 0xd8 || m === 0x01 || (m >= 0xd0 && m <= 0xd7)) { i += 2; continue; }
        if (m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc) return { format: 'jpeg', width: u16be(i + 7), height: u16be(i + 5), components: b[i + 9] };
        i += 2 + u16be(i + 2);
      }
      return { format: 'jpeg', width: 0, height: 0 };
    }
    if (b.length >= 12 && str(4, 4) === 'ftyp' && /avif|avis/.test(str(8, 4))) return { format: 'avif', width: 0, height: 0 };
    if (b.length >= 4 && (str(0, 4) === 'II*\0' || str(0, 4) === 'MM\0*')) return { format: 'tiff', width: 0, height: 0 };
    return null;
  }

  const ops = { item: Object.keys(ITEM), batch: Object.keys(BATCH) };   // what this page runs: build_static refuses a preprocess.json with others

  return { ops, sizeNote, borderLevel, unlikeTraining, fitItem, boundSize, FILTERS, coefficients, resizePIL, resizeNearest, crop, pad, cropPadWindow, resizeItem, cropPadItem, toL, rgbaToRGB,
           toFloat, div, normalize, cropRatio, areaPool, resample, preprocessSteps, itemSteps, preprocess, imageInfo };
});
