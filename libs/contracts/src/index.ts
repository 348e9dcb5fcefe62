// The one entry point to floe's generated contracts. Everything under ./gen is written by
// `npm run proto:generate` from proto/ (the service list too); edit the .proto files, never the generated code.
import { fileURLToPath } from 'node:url';

export * as commonV1 from './common.js';
export * as googleRpc from './google-rpc.js';
export * from './gen/services.js';

/** The binary FileDescriptorSet of every contract (and its imports), served by server reflection. */
export const descriptorSetPath = fileURLToPath(new URL('./descriptor.binpb', import.meta.url));
