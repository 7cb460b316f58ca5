// Runs a scenario of evaluation calls through Flipt's npm server SDK
// (`@flipt-io/flipt`, REST) and prints what the SDK returned.
//
//     node server_sdk.mjs HTTP_URL SCENARIO.json
//
// Same scenario and output format as server_sdk.py: `{"results": [{"name",
// "ok": response} | {"name", "error": {"message"}}]}`. This SDK hands back
// the parsed response body as is, and on a non-200 answer throws an Error
// carrying the body's `message` (it has no status code to report).
//
// Run by crates/flipt-e2e/tests/it/clients.rs.

import { readFileSync } from 'node:fs';

import { FliptClient } from '@flipt-io/flipt';

function sdkRequest(request) {
  return {
    namespaceKey: request.namespaceKey,
    flagKey: request.flagKey,
    entityId: request.entityId,
    context: request.context ?? {},
  };
}

async function run(client, call) {
  switch (call.op) {
    case 'boolean':
      return client.evaluation.boolean(sdkRequest(call.request));
    case 'variant':
      return client.evaluation.variant(sdkRequest(call.request));
    case 'batch':
      return client.evaluation.batch({ requests: call.requests.map(sdkRequest) });
    default:
      throw new Error(`server_sdk.mjs: unknown op ${call.op} in call ${call.name}`);
  }
}

async function main() {
  const [url, scenarioPath] = process.argv.slice(2);
  if (!url || !scenarioPath) {
    throw new Error('usage: node server_sdk.mjs HTTP_URL SCENARIO.json');
  }
  const scenario = JSON.parse(readFileSync(scenarioPath, 'utf8'));
  const client = new FliptClient({ url, timeout: 10 });
  const results = [];
  for (const call of scenario.calls) {
    try {
      results.push({ name: call.name, ok: await run(client, call) });
    } catch (err) {
      // Only the SDK's own error path (a message read from the body) counts
      // as an answer; a network failure or a body that is not JSON is not.
      if (!(err instanceof Error) || err.name !== 'Error') {
        throw err;
      }
      results.push({ name: call.name, error: { message: err.message } });
    }
  }
  process.stdout.write(`${JSON.stringify({ results })}\n`);
}

main().catch((err) => {
  process.stderr.write(`server_sdk.mjs: ${err?.stack ?? err}\n`);
  process.exit(1);
});
