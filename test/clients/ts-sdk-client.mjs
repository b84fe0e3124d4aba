// Connects to a Nubiq Hub MCP endpoint with the official TypeScript SDK (v1,
// StreamableHTTPClientTransport), lists the tools and calls one, and prints what it saw as
// one JSON object. Usage: node ts-sdk-client.mjs URL API_KEY TOOL [ARGUMENTS_JSON]
// The API key comes from the environment variable NUBIQ_API_KEY when the argument is "-".
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";

const [url, keyArg, tool, argsJSON = "{}"] = process.argv.slice(2);
if (!url || !keyArg || !tool) {
  console.error("usage: node ts-sdk-client.mjs URL API_KEY|- TOOL [ARGUMENTS_JSON]");
  process.exit(2);
}
const key = keyArg === "-" ? process.env.NUBIQ_API_KEY : keyArg;

async function connect(bearer) {
  const client = new Client({ name: "nubiq-ts-sdk-test", version: "1.0.0" });
  const transport = new StreamableHTTPClientTransport(new URL(url), {
    requestInit: { headers: { Authorization: `Bearer ${bearer}` } },
  });
  await client.connect(transport);
  return { client, transport };
}

const out = {};
const { client, transport } = await connect(key);
out.protocolVersion = transport.protocolVersion ?? null;
out.serverName = client.getServerVersion()?.name ?? null;
const listed = await client.listTools();
out.tools = listed.tools.map((t) => t.name);
const result = await client.callTool({ name: tool, arguments: JSON.parse(argsJSON) });
out.call = {
  isError: result.isError === true,
  text: result.content?.[0]?.text ?? null,
  structuredContent: result.structuredContent ?? null,
};
await client.close();

// A wrong key must fail the connection plainly, without sending the client into OAuth.
try {
  await connect("nbq_" + "0".repeat(43));
  out.badKey = "connected";
} catch (err) {
  out.badKey = String(err?.message ?? err);
}

console.log(JSON.stringify(out));
