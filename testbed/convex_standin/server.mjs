#!/usr/bin/env node
// A stand-in for a Convex deployment's HTTP API, for tests of the Python side.
//
// It answers POST /api/query, /api/mutation and /api/action in Convex's shape by
// running the project's own functions (convex/functions/) in convex-test, so the
// Python store is tested against the real queue code; beside them it serves the test
// model of the web app's functions (convex/tests/webapp/) as webapp/<module>:<fn>.
// FONDATION_TEST_CLOCK=1 in its environment lets callers' `now` set the clock. No real backend can run on
// these machines (see docs/CONVEX.md). Plain Node, no build step: at start-up the
// functions are bundled with the esbuild that ships with the `convex` package.
//
//   node testbed/convex_standin/server.mjs [--port N] [--host 127.0.0.1]
//
// The first line on stdout is "listening <port>". FONDATION_WORKER_SECRET comes
// from this process's environment, as it would from the deployment's.
//
// Fault injection for tests: POST /_control with a JSON body
//   {"mode": "ok" | "503" | "429" | "hang" | "down" | "drop", "times": N}
//     503/429  answer with that status and Convex's {code, message} body (any
//              other 3-digit status works the same way, e.g. "401", "500")
//     hang     never answer (the client's timeout fires)
//     down     close the connection at once (a connection error)
//     drop     run the function, then close the connection unanswered: the
//              "committed but the reply was lost" case
//     times    only the next N calls are affected, then the mode returns to ok
//   {"reset": true}  empty every table and return to mode ok
//   {"sync": "ok" | "close" | "silent"}  faults of the sync protocol (sync.mjs)
//   {"crons": N}  run the deployment's interval crons (functions/crons.ts) every N ms
//                 instead of their own interval; 0 (the default) runs none, since
//                 tests that set the clock would see leases reclaimed under them
//   {"runCrons": true}  run every cron once, now
// GET /_stats gives {calls, byPath, sync} since the last reset: every function
// execution Convex would bill (HTTP calls, socket requests, subscription runs).
//
// The WebSocket sync protocol is served at /api/sync (sync.mjs), for the official
// clients' query subscriptions.
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { SyncServer } from "./sync.mjs";

const HERE = dirname(fileURLToPath(import.meta.url));
const CONVEX_DIR = resolve(HERE, "../../convex");
const FUNCTIONS_DIR = join(CONVEX_DIR, "functions");
// The test model of the web app's functions, served as webapp/<module>:<fn>.
const WEBAPP_DIR = join(CONVEX_DIR, "tests", "webapp");
const MODES = new Set(["ok", "hang", "down", "drop"]);
// Convex's error codes for the statuses tests ask for.
const STATUS_CODES = { 401: "Unauthenticated", 403: "Forbidden", 429: "RateLimited", 500: "InternalServerError", 503: "Overloaded" };
const MAX_BODY_BYTES = 32 * 1024 * 1024;
// A deployment refuses to store a document over 1 MiB, and convex-test has no such
// check. Every function here stores its string arguments as they are, so a string
// argument over the limit is refused up front, as the write would be.
const DOCUMENT_LIMIT_BYTES = 1 << 20;

function parseArgs(argv) {
  const opts = { port: 0, host: "127.0.0.1" };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--port") opts.port = Number(argv[++i]);
    else if (argv[i] === "--host") opts.host = argv[++i];
    else throw new Error(`unknown argument ${argv[i]}`);
  }
  if (!Number.isInteger(opts.port) || opts.port < 0) throw new Error("--port needs a number");
  return opts;
}

// Every module file under functions/, as convex-test's module map expects them:
// the keys must include a path under "_generated" so it can find the root.
function functionFiles(dir) {
  const files = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) files.push(...functionFiles(path));
    else if (/\.(ts|js)$/.test(name) && !name.endsWith(".d.ts")) files.push(path);
  }
  return files.sort();
}

// Bundles convex-test, the convex helpers and every function module into one ES
// module (TypeScript included) and imports it. One bundle means one copy of the
// `convex` package, which convex-test and the functions must share.
async function loadRuntime() {
  const require = createRequire(join(CONVEX_DIR, "package.json"));
  const esbuild = require("esbuild");
  const files = [
    ...functionFiles(FUNCTIONS_DIR).map((file) => [file, file]),
    ...functionFiles(WEBAPP_DIR).map((file) => [file, join(FUNCTIONS_DIR, "webapp", relative(WEBAPP_DIR, file))]),
  ];
  const lines = [
    'export { convexTest } from "convex-test";',
    'export { makeFunctionReference } from "convex/server";',
    'export { ConvexError, convexToJson, jsonToConvex } from "convex/values";',
    'export { default as schema } from "./functions/schema.ts";',
    'export { default as crons } from "./functions/crons.ts";',
  ];
  const entries = [];
  const asModule = (file) => "./" + relative(CONVEX_DIR, file).split("\\").join("/");
  files.forEach(([file, servedAs], i) => {
    lines.push(`import * as m${i} from ${JSON.stringify(asModule(file))};`);
    entries.push(`${JSON.stringify(asModule(servedAs))}: async () => m${i}`);
  });
  lines.push(`export const modules = {${entries.join(",\n")}};`);
  const out = await esbuild.build({
    stdin: { contents: lines.join("\n"), resolveDir: CONVEX_DIR, sourcefile: "standin-entry.js" },
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    write: false,
    logLevel: "error",
  });
  const dir = mkdtempSync(join(tmpdir(), "convex-standin-"));
  const file = join(dir, "runtime.mjs");
  writeFileSync(file, out.outputFiles[0].contents);
  try {
    return await import(pathToFileURL(file).href);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function readBody(req) {
  return new Promise((resolveBody, reject) => {
    const chunks = [];
    let size = 0;
    req.on("data", (chunk) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) reject(new Error("body too large"));
      else chunks.push(chunk);
    });
    req.on("end", () => resolveBody(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

function send(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

class StandIn {
  constructor(runtime) {
    this.rt = runtime;
    this.mode = "ok";
    this.times = Infinity;
    this.hanging = new Set();
    // convex-test runs one transaction at a time; calls wait their turn here.
    this.queue = Promise.resolve();
    this.stats = emptyStats();
    this.sync = new SyncServer(this);
    this.cronTimer = null;
    this.reset();
  }

  // The crons of functions/crons.ts, run as the deployment would, every `everyMs`.
  setCrons(everyMs) {
    clearInterval(this.cronTimer);
    this.cronTimer = null;
    if (everyMs > 0) this.cronTimer = setInterval(() => void this.runCrons(), everyMs);
  }

  async runCrons() {
    for (const job of Object.values(this.rt.crons.crons)) {
      this.count(job.name);
      const ref = this.rt.makeFunctionReference(job.name);
      const turn = this.queue.then(() => this.t.mutation(ref, job.args?.[0] ?? {}));
      this.queue = turn.catch(() => undefined);
      try {
        await turn;
      } catch (err) {
        process.stderr.write(`cron ${job.name} failed: ${err?.message ?? err}\n`);
      }
      this.written();
    }
  }

  reset() {
    this.setCrons(0);
    this.t = this.rt.convexTest({ schema: this.rt.schema, modules: this.rt.modules });
    this.setMode("ok", undefined);
    this.sync.setMode("ok");
    this.stats = emptyStats();
    // Every table changed: subscribers get the results of the empty deployment.
    this.written();
  }

  // One billed function execution.
  count(rawPath) {
    // "mod.js:fn", as some clients send it, is the same function as "mod:fn".
    const path = String(rawPath).replace(/\.js:/, ":");
    this.stats.calls += 1;
    this.stats.byPath[path] = (this.stats.byPath[path] ?? 0) + 1;
  }

  // After a write through HTTP: subscribed queries run again (sync.mjs).
  written() {
    this.sync.afterWrite(null).catch((err) => process.stderr.write(`sync update failed: ${err?.stack ?? err}\n`));
  }

  setMode(mode, times) {
    if (!MODES.has(mode) && !/^[45]\d\d$/.test(mode)) throw new Error(`unknown mode ${mode}`);
    this.mode = mode;
    this.times = times === undefined || times === null ? Infinity : Number(times);
    // Requests left hanging by an earlier mode are cut, so clients see an error.
    for (const res of this.hanging) res.socket?.destroy();
    this.hanging.clear();
  }

  // The fault to apply to this call, counting it against `times`.
  takeFault() {
    if (this.mode === "ok") return "ok";
    const mode = this.mode;
    this.times -= 1;
    if (this.times <= 0) {
      this.mode = "ok";
      this.times = Infinity;
    }
    return mode;
  }

  async handle(req, res) {
    const url = new URL(req.url ?? "/", "http://standin");
    if (req.method === "POST" && url.pathname === "/_control") return this.control(req, res);
    if (req.method === "GET" && url.pathname === "/_stats") return send(res, 200, this.stats);
    const kind = /^\/api\/(query|mutation|action)$/.exec(url.pathname)?.[1];
    if (req.method !== "POST" || kind === undefined) {
      return send(res, 404, { code: "NotFound", message: `no route ${req.method} ${url.pathname}` });
    }
    let body;
    try {
      body = JSON.parse(await readBody(req));
    } catch (err) {
      return send(res, 400, { code: "BadJsonBody", message: String(err) });
    }
    this.count(body.path);
    const fault = this.takeFault();
    if (fault === "429") {
      res.setHeader("retry-after", "0");
      return send(res, 429, { code: "RateLimited", message: "stand-in: rate limited" });
    }
    if (/^\d{3}$/.test(fault)) {
      return send(res, Number(fault), { code: STATUS_CODES[fault] ?? "Error", message: `stand-in: HTTP ${fault}` });
    }
    if (fault === "hang") return void this.hanging.add(res);
    if (fault === "down") return void req.socket.destroy();
    const answer = await this.run(kind, body);
    if (kind === "action" || (kind === "mutation" && answer.status === "success")) this.written();
    if (fault === "drop") return void req.socket.destroy();
    send(res, 200, answer);
  }

  run(kind, body) {
    const turn = this.queue.then(() => this.call(kind, body));
    this.queue = turn.catch(() => undefined);
    return turn;
  }

  async call(kind, body) {
    const { makeFunctionReference, jsonToConvex, convexToJson, ConvexError } = this.rt;
    try {
      if (typeof body.path !== "string") throw new Error("missing function path");
      const ref = makeFunctionReference(body.path.replace(/\.js:/, ":"));
      const args = jsonToConvex(body.args ?? {});
      for (const [name, arg] of Object.entries(args)) {
        if (typeof arg === "string" && Buffer.byteLength(arg) > DOCUMENT_LIMIT_BYTES) {
          throw new Error(`Value is too large: argument ${name} would make a document over 1 MiB`);
        }
      }
      const value = await this.t[kind](ref, args);
      return { status: "success", value: convexToJson(value ?? null), logLines: [] };
    } catch (err) {
      const answer = { status: "error", errorMessage: String(err?.message ?? err), logLines: [] };
      if (err instanceof ConvexError || err?.data !== undefined) {
        const data = typeof err.data === "string" ? safeParse(err.data) : err.data;
        answer.errorData = convexToJson(data ?? null);
      }
      return answer;
    }
  }

  async control(req, res) {
    try {
      const body = JSON.parse((await readBody(req)) || "{}");
      if (body.reset) this.reset();
      if (body.mode !== undefined) this.setMode(String(body.mode), body.times);
      if (body.sync !== undefined) this.sync.setMode(String(body.sync));
      if (body.crons !== undefined) this.setCrons(Number(body.crons));
      if (body.runCrons) await this.runCrons();
      send(res, 200, { ok: true, mode: this.mode, sync: this.sync.mode });
    } catch (err) {
      send(res, 400, { code: "BadControl", message: String(err?.message ?? err) });
    }
  }
}

function emptyStats() {
  return { calls: 0, byPath: {}, sync: { connects: 0, firstRuns: 0, reruns: 0, rerunsUnchanged: 0 } };
}

function safeParse(text) {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const standIn = new StandIn(await loadRuntime());
  const server = createServer((req, res) => {
    standIn.handle(req, res).catch((err) => {
      if (!res.headersSent) send(res, 500, { code: "InternalServerError", message: String(err) });
    });
  });
  // The sync protocol's sockets; ws comes from convex/node_modules, as esbuild does.
  const { WebSocketServer } = createRequire(join(CONVEX_DIR, "package.json"))("ws");
  const wss = new WebSocketServer({ noServer: true });
  server.on("upgrade", (req, socket, head) => {
    // The npm client asks for /api/<its version>/sync, the PyPI client for /api/sync.
    const path = new URL(req.url ?? "/", "http://standin").pathname;
    if (!/^\/api\/([^/]+\/)?sync$/.test(path)) return void socket.destroy();
    wss.handleUpgrade(req, socket, head, (ws) => standIn.sync.accept(ws));
  });
  server.listen(opts.port, opts.host, () => {
    process.stdout.write(`listening ${server.address().port}\n`);
  });
  const stop = () => {
    standIn.setMode("ok");
    standIn.sync.close();
    server.close(() => process.exit(0));
    server.closeAllConnections();
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}

main().catch((err) => {
  process.stderr.write(`convex stand-in failed to start: ${err?.stack ?? err}\n`);
  process.exit(1);
});
