// The official TypeScript SDK v1 (@modelcontextprotocol/sdk, StreamableHTTPClientTransport,
// initialize handshake) against a Nubiq Hub endpoint: connects with an API key, lists the
// tools, makes the calls asked for, repeats with a key of fewer scopes, and tries a wrong key.
// Prints what it saw as one JSON object. Usage: see common.mjs.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { callResult, errorText, params, toolSummary } from "./common.mjs";

const p = params();

async function connect(bearer) {
  const client = new Client({ name: "nubiq-sdk-v1-test", version: "1.0.0" });
  const transport = new StreamableHTTPClientTransport(new URL(p.url), {
    requestInit: { headers: { Authorization: `Bearer ${bearer}` } },
  });
  await client.connect(transport);
  return { client, transport };
}

async function session(bearer, calls) {
  const { client, transport } = await connect(bearer);
  const out = {
    protocolVersion: transport.protocolVersion ?? null,
    serverName: client.getServerVersion()?.name ?? null,
    tools: (await client.listTools()).tools.map(toolSummary),
    calls: [],
  };
  for (const c of calls) {
    out.calls.push(callResult(c.tool, await client.callTool({ name: c.tool, arguments: c.arguments ?? {} })));
  }
  await client.close();
  return out;
}

const out = await session(p.key, p.calls);
if (p.limitedKey) out.limited = await session(p.limitedKey, p.limitedCall ? [p.limitedCall] : []);

// A wrong key must fail the connection plainly, without sending the client into OAuth.
try {
  await connect("nbq_" + "0".repeat(43));
  out.badKey = "connected";
} catch (err) {
  out.badKey = errorText(err);
}
console.log(JSON.stringify(out));
