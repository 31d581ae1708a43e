// The dashboard in a real browser: Debian's headless Chromium, driven by puppeteer-core over
// --remote-debugging-pipe, opens the URL berthd logged (token and all), sees a container appear
// after `docker run`, follows its log line and its stats, stops it with the page's button (the
// engine then reports it exited) and keeps a screenshot as an artifact.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { destroyBerth, loadBusybox, pollUntil, startBerth, type Berth } from './harness';
import { dashboardUrl } from './dashboard-kit';

const CHROMIUM = process.env.BERTH_TEST_CHROMIUM ?? '/usr/bin/chromium';
/** Screenshots kept after the run (git-ignored), besides the copy in the test's temp dir. */
const ARTIFACTS = path.resolve(__dirname, '..', '..', '..', 'test-artifacts');
/** Generous: the page reacts to events at once, but the machine may be loaded. */
const WAIT_MS = 30_000;

let b: Berth;
let browser: Browser;
let page: Page;
const pageErrors: string[] = [];

async function ok(args: string[]): Promise<string> {
  const r = await b.docker(args, { timeoutMs: 60_000 });
  assert.equal(r.code, 0, `docker ${args.join(' ')}: ${r.stderr}`);
  return r.stdout.trim();
}

async function screenshot(name: string): Promise<string> {
  const file = path.join(b.dir, name);
  await page.screenshot({ path: file as `${string}.png`, fullPage: true });
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  const kept = path.join(ARTIFACTS, name);
  fs.copyFileSync(file, kept);
  return kept;
}

/** The text of `selector` in the page ('' while it is absent). */
async function textOf(selector: string): Promise<string> {
  return page.$eval(selector, (e) => e.textContent ?? '').catch(() => '');
}

/** Polls the text of `selector` until `pred` holds. */
async function waitForText(selector: string, pred: (text: string) => boolean, what: string): Promise<void> {
  let last = '';
  const seen = await pollUntil(WAIT_MS, 100, async () => pred((last = await textOf(selector))));
  assert.ok(seen, `${what}: ${selector} shows ${JSON.stringify(last.slice(-500))}\nberthd log:\n${b.log().slice(-1500)}`);
}

before(async () => {
  b = await startBerth({ args: ['--dashboard-addr', '127.0.0.1:0'] });
  await loadBusybox(b);
  browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    pipe: true,
    // Root in a container: Chromium's sandbox needs user namespaces it may not have.
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', `--user-data-dir=${path.join(b.dir, 'chromium')}`],
  });
  page = await browser.newPage();
  await page.setViewport({ width: 1280, height: 900 });
  page.on('pageerror', (err) => pageErrors.push(String(err)));
  page.on('console', (m) => {
    // Chromium drops its open requests (the event streams, which reconnect) whenever the host's
    // interfaces change, and other tests running alongside make and remove veths and bridges
    // all the time: that is the machine, not the page.
    if (m.type() === 'error' && !m.text().includes('net::ERR_NETWORK_CHANGED')) pageErrors.push(m.text());
  });
});

after(async () => {
  if (browser) await browser.close();
  if (b) await destroyBerth(b);
});

test('Chromium: a container appears, its log follows, its charts fill, the stop button stops it', async (t) => {
  const url = await dashboardUrl(b);
  const resp = await page.goto(url.toString(), { waitUntil: 'load' });
  assert.equal(resp?.status(), 200);
  // The token went into the cookie; the address bar no longer shows it.
  assert.equal(page.url(), `http://${url.host}/`);
  await page.waitForSelector('#conn.on', { timeout: WAIT_MS });

  await ok([
    'run',
    '-d',
    '--name',
    'dash-web',
    '-p',
    '127.0.0.1::80',
    'busybox',
    'sh',
    '-c',
    'echo hello-from-dashboard; echo \'<b id="injected">markup</b>\' >&2; exec httpd -f -p 80 -h /',
  ]);
  const row = 'tr[data-name="dash-web"]';
  await page.waitForSelector(`${row}[data-state="running"]`, { timeout: WAIT_MS });
  const cells = await page.$$eval(`${row} td`, (tds) => tds.map((td) => td.textContent ?? ''));
  assert.equal(cells[0], 'dash-web');
  assert.equal(cells[1], 'running');
  assert.equal(cells[3], 'busybox');
  assert.match(cells[4] ?? '', /^127\.0\.0\.1:\d+->80\/tcp$/);

  await page.click(`${row} td.name`);
  await waitForText('#logs', (x) => x.includes('hello-from-dashboard'), 'the log line');
  // What a container writes is text on the page, never markup.
  await waitForText('#logs', (x) => x.includes('<b id="injected">markup</b>'), 'the stderr line, as text');
  assert.equal(await page.$('#injected'), null);
  assert.equal(await page.$eval('#logs span.stderr', (e) => e.textContent), '<b id="injected">markup</b>\n');
  // A stats sample reached the charts (memory of a running httpd is never zero).
  await waitForText('#mem-now', (x) => /[1-9]/.test(x), 'memory figure');
  await waitForText('#cpu-now', (x) => /%$/.test(x), 'CPU figure');
  await waitForText(`${row} td.uptime`, (x) => /^\d+s$|m /.test(x), 'uptime');
  // A few samples, so the screenshot shows lines.
  let samples = 0;
  const charted = await pollUntil(WAIT_MS, 200, async () => {
    samples = Number(await page.$eval('#chart-cpu', (e) => e.getAttribute('data-samples')).catch(() => '0'));
    return samples >= 3;
  });
  assert.ok(charted, `stats samples charted: ${samples}`);
  t.diagnostic(`screenshot: ${await screenshot('dashboard-running.png')}`);

  await page.click(`${row} button[data-action="stop"]`);
  await page.waitForSelector(`${row}[data-state="exited"]`, { timeout: WAIT_MS });
  assert.equal(await ok(['inspect', '-f', '{{.State.Status}} {{.State.Running}}', 'dash-web']), 'exited false');
  await waitForText('#logs', (x) => x.includes('log ended'), 'the end of the log');
  t.diagnostic(`screenshot: ${await screenshot('dashboard-stopped.png')}`);
  assert.deepEqual(pageErrors, [], 'the page logged no errors');
});

test('Chromium: restart starts a stopped container again; remove asks, then removes', async () => {
  await ok(['run', '-d', '--name', 'dash-rm', '--network', 'none', 'busybox', 'sleep', '600']);
  await ok(['stop', '-t', '0', 'dash-rm']);
  const row = 'tr[data-name="dash-rm"]';
  await page.waitForSelector(`${row}[data-state="exited"]`, { timeout: WAIT_MS });
  await page.click(`${row} button[data-action="restart"]`);
  await page.waitForSelector(`${row}[data-state="running"]`, { timeout: WAIT_MS });
  assert.equal(await ok(['inspect', '-f', '{{.State.Running}}', 'dash-rm']), 'true');

  page.once('dialog', (d) => {
    assert.match(d.message(), /Remove container dash-rm\?/);
    void d.accept();
  });
  await page.click(`${row} button[data-action="remove"]`);
  const gone = await pollUntil(WAIT_MS, 100, async () => (await page.$(row)) === null);
  assert.ok(gone, 'the row went away');
  const r = await b.docker(['inspect', 'dash-rm']);
  assert.notEqual(r.code, 0, 'the container is removed');
  assert.deepEqual(pageErrors, []);
});

test('Chromium: a page without the token gets nothing', async () => {
  const url = await dashboardUrl(b);
  const other = await browser.createBrowserContext();
  try {
    const p = await other.newPage();
    const resp = await p.goto(`http://${url.host}/`, { waitUntil: 'load' });
    assert.equal(resp?.status(), 401);
    assert.equal(await p.$('#containers'), null);
  } finally {
    await other.close();
  }
});
