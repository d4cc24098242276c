// The Convex sync protocol (WebSocket at /api/sync) for the stand-in: what the
// official clients, the npm package's ConvexClient and the PyPI `convex` client,
// use. The message shapes are those of the npm package's browser sync client
// (convex/src/browser/sync/protocol.ts); this file is a server for them.
//
// Per connection: a query set (ModifyQuerySet Add/Remove, versioned), an identity
// (Authenticate: None, or Admin with the deployment's admin key), and the state
// version last sent ({querySet, ts, identity}), from which every Transition starts.
// Mutations and actions run over the socket as over HTTP, through the stand-in's
// one transaction queue. After every write, from the socket or from HTTP, each
// subscribed query is run again and a Transition carries the results that changed;
// the connection that wrote is always sent one, because its client resolves a
// mutation only when a Transition reaches the mutation's timestamp.
//
// Billing, as /_stats counts it: a subscription's first run and each re-run whose
// result changed are function calls. A real deployment re-runs a query only when a
// write touches what it read; the stand-in re-runs every query after every write
// (it does not track read sets), so re-runs that gave the same result are counted
// apart, in `rerunsUnchanged`: they bound the real figure from above.
//
// Faults, set through POST /_control {"sync": mode}:
//   ok      normal service
//   close   close every socket now (the clients reconnect; new sockets are served)
//   silent  keep sockets open, accept new ones, and answer nothing, pings included
import { Buffer } from "node:buffer";

const PING_INTERVAL_MS = Number(process.env.STANDIN_SYNC_PING_MS ?? 15000);
const SYNC_MODES = new Set(["ok", "close", "silent"]);
// STANDIN_SYNC_DEBUG=1 logs every message both ways on stderr.
const DEBUG = process.env.STANDIN_SYNC_DEBUG === "1";
let connectionCount = 0;
const debug = (conn, dir, message) => {
  if (DEBUG) process.stderr.write(`sync ${conn.number} ${dir} ${JSON.stringify(message)}\n`);
};

// Convex timestamps are u64 nanoseconds, sent as base64 of their 8 little-endian
// bytes. Taken from the wall clock so that they keep growing across a restart of
// the stand-in, as a deployment's do.
function encodeTs(ts) {
  const bytes = Buffer.alloc(8);
  bytes.writeBigUInt64LE(ts);
  return bytes.toString("base64");
}

class Connection {
  constructor(socket, sync) {
    this.socket = socket;
    this.sync = sync;
    this.queries = new Map(); // queryId -> {udfPath, args, last: JSON text of the last result}
    this.version = { querySet: 0, ts: 0n, identity: 0 };
    this.identity = "none";
    this.number = ++connectionCount;
  }

  send(message) {
    if (this.sync.mode === "silent" || this.socket.readyState !== 1) return;
    debug(this, ">", message);
    this.socket.send(JSON.stringify(message));
  }

  // A Transition from the version last sent to `end`, then remembered as sent.
  transition(end, modifications) {
    const start = this.version;
    this.version = end;
    this.send({
      type: "Transition",
      startVersion: { ...start, ts: encodeTs(start.ts) },
      endVersion: { ...end, ts: encodeTs(end.ts) },
      modifications,
    });
  }
}

export class SyncServer {
  constructor(standIn) {
    this.standIn = standIn;
    this.connections = new Set();
    this.mode = "ok";
    this.lastTs = 0n;
    this.ts = this.nextTs();
    this.pinger = setInterval(() => this.ping(), PING_INTERVAL_MS);
    this.pinger.unref();
  }

  nextTs() {
    const wall = BigInt(Date.now()) * 1_000_000n;
    this.lastTs = wall > this.lastTs ? wall : this.lastTs + 1n;
    return this.lastTs;
  }

  setMode(mode) {
    if (!SYNC_MODES.has(mode)) throw new Error(`unknown sync mode ${mode}`);
    // Sockets that lived through a silence missed messages both ways: they are cut,
    // as a deployment's are when it comes back, and their clients start afresh.
    if (mode === "close" || this.mode === "silent") {
      for (const conn of this.connections) conn.socket.terminate();
    }
    this.mode = mode === "close" ? "ok" : mode;
  }

  // A socket upgraded at /api/sync (server.mjs).
  accept(socket) {
    const conn = new Connection(socket, this);
    this.connections.add(conn);
    this.standIn.stats.sync.connects += 1;
    socket.on("message", (data) => {
      if (this.mode === "silent") return;
      let message;
      try {
        message = JSON.parse(String(data));
      } catch {
        return conn.send({ type: "FatalError", error: "invalid JSON message" });
      }
      debug(conn, "<", message);
      this.handle(conn, message).catch((err) => {
        conn.send({ type: "FatalError", error: String(err?.message ?? err) });
        socket.close(1011, "internal error");
      });
    });
    socket.on("close", (code, reason) => {
      debug(conn, "closed", { code, reason: String(reason) });
      this.connections.delete(conn);
    });
    socket.on("error", () => this.connections.delete(conn));
  }

  async handle(conn, message) {
    switch (message.type) {
      case "Connect":
        return; // session ids matter to a deployment's logs only
      case "Authenticate":
        return this.authenticate(conn, message);
      case "ModifyQuerySet":
        return this.modifyQuerySet(conn, message);
      case "Mutation":
      case "Action":
        return this.request(conn, message);
      case "Event":
        return;
      default:
        conn.send({ type: "FatalError", error: `unknown message type ${message.type}` });
    }
  }

  async authenticate(conn, message) {
    if (message.baseVersion !== conn.version.identity) {
      return conn.send({ type: "FatalError", error: "Authenticate from a stale identity version" });
    }
    const adminKey = process.env.CONVEX_ADMIN_KEY;
    if (message.tokenType === "None") conn.identity = "none";
    else if (message.tokenType === "Admin" && adminKey && message.value === adminKey) {
      conn.identity = "admin";
    } else {
      const error =
        message.tokenType === "Admin" ? "Invalid admin key" : "No auth provider found matching the given token";
      return conn.send({ type: "AuthError", error, baseVersion: message.baseVersion, authUpdateAttempted: true });
    }
    // Results may depend on who asks: run the set again under the new identity.
    const modifications = await this.rerun(conn, true);
    conn.transition({ ...conn.version, identity: message.baseVersion + 1, ts: this.ts }, modifications);
  }

  async modifyQuerySet(conn, message) {
    if (message.baseVersion !== conn.version.querySet) {
      return conn.send({
        type: "FatalError",
        error: `ModifyQuerySet from version ${message.baseVersion}, the server has ${conn.version.querySet}`,
      });
    }
    const modifications = [];
    for (const mod of message.modifications) {
      if (mod.type === "Remove") {
        conn.queries.delete(mod.queryId);
        modifications.push({ type: "QueryRemoved", queryId: mod.queryId });
      } else if (mod.type === "Add") {
        const query = { udfPath: mod.udfPath, args: mod.args?.[0] ?? {}, last: undefined };
        conn.queries.set(mod.queryId, query);
        this.standIn.stats.sync.firstRuns += 1;
        modifications.push(await this.runQuery(mod.queryId, query, true));
      }
    }
    conn.transition({ ...conn.version, querySet: message.newVersion, ts: this.ts }, modifications);
  }

  async request(conn, message) {
    const kind = message.type === "Mutation" ? "mutation" : "action";
    const body = { path: message.udfPath, args: message.args?.[0] ?? {} };
    this.standIn.count(body.path);
    const answer = await this.standIn.run(kind, body);
    const response = { type: `${message.type}Response`, requestId: message.requestId, logLines: [] };
    if (answer.status === "success") {
      Object.assign(response, { success: true, result: answer.value });
    } else {
      Object.assign(response, { success: false, result: answer.errorMessage });
      if (answer.errorData !== undefined) response.errorData = answer.errorData;
    }
    if (kind === "mutation") {
      // A mutation's answer carries a timestamp, and its client resolves it once a
      // Transition reaches that timestamp: the PyPI client waits so even for a
      // mutation that threw a ConvexError (measured: without the Transition its
      // call never returns). A failed mutation wrote nothing, so the time stays.
      if (answer.status === "success") this.ts = this.nextTs();
      response.ts = encodeTs(this.ts);
      conn.send(response);
      if (answer.status === "success") return this.afterWrite(conn);
      return conn.transition({ ...conn.version, ts: this.ts }, []);
    }
    conn.send(response);
    if (kind === "action") return this.afterWrite(null);
  }

  // After a write: every subscribed query again; a Transition for each connection
  // whose results changed, and always for the writer (see the header).
  async afterWrite(writer) {
    if (writer === null) this.ts = this.nextTs();
    if (this.mode === "silent") return;
    for (const conn of [...this.connections]) {
      const modifications = await this.rerun(conn, false);
      if (modifications.length > 0 || conn === writer) {
        conn.transition({ ...conn.version, ts: this.ts }, modifications);
      }
    }
  }

  async rerun(conn, always) {
    const modifications = [];
    for (const [queryId, query] of conn.queries) {
      const mod = await this.runQuery(queryId, query, always);
      if (mod !== null) modifications.push(mod);
    }
    return modifications;
  }

  // One run of a subscribed query: its QueryUpdated or QueryFailed, or null when
  // the result is the one last sent and `always` is false.
  async runQuery(queryId, query, always) {
    const answer = await this.standIn.run("query", { path: query.udfPath, args: query.args });
    const text = JSON.stringify(answer.status === "success" ? answer.value : [answer.errorMessage, answer.errorData]);
    const changed = text !== query.last;
    query.last = text;
    if (!always) {
      if (!changed) {
        this.standIn.stats.sync.rerunsUnchanged += 1;
        return null;
      }
      this.standIn.stats.sync.reruns += 1;
    }
    // A first run, and a re-run that changed a result, are billed as calls.
    this.standIn.count(query.udfPath);
    if (answer.status === "success") {
      return { type: "QueryUpdated", queryId, value: answer.value, logLines: [], journal: null };
    }
    const failed = { type: "QueryFailed", queryId, errorMessage: answer.errorMessage, logLines: [], journal: null };
    if (answer.errorData !== undefined) failed.errorData = answer.errorData;
    return failed;
  }

  ping() {
    for (const conn of this.connections) conn.send({ type: "Ping" });
  }

  close() {
    clearInterval(this.pinger);
    for (const conn of this.connections) conn.socket.terminate();
  }
}
