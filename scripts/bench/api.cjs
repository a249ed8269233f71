// Load figures for the Trading API (run by scripts/bench-api.sh; prints, never asserts).
// Usage: node api.cjs BASE_URL KEY_ID SECRET [SECONDS]
// Each case runs open-loop at a fixed overall rate (autocannon's overallRate) or closed-loop
// at maximum throughput, after a warm-up. The peer is GET /healthz on the same server:
// axum with a static body and no authentication, so ours/peer isolates the cost of the
// API's work (authentication, view lookups, JSON) from the server and the load generator.
'use strict';
const autocannon = require('autocannon');

const [base, key, secret, secondsArg] = process.argv.slice(2);
if (!base || !key || !secret) {
  console.error('usage: node api.cjs BASE_URL KEY_ID SECRET [SECONDS]');
  process.exit(2);
}
const seconds = Number(secondsArg || 15);
const auth = { 'APCA-API-KEY-ID': key, 'APCA-API-SECRET-KEY': secret };

function run(opts) {
  return new Promise((resolve, reject) => {
    autocannon(opts, (err, res) => (err ? reject(err) : resolve(res)));
  });
}

async function measure(name, opts) {
  const common = { url: base + opts.path, duration: seconds, connections: opts.connections || 32, pipelining: 1 };
  const o = Object.assign({}, common, opts.extra || {});
  if (opts.rate) o.overallRate = opts.rate;
  await run(Object.assign({}, o, { duration: 3 })); // warm-up (caches, connections)
  const r = await run(o);
  const ok = r['2xx'];
  const row = {
    case: name,
    target: opts.rate ? String(opts.rate) + '/s' : 'max',
    achieved: Math.round(r.requests.average),
    ok,
    errors: r.non2xx + r.errors + r.timeouts,
    p50_ms: r.latency.p50,
    p90_ms: r.latency.p90,
    p99_ms: r.latency.p99,
    max_ms: r.latency.max,
  };
  console.log(JSON.stringify(row));
  return row;
}

(async () => {
  const rows = [];
  const get = (path) => ({ path, extra: { headers: auth } });
  for (const rate of [null, 2000]) {
    rows.push(await measure('peer GET /healthz', { path: '/healthz', rate }));
    rows.push(await measure('GET /v2/account', Object.assign(get('/v2/account'), { rate })));
    rows.push(await measure('GET /v2/positions', Object.assign(get('/v2/positions'), { rate })));
  }
  let n = 0;
  const order = () =>
    JSON.stringify({ symbol: 'AAPL', qty: '1', side: 'buy', type: 'limit', limit_price: '1.00', time_in_force: 'gtc', client_order_id: 'bench-' + process.pid + '-' + n++ });
  rows.push(
    await measure('POST /v2/orders', {
      path: '/v2/orders',
      rate: 15,
      connections: 8,
      extra: {
        method: 'POST',
        headers: Object.assign({ 'content-type': 'application/json' }, auth),
        requests: [{ setupRequest: (req) => Object.assign(req, { body: order() }) }],
      },
    }),
  );
  console.log('\n| case | target | achieved req/s | 2xx | errors | p50 ms | p90 ms | p99 ms | max ms |');
  console.log('|---|---|---|---|---|---|---|---|---|');
  for (const r of rows) {
    console.log(`| ${r.case} | ${r.target} | ${r.achieved} | ${r.ok} | ${r.errors} | ${r.p50_ms} | ${r.p90_ms} | ${r.p99_ms} | ${r.max_ms} |`);
  }
  const peer = (t) => rows.find((r) => r.case.startsWith('peer') && r.target === t);
  for (const t of ['max', '2000/s']) {
    for (const r of rows.filter((x) => !x.case.startsWith('peer') && x.target === t)) {
      const p = peer(t);
      console.log(`${r.case} @ ${t}: throughput ours/peer = ${(r.achieved / p.achieved).toFixed(2)}, p99 ours/peer = ${(r.p99_ms / Math.max(p.p99_ms, 1)).toFixed(2)}`);
    }
  }
})().catch((e) => {
  console.error('bench failed:', e);
  process.exit(1);
});
