export { initBackend, type BackendInfo, type BackendOptions } from './backend.js';
export { BACKEND_CHOICES, type BackendChoice } from './choices.js';
export { registerWasmTrainingKernels, useWasmKernelSet, WASM_PACK_KERNELS } from './wasm-kernels.js';
export { registerCpuFallbacks } from './stock-fallback.js';
export {
  registerNativeKernels,
  useNativeKernels,
  useFusedKernels,
  NATIVE_KERNELS,
  GELU_KERNEL,
  SELECTIVE_SCAN_KERNEL,
  CAUSAL_CONV1D_KERNEL,
  CAUSAL_SOFTMAX_KERNEL,
  NORM_KERNEL,
  ADAM_KERNEL,
  SUM_SQUARES_KERNEL,
  CROSS_ENTROPY_KERNEL,
} from './native-kernels.js';
