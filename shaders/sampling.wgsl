// Choosing the next token of every sequence from its logits, on the GPU, one
// workgroup per row: greedy (the argmax, lowest id on ties) or a seeded draw
// at a temperature, restricted to the top k tokens and then to the nucleus of
// top-p mass (Hugging Face's order: temperature, top-k, top-p).
//
// The CPU reference (src/reference/sampling.ts) repeats this arithmetic step
// for step, in the same f32 operations and the same summation order, so that
// given the same logits it makes the same choices; only exp() and log() may
// differ in their last bits between the two, which can move a choice only when
// a draw lands within rounding of a boundary.
//
// z = logit * inv_temperature. The host rounds 1/temperature to f32 (WGSL's
// division is not correctly rounded, its multiplication is), so z is
// bit-identical on both sides and so are the top-k set and every tie.
//
// Thresholds without a sort. Top-k and top-p each keep {v : z_v >= t} for a
// threshold t, found by bisection over the 2^32 order-preserving integer keys
// of f32 values (key(), below): 32 halvings pin t to an exact f32, where a
// bisection on float values would stop at a tolerance. Each trial threshold
// costs one coalesced pass of the workgroup over the row plus one reduction.
//   top-k: the largest t with count(z >= t) >= k, i.e. the k-th largest z.
//          Tokens tied with it are all kept (as Hugging Face's top-k does).
//   top-p: the largest t with mass(z >= t) >= p * mass(top-k set), where
//          mass sums exp(z - zmax): the smallest set of the most probable
//          tokens holding at least p of the (top-k renormalised) mass; it
//          always holds the most probable token. Ties at t are all kept.
// Counts are exact integers; masses are f32 sums in one fixed order, and such
// a sum never grows when terms are dropped, so the bisection's test is
// monotone in t.
//
// The draw: u in [0,1) from a counter-based hash of (seed, position, row), so
// runs are reproducible and need no RNG state. The kept weights are walked in
// id order: every lane owns a contiguous chunk of ids, lane 0 finds the chunk
// where the cumulative weight passes u * total, and that chunk's lane finds
// the token.
//
// It also writes the chosen token's log-probability under the
// temperature-scaled distribution over the candidate ids (PPO needs it; greedy rows report it at
// temperature 1), and keeps each sequence's bookkeeping: inside the prompt the
// prompt's own token stays, a sequence is done after EOS or max_new tokens,
// and done sequences are padded. Rows that choose nothing scan no logits.

struct Params {
  V: u32,
  max_t: u32,             // columns of seq and logprobs
  pos: u32,               // position of the logits' token: the choice goes to column pos + 1
  seed: u32,
  top_k: u32,             // 0: off
  eos: u32,               // 0xffffffff: no EOS, stop at max_new only
  pad: u32,               // written after a sequence is done
  max_new: u32,           // tokens each sequence may generate
  greedy: u32,            // 1: argmax (temperature 0)
  n_choose: u32,          // ids 0..n_choose-1 may be chosen (a padded vocabulary's extra ids are not); <= V
  inv_temperature: f32,   // f32(1/temperature); 1 when greedy
  top_p: f32,             // 1: off
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> seq: array<i32>;      // (B,max_t) prompts, then generated tokens
@group(0) @binding(2) var<storage, read_write> logprobs: array<f32>; // (B,max_t) of each generated token, 0 elsewhere
@group(0) @binding(3) var<storage, read_write> done: array<u32>;     // (B) 1 once finished
@group(0) @binding(4) var<storage, read> logits: array<f32>;         // (B,V)
@group(0) @binding(5) var<storage, read> prompt_len: array<u32>;     // (B)

const WG: u32 = 64u;
const KEY_BITS: u32 = 32u; // bisection steps that pin a threshold among 2^32 keys
const LOWEST: f32 = -3.4e38; // below any logit we expect; a lane with no ids reports it

var<workgroup> red_f: array<f32, WG>;
var<workgroup> red_u: array<u32, WG>;
var<workgroup> row_active: u32;

// Reductions over the lanes: each lane stores its partial, then every lane
// reads all partials in lane order, so every lane holds the same result with
// no broadcast step. Two barriers a reduction, not a tree's log2(WG)+1:
// lavapipe compiles each barrier as a suspension point, and the bisections
// below run 64 reductions. The reference repeats this order.
fn sum_f(lane: u32, x: f32) -> f32 {
  red_f[lane] = x;
  workgroupBarrier();
  var r = 0.0;
  for (var l = 0u; l < WG; l++) {
    r += red_f[l];
  }
  workgroupBarrier(); // red_f is free for the next reduction
  return r;
}

fn sum_u(lane: u32, x: u32) -> u32 {
  red_u[lane] = x;
  workgroupBarrier();
  var r = 0u;
  for (var l = 0u; l < WG; l++) {
    r += red_u[l];
  }
  workgroupBarrier();
  return r;
}

fn min_u(lane: u32, x: u32) -> u32 {
  red_u[lane] = x;
  workgroupBarrier();
  var r = 0xffffffffu;
  for (var l = 0u; l < WG; l++) {
    r = min(r, red_u[l]);
  }
  workgroupBarrier();
  return r;
}

// The largest value and, among equal values, the lowest index.
fn argmax(lane: u32, value: f32, index: u32) -> vec2u {
  red_f[lane] = value;
  red_u[lane] = index;
  workgroupBarrier();
  var best = red_f[0];
  var best_i = red_u[0];
  for (var l = 1u; l < WG; l++) {
    let v = red_f[l];
    let i = red_u[l];
    if (v > best || (v == best && i < best_i)) {
      best = v;
      best_i = i;
    }
  }
  workgroupBarrier();
  return vec2u(bitcast<u32>(best), best_i);
}

// Order-preserving map of f32 to u32 (a < b exactly when key(a) < key(b));
// -0 is taken as +0 so that equal values have equal keys.
fn key(z: f32) -> u32 {
  let bits = select(bitcast<u32>(z), 0u, z == 0.0);
  return select(bits | 0x80000000u, ~bits, (bits & 0x80000000u) != 0u);
}

// PCG hash (O'Neill), the counter-based RNG; the same in src/reference/sampling.ts.
fn pcg(v: u32) -> u32 {
  let state = v * 747796405u + 2891336453u;
  let word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
  return (word >> 22u) ^ word;
}

// Uniform in [0,1) with 24 random bits, exact in f32.
fn uniform01(seed: u32, pos: u32, row: u32) -> f32 {
  let h = pcg(pcg(pcg(seed) ^ pos) ^ row);
  return f32(h >> 8u) * (1.0 / 16777216.0);
}

@compute @workgroup_size(WG)
fn sample_tokens(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let b = wid.x;
  let lane = lid.x;
  let base = b * params.V;
  let col = params.pos + 1u;
  let plen = prompt_len[b];
  if (lane == 0u) {
    row_active = select(0u, 1u, col >= plen && done[b] == 0u);
  }
  // Read through workgroupUniformLoad so that the compiler knows every lane
  // sees the same value (done[] is read_write storage).
  let chooses = workgroupUniformLoad(&row_active) == 1u;
  // Rows that choose nothing see an empty vocabulary; every lane still takes
  // part in the reductions, whose barriers need the whole workgroup. Rows are
  // params.V apart; only their first n_choose ids are candidates.
  let V = select(0u, params.n_choose, chooses);
  let inv_t = params.inv_temperature;

  // zmax and its token (lowest id on ties: each lane scans ids upwards), the smallest key.
  var local_max = LOWEST;
  var local_best = 0xffffffffu;
  var local_kmin = 0xffffffffu;
  for (var v = lane; v < V; v += WG) {
    let z = logits[base + v] * inv_t;
    if (z > local_max || local_best == 0xffffffffu) {
      local_max = z;
      local_best = v;
    }
    local_kmin = min(local_kmin, key(z));
  }
  let top = argmax(lane, local_max, local_best);
  let zmax = bitcast<f32>(top.x);
  let best = top.y;
  var s = 0.0;
  for (var v = lane; v < V; v += WG) {
    s += exp(logits[base + v] * inv_t - zmax);
  }
  let total = sum_f(lane, s);

  var chosen = best;
  if (params.greedy == 0u) {
    let kmax_plus_1 = key(zmax) + 1u; // keeps nothing
    var threshold = min_u(lane, local_kmin); // keeps everything
    if (params.top_k > 0u && params.top_k < V) {
      // Invariant: count(key >= lo) >= k > count(key >= hi).
      var lo = threshold;
      var hi = kmax_plus_1;
      for (var it = 0u; it < KEY_BITS; it++) {
        let mid = lo + (hi - lo) / 2u;
        var count = 0u;
        for (var v = lane; v < V; v += WG) {
          count += select(0u, 1u, key(logits[base + v] * inv_t) >= mid);
        }
        if (sum_u(lane, count) >= params.top_k) {
          lo = mid;
        } else {
          hi = mid;
        }
      }
      threshold = lo;
    }
    if (params.top_p < 1.0) {
      var kept = 0.0;
      for (var v = lane; v < V; v += WG) {
        let z = logits[base + v] * inv_t;
        kept += select(0.0, exp(z - zmax), key(z) >= threshold);
      }
      let target_mass = params.top_p * sum_f(lane, kept);
      // Invariant: mass(key >= lo) >= target_mass > mass(key >= hi).
      var lo = threshold;
      var hi = kmax_plus_1;
      for (var it = 0u; it < KEY_BITS; it++) {
        let mid = lo + (hi - lo) / 2u;
        var mass = 0.0;
        for (var v = lane; v < V; v += WG) {
          let z = logits[base + v] * inv_t;
          mass += select(0.0, exp(z - zmax), key(z) >= mid);
        }
        if (sum_f(lane, mass) >= target_mass) {
          lo = mid;
        } else {
          hi = mid;
        }
      }
      threshold = lo;
    }

    // The draw, over contiguous chunks of ids so that the walk goes in id order.
    let chunk = (V + WG - 1u) / WG;
    let first = min(lane * chunk, V);
    let last = min(first + chunk, V);
    var w = 0.0;
    for (var v = first; v < last; v++) {
      let z = logits[base + v] * inv_t;
      w += select(0.0, exp(z - zmax), key(z) >= threshold);
    }
    red_f[lane] = w;
    workgroupBarrier();
    if (lane == 0u) {
      var sum_w = 0.0;
      for (var l = 0u; l < WG; l++) {
        sum_w += red_f[l];
      }
      let goal = uniform01(params.seed, params.pos, b) * sum_w;
      // The chunk where the running sum passes goal; should rounding leave it
      // unreached, the last chunk with any weight.
      var acc = 0.0;
      var owner = 0u;
      var before = 0.0;
      for (var l = 0u; l < WG; l++) {
        if (red_f[l] > 0.0) {
          owner = l;
          before = acc;
          if (acc + red_f[l] > goal) {
            break;
          }
        }
        acc += red_f[l];
      }
      red_u[0] = owner;
      red_f[1] = goal - before;
    }
    workgroupBarrier();
    let owner = red_u[0];
    let remaining = red_f[1];
    if (lane == owner) {
      var acc = 0.0;
      var pick = first;
      for (var v = first; v < last; v++) {
        let z = logits[base + v] * inv_t;
        if (key(z) >= threshold) {
          pick = v; // the last candidate, should rounding leave `remaining` unreached
          acc += exp(z - zmax);
          if (acc > remaining) {
            break;
          }
        }
      }
      red_u[1] = pick;
    }
    workgroupBarrier();
    chosen = red_u[1];
  }

  if (lane == 0u) {
    let slot = b * params.max_t + col;
    if (col < plen) {
      logprobs[slot] = 0.0; // still inside the prompt: its token stays
    } else if (!chooses) {
      seq[slot] = i32(params.pad);
      logprobs[slot] = 0.0;
    } else {
      seq[slot] = i32(chosen);
      logprobs[slot] = logits[base + chosen] * inv_t - zmax - log(total);
      if (chosen == params.eos || col + 1u - plen >= params.max_new) {
        done[b] = 1u;
      }
    }
  }
}
