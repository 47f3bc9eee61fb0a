// Choosing the next token of every sequence from its logits, on the GPU:
// greedy (temperature 0: the argmax, lowest id on ties) or sampling at a
// temperature, optionally restricted to the top k tokens and then to the
// nucleus of top-p probability mass (Hugging Face's order), seeded by a
// counter-based hash of (seed, position, row) so that runs are reproducible
// and need no RNG state.
// Top-k and top-p need no sort of the vocabulary: each finds its logit
// threshold by bisection, counting (or summing the mass of) the logits above a
// trial threshold in one pass of the workgroup per step. Exact ties at a
// threshold are all kept.
// The draw walks the candidates in id order: every lane owns a contiguous
// chunk of the vocabulary, lane 0 finds the chunk where the cumulative weight
// crosses u·total, and that chunk's lane finds the token.
// It also records the chosen token's log-probability under the full
// temperature-scaled distribution (PPO needs it) and keeps the sequences'
// bookkeeping: prompt tokens are kept as they are, a sequence is done after
// EOS or max_new tokens, and done sequences are padded with EOS.

struct Params {
  V: u32,
  max_t: u32,       // columns of seq and logprobs
  pos: u32,         // the token produced goes to column pos + 1
  seed: u32,
  top_k: u32,       // 0: off
  eos: u32,
  max_new: u32,     // tokens each sequence may generate
  temperature: f32, // 0: greedy
  top_p: f32,       // 1: off
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> seq: array<i32>;        // (B,max_t) prompt, then generated tokens
@group(0) @binding(2) var<storage, read_write> logprobs: array<f32>;   // (B,max_t) of each generated token, 0 elsewhere
@group(0) @binding(3) var<storage, read_write> done: array<u32>;       // (B) 1 once finished
@group(0) @binding(4) var<storage, read> logits: array<f32>;           // (B,V)
@group(0) @binding(5) var<storage, read> prompt_len: array<u32>;       // (B)

const WG: u32 = 64u;
const BISECTION_STEPS: u32 = 40u;

var<workgroup> red: array<f32, WG>;
var<workgroup> red_i: array<u32, WG>;
var<workgroup> chosen_shared: u32;

fn reduce_sum(lane: u32, x: f32) -> f32 {
  red[lane] = x;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s /= 2u) {
    if (lane < s) {
      red[lane] += red[lane + s];
    }
    workgroupBarrier();
  }
  let r = red[0];
  workgroupBarrier();
  return r;
}

fn reduce_max(lane: u32, x: f32) -> f32 {
  red[lane] = x;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s /= 2u) {
    if (lane < s) {
      red[lane] = max(red[lane], red[lane + s]);
    }
    workgroupBarrier();
  }
  let r = red[0];
  workgroupBarrier();
  return r;
}

fn reduce_min(lane: u32, x: f32) -> f32 {
  return -reduce_max(lane, -x);
}

// The largest value and, among equal values, the lowest index.
fn reduce_argmax(lane: u32, value: f32, index: u32) -> u32 {
  red[lane] = value;
  red_i[lane] = index;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s /= 2u) {
    if (lane < s) {
      let v = red[lane + s];
      let i = red_i[lane + s];
      if (v > red[lane] || (v == red[lane] && i < red_i[lane])) {
        red[lane] = v;
        red_i[lane] = i;
      }
    }
    workgroupBarrier();
  }
  let r = red_i[0];
  workgroupBarrier();
  return r;
}

// PCG hash (O'Neill), the counter-based RNG; the same in src/reference/sampling.ts.
fn pcg(v: u32) -> u32 {
  let state = v * 747796405u + 2891336453u;
  let word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
  return (word >> 22u) ^ word;
}

fn uniform01(seed: u32, pos: u32, row: u32) -> f32 {
  let h = pcg(pcg(pcg(seed) ^ pos) ^ row);
  return f32(h >> 8u) * (1.0 / 16777216.0);
}

@compute @workgroup_size(WG)
fn sample_tokens(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let b = wid.x;
  let lane = lid.x;
  let V = params.V;
  let base = b * V;
  let chunk = (V + WG - 1u) / WG;
  let first = min(lane * chunk, V);
  let last = min(first + chunk, V);
  let greedy = params.temperature <= 0.0;
  let inv_temp = select(1.0 / params.temperature, 1.0, greedy);

  var local_max = -3.4e38;
  var local_min = 3.4e38;
  var best = first;
  for (var v = first; v < last; v++) {
    let z = logits[base + v] * inv_temp;
    if (z > local_max) {
      local_max = z;
      best = v;
    }
    local_min = min(local_min, z);
  }
  let zmax = reduce_max(lane, local_max);
  let zmin = reduce_min(lane, local_min);
  var s = 0.0;
  for (var v = first; v < last; v++) {
    s += exp(logits[base + v] * inv_temp - zmax);
  }
  let total = reduce_sum(lane, s);

  var chosen: u32;
  if (greedy) {
    chosen = reduce_argmax(lane, select(-3.4e38, local_max, first < last), best);
  } else {
    // Top-k: the largest threshold that keeps at least k logits.
    var threshold = zmin;
    if (params.top_k > 0u && params.top_k < V) {
      var lo = zmin;
      var hi = zmax;
      for (var it = 0u; it < BISECTION_STEPS; it++) {
        let mid = 0.5 * (lo + hi);
        var count = 0.0;
        for (var v = first; v < last; v++) {
          count += select(0.0, 1.0, logits[base + v] * inv_temp >= mid);
        }
        if (reduce_sum(lane, count) >= f32(params.top_k)) {
          lo = mid;
        } else {
          hi = mid;
        }
      }
      threshold = lo;
    }
    // Top-p: the largest threshold whose kept mass is at least p of what top-k kept.
    if (params.top_p < 1.0) {
      var kept = 0.0;
      for (var v = first; v < last; v++) {
        let z = logits[base + v] * inv_temp;
        kept += select(0.0, exp(z - zmax), z >= threshold);
      }
      let target_mass = params.top_p * reduce_sum(lane, kept);
      var lo = threshold;
      var hi = zmax;
      for (var it = 0u; it < BISECTION_STEPS; it++) {
        let mid = 0.5 * (lo + hi);
        var mass = 0.0;
        for (var v = first; v < last; v++) {
          let z = logits[base + v] * inv_temp;
          mass += select(0.0, exp(z - zmax), z >= mid);
        }
        if (reduce_sum(lane, mass) >= target_mass) {
          lo = mid;
        } else {
          hi = mid;
        }
      }
      threshold = lo;
    }
    var w = 0.0;
    for (var v = first; v < last; v++) {
      let z = logits[base + v] * inv_temp;
      w += select(0.0, exp(z - zmax), z >= threshold);
    }
    red[lane] = w;
    workgroupBarrier();
    if (lane == 0u) {
      // Walk the lanes' chunks in order to the one where u·total falls.
      var sum_w = 0.0;
      for (var l = 0u; l < WG; l++) {
        sum_w += red[l];
      }
      let goal = uniform01(params.seed, params.pos, b) * sum_w;
      var acc = 0.0;
      var owner = WG - 1u;
      var before = 0.0;
      for (var l = 0u; l < WG; l++) {
        if (red[l] > 0.0) {
          owner = l;
          before = acc;
          if (acc + red[l] > goal) {
            break;
          }
        }
        acc += red[l];
      }
      red_i[0] = owner;
      red[0] = goal - before;
    }
    workgroupBarrier();
    let owner = red_i[0];
    let remaining = red[0];
    if (lane == owner) {
      var acc = 0.0;
      var pick = first;
      for (var v = first; v < last; v++) {
        let z = logits[base + v] * inv_temp;
        if (z >= threshold) {
          pick = v; // the last candidate, should rounding leave the goal unreached
          acc += exp(z - zmax);
          if (acc > remaining) {
            break;
          }
        }
      }
      chosen_shared = pick;
    }
    workgroupBarrier();
    chosen = chosen_shared;
  }

  if (lane == 0u) {
    let col = params.pos + 1u;
    let slot = b * params.max_t + col;
    let plen = prompt_len[b];
    if (col < plen) {
      logprobs[slot] = 0.0; // still inside the prompt: its token stays
    } else if (done[b] == 1u) {
      seq[slot] = i32(params.eos);
      logprobs[slot] = 0.0;
    } else {
      seq[slot] = i32(chosen);
      logprobs[slot] = logits[base + chosen] * inv_temp - zmax - log(total);
      if (chosen == params.eos || col + 1u - plen >= params.max_new) {
        done[b] = 1u;
      }
    }
  }
}
