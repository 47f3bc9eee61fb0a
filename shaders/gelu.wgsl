// GELU, the tanh approximation GPT-2 uses:
//   gelu(x) = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
// Activation gradients assign (dinp =).

struct Params {
  n: u32, // elements
}

@group(0) @binding(0) var<uniform> params: Params;

// gelu_forward
@group(0) @binding(1) var<storage, read_write> out: array<f32>; // (N)
@group(0) @binding(2) var<storage, read> inp: array<f32>;       // (N)

// gelu_backward
@group(0) @binding(1) var<storage, read_write> dinp: array<f32>; // (N)
@group(0) @binding(2) var<storage, read> dout: array<f32>;       // (N)
@group(0) @binding(3) var<storage, read> inp_b: array<f32>;      // (N) the forward input

const WG: u32 = 256u;
const GELU_SCALE: f32 = 0.7978845608028654; // sqrt(2/pi)

// 0.5 (1 + tanh(u)) = sigmoid(2u). The sigmoid form keeps precision where
// tanh(u) is near -1 (1 + tanh cancels in f32) and cannot produce NaN: exp()
// overflowing to +inf gives exactly 0.
fn half_one_plus_tanh(u: f32) -> f32 {
  return 1.0 / (1.0 + exp(-2.0 * u));
}

@compute @workgroup_size(WG)
fn gelu_forward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  for (var i = gid.x; i < params.n; i += groups.x * WG) {
    let x = inp[i];
    out[i] = x * half_one_plus_tanh(GELU_SCALE * (x + 0.044715 * x * x * x));
  }
}

@compute @workgroup_size(WG)
fn gelu_backward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  for (var i = gid.x; i < params.n; i += groups.x * WG) {
    let x = inp_b[i];
    let u = GELU_SCALE * (x + 0.044715 * x * x * x);
    let s = half_one_plus_tanh(u);
    // d/du 0.5 (1 + tanh u) = 0.5 sech^2 u = 2 s (1 - s)
    let du = GELU_SCALE * (1.0 + 3.0 * 0.044715 * x * x);
    dinp[i] = dout[i] * (s + x * 2.0 * s * (1.0 - s) * du);
  }
}
