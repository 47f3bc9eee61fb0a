// The scalar reward head and the preference (Bradley–Terry) loss.
// A sequence's reward is read at its last real token (its EOS), whatever the
// padding after it: r[b] = finalHidden[b, last[b], :] . score.
// Comparisons come as pairs (chosen, rejected) of sequences in the batch, with
// a margin and a weight (1/P for real pairs, 0 for padding):
//   loss = sum_p w_p softplus(-(r_c - r_r - m_p)) + center * sum_b u_b r_b^2
// (u_b: 1/#counted sequences, 0 for padding rows; the second term is the
// optional reward centering). A ranking of K responses arrives as its C(K,2)
// pairs over K sequences, so each response is run once per step.
// Activation gradients assign (dhidden =), parameter gradients accumulate
// (dscore +=). No atomics: each sequence's dr sums its own pairs.

struct Params {
  B: u32,      // sequences in this micro-batch
  T: u32,
  C: u32,
  first: u32,  // index of this micro-batch's first sequence in the batch
  P: u32,      // pair slots
  total: u32,  // sequences in the whole batch
  center: f32, // reward-centering coefficient
}

@group(0) @binding(0) var<uniform> params: Params;

// reward_forward
@group(0) @binding(1) var<storage, read_write> rewards: array<f32>; // (total)
@group(0) @binding(2) var<storage, read> hidden: array<f32>;        // (B,T,C)
@group(0) @binding(3) var<storage, read> last: array<u32>;          // (total) position of each sequence's EOS
@group(0) @binding(4) var<storage, read> score: array<f32>;         // (C)

// preference_loss (one workgroup)
@group(0) @binding(1) var<storage, read_write> dr: array<f32>;         // (total) dloss/dreward
@group(0) @binding(2) var<storage, read_write> stats: array<f32>;      // (5) loss, accuracy, margin, chosen, rejected
@group(0) @binding(3) var<storage, read> rewards_l: array<f32>;        // (total)
@group(0) @binding(4) var<storage, read> pairs: array<i32>;            // (P,2) chosen, rejected
@group(0) @binding(5) var<storage, read> margins: array<f32>;          // (P)
@group(0) @binding(6) var<storage, read> pair_weights: array<f32>;     // (P)
@group(0) @binding(7) var<storage, read> row_weights: array<f32>;      // (total)

// reward_backward: dhidden of this micro-batch
@group(0) @binding(1) var<storage, read_write> dhidden: array<f32>; // (B,T,C)
@group(0) @binding(2) var<storage, read> dr_b: array<f32>;          // (total)
@group(0) @binding(3) var<storage, read> last_b: array<u32>;        // (total)
@group(0) @binding(4) var<storage, read> score_b: array<f32>;       // (C)

// reward_backward_score
@group(0) @binding(1) var<storage, read_write> dscore: array<f32>;  // (C)
@group(0) @binding(2) var<storage, read> dr_s: array<f32>;          // (total)
@group(0) @binding(3) var<storage, read> hidden_s: array<f32>;      // (B,T,C)
@group(0) @binding(4) var<storage, read> last_s: array<u32>;        // (total)

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

fn sigmoid(x: f32) -> f32 {
  return 1.0 / (1.0 + exp(-x));
}

// -log sigmoid(d), without overflow for large |d|
fn softplus_neg(d: f32) -> f32 {
  return max(-d, 0.0) + log(1.0 + exp(-abs(d)));
}

@compute @workgroup_size(WG)
fn reward_forward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let C = params.C;
  for (var b = gid.x; b < params.B; b += groups.x * WG) {
    let row = (b * params.T + last[params.first + b]) * C;
    var r = 0.0;
    for (var c = 0u; c < C; c++) {
      r += hidden[row + c] * score[c];
    }
    rewards[params.first + b] = r;
  }
}

@compute @workgroup_size(WG)
fn preference_loss(@builtin(local_invocation_id) lid: vec3u) {
  let lane = lid.x;
  // Each sequence's gradient from the pairs it is in, and from centering.
  for (var b = lane; b < params.total; b += WG) {
    var g = 2.0 * params.center * row_weights[b] * rewards_l[b];
    for (var p = 0u; p < params.P; p++) {
      let w = pair_weights[p];
      if (w != 0.0) {
        let c = pairs[2u * p];
        let r = pairs[2u * p + 1u];
        let s = w * sigmoid(-(rewards_l[c] - rewards_l[r] - margins[p]));
        g += select(0.0, -s, u32(c) == b) + select(0.0, s, u32(r) == b);
      }
    }
    dr[b] = g;
  }
  var loss = 0.0;
  var correct = 0.0;
  var margin = 0.0;
  var chosen = 0.0;
  var rejected = 0.0;
  for (var p = lane; p < params.P; p += WG) {
    let w = pair_weights[p];
    if (w != 0.0) {
      let rc = rewards_l[pairs[2u * p]];
      let rr = rewards_l[pairs[2u * p + 1u]];
      loss += w * softplus_neg(rc - rr - margins[p]);
      correct += select(0.0, w, rc > rr);
      margin += w * (rc - rr);
      chosen += w * rc;
      rejected += w * rr;
    }
  }
  var center = 0.0;
  for (var b = lane; b < params.total; b += WG) {
    center += row_weights[b] * rewards_l[b] * rewards_l[b];
  }
  loss = reduce_sum(lane, loss) + params.center * reduce_sum(lane, center);
  correct = reduce_sum(lane, correct);
  margin = reduce_sum(lane, margin);
  chosen = reduce_sum(lane, chosen);
  rejected = reduce_sum(lane, rejected);
  if (lane == 0u) {
    stats[0] = loss;
    stats[1] = correct;
    stats[2] = margin;
    stats[3] = chosen;
    stats[4] = rejected;
  }
}

@compute @workgroup_size(WG)
fn reward_backward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let C = params.C;
  let T = params.T;
  for (var i = gid.x; i < params.B * T * C; i += groups.x * WG) {
    let b = i / (T * C);
    let t = (i / C) % T;
    let c = i % C;
    let s = params.first + b;
    dhidden[i] = select(0.0, dr_b[s] * score_b[c], t == last_b[s]);
  }
}

@compute @workgroup_size(WG)
fn reward_backward_score(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let C = params.C;
  for (var c = gid.x; c < C; c += groups.x * WG) {
    var g = 0.0;
    for (var b = 0u; b < params.B; b++) {
      let s = params.first + b;
      g += dr_s[s] * hidden_s[(b * params.T + last_s[s]) * C + c];
    }
    dscore[c] += g;
  }
}
