// Line charts drawn by hand on a canvas: a fixed window of the last samples, one or two series,
// the axis scaled to the largest value shown (or a fixed maximum).
'use strict';

/* exported BerthChart */
class BerthChart {
  /**
   * @param {HTMLCanvasElement} canvas
   * @param {{ colors: string[], max?: number, format: (v: number) => string, points?: number }} opts
   */
  constructor(canvas, opts) {
    this.canvas = canvas;
    this.opts = opts;
    this.points = opts.points ?? 60;
    this.series = opts.colors.map(() => []);
  }

  reset() {
    this.series = this.opts.colors.map(() => []);
    this.draw();
  }

  /** @param {number[]} values one per series */
  push(values) {
    values.forEach((v, i) => {
      const s = this.series[i];
      s.push(Number.isFinite(v) ? v : 0);
      if (s.length > this.points) s.shift();
    });
    this.draw();
  }

  draw() {
    const { canvas, opts } = this;
    const ctx = canvas.getContext('2d');
    if (!ctx) return;
    const w = canvas.width;
    const h = canvas.height;
    const pad = { left: 4, right: 4, top: 14, bottom: 4 };
    ctx.clearRect(0, 0, w, h);
    const peak = Math.max(0, ...this.series.flat());
    const max = opts.max ?? (peak > 0 ? peak * 1.15 : 1);
    ctx.strokeStyle = '#e5e8ee';
    ctx.lineWidth = 1;
    for (let i = 0; i <= 4; i++) {
      const y = Math.round(pad.top + ((h - pad.top - pad.bottom) * i) / 4) + 0.5;
      ctx.beginPath();
      ctx.moveTo(pad.left, y);
      ctx.lineTo(w - pad.right, y);
      ctx.stroke();
    }
    ctx.fillStyle = '#6b7380';
    ctx.font = '10px sans-serif';
    ctx.fillText(opts.format(max), pad.left + 2, 10);
    const step = (w - pad.left - pad.right) / (this.points - 1);
    this.series.forEach((s, i) => {
      if (s.length < 2) return;
      ctx.strokeStyle = opts.colors[i];
      ctx.lineWidth = 1.5;
      ctx.beginPath();
      const x0 = w - pad.right - (s.length - 1) * step;
      s.forEach((v, j) => {
        const x = x0 + j * step;
        const y = h - pad.bottom - (Math.min(v, max) / max) * (h - pad.top - pad.bottom);
        if (j === 0) ctx.moveTo(x, y);
        else ctx.lineTo(x, y);
      });
      ctx.stroke();
    });
  }
}

/** 1536 -> "1.5 KiB" */
function formatBytes(n) {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${n.toFixed(n >= 100 || i === 0 ? 0 : 1)} ${units[i]}`;
}
