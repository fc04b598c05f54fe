// Drawing one frame in a few milliseconds: maps are painted straight from their uint8 bytes into
// canvases through colour tables built once, and the loss curve is a canvas line chart that only
// grows. Nothing here talks to the server; playground.js runs the loop and hands frames in.
(() => {
  "use strict";

  const PALE = [247, 247, 247];
  // TensorFlow Playground paints its output map at alpha 160 over white, so that points of both
  // classes (drawn in full colour) stay visible where the network is sure.
  const OUTPUT_STRENGTH = 160 / 255;

  function hexToRgb(hex) {
    const n = parseInt(hex.slice(1), 16);
    return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
  }

  function mix(a, b, t) {
    return [0, 1, 2].map((i) => Math.round(a[i] + (b[i] - a[i]) * t));
  }

  function packed([r, g, b]) {
    // one RGBA pixel as the Uint32 an ImageData's buffer holds on a little-endian machine
    return ((255 << 24) | (b << 16) | (g << 8) | r) >>> 0;
  }

  function diverging(colours, byte) {
    // 0 -> negative colour, 128 -> pale, 255 -> positive colour (TensorFlow Playground's scheme)
    const t = byte / 127.5 - 1;
    return t < 0 ? mix(PALE, hexToRgb(colours.negative), -t) : mix(PALE, hexToRgb(colours.positive), t);
  }

  function table(size, colourAt) {
    const lut = new Uint32Array(size);
    for (let i = 0; i < size; i += 1) lut[i] = packed(colourAt(i));
    return lut;
  }

  /** The colour tables of one playground: byte -> pixel for node maps, and for the output map
   * (paler; for several classes indexed by class * 256 + confidence). */
  function palettes(colours, problem, discretize) {
    const white = [255, 255, 255];
    const pale = (rgb) => mix(white, rgb, OUTPUT_STRENGTH);
    const nodes = table(256, (v) => diverging(colours, v));
    let output;
    if (problem === "multiclass") {
      output = table(256 * colours.classes.length, (at) => {
        const colour = hexToRgb(colours.classes[at >> 8]);
        return pale(mix(PALE, colour, discretize ? 1 : (at & 255) / 255));
      });
    } else {
      output = table(256, (v) => pale(diverging(colours, discretize ? (v >= 128 ? 255 : 0) : v)));
    }
    return { nodes, output, pointColour: (v) => `rgb(${diverging(colours, v).join(",")})` };
  }

  const images = new WeakMap(); // canvas -> its ImageData and a Uint32 view of it, reused

  /** Paint a size×size map: pixel = lut[values[i]] (or lut[values[i] * 256 + strengths[i]]).
   * Row 0 of the data is the bottom of the square (x2 = -6); row 0 of a canvas is its top.
   * The canvas holds one pixel per value; CSS scales it up, smoothly. */
  function paint(canvas, size, lut, values, strengths) {
    if (!canvas) return;
    if (canvas.width !== size || canvas.height !== size) {
      canvas.width = size;
      canvas.height = size;
    }
    let cached = images.get(canvas);
    if (!cached || cached.image.width !== size) {
      const image = canvas.getContext("2d").createImageData(size, size);
      cached = { image, pixels: new Uint32Array(image.data.buffer) };
      images.set(canvas, cached);
    }
    const { image, pixels } = cached;
    for (let row = 0; row < size; row += 1) {
      const from = row * size;
      const to = (size - 1 - row) * size;
      if (strengths) {
        for (let col = 0; col < size; col += 1) pixels[to + col] = lut[(values[from + col] << 8) | strengths[from + col]];
      } else {
        for (let col = 0; col < size; col += 1) pixels[to + col] = lut[values[from + col]];
      }
    }
    canvas.getContext("2d").putImageData(image, 0, 0);
  }

  // ---- the loss chart ----------------------------------------------------------------------

  const LOG_ABOVE = 1e3; // a curve spanning more than this factor is drawn on a log scale
  const PAD = { left: 44, right: 8, top: 16, bottom: 28 };

  const PINNED_ALPHA = 0.45; // a pinned run's curves: faded and dashed, under the current run's

  /** Training and test loss by epoch, extended frame by frame. A long history arrives thinned
   * (``history.epochs`` names each point's epoch, see app/frames.py): points carry their epoch.
   * A pinned run ({epochs, train, test}, from ``curves()``) is drawn under it, and the axes
   * hold both. */
  class LossChart {
    constructor(canvas, options) {
      this.canvas = canvas;
      // {colours: {train, test}, labels: {epoch, loss, lossLog, train, test, pinned}, tick: y label, whole: epoch}
      this.options = options;
      this.epochs = [];
      this.train = [];
      this.test = [];
      this.pinned = null;
      this.width = canvas.clientWidth;
      this.height = canvas.clientHeight;
      this.resize = new ResizeObserver(([entry]) => {
        this.width = entry.contentRect.width;
        this.height = entry.contentRect.height;
        this.draw();
      });
      this.resize.observe(canvas);
    }

    disconnect() {
      this.resize.disconnect();
    }

    /** Append a frame's history (epochs from ``start`` on), dropping the points it replaces. */
    extend(history) {
      let keep = this.epochs.length;
      while (keep > 0 && this.epochs[keep - 1] >= history.start) keep -= 1;
      for (const series of [this.epochs, this.train, this.test]) series.length = keep;
      history.train_loss.forEach((v, i) => {
        this.epochs.push(history.epochs ? history.epochs[i] : history.start + i);
        this.train.push(v);
        this.test.push(history.test_loss[i]);
      });
    }

    clear() {
      for (const series of [this.epochs, this.train, this.test]) series.length = 0;
    }

    /** Copies of the current curves, to pin. */
    curves() {
      return { epochs: [...this.epochs], train: [...this.train], test: [...this.test] };
    }

    /** Draw ``curves`` (or nothing, for null) under the current run's. */
    pin(curves) {
      this.pinned = curves;
      this.draw();
    }

    scale() {
      let low = Infinity;
      let high = 0;
      const runs = this.pinned ? [this, this.pinned] : [this];
      for (const series of runs.flatMap((run) => [run.train, run.test])) {
        for (const v of series) {
          if (v === null || !Number.isFinite(v)) continue;
          if (v > high) high = v;
          if (v > 0 && v < low) low = v;
        }
      }
      if (!(high > 0)) return { log: false, low: 0, high: 1 };
      if (high / low > LOG_ABOVE) {
        return { log: true, low: Math.floor(Math.log10(low)), high: Math.ceil(Math.log10(high)) };
      }
      return { log: false, low: 0, high: high * 1.05 };
    }

    draw() {
      const { canvas, width, height } = this;
      if (!width || !height) return;
      const ratio = window.devicePixelRatio || 1;
      if (canvas.width !== Math.round(width * ratio)) canvas.width = Math.round(width * ratio);
      if (canvas.height !== Math.round(height * ratio)) canvas.height = Math.round(height * ratio);
      const g = canvas.getContext("2d");
      g.setTransform(ratio, 0, 0, ratio, 0, 0);
      g.clearRect(0, 0, width, height);
      const { colours, labels, tick, whole } = this.options;
      const plotW = width - PAD.left - PAD.right;
      const plotH = height - PAD.top - PAD.bottom;
      const lastOf = (epochs) => (epochs.length ? epochs[epochs.length - 1] : 0);
      const last = Math.max(10, lastOf(this.epochs), this.pinned ? lastOf(this.pinned.epochs) : 0);
      const s = this.scale();
      const y = s.log
        ? (v) => PAD.top + plotH * (1 - (Math.log10(v) - s.low) / Math.max(1, s.high - s.low))
        : (v) => PAD.top + plotH * (1 - (v - s.low) / (s.high - s.low));
      const x = (epoch) => PAD.left + (plotW * epoch) / last;

      g.font = "11px system-ui, sans-serif";
      g.fillStyle = "#666";
      g.strokeStyle = "#ddd";
      g.lineWidth = 1;
      g.textBaseline = "middle";
      g.textAlign = "right";
      const ticks = s.log
        ? [s.low, Math.round((s.low + s.high) / 2), s.high].filter((v, i, all) => all.indexOf(v) === i).map((e) => 10 ** e)
        : [0, s.high / 2, s.high];
      for (const v of ticks) {
        const at = Math.round(y(v)) + 0.5;
        g.beginPath();
        g.moveTo(PAD.left, at);
        g.lineTo(PAD.left + plotW, at);
        g.stroke();
        g.fillText(tick(v), PAD.left - 4, at);
      }
      g.textAlign = "center";
      g.textBaseline = "top";
      g.fillText(labels.epoch, PAD.left + plotW / 2, PAD.top + plotH + 3);
      g.textAlign = "left";
      g.fillText("0", PAD.left, PAD.top + plotH + 3);
      g.textAlign = "right";
      g.fillText(whole(last), PAD.left + plotW, PAD.top + plotH + 3);
      g.save();
      g.translate(10, PAD.top + plotH / 2);
      g.rotate(-Math.PI / 2);
      g.textBaseline = "middle";
      g.fillText(s.log ? labels.lossLog : labels.loss, 0, 0);
      g.restore();

      // legend, top left of the plot
      g.textAlign = "left";
      g.textBaseline = "middle";
      let lx = PAD.left;
      const legend = [[labels.test, colours.test], [labels.train, colours.train]];
      if (this.pinned) legend.push([labels.pinned, "#888", true]);
      for (const [name, colour, dashed] of legend) {
        g.fillStyle = colour;
        if (dashed) [0, 6, 12].forEach((dx) => g.fillRect(lx + dx, 6, 3, 2));
        else g.fillRect(lx, 6, 14, 2);
        g.fillStyle = "#444";
        g.fillText(name, lx + 18, 7);
        lx += 24 + g.measureText(name).width;
      }

      g.save();
      g.beginPath();
      g.rect(PAD.left, PAD.top - 2, plotW, plotH + 4);
      g.clip();
      // At epoch 0 each curve is one dot: the training dot smaller, so that both show.
      const runs = [[this, 1, []]];
      if (this.pinned) runs.unshift([this.pinned, PINNED_ALPHA, [5, 4]]);
      for (const [run, alpha, dash] of runs) {
        g.globalAlpha = alpha;
        g.setLineDash(dash);
        for (const [series, colour, dot] of [[run.test, colours.test, 4], [run.train, colours.train, 2.5]]) {
          this.line(g, run.epochs, series, x, y, colour, s.log, dot);
        }
      }
      g.restore();
    }

    line(g, epochs, series, x, y, colour, log, dot) {
      // More epochs than pixels: each pixel column draws the range of its epochs.
      g.strokeStyle = colour;
      g.fillStyle = colour;
      g.lineWidth = 2;
      const valid = (v) => v !== null && Number.isFinite(v) && (log ? v > 0 : v >= 0);
      if (series.length === 1 && valid(series[0])) {
        g.beginPath();
        g.arc(x(epochs[0]), y(series[0]), dot, 0, 2 * Math.PI);
        g.fill();
        return;
      }
      g.beginPath();
      let open = false;
      for (let i = 0; i < series.length;) {
        // every point that falls in this pixel column, drawn as the column's range
        const column = Math.floor(x(epochs[i]));
        let low = Infinity;
        let high = -Infinity;
        let gap = false;
        for (; i < series.length && Math.floor(x(epochs[i])) === column; i += 1) {
          const v = series[i];
          if (!valid(v)) { gap = true; continue; }
          if (v < low) low = v;
          if (v > high) high = v;
        }
        if (high === -Infinity) {
          open = false;
          continue;
        }
        if (open) g.lineTo(column, y(high));
        else g.moveTo(column, y(high));
        if (low !== high) g.lineTo(column, y(low));
        open = !gap;
      }
      g.stroke();
    }
  }

  window.PlaygroundDrawing = { palettes, paint, LossChart };
})();
