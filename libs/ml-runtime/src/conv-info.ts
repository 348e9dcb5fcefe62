// Convolution geometry from a kernel's attributes, shared by the wasm pack and the native kernels.
import * as tf from '@tensorflow/tfjs-core';

export type ConvInfo = ReturnType<typeof tf.backend_util.computeConv2DInfo>;

/** NHWC geometry of a Conv2D (or, with `depthwise`, a depthwise conv) and its gradients. */
export function conv2dInfo(
  xShape: number[],
  filterShape: number[],
  attrs: Record<string, unknown>,
  depthwise = false,
): ConvInfo {
  const { strides, pad, dimRoundingMode, dilations, dataFormat } = attrs as {
    strides: number | [number, number];
    pad: 'valid' | 'same' | number;
    dimRoundingMode?: 'floor' | 'round' | 'ceil';
    dilations?: number | [number, number];
    dataFormat?: string;
  };
  if (dataFormat === 'NCHW') throw new Error('floe conv kernels support NHWC only');
  return tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    strides,
    dilations ?? 1,
    pad,
    dimRoundingMode,
    depthwise,
    'channelsLast',
  );
}
