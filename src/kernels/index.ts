/** Typed launchers of every WGSL kernel, one module per shader file. */
export * from './adamw.ts';
export * from './attention.ts';
export * from './crossentropy.ts';
export * from './encoder.ts';
export * from './gelu.ts';
export * from './gradnorm.ts';
export * from './layernorm.ts';
export * from './matmul.ts';
export * from './residual.ts';
