// Incremental decoding with a KV cache: one new token per sequence per step,
// forward only. The rest of a decode step is the training kernels on B rows
// (layernorm, matmul, gelu, residual are row-generic); what differs is here:
//   decode_embed      the token embedding at a given position (encoder_forward
//                     derives the position from the row, t = n % T)
//   kv_write          k and v of the tokens at positions pos .. pos+count-1
//                     into the layer's caches (count = 1 in a decode step,
//                     the whole prompt prefix after a batched prefill)
//   attention_decode  one query per sequence against the cached positions
// Sequences advance in lock-step (src/model/generate.ts): the token being
// processed is at position `pos` in every sequence of the batch, and cache
// positions 0..pos-1 already hold the keys and values of the tokens before it.
// attention_decode repeats the training attention's arithmetic in the same
// order (the q.k dot products in channel order, the scale, the softmax, the
// weighted sum of values in position order), so a decode step gives row `pos`
// of a full causal forward pass over the sequence, up to whether the device
// fuses the multiply-adds that the batched matmuls write as fma.
// The CPU spec is src/reference/decode.ts.

struct Params {
  B: u32,
  C: u32,
  NH: u32,
  max_t: u32,       // positions held by the caches and by seq
  pos: u32,         // position of the token being processed
  vocab_first: u32, // decode_embed: first wte row of the bound window
  vocab_count: u32, // decode_embed: wte rows in the window
  count: u32,       // kv_write: positions written
}

@group(0) @binding(0) var<uniform> params: Params;

// decode_embed: x[b,:] = wte[seq[b,pos],:] + wpe[pos,:]
@group(0) @binding(1) var<storage, read_write> x: array<f32>; // (B,C)
@group(0) @binding(2) var<storage, read> seq: array<i32>;     // (B,max_t) token ids
@group(0) @binding(3) var<storage, read> wte: array<f32>;     // (vocab_count,C) window of (V,C)
@group(0) @binding(4) var<storage, read> wpe: array<f32>;     // (nPositions,C)

// kv_write: kcache[b,pos+t,:] = k of qkv[b,t], vcache[b,pos+t,:] = v of qkv[b,t], t < count
@group(0) @binding(1) var<storage, read_write> kcache: array<f32>; // (B,max_t,C)
@group(0) @binding(2) var<storage, read_write> vcache: array<f32>; // (B,max_t,C)
@group(0) @binding(3) var<storage, read> qkv: array<f32>;          // (B,count,3C) [q | k | v] per position

// attention_decode: out[b,h*HS+i] = sum_{t2<=pos} softmax_t2(q . k_t2 / sqrt(HS)) v_t2[i]
@group(0) @binding(1) var<storage, read_write> out: array<f32>; // (B,C)
@group(0) @binding(2) var<storage, read_write> att: array<f32>; // (B,NH,max_t) scratch: scores, then probabilities
@group(0) @binding(3) var<storage, read> qkv_d: array<f32>;     // (B,3C) reads q
@group(0) @binding(4) var<storage, read> kcache_d: array<f32>;  // (B,max_t,C)
@group(0) @binding(5) var<storage, read> vcache_d: array<f32>;  // (B,max_t,C)

const WG: u32 = 64u;

@compute @workgroup_size(WG)
fn decode_embed(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let C = params.C;
  for (var i = gid.x; i < params.B * C; i += groups.x * WG) {
    let b = i / C;
    let c = i % C;
    let token = seq[b * params.max_t + params.pos];
    // One dispatch per vocabulary window; rows whose token lies in another
    // window are left to that window's dispatch. (u32 wrap-around sends tokens
    // below vocab_first out of range too.)
    let row = u32(token) - params.vocab_first;
    if (token >= 0 && row < params.vocab_count) {
      x[i] = wte[row * C + c] + wpe[params.pos * C + c];
    }
  }
}

@compute @workgroup_size(WG)
fn kv_write(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let C = params.C;
  let n = params.count;
  for (var i = gid.x; i < params.B * n * C; i += groups.x * WG) {
    let bt = i / C; // row (b, t) of qkv
    let c = i % C;
    let slot = ((bt / n) * params.max_t + params.pos + bt % n) * C + c;
    kcache[slot] = qkv[bt * 3u * C + C + c];
    vcache[slot] = qkv[bt * 3u * C + 2u * C + c];
  }
}

// One thread per (b, h): a single query row each.
@compute @workgroup_size(WG)
fn attention_decode(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let C = params.C;
  let NH = params.NH;
  let HS = C / NH;
  let t = params.pos;
  let scale = 1.0 / sqrt(f32(HS));
  for (var idx = gid.x; idx < params.B * NH; idx += groups.x * WG) {
    let b = idx / NH;
    let h = idx % NH;
    let q = b * 3u * C + h * HS;
    let row = idx * params.max_t; // att[b,h,:]
    let cache = b * params.max_t * C + h * HS;
    var maxv = -3.4e38;
    for (var t2 = 0u; t2 <= t; t2++) {
      var s = 0.0;
      for (var i = 0u; i < HS; i++) {
        s += qkv_d[q + i] * kcache_d[cache + t2 * C + i];
      }
      s *= scale;
      att[row + t2] = s;
      maxv = max(maxv, s);
    }
    var sum = 0.0;
    for (var t2 = 0u; t2 <= t; t2++) {
      let e = exp(att[row + t2] - maxv);
      att[row + t2] = e;
      sum += e;
    }
    let inv = 1.0 / sum;
    for (var t2 = 0u; t2 <= t; t2++) {
      att[row + t2] = att[row + t2] * inv;
    }
    for (var i = 0u; i < HS; i++) {
      var acc = 0.0;
      for (var t2 = 0u; t2 <= t; t2++) {
        acc += att[row + t2] * vcache_d[cache + t2 * C + i];
      }
      out[b * C + h * HS + i] = acc;
    }
  }
}
