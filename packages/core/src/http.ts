/**
 * `@campus-card/core/http`: the pure, runtime-agnostic HTTP layer shared by the platform mock
 * server and the device clients — RFC 9421 HTTP Message Signatures (`ecdsa-p256-sha256`,
 * `ed25519`), RFC 9530 `Content-Digest`, signed platform pushes and RFC 9457 problem details.
 *
 * No Node built-ins, no `Buffer`, no global state, no hidden clock: time is always a parameter.
 *
 * @module
 */
export {
  type ContentDigestAlgorithm,
  type ContentDigestStatus,
  checkContentDigest,
  createContentDigest,
  type DigestFunction,
  type VerifyContentDigestOptions,
  verifyContentDigest,
} from './http/content-digest.js';
export {
  exportPublicJwk,
  importSigningKey,
  importVerifyKey,
  type Jwk,
  type SignatureAlgorithm,
  type SigningKey,
  signBytes,
  type VerifyKey,
  verifyBytes,
} from './http/keys.js';
export {
  getHeader,
  type HeaderInput,
  type HeaderValue,
  type HttpRequestLike,
  type HttpResponseLike,
  headersToRecord,
} from './http/message.js';
export {
  isProblem,
  PROBLEM_CONTENT_TYPE,
  type Problem,
  type ProblemFieldError,
} from './http/problem.js';
export {
  PUSH_COVERED_COMPONENTS,
  PUSH_ID_HEADER,
  type PushHeaders,
  type SignPushOptions,
  signPush,
  type VerifyPushOptions,
  type VerifyPushResult,
  type VerifyPushSuccess,
  verifyPush,
} from './http/push.js';
export {
  DEFAULT_COVERED_COMPONENTS,
  DEFAULT_SIGNATURE_LABEL,
  defaultCoveredComponents,
  type SignatureHeaders,
  type SignRequestOptions,
  signRequest,
} from './http/sign-request.js';
export { createSignatureBase, type SignatureParams } from './http/signature-base.js';
export {
  DEFAULT_SIGNATURE_TOLERANCE_S,
  type KeyLookup,
  type NonceStore,
  SIGNATURE_ERROR_CODES,
  type SignatureErrorCode,
  type SignatureParamName,
  type VerifyFailure,
  type VerifyRequestOptions,
  type VerifyResult,
  type VerifySuccess,
  verifyRequest,
} from './http/verify-request.js';
