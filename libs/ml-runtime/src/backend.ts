// Chooses the TF.js backend: the native TensorFlow binding where it is installed (the GPU image), else
// wasm with floe's training kernel pack, else the plain cpu backend. The choice is logged once.
import * as tf from '@tensorflow/tfjs-core';
// The union package registers the gradients and the chained ops (x.square()) that tfjs-core alone lacks.
import '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { native, loadError as nativeLoadError } from '@floe/native';
import { registerWasmTrainingKernels } from './wasm-kernels.js';
import { registerNativeKernels, useNativeKernels } from './native-kernels.js';

import { BACKEND_CHOICES, type BackendChoice } from './choices.js';

export interface BackendInfo {
  /** floe's name of the backend in use: tensorflow, native (wasm + native kernels), wasm or cpu. */
  name: string;
  /** Why it was chosen. */
  reason: string;
}

let current: BackendInfo | undefined;

async function tryTensorflow(): Promise<string | undefined> {
  for (const pkg of ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node']) {
    try {
      await import(pkg);
      return pkg;
    } catch {
      // not installed here; the GPU image has it
    }
  }
  return undefined;
}

export interface BackendOptions {
  /** Threads of the native kernels (FLOE_THREADS); unset: all cores. */
  threads?: number;
  log?: (msg: string) => void;
}

/**
 * Initialises TF.js once per process (and once per worker thread). The choice comes from the configuration
 * (FLOE_TF_BACKEND, parsed at start), never from the environment here. Forcing a backend that cannot load
 * is an error that says what is missing.
 */
export async function initBackend(wanted: BackendChoice = 'auto', opts: BackendOptions = {}): Promise<BackendInfo> {
  const log = opts.log ?? (() => {});
  if (!BACKEND_CHOICES.includes(wanted))
    throw new Error(`FLOE_TF_BACKEND=${wanted}: expected one of ${BACKEND_CHOICES.join(', ')}`);
  if (current && (wanted === 'auto' || wanted === current.name)) return current;

  // PROD silences tfjs's console banners and debug checks; floe logs its own choice below.
  tf.env().set('PROD', true);
  let info: BackendInfo | undefined;
  if (wanted === 'tensorflow' || wanted === 'auto') {
    const pkg = await tryTensorflow();
    if (pkg && (await tf.setBackend('tensorflow'))) info = { name: 'tensorflow', reason: `${pkg} is installed` };
    else if (wanted === 'tensorflow') {
      throw new Error(
        'FLOE_TF_BACKEND=tensorflow, but neither @tensorflow/tfjs-node-gpu nor @tensorflow/tfjs-node is installed (they belong in the GPU image)',
      );
    }
  }
  if (wanted === 'native' && !native) {
    throw new Error(`FLOE_TF_BACKEND=native, but the native kernels are not available: ${nativeLoadError}`);
  }
  if (!info && (wanted === 'native' || wanted === 'wasm' || wanted === 'auto')) {
    try {
      registerWasmTrainingKernels();
      if (await tf.setBackend('wasm'))
        info = {
          name: 'wasm',
          reason: wanted === 'wasm' ? 'FLOE_TF_BACKEND=wasm' : 'no native TensorFlow binding; wasm with floe kernels',
        };
    } catch (err) {
      if (wanted !== 'auto')
        throw new Error(`FLOE_TF_BACKEND=${wanted}, but the wasm backend did not load: ${(err as Error).message}`);
    }
    if (info && wanted === 'wasm') useNativeKernels(false);
    if (info && wanted !== 'wasm') {
      if (native) {
        await tf.ready();
        registerNativeKernels();
        if (opts.threads) native.setThreads(opts.threads);
        info = { name: 'native', reason: `floe native kernels (${native.isa()}, ${native.threads()} threads) on wasm` };
      } else {
        // The one line that says why a machine trains slower than it could.
        log(`native kernels unavailable (${nativeLoadError}); using wasm`);
      }
    }
  }
  if (!info) {
    await tf.setBackend('cpu');
    info = { name: 'cpu', reason: wanted === 'cpu' ? 'FLOE_TF_BACKEND=cpu' : 'wasm did not load; plain cpu backend' };
  }
  await tf.ready();
  current = info;
  log(`TF.js backend: ${info.name} (${info.reason})`);
  return info;
}
