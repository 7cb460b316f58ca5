// Evaluates a list of cases through the OpenFeature server SDK
// (`@openfeature/server-sdk`) with the OFREP provider
// (`@openfeature/ofrep-provider`), the namespace sent in `X-Flipt-Namespace`.
//
//     node openfeature_server.mjs HTTP_URL CASES.json
//
// Same cases and output as openfeature_providers.py, with provider "ofrep-js".
// Run by crates/flipt-e2e/tests/it/clients/openfeature.rs.

import { readFileSync } from 'node:fs';

import { OFREPProvider } from '@openfeature/ofrep-provider';
import { OpenFeature } from '@openfeature/server-sdk';

async function clientFor(url, namespace) {
  const domain = `ofrep/${namespace}`;
  const provider = new OFREPProvider({ baseUrl: url, headers: [['X-Flipt-Namespace', namespace]] });
  await OpenFeature.setProviderAndWait(domain, provider);
  return OpenFeature.getClient(domain);
}

function evaluate(client, c) {
  const context = { ...(c.context ?? {}) };
  if (c.targetingKey !== undefined) {
    context.targetingKey = c.targetingKey;
  }
  switch (c.type) {
    case 'boolean':
      return client.getBooleanDetails(c.flag, c.default, context);
    case 'string':
      return client.getStringDetails(c.flag, c.default, context);
    default:
      throw new Error(`openfeature_server.mjs: unknown type ${c.type} in ${c.name}`);
  }
}

async function main() {
  const [url, casesPath] = process.argv.slice(2);
  if (!url || !casesPath) {
    throw new Error('usage: node openfeature_server.mjs HTTP_URL CASES.json');
  }
  const { cases } = JSON.parse(readFileSync(casesPath, 'utf8'));
  const clients = new Map();
  const results = [];
  for (const c of cases) {
    if (!clients.has(c.namespace)) {
      clients.set(c.namespace, await clientFor(url, c.namespace));
    }
    const details = await evaluate(clients.get(c.namespace), c);
    results.push({
      name: c.name,
      provider: 'ofrep-js',
      value: details.value,
      variant: details.variant ?? null,
      reason: details.reason ?? null,
      errorCode: details.errorCode ?? null,
      errorMessage: details.errorMessage ?? null,
      metadata: details.flagMetadata ?? {},
    });
  }
  await OpenFeature.close();
  process.stdout.write(`${JSON.stringify({ results })}\n`);
}

await main();
