// mnist.js - the server's image-to-input steps (src/data/image.c), ported line
// for line so the page can show the 28x28 image the model actually saw:
// area resampling, the polarity rule for uploaded images, and MNIST's
// preprocessing (crop to the ink, fit a 20x20 box, centre the mass).
// The predict response carries no image, so this is how the page knows it.
// Intermediate images are Float32Arrays because the C code stores floats;
// every sum is a double, in the C code's order, so results match bit for bit.

const INK_EPSILON = Math.fround(1 / 512);

/* C's lround: halves away from zero (Math.round rounds them up). */
function lround(x) {
  return x < 0 ? -Math.round(-x) : Math.round(x);
}

/*
 * Area averaging, as resample_area(): each destination pixel is the mean of
 * the source area it covers. `src` is Uint8 (0..255, scaled to [0,1]) or
 * Float32 ([0,1]); `stride` elements per source row, starting at `offset`.
 */
export function resampleArea(src, offset, stride, sw, sh, dw, dh) {
  const dst = new Float32Array(dw * dh);
  const bytes = src instanceof Uint8Array || src instanceof Uint8ClampedArray;
  for (let oy = 0; oy < dh; oy++) {
    const y0 = (oy * sh) / dh, y1 = ((oy + 1) * sh) / dh;
    const iy0 = Math.trunc(y0), iy1 = Math.min(Math.ceil(y1), sh);
    for (let ox = 0; ox < dw; ox++) {
      const x0 = (ox * sw) / dw, x1 = ((ox + 1) * sw) / dw;
      const ix0 = Math.trunc(x0), ix1 = Math.min(Math.ceil(x1), sw);
      let acc = 0, wsum = 0;
      for (let iy = iy0; iy < iy1; iy++) {
        const wy = Math.min(iy + 1, y1) - Math.max(iy, y0);
        if (wy <= 0) continue;
        const row = offset + iy * stride;
        for (let ix = ix0; ix < ix1; ix++) {
          const wx = Math.min(ix + 1, x1) - Math.max(ix, x0);
          if (wx <= 0) continue;
          const v = bytes ? src[row + ix] / 255 : src[row + ix];
          acc += wx * wy * v;
          wsum += wx * wy;
        }
      }
      const v = wsum > 0 ? acc / wsum : 0;
      dst[oy * dw + ox] = v < 0 ? 0 : v > 1 ? 1 : v;
    }
  }
  return dst;
}

/* image_to_input(): gray bytes to w x h floats, inverted when the border is
 * mostly light so black-on-white drawings read like MNIST. */
export function imageToInput(gray, width, height, w = 28, h = 28) {
  const out = resampleArea(gray, 0, width, width, height, w, h);
  let border = 0, n = 0;
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++)
      if (y === 0 || y === h - 1 || x === 0 || x === w - 1) {
        border += out[y * w + x];
        n++;
      }
  if (border / n > 0.5) for (let i = 0; i < out.length; i++) out[i] = 1 - out[i];
  return out;
}

/* image_preprocess_mnist() on a copy: crop to the ink's bounding box, scale
 * it into a 20x20 box (of 28x28), and shift its centre of mass to the
 * image centre. An image without ink comes back unchanged. */
export function preprocessMnist(pixels, w = 28, h = 28) {
  let bx0 = w, by0 = h, bx1 = -1, by1 = -1;
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++)
      if (pixels[y * w + x] > INK_EPSILON) {
        bx0 = Math.min(bx0, x);
        bx1 = Math.max(bx1, x);
        by0 = Math.min(by0, y);
        by1 = Math.max(by1, y);
      }
  const out = new Float32Array(pixels);
  if (bx1 < 0) return out;
  const bw = bx1 - bx0 + 1, bh = by1 - by0 + 1;
  const tw = Math.max(1, lround((w * 20) / 28)), th = Math.max(1, lround((h * 20) / 28));
  const s = Math.min(tw / bw, th / bh);
  const nw = Math.min(Math.max(lround(bw * s), 1), tw);
  const nh = Math.min(Math.max(lround(bh * s), 1), th);
  const tmp = resampleArea(out, by0 * w + bx0, w, bw, bh, nw, nh);

  let mass = 0, mx = 0, my = 0;
  for (let y = 0; y < nh; y++)
    for (let x = 0; x < nw; x++) {
      const v = tmp[y * nw + x];
      mass += v;
      mx += v * (x + 0.5);
      my += v * (y + 0.5);
    }
  const cx = mass > 0 ? mx / mass : nw / 2, cy = mass > 0 ? my / mass : nh / 2;
  const ox = lround(w / 2 - cx), oy = lround(h / 2 - cy);
  out.fill(0);
  for (let y = 0; y < nh; y++) {
    const ty = y + oy;
    if (ty < 0 || ty >= h) continue;
    for (let x = 0; x < nw; x++) {
      const tx = x + ox;
      if (tx >= 0 && tx < w) out[ty * w + tx] = tmp[y * nw + x];
    }
  }
  return out;
}

/* RGBA bytes to gray as the PNG decoder does: Rec. 601 luma on the stored
 * values, alpha composited over white. */
export function rgbaToGray(rgba) {
  const n = rgba.length / 4, gray = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const r = rgba[4 * i], g = rgba[4 * i + 1], b = rgba[4 * i + 2], a = rgba[4 * i + 3];
    const l = Math.floor((299 * r + 587 * g + 114 * b + 500) / 1000);
    gray[i] = Math.floor((l * a + 255 * (255 - a) + 127) / 255);
  }
  return gray;
}

/* Paints [0,1] floats (w x h) as gray pixels into a canvas of that size. */
export function paintImage(canvas, pixels, w = 28, h = 28) {
  const ctx = canvas.getContext("2d");
  const img = ctx.createImageData(w, h);
  for (let i = 0; i < w * h; i++) {
    const v = Math.round(pixels[i] * 255);
    img.data.set([v, v, v, 255], 4 * i);
  }
  ctx.putImageData(img, 0, 0);
}
