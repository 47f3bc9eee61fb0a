// AdamW with torch.optim.AdamW's semantics:
//   g = grad * clip_scale
//   m = beta1 m + (1 - beta1) g;  v = beta2 v + (1 - beta2) g^2
//   p -= lr * weight_decay * p                      (decoupled decay)
//   p -= lr * (m / bc1) / (sqrt(v / bc2) + eps)     bc = 1 - beta^step
// The gradient's clip scale comes from gradnorm_finalize, on the GPU, so the
// step needs no read-back. Step-varying scalars (lr, bias corrections) live in
// one small uniform buffer rewritten before each step; the per-window ones
// (size, whether to decay) in a cached uniform. A window is of one tensor or
// of a span of a parameter arena holding many that share the decay setting.

struct Params {
  n: u32,         // elements in this window of the tensor or arena span
  decay: u32,     // 1: apply weight decay (matrices, embeddings), 0: biases and LayerNorm
}

struct Hyper {
  lr: f32,
  beta1: f32,
  beta2: f32,
  eps: f32,
  weight_decay: f32,
  bc1: f32,       // 1 - beta1^step
  bc2: f32,       // 1 - beta2^step
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> p: array<f32>; // (n) parameters
@group(0) @binding(2) var<storage, read_write> m: array<f32>; // (n) first moment
@group(0) @binding(3) var<storage, read_write> v: array<f32>; // (n) second moment
@group(0) @binding(4) var<storage, read> grad: array<f32>;    // (n)
@group(0) @binding(5) var<uniform> hyper: Hyper;
@group(0) @binding(6) var<storage, read> norm: array<f32>;    // (2) [global norm, clip scale]

const WG: u32 = 256u;

// One step of four elements: new parameters, first and second moments. The
// scalar entry point passes splats and keeps the first lane.
struct Updated {
  p: vec4f,
  m: vec4f,
  v: vec4f,
}

fn adamw_step(p: vec4f, m: vec4f, v: vec4f, grad: vec4f, scale: f32, wd: f32) -> Updated {
  let g = grad * scale;
  let mi = hyper.beta1 * m + (1.0 - hyper.beta1) * g;
  let vi = hyper.beta2 * v + (1.0 - hyper.beta2) * g * g;
  var pi = p * (1.0 - hyper.lr * wd);
  pi -= hyper.lr * (mi / hyper.bc1) / (sqrt(vi / hyper.bc2) + hyper.eps);
  return Updated(pi, mi, vi);
}

@compute @workgroup_size(WG)
fn adamw_update(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let scale = norm[1];
  let wd = select(0.0, hyper.weight_decay, params.decay == 1u);
  for (var i = gid.x; i < params.n; i += groups.x * WG) {
    let u = adamw_step(vec4f(p[i]), vec4f(m[i]), vec4f(v[i]), vec4f(grad[i]), scale, wd);
    m[i] = u.m.x;
    v[i] = u.v.x;
    p[i] = u.p.x;
  }
}

// adamw_update four elements at a time (params.n counts vec4s), for tensor
// windows of a multiple of 4 elements: on lavapipe, which loads and stores a
// storage buffer one lane at a time, a vec4 shares that loop's overhead
// between four elements.
@group(0) @binding(1) var<storage, read_write> p4: array<vec4f>; // (n) parameters, 4 each
@group(0) @binding(2) var<storage, read_write> m4: array<vec4f>; // (n) first moment
@group(0) @binding(3) var<storage, read_write> v4: array<vec4f>; // (n) second moment
@group(0) @binding(4) var<storage, read> grad4: array<vec4f>;    // (n)

@compute @workgroup_size(WG)
fn adamw_update_vec4(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let scale = norm[1];
  let wd = select(0.0, hyper.weight_decay, params.decay == 1u);
  for (var i = gid.x; i < params.n; i += groups.x * WG) {
    let u = adamw_step(p4[i], m4[i], v4[i], grad4[i], scale, wd);
    m4[i] = u.m;
    v4[i] = u.v;
    p4[i] = u.p;
  }
}
