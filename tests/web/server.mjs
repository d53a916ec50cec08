// Starts the real securechat-server binary on 127.0.0.1 with a temp data
// directory, and kills or restarts it like an operator (or a crash) would.

import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { X509Certificate, createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const BIN = process.env.WEBTEST_SERVER_BIN || path.join(root, 'target/debug/securechat-server');

export class Server {
  // `env`: extra SECURECHAT_* settings; `args`: extra flags; `memory`: the
  // data directory in RAM (/dev/shm), for tests that write much and are
  // not about the disk (fsync there costs nothing).
  constructor({ env = {}, args = [], memory = false } = {}) {
    this.env = env;
    this.args = args;
    const base = memory && existsSync('/dev/shm') ? '/dev/shm' : tmpdir();
    this.dataDir = mkdtempSync(path.join(base, 'securechat-web-'));
    this.port = 0;
    this.child = null;
  }

  get url() { return `https://127.0.0.1:${this.port}`; }

  // The base64 SHA-256 of the public key of the server's own CA, for
  // Chromium's --ignore-certificate-errors-spki-list: pages from this server
  // are then treated as secure, as a browser that trusts the CA would (a
  // service worker needs that).
  caSpki() {
    const pem = readFileSync(path.join(this.dataDir, 'tls', 'ca.pem'), 'utf8');
    const der = new X509Certificate(pem).publicKey.export({ type: 'spki', format: 'der' });
    return createHash('sha256').update(der).digest('base64');
  }

  async start() {
    const args = ['--data-dir', this.dataDir, '--bind', `127.0.0.1:${this.port}`, '--log', 'warn', ...this.args];
    const child = spawn(BIN, args, {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, ...this.env },
    });
    this.child = child;
    const line = await new Promise((resolve, reject) => {
      let buf = '';
      child.stdout.on('data', (d) => {
        buf += d;
        const nl = buf.indexOf('\n');
        if (nl >= 0) resolve(buf.slice(0, nl));
      });
      child.on('exit', (code) => reject(new Error(`server exited with ${code}`)));
    });
    const m = line.match(/https:\/\/127\.0\.0\.1:(\d+)/);
    if (!m) throw new Error(`unexpected first line: ${line}`);
    this.port = Number(m[1]);
  }

  // Like a crash: no chance to close anything.
  async kill() {
    const exited = new Promise((r) => this.child.once('exit', r));
    this.child.kill('SIGKILL');
    await exited;
  }

  async stop() {
    if (this.child && this.child.exitCode === null) {
      const exited = new Promise((r) => this.child.once('exit', r));
      this.child.kill('SIGTERM');
      await exited;
    }
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}
