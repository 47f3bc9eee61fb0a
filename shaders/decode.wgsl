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
//
// attention_decode comes in two shapes, as the training softmax does
// (src/kernels/decode.ts picks by adapter, reduction.ts's rule):
// - attention_decode: one invocation per (b, h), no barriers: what a CPU
//   rasteriser runs fastest, and the arithmetic of attention_softmax.
// - attention_decode_heads: for GPUs, where 48 threads (GPT-2 at B=4) each
//   walking the whole cache left the device idle. A workgroup per (b, h):
//   lanes over positions for the scores, a team of lanes for the softmax
//   statistics, lanes over channels for att.v. The softmax repeats
//   attention_softmax_rows (attention.wgsl) step for step, so on a GPU the
//   decoding path gets the probabilities the training pass gets, as the cpu
//   shapes do on a CPU rasteriser; every other sum keeps the order above.
// decode_embed and kv_write are one invocation per element already: B*C
// (or B*count*C) lanes with neighbours on neighbouring channels, which a GPU
// runs well as they are.

struct Params {
  B: u32,
  C: u32,
  NH: u32,
  max_t: u32,       // positions held by the caches and by seq
  pos: u32,         // position of the token being processed
  vocab_first: u32, // decode_embed: first wte row of the bound window
  vocab_count: u32, // decode_embed: wte rows in the window
  count: u32,       // kv_write: positions written
  scale: f32,       // attention_decode: 1/sqrt(HS) as attention.ts rounds it (WGSL's sqrt and / need not round so)
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
  let scale = params.scale;
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

// ---- GPU variant ----

// Lanes per (b, h): GPT-2's HS = 64 gives att.v a lane per channel, and the
// scores 64 positions at a time.
const LANES: u32 = 64u;
// The softmax statistics are kept by a team of TEAM lanes with the arithmetic
// of attention.wgsl's attention_softmax_rows (same TEAM, same online update,
// same tree), so that its max and sum, and so every probability, come out
// bit for bit as in the training pass on the same scores. Keep in step.
const TEAM: u32 = 32u;
const NO_MAX: f32 = -3.4e38; // as attention.wgsl: loses every comparison, no inf - inf

var<workgroup> team_ms: array<vec2f, TEAM>; // per team lane: (running max, sum of exp(x - max))
var<workgroup> probs: array<f32, LANES>;    // a chunk of LANES positions' probabilities for att.v

// attention.wgsl's combine_ms.
fn combine_ms(a: vec2f, b: vec2f) -> vec2f {
  let m = max(a.x, b.x);
  return vec2f(m, a.y * exp(a.x - m) + b.y * exp(b.x - m));
}

// attention.wgsl's team_reduce_ms for the one team: the combined (max, sum)
// in every lane. Lanes past the team pass (NO_MAX, 0), which is not stored.
// Called in uniform control flow only (it holds barriers).
fn team_reduce_ms(lane: u32, v: vec2f) -> vec2f {
  if (lane < TEAM) {
    team_ms[lane] = v;
  }
  workgroupBarrier();
  for (var stride = TEAM / 2u; stride > 0u; stride >>= 1u) {
    if (lane < stride) {
      team_ms[lane] = combine_ms(team_ms[lane], team_ms[lane + stride]);
    }
    workgroupBarrier();
  }
  let total = team_ms[0];
  // Before the next (b, h) overwrites it.
  workgroupBarrier();
  return total;
}

// A workgroup per (b, h), striding past the dispatch limit (the loop bound is
// the workgroup's, so the barriers stay in uniform control flow).
@compute @workgroup_size(LANES)
fn attention_decode_heads(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let C = params.C;
  let NH = params.NH;
  let HS = C / NH;
  let t = params.pos;
  let lane = lid.x;
  for (var idx = wg.x; idx < params.B * NH; idx += groups.x) {
    let b = idx / NH;
    let h = idx % NH;
    let q = b * 3u * C + h * HS;
    let row = idx * params.max_t; // att[b,h,:]
    let cache = b * params.max_t * C + h * HS;

    // Scores: a lane a position, each a whole dot product in channel order as
    // in attention_decode (and as the training gemm sums it). Neighbouring
    // lanes read rows C apart, so a warp's load is not one run of memory; each
    // lane walks its own contiguous row, so a 32-byte sector, once fetched,
    // serves its next 8 channels from cache (64 rows of HS floats: 16 KiB).
    // Staging k through workgroup memory would coalesce the loads: left
    // until a measurement says the scores bound the step.
    for (var t2 = lane; t2 <= t; t2 += LANES) {
      var s = 0.0;
      for (var i = 0u; i < HS; i++) {
        s += qkv_d[q + i] * kcache_d[cache + t2 * C + i];
      }
      att[row + t2] = s * params.scale;
    }
    // The team reads scores other lanes wrote.
    storageBarrier();

    // attention_softmax_rows' pass over the row: team lane l takes positions
    // l, l+TEAM, ... in order; one exp an entry.
    var ms = vec2f(NO_MAX, 0.0);
    if (lane < TEAM) {
      for (var t2 = lane; t2 <= t; t2 += TEAM) {
        let x = att[row + t2];
        if (x > ms.x) {
          ms = vec2f(x, ms.y * exp(ms.x - x) + 1.0);
        } else {
          ms.y += exp(x - ms.x);
        }
      }
    }
    // Those reads before the probabilities below overwrite the scores.
    storageBarrier();
    let total = team_reduce_ms(lane, ms);
    let inv = 1.0 / total.y;
    for (var t2 = lane; t2 <= t; t2 += LANES) {
      att[row + t2] = exp(att[row + t2] - total.x) * inv;
    }

    // att.v: a lane a channel (neighbouring lanes, neighbouring addresses of
    // a cached row), summing positions in order. The probabilities go through
    // workgroup memory a chunk of LANES at a time; lane j stages position
    // c0 + j, which it wrote itself above. Passes over channels and chunks are
    // the workgroup's, so every lane meets every barrier.
    for (var i0 = 0u; i0 < HS; i0 += LANES) {
      let i = i0 + lane;
      var acc = 0.0;
      for (var c0 = 0u; c0 <= t; c0 += LANES) {
        let n = min(LANES, t + 1u - c0);
        if (lane < n) {
          probs[lane] = att[row + c0 + lane];
        }
        workgroupBarrier();
        if (i < HS) {
          for (var j = 0u; j < n; j++) {
            acc += probs[j] * vcache_d[cache + (c0 + j) * C + i];
          }
        }
        // Before the next chunk overwrites probs.
        workgroupBarrier();
      }
      if (i < HS) {
        out[b * C + h * HS + i] = acc;
      }
    }
  }
}
