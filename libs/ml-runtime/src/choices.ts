// The TF.js backends a process can ask for (FLOE_TF_BACKEND). Kept apart from backend.ts so that reading
// the configuration does not load TF.js.

/** auto: the native TensorFlow binding where installed, else wasm with floe's native kernels, else cpu. */
export const BACKEND_CHOICES = ['auto', 'tensorflow', 'native', 'wasm', 'cpu'] as const;
export type BackendChoice = (typeof BACKEND_CHOICES)[number];
