// Incremental decoding with a KV cache: one new token per sequence per step.
// All sequences advance in lock-step, so the position `pos` of the token being
// processed is the same for every row (prompts of different lengths are fed
// one token at a time; see src/model/generate.ts).
// attention_decode repeats attention_forward's arithmetic in the same order,
// so cached decoding gives the same logits as a full forward pass.

struct Params {
  B: u32,
  C: u32,
  NH: u32,
  max_t: u32,       // positions held by the cache and `seq`
  pos: u32,         // position of the token being processed
  vocab_first: u32, // decode_embed: first wte row of the bound window
  vocab_count: u32,
}

@group(0) @binding(0) var<uniform> params: Params;

// decode_embed: out[b,:] = wte[seq[b,pos],:] + wpe[pos,:]
@group(0) @binding(1) var<storage, read_write> x: array<f32>; // (B,C)
@group(0) @binding(2) var<storage, read> seq: array<i32>;     // (B,max_t) token ids
@group(0) @binding(3) var<storage, read> wte: array<f32>;     // (vocab_count,C) window of (V,C)
@group(0) @binding(4) var<storage, read> wpe: array<f32>;     // (maxT,C)

// kv_write: this token's k and v into the caches at `pos`
@group(0) @binding(1) var<storage, read_write> kcache: array<f32>; // (B,max_t,C)
@group(0) @binding(2) var<storage, read_write> vcache: array<f32>; // (B,max_t,C)
@group(0) @binding(3) var<storage, read> qkv: array<f32>;          // (B,3C)

// attention_decode
@group(0) @binding(1) var<storage, read_write> out: array<f32>;    // (B,C)
@group(0) @binding(2) var<storage, read_write> att: array<f32>;    // (B,NH,max_t) scratch
@group(0) @binding(3) var<storage, read> qkv_d: array<f32>;        // (B,3C) reads q
@group(0) @binding(4) var<storage, read> kcache_d: array<f32>;     // (B,max_t,C)
@group(0) @binding(5) var<storage, read> vcache_d: array<f32>;     // (B,max_t,C)

const WG: u32 = 64u;

@compute @workgroup_size(WG)
fn decode_embed(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let C = params.C;
  for (var i = gid.x; i < params.B * C; i += groups.x * WG) {
    let b = i / C;
    let c = i % C;
    let token = seq[b * params.max_t + params.pos];
    let row = u32(token) - params.vocab_first; // wraps for token < vocab_first
    if (token >= 0 && row < params.vocab_count) {
      x[i] = wte[row * C + c] + wpe[params.pos * C + c];
    }
  }
}

@compute @workgroup_size(WG)
fn kv_write(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let C = params.C;
  for (var i = gid.x; i < params.B * C; i += groups.x * WG) {
    let b = i / C;
    let c = i % C;
    let slot = (b * params.max_t + params.pos) * C + c;
    kcache[slot] = qkv[b * 3u * C + C + c];
    vcache[slot] = qkv[b * 3u * C + 2u * C + c];
  }
}

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
    let row = idx * params.max_t;
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
