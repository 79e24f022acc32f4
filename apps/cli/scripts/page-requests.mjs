#!/usr/bin/env node
/**
 * Loads one page in headless Chromium and prints every request that page makes, one per line:
 *   node page-requests.mjs CHROMIUM FILE.html [chromium flags...]
 * It drives the browser over the DevTools protocol on a pipe (--remote-debugging-pipe: fd 3 in, fd 4 out,
 * NUL-separated JSON, so no WebSocket client is needed) and listens to the Network events of the page's
 * own target. That is what tells the page's requests apart from the browser's own background traffic
 * (update checks, network time, sign-in), which Chromium makes whatever flags it is given and which a
 * proxy log alone cannot attribute. Requests refused before they are sent (by the page's CSP) are
 * printed too, marked `blocked:REASON`, since they show the page tried.
 * Exit status: 0 no request besides the page itself, 1 requests printed, 2 the browser failed.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const [chromium, file, ...extra] = process.argv.slice(2);
if (!chromium || !file) {
  console.error('usage: page-requests.mjs CHROMIUM FILE.html [chromium flags...]');
  process.exit(2);
}
const pageUrl = pathToFileURL(resolve(file)).href;
const profile = mkdtempSync(join(tmpdir(), 'page-requests-'));

const browser = spawn(chromium, ['--headless', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', `--user-data-dir=${profile}`, '--remote-debugging-pipe', ...extra, 'about:blank'], {
  stdio: ['ignore', 'ignore', 'ignore', 'pipe', 'pipe'],
});
const toBrowser = browser.stdio[3];
const fromBrowser = browser.stdio[4];

let nextId = 1;
const pending = new Map();
const listeners = [];
function send(method, params = {}, sessionId) {
  const id = nextId++;
  toBrowser.write(`${JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) })}\0`);
  return new Promise((ok, fail) => pending.set(id, { ok, fail, method }));
}
let buffer = '';
fromBrowser.on('data', (chunk) => {
  buffer += chunk.toString('utf8');
  let end;
  while ((end = buffer.indexOf('\0')) >= 0) {
    const msg = JSON.parse(buffer.slice(0, end));
    buffer = buffer.slice(end + 1);
    if (msg.id && pending.has(msg.id)) {
      const p = pending.get(msg.id);
      pending.delete(msg.id);
      if (msg.error) p.fail(new Error(`${p.method}: ${msg.error.message}`));
      else p.ok(msg.result);
    } else if (msg.method) for (const l of listeners) l(msg);
  }
});

const requests = [];
let loaded;
const loadedPromise = new Promise((ok) => (loaded = ok));
let sessionId;
listeners.push((msg) => {
  if (msg.sessionId !== sessionId) return; // another target: the browser's own, not the page's
  const p = msg.params;
  if (msg.method === 'Network.requestWillBeSent' && p.request.url !== pageUrl) requests.push(`${p.request.method} ${p.request.url}`);
  if (msg.method === 'Network.loadingFailed' && p.blockedReason) requests.push(`blocked:${p.blockedReason} ${p.type ?? ''} (request id ${p.requestId})`);
  if (msg.method === 'Page.loadEventFired') loaded();
});

const timer = setTimeout(() => finish(2, 'timed out'), 60_000);
let done = false;
const exited = new Promise((ok) => browser.on('exit', ok));
exited.then((code) => finish(2, `chromium exited (${code}) before the page was checked`));
async function finish(code, why) {
  if (done) return;
  done = true;
  clearTimeout(timer);
  if (why) console.error(why);
  // Let the browser go before removing its profile, which it writes to until it exits.
  if (browser.exitCode === null && browser.signalCode === null) {
    browser.kill();
    await Promise.race([exited, new Promise((ok) => setTimeout(ok, 5000))]);
  }
  try {
    rmSync(profile, { recursive: true, force: true, maxRetries: 3 });
  } catch {
    // a leftover temp folder must not change the verdict
  }
  process.exit(code);
}

try {
  const { targetId } = await send('Target.createTarget', { url: 'about:blank' });
  ({ sessionId } = await send('Target.attachToTarget', { targetId, flatten: true }));
  await send('Network.enable', {}, sessionId);
  await send('Page.enable', {}, sessionId);
  await send('Page.navigate', { url: pageUrl }, sessionId);
  await loadedPromise;
  // Give anything started late (lazy images, CSS loaded by CSS) time to show.
  await new Promise((ok) => setTimeout(ok, 1500));
  // Cross-check with what the page itself recorded as fetched (DevTools evaluation is not subject to the CSP).
  const { result } = await send(
    'Runtime.evaluate',
    { expression: 'JSON.stringify(performance.getEntriesByType("resource").map(e => e.name))', returnByValue: true },
    sessionId,
  );
  for (const name of JSON.parse(result.value)) if (!requests.some((r) => r.endsWith(` ${name}`))) requests.push(`resource ${name}`);
  for (const r of requests) console.log(r);
  finish(requests.length ? 1 : 0);
} catch (err) {
  finish(2, String(err));
}
