// Start the real fenhe binary (`fenhe demo`) on free ports over a fresh database, and read what
// it prints: the listening addresses (a JSON line) and the demo accounts with their passwords.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

/** The binary under test: $FENHE_BIN, else the debug build in $CARGO_TARGET_DIR or ../target. */
export function binary() {
  if (process.env.FENHE_BIN) return process.env.FENHE_BIN;
  const target = process.env.CARGO_TARGET_DIR || resolve(import.meta.dirname, "../../target");
  const bin = join(target, "debug", "fenhe");
  if (!existsSync(bin)) {
    throw new Error(`no fenhe binary at ${bin}: run \`cargo build -p fenhe\` first or set FENHE_BIN`);
  }
  return bin;
}

/** The demo accounts block of the banner: lines of "user password" pairs after "demo accounts". */
export function parseAccounts(text) {
  const accounts = new Map();
  const lines = text.split("\n");
  const start = lines.findIndex((l) => l.includes("demo accounts"));
  if (start < 0) return accounts;
  for (const line of lines.slice(start + 1)) {
    if (!line.startsWith("    ")) break;
    const words = line.trim().split(/\s+/);
    for (let i = 0; i + 1 < words.length; i += 2) accounts.set(words[i], words[i + 1]);
  }
  return accounts;
}

/**
 * A running demo: { http, hj212, base, accounts, db, stop() }. `extra` are more arguments
 * (e.g. ["--hours", "2"]). Fails with the process's own output when it does not come up.
 */
export async function startDemo(extra = []) {
  const dir = mkdtempSync(join(tmpdir(), "fenhe-e2e-"));
  const db = join(dir, "demo.db");
  const args = ["demo", "--db", db, "--http-listen", "127.0.0.1:0", "--hj212-listen", "127.0.0.1:0", "--hours", "2", ...extra];
  const child = spawn(binary(), args, { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, RUST_LOG: "warn" } });
  let out = "";
  let err = "";
  child.stdout.on("data", (d) => (out += d));
  child.stderr.on("data", (d) => (err += d));
  const ready = await new Promise((resolveReady, reject) => {
    const timer = setTimeout(() => reject(new Error(`fenhe demo did not start within 120 s\n${out}\n${err}`)), 120_000);
    const check = () => {
      // The banner ends with the streaming line; by then the accounts are printed.
      if (/streaming in real time/.test(out)) {
        clearTimeout(timer);
        resolveReady(true);
      }
    };
    child.stdout.on("data", check);
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`fenhe demo exited with ${code}\n${out}\n${err}`));
    });
  });
  if (!ready) throw new Error("unreachable");
  const listening = JSON.parse(out.split("\n").find((l) => l.startsWith('{"event":"listening"')));
  const accounts = parseAccounts(out);
  return {
    http: listening.http,
    hj212: listening.hj212,
    base: `http://${listening.http}`,
    accounts,
    db,
    output: () => out + err,
    async stop() {
      if (child.exitCode === null) {
        child.kill("SIGTERM");
        await new Promise((r) => child.once("exit", r));
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
