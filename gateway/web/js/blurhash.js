// BlurHash decoding (https://blurha.sh, the published algorithm) onto a small canvas: the
// placeholder shown while a photo loads. An invalid hash paints nothing.

const CHARS = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz#$%*+,-.:;=?@[]^_{|}~';
const SIZE = 32; // pixels each way; CSS stretches the canvas over the photo's box

function decode83(text) {
  let value = 0;
  for (const char of text) {
    const digit = CHARS.indexOf(char);
    if (digit < 0) throw new RangeError('not a BlurHash character');
    value = value * 83 + digit;
  }
  return value;
}

function toLinear(value) {
  const v = value / 255;
  return v <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
}

function toSRGB(value) {
  const v = Math.max(0, Math.min(1, value));
  return Math.trunc(v <= 0.0031308 ? v * 12.92 * 255 + 0.5 : (1.055 * v ** (1 / 2.4) - 0.055) * 255 + 0.5);
}

const signPow = (value, exp) => Math.sign(value) * Math.abs(value) ** exp;

/** RGBA pixels (Uint8ClampedArray, width*height*4) of `hash`, or null when it is not valid. */
export function decode(hash, width, height, punch = 1) {
  if (typeof hash !== 'string' || hash.length < 6) return null;
  try {
    const size = decode83(hash[0]);
    const nx = (size % 9) + 1;
    const ny = Math.floor(size / 9) + 1;
    if (hash.length !== 4 + 2 * nx * ny) return null;
    const maxAc = ((decode83(hash[1]) + 1) / 166) * punch;
    const dc = decode83(hash.slice(2, 6));
    const colors = [[toLinear(dc >> 16), toLinear((dc >> 8) & 255), toLinear(dc & 255)]];
    for (let i = 1; i < nx * ny; i++) {
      const v = decode83(hash.slice(4 + i * 2, 6 + i * 2));
      colors.push([Math.floor(v / 361), Math.floor(v / 19) % 19, v % 19]
        .map((q) => signPow((q - 9) / 9, 2) * maxAc));
    }
    const cosX = new Float64Array(width * nx);
    const cosY = new Float64Array(height * ny);
    for (let x = 0; x < width; x++) for (let i = 0; i < nx; i++) cosX[x * nx + i] = Math.cos((Math.PI * x * i) / width);
    for (let y = 0; y < height; y++) for (let j = 0; j < ny; j++) cosY[y * ny + j] = Math.cos((Math.PI * y * j) / height);
    const pixels = new Uint8ClampedArray(width * height * 4);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        let r = 0;
        let g = 0;
        let b = 0;
        for (let j = 0; j < ny; j++) {
          for (let i = 0; i < nx; i++) {
            const basis = cosX[x * nx + i] * cosY[y * ny + j];
            const c = colors[i + j * nx];
            r += c[0] * basis;
            g += c[1] * basis;
            b += c[2] * basis;
          }
        }
        const at = 4 * (x + y * width);
        pixels[at] = toSRGB(r);
        pixels[at + 1] = toSRGB(g);
        pixels[at + 2] = toSRGB(b);
        pixels[at + 3] = 255;
      }
    }
    return pixels;
  } catch {
    return null;
  }
}

/** A canvas showing `hash` (aria-hidden: decoration), or null for an invalid hash. */
export function placeholder(hash) {
  const pixels = decode(hash, SIZE, SIZE);
  if (!pixels) return null;
  const canvas = document.createElement('canvas');
  canvas.width = SIZE;
  canvas.height = SIZE;
  canvas.className = 'blur';
  canvas.setAttribute('aria-hidden', 'true');
  canvas.getContext('2d').putImageData(new ImageData(pixels, SIZE, SIZE), 0, 0);
  return canvas;
}
