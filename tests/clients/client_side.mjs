// Evaluates requests locally with Flipt's npm client-side SDK
// (`@flipt-io/flipt-client-js`, WASM engine), which loads each namespace from
// the server's snapshot endpoint, and prints the results.
//
//     node client_side.mjs HTTP_URL CASES.json
//
// Same input and outcome format as client_side.py. Requests go through the
// SDK's `evaluateBatch` when the case's kind is the flag's type (the batch
// picks the evaluation by flag type), through `evaluateVariant` /
// `evaluateBoolean` otherwise (the SDK throws; the outcome is an error).
//
// After evaluating, each client calls `refresh()` once more. The SDK then
// sends `If-None-Match` with the ETag of its first fetch, and with the `fail`
// error strategy anything but an answer carrying that same ETag (a 304 from
// our server) either reports a change or throws. `refreshed` records what
// each refresh reported (false: unchanged).
//
// Run by crates/flipt-e2e/tests/it/clients.rs.

import { readFileSync } from 'node:fs';

import { ErrorStrategy, FliptClient } from '@flipt-io/flipt-client-js';

const FLAG_TYPES = { variant: 'VARIANT_FLAG_TYPE', boolean: 'BOOLEAN_FLAG_TYPE' };

function variantOutcome(r) {
  return {
    type: 'variant',
    match: r.match,
    reason: r.reason,
    variantKey: r.variantKey,
    variantAttachment: r.variantAttachment ?? '',
    segmentKeys: [...r.segmentKeys].sort(),
  };
}

function booleanOutcome(r) {
  return {
    type: 'boolean',
    enabled: r.enabled,
    reason: r.reason,
    segmentKeys: [...r.segmentKeys].sort(),
  };
}

function singleCall(client, c) {
  const request = { flagKey: c.flag, entityId: c.entityId, context: c.context };
  try {
    return c.kind === 'variant'
      ? variantOutcome(client.evaluateVariant(request))
      : booleanOutcome(client.evaluateBoolean(request));
  } catch (err) {
    return { type: 'error', message: String(err?.message ?? err) };
  }
}

async function evaluateNamespace(url, namespace, cases, paths, flags, refreshed) {
  const client = await FliptClient.init({ url, namespace, errorStrategy: ErrorStrategy.Fail });
  try {
    const types = new Map(client.listFlags().map((f) => [f.key, f.type]));
    flags[namespace] = types.size;
    const outcomes = new Array(cases.length);
    const batch = [];
    cases.forEach((c, i) => {
      if (types.get(c.flag) === FLAG_TYPES[c.kind]) {
        batch.push(i);
      } else {
        outcomes[i] = singleCall(client, c);
        paths.single += 1;
      }
    });
    if (batch.length > 0) {
      const requests = batch.map((i) => ({
        flagKey: cases[i].flag,
        entityId: cases[i].entityId,
        context: cases[i].context,
      }));
      const { responses } = client.evaluateBatch(requests);
      if (responses.length !== batch.length) {
        throw new Error(`${namespace}: ${batch.length} requests, ${responses.length} responses`);
      }
      batch.forEach((caseIndex, j) => {
        const r = responses[j];
        if (r.variantEvaluationResponse) {
          outcomes[caseIndex] = variantOutcome(r.variantEvaluationResponse);
        } else if (r.booleanEvaluationResponse) {
          outcomes[caseIndex] = booleanOutcome(r.booleanEvaluationResponse);
        } else {
          outcomes[caseIndex] = { type: 'error', message: r.errorEvaluationResponse?.reason ?? r.type };
        }
      });
      paths.batch += batch.length;
    }
    refreshed[namespace] = await client.refresh();
    return outcomes;
  } finally {
    client.close();
  }
}

async function main() {
  const [url, casesPath] = process.argv.slice(2);
  if (!url || !casesPath) {
    throw new Error('usage: node client_side.mjs HTTP_URL CASES.json');
  }
  const spec = JSON.parse(readFileSync(casesPath, 'utf8'));
  const paths = { batch: 0, single: 0 };
  const flags = {};
  const refreshed = {};
  const results = {};
  for (const entry of spec.namespaces) {
    results[entry.namespace] = await evaluateNamespace(
      url,
      entry.namespace,
      entry.cases,
      paths,
      flags,
      refreshed,
    );
  }
  process.stdout.write(`${JSON.stringify({ results, paths, flags, refreshed })}\n`);
}

main().catch((err) => {
  process.stderr.write(`client_side.mjs: ${err?.stack ?? err}\n`);
  process.exit(1);
});
