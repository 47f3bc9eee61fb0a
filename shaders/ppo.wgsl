// The per-token work of PPO (TRL's PPOTrainer, InstructGPT):
//   token_logprobs    log pi(token | prefix) at a temperature, and the entropy
//                     of the distribution, per position (rollouts, reference)
//   ppo_policy_loss   the clipped surrogate  max(-A r, -A clip(r, 1-eps, 1+eps)),
//                     r = exp(logp - logp_old), and its gradient written over
//                     the logits in place; per-token clip flags and approx-KL
//   ppo_rewards       per sequence: the KL penalty (k1: logp - logp_ref, or
//                     k3: (q - 1) - log q with q = p_ref / p) on every response
//                     token, the score on the last
//   ppo_gae           per sequence: GAE(gamma, lambda) advantages and returns
//   whiten, dot_sum    advantage whitening; fixed-order sums for metrics
//   value_forward / value_loss / value_backward
//                     a scalar value head on every position, the clipped value
//                     loss 0.5 max((v - R)^2, (v_clip - R)^2), its gradient
// Positions are rows of (B,T): position t holds the prediction of token t+1.
// `weights` is 1/#counted for response positions, 0 elsewhere, so sums of
// weighted values are means. `row_offset` places a chunk of logits rows in
// the batch. Activation gradients assign; dvalue_w accumulates.

struct Params {
  R: u32,          // rows in this dispatch (logits chunk, or B*T)
  V: u32,
  row_offset: u32, // index in the batch of this chunk's first row
  T: u32,
  B: u32,
  kl_k3: u32,      // ppo_advantages: 1 = k3 estimator, 0 = k1
  C: u32,
  n: u32,          // whiten: counted positions
  out_index: u32,  // dot_sum: where the sum goes
  shift_mean: u32, // whiten: 1 subtracts the mean (advantages), 0 keeps it (rewards, as TRL)
  inv_temp: f32,
  clip: f32,       // policy ratio clip, or value clip
  gamma: f32,
  lam: f32,
  beta: f32,       // KL coefficient
}

@group(0) @binding(0) var<uniform> params: Params;

// token_logprobs
@group(0) @binding(1) var<storage, read_write> logprob: array<f32>; // (B*T)
@group(0) @binding(2) var<storage, read_write> entropy: array<f32>; // (B*T)
@group(0) @binding(3) var<storage, read> logits: array<f32>;        // (R,V)
@group(0) @binding(4) var<storage, read> targets: array<i32>;       // (B*T) the token each position predicts

// ppo_policy_loss
@group(0) @binding(1) var<storage, read_write> dlogits: array<f32>;   // (R,V) logits on entry
@group(0) @binding(2) var<storage, read_write> token_loss: array<f32>; // (B*T) weighted surrogate
@group(0) @binding(3) var<storage, read_write> token_stats: array<f32>; // (3,B*T) weighted clip flag, approx-KL, ratio
@group(0) @binding(4) var<storage, read> targets_p: array<i32>;        // (B*T)
@group(0) @binding(5) var<storage, read> old_logprob: array<f32>;      // (B*T)
@group(0) @binding(6) var<storage, read> advantages: array<f32>;       // (B*T)
@group(0) @binding(7) var<storage, read> weights: array<f32>;          // (B*T)

// ppo_rewards (one thread per sequence)
@group(0) @binding(1) var<storage, read_write> rewards: array<f32>;    // (B*T)
@group(0) @binding(2) var<storage, read_write> kl: array<f32>;         // (B*T) per-token KL estimate
@group(0) @binding(3) var<storage, read> logp_a: array<f32>;           // (B*T) policy at rollout
@group(0) @binding(4) var<storage, read> ref_logp: array<f32>;         // (B*T)
@group(0) @binding(5) var<storage, read> scores: array<f32>;           // (B)
@group(0) @binding(6) var<storage, read> span: array<u32>;             // (2,B) first and last counted position

// ppo_gae (one thread per sequence)
@group(0) @binding(1) var<storage, read_write> adv: array<f32>;        // (B*T)
@group(0) @binding(2) var<storage, read_write> returns: array<f32>;    // (B*T)
@group(0) @binding(3) var<storage, read> rewards_g: array<f32>;        // (B*T)
@group(0) @binding(4) var<storage, read> values_a: array<f32>;         // (B*T)
@group(0) @binding(5) var<storage, read> span_g: array<u32>;           // (2,B)

// value_forward
@group(0) @binding(1) var<storage, read_write> values: array<f32>;     // (B*T)
@group(0) @binding(2) var<storage, read> hidden: array<f32>;           // (R,C) rows of this micro-batch
@group(0) @binding(3) var<storage, read> value_w: array<f32>;          // (C)

// value_loss
@group(0) @binding(1) var<storage, read_write> dvalues: array<f32>;    // (B*T)
@group(0) @binding(2) var<storage, read_write> vstats: array<f32>;     // (2,B*T) weighted loss, weighted clip flag
@group(0) @binding(3) var<storage, read> values_l: array<f32>;         // (B*T)
@group(0) @binding(4) var<storage, read> old_values: array<f32>;       // (B*T)
@group(0) @binding(5) var<storage, read> returns_l: array<f32>;        // (B*T)
@group(0) @binding(6) var<storage, read> weights_l: array<f32>;        // (B*T)

// value_backward: dhidden (R,C) = dv w; dvalue_w += sum dv hidden
@group(0) @binding(1) var<storage, read_write> dhidden: array<f32>;    // (R,C)
@group(0) @binding(2) var<storage, read_write> dvalue_w: array<f32>;   // (C)
@group(0) @binding(3) var<storage, read> dvalues_b: array<f32>;        // (B*T)
@group(0) @binding(4) var<storage, read> hidden_b: array<f32>;         // (R,C)
@group(0) @binding(5) var<storage, read> value_w_b: array<f32>;        // (C)

// whiten (one workgroup): counted entries to unit variance, and zero mean with shift_mean
@group(0) @binding(1) var<storage, read_write> adv_w: array<f32>;      // (B*T)
@group(0) @binding(2) var<storage, read> weights_w: array<f32>;        // (B*T)

// dot_sum (one workgroup): total[out_index] = sum_i x[row_offset + i] y[i], for masked means of per-token values
@group(0) @binding(1) var<storage, read_write> total: array<f32>;      // (any)
@group(0) @binding(2) var<storage, read> x: array<f32>;                // (row_offset + R)
@group(0) @binding(3) var<storage, read> y: array<f32>;                // (R)

const WG: u32 = 64u;

var<workgroup> red: array<f32, WG>;

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

@compute @workgroup_size(WG)
fn token_logprobs(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let V = params.V;
  let lane = lid.x;
  for (var r = wid.x; r < params.R; r += groups.x) {
    let base = r * V;
    var m = -3.4e38;
    for (var v = lane; v < V; v += WG) {
      m = max(m, logits[base + v] * params.inv_temp);
    }
    m = reduce_max(lane, m);
    var s = 0.0;
    var sz = 0.0;
    for (var v = lane; v < V; v += WG) {
      let z = logits[base + v] * params.inv_temp - m;
      let e = exp(z);
      s += e;
      sz += e * z;
    }
    s = reduce_sum(lane, s);
    sz = reduce_sum(lane, sz);
    if (lane == 0u) {
      let row = params.row_offset + r;
      let tgt = u32(clamp(targets[row], 0, i32(V) - 1));
      let log_s = log(s);
      logprob[row] = logits[base + tgt] * params.inv_temp - m - log_s;
      // H = -sum p log p = log s - sum(e z)/s, with z = logit - max
      entropy[row] = log_s - sz / s;
    }
  }
}

@compute @workgroup_size(WG)
fn ppo_policy_loss(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let V = params.V;
  let lane = lid.x;
  for (var r = wid.x; r < params.R; r += groups.x) {
    let base = r * V;
    let row = params.row_offset + r;
    let w = weights[row];
    var m = -3.4e38;
    for (var v = lane; v < V; v += WG) {
      m = max(m, dlogits[base + v] * params.inv_temp);
    }
    m = reduce_max(lane, m);
    var s = 0.0;
    for (var v = lane; v < V; v += WG) {
      s += exp(dlogits[base + v] * params.inv_temp - m);
    }
    s = reduce_sum(lane, s);
    let tgt = u32(clamp(targets_p[row], 0, i32(V) - 1));
    let logp = dlogits[base + tgt] * params.inv_temp - m - log(s);
    // Every lane has read the target logit before any lane overwrites the row.
    workgroupBarrier();
    let a = advantages[row];
    let ratio = exp(logp - old_logprob[row]);
    let clipped_ratio = clamp(ratio, 1.0 - params.clip, 1.0 + params.clip);
    let unclipped_loss = -a * ratio;
    let clipped_loss = -a * clipped_ratio;
    // The gradient flows only where the unclipped term is the larger (active) one.
    let unclipped_wins = unclipped_loss >= clipped_loss;
    let dlogp = select(0.0, -a * ratio * w, unclipped_wins && w != 0.0);
    let inv = 1.0 / s;
    for (var v = lane; v < V; v += WG) {
      let p = exp(dlogits[base + v] * params.inv_temp - m) * inv;
      // d logp / d logit_v = (onehot - p) / temperature
      dlogits[base + v] = dlogp * (select(0.0, 1.0, v == tgt) - p) * params.inv_temp;
    }
    if (lane == 0u) {
      token_loss[row] = w * max(unclipped_loss, clipped_loss);
      token_stats[row] = w * select(0.0, 1.0, clipped_loss > unclipped_loss); // TRL's clipfrac
      let d = logp - old_logprob[row];
      token_stats[params.B * params.T + row] = w * 0.5 * d * d;
      token_stats[2u * params.B * params.T + row] = w * ratio;
    }
    workgroupBarrier();
  }
}

@compute @workgroup_size(WG)
fn ppo_rewards(@builtin(global_invocation_id) gid: vec3u) {
  let b = gid.x;
  if (b >= params.B) {
    return;
  }
  let T = params.T;
  let first = span[b];
  let last = span[params.B + b];
  for (var t = 0u; t < T; t++) {
    let i = b * T + t;
    var k = 0.0;
    var reward = 0.0;
    if (t >= first && t <= last) {
      let log_ratio = logp_a[i] - ref_logp[i];
      k = log_ratio;
      if (params.kl_k3 == 1u) {
        k = (exp(-log_ratio) - 1.0) + log_ratio;
      }
      reward = -params.beta * k + select(0.0, scores[b], t == last);
    }
    kl[i] = k;
    rewards[i] = reward;
  }
}

@compute @workgroup_size(WG)
fn ppo_gae(@builtin(global_invocation_id) gid: vec3u) {
  let b = gid.x;
  if (b >= params.B) {
    return;
  }
  let T = params.T;
  let first = span_g[b];
  let last = span_g[params.B + b];
  for (var t = 0u; t < T; t++) {
    adv[b * T + t] = 0.0;
    returns[b * T + t] = 0.0;
  }
  var next_value = 0.0;
  var next_adv = 0.0;
  // Backwards over the response: GAE needs the future first.
  for (var t = last + 1u; t > first; t--) {
    let i = b * T + t - 1u;
    let delta = rewards_g[i] + params.gamma * next_value - values_a[i];
    let a = delta + params.gamma * params.lam * next_adv;
    adv[i] = a;
    returns[i] = a + values_a[i];
    next_value = values_a[i];
    next_adv = a;
  }
}

@compute @workgroup_size(WG)
fn value_forward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let C = params.C;
  for (var r = gid.x; r < params.R; r += groups.x * WG) {
    var v = 0.0;
    for (var c = 0u; c < C; c++) {
      v += hidden[r * C + c] * value_w[c];
    }
    values[params.row_offset + r] = v;
  }
}

@compute @workgroup_size(WG)
fn value_loss(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  for (var i = gid.x; i < params.R; i += groups.x * WG) {
    let w = weights_l[i];
    let v = values_l[i];
    let old = old_values[i];
    let ret = returns_l[i];
    let v_clip = old + clamp(v - old, -params.clip, params.clip);
    let l1 = (v - ret) * (v - ret);
    let l2 = (v_clip - ret) * (v_clip - ret);
    // d/dv of 0.5 max(l1, l2): through v where l1 wins, through v_clip (inside the clip range) where l2 does.
    var g = 0.0;
    if (l1 >= l2) {
      g = v - ret;
    } else if (abs(v - old) < params.clip) {
      g = v_clip - ret;
    }
    dvalues[i] = w * g;
    vstats[i] = w * 0.5 * max(l1, l2);
    vstats[params.R + i] = w * select(0.0, 1.0, l2 > l1);
  }
}

@compute @workgroup_size(WG)
fn value_backward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let C = params.C;
  for (var i = gid.x; i < params.R * C; i += groups.x * WG) {
    let r = i / C;
    dhidden[i] = dvalues_b[params.row_offset + r] * value_w_b[i % C];
  }
  for (var c = gid.x; c < C; c += groups.x * WG) {
    var g = 0.0;
    for (var r = 0u; r < params.R; r++) {
      g += dvalues_b[params.row_offset + r] * hidden_b[r * C + c];
    }
    dvalue_w[c] += g;
  }
}

@compute @workgroup_size(WG)
fn whiten(@builtin(local_invocation_id) lid: vec3u) {
  let lane = lid.x;
  // The weights sum to 1 over the n counted positions, so weighted sums are means.
  var m = 0.0;
  for (var i = lane; i < params.R; i += WG) {
    m += weights_w[i] * adv_w[i];
  }
  m = reduce_sum(lane, m);
  var v = 0.0;
  for (var i = lane; i < params.R; i += WG) {
    let d = adv_w[i] - m;
    v += weights_w[i] * d * d;
  }
  // Unbiased, as TRL's masked_var.
  v = reduce_sum(lane, v) * f32(params.n) / max(f32(params.n) - 1.0, 1.0);
  let scale = inverseSqrt(v + 1e-8);
  let shift = select(0.0, m, params.shift_mean == 1u);
  for (var i = lane; i < params.R; i += WG) {
    adv_w[i] = select(0.0, (adv_w[i] - m) * scale + m - shift, weights_w[i] != 0.0);
  }
}

@compute @workgroup_size(WG)
fn dot_sum(@builtin(local_invocation_id) lid: vec3u) {
  var s = 0.0;
  for (var i = lid.x; i < params.R; i += WG) {
    s += x[params.row_offset + i] * y[i];
  }
  s = reduce_sum(lid.x, s);
  if (lid.x == 0u) {
    total[params.out_index] = s;
  }
}
