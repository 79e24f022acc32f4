export * from './errors.ts';
export * from './result.ts';
export * from './image-input.ts';
export * from './api.ts';
export * from './image-header.ts';
export * from './webhook-signature.ts';
export * from './calibration.ts';
export * from './recogniser.ts';
