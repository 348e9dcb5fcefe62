export { initBackend, BACKEND_CHOICES, type BackendChoice, type BackendInfo } from './backend.js';
export { registerWasmTrainingKernels, useWasmKernelSet, WASM_PACK_KERNELS } from './wasm-kernels.js';
export { registerCpuFallbacks } from './stock-fallback.js';
export { registerNativeKernels, useNativeKernels, NATIVE_KERNELS, GELU_KERNEL } from './native-kernels.js';
