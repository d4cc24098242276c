#!/usr/bin/env node
// The npm `convex` package's ConvexClient, driven line by line: the conformance
// tests' real counterpart of the stand-in's sync protocol (tests/integration/
// test_convex_sync_clients.py). Run with the URL of a deployment:
//
//   node testbed/convex_clients/npm_client.mjs http://127.0.0.1:PORT
//
// Commands on stdin, one JSON object a line; answers on stdout, one a line:
//   {"op": "subscribe", "id": "a", "path": "mod:fn", "args": {...}}
//       then {"id": "a", "update": value} for each new result,
//       or {"id": "a", "error": message, "data": data} when the query fails
//   {"op": "mutation" | "action" | "query", "id": "b", "path": ..., "args": ...}
//       then {"id": "b", "result": value} or {"id": "b", "error": message, "data": data}
//   {"op": "unsubscribe", "id": "a"}
// Values are in Convex's JSON encoding (convexToJson).
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

// The package as convex/ installs it (npm ci there), in its Node build.
const CONVEX_DIR = resolve(dirname(fileURLToPath(import.meta.url)), "../../convex");
const require = createRequire(join(CONVEX_DIR, "package.json"));
const { ConvexClient } = require("convex/browser");
const { makeFunctionReference } = require("convex/server");
const { ConvexError, convexToJson, jsonToConvex } = require("convex/values");

// The client logs its reconnections with console.log: stdout carries answers only.
console.log = (...args) => console.error(...args);
const client = new ConvexClient(process.argv[2], { unsavedChangesWarning: false });
const subscriptions = new Map();
const say = (message) => process.stdout.write(JSON.stringify(message) + "\n");
const failure = (id, err) => ({
  id,
  error: String(err?.message ?? err),
  data: err instanceof ConvexError ? convexToJson(err.data ?? null) : null,
});

async function run(command) {
  const ref = makeFunctionReference(command.path);
  const args = jsonToConvex(command.args ?? {});
  switch (command.op) {
    case "subscribe":
      subscriptions.set(
        command.id,
        client.onUpdate(
          ref,
          args,
          (value) => say({ id: command.id, update: convexToJson(value ?? null) }),
          (err) => say(failure(command.id, err)),
        ),
      );
      return;
    case "unsubscribe":
      subscriptions.get(command.id)?.();
      subscriptions.delete(command.id);
      return say({ id: command.id, result: null });
    case "query":
    case "mutation":
    case "action":
      try {
        say({ id: command.id, result: convexToJson((await client[command.op](ref, args)) ?? null) });
      } catch (err) {
        say(failure(command.id, err));
      }
      return;
    default:
      say({ id: command.id, error: `unknown op ${command.op}` });
  }
}

for await (const line of createInterface({ input: process.stdin })) {
  if (line.trim()) void run(JSON.parse(line));
}
await client.close();
