// Drives the OpenFeature web SDK (`@openfeature/web-sdk`) with the OFREP web
// provider (`@openfeature/ofrep-web-provider`) under Node: one bulk fetch for
// a static context, polling with If-None-Match, and a flag change reaching
// the provider. Node has everything the provider needs except browser
// storage, which it uses only for its persistent cache: that is turned off
// (`cacheMode: 'disabled'`).
//
//     node openfeature_web.mjs HTTP_URL NAMESPACE CASES.json POLLS
//
// CASES.json is `{"context": {...}, "cases": [{"name", "flag", "type":
// "boolean" | "string", "default"}, ...]}`. The script prints one JSON line
// per phase:
//   {"phase": "ready", "results": [...]}            after the first bulk fetch;
//   {"phase": "polled", "statuses": {"200": n, "304": n}} once POLLS polls got 304;
//   {"phase": "changed", "flagsChanged": [...], "statuses": {...}, "results": [...]}
//                                                   after a ConfigurationChanged event.
// Results are shaped as in openfeature_providers.py. The HTTP statuses are
// counted through the provider's `fetchImplementation` option, which here is
// Node's own fetch, only observed.
//
// Run by crates/flipt-e2e/tests/it/clients/openfeature.rs.

import { readFileSync } from 'node:fs';

import { OFREPWebProvider } from '@openfeature/ofrep-web-provider';
import { OpenFeature, ProviderEvents } from '@openfeature/web-sdk';

const POLL_INTERVAL_MS = 100;
// Every wait below is bounded; the test bounds the whole run as well.
const PHASE_TIMEOUT_MS = 20000;

const statuses = {};
async function observedFetch(...args) {
  const response = await fetch(...args);
  statuses[response.status] = (statuses[response.status] ?? 0) + 1;
  return response;
}

function evaluateAll(client, cases) {
  return cases.map((c) => {
    const details =
      c.type === 'boolean'
        ? client.getBooleanDetails(c.flag, c.default)
        : client.getStringDetails(c.flag, c.default);
    return {
      name: c.name,
      provider: 'ofrep-web',
      value: details.value,
      variant: details.variant ?? null,
      reason: details.reason ?? null,
      errorCode: details.errorCode ?? null,
      errorMessage: details.errorMessage ?? null,
      metadata: details.flagMetadata ?? {},
    };
  });
}

function print(line) {
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

function within(what, promise) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), PHASE_TIMEOUT_MS);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

async function main() {
  const [url, namespace, casesPath, pollsArg] = process.argv.slice(2);
  if (!url || !namespace || !casesPath || !pollsArg) {
    throw new Error('usage: node openfeature_web.mjs HTTP_URL NAMESPACE CASES.json POLLS');
  }
  const polls = Number.parseInt(pollsArg, 10);
  const { context, cases } = JSON.parse(readFileSync(casesPath, 'utf8'));

  const provider = new OFREPWebProvider({
    baseUrl: url,
    headers: [['X-Flipt-Namespace', namespace]],
    pollInterval: POLL_INTERVAL_MS,
    changeDetection: 'polling',
    cacheMode: 'disabled',
    fetchImplementation: observedFetch,
  });
  let changed;
  const configurationChanged = new Promise((resolve) => {
    changed = resolve;
  });
  await OpenFeature.setContext(context);
  await within('the provider to be ready', OpenFeature.setProviderAndWait(provider));
  const client = OpenFeature.getClient();
  client.addHandler(ProviderEvents.ConfigurationChanged, (event) => changed(event));
  print({ phase: 'ready', results: evaluateAll(client, cases) });

  await within(
    `${polls} polls answered 304`,
    new Promise((resolve) => {
      const check = setInterval(() => {
        if ((statuses[304] ?? 0) >= polls) {
          clearInterval(check);
          resolve();
        }
      }, 10);
    }),
  );
  print({ phase: 'polled', statuses: { ...statuses } });

  const event = await within('a configuration change', configurationChanged);
  print({
    phase: 'changed',
    flagsChanged: event.flagsChanged ?? [],
    statuses: { ...statuses },
    results: evaluateAll(client, cases),
  });
  await OpenFeature.close();
}

await main();
