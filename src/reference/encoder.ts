// Token + position embedding.
// Gradient rule: parameter gradients ACCUMULATE (+=), activation gradients
// ASSIGN (=). Here every gradient is a parameter gradient (dwte, dwpe).

import { checkIndex, type Vec } from './types.ts';

/** out[b,t,:] = wte[inp[b,t],:] + wpe[t,:] */
export function encoderForward(
  out: Vec, // (B,T,C)
  inp: Int32Array, // (B,T)
  wte: Vec, // (V,C)
  wpe: Vec, // (maxT,C)
  B: number,
  T: number,
  C: number,
): void {
  const V = wte.length / C;
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      const ix = inp[b * T + t];
      checkIndex('token id', ix, V);
      const o = (b * T + t) * C;
      for (let c = 0; c < C; c++) out[o + c] = wte[ix * C + c] + wpe[t * C + c];
    }
  }
}

/** dwte[inp[b,t],:] += dout[b,t,:]; dwpe[t,:] += sum_b dout[b,t,:] */
export function encoderBackward(
  dwte: Vec, // (V,C)
  dwpe: Vec, // (maxT,C)
  dout: Vec, // (B,T,C)
  inp: Int32Array, // (B,T)
  B: number,
  T: number,
  C: number,
): void {
  const V = dwte.length / C;
  // dwpe gathers over b so the sum is formed in f64 before it is stored.
  for (let t = 0; t < T; t++) {
    for (let c = 0; c < C; c++) {
      let s = 0;
      for (let b = 0; b < B; b++) s += dout[(b * T + t) * C + c];
      dwpe[t * C + c] += s;
    }
  }
  // A token may occur many times. Group the positions by token so each row of
  // dwte gets one f64 sum added, not one f32 rounding per occurrence.
  const positions = new Map<number, number[]>();
  for (let i = 0; i < B * T; i++) {
    const ix = inp[i];
    checkIndex('token id', ix, V);
    let list = positions.get(ix);
    if (list === undefined) positions.set(ix, (list = []));
    list.push(i);
  }
  for (const [ix, list] of positions) {
    for (let c = 0; c < C; c++) {
      let s = 0;
      for (const i of list) s += dout[i * C + c];
      dwte[ix * C + c] += s;
    }
  }
}
