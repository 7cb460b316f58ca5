// Evaluates one variant flag through Flipt's two npm SDKs, each with an
// optional client token, and prints what each returned or how it failed.
//
//     node auth_probe.mjs HTTP_URL TOKEN NAMESPACE FLAG ENTITY
//
// TOKEN `-` means no token. `server_sdk` is `@flipt-io/flipt` (REST) with
// `ClientTokenAuthentication`; `client_side` is `@flipt-io/flipt-client-js`
// (snapshot endpoint, WASM engine) with `authentication: {clientToken}`.
// Output: `{"server_sdk": outcome, "client_side": outcome}`, outcome
// `{"ok": {"variantKey", "match"}}` or `{"error": {"message"}}`.
//
// Run by crates/flipt-e2e/tests/it/security/.

import { ClientTokenAuthentication, FliptClient as ServerClient } from '@flipt-io/flipt';
import { ErrorStrategy, FliptClient } from '@flipt-io/flipt-client-js';

async function serverSdk(url, token, namespace, flag, entity) {
  const options = { url, timeout: 10 };
  if (token) {
    options.authenticationStrategy = new ClientTokenAuthentication(token);
  }
  const client = new ServerClient(options);
  try {
    const r = await client.evaluation.variant({ namespaceKey: namespace, flagKey: flag, entityId: entity, context: {} });
    return { ok: { variantKey: r.variantKey, match: r.match } };
  } catch (err) {
    return { error: { message: String(err?.message ?? err) } };
  }
}

async function clientSide(url, token, namespace, flag, entity) {
  const options = { url, namespace, errorStrategy: ErrorStrategy.Fail };
  if (token) {
    options.authentication = { clientToken: token };
  }
  let client;
  try {
    client = await FliptClient.init(options);
  } catch (err) {
    return { error: { message: String(err?.message ?? err) } };
  }
  try {
    const r = client.evaluateVariant({ flagKey: flag, entityId: entity, context: {} });
    return { ok: { variantKey: r.variantKey, match: r.match } };
  } catch (err) {
    return { error: { message: String(err?.message ?? err) } };
  } finally {
    client.close?.();
  }
}

async function main() {
  const [url, rawToken, namespace, flag, entity] = process.argv.slice(2);
  if (!entity) {
    throw new Error('usage: node auth_probe.mjs HTTP_URL TOKEN NAMESPACE FLAG ENTITY');
  }
  const token = rawToken === '-' ? null : rawToken;
  const result = {
    server_sdk: await serverSdk(url, token, namespace, flag, entity),
    client_side: await clientSide(url, token, namespace, flag, entity),
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
  // The client-side SDK polls on a timer; nothing else is left to do.
  process.exit(0);
}

main().catch((err) => {
  process.stderr.write(`auth_probe.mjs: ${err?.stack ?? err}\n`);
  process.exit(1);
});
