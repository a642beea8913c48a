'use strict';
/*
 * Juspay's published Node.js client (expresscheckout-nodejs, pinned in package-lock.json) through
 * the wallet flow against Pocketbook's Juspay facade, as a merchant would run it: only the host
 * changes. CommonJS, Node.js >= 18.
 *
 *   JUSPAY_BASE_URL=http://127.0.0.1:PORT JUSPAY_API_KEY=pb_... JUSPAY_MERCHANT_ID=acme-... \
 *     node tests/clients/juspay_flow.js
 *
 * Every step is one call and prints "ok <step> ..." or "FAIL <step>: ..." (and the run exits 1);
 * the last line is "N of M client calls passed". tests/tests/juspay_clients.rs runs it against a
 * TestApp. JUSPAY_PYTHON (default: the project's .venv/bin/python) makes the TLS certificate;
 * JUSPAY_TLS_HOST (default 127.0.0.1) is where the TLS front listens, on port 443.
 *
 * Workarounds, each for something expresscheckout-nodejs 1.0.0 does:
 * - It reads package.json from process.cwd() when it is first required (Juspay.pkg: name and
 *   version, which it also sends as User-Agent NODEJS_SDK/<version>), and throws without one:
 *   this script changes to its own folder (tests/clients, whose package.json pins the client)
 *   before requiring it.
 * - It only reaches https on port 443: it passes URL.host (with the port) as the host to
 *   https.request, which is then looked up as a name, and its plain-http check compares the
 *   protocol with 'http' where URL.protocol is 'http:', so an http:// base URL still goes out as
 *   TLS. So this script runs in two processes: the first makes a self-signed certificate for
 *   JUSPAY_TLS_HOST (tls_cert.py with the cryptography package from the project's .venv, or
 *   openssl when that Python is missing) and starts the second with NODE_EXTRA_CA_CERTS naming
 *   it (Node reads that variable only at start); the second serves a TLS front on
 *   JUSPAY_TLS_HOST:443 that forwards every request unchanged (but its Host) to JUSPAY_BASE_URL,
 *   and gives the client baseUrl https://JUSPAY_TLS_HOST. Binding port 443 needs root (as CI
 *   and the development machines run) or CAP_NET_BIND_SERVICE.
 * - order.update(orderId, body) requests '/orders' + orderId, without the slash: the script
 *   passes '/' + orderId.
 * - order.refund and payments.create list only 'JWE' as their authentication; without a JWE
 *   configuration the client falls back to BASIC (its authDecider), which is what runs here.
 *   Its BASIC header is base64(apiKey), without the colon.
 * - Its default logger writes logs/juspay-sdk.log into the working folder and, when NODE_ENV is
 *   unset, every request and answer to the console: the script sets Juspay.customLogger to the
 *   client's own silent logger (JUSPAY_FLOW_SDK_LOG=1 keeps the default).
 * - It has no calls for wallets (create, link, list for a token) nor, naturally, for the
 *   customer's top-up page: those steps are plain fetch calls against JUSPAY_BASE_URL with
 *   Basic auth (the API key as the username), as a merchant without an SDK call would make them.
 * - Its errors carry no HTTP status: 400 and 404 are both InvalidRequestError (401
 *   AuthenticationError, 403 AuthorizationError, anything else APIError).
 */
const childProcess = require('child_process');
const fs = require('fs');
const http = require('http');
const https = require('https');
const net = require('net');
const os = require('os');
const path = require('path');

process.chdir(__dirname);

function env(name) {
  const value = (process.env[name] || '').trim();
  if (!value) {
    console.error(`set ${name} (see the top of ${__filename})`);
    process.exit(2);
  }
  return value;
}

const BASE_URL = env('JUSPAY_BASE_URL').replace(/\/+$/, '');
const API_KEY = env('JUSPAY_API_KEY');
const MERCHANT_ID = env('JUSPAY_MERCHANT_ID');
const TLS_HOST = (process.env.JUSPAY_TLS_HOST || '127.0.0.1').trim();
const CERT_DIR = process.env.JUSPAY_FLOW_CERT_DIR;

function setupFailure(message) {
  console.error(message);
  process.exit(2);
}

// The first process: a certificate, then the flow in a second process that trusts it.
function bootstrap() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'juspay-flow-tls-'));
  let code = 1;
  try {
    makeCertificate(dir);
    const child = childProcess.spawnSync(process.execPath, [__filename], {
      stdio: 'inherit',
      env: { ...process.env, NODE_EXTRA_CA_CERTS: path.join(dir, 'cert.pem'), JUSPAY_FLOW_CERT_DIR: dir },
    });
    if (child.error) throw child.error;
    code = child.status === null ? 1 : child.status;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  process.exit(code);
}

function makeCertificate(dir) {
  const python = process.env.JUSPAY_PYTHON || path.join(__dirname, '..', '..', '.venv', 'bin', 'python');
  if (fs.existsSync(python)) {
    const made = childProcess.spawnSync(python, [path.join(__dirname, 'tls_cert.py'), dir, TLS_HOST], {
      encoding: 'utf8',
    });
    if (made.status !== 0) {
      setupFailure(`tls_cert.py failed (run \`make tools\`): ${made.error || ''}${made.stdout}${made.stderr}`);
    }
    return;
  }
  const name = net.isIP(TLS_HOST) ? `IP:${TLS_HOST}` : `DNS:${TLS_HOST}`;
  const made = childProcess.spawnSync(
    'openssl',
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
      '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem'),
      '-subj', `/CN=${TLS_HOST}`, '-addext', `subjectAltName=${name},DNS:localhost`],
    { encoding: 'utf8' },
  );
  if (made.status !== 0) {
    setupFailure(`${python} is missing and openssl failed: run \`make tools\`\n${made.error || ''}${made.stderr}`);
  }
}

// The second process: the TLS front the client reaches, forwarding to JUSPAY_BASE_URL.
function startTlsFront() {
  const target = new URL(BASE_URL);
  const upstream = target.protocol === 'https:' ? https : http;
  const prefix = target.pathname.replace(/\/+$/, '');
  const server = https.createServer(
    { key: fs.readFileSync(path.join(CERT_DIR, 'key.pem')), cert: fs.readFileSync(path.join(CERT_DIR, 'cert.pem')) },
    (request, response) => {
      const forwarded = upstream.request(
        {
          hostname: target.hostname,
          port: target.port || (target.protocol === 'https:' ? 443 : 80),
          method: request.method,
          path: prefix + request.url,
          headers: { ...request.headers, host: target.host },
        },
        (answer) => {
          response.writeHead(answer.statusCode, answer.headers);
          answer.pipe(response);
        },
      );
      forwarded.on('error', (error) => {
        response.writeHead(502, { 'content-type': 'application/json' });
        response.end(JSON.stringify({ status: 'ERROR', error_code: 'TLS_FRONT', error_message: String(error) }));
      });
      request.pipe(forwarded);
    },
  );
  return new Promise((resolve) => {
    server.once('error', (error) => {
      const why = {
        EACCES: 'binding port 443 needs root or CAP_NET_BIND_SERVICE',
        EADDRINUSE: 'something listens there already; set JUSPAY_TLS_HOST to another loopback address, e.g. 127.0.0.2',
      }[error.code] || String(error);
      setupFailure(`the TLS front cannot listen on ${TLS_HOST}:443: ${why}`);
    });
    server.listen(443, TLS_HOST, () => resolve(server));
  });
}

class Failed extends Error {}

function expect(condition, message) {
  if (!condition) throw new Failed(message);
}

// An amount as answers write it (a JSON number or a string with two decimals), in paise.
function paise(value) {
  expect(value !== undefined && value !== null && value !== '', 'an amount is missing');
  const number = Number(value);
  expect(Number.isFinite(number), `amount ${JSON.stringify(value)} is not a number`);
  return Math.round(number * 100);
}

function sameMoney(value, expected, what) {
  expect(paise(value) === paise(expected), `${what}: ${JSON.stringify(value)}, expected ${expected}`);
}

// A plain HTTP call for what the client has no call for.
async function plain(method, pathname, form, { auth = true } = {}) {
  const headers = {};
  if (auth) headers.authorization = 'Basic ' + Buffer.from(`${API_KEY}:`).toString('base64');
  let body;
  if (form) {
    headers['content-type'] = 'application/x-www-form-urlencoded';
    body = new URLSearchParams(form).toString();
  }
  const url = /^https?:\/\//.test(pathname) ? pathname : BASE_URL + pathname;
  const answer = await fetch(url, { method, headers, body });
  const text = await answer.text();
  expect(answer.ok, `${method} ${url}: HTTP ${answer.status}: ${text.slice(0, 500)}`);
  try {
    return JSON.parse(text);
  } catch (ignored) {
    throw new Failed(`${method} ${url}: not JSON: ${text.slice(0, 500)}`);
  }
}

function describeError(error) {
  if (error instanceof Failed) return error.message;
  if (!(error instanceof Error)) return String(error);
  const fields = ['status', 'error_code', 'error_message'].filter((k) => error[k] !== undefined);
  const detail = fields.map((k) => `${k}=${JSON.stringify(error[k])}`).join(' ');
  // A Juspay error carries the answer (raw); anything else is a bug here or in the client.
  const context = error.raw !== undefined ? ` body=${JSON.stringify(error.raw)}` : `\n${error.stack}`;
  return `${error.name}: ${error.message}${detail ? ` (${detail})` : ''}${context}`;
}

async function flow(juspay, errors) {
  const run = require('crypto').randomBytes(6).toString('hex');
  const s = {
    reference: `flow-js-${run}`,
    mobile: `9${String(require('crypto').randomInt(1e9)).padStart(9, '0')}`,
    orderA: `jsa${run}`,
    orderB: `jsb${run}`,
  };
  const email = `${s.reference}@example.com`;
  const walletOf = (list, id) => (list.list || []).find((w) => w.id === id);

  const steps = [
    ['create_customer', async () => {
      const c = await juspay.customer.create({
        object_reference_id: s.reference, mobile_number: s.mobile, mobile_country_code: '91',
        email_address: email, first_name: 'Asha', last_name: 'Rao',
      });
      expect(typeof c.id === 'string' && c.id.startsWith('cst_'), `customer id ${JSON.stringify(c.id)}`);
      expect(c.object_reference_id === s.reference, `object_reference_id ${JSON.stringify(c.object_reference_id)}`);
      expect(c.mobile_number === s.mobile && c.first_name === 'Asha', `mobile ${c.mobile_number} name ${c.first_name}`);
      expect(c.http && c.http.statusCode === 200, `HTTP ${c.http && c.http.statusCode}`);
      s.customer = c.id;
      return `id=${c.id} object_reference_id=${c.object_reference_id}`;
    }],
    ['get_customer', async () => {
      const c = await juspay.customer.get(s.customer);
      expect(c.id === s.customer && c.email_address === email, `id ${c.id} email ${c.email_address}`);
      return `id=${c.id} mobile_number=${c.mobile_number}`;
    }],
    ['update_customer', async () => {
      const c = await juspay.customer.update(s.customer, { first_name: 'Ashwini' });
      expect(c.id === s.customer && c.first_name === 'Ashwini', `id ${c.id} first_name ${c.first_name}`);
      expect(c.last_name === 'Rao' && c.mobile_number === s.mobile, 'the other fields are kept');
      return `first_name=${c.first_name}`;
    }],
    ['create_order_a', async () => {
      const o = await juspay.order.create({
        order_id: s.orderA, amount: 100.00, currency: 'INR', customer_id: s.customer, customer_email: email,
        customer_phone: s.mobile, return_url: 'https://shop.example/return', description: 'Order A', udf1: 'node',
      });
      expect(o.order_id === s.orderA && o.status === 'CREATED', `order_id ${o.order_id} status ${o.status}`);
      sameMoney(o.amount, '100.00', 'amount');
      expect(o.customer_id === s.customer && o.merchant_id === MERCHANT_ID, `customer ${o.customer_id} merchant ${o.merchant_id}`);
      expect(o.udf1 === 'node', `udf1 ${JSON.stringify(o.udf1)}`);
      return `order_id=${o.order_id} status=${o.status} amount=${o.amount}`;
    }],
    ['order_status_a', async () => {
      const o = await juspay.order.status(s.orderA);
      expect(o.order_id === s.orderA && o.status === 'NEW', `order_id ${o.order_id} status ${o.status}`);
      sameMoney(o.amount, '100.00', 'amount');
      return `status=${o.status}`;
    }],
    ['update_order_a', async () => {
      const o = await juspay.order.update('/' + s.orderA, { amount: '120.00' });
      expect(o.order_id === s.orderA, `order_id ${o.order_id}`);
      sameMoney(o.amount, '120.00', 'amount');
      expect(o.customer_id === s.customer, `customer_id ${o.customer_id} (kept by the update)`);
      return `amount=${o.amount}`;
    }],
    ['create_wallet_by_fetch', async () => {
      const w = await plain('POST', `/customers/${s.customer}/wallets`, { gateway: 'MOBIKWIK', command: 'authenticate' });
      expect(typeof w.id === 'string' && w.id.startsWith('wlt_'), `id ${JSON.stringify(w.id)}`);
      expect(w.wallet === 'MOBIKWIK' && w.linked === false, `wallet ${w.wallet} linked ${w.linked}`);
      s.wallet = w.id;
      return `id=${w.id} linked=${w.linked}`;
    }],
    ['link_wallet_by_fetch', async () => {
      const w = await plain('POST', `/wallets/${s.wallet}`, { command: 'link', otp: s.mobile.slice(-6) });
      expect(w.id === s.wallet && w.linked === true, `id ${w.id} linked ${w.linked}`);
      expect(w.current_balance === '1000.00', `current_balance ${JSON.stringify(w.current_balance)}`);
      return `linked=${w.linked} current_balance=${w.current_balance}`;
    }],
    ['wallets_of_order_a_by_fetch', async () => {
      const w = walletOf(await plain('GET', `/orders/${s.orderA}/wallets`), s.wallet);
      expect(w && typeof w.token === 'string' && w.token.startsWith('tok_'), `a token for ${s.wallet}: ${JSON.stringify(w)}`);
      s.tokenA = w.token;
      return `token=${w.token}`;
    }],
    ['pay_order_a', async () => {
      const p = await juspay.payments.create({
        order_id: s.orderA, payment_method_type: 'WALLET', payment_method: 'MOBIKWIK',
        direct_wallet_token: s.tokenA, redirect_after_payment: true,
      });
      expect(p.order_id === s.orderA && p.status === 'CHARGED', `order_id ${p.order_id} status ${p.status}`);
      expect(typeof p.txn_id === 'string' && p.txn_id, `txn_id ${JSON.stringify(p.txn_id)}`);
      s.txnA = p.txn_id;
      return `status=${p.status} txn_id=${p.txn_id}`;
    }],
    ['order_status_a_charged', async () => {
      const o = await juspay.order.status(s.orderA);
      expect(o.status === 'CHARGED' && o.txn_id === s.txnA, `status ${o.status} txn_id ${o.txn_id}`);
      expect(o.payment_method_type === 'WALLET' && o.payment_method === 'MOBIKWIK', `${o.payment_method_type} ${o.payment_method}`);
      sameMoney(o.amount, '120.00', 'amount');
      return `status=${o.status}`;
    }],
    ['create_order_b', async () => {
      const o = await juspay.order.create({ order_id: s.orderB, amount: 5000, customer_id: s.customer, description: 'Order B' });
      expect(o.order_id === s.orderB && o.status === 'CREATED', `order_id ${o.order_id} status ${o.status}`);
      sameMoney(o.amount, '5000', 'amount');
      return `order_id=${o.order_id} amount=${o.amount}`;
    }],
    ['wallets_of_customer_by_fetch', async () => {
      const w = walletOf(await plain('GET', `/customers/${s.customer}/wallets`), s.wallet);
      expect(w && typeof w.token === 'string' && w.token.startsWith('tok_') && w.token !== s.tokenA,
        `a fresh token for ${s.wallet}: ${JSON.stringify(w)}`);
      s.tokenB = w.token;
      return `token=${w.token}`;
    }],
    ['pay_order_b_above_the_balance', async () => {
      const p = await juspay.payments.create({
        order_id: s.orderB, payment_method_type: 'WALLET', payment_method: 'MOBIKWIK',
        direct_wallet_token: s.tokenB, redirect_after_payment: true,
      });
      expect(p.status === 'PENDING_VBV', `status ${p.status}`);
      const authentication = (p.payment || {}).authentication || {};
      expect(authentication.method === 'GET' && /^https?:\/\//.test(authentication.url || ''),
        `payment.authentication ${JSON.stringify(authentication)}`);
      s.topUp = authentication.url;
      return `status=${p.status} url=${authentication.url}`;
    }],
    ['customer_tops_up_by_fetch', async () => {
      const answer = await plain('GET', s.topUp, null, { auth: false });
      expect(answer.status === 'CHARGED', `status ${answer.status}`);
      return `status=${answer.status}`;
    }],
    ['order_status_b_charged', async () => {
      const o = await juspay.order.status(s.orderB);
      expect(o.status === 'CHARGED', `status ${o.status}`);
      return `status=${o.status}`;
    }],
    ['refund_20', async () => {
      const o = await juspay.order.refund(s.orderA, { unique_request_id: `r1${run}`, amount: 20 });
      expect(o.refunded === false, `refunded ${o.refunded}`);
      sameMoney(o.amount_refunded, '20', 'amount_refunded');
      expect(Array.isArray(o.refunds) && o.refunds.length === 1, `refunds ${JSON.stringify(o.refunds)}`);
      expect(o.refunds[0].unique_request_id === `r1${run}`, `unique_request_id ${o.refunds[0].unique_request_id}`);
      return `refunded=${o.refunded} amount_refunded=${o.amount_refunded}`;
    }],
    ['refund_20_again_is_idempotent', async () => {
      const o = await juspay.order.refund(s.orderA, { unique_request_id: `r1${run}`, amount: 20 });
      sameMoney(o.amount_refunded, '20', 'amount_refunded');
      expect(o.refunds.length === 1, `${o.refunds.length} refunds`);
      return `amount_refunded=${o.amount_refunded} refunds=${o.refunds.length}`;
    }],
    ['refund_the_remaining_100', async () => {
      const o = await juspay.order.refund(s.orderA, { unique_request_id: `r2${run}`, amount: 100 });
      expect(o.refunded === true && o.status === 'CHARGED', `refunded ${o.refunded} status ${o.status}`);
      sameMoney(o.amount_refunded, '120', 'amount_refunded');
      return `refunded=${o.refunded} amount_refunded=${o.amount_refunded}`;
    }],
    ['refund_beyond_the_charge_is_refused', async () => {
      let o;
      try {
        o = await juspay.order.refund(s.orderA, { unique_request_id: `r3${run}`, amount: 1 });
      } catch (error) {
        expect(error instanceof errors.InvalidRequestError, `not an InvalidRequestError: ${describeError(error)}`);
        expect(error.error_code, `an error_code in ${JSON.stringify(error.raw)}`);
        return `${error.name} error_code=${error.error_code}`;
      }
      throw new Failed(`a refund beyond the charge was accepted: amount_refunded ${o.amount_refunded}`);
    }],
  ];

  let passed = 0;
  for (const [name, call] of steps) {
    let detail;
    try {
      detail = await call();
    } catch (error) {
      console.log(`FAIL ${name}: ${describeError(error)}`);
      break;
    }
    passed += 1;
    console.log(`ok ${name} ${detail}`);
  }
  console.log(`${passed} of ${steps.length} client calls passed`);
  return passed === steps.length ? 0 : 1;
}

async function main() {
  let client;
  try {
    client = require('expresscheckout-nodejs');
  } catch (error) {
    setupFailure(`expresscheckout-nodejs is not installed in ${__dirname}: run \`make tools\` (npm ci)\n${error}`);
  }
  const { Juspay } = client;
  if (process.env.JUSPAY_FLOW_SDK_LOG !== '1') Juspay.customLogger = Juspay.silentLogger;
  const front = await startTlsFront();
  const juspay = new Juspay({ apiKey: API_KEY, merchantId: MERCHANT_ID, baseUrl: `https://${TLS_HOST}` });
  let code = 1;
  try {
    code = await flow(juspay, client);
  } finally {
    front.closeAllConnections();
    front.close();
  }
  process.exit(code);
}

if (CERT_DIR) {
  main().catch((error) => {
    console.log(`FAIL ${describeError(error)}`);
    process.exit(1);
  });
} else {
  bootstrap();
}
