// The official TypeScript SDK v2 (@modelcontextprotocol/client) against a Nubiq Hub endpoint,
// negotiating the protocol era as NUBIQ_NEGOTIATION says: "auto" (probe server/discover, fall
// back to initialize), "legacy" (initialize only) or a version to pin (e.g. 2026-07-28, no
// fallback). Otherwise as sdk-v1.mjs. Usage: see common.mjs.
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import { callResult, errorText, params, toolSummary } from "./common.mjs";

const p = params();
const negotiation = process.env.NUBIQ_NEGOTIATION ?? "auto";
const mode = negotiation === "auto" || negotiation === "legacy" ? negotiation : { pin: negotiation };

async function connect(bearer) {
  const client = new Client({ name: "nubiq-sdk-v2-test", version: "1.0.0" }, { versionNegotiation: { mode } });
  const transport = new StreamableHTTPClientTransport(new URL(p.url), {
    requestInit: { headers: { Authorization: `Bearer ${bearer}` } },
  });
  await client.connect(transport);
  return client;
}

async function session(bearer, calls) {
  const client = await connect(bearer);
  const out = {
    protocolVersion: client.getNegotiatedProtocolVersion() ?? null,
    era: client.getProtocolEra() ?? null,
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

try {
  await connect("nbq_" + "0".repeat(43));
  out.badKey = "connected";
} catch (err) {
  out.badKey = errorText(err);
}
console.log(JSON.stringify(out));
