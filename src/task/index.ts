/** The built-in task: a small world, its datasets, and the gold labeler that stands in for human raters. */
export * from './world.ts';
export * from './labeler.ts';
export * from './datasets.ts';
