// Causal multi-head self-attention on the fused QKV activation.
// qkv holds, per position, [q (C) | k (C) | v (C)]; head h owns channels
// h*HS .. (h+1)*HS of each (the Hugging Face c_attn split).
//   att[b,h,t,t2] = softmax_{t2<=t}(q_t . k_t2 / sqrt(HS)), 0 for t2 > t
//   out[b,t,h*HS+i] = sum_t2 att[b,h,t,t2] v_t2[i]
// The forward pass saves att (probabilities) for the backward pass.
// Activation gradients assign (dqkv =). The backward pass needs no atomics: one
// kernel works along query rows (dq, and the pre-softmax gradient dpreatt kept
// in a scratch buffer), the next along key columns (dk, dv).

struct Params {
  B: u32,
  T: u32,
  C: u32,
  NH: u32,
}

@group(0) @binding(0) var<uniform> params: Params;

// attention_forward
@group(0) @binding(1) var<storage, read_write> out: array<f32>; // (B,T,C)
@group(0) @binding(2) var<storage, read_write> att: array<f32>; // (B,NH,T,T)
@group(0) @binding(3) var<storage, read> qkv: array<f32>;       // (B,T,3C)

// attention_backward_query
@group(0) @binding(1) var<storage, read_write> dqkv: array<f32>;    // (B,T,3C) writes the q part
@group(0) @binding(2) var<storage, read_write> dpreatt: array<f32>; // (B,NH,T,T) scratch
@group(0) @binding(3) var<storage, read> dout: array<f32>;          // (B,T,C)
@group(0) @binding(4) var<storage, read> qkv_b: array<f32>;         // (B,T,3C)
@group(0) @binding(5) var<storage, read> att_b: array<f32>;         // (B,NH,T,T)

// attention_backward_keyvalue
@group(0) @binding(1) var<storage, read_write> dqkv_kv: array<f32>; // (B,T,3C) writes the k and v parts
@group(0) @binding(2) var<storage, read> dpreatt_kv: array<f32>;    // (B,NH,T,T)
@group(0) @binding(3) var<storage, read> dout_kv: array<f32>;       // (B,T,C)
@group(0) @binding(4) var<storage, read> qkv_kv: array<f32>;        // (B,T,3C)
@group(0) @binding(5) var<storage, read> att_kv: array<f32>;        // (B,NH,T,T)

const WG: u32 = 64u;

// One thread per (b, h, t): its query row t, or its key column t.
fn decompose(idx: u32) -> vec3u {
  let T = params.T;
  let NH = params.NH;
  return vec3u(idx / (NH * T), (idx / T) % NH, idx % T);
}

@compute @workgroup_size(WG)
fn attention_forward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let T = params.T;
  let C = params.C;
  let HS = C / params.NH;
  let C3 = 3u * C;
  let scale = 1.0 / sqrt(f32(HS));
  for (var idx = gid.x; idx < params.B * params.NH * T; idx += groups.x * WG) {
    let bht = decompose(idx);
    let b = bht.x;
    let h = bht.y;
    let t = bht.z;
    let q = (b * T + t) * C3 + h * HS;
    let row = idx * T; // att[b,h,t,:]
    var maxv = -3.4e38;
    for (var t2 = 0u; t2 <= t; t2++) {
      let k = (b * T + t2) * C3 + C + h * HS;
      var s = 0.0;
      for (var i = 0u; i < HS; i++) {
        s += qkv[q + i] * qkv[k + i];
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
    for (var t2 = 0u; t2 < T; t2++) {
      att[row + t2] = select(0.0, att[row + t2] * inv, t2 <= t);
    }
    let o = (b * T + t) * C + h * HS;
    for (var i = 0u; i < HS; i++) {
      var acc = 0.0;
      for (var t2 = 0u; t2 <= t; t2++) {
        acc += att[row + t2] * qkv[(b * T + t2) * C3 + 2u * C + h * HS + i];
      }
      out[o + i] = acc;
    }
  }
}

@compute @workgroup_size(WG)
fn attention_backward_query(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let T = params.T;
  let C = params.C;
  let HS = C / params.NH;
  let C3 = 3u * C;
  let scale = 1.0 / sqrt(f32(HS));
  for (var idx = gid.x; idx < params.B * params.NH * T; idx += groups.x * WG) {
    let bht = decompose(idx);
    let b = bht.x;
    let h = bht.y;
    let t = bht.z;
    let row = idx * T;
    let o = (b * T + t) * C + h * HS;
    // datt[t2] = dout_t . v_t2; then the softmax backward needs sum_t2 att*datt.
    var dot_sum = 0.0;
    for (var t2 = 0u; t2 <= t; t2++) {
      let v = (b * T + t2) * C3 + 2u * C + h * HS;
      var d = 0.0;
      for (var i = 0u; i < HS; i++) {
        d += dout[o + i] * qkv_b[v + i];
      }
      dpreatt[row + t2] = d;
      dot_sum += att_b[row + t2] * d;
    }
    for (var t2 = 0u; t2 < T; t2++) {
      dpreatt[row + t2] = select(0.0, att_b[row + t2] * (dpreatt[row + t2] - dot_sum), t2 <= t);
    }
    let q = (b * T + t) * C3 + h * HS;
    for (var i = 0u; i < HS; i++) {
      var acc = 0.0;
      for (var t2 = 0u; t2 <= t; t2++) {
        acc += dpreatt[row + t2] * qkv_b[(b * T + t2) * C3 + C + h * HS + i];
      }
      dqkv[q + i] = acc * scale;
    }
  }
}

@compute @workgroup_size(WG)
fn attention_backward_keyvalue(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let T = params.T;
  let C = params.C;
  let HS = C / params.NH;
  let C3 = 3u * C;
  let scale = 1.0 / sqrt(f32(HS));
  for (var idx = gid.x; idx < params.B * params.NH * T; idx += groups.x * WG) {
    let bht = decompose(idx);
    let b = bht.x;
    let h = bht.y;
    let t2 = bht.z; // this thread's key/value position
    let head_rows = (b * params.NH + h) * T * T; // att[b,h,0,0]
    let k = (b * T + t2) * C3 + C + h * HS;
    for (var i = 0u; i < HS; i++) {
      var dk = 0.0;
      var dv = 0.0;
      for (var t = t2; t < T; t++) {
        let a = head_rows + t * T + t2;
        dk += dpreatt_kv[a] * qkv_kv[(b * T + t) * C3 + h * HS + i];
        dv += att_kv[a] * dout_kv[(b * T + t) * C + h * HS + i];
      }
      dqkv_kv[k + i] = dk * scale;
      dqkv_kv[k + C + i] = dv;
    }
  }
}
