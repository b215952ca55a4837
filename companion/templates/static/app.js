/* companion static Space: runs the exported classifier (model/model.onnx + model/preprocess.json) in the visitor's browser
 * with onnxruntime-web (wasm). Every file is checked before it is decoded: empty, not an image, too many pixels,
 * sides too long -> a message in the page saying what to do. window.companion is the API the tests drive. */
'use strict';
(function () {
  const P = window.companionPreprocess;
  const limits = () => state.config.limits;   // config.json's: companion.images.LIMITS, written by the build
  const FORMATS = 'png, jpeg, webp, gif or bmp';
  const $ = id => document.getElementById(id);
  const href = path => path.split('/').map(encodeURIComponent).join('/');   // a label may hold %, # or ?
  const mb = n => n >= 1e5 ? `${(n / 1e6).toFixed(1)} MB` : n >= 1000 ? `${(n / 1e3).toFixed(1)} kB` : `${n} bytes`;

  class UploadError extends Error {
    constructor(title, message) { super(message); this.title = title; }
  }

  // ---- model ----
  const state = { session: null, prep: null, steps: null, config: {}, examples: [], vocab: [], queue: Promise.resolve() };

  async function json(url, fallback) {
    const r = await fetch(url);
    if (!r.ok) { if (fallback !== undefined) return fallback; throw new Error(`${url}: HTTP ${r.status}`); }
    return r.json();
  }

  async function load() {
    const t0 = performance.now();
    ort.env.wasm.wasmPaths = new URL('ort/', document.baseURI).href;
    ort.env.wasm.numThreads = self.crossOriginIsolated ? Math.min(4, navigator.hardwareConcurrency || 1) : 1;
    const [prep, config, examples] = await Promise.all([json('model/preprocess.json'), json('config.json'), json('examples.json', [])]);
    if (!config.limits) throw new Error('config.json has no limits on uploads: build the Space again with companion space build');
    Object.assign(state, { prep, config, examples, steps: P.preprocessSteps(prep, config.limits), vocab: prep.vocab.map(String) });
    const onnx = (prep.files && prep.files.onnx) || 'model.onnx';
    state.session = await ort.InferenceSession.create(href(`model/${onnx}`), { executionProviders: ['wasm'] });
    state.loadMs = performance.now() - t0;
    return state;
  }

  // ---- reading a file: checks first, then decode to RGB the way companion's Python runtime does ----
  function check(bytes, name) {
    const n = bytes.length;
    if (n === 0) throw new UploadError('Empty file', 'The file is empty (0 bytes): the upload or the download that made it failed. Pick the file again.');
    const info = P.imageInfo(bytes);
    if (!info) throw new UploadError('Not an image', `${name} is not an image this page can read (${mb(n)}). Upload a ${FORMATS} file.`);
    if (info.format === 'tiff') throw new UploadError('Not an image', `${name} is a TIFF file (${mb(n)}): browsers can't show TIFF. Save it as PNG or JPEG and upload that.`);
    if (info.damaged) throw new UploadError('Damaged image', `${name} starts like a ${info.format.toUpperCase()} file but its header is missing or damaged (${mb(n)}). Save or download it again, then re-upload.`);
    const { width: w, height: h } = info, { max_pixels: MAX_PIXELS, max_side: MAX_SIDE } = limits();
    if (w * h > MAX_PIXELS) {
      const bomb = w * h > 100 * n ? 'so small a file that unpacks into so large an image looks like a decompression bomb; ' : '';
      throw new UploadError('Too many pixels', `The image has ${w}×${h} = ${Math.round(w * h / 1e6)} megapixels in a file of ${mb(n)}: ${bomb}` +
        `this page accepts at most ${MAX_PIXELS / 1e6} megapixels. Resize it (1024 px on the long side is plenty) and try again.`);
    }
    if (Math.max(w, h) > MAX_SIDE) throw new UploadError('Image too long', `The image is ${w}×${h} pixels: sides longer than ${MAX_SIDE} px are refused. Crop or resize it and try again.`);
    return info;
  }

  async function decode(blob, info) {
    let bmp;
    try { bmp = await createImageBitmap(blob, { colorSpaceConversion: 'none', premultiplyAlpha: 'none', imageOrientation: 'from-image' }); }
    catch (e) { throw new UploadError('Damaged image', `The ${info.format.toUpperCase()} file is truncated or damaged: the browser could not decode it. Save or download it again, then re-upload.`); }
    const { width: w, height: h } = bmp, { max_pixels: MAX_PIXELS, max_side: MAX_SIDE } = limits();
    if (w * h > MAX_PIXELS || Math.max(w, h) > MAX_SIDE) { bmp.close(); throw new UploadError('Too many pixels', `The image is ${w}×${h} pixels: this page accepts at most ${MAX_PIXELS / 1e6} megapixels and ${MAX_SIDE} px a side.`); }
    if (!state.canvas) state.canvas = new OffscreenCanvas(w, h);
    const canvas = state.canvas;
    canvas.width = w; canvas.height = h;                  // resizing clears it to transparent black
    const ctx = canvas.getContext('2d', { willReadFrequently: true });
    ctx.drawImage(bmp, 0, 0);
    bmp.close();
    const rgba = ctx.getImageData(0, 0, w, h).data;
    const { image, transparent } = P.rgbaToRGB(rgba, w, h);
    const notes = [];   // as companion.images.to_rgb says them, from what the header and the pixels show
    if (info.width && (info.width !== w || info.height !== h)) notes.push('rotated as its EXIF orientation asks');
    if (info.format === 'png' && info.bitDepth === 16 && info.colorType === 0) notes.push('16-bit image scaled to 8 bits');   // Pillow's I;16
    if (info.format === 'png' && info.colorType === 3) notes.push('palette image converted to RGB');   // Pillow's P
    if (transparent) notes.push('transparent areas shown on white');
    if (info.components === 4) notes.push('CMYK (print) colours converted to RGB');
    return { image, note: notes.join('; ') };
  }

  function softmaxIfNeeded(p) {
    if (state.prep.activation === 'softmax') return p;
    const m = Math.max(...p), e = p.map(v => Math.exp(v - m)), s = e.reduce((a, b) => a + b, 0);
    return e.map(v => v / s);
  }

  async function infer(x) {
    const s = state.session, input = new ort.Tensor('float32', x.data, [1, x.c, x.h, x.w]);
    const out = await s.run({ [s.inputNames[0]]: input });
    return softmaxIfNeeded(Array.from(out[s.outputNames[0]].data));
  }

  /** Predict on a Blob/File: {label, index, probs, ms, preprocess_ms, note, width, height}; throws UploadError. */
  function predictFile(blob, name) {
    name = name || blob.name || 'this file';
    const job = state.queue.then(async () => {      // one run at a time: an ort session is not re-entrant
      const t0 = performance.now();
      const bytes = new Uint8Array(await blob.arrayBuffer());
      const info = check(bytes, name);
      const { image, note: decoded } = await decode(blob, info);
      const fit = P.sizeNote(image.w, image.h, state.steps);   // then what companion.app adds: the fit, or how unlike the training images
      const note = [decoded, fit, P.unlikeTraining(image, state.config.unlike, !fit)].filter(Boolean).join('; ');
      const x = P.preprocess(image, state.steps);
      const t1 = performance.now();
      const probs = await infer(x);
      let index = 0;
      for (let i = 1; i < probs.length; i++) if (probs[i] > probs[index]) index = i;
      return { label: state.vocab[index], index, probs, note, width: image.w, height: image.h,
               preprocess_ms: t1 - t0, ms: performance.now() - t0 };
    });
    state.queue = job.catch(() => {});
    return job;
  }

  /** A file of this site (an example), fetched by its URL as a click fetches it. */
  async function fetchFile(path) {
    const resp = await fetch(href(path));
    if (!resp.ok) throw new UploadError('Example missing', `${path} did not load (HTTP ${resp.status}): build the Space again.`);
    return resp.blob();
  }

  /** Predict on a file of this site, as clicking it does: the result of predictFile. */
  async function predictURL(path) { return predictFile(await fetchFile(path), path.split('/').pop()); }

  /** The float32 (C, H, W) array the model would see for a Blob: {data: number[], c, h, w} (tests compare it with Python's). */
  async function preprocessFile(blob, name) {
    const bytes = new Uint8Array(await blob.arrayBuffer());
    const { image } = await decode(blob, check(bytes, name || 'this file'));
    const x = P.preprocess(image, state.steps);
    return { data: Array.from(x.data), c: x.c, h: x.h, w: x.w };
  }

  /** Tests: predict on many files given as base64 strings; returns [{label, probs, ms} | {error, title}]. */
  function fromBase64(b64) {
    const bin = atob(b64), arr = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) arr[i] = bin.charCodeAt(i);
    return new Blob([arr]);
  }
  async function predictBase64(items) {
    const out = [];
    for (const b64 of items) {
      try { out.push(await predictFile(fromBase64(b64), 'upload')); }
      catch (e) { out.push({ error: e.message, title: e.title || e.name }); }
    }
    return out;
  }
  async function preprocessBase64(items) { return Promise.all(items.map(b64 => preprocessFile(fromBase64(b64), 'upload'))); }

  // ---- page ----
  function showMessage(title, text) {
    const m = $('message');
    m.hidden = !title;
    m.querySelector('.title').textContent = title || '';
    m.querySelector('.text').textContent = text || '';
  }

  function showPrediction(r) {
    const k = Math.min(state.config.top_k || 3, r.probs.length);
    const order = r.probs.map((p, i) => [p, i]).sort((a, b) => b[0] - a[0]).slice(0, k);
    $('top-label').textContent = r.label;
    const bars = $('bars');
    bars.replaceChildren(...order.map(([p, i]) => {
      const li = document.createElement('li');
      li.className = 'bar';
      li.dataset.label = state.vocab[i];
      li.innerHTML = '<div class="fill"></div><span class="name"></span><span class="pct"></span>';
      li.querySelector('.fill').style.width = `${(100 * p).toFixed(1)}%`;
      li.querySelector('.name').textContent = state.vocab[i];
      li.querySelector('.pct').textContent = `${Math.round(100 * p)}%`;
      return li;
    }));
    $('note').value = r.note || '';
    $('timing').textContent = `${r.ms.toFixed(1)} ms in this browser (preprocessing ${r.preprocess_ms.toFixed(1)} ms)`;
  }

  function clearPrediction() {
    $('top-label').textContent = ''; $('bars').replaceChildren(); $('note').value = ''; $('timing').textContent = '';
  }

  function showPreview(blob, r) {
    const img = $('preview'), box = $('drop');
    if (img.src) URL.revokeObjectURL(img.src);
    img.src = URL.createObjectURL(blob);
    img.classList.toggle('small', Math.max(r.width, r.height) < 256);
    img.hidden = false; box.classList.add('has-image');
  }

  function clearPreview() {
    const img = $('preview');
    if (img.src) URL.revokeObjectURL(img.src);
    img.removeAttribute('src'); img.hidden = true; $('drop').classList.remove('has-image');
  }

  async function handle(blob, name) {
    showMessage(); $('drop').classList.add('busy');
    try {
      const r = await predictFile(blob, name);
      showPreview(blob, r); showPrediction(r);
      return r;
    } catch (e) {
      clearPreview(); clearPrediction();
      showMessage(e.title || 'Error', e.title ? e.message : `Something went wrong: ${e.message}`);
      return null;
    } finally { $('drop').classList.remove('busy'); }
  }

  // What the model expects, in sentences build_static wrote (config.facts); a config.json from before them gets the model's size.
  function describe() {
    const c = state.config, s = state.steps;
    $('title').textContent = c.title || document.title;
    $('description').textContent = c.description || `Upload a picture: the model tells which of these it is: ${state.vocab.join(', ')}.`;
    const facts = Array.isArray(c.facts) ? c.facts
      : s.size ? [`It sees ${s.mode === 'L' ? 'greyscale ' : ''}images of ${s.size[1]}×${s.size[0]} pixels.`] : [];
    $('expects').replaceChildren(...facts.map(f => Object.assign(document.createElement('li'), { textContent: f })));
  }

  function examplesGrid() {
    const grid = $('example-grid');
    if (!state.examples.length) { $('examples').hidden = true; return; }
    grid.replaceChildren(...state.examples.map(ex => {
      const b = document.createElement('button');
      b.type = 'button'; b.className = 'example'; b.dataset.file = ex.file;
      b.title = ex.label ? `an example of ${ex.label}` : ex.file;
      b.innerHTML = '<img alt=""><span></span>';
      b.querySelector('img').src = href(ex.file);
      b.querySelector('span').textContent = ex.label || ex.file.split('/').pop();
      b.addEventListener('click', async () => {
        let blob;
        try { blob = await fetchFile(ex.file); }
        catch (e) { clearPreview(); clearPrediction(); return showMessage(e.title, e.message); }
        await handle(blob, ex.file.split('/').pop());
      });
      return b;
    }));
  }

  function wire() {
    const drop = $('drop'), input = $('file');
    drop.addEventListener('click', () => input.click());
    drop.addEventListener('keydown', e => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); input.click(); } });
    input.addEventListener('change', () => { if (input.files[0]) handle(input.files[0], input.files[0].name); input.value = ''; });
    ['dragenter', 'dragover'].forEach(t => drop.addEventListener(t, e => { e.preventDefault(); drop.classList.add('over'); }));
    ['dragleave', 'drop'].forEach(t => drop.addEventListener(t, e => { e.preventDefault(); drop.classList.remove('over'); }));
    drop.addEventListener('drop', e => { const f = e.dataTransfer.files[0]; if (f) handle(f, f.name); });
    document.addEventListener('paste', e => {
      const f = [...(e.clipboardData || {}).files || []][0];
      if (f) handle(f, f.name || 'pasted image');
    });
  }

  const ready = (async () => {
    wire();
    try {
      await load();
      describe(); examplesGrid();
      $('status').textContent = `Model loaded in ${Math.round(state.loadMs)} ms: onnxruntime-web ${ort.env.versions.web} (wasm, ` +
        `${ort.env.wasm.numThreads} thread${ort.env.wasm.numThreads > 1 ? 's' : ''}), all in your browser: no image leaves this page.`;
      document.body.dataset.ready = 'true';
    } catch (e) {
      showMessage('The model did not load', `${e.message || e}. Serve this folder over http (e.g. python -m http.server), not as a file:// page.`);
      document.body.dataset.ready = 'error';
      throw e;
    }
  })();

  window.companion = { ready, predictFile, predictURL, predictBase64, preprocessFile, preprocessBase64, preprocess: P.preprocess, preprocessSteps: P.preprocessSteps, check, decode, state, handle };
})();
